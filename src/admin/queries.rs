//! The dashboard's reads: counts and per-day series across the site's tables. Read-only.

use crate::store::{Db, DbError, DbResult};

/// Rows of `(key, count)`.
async fn pairs(db: &Db, sql: &str) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as(sql).fetch_all(&db.pool).await.map_err(DbError::from)
}

/// Posts per status.
pub async fn articles_by_status(db: &Db) -> DbResult<Vec<(String, i64)>> {
    pairs(db, "SELECT status, COUNT(*) FROM articles WHERE kind = 'post' GROUP BY status").await
}

pub async fn comments_by_status(db: &Db) -> DbResult<Vec<(String, i64)>> {
    pairs(db, "SELECT status, COUNT(*) FROM comments GROUP BY status").await
}

pub async fn subscribers_by_status(db: &Db) -> DbResult<Vec<(String, i64)>> {
    pairs(db, "SELECT status, COUNT(*) FROM subscribers GROUP BY status").await
}

pub async fn pins_by_state(db: &Db) -> DbResult<Vec<(String, i64)>> {
    pairs(db, "SELECT state, COUNT(*) FROM pins GROUP BY state").await
}

/// Which per-day series: each is a time column of one table.
#[derive(Debug, Clone, Copy)]
pub enum Series {
    /// Posts by publication day.
    Articles,
    /// Comments by the day they were written.
    Comments,
    /// Subscribers by the day they confirmed.
    Subscribers,
    /// Readers' page views (`analytics`), by the day they were counted.
    PageViews,
}

/// `(day number since the epoch, count)` for days from `since` (Unix seconds) on.
pub async fn per_day(db: &Db, series: Series, since: i64) -> DbResult<Vec<(i64, i64)>> {
    let sql = match series {
        Series::Articles => {
            "SELECT published_at / 86400 AS day, COUNT(*) FROM articles \
             WHERE kind = 'post' AND status = 'published' AND published_at >= $1 GROUP BY published_at / 86400"
        }
        Series::Comments => {
            "SELECT created_at / 86400 AS day, COUNT(*) FROM comments WHERE created_at >= $1 GROUP BY created_at / 86400"
        }
        Series::Subscribers => {
            "SELECT confirmed_at / 86400 AS day, COUNT(*) FROM subscribers \
             WHERE confirmed_at >= $1 GROUP BY confirmed_at / 86400"
        }
        Series::PageViews => {
            "SELECT day, CAST(SUM(views) AS BIGINT) FROM page_views WHERE day >= $1 / 86400 GROUP BY day"
        }
    };
    sqlx::query_as(sql).bind(since).fetch_all(&db.pool).await.map_err(DbError::from)
}

/// One line of the activity log.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct Activity {
    pub kind: String,
    pub detail: String,
    pub created_at: i64,
}

pub async fn recent_activity(db: &Db, limit: i64) -> DbResult<Vec<Activity>> {
    sqlx::query_as("SELECT kind, detail, created_at FROM activity ORDER BY id DESC LIMIT $1")
        .bind(limit)
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

/// The price poller: when a provider last answered, and how many are backing off now.
pub async fn price_poller(db: &Db, now: i64) -> DbResult<(Option<i64>, i64)> {
    sqlx::query_as(
        "SELECT MAX(last_success_at), COALESCE(SUM(CASE WHEN blocked_until > $1 THEN 1 ELSE 0 END), 0) \
         FROM market_providers",
    )
    .bind(now)
    .fetch_one(&db.pool)
    .await
    .map_err(DbError::from)
}
