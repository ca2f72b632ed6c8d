//! SQL for the job table. The claim is the one dialect-specific query.

use sqlx::{AnyConnection, FromRow};

use crate::store::{Db, DbError, DbResult, Dialect};

#[derive(Debug, FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

pub async fn insert(
    conn: &mut AnyConnection,
    kind: &str,
    payload: &str,
    unique_key: Option<&str>,
    run_at: i64,
    max_attempts: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO jobs (kind, payload, unique_key, state, run_at, attempts, max_attempts, created_at) \
         VALUES ($1, $2, $3, 'queued', $4, 0, $5, $6) \
         ON CONFLICT (unique_key) DO UPDATE SET payload = excluded.payload, run_at = excluded.run_at, \
         state = 'queued', attempts = 0, locked_by = NULL, locked_until = NULL, last_error = NULL, finished_at = NULL",
    )
    .bind(kind)
    .bind(payload)
    .bind(unique_key)
    .bind(run_at)
    .bind(max_attempts)
    .bind(crate::store::now())
    .execute(conn)
    .await
    .map_err(DbError::classify)?;
    Ok(())
}

pub async fn insert_if_absent(
    conn: &mut AnyConnection,
    kind: &str,
    payload: &str,
    unique_key: &str,
    run_at: i64,
    max_attempts: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO jobs (kind, payload, unique_key, state, run_at, attempts, max_attempts, created_at) \
         VALUES ($1, $2, $3, 'queued', $4, 0, $5, $6) ON CONFLICT (unique_key) DO NOTHING",
    )
    .bind(kind)
    .bind(payload)
    .bind(unique_key)
    .bind(run_at)
    .bind(max_attempts)
    .bind(crate::store::now())
    .execute(conn)
    .await
    .map_err(DbError::classify)?;
    Ok(())
}

/// Leases the oldest due job to `node` until `lease_until`.
pub async fn claim(db: &Db, node: &str, now: i64, lease_until: i64) -> DbResult<Option<ClaimedJob>> {
    let lock = match db.dialect {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $3 \
         AND (locked_until IS NULL OR locked_until < $3) ORDER BY run_at, id LIMIT 1{lock}) \
         RETURNING id, kind, payload, attempts, max_attempts"
    );
    sqlx::query_as::<_, ClaimedJob>(&sql)
        .bind(node)
        .bind(lease_until)
        .bind(now)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::classify)
}

pub async fn finish(db: &Db, id: i64, node: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE jobs SET state = 'done', finished_at = $1, locked_until = NULL WHERE id = $2 AND locked_by = $3",
    )
    .bind(now)
    .bind(id)
    .bind(node)
    .execute(&db.pool)
    .await
    .map_err(DbError::classify)?;
    Ok(())
}

/// Puts a recurring job back in the queue for its next run.
pub async fn repeat(db: &Db, id: i64, node: &str, run_at: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE jobs SET state = 'queued', run_at = $1, attempts = 0, last_error = NULL, locked_until = NULL \
         WHERE id = $2 AND locked_by = $3",
    )
    .bind(run_at)
    .bind(id)
    .bind(node)
    .execute(&db.pool)
    .await
    .map_err(DbError::classify)?;
    Ok(())
}

pub async fn fail(db: &Db, id: i64, node: &str, error: &str, retry_at: i64, gave_up: bool) -> DbResult<()> {
    let state = if gave_up { "failed" } else { "queued" };
    sqlx::query(
        "UPDATE jobs SET state = $1, last_error = $2, run_at = $3, locked_until = NULL WHERE id = $4 AND locked_by = $5",
    )
    .bind(state)
    .bind(error)
    .bind(retry_at)
    .bind(id)
    .bind(node)
    .execute(&db.pool)
    .await
    .map_err(DbError::classify)?;
    Ok(())
}

pub async fn counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::classify)
}
