//! Delivery: claim a batch of due outbox rows with a lease, compose them, send them over the
//! transport `mail.pool_size` at a time, and record what happened.
//!
//! - 250: the batch's sent rows are marked in one statement after the batch (the at-least-once
//!   window: a crash before it resends the batch in flight, see `mail`'s module docs).
//! - 4xx, or no SMTP conversation: the row is retried after `retry_base_secs · 2^(attempt−1)`
//!   (at most `retry_max_secs`), until `max_attempts`. A connection failure also ends the
//!   batch: the rows not yet tried are given back untouched, and the run stops.
//! - 5xx: the row fails for good, and the address's bounce count goes up; at
//!   `bounce_threshold` the address is suppressed.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::mail::message::{self, Outgoing};
use crate::mail::queries::{self, OutboxRow};
use crate::mail::transport::SendError;
use crate::mail::{Composed, Mailer, RAW_KIND};
use crate::store::{self, Db};

/// What one delivery run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub sent: usize,
    /// 4xx or connection failures that will be tried again.
    pub retried: usize,
    /// Given up: 5xx, unbuildable, or out of attempts.
    pub failed: usize,
    /// Not sent on purpose (the subscriber left, the address is suppressed).
    pub cancelled: usize,
    /// Addresses that became suppressed as bouncing.
    pub suppressed: usize,
    pub batches: usize,
    /// The run stopped early because the server could not be reached.
    pub stopped: bool,
}

impl Report {
    fn add(&mut self, other: Report) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
        self.suppressed += other.suppressed;
        self.batches += other.batches;
        self.stopped |= other.stopped;
    }
}

/// Sends the mail due when it starts until none is left, the server cannot be reached, or
/// `max_run` has passed. A row that fails waits for a later run, even if its back-off ends
/// during this one: one run tries each mail once.
pub async fn deliver(db: &Db, mailer: &Mailer, max_run: Duration) -> anyhow::Result<Report> {
    let started = Instant::now();
    let due = store::now();
    let mut report = Report::default();
    while started.elapsed() < max_run {
        let lease_until = store::now() + mailer.config.lease_secs;
        let rows = queries::claim(db, &mailer.node_id, due, lease_until, mailer.config.batch_size as i64).await?;
        if rows.is_empty() {
            break;
        }
        let batch = deliver_batch(db, mailer, rows).await?;
        report.add(batch);
        if batch.stopped {
            break;
        }
    }
    if report.batches > 0 {
        info!(
            sent = report.sent,
            retried = report.retried,
            failed = report.failed,
            cancelled = report.cancelled,
            "Delivered {} mail(s) in {:.1}s via {}",
            report.sent,
            started.elapsed().as_secs_f64(),
            mailer.transport.describe()
        );
    }
    Ok(report)
}

/// One message ready to go.
struct Ready {
    index: usize,
    envelope: lettre::address::Envelope,
    bytes: Vec<u8>,
    name: String,
}

/// What happened to one row of a batch.
enum Outcome {
    Sent,
    /// A 4xx answer, or no SMTP conversation at all (`connection`).
    Retry {
        error: String,
        connection: bool,
    },
    Fail {
        error: String,
        bounce: bool,
    },
    Cancel(String),
    /// Not attempted (the batch stopped early).
    Release,
}

async fn deliver_batch(db: &Db, mailer: &Mailer, rows: Vec<OutboxRow>) -> anyhow::Result<Report> {
    // Nothing is started after half the lease: a slow server must not let the lease expire on
    // rows still being sent (another worker would send them too).
    let deadline = Instant::now() + Duration::from_secs(mailer.config.lease_secs.max(2) as u64 / 2);
    let composed = match compose(db, mailer, &rows).await {
        Ok(composed) => composed,
        Err(err) => {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            queries::release(db, &ids, &mailer.node_id).await?;
            return Err(err.context("composing a batch of mail"));
        }
    };
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(rows.len());
    let mut ready = VecDeque::new();
    for (index, (row, composed)) in rows.iter().zip(composed).enumerate() {
        match composed {
            Composed::Cancel(reason) => outcomes.push(Outcome::Cancel(reason)),
            Composed::Send(mail) => {
                let id = message::message_id(&mailer.envelope.id_domain, row.id, row.created_at);
                match message::build(&mail, &mailer.envelope, id, store::now(), mailer.config.max_message_bytes) {
                    Ok((envelope, bytes)) => {
                        outcomes.push(Outcome::Release);
                        ready.push_back(Ready { index, envelope, bytes, name: row.id.to_string() });
                    }
                    Err(err) => outcomes.push(Outcome::Fail { error: err.to_string(), bounce: false }),
                }
            }
        }
    }

    for (index, result) in send_all(mailer, ready, deadline).await {
        outcomes[index] = match result {
            Ok(_) => Outcome::Sent,
            Err(SendError::Permanent(error)) => Outcome::Fail { error, bounce: true },
            Err(SendError::Transient(error)) => Outcome::Retry { error, connection: false },
            Err(SendError::Connection(error)) => Outcome::Retry { error, connection: true },
        };
    }
    record(db, mailer, &rows, outcomes).await
}

/// Sends `ready` over up to `pool_size` connections at once. A connection failure, or the
/// `deadline`, stops the lanes from taking more; what was not attempted is missing from the result.
async fn send_all(
    mailer: &Mailer,
    ready: VecDeque<Ready>,
    deadline: Instant,
) -> Vec<(usize, Result<String, SendError>)> {
    let lanes = (mailer.config.pool_size as usize).min(ready.len());
    let queue = Arc::new(Mutex::new(ready));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..lanes {
        let (queue, stop, transport) = (queue.clone(), stop.clone(), mailer.transport.clone());
        tasks.spawn(async move {
            let mut results = Vec::new();
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                let Some(item) = next else { break };
                let result = transport.send(&item.envelope, &item.bytes, &item.name).await;
                if matches!(result, Err(SendError::Connection(_))) {
                    stop.store(true, Ordering::Relaxed);
                }
                results.push((item.index, result));
            }
            results
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(lane) => results.extend(lane),
            Err(err) => warn!(error = %err, "A mail lane panicked; its rows are retried after their lease"),
        }
    }
    results
}

/// Composes every row: raw rows from their payload, the others by the composer.
async fn compose(db: &Db, mailer: &Mailer, rows: &[OutboxRow]) -> anyhow::Result<Vec<Composed>> {
    let mut composed: Vec<Option<Composed>> = vec![None; rows.len()];
    let mut others = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        if row.kind == RAW_KIND {
            composed[index] = Some(match row.payload.as_deref().map(serde_json::from_str::<Outgoing>) {
                Some(Ok(mail)) => Composed::Send(mail),
                _ => Composed::Cancel("unreadable stored message".into()),
            });
        } else {
            others.push(index);
        }
    }
    if !others.is_empty() {
        match &mailer.composer {
            Some(composer) => {
                let (handled, unknown): (Vec<usize>, Vec<usize>) =
                    others.into_iter().partition(|&i| composer.handles(&rows[i].kind));
                let batch: Vec<OutboxRow> = handled.iter().map(|&i| rows[i].clone()).collect();
                let results = composer.compose(db, &batch).await?;
                anyhow::ensure!(
                    results.len() == batch.len(),
                    "the composer answered for {} of {} rows",
                    results.len(),
                    batch.len()
                );
                for (index, result) in handled.into_iter().zip(results) {
                    composed[index] = Some(result);
                }
                for index in unknown {
                    composed[index] = Some(Composed::Cancel(format!("no composer for kind {:?}", rows[index].kind)));
                }
            }
            None => anyhow::bail!("this process has no composer for {} queued mail(s)", others.len()),
        }
    }
    Ok(composed.into_iter().map(|c| c.unwrap_or_else(|| Composed::Cancel("not composed".into()))).collect())
}

async fn record(db: &Db, mailer: &Mailer, rows: &[OutboxRow], outcomes: Vec<Outcome>) -> anyhow::Result<Report> {
    let config = &mailer.config;
    let node = &mailer.node_id;
    let now = store::now();
    let mut report = Report { batches: 1, ..Report::default() };
    let mut sent = Vec::new();
    let mut released = Vec::new();
    for (row, outcome) in rows.iter().zip(&outcomes) {
        match outcome {
            Outcome::Sent => sent.push(row.id),
            Outcome::Release => released.push(row.id),
            _ => {}
        }
    }
    // Sent first: the sooner they are marked, the smaller the window for a second send.
    queries::mark_sent(db, &sent, now).await?;
    report.sent = sent.len();
    if !released.is_empty() {
        queries::release(db, &released, node).await?;
        report.stopped = true;
    }
    for (row, outcome) in rows.iter().zip(outcomes) {
        match outcome {
            Outcome::Sent | Outcome::Release => {}
            Outcome::Retry { error, connection } if row.attempts < config.max_attempts => {
                let exponent = (row.attempts - 1).clamp(0, 30) as u32;
                let delay = config.retry_base_secs.saturating_mul(1i64 << exponent).min(config.retry_max_secs);
                warn!(outbox.id = row.id, attempt = row.attempts, retry_in = delay, error = %error, "Mail not sent; will retry");
                queries::retry(db, row.id, node, &error, now + delay).await?;
                report.retried += 1;
                report.stopped |= connection;
            }
            Outcome::Retry { error, connection } => {
                report.stopped |= connection;
                let error = format!("gave up after {} attempts: {error}", row.attempts);
                warn!(outbox.id = row.id, error = %error, "Mail failed for good");
                let mut conn = db.pool.acquire().await?;
                queries::finish_unsent(&mut conn, row.id, node, "failed", &error, now).await?;
                report.failed += 1;
            }
            Outcome::Fail { error, bounce } => {
                warn!(outbox.id = row.id, error = %error, "Mail failed for good");
                let mut tx = db.begin().await?;
                queries::finish_unsent(&mut tx, row.id, node, "failed", &error, now).await?;
                if bounce
                    && queries::record_bounce(&mut tx, &row.recipient, &error, config.bounce_threshold, now).await?
                {
                    report.suppressed += 1;
                    info!(outbox.id = row.id, "An address is now suppressed as bouncing");
                }
                tx.commit().await?;
                report.failed += 1;
            }
            Outcome::Cancel(reason) => {
                let mut conn = db.pool.acquire().await?;
                queries::finish_unsent(&mut conn, row.id, node, "cancelled", &reason, now).await?;
                report.cancelled += 1;
            }
        }
    }
    Ok(report)
}

/// Sends a test message straight through the transport (not the outbox) and returns the
/// transport's answer: `openvoice mail test`.
pub async fn send_test(mailer: &Mailer, to: &str, site_title: &str) -> anyhow::Result<String> {
    let now = store::now();
    let mail = Outgoing {
        to: to.to_string(),
        subject: format!("Test mail from {}", message::one_line(site_title)),
        text: format!(
            "This is a test of the mail settings of {site_title}.\n\nSent via {} at {}.\n",
            mailer.transport.describe(),
            crate::theme::rfc3339(now)
        ),
        html: None,
        unsubscribe: None,
    };
    let id = format!("<ov.test.{now}.{:08x}@{}>", rand::random::<u32>(), mailer.envelope.id_domain);
    let (envelope, bytes) = message::build(&mail, &mailer.envelope, id, now, mailer.config.max_message_bytes)?;
    let name = format!("test-{now}-{:04x}", rand::random::<u16>());
    Ok(mailer.transport.send(&envelope, &bytes, &name).await?)
}
