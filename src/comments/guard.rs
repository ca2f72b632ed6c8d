//! The comment form's defences that need no database: keyed hashes, the signed form token, signed
//! cookies and the per-IP token bucket.
//!
//! All keys derive from one random site secret kept in the database (`site_secrets`), so every
//! node signs and checks alike. Keys and secrets are never logged.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The keys derived from the site secret, one per purpose.
#[derive(Clone)]
pub struct Keys {
    form: [u8; 32],
    cookie: [u8; 32],
    avatar: [u8; 32],
    ip: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(…)")
    }
}

/// An HMAC-SHA256 over length-prefixed `parts` (shared with `subscriptions::tokens`).
pub(crate) fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

/// A key for one purpose derived from a site secret.
pub(crate) fn derive(secret: &[u8], purpose: &str) -> [u8; 32] {
    mac(secret, &[purpose.as_bytes()]).finalize().into_bytes().into()
}

/// Why a form token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Malformed, signed with another key, or for another article.
    Forged,
    /// Submitted sooner than `comments.min_seconds` after the form was served.
    TooFast,
    /// Older than `comments.token_max_age_secs`.
    Expired,
}

impl Keys {
    pub fn from_secret(secret: &[u8]) -> Keys {
        Keys {
            form: derive(secret, "comment-form-token"),
            cookie: derive(secret, "comment-cookie"),
            avatar: derive(secret, "comment-avatar"),
            ip: derive(secret, "comment-ip"),
        }
    }

    /// The avatar name for an email: 64 bits of a keyed hash, hex.
    pub fn avatar_name(&self, email: &str) -> String {
        let digest = mac(&self.avatar, &[email.trim().to_lowercase().as_bytes()]).finalize().into_bytes();
        hex::encode(&digest[..8])
    }

    /// A keyed hash of an IP address: enough for flood control, useless to anyone without the key.
    pub fn ip_hash(&self, ip: IpAddr) -> String {
        let digest = mac(&self.ip, &[ip.to_string().as_bytes()]).finalize().into_bytes();
        hex::encode(&digest[..16])
    }

    /// A form token for `article_id` issued at `now`: `<issued>.<article>.<mac>`.
    pub fn form_token(&self, article_id: i64, now: i64) -> String {
        let tag = mac(&self.form, &[&now.to_be_bytes(), &article_id.to_be_bytes()]).finalize().into_bytes();
        format!("{now}.{article_id}.{}", hex::encode(&tag[..16]))
    }

    /// Checks a form token for `article_id` at `now`.
    pub fn check_form_token(
        &self,
        token: &str,
        article_id: i64,
        now: i64,
        min_seconds: i64,
        max_age: i64,
    ) -> Result<(), TokenError> {
        let mut parts = token.splitn(3, '.');
        let (Some(issued), Some(article), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Forged);
        };
        let (Ok(issued), Ok(article), Ok(tag)) = (issued.parse::<i64>(), article.parse::<i64>(), hex::decode(tag))
        else {
            return Err(TokenError::Forged);
        };
        if article != article_id || tag.len() != 16 {
            return Err(TokenError::Forged);
        }
        mac(&self.form, &[&issued.to_be_bytes(), &article.to_be_bytes()])
            .verify_truncated_left(&tag)
            .map_err(|_| TokenError::Forged)?;
        let age = now - issued;
        if age < min_seconds {
            return Err(TokenError::TooFast);
        }
        if age > max_age {
            return Err(TokenError::Expired);
        }
        Ok(())
    }

    /// `value` with a signature appended: `<hex value>.<mac>`; cookies carry no readable data.
    pub fn sign_cookie(&self, name: &str, value: &str) -> String {
        let tag = mac(&self.cookie, &[name.as_bytes(), value.as_bytes()]).finalize().into_bytes();
        format!("{}.{}", hex::encode(value), hex::encode(&tag[..16]))
    }

    /// The value of a cookie made by [`Keys::sign_cookie`] with the same name, if genuine.
    pub fn open_cookie(&self, name: &str, cookie: &str) -> Option<String> {
        let (value, tag) = cookie.split_once('.')?;
        let value = String::from_utf8(hex::decode(value).ok()?).ok()?;
        let tag = hex::decode(tag).ok()?;
        if tag.len() != 16 {
            return None;
        }
        mac(&self.cookie, &[name.as_bytes(), value.as_bytes()]).verify_truncated_left(&tag).ok()?;
        Some(value)
    }
}

/// A token bucket per client address, in this node's memory: `burst` submissions at once,
/// refilled at `per_minute`. With N nodes a client gets up to N times the rate; flood control
/// (in the database) still holds across nodes.
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    pub fn new(burst: u32, per_minute: u32) -> RateLimiter {
        RateLimiter { burst: burst as f64, per_second: per_minute as f64 / 60.0, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `ip`; `Err(seconds)` says when the next one will be there.
    pub fn take(&self, ip: IpAddr) -> Result<(), u64> {
        self.take_at(ip, Instant::now())
    }

    fn take_at(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn form_tokens_carry_their_time_and_article() {
        let keys = Keys::from_secret(b"secret");
        let token = keys.form_token(7, 1000);
        assert_eq!(keys.check_form_token(&token, 7, 1005, 3, 3600), Ok(()));
        assert_eq!(keys.check_form_token(&token, 7, 1001, 3, 3600), Err(TokenError::TooFast));
        assert_eq!(keys.check_form_token(&token, 7, 5000, 3, 3600), Err(TokenError::Expired));
        assert_eq!(keys.check_form_token(&token, 8, 1005, 3, 3600), Err(TokenError::Forged));
        let backdated = token.replacen("1000.", "900.", 1);
        assert_eq!(keys.check_form_token(&backdated, 7, 1005, 3, 3600), Err(TokenError::Forged));
        let other = Keys::from_secret(b"other").form_token(7, 1000);
        assert_eq!(keys.check_form_token(&other, 7, 1005, 3, 3600), Err(TokenError::Forged));
        assert_eq!(keys.check_form_token("garbage", 7, 1005, 3, 3600), Err(TokenError::Forged));
    }

    #[test]
    fn cookies_are_signed_per_name() {
        let keys = Keys::from_secret(b"secret");
        let cookie = keys.sign_cookie("a", "1.2.3");
        assert_eq!(keys.open_cookie("a", &cookie).as_deref(), Some("1.2.3"));
        assert_eq!(keys.open_cookie("b", &cookie), None);
        assert_eq!(keys.open_cookie("a", &cookie.replace('.', "0.")), None);
        assert_ne!(keys.avatar_name("A@Example.org "), keys.avatar_name("b@example.org"));
        assert_eq!(keys.avatar_name("A@Example.org "), keys.avatar_name("a@example.org"));
    }

    #[test]
    fn token_bucket_allows_a_burst_then_refills() {
        let limiter = RateLimiter::new(2, 60);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(limiter.take_at(ip, t0).is_ok());
        assert!(limiter.take_at(ip, t0).is_ok());
        assert_eq!(limiter.take_at(ip, t0), Err(1));
        assert!(limiter.take_at("10.0.0.2".parse().unwrap(), t0).is_ok(), "per address");
        assert!(limiter.take_at(ip, t0 + Duration::from_millis(1100)).is_ok(), "one per second refilled");
    }
}
