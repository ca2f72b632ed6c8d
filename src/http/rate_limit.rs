//! Per-client token buckets for the public forms (comments, subscribe) and search, shared by
//! every node through the database.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::OnceCell;

use crate::store::{self, Db};

/// A token bucket per client address: `burst` requests at once, refilled at `per_minute`,
/// counted in the database so that N nodes together allow the rate once, not N times.
///
/// This node's own bucket of the same size answers first: a client that has emptied it here is
/// refused without a database write, so a flood costs the database no more than the rate.
pub struct RateLimiter {
    /// The limit's name in the shared table (`comments`, `subscribe`, `search`).
    scope: &'static str,
    burst: f64,
    per_second: f64,
    local: Mutex<HashMap<IpAddr, (f64, Instant)>>,
    /// Key of the client hash: addresses are not stored as they are.
    key: OnceCell<Vec<u8>>,
    /// Takes since this node last dropped the shared buckets that have filled up again.
    since_prune: AtomicU32,
}

/// Buckets kept before idle (full) ones are dropped.
const MAX_BUCKETS: usize = 100_000;
/// Shared takes between two prunes of full buckets, per node and limit.
const PRUNE_EVERY: u32 = 1024;
const KEY_SECRET: &str = "rate-limit-key";

impl RateLimiter {
    pub fn new(scope: &'static str, burst: u32, per_minute: u32) -> RateLimiter {
        RateLimiter {
            scope,
            burst: burst as f64,
            per_second: per_minute as f64 / 60.0,
            local: Mutex::new(HashMap::new()),
            key: OnceCell::new(),
            since_prune: AtomicU32::new(0),
        }
    }

    /// Takes one token for `ip`; `Err(seconds)` says when the next one will be there. Should the
    /// database fail, this node's bucket alone decides.
    pub async fn take(&self, db: &Db, ip: IpAddr) -> Result<(), u64> {
        self.take_locally(ip, Instant::now())?;
        match self.take_shared(db, ip).await {
            Ok(taken) => taken,
            Err(err) => {
                tracing::warn!(error = %err, scope = self.scope, "Could not reach the shared rate limit; this node's decides");
                Ok(())
            }
        }
    }

    async fn take_shared(&self, db: &Db, ip: IpAddr) -> anyhow::Result<Result<(), u64>> {
        let key = self
            .key
            .get_or_try_init(|| async {
                let fresh = hex::encode(rand::random::<[u8; 32]>());
                anyhow::Ok(hex::decode(store::site_secret(db, KEY_SECRET, &fresh).await?)?)
            })
            .await?;
        let mut mac = Hmac::<Sha256>::new_from_slice(key)?;
        mac.update(ip.to_string().as_bytes());
        let client = hex::encode(&mac.finalize().into_bytes()[..16]);
        let now_ms = store::now_ms();
        let bucket =
            store::take_rate_token(db, self.scope, &client, self.burst, self.per_second / 1000.0, now_ms).await?;
        if self.since_prune.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            let full_after_ms = (self.burst / self.per_second * 1000.0).ceil() as i64;
            store::prune_rate_buckets(db, self.scope, now_ms - full_after_ms).await?;
        }
        Ok(match bucket {
            store::RateToken::Taken => Ok(()),
            store::RateToken::Refused { tokens } => Err(self.seconds_until_one(tokens)),
        })
    }

    fn take_locally(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let mut buckets = self.local.lock().unwrap_or_else(|e| e.into_inner());
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
            Err(self.seconds_until_one(*tokens))
        }
    }

    fn seconds_until_one(&self, tokens: f64) -> u64 {
        ((1.0 - tokens) / self.per_second).ceil().max(1.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn token_bucket_allows_a_burst_then_refills() {
        let limiter = RateLimiter::new("test", 2, 60);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        assert!(limiter.take_locally(ip, t0).is_ok());
        assert!(limiter.take_locally(ip, t0).is_ok());
        assert_eq!(limiter.take_locally(ip, t0), Err(1));
        assert!(limiter.take_locally("10.0.0.2".parse().unwrap(), t0).is_ok(), "per address");
        assert!(limiter.take_locally(ip, t0 + Duration::from_millis(1100)).is_ok(), "one per second refilled");
    }
}
