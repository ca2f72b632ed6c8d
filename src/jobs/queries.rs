//! SQL for the job table. The claim is the one dialect-specific query.

use sqlx::{AnyConnection, FromRow};

use crate::jobs::NewJob;
use crate::store::{self, Db, DbError, DbResult, Dialect};

#[derive(Debug, FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub max_attempts: i64,
}

/// One job; `kind` is its `BackgroundJob::NAME`. A queued job with the same unique key is
/// replaced (see `insert_many`).
pub async fn insert(
    conn: &mut AnyConnection,
    kind: &'static str,
    payload: &str,
    unique_key: Option<&str>,
    run_at: i64,
    max_attempts: i64,
) -> DbResult<()> {
    let job =
        NewJob { kind, payload: payload.to_string(), unique_key: unique_key.map(str::to_string), run_at, max_attempts };
    insert_many(conn, &[job], true, crate::store::now()).await
}

/// Inserts `jobs` in a few statements. A job whose unique key is taken replaces that row's
/// payload and time and queues it again (`replace`), or is dropped. `jobs` must not repeat a key.
pub async fn insert_many(conn: &mut AnyConnection, jobs: &[NewJob], replace: bool, now: i64) -> DbResult<()> {
    let conflict = if replace {
        "ON CONFLICT (unique_key) DO UPDATE SET payload = excluded.payload, run_at = excluded.run_at, \
         state = 'queued', attempts = 0, locked_by = NULL, locked_until = NULL, last_error = NULL, finished_at = NULL"
    } else {
        "ON CONFLICT (unique_key) DO NOTHING"
    };
    for chunk in jobs.chunks(store::rows_per_statement(6)) {
        let sql = format!(
            "INSERT INTO jobs (kind, payload, unique_key, state, run_at, attempts, max_attempts, created_at) \
             VALUES {} {conflict}",
            store::numbered_rows("(?, ?, ?, 'queued', ?, 0, ?, ?)", chunk.len(), 1)
        );
        let mut query = sqlx::query(&sql);
        for job in chunk {
            query = query
                .bind(job.kind)
                .bind(job.payload.as_str())
                .bind(job.unique_key.as_deref())
                .bind(job.run_at)
                .bind(job.max_attempts)
                .bind(now);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Leases the oldest due job of one of `kinds` to `node` until `lease_until`.
pub async fn claim(
    db: &Db,
    kinds: &[&'static str],
    node: &str,
    now: i64,
    lease_until: i64,
) -> DbResult<Option<ClaimedJob>> {
    if kinds.is_empty() {
        return Ok(None);
    }
    let lock = match db.dialect {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= $3 \
         AND (locked_until IS NULL OR locked_until < $3) AND kind IN {} ORDER BY run_at, id LIMIT 1{lock}) \
         RETURNING id, kind, payload, attempts, max_attempts",
        store::numbered_rows(&format!("({})", vec!["?"; kinds.len()].join(", ")), 1, 4)
    );
    let mut query = sqlx::query_as::<_, ClaimedJob>(&sql).bind(node).bind(lease_until).bind(now);
    for kind in kinds {
        query = query.bind(*kind);
    }
    query.fetch_optional(&db.pool).await.map_err(DbError::from)
}

pub async fn finish(db: &Db, id: i64, node: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE jobs SET state = 'done', finished_at = $1, locked_until = NULL WHERE id = $2 AND locked_by = $3",
    )
    .bind(now)
    .bind(id)
    .bind(node)
    .execute(&db.pool)
    .await?;
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
    .await?;
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
    ?;
    Ok(())
}

pub async fn counts(db: &Db) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state ORDER BY state")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}
