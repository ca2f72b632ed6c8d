//! SQL for comments, their per-article settings and the site secret. One text serves both
//! backends (`$n` placeholders, `ON CONFLICT`, BIGINT times and flags).

use sqlx::{AnyConnection, FromRow};

use crate::comments::model::{ArticleSettings, CommentStatus, ModeratedComment, PublicComment};
use crate::store::{Db, DbError, DbResult};

const PUBLIC_COLUMNS: &str =
    "c.id, c.article_id, c.parent_id, c.status, c.author_name, c.author_url, c.avatar, c.content_html, c.created_at, c.updated_at, c.remote_actor";

#[derive(FromRow)]
struct PublicRow {
    id: i64,
    article_id: i64,
    parent_id: Option<i64>,
    status: String,
    author_name: String,
    author_url: String,
    avatar: String,
    content_html: String,
    created_at: i64,
    updated_at: i64,
    remote_actor: Option<String>,
}

impl From<PublicRow> for PublicComment {
    fn from(r: PublicRow) -> Self {
        PublicComment {
            id: r.id,
            article_id: r.article_id,
            parent_id: r.parent_id,
            status: CommentStatus::parse(&r.status).unwrap_or(CommentStatus::Pending),
            author_name: r.author_name,
            author_url: r.author_url,
            avatar: r.avatar,
            content_html: r.content_html,
            created_at: r.created_at,
            updated_at: r.updated_at,
            via_fediverse: r.remote_actor.is_some(),
        }
    }
}

/// A published post that may receive comments, with its settings.
#[derive(Debug, Clone, FromRow)]
pub struct TargetRow {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub published_at: Option<i64>,
    pub open: Option<i64>,
    pub close_after_days: Option<i64>,
}

impl TargetRow {
    pub fn settings(&self) -> ArticleSettings {
        ArticleSettings { open: self.open.unwrap_or(1) != 0, close_after_days: self.close_after_days }
    }
}

const TARGET_SELECT: &str = "SELECT a.id, a.slug, a.title, a.published_at, s.open, s.close_after_days \
     FROM articles a LEFT JOIN comment_settings s ON s.article_id = a.id \
     WHERE a.kind = 'post' AND a.status = 'published'";

/// The published post with this slug (`NotFound` for anything else).
pub async fn target(db: &Db, slug: &str) -> DbResult<TargetRow> {
    sqlx::query_as::<_, TargetRow>(&format!("{TARGET_SELECT} AND a.slug = $1"))
        .bind(slug)
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Every published post as a comment target (`export static`).
pub async fn all_targets(db: &Db) -> DbResult<Vec<TargetRow>> {
    sqlx::query_as::<_, TargetRow>(TARGET_SELECT).fetch_all(&db.pool).await.map_err(DbError::from)
}

/// The settings of any article (for the CLI), by slug: its id and settings.
pub async fn settings_by_slug(db: &Db, slug: &str) -> DbResult<(i64, ArticleSettings)> {
    let (id, open, days): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT a.id, s.open, s.close_after_days FROM articles a \
         LEFT JOIN comment_settings s ON s.article_id = a.id WHERE a.slug = $1",
    )
    .bind(slug)
    .fetch_one(&db.pool)
    .await?;
    Ok((id, ArticleSettings { open: open.unwrap_or(1) != 0, close_after_days: days }))
}

pub async fn save_settings(conn: &mut AnyConnection, article_id: i64, settings: ArticleSettings) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO comment_settings (article_id, open, close_after_days) VALUES ($1, $2, $3) \
         ON CONFLICT (article_id) DO UPDATE SET open = excluded.open, close_after_days = excluded.close_after_days",
    )
    .bind(article_id)
    .bind(settings.open as i64)
    .bind(settings.close_after_days)
    .execute(conn)
    .await?;
    Ok(())
}

/// What the moderation rules need to know about a submission, in one round trip.
#[derive(Debug, Clone, Copy, FromRow)]
pub struct Facts {
    /// When this address last commented.
    pub last_by_ip: Option<i64>,
    /// When this email last commented.
    pub last_by_email: Option<i64>,
    /// Approved comments with this name and email.
    pub approved_before: i64,
    /// Comments on this article with the same text from the same name or email.
    pub duplicates: i64,
}

pub async fn facts(
    db: &Db,
    ip_hash: &str,
    email: &str,
    name: &str,
    article_id: i64,
    content_hash: &str,
) -> DbResult<Facts> {
    sqlx::query_as::<_, Facts>(
        "SELECT \
           (SELECT MAX(created_at) FROM comments WHERE ip_hash = $1) AS last_by_ip, \
           (SELECT MAX(created_at) FROM comments WHERE author_email = $2) AS last_by_email, \
           (SELECT COUNT(*) FROM (SELECT 1 FROM comments WHERE author_email = $2 AND author_name = $3 \
              AND status = 'approved' LIMIT 1) AS a) AS approved_before, \
           (SELECT COUNT(*) FROM (SELECT 1 FROM comments WHERE article_id = $4 AND content_hash = $5 \
              AND (author_email = $2 OR author_name = $3) LIMIT 1) AS d) AS duplicates",
    )
    .bind(ip_hash)
    .bind(email)
    .bind(name)
    .bind(article_id)
    .bind(content_hash)
    .fetch_one(&db.pool)
    .await
    .map_err(DbError::from)
}

/// The comment a reply answers.
#[derive(Debug, Clone, FromRow)]
pub struct ParentRow {
    pub id: i64,
    pub article_id: i64,
    pub status: String,
    pub depth: i64,
    pub thread_id: Option<i64>,
}

pub async fn parent(db: &Db, id: i64) -> DbResult<ParentRow> {
    sqlx::query_as::<_, ParentRow>("SELECT id, article_id, status, depth, thread_id FROM comments WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

/// A comment as stored.
pub struct NewRow<'a> {
    pub article_id: i64,
    pub parent_id: Option<i64>,
    /// The top-level comment of the thread; `None` for a top-level comment.
    pub thread_id: Option<i64>,
    pub depth: i64,
    pub status: CommentStatus,
    pub author_name: &'a str,
    pub author_email: &'a str,
    pub author_url: &'a str,
    pub avatar: &'a str,
    pub ip_hash: &'a str,
    pub user_agent: &'a str,
    pub content: &'a str,
    pub content_html: &'a str,
    pub content_hash: &'a str,
    /// A reply from the fediverse: the note's id and its author's actor id.
    pub remote: Option<(&'a str, &'a str)>,
    /// When it was written, if not `now` (a remote note's `published`).
    pub created_at: Option<i64>,
}

/// Stores a comment; `now` is its `updated_at`, and its `created_at` unless the row says.
pub async fn insert(conn: &mut AnyConnection, row: &NewRow<'_>, now: i64) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO comments (article_id, parent_id, thread_id, depth, status, author_name, author_email, \
           author_url, avatar, ip_hash, user_agent, content, content_html, content_hash, created_at, updated_at, \
           remote_id, remote_actor) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) RETURNING id",
    )
    .bind(row.article_id)
    .bind(row.parent_id)
    .bind(row.thread_id)
    .bind(row.depth)
    .bind(row.status.as_str())
    .bind(row.author_name)
    .bind(row.author_email)
    .bind(row.author_url)
    .bind(row.avatar)
    .bind(row.ip_hash)
    .bind(row.user_agent)
    .bind(row.content)
    .bind(row.content_html)
    .bind(row.content_hash)
    .bind(row.created_at.unwrap_or(now))
    .bind(now)
    .bind(row.remote.map(|(id, _)| id))
    .bind(row.remote.map(|(_, actor)| actor))
    .fetch_one(conn)
    .await
    .map_err(DbError::from)
}

/// An article's approved comments, plus the pending ones among `own` (the reader's), oldest first.
pub async fn visible(db: &Db, article_id: i64, own: &[i64]) -> DbResult<Vec<PublicComment>> {
    let own_clause = if own.is_empty() {
        String::new()
    } else {
        format!(" OR (c.status = 'pending' AND c.id IN ({}))", crate::store::numbered_rows("?", own.len(), 2))
    };
    let sql = format!(
        "SELECT {PUBLIC_COLUMNS} FROM comments c WHERE c.article_id = $1 AND (c.status = 'approved'{own_clause}) ORDER BY c.id"
    );
    let mut query = sqlx::query_as::<_, PublicRow>(&sql).bind(article_id);
    for id in own {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// The approved comments of the articles `ids` (at most `store::BINDS_PER_STATEMENT`), by
/// article and then oldest first: what [`visible`] gives an anonymous reader, for many articles
/// at once (`export static`).
pub async fn approved_of(db: &Db, ids: &[i64]) -> DbResult<Vec<PublicComment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {PUBLIC_COLUMNS} FROM comments c WHERE c.status = 'approved' AND c.article_id IN ({}) \
         ORDER BY c.article_id, c.id",
        crate::store::numbered_rows("?", ids.len(), 1)
    );
    let mut query = sqlx::query_as::<_, PublicRow>(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Approved comments per article, for every article that has any (`export static`).
pub async fn all_approved_counts(db: &Db) -> DbResult<Vec<(i64, i64)>> {
    sqlx::query_as("SELECT article_id, COUNT(*) FROM comments WHERE status = 'approved' GROUP BY article_id")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Approved comments per article, for the listed ones (one query per listing page).
pub async fn approved_counts(db: &Db, article_ids: &[i64]) -> DbResult<Vec<(i64, i64)>> {
    if article_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT article_id, COUNT(*) FROM comments WHERE status = 'approved' AND article_id IN ({}) GROUP BY article_id",
        crate::store::numbered_rows("?", article_ids.len(), 1)
    );
    let mut query = sqlx::query_as::<_, (i64, i64)>(&sql);
    for id in article_ids {
        query = query.bind(*id);
    }
    query.fetch_all(&db.pool).await.map_err(DbError::from)
}

/// A comment for a feed: the comment and its article's slug and title.
#[derive(FromRow)]
struct FeedRow {
    #[sqlx(flatten)]
    comment: PublicRow,
    slug: String,
    title: String,
}

/// The newest approved comments on published posts, site-wide or on one article.
pub async fn latest_approved(
    db: &Db,
    article_id: Option<i64>,
    limit: i64,
) -> DbResult<Vec<(PublicComment, String, String)>> {
    let filter = if article_id.is_some() { " AND c.article_id = $2" } else { "" };
    let sql = format!(
        "SELECT {PUBLIC_COLUMNS}, a.slug, a.title FROM comments c JOIN articles a ON a.id = c.article_id \
         WHERE c.status = 'approved' AND a.status = 'published' AND a.kind = 'post'{filter} \
         ORDER BY c.id DESC LIMIT $1"
    );
    let mut query = sqlx::query_as::<_, FeedRow>(&sql).bind(limit);
    if let Some(id) = article_id {
        query = query.bind(id);
    }
    let rows = query.fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(|r| (r.comment.into(), r.slug, r.title)).collect())
}

#[derive(FromRow)]
struct ModerationRow {
    #[sqlx(flatten)]
    comment: PublicRow,
    slug: String,
    author_email: String,
    content: String,
}

/// Which comments a moderation list (the CLI queue, the API) shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModerationFilter {
    /// Any status if `None`.
    pub status: Option<CommentStatus>,
    pub article_id: Option<i64>,
    /// Only comments on published articles (what anonymous API callers may see).
    pub published_articles_only: bool,
}

const MODERATION_FROM: &str = "comments c JOIN articles a ON a.id = c.article_id \
     WHERE ($1 = '' OR c.status = $1) AND ($2 = 0 OR c.article_id = $2) AND ($3 = 0 OR a.status = 'published')";

/// The moderation queue: comments matching `filter`, newest first.
pub async fn for_moderation(
    db: &Db,
    filter: ModerationFilter,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<ModeratedComment>> {
    let sql = format!(
        "SELECT {PUBLIC_COLUMNS}, a.slug, c.author_email, c.content FROM {MODERATION_FROM} \
         ORDER BY c.id DESC LIMIT $4 OFFSET $5"
    );
    let rows = sqlx::query_as::<_, ModerationRow>(&sql)
        .bind(filter.status.map(CommentStatus::as_str).unwrap_or(""))
        .bind(filter.article_id.unwrap_or(0))
        .bind(i64::from(filter.published_articles_only))
        .bind(limit)
        .bind(offset)
        .fetch_all(&db.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ModeratedComment {
            remote_actor: r.comment.remote_actor.clone(),
            comment: r.comment.into(),
            article_slug: r.slug,
            author_email: r.author_email,
            content: r.content,
        })
        .collect())
}

pub async fn count_for_moderation(db: &Db, filter: ModerationFilter) -> DbResult<i64> {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {MODERATION_FROM}"))
        .bind(filter.status.map(CommentStatus::as_str).unwrap_or(""))
        .bind(filter.article_id.unwrap_or(0))
        .bind(i64::from(filter.published_articles_only))
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Sets the status of the comments among `ids` whose status differs; returns those changed, as
/// `(comment id, article id)` in the order of comment ids.
pub async fn set_status(
    conn: &mut AnyConnection,
    ids: &[i64],
    status: CommentStatus,
    now: i64,
) -> DbResult<Vec<(i64, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "UPDATE comments SET status = $1, updated_at = $2 WHERE status <> $1 AND id IN ({}) RETURNING id, article_id",
        crate::store::numbered_rows("?", ids.len(), 3)
    );
    let mut update = sqlx::query_as::<_, (i64, i64)>(&sql).bind(status.as_str()).bind(now);
    for id in ids {
        update = update.bind(*id);
    }
    let mut changed = update.fetch_all(&mut *conn).await?;
    changed.sort_unstable();
    Ok(changed)
}

/// Which of `ids` exist.
pub async fn existing(db: &Db, ids: &[i64]) -> DbResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql =
        format!("SELECT id FROM comments WHERE id IN ({}) ORDER BY id", crate::store::numbered_rows("?", ids.len(), 1));
    let mut query = sqlx::query_scalar::<_, i64>(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(&db.pool).await.map_err(DbError::from)
}

/// Approved top-level comments on the article older than `root_id`: where a thread sits.
pub async fn threads_before(db: &Db, article_id: i64, root_id: i64) -> DbResult<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM comments WHERE article_id = $1 AND parent_id IS NULL AND status = 'approved' AND id < $2",
    )
    .bind(article_id)
    .bind(root_id)
    .fetch_one(&db.pool)
    .await
    .map_err(DbError::from)
}

/// A comment that came from the fediverse, found by its note's id.
#[derive(Debug, Clone, FromRow)]
pub struct RemoteRow {
    pub id: i64,
    pub article_id: i64,
    pub status: String,
    pub remote_actor: Option<String>,
}

pub async fn by_remote_id(db: &Db, remote_id: &str) -> DbResult<Option<RemoteRow>> {
    sqlx::query_as::<_, RemoteRow>("SELECT id, article_id, status, remote_actor FROM comments WHERE remote_id = $1")
        .bind(remote_id)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

/// What the moderation rules need to know about a remote reply, in one round trip.
#[derive(Debug, Clone, Copy, FromRow)]
pub struct RemoteFacts {
    /// When this actor last commented.
    pub last_by_actor: Option<i64>,
    /// Approved comments by this actor.
    pub approved_before: i64,
    /// Comments on this article with the same text by this actor.
    pub duplicates: i64,
}

pub async fn remote_facts(db: &Db, remote_actor: &str, article_id: i64, content_hash: &str) -> DbResult<RemoteFacts> {
    sqlx::query_as::<_, RemoteFacts>(
        "SELECT \
           (SELECT MAX(created_at) FROM comments WHERE remote_actor = $1) AS last_by_actor, \
           (SELECT COUNT(*) FROM (SELECT 1 FROM comments WHERE remote_actor = $1 AND status = 'approved' LIMIT 1) AS a) \
             AS approved_before, \
           (SELECT COUNT(*) FROM (SELECT 1 FROM comments WHERE article_id = $2 AND content_hash = $3 \
              AND remote_actor = $1 LIMIT 1) AS d) AS duplicates",
    )
    .bind(remote_actor)
    .bind(article_id)
    .bind(content_hash)
    .fetch_one(&db.pool)
    .await
    .map_err(DbError::from)
}
