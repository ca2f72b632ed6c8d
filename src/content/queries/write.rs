//! Writing article rows: one or many at a time, their tags, slugs, statuses, redirects.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

use crate::store::{self, DbError, DbResult};

use super::*;

/// The ids of the articles with these slugs, as `(id, slug)`.
pub async fn article_ids_by_slugs(conn: &mut AnyConnection, slugs: &[&str]) -> DbResult<Vec<(i64, String)>> {
    let mut found = Vec::new();
    for chunk in slugs.chunks(store::rows_per_statement(1)) {
        let sql =
            format!("SELECT id, slug FROM articles WHERE slug IN ({})", store::numbered_rows("?", chunk.len(), 1));
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for slug in chunk {
            query = query.bind(*slug);
        }
        found.extend(query.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

/// The columns an insert or update writes.
pub struct ArticleRow<'a> {
    pub kind: ArticleKind,
    pub slug: &'a str,
    pub title: &'a str,
    pub excerpt: &'a str,
    pub body_md: &'a str,
    pub body_html: &'a str,
    pub body_text: &'a str,
    pub reading_minutes: i64,
    pub status: Status,
    pub author_id: i64,
    pub category_id: Option<i64>,
    pub featured_image: Option<&'a str>,
    pub published_at: Option<i64>,
    pub scheduled_at: Option<i64>,
}

/// The columns of `ArticleRow`, in its order; `created_at` and `updated_at` follow in inserts.
pub(super) const ARTICLE_COLUMNS: [&str; 14] = [
    "kind",
    "slug",
    "title",
    "excerpt",
    "body_md",
    "body_html",
    "body_text",
    "reading_minutes",
    "status",
    "author_id",
    "category_id",
    "featured_image",
    "published_at",
    "scheduled_at",
];

/// Binds the 14 columns of `row`, in `ARTICLE_COLUMNS` order.
fn bind_article_columns<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    row: &'q ArticleRow<'q>,
) -> Query<'q, Any, AnyArguments<'q>> {
    query
        .bind(row.kind.as_str())
        .bind(row.slug)
        .bind(row.title)
        .bind(row.excerpt)
        .bind(row.body_md)
        .bind(row.body_html)
        .bind(row.body_text)
        .bind(row.reading_minutes)
        .bind(row.status.as_str())
        .bind(row.author_id)
        .bind(row.category_id)
        .bind(row.featured_image)
        .bind(row.published_at)
        .bind(row.scheduled_at)
}

/// `INSERT INTO articles` of `rows` rows (`created_at` = `updated_at`), without its ending.
pub(super) fn insert_articles_sql(rows: usize) -> String {
    let row = format!("({}?, ?)", "?, ".repeat(ARTICLE_COLUMNS.len()));
    format!(
        "INSERT INTO articles ({}, created_at, updated_at) VALUES {}",
        ARTICLE_COLUMNS.join(", "),
        store::numbered_rows(&row, rows, 1)
    )
}

/// Writes many articles in a few statements: a row whose slug is new is inserted, one whose
/// slug exists replaces that article's columns (as `update_article`; `created_at` stays).
/// Returns `(id, slug)` of every row, in no particular order. `rows` must not repeat a slug.
pub async fn upsert_articles(
    conn: &mut AnyConnection,
    rows: &[ArticleRow<'_>],
    now: i64,
) -> DbResult<Vec<(i64, String)>> {
    let set: Vec<String> = ARTICLE_COLUMNS
        .iter()
        .filter(|c| **c != "slug")
        .chain(&["updated_at"])
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let mut written = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(store::rows_per_statement(ARTICLE_COLUMNS.len() + 2)) {
        let sql = format!(
            "{} ON CONFLICT (slug) DO UPDATE SET {} RETURNING id, slug",
            insert_articles_sql(chunk.len()),
            set.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for row in chunk {
            query = bind_article_columns(query, row).bind(now).bind(now);
        }
        for row in query.fetch_all(&mut *conn).await? {
            written.push((row.try_get(0)?, row.try_get(1)?));
        }
    }
    Ok(written)
}

/// `sql` with the 14 columns of `row` and `now` bound as `$1`…`$15`, in `ArticleRow` order.
pub(super) fn bind_article_row<'q>(
    sql: &'q str,
    row: &'q ArticleRow<'q>,
    now: i64,
) -> Query<'q, Any, AnyArguments<'q>> {
    bind_article_columns(sqlx::query(sql), row).bind(now)
}

pub async fn insert_article(conn: &mut AnyConnection, row: &ArticleRow<'_>, now: i64) -> DbResult<i64> {
    let sql = format!("{} RETURNING id", insert_articles_sql(1));
    let inserted = bind_article_columns(sqlx::query(&sql), row).bind(now).bind(now).fetch_one(conn).await?;
    inserted.try_get(0).map_err(DbError::from)
}

pub async fn update_article(conn: &mut AnyConnection, id: i64, row: &ArticleRow<'_>, now: i64) -> DbResult<()> {
    const SQL: &str =
        "UPDATE articles SET kind = $1, slug = $2, title = $3, excerpt = $4, body_md = $5, body_html = $6, \
         body_text = $7, reading_minutes = $8, status = $9, author_id = $10, category_id = $11, featured_image = $12, \
         published_at = $13, scheduled_at = $14, updated_at = $15 WHERE id = $16";
    bind_article_row(SQL, row, now).bind(id).execute(conn).await?;
    Ok(())
}

/// What links an article to terms it has many of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Tags,
    /// Every category of the article, its primary one included.
    Categories,
}

impl Links {
    /// The link table and its term column.
    fn table(self) -> (&'static str, &'static str) {
        match self {
            Links::Tags => ("article_tags", "tag_id"),
            Links::Categories => ("article_categories", "category_id"),
        }
    }
}

/// Makes `term_ids` the article's tags or categories.
pub async fn set_links(conn: &mut AnyConnection, links: Links, article_id: i64, term_ids: &[i64]) -> DbResult<()> {
    clear_links(&mut *conn, links, &[article_id]).await?;
    let pairs: Vec<(i64, i64)> = term_ids.iter().map(|term_id| (article_id, *term_id)).collect();
    add_links(conn, links, &pairs).await
}

/// Removes every tag, or every category, of these articles.
pub async fn clear_links(conn: &mut AnyConnection, links: Links, article_ids: &[i64]) -> DbResult<()> {
    let (table, _) = links.table();
    for chunk in article_ids.chunks(store::rows_per_statement(1)) {
        let sql = format!("DELETE FROM {table} WHERE article_id IN ({})", store::numbered_rows("?", chunk.len(), 1));
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Adds `(article_id, term_id)` pairs; pairs already there are left alone.
pub async fn add_links(conn: &mut AnyConnection, links: Links, pairs: &[(i64, i64)]) -> DbResult<()> {
    let (table, column) = links.table();
    for chunk in pairs.chunks(store::rows_per_statement(2)) {
        let sql = format!(
            "INSERT INTO {table} (article_id, {column}) VALUES {} ON CONFLICT DO NOTHING",
            store::numbered_rows("(?, ?)", chunk.len(), 1)
        );
        let mut query = sqlx::query(&sql);
        for (article_id, term_id) in chunk {
            query = query.bind(*article_id).bind(*term_id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Pins these articles as lead stories, or unpins them.
pub async fn set_lead_stories(conn: &mut AnyConnection, article_ids: &[i64], lead: bool) -> DbResult<()> {
    for chunk in article_ids.chunks(store::rows_per_statement(1)) {
        let sql = match lead {
            true => format!(
                "INSERT INTO lead_stories (article_id) VALUES {} ON CONFLICT DO NOTHING",
                store::numbered_rows("(?)", chunk.len(), 1)
            ),
            false => {
                format!("DELETE FROM lead_stories WHERE article_id IN ({})", store::numbered_rows("?", chunk.len(), 1))
            }
        };
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn article_id_by_slug(conn: &mut AnyConnection, slug: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM articles WHERE slug = $1")
        .bind(slug)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

pub async fn slug_taken(conn: &mut AnyConnection, slug: &str, except_id: Option<i64>) -> DbResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM articles WHERE slug = $1").bind(slug).fetch_optional(conn).await?;
    Ok(matches!(found, Some(id) if Some(id) != except_id))
}

/// Marks a scheduled article published if it still is scheduled; returns whether it changed.
pub async fn publish_if_scheduled(conn: &mut AnyConnection, id: i64, now: i64) -> DbResult<bool> {
    let result = sqlx::query(
        "UPDATE articles SET status = 'published', published_at = COALESCE(scheduled_at, $2), updated_at = $2 \
         WHERE id = $1 AND status = 'scheduled'",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn set_status(
    conn: &mut AnyConnection,
    id: i64,
    status: Status,
    published_at: Option<i64>,
    scheduled_at: Option<i64>,
    now: i64,
) -> DbResult<()> {
    sqlx::query("UPDATE articles SET status = $1, published_at = $2, scheduled_at = $3, updated_at = $4 WHERE id = $5")
        .bind(status.as_str())
        .bind(published_at)
        .bind(scheduled_at)
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The author and status of an article, read inside the transaction that changes it.
pub async fn owner_and_status(conn: &mut AnyConnection, id: i64) -> DbResult<Option<(i64, Status)>> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT author_id, status FROM articles WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(row.map(|(author, status)| (author, Status::parse(&status).unwrap_or(Status::Draft))))
}

/// Sends `old_path` to `new_path` from now on (an imported permalink, a former slug).
pub async fn save_redirect(conn: &mut AnyConnection, old_path: &str, new_path: &str) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO redirects (old_path, new_path) VALUES ($1, $2) \
         ON CONFLICT (old_path) DO UPDATE SET new_path = excluded.new_path",
    )
    .bind(old_path)
    .bind(new_path)
    .execute(conn)
    .await?;
    Ok(())
}
