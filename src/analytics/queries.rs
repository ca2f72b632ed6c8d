//! The analytics tables: `page_views` and `referrer_views` (migration 0017).

use sqlx::AnyConnection;

use crate::store::{Db, DbError, DbResult};

/// Adds `views` to the row of (`day`, `key`) in `table` (`page_views` by `path`,
/// `referrer_views` by `host`).
pub async fn add(conn: &mut AnyConnection, table: Table, day: i64, key: &str, views: i64) -> DbResult<()> {
    let (table, column) = table.names();
    let sql = format!(
        "INSERT INTO {table} (day, {column}, views) VALUES ($1, $2, $3) \
         ON CONFLICT (day, {column}) DO UPDATE SET views = {table}.views + $3"
    );
    sqlx::query(&sql).bind(day).bind(key).bind(views).execute(conn).await?;
    Ok(())
}

#[derive(Debug, Clone, Copy)]
pub enum Table {
    PageViews,
    ReferrerViews,
}

impl Table {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Table::PageViews => ("page_views", "path"),
            Table::ReferrerViews => ("referrer_views", "host"),
        }
    }
}

/// Drops the days before `first_day`.
pub async fn prune(conn: &mut AnyConnection, first_day: i64) -> DbResult<()> {
    for table in ["page_views", "referrer_views"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE day < $1")).bind(first_day).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Views per day from `first_day` on, of `path` or of every path: (day, views).
pub async fn views_per_day(db: &Db, first_day: i64, path: Option<&str>) -> DbResult<Vec<(i64, i64)>> {
    sqlx::query_as(
        "SELECT day, CAST(SUM(views) AS BIGINT) FROM page_views WHERE day >= $1 AND ($2 = '' OR path = $2) \
         GROUP BY day ORDER BY day",
    )
    .bind(first_day)
    .bind(path.unwrap_or(""))
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// The most viewed keys of `table` from `first_day` on: (key, views).
pub async fn top(db: &Db, table: Table, first_day: i64, limit: i64) -> DbResult<Vec<(String, i64)>> {
    let (table, column) = table.names();
    let sql = format!(
        "SELECT {column}, CAST(SUM(views) AS BIGINT) AS total FROM {table} WHERE day >= $1 \
         GROUP BY {column} ORDER BY total DESC, {column} LIMIT $2"
    );
    sqlx::query_as(&sql).bind(first_day).bind(limit).fetch_all(&db.pool).await.map_err(DbError::from)
}
