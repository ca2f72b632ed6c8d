//! SQL for imports and exports: import keys, authors and categories by their keys, category
//! descriptions, imported comments.

use sqlx::AnyConnection;

use crate::store::{Db, DbError, DbResult};

/// The local id an imported thing became, if it was imported before.
pub async fn import_key(db: &Db, source: &str, kind: &str, external_id: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT local_id FROM import_keys WHERE source = $1 AND kind = $2 AND external_id = $3")
        .bind(source)
        .bind(kind)
        .bind(external_id)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn save_import_key(
    conn: &mut AnyConnection,
    source: &str,
    kind: &str,
    external_id: &str,
    local_id: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO import_keys (source, kind, external_id, local_id) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (source, kind, external_id) DO UPDATE SET local_id = excluded.local_id",
    )
    .bind(source)
    .bind(kind)
    .bind(external_id)
    .bind(local_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn article_id_by_slug(db: &Db, slug: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM articles WHERE slug = $1")
        .bind(slug)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

/// The account a username names.
pub async fn user_id_by_username(db: &Db, username: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

/// The username of an account, if it still exists.
pub async fn username_of(db: &Db, user_id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn category_id_by_slug(conn: &mut AnyConnection, slug: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM categories WHERE slug = $1")
        .bind(slug)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

pub async fn category_name_taken(conn: &mut AnyConnection, name: &str) -> DbResult<bool> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM categories WHERE name = $1")
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)?;
    Ok(id.is_some())
}

pub async fn set_category_description(conn: &mut AnyConnection, id: i64, description: &str) -> DbResult<()> {
    sqlx::query("UPDATE categories SET description = $1 WHERE id = $2 AND description = ''")
        .bind(description)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_featured_image(conn: &mut AnyConnection, article_id: i64, url: &str) -> DbResult<()> {
    sqlx::query("UPDATE articles SET featured_image = $1 WHERE id = $2")
        .bind(url)
        .bind(article_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Categories with their parent's slug, in id order: `(slug, name, description, parent_slug)`.
pub async fn categories_with_parents(db: &Db) -> DbResult<Vec<(String, String, String, Option<String>)>> {
    sqlx::query_as(
        "SELECT c.slug, c.name, c.description, p.slug FROM categories c \
         LEFT JOIN categories p ON p.id = c.parent_id ORDER BY c.id",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// An imported comment, with its original time.
pub struct ImportedComment<'a> {
    pub article_id: i64,
    pub parent_id: Option<i64>,
    pub thread_id: Option<i64>,
    pub depth: i64,
    pub status: &'a str,
    pub author_name: &'a str,
    pub author_email: &'a str,
    pub author_url: &'a str,
    pub avatar: &'a str,
    pub content: &'a str,
    pub content_html: &'a str,
    pub content_hash: &'a str,
    pub created_at: i64,
}

pub async fn insert_comment(conn: &mut AnyConnection, row: &ImportedComment<'_>) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO comments (article_id, parent_id, thread_id, depth, status, author_name, author_email, \
           author_url, avatar, ip_hash, user_agent, content, content_html, content_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, '', '', $10, $11, $12, $13, $13) RETURNING id",
    )
    .bind(row.article_id)
    .bind(row.parent_id)
    .bind(row.thread_id)
    .bind(row.depth)
    .bind(row.status)
    .bind(row.author_name)
    .bind(row.author_email)
    .bind(row.author_url)
    .bind(row.avatar)
    .bind(row.content)
    .bind(row.content_html)
    .bind(row.content_hash)
    .bind(row.created_at)
    .fetch_one(conn)
    .await
    .map_err(DbError::from)
}

/// A comment's thread position: `(article_id, depth, thread_id)`.
pub async fn comment_position(db: &Db, id: i64) -> DbResult<Option<(i64, i64, Option<i64>)>> {
    sqlx::query_as("SELECT article_id, depth, thread_id FROM comments WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Every comment of an article for an export, oldest first (the moderator's view: emails included):
/// `(id, parent_id, status, author_name, author_email, author_url, content, created_at)`.
#[allow(clippy::type_complexity)]
pub async fn comments_for_export(
    db: &Db,
    article_id: i64,
) -> DbResult<Vec<(i64, Option<i64>, String, String, String, String, String, i64)>> {
    sqlx::query_as(
        "SELECT id, parent_id, status, author_name, author_email, author_url, content, created_at \
         FROM comments WHERE article_id = $1 ORDER BY id",
    )
    .bind(article_id)
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Every tag, `(slug, name)`, by slug.
pub async fn all_tags(db: &Db) -> DbResult<Vec<(String, String)>> {
    sqlx::query_as("SELECT slug, name FROM tags ORDER BY slug").fetch_all(&db.pool).await.map_err(DbError::from)
}

/// Refreshes the planner's statistics after an import. Without them SQLite lists a category's
/// articles by walking every published article; with them it takes the category's index.
pub async fn analyze(db: &Db) -> DbResult<()> {
    sqlx::query("ANALYZE").execute(&db.pool).await?;
    Ok(())
}
