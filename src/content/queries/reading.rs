//! Reading articles: listings, single articles with their bodies, search, the desk's list, redirects.

use sqlx::FromRow;

use crate::store::{Db, DbError, DbResult, Dialect};

use super::*;

/// Published posts, newest first: `limit` of them from where `from` says. Skipping from the
/// oldest end keeps the last pages of a long listing as quick as its first ones.
pub async fn list_published(db: &Db, filter: ListFilter, limit: i64, from: ListFrom) -> DbResult<Vec<ArticleSummary>> {
    // The page's ids first, from a listing index alone: skipping rows costs index entries, not
    // joined article rows (which carry their bodies).
    let filter_arg = if let ListFrom::At(_) = from { 4 } else { 3 };
    let ListingSource { rows, id, time, arg } = listing_source(filter, filter_arg);
    let page_ids = match from {
        ListFrom::Newest(_) => format!("SELECT {id} FROM {rows} ORDER BY {time} DESC, {id} DESC LIMIT $1 OFFSET $2"),
        ListFrom::Oldest(_) => format!("SELECT {id} FROM {rows} ORDER BY {time} ASC, {id} ASC LIMIT $1 OFFSET $2"),
        // Row values, not `a < x OR (a = x AND id <= y)`, which defeats the listing index.
        ListFrom::At(_) => {
            format!("SELECT {id} FROM {rows} AND ({time}, {id}) <= ($2, $3) ORDER BY {time} DESC, {id} DESC LIMIT $1")
        }
    };
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM {SUMMARY_FROM} WHERE a.id IN ({page_ids}) ORDER BY a.published_at DESC, a.id DESC"
    );
    let query = sqlx::query_as::<_, SummaryRow>(&sql).bind(limit);
    let mut query = match from {
        ListFrom::Newest(skip) | ListFrom::Oldest(skip) => query.bind(skip),
        ListFrom::At(start) => query.bind(start.published_at).bind(start.id),
    };
    if let Some(arg) = arg {
        query = query.bind(arg);
    }
    let rows = query.fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Where each page of `per_page` posts of a listing starts, first page first: one pass over a
/// listing index, so that any page can then be read from its start.
pub async fn page_starts(db: &Db, filter: ListFilter, per_page: i64) -> DbResult<Vec<ListPosition>> {
    let ListingSource { rows, id, time, arg } = listing_source(filter, 2);
    let sql = format!(
        "SELECT t, i FROM (SELECT {time} AS t, {id} AS i, ROW_NUMBER() OVER (ORDER BY {time} DESC, {id} DESC) AS n \
         FROM {rows}) numbered WHERE (n - 1) % $1 = 0 ORDER BY n"
    );
    let mut query = sqlx::query_as::<_, (i64, i64)>(&sql).bind(per_page);
    if let Some(arg) = arg {
        query = query.bind(arg);
    }
    let rows = query.fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(|(published_at, id)| ListPosition { published_at, id }).collect())
}

pub async fn count_published(db: &Db, filter: ListFilter) -> DbResult<i64> {
    let ListingSource { rows, arg, .. } = listing_source(filter, 1);
    let sql = format!("SELECT COUNT(*) FROM {rows}");
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

/// Published posts with their bodies, newest first: the feeds' input.
pub async fn latest_with_bodies(db: &Db, category_id: Option<i64>, limit: i64) -> DbResult<Vec<Article>> {
    let filter = category_id.map_or(ListFilter::All, ListFilter::Category);
    let summaries = list_published(db, filter, limit, ListFrom::Newest(0)).await?;
    let mut articles = Vec::with_capacity(summaries.len());
    for summary in summaries {
        articles.push(with_body(db, summary).await?);
    }
    Ok(articles)
}

/// Every category the article is filed under, its primary one first.
pub async fn categories_of(db: &Db, article_id: i64) -> DbResult<Vec<Category>> {
    let rows: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT c.id, c.slug, c.name, c.description FROM article_categories ac \
         JOIN categories c ON c.id = ac.category_id JOIN articles a ON a.id = ac.article_id \
         WHERE ac.article_id = $1 ORDER BY CASE WHEN c.id = a.category_id THEN 0 ELSE 1 END, c.name",
    )
    .bind(article_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id, slug, name, description)| Category { id, slug, name, description }).collect())
}

/// Lead stories read to choose the newest few from: far more than any newsroom pins.
const MOST_LEADS: i64 = 1000;

/// The lead stories: published posts pinned as sticky, newest first, of a category or of all.
pub async fn lead_stories(db: &Db, category_id: Option<i64>, limit: i64) -> DbResult<Vec<ArticleSummary>> {
    let in_category = match category_id {
        Some(_) => {
            " AND EXISTS (SELECT 1 FROM article_categories ac WHERE ac.article_id = a.id AND ac.category_id = $2)"
        }
        None => "",
    };
    // The few lead stories drive the join: walking the articles newest first and probing
    // `lead_stories` for each cost 8 ms at 100k articles. A subquery with a LIMIT is read first
    // by both planners (neither folds it into the join), and `CROSS JOIN` keeps SQLite's order.
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM (SELECT article_id FROM lead_stories LIMIT {MOST_LEADS}) l \
         CROSS JOIN {SUMMARY_FROM} \
         WHERE a.id = l.article_id AND a.kind = 'post' AND a.status = 'published'{in_category} \
         ORDER BY a.published_at DESC, a.id DESC LIMIT $1"
    );
    let mut query = sqlx::query_as(&sql).bind(limit);
    if let Some(id) = category_id {
        query = query.bind(id);
    }
    let rows: Vec<SummaryRow> = query.fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(ArticleSummary::from).collect())
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

/// Every category of every published article, as (article id, category), each article's
/// primary category first.
pub async fn categories_of_published(db: &Db) -> DbResult<Vec<(i64, Category)>> {
    let rows: Vec<(i64, i64, String, String, String)> = sqlx::query_as(
        "SELECT ac.article_id, c.id, c.slug, c.name, c.description FROM article_categories ac \
         JOIN categories c ON c.id = ac.category_id JOIN articles a ON a.id = ac.article_id \
         WHERE a.status = 'published' \
         ORDER BY ac.article_id, CASE WHEN c.id = a.category_id THEN 0 ELSE 1 END, c.name",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(article_id, id, slug, name, description)| (article_id, Category { id, slug, name, description }))
        .collect())
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

/// Slug, kind and modification time of everything public, newest first.
pub async fn published_index(db: &Db) -> DbResult<Vec<(String, String, i64)>> {
    sqlx::query_as(
        "SELECT slug, kind, updated_at FROM articles WHERE status = 'published' ORDER BY published_at DESC, id DESC",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Slug and modification time of `limit` published posts, oldest first, after skipping `skip`.
pub async fn published_posts_index(db: &Db, limit: i64, skip: i64) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT slug, updated_at FROM articles WHERE kind = 'post' AND status = 'published' \
         ORDER BY published_at, id LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(skip)
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Slug and modification time of the published standing pages (About, Contact).
pub async fn published_pages_index(db: &Db) -> DbResult<Vec<(String, i64)>> {
    sqlx::query_as("SELECT slug, updated_at FROM articles WHERE kind = 'page' AND status = 'published' ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Full-text search over published posts, best match first among the newest `candidates`
/// that match (so a common word costs `candidates` rankings, not one per article), with how
/// many of those are published posts. `terms` are plain words.
pub async fn search(
    db: &Db,
    terms: &[String],
    candidates: i64,
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<ArticleSummary>, i64)> {
    let (ranked, query_text) = match db.dialect {
        Dialect::Sqlite => (
            // bm25() ranks only the rows the inner query visits: FTS5 walks the matches newest
            // (highest rowid) first and stops at the limit.
            "SELECT rowid AS id, bm25(articles_fts, 5.0, 1.0) AS score FROM articles_fts \
             WHERE articles_fts MATCH $1 ORDER BY rowid DESC LIMIT $4",
            fts_query(terms),
        ),
        Dialect::Postgres => (
            "SELECT a.id, -ts_rank(a.search_vector, plainto_tsquery('english', $1)) AS score FROM articles a \
             WHERE a.search_vector @@ plainto_tsquery('english', $1) ORDER BY a.id DESC LIMIT $4",
            terms.join(" "),
        ),
    };
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, COUNT(*) OVER () AS total FROM ({ranked}) {RANKED_FROM} \
         WHERE a.kind = 'post' AND a.status = 'published' \
         ORDER BY ranked.score, a.id DESC LIMIT $2 OFFSET $3"
    );
    // Not a kept prepared statement: PostgreSQL would soon plan it once for any words, guess
    // few matches, and rank every match of a common word (55 ms at 100,000 articles instead of 6).
    let rows = sqlx::query(&sql)
        .persistent(false)
        .bind(&query_text)
        .bind(limit)
        .bind(offset)
        .bind(candidates)
        .fetch_all(&db.pool)
        .await?;
    let mut total = 0;
    let mut hits = Vec::with_capacity(rows.len());
    for row in rows {
        use sqlx::Row;
        total = row.try_get("total")?;
        hits.push(SummaryRow::from_row(&row)?.into());
    }
    Ok((hits, total))
}

/// The passage of each article `ids` that best matches `terms`, the matches between `start`
/// and `stop`, as (id, passage).
pub async fn snippets(db: &Db, terms: &[String], ids: &[i64], start: &str, stop: &str) -> DbResult<Vec<(i64, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::store::numbered_rows("?", ids.len(), 4);
    let (sql, query_text) = match db.dialect {
        Dialect::Sqlite => (
            format!(
                "SELECT rowid, snippet(articles_fts, 1, $2, $3, '…', 32) FROM articles_fts \
                 WHERE articles_fts MATCH $1 AND rowid IN ({list})"
            ),
            fts_query(terms),
        ),
        Dialect::Postgres => (
            format!(
                "SELECT id, ts_headline('english', body_text, plainto_tsquery('english', $1), \
                 'MaxFragments=1, MaxWords=32, MinWords=12, StartSel=' || $2 || ', StopSel=' || $3) \
                 FROM articles WHERE id IN ({list})"
            ),
            terms.join(" "),
        ),
    };
    let mut query = sqlx::query_as(&sql).bind(query_text).bind(start).bind(stop);
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(&db.pool).await.map_err(DbError::from)
}

/// Plain words as an FTS5 query: each quoted, so none is read as an operator.
fn fts_query(terms: &[String]) -> String {
    terms.iter().map(|t| format!("\"{}\"", t.replace('"', ""))).collect::<Vec<_>>().join(" ")
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

pub async fn newest_update(db: &Db) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT MAX(updated_at) FROM articles WHERE status = 'published'")
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

/// The WHERE fragment (after `WHERE 1 = 1`) and its arguments for the admin's article list.
pub(super) fn admin_clause(filter: &AdminFilter, first: usize) -> (String, Vec<AdminArg>) {
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

pub(super) enum AdminArg {
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
