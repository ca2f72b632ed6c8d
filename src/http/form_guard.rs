//! What a public form keeps on each node: keys derived once from a named site secret, and
//! per-client token buckets (`rate_limit`). The secret lives in the database (`site_secrets`),
//! created by whichever node asks first, so every node signs and checks alike; keys and secrets
//! are never logged.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::http::rate_limit::RateLimiter;
use crate::store::{Db, DbError};

pub type HmacSha256 = Hmac<Sha256>;

/// The site secret of the comment form's keys (`comments::guard`).
pub const COMMENTS_SECRET: &str = "comments";
/// The site secret of the subscription links' keys (`subscriptions::tokens`).
pub const SUBSCRIPTIONS_SECRET: &str = "subscriptions";

pub struct FormGuard {
    /// The `site_secrets` row the keys derive from.
    secret_name: &'static str,
    /// One key per purpose, in the order the purposes were named.
    keys: OnceCell<Vec<[u8; 32]>>,
    pub limiter: RateLimiter,
}

impl FormGuard {
    pub fn new(secret_name: &'static str, limiter: RateLimiter) -> FormGuard {
        FormGuard { secret_name, keys: OnceCell::new(), limiter }
    }

    /// The keys for `purposes`, in their order, derived on this node's first call. A form names
    /// its purposes with one constant, so every call names the same ones.
    pub async fn keys(&self, db: &Db, purposes: &[&str]) -> Result<&[[u8; 32]], DbError> {
        let keys = self
            .keys
            .get_or_try_init(|| async {
                let fresh = hex::encode(rand::random::<[u8; 32]>());
                let secret = crate::store::site_secret(db, self.secret_name, &fresh).await?;
                Ok::<_, DbError>(purposes.iter().map(|purpose| derive(secret.as_bytes(), purpose)).collect())
            })
            .await?;
        Ok(keys)
    }
}

/// An HMAC-SHA256 over length-prefixed `parts`, so no two lists of parts sign alike.
pub fn mac(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac
}

/// A key for one purpose derived from a site secret.
pub fn derive(secret: &[u8], purpose: &str) -> [u8; 32] {
    mac(secret, &[purpose.as_bytes()]).finalize().into_bytes().into()
}
