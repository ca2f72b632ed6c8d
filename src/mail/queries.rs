//! SQL for the outbox, the suppression list and bounce counts. The claim is the one
//! dialect-specific query (`FOR UPDATE SKIP LOCKED` on PostgreSQL).

use sqlx::{AnyConnection, FromRow};

use crate::store::{Db, DbError, DbResult, Dialect};

/// A mail claimed for delivery.
#[derive(Debug, Clone, FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub kind: String,
    pub topic: String,
    pub subscriber_id: Option<i64>,
    pub recipient: String,
    pub payload: Option<String>,
    /// Attempts including this one.
    pub attempts: i64,
    pub created_at: i64,
}

/// A row to queue.
#[derive(Debug, Clone)]
pub struct NewMail<'a> {
    pub kind: &'a str,
    pub topic: &'a str,
    pub subscriber_id: Option<i64>,
    pub recipient: &'a str,
    pub payload: Option<&'a str>,
    pub bulk: bool,
}

/// Queues one mail; `false` if (topic, subscriber) was queued before.
pub async fn insert(conn: &mut AnyConnection, mail: &NewMail<'_>, now: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO outbox (kind, topic, subscriber_id, recipient, payload, bulk, state, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7) ON CONFLICT DO NOTHING",
    )
    .bind(mail.kind)
    .bind(mail.topic)
    .bind(mail.subscriber_id)
    .bind(mail.recipient)
    .bind(mail.payload)
    .bind(mail.bulk as i64)
    .bind(now)
    .execute(conn)
    .await
    ?;
    Ok(done.rows_affected() > 0)
}

/// Leases up to `limit` due rows to `node` until `lease_until`, oldest first.
pub async fn claim(db: &Db, node: &str, now: i64, lease_until: i64, limit: i64) -> DbResult<Vec<OutboxRow>> {
    let lock = match db.dialect {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "UPDATE outbox SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM outbox WHERE state = 'queued' AND next_attempt_at <= $3 \
         AND (locked_until IS NULL OR locked_until < $3) ORDER BY next_attempt_at, id LIMIT $4{lock}) \
         RETURNING id, kind, topic, subscriber_id, recipient, payload, attempts, created_at"
    );
    let mut rows = sqlx::query_as::<_, OutboxRow>(&sql)
        .bind(node)
        .bind(lease_until)
        .bind(now)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Marks rows sent, whoever holds them now: a mail that went out must not go again.
pub async fn mark_sent(db: &Db, ids: &[i64], now: i64) -> DbResult<()> {
    for chunk in ids.chunks(1000) {
        let sql = format!(
            "UPDATE outbox SET state = 'sent', sent_at = $1, locked_until = NULL, last_error = NULL \
             WHERE state = 'queued' AND id IN ({})",
            crate::store::numbered_rows("?", chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql).bind(now);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&db.pool).await?;
    }
    Ok(())
}

/// Puts a row back for another attempt at `retry_at`, if `node` still holds it.
pub async fn retry(db: &Db, id: i64, node: &str, error: &str, retry_at: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE outbox SET next_attempt_at = $1, last_error = $2, locked_until = NULL \
         WHERE id = $3 AND locked_by = $4 AND state = 'queued'",
    )
    .bind(retry_at)
    .bind(error)
    .bind(id)
    .bind(node)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Ends a row without sending it: `failed` (it will never go) or `cancelled` (it should not).
pub async fn finish_unsent(
    conn: &mut AnyConnection,
    id: i64,
    node: &str,
    state: &str,
    error: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "UPDATE outbox SET state = $1, last_error = $2, sent_at = NULL, locked_until = NULL, next_attempt_at = $3 \
         WHERE id = $4 AND locked_by = $5 AND state = 'queued'",
    )
    .bind(state)
    .bind(error)
    .bind(now)
    .bind(id)
    .bind(node)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives back rows that were claimed but not attempted (the batch stopped early).
pub async fn release(db: &Db, ids: &[i64], node: &str) -> DbResult<()> {
    for chunk in ids.chunks(1000) {
        let sql = format!(
            "UPDATE outbox SET locked_until = NULL, attempts = attempts - 1 \
             WHERE locked_by = $1 AND state = 'queued' AND id IN ({})",
            crate::store::numbered_rows("?", chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql).bind(node);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&db.pool).await?;
    }
    Ok(())
}

/// Counts a permanent failure for `email`; at `threshold` failures the address is suppressed
/// and its queued newsletter mail cancelled. Returns whether it is now suppressed.
pub async fn record_bounce(
    conn: &mut AnyConnection,
    email: &str,
    error: &str,
    threshold: i64,
    now: i64,
) -> DbResult<bool> {
    let count: i64 = sqlx::query_scalar(
        "INSERT INTO mail_bounces (email, count, last_error, last_at) VALUES ($1, 1, $2, $3) \
         ON CONFLICT (email) DO UPDATE SET count = mail_bounces.count + 1, last_error = excluded.last_error, \
         last_at = excluded.last_at RETURNING count",
    )
    .bind(email)
    .bind(error)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    if count < threshold {
        return Ok(false);
    }
    suppress(&mut *conn, email, "bounced", error, now).await?;
    Ok(true)
}

/// Puts `email` on the suppression list (keeping an earlier reason) and cancels its queued
/// newsletter mail.
pub async fn suppress(conn: &mut AnyConnection, email: &str, reason: &str, detail: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO mail_suppressions (email, reason, detail, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(email)
    .bind(reason)
    .bind(detail)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE outbox SET state = 'cancelled', last_error = $1, locked_until = NULL \
         WHERE recipient = $2 AND state = 'queued' AND bulk = 1",
    )
    .bind(format!("suppressed: {reason}"))
    .bind(email)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Takes `email` off the suppression list and forgets its bounces (it was confirmed anew).
pub async fn unsuppress(conn: &mut AnyConnection, email: &str) -> DbResult<()> {
    for sql in ["DELETE FROM mail_suppressions WHERE email = $1", "DELETE FROM mail_bounces WHERE email = $1"] {
        sqlx::query(sql).bind(email).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Why `email` is suppressed, if it is.
pub async fn suppression(conn: &mut AnyConnection, email: &str) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT reason FROM mail_suppressions WHERE email = $1")
        .bind(email)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

/// The suppressed addresses among `emails`.
pub async fn suppressed_among(conn: &mut AnyConnection, emails: &[String]) -> DbResult<Vec<String>> {
    let mut found = Vec::new();
    for chunk in emails.chunks(1000) {
        let sql = format!(
            "SELECT email FROM mail_suppressions WHERE email IN ({})",
            crate::store::numbered_rows("?", chunk.len(), 1)
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for email in chunk {
            query = query.bind(email);
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

/// Cancels the queued mail of one subscriber (unsubscribed or removed).
pub async fn cancel_for_subscriber(conn: &mut AnyConnection, subscriber_id: i64, reason: &str) -> DbResult<u64> {
    let done = sqlx::query(
        "UPDATE outbox SET state = 'cancelled', last_error = $1, locked_until = NULL \
         WHERE subscriber_id = $2 AND state = 'queued'",
    )
    .bind(reason)
    .bind(subscriber_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Rows per state.
pub async fn counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Suppressed addresses per reason.
pub async fn suppression_counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as("SELECT reason, COUNT(*) FROM mail_suppressions GROUP BY reason ORDER BY reason")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

/// The most recent failures, newest first: (id, recipient, state, attempts, error).
pub async fn recent_failures(db: &Db, limit: i64) -> DbResult<Vec<(i64, String, String, i64, String)>> {
    sqlx::query_as(
        "SELECT id, recipient, state, attempts, last_error FROM outbox \
         WHERE last_error IS NOT NULL AND state IN ('queued', 'failed') ORDER BY next_attempt_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Deletes up to `limit` finished rows (sent, failed, cancelled) created before `before`;
/// returns how many. Each subscriber's article mail stays unique through `article_mailings`
/// (an article is fanned out once), and digests are queued only for the latest period.
pub async fn prune(db: &Db, before: i64, limit: i64) -> DbResult<u64> {
    let done = sqlx::query(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state <> 'queued' AND created_at < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(limit)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected())
}
