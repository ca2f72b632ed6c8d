//! SQL for `site_settings`: the overrides saved in the admin, one JSON value per dotted key.

use sqlx::AnyConnection;

use crate::store::{Db, DbError, DbResult};

pub async fn all(db: &Db) -> DbResult<Vec<(String, String)>> {
    sqlx::query_as("SELECT key, value FROM site_settings ORDER BY key").fetch_all(&db.pool).await.map_err(DbError::from)
}

pub async fn upsert(conn: &mut AnyConnection, key: &str, value: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO site_settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(value)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn delete(conn: &mut AnyConnection, key: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM site_settings WHERE key = $1").bind(key).execute(conn).await?;
    Ok(())
}
