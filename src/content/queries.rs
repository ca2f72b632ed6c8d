//! SQL for articles, categories, tags and revisions. Shared SQL for both backends except search.

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, FromRow, Row};

use crate::content::model::*;
use crate::store::{self, Db, DbError, DbResult, Dialect};

const SUMMARY_COLUMNS: &str = "a.id, a.kind, a.slug, a.title, a.excerpt, a.status, a.reading_minutes, \
     a.published_at, a.scheduled_at, a.updated_at, u.username, u.display_name, \
     c.id AS category_id, c.slug AS category_slug, c.name AS category_name, c.description AS category_description";
const SUMMARY_FROM: &str =
    "articles a JOIN users u ON u.id = a.author_id LEFT JOIN categories c ON c.id = a.category_id";
const SEARCH_FROM: &str = "articles_fts JOIN articles a ON a.id = articles_fts.rowid \
     JOIN users u ON u.id = a.author_id LEFT JOIN categories c ON c.id = a.category_id";

#[derive(FromRow)]
struct SummaryRow {
    id: i64,
    kind: String,
    slug: String,
    title: String,
    excerpt: String,
    status: String,
    reading_minutes: i64,
    published_at: Option<i64>,
    scheduled_at: Option<i64>,
    updated_at: i64,
    username: String,
    display_name: String,
    category_id: Option<i64>,
    category_slug: Option<String>,
    category_name: Option<String>,
    category_description: Option<String>,
}

impl From<SummaryRow> for ArticleSummary {
    fn from(r: SummaryRow) -> Self {
        let category = match (r.category_id, r.category_slug, r.category_name) {
            (Some(id), Some(slug), Some(name)) => {
                Some(Category { id, slug, name, description: r.category_description.unwrap_or_default() })
            }
            _ => None,
        };
        ArticleSummary {
            id: r.id,
            kind: ArticleKind::parse(&r.kind).unwrap_or(ArticleKind::Post),
            slug: r.slug,
            title: r.title,
            excerpt: r.excerpt,
            status: Status::parse(&r.status).unwrap_or(Status::Draft),
            reading_minutes: r.reading_minutes,
            published_at: r.published_at,
            scheduled_at: r.scheduled_at,
            updated_at: r.updated_at,
            author: AuthorRef { username: r.username, display_name: r.display_name },
            category,
        }
    }
}

#[derive(FromRow)]
struct BodyRow {
    body_md: String,
    body_html: String,
    featured_image: Option<String>,
}

/// The WHERE fragment for `filter`, using placeholder `$n` for its argument.
fn filter_clause(filter: ListFilter, n: usize) -> (String, Option<i64>) {
    match filter {
        ListFilter::All => (String::new(), None),
        ListFilter::Category(id) => (format!(" AND a.category_id = ${n}"), Some(id)),
        ListFilter::Tag(id) => {
            (format!(" AND a.id IN (SELECT article_id FROM article_tags WHERE tag_id = ${n})"), Some(id))
        }
        ListFilter::Author(id) => (format!(" AND a.author_id = ${n}"), Some(id)),
    }
}

/// Published posts, newest first.
pub async fn list_published(db: &Db, filter: ListFilter, limit: i64, offset: i64) -> DbResult<Vec<ArticleSummary>> {
    let (clause, arg) = filter_clause(filter, 3);
    // The page's ids first, from the listing indexes alone: skipping `offset` rows costs index
    // entries, not joined article rows (which carry their bodies), so page 500 is as quick as page 1.
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM} WHERE a.id IN (SELECT a.id FROM articles a \
         WHERE a.kind = 'post' AND a.status = 'published'{clause} \
         ORDER BY a.published_at DESC, a.id DESC LIMIT $1 OFFSET $2) \
         ORDER BY a.published_at DESC, a.id DESC"
    );
    let mut query = sqlx::query_as::<_, SummaryRow>(&sql).bind(limit).bind(offset);
    if let Some(arg) = arg {
        query = query.bind(arg);
    }
    let rows = query.fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn count_published(db: &Db, filter: ListFilter) -> DbResult<i64> {
    let (clause, arg) = filter_clause(filter, 1);
    let sql = format!("SELECT COUNT(*) FROM articles a WHERE a.kind = 'post' AND a.status = 'published'{clause}");
    let mut query = sqlx::query_scalar::<_, i64>(&sql);
    if let Some(arg) = arg {
        query = query.bind(arg);
    }
    query.fetch_one(&db.pool).await.map_err(DbError::from)
}

/// Every article of any status, newest first (for the CLI).
pub async fn list_all(db: &Db, limit: i64) -> DbResult<Vec<ArticleSummary>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM} ORDER BY COALESCE(a.published_at, a.scheduled_at, a.created_at) DESC, a.id DESC LIMIT $1"
    );
    let rows = sqlx::query_as::<_, SummaryRow>(&sql).bind(limit).fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn find_by_slug(db: &Db, slug: &str) -> DbResult<Article> {
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM} WHERE a.slug = $1");
    let summary: ArticleSummary = sqlx::query_as::<_, SummaryRow>(&sql).bind(slug).fetch_one(&db.pool).await?.into();
    with_body(db, summary).await
}

pub async fn find_by_id(db: &Db, id: i64) -> DbResult<Article> {
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM} WHERE a.id = $1");
    let summary: ArticleSummary = sqlx::query_as::<_, SummaryRow>(&sql).bind(id).fetch_one(&db.pool).await?.into();
    with_body(db, summary).await
}

async fn with_body(db: &Db, summary: ArticleSummary) -> DbResult<Article> {
    let body = sqlx::query_as::<_, BodyRow>("SELECT body_md, body_html, featured_image FROM articles WHERE id = $1")
        .bind(summary.id)
        .fetch_one(&db.pool)
        .await?;
    let tags = tags_of(db, summary.id).await?;
    Ok(Article { summary, body_md: body.body_md, body_html: body.body_html, featured_image: body.featured_image, tags })
}

/// Published posts with their bodies, newest first: the feeds' input.
pub async fn latest_with_bodies(db: &Db, category_id: Option<i64>, limit: i64) -> DbResult<Vec<Article>> {
    let filter = category_id.map_or(ListFilter::All, ListFilter::Category);
    let summaries = list_published(db, filter, limit, 0).await?;
    let mut articles = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let body =
            sqlx::query_as::<_, BodyRow>("SELECT body_md, body_html, featured_image FROM articles WHERE id = $1")
                .bind(summary.id)
                .fetch_one(&db.pool)
                .await?;
        let tags = tags_of(db, summary.id).await?;
        articles.push(Article {
            summary,
            body_md: body.body_md,
            body_html: body.body_html,
            featured_image: body.featured_image,
            tags,
        });
    }
    Ok(articles)
}

pub async fn tags_of(db: &Db, article_id: i64) -> DbResult<Vec<Tag>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.slug, t.name FROM tags t JOIN article_tags at ON at.tag_id = t.id WHERE at.article_id = $1 ORDER BY t.name",
    )
    .bind(article_id)
    .fetch_all(&db.pool)
    .await
    ?;
    Ok(rows.into_iter().map(|(slug, name)| Tag { slug, name }).collect())
}

pub async fn neighbours(db: &Db, article: &ArticleSummary) -> DbResult<Neighbours> {
    // Row values, not `a < x OR (a = x AND id < y)`: the OR defeats the listing index (5x slower).
    let Some(published_at) = article.published_at else { return Ok(Neighbours::default()) };
    let previous: Option<(String, String)> = sqlx::query_as(
        "SELECT slug, title FROM articles WHERE kind = 'post' AND status = 'published' \
         AND (published_at, id) < ($1, $2) ORDER BY published_at DESC, id DESC LIMIT 1",
    )
    .bind(published_at)
    .bind(article.id)
    .fetch_optional(&db.pool)
    .await?;
    let next: Option<(String, String)> = sqlx::query_as(
        "SELECT slug, title FROM articles WHERE kind = 'post' AND status = 'published' \
         AND (published_at, id) > ($1, $2) ORDER BY published_at ASC, id ASC LIMIT 1",
    )
    .bind(published_at)
    .bind(article.id)
    .fetch_optional(&db.pool)
    .await?;
    let to_link = |(slug, title)| LinkRef { slug, title };
    Ok(Neighbours { previous: previous.map(to_link), next: next.map(to_link) })
}

/// The first `limit` published standing pages, oldest first (About, Contact: a site's first).
pub async fn standing_pages(db: &Db, limit: i64) -> DbResult<Vec<LinkRef>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT slug, title FROM articles WHERE kind = 'page' AND status = 'published' \
         ORDER BY published_at, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(slug, title)| LinkRef { slug, title }).collect())
}

/// Every published post and page, newest first (`export static` reads the site at once).
pub async fn published_summaries(db: &Db) -> DbResult<Vec<ArticleSummary>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM} WHERE a.status = 'published' ORDER BY a.published_at DESC, a.id DESC"
    );
    let rows = sqlx::query_as::<_, SummaryRow>(&sql).fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The tags of every published article as (article id, tag id, tag), each article's in the
/// order [`tags_of`] gives them.
pub async fn tags_of_published(db: &Db) -> DbResult<Vec<(i64, i64, Tag)>> {
    let rows: Vec<(i64, i64, String, String)> = sqlx::query_as(
        "SELECT at.article_id, t.id, t.slug, t.name FROM tags t JOIN article_tags at ON at.tag_id = t.id \
         JOIN articles a ON a.id = at.article_id WHERE a.status = 'published' ORDER BY at.article_id, t.name",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(article_id, id, slug, name)| (article_id, id, Tag { slug, name })).collect())
}

/// The bodies of the articles `ids` (at most `store::BINDS_PER_STATEMENT`), as (id, body_md,
/// body_html, featured_image).
pub async fn bodies(db: &Db, ids: &[i64]) -> DbResult<Vec<(i64, String, String, Option<String>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::store::numbered_rows("?", ids.len(), 1);
    let sql = format!("SELECT id, body_md, body_html, featured_image FROM articles WHERE id IN ({list})");
    let mut query = sqlx::query_as(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(&db.pool).await.map_err(DbError::from)
}

/// Slug, kind and modification time of everything public: the sitemap's input.
pub async fn published_index(db: &Db) -> DbResult<Vec<(String, String, i64)>> {
    sqlx::query_as(
        "SELECT slug, kind, updated_at FROM articles WHERE status = 'published' ORDER BY published_at DESC, id DESC",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Full-text search over published posts, best match first. `terms` are plain words.
pub async fn search(
    db: &Db,
    terms: &[String],
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<(ArticleSummary, String)>, i64)> {
    // Markers the snippet functions wrap matches in; control characters cannot come from the text
    // people search in, so the caller can escape the snippet and then turn them into <mark>.
    const START: &str = "\u{2}";
    const STOP: &str = "\u{3}";
    let (sql, count_sql, query_text) = match db.dialect {
        Dialect::Sqlite => {
            let fts_query = terms.iter().map(|t| format!("\"{}\"", t.replace('"', ""))).collect::<Vec<_>>().join(" ");
            (
                format!(
                    "SELECT {SUMMARY_COLUMNS}, snippet(articles_fts, 1, $4, $5, '…', 32) AS snippet \
                     FROM {SEARCH_FROM} \
                     WHERE articles_fts MATCH $1 AND a.kind = 'post' AND a.status = 'published' \
                     ORDER BY bm25(articles_fts, 5.0, 1.0) LIMIT $2 OFFSET $3"
                ),
                "SELECT COUNT(*) FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid \
                 WHERE articles_fts MATCH $1 AND a.kind = 'post' AND a.status = 'published'"
                    .to_string(),
                fts_query,
            )
        }
        Dialect::Postgres => (
            format!(
                "SELECT {SUMMARY_COLUMNS}, ts_headline('english', a.body_text, plainto_tsquery('english', $1), \
                 'MaxFragments=1, MaxWords=32, MinWords=12, StartSel=' || $4 || ', StopSel=' || $5) AS snippet \
                 FROM {SUMMARY_FROM} WHERE a.search_vector @@ plainto_tsquery('english', $1) \
                 AND a.kind = 'post' AND a.status = 'published' \
                 ORDER BY ts_rank(a.search_vector, plainto_tsquery('english', $1)) DESC, a.id DESC LIMIT $2 OFFSET $3"
            ),
            "SELECT COUNT(*) FROM articles a WHERE a.search_vector @@ plainto_tsquery('english', $1) \
             AND a.kind = 'post' AND a.status = 'published'"
                .to_string(),
            terms.join(" "),
        ),
    };
    let total: i64 = sqlx::query_scalar(&count_sql).bind(&query_text).fetch_one(&db.pool).await?;
    let rows =
        sqlx::query(&sql).bind(&query_text).bind(limit).bind(offset).bind(START).bind(STOP).fetch_all(&db.pool).await?;
    let mut hits = Vec::with_capacity(rows.len());
    for row in rows {
        use sqlx::Row;
        let snippet: String = row.try_get("snippet")?;
        let summary: ArticleSummary = SummaryRow::from_row(&row)?.into();
        hits.push((summary, snippet));
    }
    Ok((hits, total))
}

pub async fn category_by_slug(db: &Db, slug: &str) -> DbResult<Category> {
    sqlx::query_as::<_, (i64, String, String, String)>(
        "SELECT id, slug, name, description FROM categories WHERE slug = $1",
    )
    .bind(slug)
    .fetch_one(&db.pool)
    .await
    .map(|(id, slug, name, description)| Category { id, slug, name, description })
    .map_err(DbError::from)
}

/// Finds a category by its exact name or slug.
pub async fn category_by_name_or_slug(db: &Db, key: &str) -> DbResult<Category> {
    sqlx::query_as::<_, (i64, String, String, String)>(
        "SELECT id, slug, name, description FROM categories WHERE name = $1 OR slug = $1",
    )
    .bind(key)
    .fetch_one(&db.pool)
    .await
    .map(|(id, slug, name, description)| Category { id, slug, name, description })
    .map_err(DbError::from)
}

/// All categories with their number of published posts.
pub async fn categories_with_counts(db: &Db) -> DbResult<Vec<(Category, i64)>> {
    let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT c.id, c.slug, c.name, c.description, \
         (SELECT COUNT(*) FROM articles a WHERE a.category_id = c.id AND a.kind = 'post' AND a.status = 'published') \
         FROM categories c ORDER BY c.name",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id, slug, name, description, n)| (Category { id, slug, name, description }, n)).collect())
}

pub async fn tag_by_slug(db: &Db, slug: &str) -> DbResult<(i64, Tag)> {
    sqlx::query_as::<_, (i64, String, String)>("SELECT id, slug, name FROM tags WHERE slug = $1")
        .bind(slug)
        .fetch_one(&db.pool)
        .await
        .map(|(id, slug, name)| (id, Tag { slug, name }))
        .map_err(DbError::from)
}

pub async fn insert_category(
    conn: &mut AnyConnection,
    slug: &str,
    name: &str,
    description: &str,
    now: i64,
) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO categories (slug, name, description, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(slug)
    .bind(name)
    .bind(description)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(DbError::from)
}

/// Returns the category id for `name`, creating it when missing.
pub async fn ensure_category(conn: &mut AnyConnection, slug: &str, name: &str, now: i64) -> DbResult<i64> {
    let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM categories WHERE slug = $1 OR name = $2")
        .bind(slug)
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
    match existing {
        Some(id) => Ok(id),
        None => insert_category(conn, slug, name, "", now).await,
    }
}

/// Returns the tag id for `slug`, creating it when missing.
pub async fn ensure_tag(conn: &mut AnyConnection, slug: &str, name: &str) -> DbResult<i64> {
    let ids = ensure_tags(conn, &[(slug.to_string(), name.to_string())]).await?;
    ids.get(slug).copied().ok_or(DbError::NotFound)
}

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

/// The tag ids for `(slug, name)` pairs by slug, creating the missing tags (named by the first
/// pair with their slug).
pub async fn ensure_tags(
    conn: &mut AnyConnection,
    tags: &[(String, String)],
) -> DbResult<std::collections::HashMap<String, i64>> {
    let mut ids = std::collections::HashMap::with_capacity(tags.len());
    let slugs: Vec<&str> = tags.iter().map(|(slug, _)| slug.as_str()).collect();
    for chunk in slugs.chunks(store::rows_per_statement(1)) {
        let sql = format!("SELECT id, slug FROM tags WHERE slug IN ({})", store::numbered_rows("?", chunk.len(), 1));
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for slug in chunk {
            query = query.bind(*slug);
        }
        for (id, slug) in query.fetch_all(&mut *conn).await? {
            ids.insert(slug, id);
        }
    }
    let mut missing: Vec<&(String, String)> = Vec::new();
    for tag in tags {
        if !ids.contains_key(&tag.0) && !missing.iter().any(|m| m.0 == tag.0) {
            missing.push(tag);
        }
    }
    for chunk in missing.chunks(store::rows_per_statement(2)) {
        let sql = format!(
            "INSERT INTO tags (slug, name) VALUES {} RETURNING id, slug",
            store::numbered_rows("(?, ?)", chunk.len(), 1)
        );
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for (slug, name) in chunk {
            query = query.bind(slug.as_str()).bind(name.as_str());
        }
        for (id, slug) in query.fetch_all(&mut *conn).await? {
            ids.insert(slug, id);
        }
    }
    Ok(ids)
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
const ARTICLE_COLUMNS: [&str; 14] = [
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
fn insert_articles_sql(rows: usize) -> String {
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
fn bind_article_row<'q>(sql: &'q str, row: &'q ArticleRow<'q>, now: i64) -> Query<'q, Any, AnyArguments<'q>> {
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

/// Makes `tag_ids` the tags of the article.
pub async fn set_tags(conn: &mut AnyConnection, article_id: i64, tag_ids: &[i64]) -> DbResult<()> {
    clear_tags(&mut *conn, &[article_id]).await?;
    let pairs: Vec<(i64, i64)> = tag_ids.iter().map(|tag_id| (article_id, *tag_id)).collect();
    add_article_tags(conn, &pairs).await
}

/// `save_revision` for many articles at once.
pub async fn save_revisions(conn: &mut AnyConnection, article_ids: &[i64], now: i64) -> DbResult<()> {
    for chunk in article_ids.chunks(store::rows_per_statement(1).saturating_sub(1).max(1)) {
        let sql = format!(
            "INSERT INTO revisions (article_id, title, excerpt, body_md, saved_at) \
             SELECT id, title, excerpt, body_md, $1 FROM articles WHERE id IN ({}) ORDER BY id",
            store::numbered_rows("?", chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql).bind(now);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removes every tag of these articles.
pub async fn clear_tags(conn: &mut AnyConnection, article_ids: &[i64]) -> DbResult<()> {
    for chunk in article_ids.chunks(store::rows_per_statement(1)) {
        let sql =
            format!("DELETE FROM article_tags WHERE article_id IN ({})", store::numbered_rows("?", chunk.len(), 1));
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Adds `(article_id, tag_id)` pairs; pairs already there are left alone.
pub async fn add_article_tags(conn: &mut AnyConnection, pairs: &[(i64, i64)]) -> DbResult<()> {
    for chunk in pairs.chunks(store::rows_per_statement(2)) {
        let sql = format!(
            "INSERT INTO article_tags (article_id, tag_id) VALUES {} ON CONFLICT DO NOTHING",
            store::numbered_rows("(?, ?)", chunk.len(), 1)
        );
        let mut query = sqlx::query(&sql);
        for (article_id, tag_id) in chunk {
            query = query.bind(*article_id).bind(*tag_id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Copies the current title, excerpt and body into the revision history.
pub async fn save_revision(conn: &mut AnyConnection, article_id: i64, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO revisions (article_id, title, excerpt, body_md, saved_at) \
         SELECT id, title, excerpt, body_md, $2 FROM articles WHERE id = $1",
    )
    .bind(article_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn count_revisions(db: &Db, article_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM revisions WHERE article_id = $1")
        .bind(article_id)
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Ids of every published article and page.
pub async fn published_ids(db: &Db) -> DbResult<Vec<i64>> {
    sqlx::query_scalar("SELECT id FROM articles WHERE status = 'published' ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn slug_of(db: &Db, article_id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT slug FROM articles WHERE id = $1")
        .bind(article_id)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn article_id_by_slug(conn: &mut AnyConnection, slug: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM articles WHERE slug = $1")
        .bind(slug)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

/// The category whose name or slug is `name`, or whose slug is `slug`.
pub async fn category_id_by_name(conn: &mut AnyConnection, name: &str, slug: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM categories WHERE name = $1 OR slug = $1 OR slug = $2")
        .bind(name)
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

pub async fn newest_update(db: &Db) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(updated_at) FROM articles WHERE status = 'published'")
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

/// The author and status of an article, read inside the transaction that changes it.
pub async fn owner_and_status(conn: &mut AnyConnection, id: i64) -> DbResult<Option<(i64, Status)>> {
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT author_id, status FROM articles WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(row.map(|(author, status)| (author, Status::parse(&status).unwrap_or(Status::Draft))))
}

/// The WHERE fragment (after `WHERE 1 = 1`) and its arguments for the admin's article list.
fn admin_clause(filter: &AdminFilter, first: usize) -> (String, Vec<AdminArg>) {
    let mut sql = String::from(if filter.status.is_none() { " AND a.status <> 'trashed'" } else { "" });
    let mut args = Vec::new();
    let mut push = |fragment: &str, arg: AdminArg| {
        sql.push_str(&fragment.replace('?', &format!("${}", first + args.len())));
        args.push(arg);
    };
    if let Some(status) = filter.status {
        push(" AND a.status = ?", AdminArg::Text(status.as_str().to_string()));
    }
    if let Some(id) = filter.category_id {
        push(" AND a.category_id = ?", AdminArg::Int(id));
    }
    if let Some(id) = filter.author_id {
        push(" AND a.author_id = ?", AdminArg::Int(id));
    }
    if let Some(id) = filter.tag_id {
        push(" AND a.id IN (SELECT article_id FROM article_tags WHERE tag_id = ?)", AdminArg::Int(id));
    }
    if let Some(words) = &filter.search {
        for word in words.split_whitespace().take(8) {
            // LIKE's wildcards in the word are taken literally.
            let escaped = word.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            push(" AND LOWER(a.title) LIKE ? ESCAPE '\\'", AdminArg::Text(format!("%{escaped}%")));
        }
    }
    (sql, args)
}

enum AdminArg {
    Int(i64),
    Text(String),
}

/// Articles and pages of any status for the admin, most recently changed first, and how many match.
pub async fn admin_list(
    db: &Db,
    filter: &AdminFilter,
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<ArticleSummary>, i64)> {
    let (clause, args) = admin_clause(filter, 1);
    let count_sql = format!("SELECT COUNT(*) FROM articles a WHERE 1 = 1{clause}");
    let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
    for arg in &args {
        count = match arg {
            AdminArg::Int(n) => count.bind(*n),
            AdminArg::Text(t) => count.bind(t.as_str()),
        };
    }
    let total = count.fetch_one(&db.pool).await?;
    let (clause, args) = admin_clause(filter, 3);
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM} WHERE 1 = 1{clause} ORDER BY a.updated_at DESC, a.id DESC LIMIT $1 OFFSET $2"
    );
    let mut query = sqlx::query_as::<_, SummaryRow>(&sql).bind(limit).bind(offset);
    for arg in &args {
        query = match arg {
            AdminArg::Int(n) => query.bind(*n),
            AdminArg::Text(t) => query.bind(t.as_str()),
        };
    }
    let rows = query.fetch_all(&db.pool).await?;
    Ok((rows.into_iter().map(Into::into).collect(), total))
}

/// Replaces an article's text (a restored revision), keeping everything else.
pub async fn set_text(conn: &mut AnyConnection, id: i64, text: &TextRow<'_>, now: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE articles SET title = $1, excerpt = $2, body_md = $3, body_html = $4, body_text = $5, \
         reading_minutes = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(text.title)
    .bind(text.excerpt)
    .bind(text.body_md)
    .bind(text.body_html)
    .bind(text.body_text)
    .bind(text.reading_minutes)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The text columns `set_text` writes.
pub struct TextRow<'a> {
    pub title: &'a str,
    pub excerpt: &'a str,
    pub body_md: &'a str,
    pub body_html: &'a str,
    pub body_text: &'a str,
    pub reading_minutes: i64,
}

const REVISION_COLUMNS: &str = "id, article_id, title, excerpt, body_md, saved_at";

type RevisionTuple = (i64, i64, String, String, String, i64);

fn revision_of((id, article_id, title, excerpt, body_md, saved_at): RevisionTuple) -> Revision {
    Revision { id, article_id, title, excerpt, body_md, saved_at }
}

/// An article's revisions, newest first.
pub async fn revisions(db: &Db, article_id: i64) -> DbResult<Vec<Revision>> {
    let sql = format!("SELECT {REVISION_COLUMNS} FROM revisions WHERE article_id = $1 ORDER BY id DESC");
    let rows: Vec<RevisionTuple> = sqlx::query_as(&sql).bind(article_id).fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(revision_of).collect())
}

pub async fn revision(db: &Db, article_id: i64, id: i64) -> DbResult<Revision> {
    let sql = format!("SELECT {REVISION_COLUMNS} FROM revisions WHERE article_id = $1 AND id = $2");
    let row: RevisionTuple = sqlx::query_as(&sql).bind(article_id).bind(id).fetch_one(&db.pool).await?;
    Ok(revision_of(row))
}

pub async fn save_autosave(conn: &mut AnyConnection, user_id: i64, autosave: &Autosave) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO autosaves (article_id, user_id, title, excerpt, body_md, saved_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (article_id, user_id) DO UPDATE SET title = excluded.title, excerpt = excluded.excerpt, \
         body_md = excluded.body_md, saved_at = excluded.saved_at",
    )
    .bind(autosave.article_id)
    .bind(user_id)
    .bind(&autosave.title)
    .bind(&autosave.excerpt)
    .bind(&autosave.body_md)
    .bind(autosave.saved_at)
    .execute(conn)
    .await
    ?;
    Ok(())
}

pub async fn autosave(db: &Db, article_id: i64, user_id: i64) -> DbResult<Option<Autosave>> {
    let row: Option<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT article_id, title, excerpt, body_md, saved_at FROM autosaves WHERE article_id = $1 AND user_id = $2",
    )
    .bind(article_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(article_id, title, excerpt, body_md, saved_at)| Autosave {
        article_id,
        title,
        excerpt,
        body_md,
        saved_at,
    }))
}

/// Drops a writer's autosave once their text is saved for real.
pub async fn delete_autosave(conn: &mut AnyConnection, article_id: i64, user_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM autosaves WHERE article_id = $1 AND user_id = $2")
        .bind(article_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Every category with its parent and its number of articles of any status, by name.
pub async fn category_entries(db: &Db) -> DbResult<Vec<CategoryEntry>> {
    let rows: Vec<(i64, String, String, String, Option<i64>, i64)> = sqlx::query_as(
        "SELECT c.id, c.slug, c.name, c.description, c.parent_id, \
         (SELECT COUNT(*) FROM articles a WHERE a.category_id = c.id AND a.status <> 'trashed') \
         FROM categories c ORDER BY c.name",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, slug, name, description, parent_id, articles)| CategoryEntry {
            category: Category { id, slug, name, description },
            parent_id,
            articles,
        })
        .collect())
}

/// Each category's parent: what a cycle check walks.
pub async fn category_parents(conn: &mut AnyConnection) -> DbResult<Vec<(i64, Option<i64>)>> {
    sqlx::query_as("SELECT id, parent_id FROM categories").fetch_all(conn).await.map_err(DbError::from)
}

pub async fn update_category(conn: &mut AnyConnection, id: i64, entry: &CategoryEntry) -> DbResult<bool> {
    let result =
        sqlx::query("UPDATE categories SET slug = $1, name = $2, description = $3, parent_id = $4 WHERE id = $5")
            .bind(&entry.category.slug)
            .bind(&entry.category.name)
            .bind(&entry.category.description)
            .bind(entry.parent_id)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes a category: its articles become uncategorised and its children move up to its parent.
pub async fn delete_category(conn: &mut AnyConnection, id: i64) -> DbResult<bool> {
    sqlx::query("UPDATE articles SET category_id = NULL WHERE category_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query(
        "UPDATE categories SET parent_id = (SELECT parent_id FROM categories WHERE id = $1) WHERE parent_id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let result = sqlx::query("DELETE FROM categories WHERE id = $1").bind(id).execute(conn).await?;
    Ok(result.rows_affected() == 1)
}

/// Every tag with its number of articles, by name.
/// Every tag with its number of articles of any status (the admin's view), or with `published_only`
/// just the tags of published articles, counting those (the public's view: a draft's tags are not
/// public yet).
pub async fn tag_entries(db: &Db, published_only: bool) -> DbResult<Vec<TagEntry>> {
    let sql = if published_only {
        "SELECT t.id, t.slug, t.name, COUNT(*) FROM tags t \
         JOIN article_tags at ON at.tag_id = t.id JOIN articles a ON a.id = at.article_id AND a.status = 'published' \
         GROUP BY t.id, t.slug, t.name ORDER BY t.name"
    } else {
        "SELECT t.id, t.slug, t.name, (SELECT COUNT(*) FROM article_tags at WHERE at.tag_id = t.id) \
         FROM tags t ORDER BY t.name"
    };
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(sql).fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(|(id, slug, name, articles)| TagEntry { id, slug, name, articles }).collect())
}

pub async fn rename_tag(conn: &mut AnyConnection, id: i64, slug: &str, name: &str) -> DbResult<bool> {
    let result = sqlx::query("UPDATE tags SET slug = $1, name = $2 WHERE id = $3")
        .bind(slug)
        .bind(name)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Moves every article of tag `from` to tag `into` (unless already there), then deletes `from`.
pub async fn merge_tag(conn: &mut AnyConnection, from: i64, into: i64) -> DbResult<bool> {
    sqlx::query(
        "INSERT INTO article_tags (article_id, tag_id) SELECT article_id, $2 FROM article_tags WHERE tag_id = $1 \
         ON CONFLICT DO NOTHING",
    )
    .bind(from)
    .bind(into)
    .execute(&mut *conn)
    .await?;
    delete_tag(conn, from).await
}

pub async fn delete_tag(conn: &mut AnyConnection, id: i64) -> DbResult<bool> {
    sqlx::query("DELETE FROM article_tags WHERE tag_id = $1").bind(id).execute(&mut *conn).await?;
    let result = sqlx::query("DELETE FROM tags WHERE id = $1").bind(id).execute(conn).await?;
    Ok(result.rows_affected() == 1)
}

pub async fn category_exists(conn: &mut AnyConnection, id: i64) -> DbResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM categories WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(found.is_some())
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

/// Where `old_path` was sent, if anywhere.
pub async fn redirect(db: &Db, old_path: &str) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT new_path FROM redirects WHERE old_path = $1")
        .bind(old_path)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Every redirect, as (old path, new path).
pub async fn all_redirects(db: &Db) -> DbResult<Vec<(String, String)>> {
    sqlx::query_as("SELECT old_path, new_path FROM redirects ORDER BY old_path")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn set_category_parent(conn: &mut AnyConnection, id: i64, parent_id: Option<i64>) -> DbResult<()> {
    sqlx::query("UPDATE categories SET parent_id = $1 WHERE id = $2").bind(parent_id).bind(id).execute(conn).await?;
    Ok(())
}
