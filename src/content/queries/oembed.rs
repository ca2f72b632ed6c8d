//! SQL for the oEmbed cards of embedded links.

use crate::store::{Db, DbError, DbResult};

/// The card kept for `url`: `(title, author_name, fetched_at)`; a `None` title is a provider
/// that did not answer usably.
pub async fn card(db: &Db, url: &str) -> DbResult<Option<(Option<String>, String, i64)>> {
    sqlx::query_as("SELECT title, author_name, fetched_at FROM oembed_cards WHERE url = $1")
        .bind(url)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn save_card(db: &Db, url: &str, title: Option<&str>, author_name: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO oembed_cards (url, title, author_name, fetched_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (url) DO UPDATE SET title = excluded.title, author_name = excluded.author_name, \
         fetched_at = excluded.fetched_at",
    )
    .bind(url)
    .bind(title)
    .bind(author_name)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}
