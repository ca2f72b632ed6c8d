//! Subscriptions' background jobs: the per-article notification (set off by content's writes:
//! `content::jobs`) and the digest queue.

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::content::jobs::NotifySubscribers;
use crate::jobs::{self, BackgroundJob};
use crate::store::{self, Db};
use crate::subscriptions::service::{self, FanOut};
use crate::subscriptions::Subscriptions;

impl BackgroundJob for NotifySubscribers {
    const NAME: &'static str = "subscriptions.notify";
    type Context = Subscriptions;

    async fn run(&self, db: &Db, subscriptions: &Subscriptions) -> anyhow::Result<()> {
        let config = &subscriptions.config.subscriptions;
        let outcome = service::fan_out(db, config, self.article_id, self.queued_at, false, store::now()).await?;
        match outcome {
            FanOut::Queued(n) => info!(article.id = self.article_id, queued = n, "Article mail queued"),
            FanOut::AlreadyDone => info!(article.id = self.article_id, "Article mail was queued before"),
            FanOut::Skipped(reason) => info!(article.id = self.article_id, "No article mail: {reason}"),
        }
        Ok(())
    }
}

/// Unique key of the one digest row every node shares.
pub const DIGEST_KEY: &str = "subscriptions.digest";

/// Queues the daily and weekly digests of the periods that ended last; runs every hour
/// (idempotent: each subscriber gets one digest per period).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct QueueDigests {}

impl BackgroundJob for QueueDigests {
    const NAME: &'static str = "subscriptions.digest";
    const MAX_ATTEMPTS: i64 = i64::MAX;
    const REPEAT_AFTER_SECS: Option<i64> = Some(3600);

    type Context = Subscriptions;

    fn repeat_after(&self, _: &Subscriptions) -> Option<i64> {
        // Just after the next full hour, so a digest hour is never missed by much.
        let now = store::now();
        Some(3600 - now.rem_euclid(3600) + 30)
    }

    async fn run(&self, db: &Db, subscriptions: &Subscriptions) -> anyhow::Result<()> {
        service::queue_digests(db, &subscriptions.config.subscriptions, store::now()).await?;
        Ok(())
    }
}

/// Makes sure the digest job exists; called by `serve` on every node.
pub async fn register(db: &Db) -> anyhow::Result<()> {
    let mut conn = db.pool.acquire().await?;
    jobs::ensure(&mut conn, &QueueDigests {}, store::now(), DIGEST_KEY).await?;
    Ok(())
}
