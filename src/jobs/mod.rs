//! Durable background jobs: a `jobs` table with leases, shared by every node.
//!
//! A job is a small serialisable struct implementing [`BackgroundJob`]. Workers claim one due
//! row at a time by writing a lease (`locked_by`, `locked_until`); on PostgreSQL the claim uses
//! `FOR UPDATE SKIP LOCKED`, so N nodes never take the same row, and on SQLite the single
//! writer serialises claims. A crashed node's lease expires and another node retries the job,
//! so jobs must be idempotent. Failures back off exponentially up to the job's `MAX_ATTEMPTS`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::AnyConnection;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn, Instrument};

use crate::store::{self, Db, DbResult};

pub mod queries;

pub trait BackgroundJob: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// Unique, stable name stored in the `kind` column.
    const NAME: &'static str;
    const MAX_ATTEMPTS: i64 = 8;
    /// For recurring jobs (price polling): run again this many seconds after a success.
    const REPEAT_AFTER_SECS: Option<i64> = None;
    /// What the job needs besides the database: the narrowest value that has it (`()` for none).
    /// A worker runs the job only when it was registered with one (see [`Registry`]).
    type Context: Send + Sync + 'static;
    /// When to run again after a success; `REPEAT_AFTER_SECS` unless the interval is configured
    /// (the price poll reads `market.poll_interval_secs` from its context).
    fn repeat_after(&self, _ctx: &Self::Context) -> Option<i64> {
        Self::REPEAT_AFTER_SECS
    }
    fn run(&self, db: &Db, ctx: &Self::Context) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// Runs one job of a kind from its payload; answers when to run it again, for recurring jobs.
type Runner = dyn Fn(Db, String) -> BoxFuture<'static, anyhow::Result<Option<i64>>> + Send + Sync;

/// The job kinds a worker runs, each with its context. A worker claims only these kinds, so a
/// node built without (say) a mail transport leaves mail to the nodes that have one.
#[derive(Clone, Default)]
pub struct Registry {
    runners: HashMap<&'static str, Arc<Runner>>,
}

impl Registry {
    /// Adds the job kind `J`, run with `ctx`.
    pub fn with<J: BackgroundJob>(mut self, ctx: Arc<J::Context>) -> Registry {
        let runner = move |db: Db, payload: String| -> BoxFuture<'static, anyhow::Result<Option<i64>>> {
            let ctx = ctx.clone();
            Box::pin(async move {
                let job: J = serde_json::from_str(&payload)?;
                job.run(&db, &ctx).await?;
                Ok(job.repeat_after(&ctx))
            })
        };
        self.runners.insert(J::NAME, Arc::new(runner));
        self
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self.runners.keys().copied().collect();
        kinds.sort_unstable();
        kinds
    }
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
        let payload = serde_json::to_string(job)?;
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

/// Worker settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Identifies this node in `locked_by`.
    pub node_id: String,
    pub poll_interval: Duration,
    pub lease_secs: i64,
}

/// Claims and runs due jobs until `shutdown` is cancelled; a job already running finishes first.
pub async fn run_worker(db: Db, registry: Registry, config: WorkerConfig, shutdown: CancellationToken) {
    info!(node = %config.node_id, kinds = ?registry.kinds(), "Job worker started");
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        match run_one(&db, &registry, &config).await {
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

/// Claims and runs at most one due job of the registered kinds; returns whether there was one.
pub async fn run_one(db: &Db, registry: &Registry, config: &WorkerConfig) -> anyhow::Result<bool> {
    let now = store::now();
    let kinds = registry.kinds();
    let Some(job) = queries::claim(db, &kinds, &config.node_id, now, now + config.lease_secs).await? else {
        return Ok(false);
    };
    // Claimed by kind, so the runner is there.
    let Some(runner) = registry.runners.get(job.kind.as_str()) else {
        anyhow::bail!("claimed a job of unregistered kind {:?}", job.kind);
    };
    let span = tracing::info_span!("job", job.id = job.id, job.kind = %job.kind, attempt = job.attempts);
    // `instrument`, not `span.enter()`: a guard held across an await leaves the span entered on
    // whichever thread the task wakes up on, and tracing-subscriber panics when it closes.
    let finished = async {
        match runner(db.clone(), job.payload.clone()).await {
            Ok(None) => {
                queries::finish(db, job.id, &config.node_id, store::now()).await?;
                info!("Job {} #{} done", job.kind, job.id);
            }
            Ok(Some(after)) => {
                queries::repeat(db, job.id, &config.node_id, store::now() + after).await?;
                info!("Job {} #{} done; next run in {after}s", job.kind, job.id);
            }
            Err(err) => {
                let message = format!("{err:#}");
                let backoff = 2i64.saturating_pow(job.attempts.clamp(0, 16) as u32).min(3600);
                let gave_up = job.attempts >= job.max_attempts;
                queries::fail(db, job.id, &config.node_id, &message, store::now() + backoff, gave_up).await?;
                warn!(error = %message, gave_up, "Job {} #{} failed", job.kind, job.id);
            }
        }
        anyhow::Ok(())
    };
    finished.instrument(span).await?;
    Ok(true)
}

/// Counts of jobs per state, for status pages and tests.
pub async fn counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    queries::counts(db).await
}
