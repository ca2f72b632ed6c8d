//! Durable background jobs: a `jobs` table with leases, shared by every node.
//!
//! A job is a small serialisable struct implementing [`BackgroundJob`]. Workers claim one due
//! row at a time by writing a lease (`locked_by`, `locked_until`); on PostgreSQL the claim uses
//! `FOR UPDATE SKIP LOCKED`, so N nodes never take the same row, and on SQLite the single
//! writer serialises claims. A crashed node's lease expires and another node retries the job,
//! so jobs must be idempotent. Failures back off exponentially up to the job's `MAX_ATTEMPTS`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::content::jobs::PublishScheduled;
use crate::ipfs::jobs::{BuildBundle, BuildSnapshot, PinBundle};
use crate::mail::jobs::{DeliverMail, PruneOutbox};
use crate::market::jobs::PollPrices;
use crate::store::{self, Db, DbResult};
use crate::subscriptions::jobs::{NotifySubscribers, QueueDigests};

pub mod queries;

/// What every job's `run` gets.
#[derive(Clone)]
pub struct JobContext {
    pub db: Db,
    /// Price providers and market settings for `market.poll`; `None` in workers that poll no
    /// prices (then the job skips its run and keeps its schedule).
    pub market: Option<Arc<crate::market::service::Polling>>,
    /// Site settings, theme and HTTP client for the IPFS bundle, snapshot and pin jobs; `None` in
    /// workers that publish nothing (those jobs then fail and are retried by a worker that does).
    pub publishing: Option<Arc<crate::ipfs::service::Publishing>>,
    /// Transport and composer for `mail.deliver`; `None` in workers that send no mail (the job
    /// then skips its run and keeps its schedule).
    pub mail: Option<Arc<crate::mail::Mailer>>,
    /// Settings, theme and link keys for the subscription jobs; `None` in workers without them
    /// (those jobs then fail and are retried by a worker that has them).
    pub subscriptions: Option<Arc<crate::subscriptions::Subscriptions>>,
}

impl JobContext {
    /// A context with the database only.
    pub fn new(db: Db) -> JobContext {
        JobContext { db, market: None, publishing: None, mail: None, subscriptions: None }
    }

    /// The publishing context, or an error for a worker without one.
    pub fn publishing(&self) -> anyhow::Result<&crate::ipfs::service::Publishing> {
        self.publishing.as_deref().ok_or_else(|| anyhow::anyhow!("this worker has no publishing context"))
    }

    /// The subscriptions context, or an error for a worker without one.
    pub fn subscriptions(&self) -> anyhow::Result<&crate::subscriptions::Subscriptions> {
        self.subscriptions.as_deref().ok_or_else(|| anyhow::anyhow!("this worker has no subscriptions context"))
    }
}

pub trait BackgroundJob: Serialize + DeserializeOwned + Send + Sync {
    /// Unique, stable name stored in the `kind` column.
    const NAME: &'static str;
    const MAX_ATTEMPTS: i64 = 8;
    /// For recurring jobs (price polling): run again this many seconds after a success.
    const REPEAT_AFTER_SECS: Option<i64> = None;
    /// When to run again after a success; `REPEAT_AFTER_SECS` unless the interval is configured
    /// (the price poll reads `market.poll_interval_secs` from the context).
    fn repeat_after(&self, _ctx: &JobContext) -> Option<i64> {
        Self::REPEAT_AFTER_SECS
    }
    fn run(&self, ctx: &JobContext) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// A job ready to be written, for queueing many in a few statements (`enqueue_many`,
/// `ensure_many`); `enqueue` and `ensure` write one.
#[derive(Debug, Clone)]
pub struct NewJob {
    kind: &'static str,
    payload: String,
    unique_key: Option<String>,
    run_at: i64,
    max_attempts: i64,
}

impl NewJob {
    pub fn new<J: BackgroundJob>(job: &J, run_at: i64, unique_key: Option<String>) -> DbResult<NewJob> {
        let payload =
            serde_json::to_string(job).map_err(|e| store::DbError::Other(sqlx::Error::Encode(Box::new(e))))?;
        Ok(NewJob { kind: J::NAME, payload, unique_key, run_at, max_attempts: J::MAX_ATTEMPTS })
    }
}

/// Enqueues `job` to run at `run_at` (Unix seconds). With a `unique_key`, enqueueing again
/// replaces the pending row (a rescheduled article keeps one job).
pub async fn enqueue<J: BackgroundJob>(
    conn: &mut AnyConnection,
    job: &J,
    run_at: i64,
    unique_key: Option<&str>,
) -> DbResult<()> {
    enqueue_many(conn, vec![NewJob::new(job, run_at, unique_key.map(str::to_string))?]).await
}

/// `enqueue` of each job in order, in a few statements: of jobs sharing a unique key the last
/// one counts, as if enqueued one after the other.
pub async fn enqueue_many(conn: &mut AnyConnection, jobs: Vec<NewJob>) -> DbResult<()> {
    queries::insert_many(conn, &one_per_key(jobs, true), true, store::now()).await
}

/// Makes sure a job with `unique_key` exists, without moving one that is already queued: how
/// every node registers recurring jobs at start-up.
pub async fn ensure<J: BackgroundJob>(
    conn: &mut AnyConnection,
    job: &J,
    run_at: i64,
    unique_key: &str,
) -> DbResult<()> {
    ensure_many(conn, vec![NewJob::new(job, run_at, Some(unique_key.to_string()))?]).await
}

/// `ensure` of each job in order, in a few statements: of jobs sharing a unique key the first
/// one counts.
pub async fn ensure_many(conn: &mut AnyConnection, jobs: Vec<NewJob>) -> DbResult<()> {
    queries::insert_many(conn, &one_per_key(jobs, false), false, store::now()).await
}

/// One job per unique key, where the first of its key stood (a statement may not write one row
/// twice): the last of them with `last`, else the first.
fn one_per_key(jobs: Vec<NewJob>, last: bool) -> Vec<NewJob> {
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut out: Vec<NewJob> = Vec::with_capacity(jobs.len());
    for job in jobs {
        match job.unique_key.as_ref().and_then(|key| at.get(key)) {
            Some(&i) => {
                if last {
                    out[i] = job;
                }
            }
            None => {
                if let Some(key) = &job.unique_key {
                    at.insert(key.clone(), out.len());
                }
                out.push(job);
            }
        }
    }
    out
}

/// Runs one claimed job by its kind; returns when to run it again, for recurring jobs.
async fn dispatch(ctx: &JobContext, kind: &str, payload: &str) -> anyhow::Result<Option<i64>> {
    match kind {
        PublishScheduled::NAME => run_typed::<PublishScheduled>(ctx, payload).await,
        BuildBundle::NAME => run_typed::<BuildBundle>(ctx, payload).await,
        BuildSnapshot::NAME => run_typed::<BuildSnapshot>(ctx, payload).await,
        PinBundle::NAME => run_typed::<PinBundle>(ctx, payload).await,
        PollPrices::NAME => run_typed::<PollPrices>(ctx, payload).await,
        DeliverMail::NAME => run_typed::<DeliverMail>(ctx, payload).await,
        PruneOutbox::NAME => run_typed::<PruneOutbox>(ctx, payload).await,
        NotifySubscribers::NAME => run_typed::<NotifySubscribers>(ctx, payload).await,
        QueueDigests::NAME => run_typed::<QueueDigests>(ctx, payload).await,
        other => anyhow::bail!("unknown job kind {other:?}"),
    }
}

async fn run_typed<J: BackgroundJob>(ctx: &JobContext, payload: &str) -> anyhow::Result<Option<i64>> {
    let job: J = serde_json::from_str(payload)?;
    job.run(ctx).await?;
    Ok(job.repeat_after(ctx))
}

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Identifies this node in `locked_by`.
    pub node_id: String,
    pub poll_interval: Duration,
    pub lease_secs: i64,
}

/// Claims and runs due jobs until `shutdown` is cancelled; a job already running finishes first.
pub async fn run_worker(ctx: JobContext, config: WorkerConfig, shutdown: CancellationToken) {
    info!(node = %config.node_id, "Job worker started");
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        match run_one(&ctx, &config).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(err) => error!(error = %err, "Job worker could not claim a job"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(config.poll_interval) => {}
        }
    }
    info!("Job worker stopped");
}

/// Claims and runs at most one due job; returns whether there was one.
pub async fn run_one(ctx: &JobContext, config: &WorkerConfig) -> anyhow::Result<bool> {
    let now = store::now();
    let Some(job) = queries::claim(&ctx.db, &config.node_id, now, now + config.lease_secs).await? else {
        return Ok(false);
    };
    let span = tracing::info_span!("job", job.id = job.id, job.kind = %job.kind, attempt = job.attempts);
    let _enter = span.enter();
    match dispatch(ctx, &job.kind, &job.payload).await {
        Ok(None) => {
            queries::finish(&ctx.db, job.id, &config.node_id, store::now()).await?;
            info!("Job {} #{} done", job.kind, job.id);
        }
        Ok(Some(after)) => {
            queries::repeat(&ctx.db, job.id, &config.node_id, store::now() + after).await?;
            info!("Job {} #{} done; next run in {after}s", job.kind, job.id);
        }
        Err(err) => {
            let message = format!("{err:#}");
            let backoff = 2i64.saturating_pow(job.attempts.clamp(0, 16) as u32).min(3600);
            let gave_up = job.attempts >= job.max_attempts;
            queries::fail(&ctx.db, job.id, &config.node_id, &message, store::now() + backoff, gave_up).await?;
            warn!(error = %message, gave_up, "Job {} #{} failed", job.kind, job.id);
        }
    }
    Ok(true)
}

/// Counts of jobs per state, for status pages and tests.
pub async fn counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    queries::counts(db).await
}
