//! The comment form's defences that need no database: keyed hashes, the signed form token and
//! signed cookies, under keys derived from the site secret `comments` (`http::form_guard`).

use std::net::IpAddr;

use hmac::Mac;

use crate::http::form_guard::{derive, mac};
use crate::http::AppState;
use crate::store::DbError;

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

/// What each key is for, in the order of `Keys::from_derived`.
pub const PURPOSES: [&str; 4] = ["comment-form-token", "comment-cookie", "comment-avatar", "comment-ip"];

impl Keys {
    pub fn from_secret(secret: &[u8]) -> Keys {
        Keys::from_derived(&PURPOSES.map(|purpose| derive(secret, purpose)))
    }

    /// The keys for [`PURPOSES`], in that order (`http::form_guard::FormGuard::keys`).
    pub fn from_derived(keys: &[[u8; 32]]) -> Keys {
        Keys { form: keys[0], cookie: keys[1], avatar: keys[2], ip: keys[3] }
    }

    /// This site's keys, from the node's comment guard.
    pub async fn of(state: &AppState) -> Result<Keys, DbError> {
        Ok(Keys::from_derived(state.comment_guard.keys(&state.db, &PURPOSES).await?))
    }

    /// This site's keys read from the database, for callers without the node's state (the
    /// ActivityPub inbox's replies).
    pub async fn load(db: &crate::store::Db) -> Result<Keys, DbError> {
        let fresh = hex::encode(rand::random::<[u8; 32]>());
        let secret = crate::store::site_secret(db, crate::http::form_guard::COMMENTS_SECRET, &fresh).await?;
        Ok(Keys::from_secret(secret.as_bytes()))
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

#[cfg(test)]
mod tests {
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
}
