//! The recurring delivery job.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::jobs::{self, BackgroundJob, JobContext};
use crate::mail::service;
use crate::store::{self, Db};

/// Unique key of the one delivery row every node shares.
pub const DELIVER_KEY: &str = "mail.deliver";

/// Sends due outbox mail for at most `mail.max_run_secs`, then runs again after
/// `mail.poll_interval_secs`. One batch is claimed at a time (`mail.batch_size` rows with a
/// lease) and sent over `mail.pool_size` SMTP connections at once: per-row claims would cost a
/// database round trip per mail and could not keep the connections busy at hundreds of mails a
/// second, while a batch costs one claim and one "sent" update. Send failures are recorded per
/// row and never fail the job; only a database error does, and the worker retries it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct DeliverMail {}

impl BackgroundJob for DeliverMail {
    const NAME: &'static str = "mail.deliver";
    /// Never give up: a recurring job that failed for good would stop all mail until a restart.
    const MAX_ATTEMPTS: i64 = i64::MAX;
    const REPEAT_AFTER_SECS: Option<i64> = Some(2);

    fn repeat_after(&self, ctx: &JobContext) -> Option<i64> {
        Some(ctx.mail.as_ref().map_or(2, |mailer| mailer.config.poll_interval_secs))
    }

    async fn run(&self, ctx: &JobContext) -> anyhow::Result<()> {
        let Some(mailer) = &ctx.mail else {
            warn!("No mailer in this worker; skipping mail delivery");
            return Ok(());
        };
        service::deliver(&ctx.db, mailer, Duration::from_secs(mailer.config.max_run_secs)).await?;
        Ok(())
    }
}

/// Makes sure the delivery job exists (due now if it is new); called by `serve` on every node.
pub async fn register(db: &Db) -> anyhow::Result<()> {
    let mut conn = db.pool.acquire().await?;
    jobs::ensure(&mut conn, &DeliverMail {}, store::now(), DELIVER_KEY).await?;
    Ok(())
}
