//! The recurring delivery job.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::jobs::{self, BackgroundJob};
use crate::mail::{queries, service, Mailer};
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

    type Context = Mailer;

    fn repeat_after(&self, mailer: &Mailer) -> Option<i64> {
        Some(mailer.config.poll_interval_secs)
    }

    async fn run(&self, db: &Db, mailer: &Mailer) -> anyhow::Result<()> {
        service::deliver(db, mailer, Duration::from_secs(mailer.config.max_run_secs)).await?;
        Ok(())
    }
}

/// Unique key of the daily clean-up.
pub const PRUNE_KEY: &str = "mail.prune";

/// Deletes finished outbox rows older than `mail.keep_days`, in chunks so no transaction holds
/// the database long; runs daily.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct PruneOutbox {}

impl BackgroundJob for PruneOutbox {
    const NAME: &'static str = "mail.prune";
    const MAX_ATTEMPTS: i64 = i64::MAX;
    const REPEAT_AFTER_SECS: Option<i64> = Some(86_400);

    type Context = Mailer;

    async fn run(&self, db: &Db, mailer: &Mailer) -> anyhow::Result<()> {
        if mailer.config.keep_days == 0 {
            return Ok(());
        }
        let before = store::now() - mailer.config.keep_days * 86_400;
        let mut deleted = 0;
        loop {
            let n = queries::prune(db, before, 10_000).await?;
            deleted += n;
            if n < 10_000 {
                break;
            }
        }
        tracing::info!(deleted, "Pruned {deleted} finished outbox row(s)");
        Ok(())
    }
}

/// Makes sure the delivery job (due now if it is new) and the daily clean-up exist; called by
/// `serve` on every node.
pub async fn register(db: &Db) -> anyhow::Result<()> {
    let mut conn = db.pool.acquire().await?;
    jobs::ensure(&mut conn, &DeliverMail {}, store::now(), DELIVER_KEY).await?;
    jobs::ensure(&mut conn, &PruneOutbox {}, store::now() + 3600, PRUNE_KEY).await?;
    Ok(())
}
