//! The recurring price poll.

use serde::{Deserialize, Serialize};
use tracing::info;

use crate::config::market::MarketConfig;
use crate::jobs::{self, BackgroundJob};
use crate::market::service::{self, Polling};
use crate::store::{self, Db};

/// Unique key of the one poll row every node shares.
pub const POLL_KEY: &str = "market.poll";

/// Polls the price providers and stores the results, then runs again after
/// `market.poll_interval_secs`. Provider failures do not fail the job (they are backed off per
/// provider inside the poll), so the job keeps its cadence and keeps re-marking stale prices;
/// only a database error fails it, and then the worker retries with its own back-off, forever.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PollPrices {}

impl BackgroundJob for PollPrices {
    const NAME: &'static str = "market.poll";
    /// Never give up: a recurring job that failed for good would stop prices until a restart.
    const MAX_ATTEMPTS: i64 = i64::MAX;
    /// The default interval; the configured one comes from [`BackgroundJob::repeat_after`].
    const REPEAT_AFTER_SECS: Option<i64> = Some(300);

    type Context = Polling;

    fn repeat_after(&self, polling: &Polling) -> Option<i64> {
        Some(polling.config.poll_interval_secs)
    }

    async fn run(&self, db: &Db, polling: &Polling) -> anyhow::Result<()> {
        if !polling.config.enabled {
            info!("Market prices are disabled (market.enabled = false); skipping the price poll");
            return Ok(());
        }
        let report = service::poll(db, polling, store::now()).await?;
        info!(
            stored = report.stored.len(),
            rejected = report.rejected.len(),
            failed = report.failed.len(),
            skipped = report.skipped.len(),
            history = report.history.len(),
            stale_changed = report.stale_changed,
            "Polled prices: {} stored",
            report.stored.len()
        );
        Ok(())
    }
}

/// Makes sure the poll job exists (due now if it is new); called by `serve` on every node.
/// Does nothing when market prices are disabled.
pub async fn register(db: &Db, config: &MarketConfig) -> anyhow::Result<()> {
    if !config.enabled {
        return Ok(());
    }
    let mut conn = db.pool.acquire().await?;
    jobs::ensure(&mut conn, &PollPrices {}, store::now(), POLL_KEY).await?;
    Ok(())
}
