//! The signed links in subscription mail.
//!
//! - Confirmation: `<subscriber>.<issued>.<mac>`, valid `subscriptions.confirm_max_age_hours`
//!   from when the reader asked.
//! - Manage and unsubscribe: `<subscriber>.<mac>`, valid as long as the subscriber exists (an
//!   unsubscribe link in a years-old mail must still work, RFC 8058).
//!
//! Each MAC (HMAC-SHA256, `http::form_guard::mac`) covers the subscriber id *and* address, under
//! keys derived from a random site secret in the database, so every node checks alike and a
//! token never fits another subscriber.

use hmac::Mac;

use crate::http::form_guard::{derive, mac, SUBSCRIPTIONS_SECRET};
use crate::http::AppState;
use crate::store::{Db, DbError};

/// The keys, one per kind of link.
#[derive(Clone)]
pub struct Keys {
    confirm: [u8; 32],
    manage: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(…)")
    }
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Malformed, for nobody we know, or signed with another key.
    Forged,
    /// A confirmation link older than `subscriptions.confirm_max_age_hours`.
    Expired,
}

/// A token's claims before its MAC is checked against the subscriber's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub subscriber_id: i64,
    /// Confirmation tokens only.
    pub issued: Option<i64>,
    tag: Vec<u8>,
}

/// What each key is for, in the order of `Keys::from_derived`.
pub const PURPOSES: [&str; 2] = ["subscription-confirm", "subscription-manage"];

impl Keys {
    pub fn from_secret(secret: &[u8]) -> Keys {
        Keys::from_derived(&PURPOSES.map(|purpose| derive(secret, purpose)))
    }

    pub fn from_derived(keys: &[[u8; 32]]) -> Keys {
        Keys { confirm: keys[0], manage: keys[1] }
    }

    /// This site's keys, read once per process from the shared site secret.
    pub async fn load(db: &Db) -> Result<Keys, DbError> {
        let fresh = hex::encode(rand::random::<[u8; 32]>());
        let secret = crate::store::site_secret(db, SUBSCRIPTIONS_SECRET, &fresh).await?;
        Ok(Keys::from_secret(secret.as_bytes()))
    }

    /// This site's keys, from the node's subscribe-form guard.
    pub async fn of(state: &AppState) -> Result<Keys, DbError> {
        Ok(Keys::from_derived(state.subscribe_guard.keys(&state.db, &PURPOSES).await?))
    }

    pub fn confirm_token(&self, subscriber_id: i64, email: &str, issued: i64) -> String {
        let tag = self.confirm_mac(subscriber_id, email, issued);
        format!("{subscriber_id}.{issued}.{}", hex::encode(tag))
    }

    pub fn manage_token(&self, subscriber_id: i64, email: &str) -> String {
        let tag = self.manage_mac(subscriber_id, email);
        format!("{subscriber_id}.{}", hex::encode(tag))
    }

    /// Checks a confirmation token's MAC for the subscriber's `email`, then its age.
    pub fn check_confirm(&self, claims: &Claims, email: &str, now: i64, max_age: i64) -> Result<(), TokenError> {
        let issued = claims.issued.ok_or(TokenError::Forged)?;
        if !constant_eq(&self.confirm_mac(claims.subscriber_id, email, issued), &claims.tag) {
            return Err(TokenError::Forged);
        }
        if now - issued > max_age || issued > now + 300 {
            return Err(TokenError::Expired);
        }
        Ok(())
    }

    /// Checks a manage token's MAC for the subscriber's `email`.
    pub fn check_manage(&self, claims: &Claims, email: &str) -> Result<(), TokenError> {
        if claims.issued.is_some() || !constant_eq(&self.manage_mac(claims.subscriber_id, email), &claims.tag) {
            return Err(TokenError::Forged);
        }
        Ok(())
    }

    fn confirm_mac(&self, id: i64, email: &str, issued: i64) -> Vec<u8> {
        let tag = mac(&self.confirm, &[&id.to_be_bytes(), email.as_bytes(), &issued.to_be_bytes()]).finalize();
        tag.into_bytes()[..16].to_vec()
    }

    fn manage_mac(&self, id: i64, email: &str) -> Vec<u8> {
        let tag = mac(&self.manage, &[&id.to_be_bytes(), email.as_bytes()]).finalize();
        tag.into_bytes()[..16].to_vec()
    }
}

/// Reads a token of either kind; `None` if it cannot be one of ours.
pub fn parse(token: &str) -> Option<Claims> {
    let token = token.trim();
    if token.len() > 100 {
        return None;
    }
    let parts: Vec<&str> = token.split('.').collect();
    let (id, issued, tag) = match parts.as_slice() {
        [id, tag] => (id, None, tag),
        [id, issued, tag] => (id, Some(issued.parse::<i64>().ok()?), tag),
        _ => return None,
    };
    let subscriber_id = id.parse::<i64>().ok().filter(|id| *id > 0)?;
    let tag = hex::decode(tag).ok().filter(|t| t.len() == 16)?;
    Some(Claims { subscriber_id, issued, tag })
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_tokens_expire_and_fit_one_subscriber() {
        let keys = Keys::from_secret(b"secret");
        let token = keys.confirm_token(7, "a@example.org", 1000);
        let claims = parse(&token).unwrap();
        assert_eq!(claims.subscriber_id, 7);
        assert_eq!(keys.check_confirm(&claims, "a@example.org", 1000 + 3600, 7200), Ok(()));
        assert_eq!(keys.check_confirm(&claims, "a@example.org", 1000 + 7201, 7200), Err(TokenError::Expired));
        assert_eq!(keys.check_confirm(&claims, "b@example.org", 1001, 7200), Err(TokenError::Forged));
        let backdated = parse(&token.replacen(".1000.", ".2000.", 1)).unwrap();
        assert_eq!(keys.check_confirm(&backdated, "a@example.org", 2001, 7200), Err(TokenError::Forged));
        let other = parse(&Keys::from_secret(b"other").confirm_token(7, "a@example.org", 1000)).unwrap();
        assert_eq!(keys.check_confirm(&other, "a@example.org", 1001, 7200), Err(TokenError::Forged));
        assert_eq!(keys.check_manage(&claims, "a@example.org"), Err(TokenError::Forged), "not a manage token");
    }

    #[test]
    fn manage_tokens_do_not_expire() {
        let keys = Keys::from_secret(b"secret");
        let claims = parse(&keys.manage_token(9, "a@example.org")).unwrap();
        assert_eq!(keys.check_manage(&claims, "a@example.org"), Ok(()));
        assert_eq!(keys.check_manage(&claims, "b@example.org"), Err(TokenError::Forged));
        for garbage in ["", "1", "x.y", "1.zz", "0.00000000000000000000000000000000", "1.2.3.4"] {
            assert_eq!(parse(garbage), None, "{garbage:?}");
        }
    }
}
