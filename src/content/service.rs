//! Content decisions: validation, slugs, publishing states, revisions, scheduling.
//!
//! Every write runs in one transaction that also bumps the content epoch (so every node's page
//! cache sees the change) and, for scheduled articles, enqueues the job that publishes them.
//! An article that becomes published also gets its IPFS bundle job and, the first time only,
//! the job that mails its subscribers (`subscriptions::jobs::NotifySubscribers`).

use crate::accounts::{self, NewUser, Role};
use crate::content::jobs::PublishScheduled;
use crate::content::markdown;
use crate::content::model::*;
use crate::content::queries::{self, ArticleRow};
use crate::ipfs::jobs::BuildBundle;
use crate::jobs;
use crate::store::{self, Db, DbError};
use crate::subscriptions;

/// Limits that come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct ContentLimits {
    pub max_article_bytes: usize,
}

pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_EXCERPT_CHARS: usize = 1000;
pub const MAX_SLUG_CHARS: usize = 200;
pub const MAX_TAGS: usize = 30;
pub const MAX_TERM_CHARS: usize = 80;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("{field}: {size} bytes is over the limit of {limit} bytes")]
    TooLarge { field: &'static str, size: usize, limit: usize },
    #[error("no article with slug {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn invalid(field: &'static str, message: impl Into<String>) -> ContentError {
    ContentError::Invalid { field, message: message.into() }
}

/// When an article goes (or went) live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publish {
    Draft,
    Now,
    /// Published at that time if it is past (an imported date), scheduled if it is future.
    At(i64),
}

/// An article as its writer describes it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: ArticleKind,
    pub title: String,
    pub slug: Option<String>,
    pub excerpt: Option<String>,
    pub body_md: String,
    /// Username or display name of the author.
    pub author: String,
    /// Name or slug of the primary category.
    pub category: Option<String>,
    pub tags: Vec<String>,
    pub featured_image: Option<String>,
    pub publish: Publish,
}

/// How to treat names that do not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terms {
    /// Unknown categories and authors are errors (the editor's CLI).
    MustExist,
    /// Unknown categories, and authors given by display name, are created (imports).
    CreateMissing,
}

/// What a save did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Created { id: i64, slug: String, status: Status },
    Updated { id: i64, slug: String, status: Status },
}

impl Saved {
    pub fn slug(&self) -> &str {
        match self {
            Saved::Created { slug, .. } | Saved::Updated { slug, .. } => slug,
        }
    }
}

/// Turns any text into a URL slug (`Défense & Sécurité` → `defense-securite`).
pub fn slugify(text: &str) -> String {
    let mut slug = slug::slugify(text);
    slug.truncate(MAX_SLUG_CHARS);
    slug.trim_end_matches('-').to_string()
}

pub fn validate_slug(slug: &str) -> Result<(), ContentError> {
    let ok = !slug.is_empty()
        && slug.len() <= MAX_SLUG_CHARS
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "slug",
            format!(
                "{slug:?} must be lowercase letters, digits and single hyphens, at most {MAX_SLUG_CHARS} characters"
            ),
        ))
    }
}

/// Creates a new article. An explicit slug that is taken is an error; a derived one gets a suffix.
pub async fn create(db: &Db, limits: ContentLimits, draft: Draft, terms: Terms) -> Result<Saved, ContentError> {
    save(db, limits, draft, terms, false).await
}

/// Creates the article, or updates the one with the same slug (keeping a revision): imports and edits.
pub async fn upsert(db: &Db, limits: ContentLimits, draft: Draft, terms: Terms) -> Result<Saved, ContentError> {
    save(db, limits, draft, terms, true).await
}

async fn save(
    db: &Db,
    limits: ContentLimits,
    draft: Draft,
    terms: Terms,
    update_existing: bool,
) -> Result<Saved, ContentError> {
    let title = draft.title.trim();
    if title.is_empty() {
        return Err(invalid("title", "must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(invalid("title", format!("must be at most {MAX_TITLE_CHARS} characters")));
    }
    if draft.body_md.len() > limits.max_article_bytes {
        return Err(ContentError::TooLarge {
            field: "body",
            size: draft.body_md.len(),
            limit: limits.max_article_bytes,
        });
    }
    if draft.excerpt.as_ref().is_some_and(|e| e.chars().count() > MAX_EXCERPT_CHARS) {
        return Err(invalid("excerpt", format!("must be at most {MAX_EXCERPT_CHARS} characters")));
    }
    if draft.tags.len() > MAX_TAGS {
        return Err(invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut tag_slugs = Vec::with_capacity(draft.tags.len());
    for tag in &draft.tags {
        let name = tag.trim();
        let slug = slugify(name);
        if slug.is_empty() || name.chars().count() > MAX_TERM_CHARS {
            return Err(invalid(
                "tags",
                format!("{name:?} is not a usable tag (1–{MAX_TERM_CHARS} characters with a letter or digit)"),
            ));
        }
        tag_slugs.push((slug, name.to_string()));
    }
    if let Some(slug) = &draft.slug {
        validate_slug(slug)?;
    }
    let rendered = markdown::render(&draft.body_md);
    let excerpt = match draft.excerpt.as_deref().map(str::trim) {
        Some(e) if !e.is_empty() => e.to_string(),
        _ => markdown::excerpt_of(&rendered.text, 40),
    };
    let now = store::now();

    let mut tx = db.pool.begin().await.map_err(DbError::classify)?;
    let author_id = resolve_author(&mut tx, &draft.author, terms).await?;
    let category_id = match &draft.category {
        None => None,
        Some(name) => Some(resolve_category(&mut tx, db, name, terms).await?),
    };
    let mut tag_ids = Vec::with_capacity(tag_slugs.len());
    for (slug, name) in &tag_slugs {
        tag_ids.push(queries::ensure_tag(&mut tx, slug, name).await?);
    }

    let existing = match &draft.slug {
        Some(slug) if update_existing => queries::article_id_by_slug(&mut tx, slug).await?,
        _ => None,
    };
    let slug = match (&draft.slug, existing) {
        (Some(slug), Some(_)) => slug.clone(),
        (Some(slug), None) => {
            if queries::slug_taken(&mut tx, slug, None).await? {
                return Err(invalid("slug", format!("{slug:?} is already used by another article")));
            }
            slug.clone()
        }
        (None, _) => unique_slug(&mut tx, title).await?,
    };

    let (status, published_at, scheduled_at) = match draft.publish {
        Publish::Draft => (Status::Draft, None, None),
        Publish::Now => (Status::Published, Some(now), None),
        Publish::At(at) if at <= now => (Status::Published, Some(at), None),
        Publish::At(at) => (Status::Scheduled, None, Some(at)),
    };
    let row = ArticleRow {
        kind: draft.kind,
        slug: &slug,
        title,
        excerpt: &excerpt,
        body_md: &draft.body_md,
        body_html: &rendered.html,
        body_text: &rendered.text,
        reading_minutes: rendered.reading_minutes,
        status,
        author_id,
        category_id,
        featured_image: draft.featured_image.as_deref(),
        published_at,
        scheduled_at,
    };
    let saved = match existing {
        Some(id) => {
            queries::save_revision(&mut tx, id, now).await?;
            queries::update_article(&mut tx, id, &row, now).await?;
            Saved::Updated { id, slug: slug.clone(), status }
        }
        None => {
            let id = queries::insert_article(&mut tx, &row, now).await?;
            Saved::Created { id, slug: slug.clone(), status }
        }
    };
    let id = match &saved {
        Saved::Created { id, .. } | Saved::Updated { id, .. } => *id,
    };
    queries::set_tags(&mut tx, id, &tag_ids).await?;
    if let Some(at) = scheduled_at {
        jobs::enqueue(&mut tx, &PublishScheduled { article_id: id }, at, Some(&format!("publish:{id}"))).await?;
    }
    if status == Status::Published {
        enqueue_bundle(&mut tx, id, now).await?;
        subscriptions::jobs::enqueue_notification(&mut tx, id, now).await?;
    }
    store::record_activity(
        &mut tx,
        if matches!(saved, Saved::Created { .. }) { "article.created" } else { "article.updated" },
        Some(id),
        &slug,
    )
    .await?;
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await.map_err(DbError::classify)?;
    Ok(saved)
}

/// Every published version becomes an IPFS bundle, built in the background (one job per article,
/// so a burst of edits is bundled once).
async fn enqueue_bundle(conn: &mut sqlx::AnyConnection, article_id: i64, now: i64) -> Result<(), ContentError> {
    jobs::enqueue(conn, &BuildBundle { article_id }, now, Some(&format!("bundle:{article_id}"))).await?;
    Ok(())
}

/// Publishes a draft or scheduled article now.
pub async fn publish_now(db: &Db, slug: &str) -> Result<Status, ContentError> {
    let article = find(db, slug).await?;
    if article.summary.status == Status::Published {
        return Ok(Status::Published);
    }
    let now = store::now();
    let mut tx = db.pool.begin().await.map_err(DbError::classify)?;
    queries::set_status(&mut tx, article.summary.id, Status::Published, Some(now), None, now).await?;
    enqueue_bundle(&mut tx, article.summary.id, now).await?;
    subscriptions::jobs::enqueue_notification(&mut tx, article.summary.id, now).await?;
    store::record_activity(&mut tx, "article.published", Some(article.summary.id), slug).await?;
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await.map_err(DbError::classify)?;
    Ok(Status::Published)
}

/// Publishes a scheduled article when its time has come; a no-op if it was published or
/// unscheduled meanwhile, so running it twice is harmless.
pub async fn publish_scheduled(db: &Db, article_id: i64) -> Result<bool, ContentError> {
    let now = store::now();
    let mut tx = db.pool.begin().await.map_err(DbError::classify)?;
    let changed = queries::publish_if_scheduled(&mut tx, article_id, now).await?;
    if changed {
        enqueue_bundle(&mut tx, article_id, now).await?;
        subscriptions::jobs::enqueue_notification(&mut tx, article_id, now).await?;
        store::record_activity(&mut tx, "article.published", Some(article_id), "scheduled").await?;
        store::bump_content_epoch(&mut tx).await?;
    }
    tx.commit().await.map_err(DbError::classify)?;
    Ok(changed)
}

pub async fn find(db: &Db, slug: &str) -> Result<Article, ContentError> {
    match queries::find_by_slug(db, slug).await {
        Ok(article) => Ok(article),
        Err(DbError::NotFound) => Err(ContentError::NotFound(slug.to_string())),
        Err(err) => Err(err.into()),
    }
}

/// A published article or page, as readers may see it.
pub async fn find_public(db: &Db, slug: &str) -> Result<Article, ContentError> {
    let article = find(db, slug).await?;
    if article.summary.status != Status::Published {
        return Err(ContentError::NotFound(slug.to_string()));
    }
    Ok(article)
}

/// One page of published posts; `page` counts from 1. A page past the end is `NotFound`.
pub async fn list_page(
    db: &Db,
    filter: ListFilter,
    page: u32,
    per_page: u32,
) -> Result<Page<ArticleSummary>, ContentError> {
    let total = queries::count_published(db, filter).await?;
    let total_pages = (total as u64).div_ceil(per_page as u64).max(1) as u32;
    if page > total_pages {
        return Err(ContentError::NotFound(format!("page {page}")));
    }
    let offset = (page as i64 - 1) * per_page as i64;
    let items = queries::list_published(db, filter, per_page as i64, offset).await?;
    Ok(Page { items, page, total_pages, total_items: total })
}

/// Searches published posts. Words are taken literally; operators are not interpreted.
pub async fn search(db: &Db, text: &str, page: u32, per_page: u32) -> Result<Page<SearchHit>, ContentError> {
    let terms: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(12).map(str::to_lowercase).collect();
    if terms.is_empty() {
        return Ok(Page { items: vec![], page: 1, total_pages: 1, total_items: 0 });
    }
    let offset = (page as i64 - 1) * per_page as i64;
    let (rows, total) = queries::search(db, &terms, per_page as i64, offset).await?;
    let items =
        rows.into_iter().map(|(article, snippet)| SearchHit { article, snippet_html: highlight(&snippet) }).collect();
    let total_pages = (total as u64).div_ceil(per_page as u64).max(1) as u32;
    Ok(Page { items, page, total_pages, total_items: total })
}

/// Escapes a snippet, then turns the database's match markers into `<mark>`.
fn highlight(snippet: &str) -> String {
    let escaped = minijinja::HtmlEscape(snippet).to_string();
    escaped.replace('\u{2}', "<mark>").replace('\u{3}', "</mark>")
}

async fn unique_slug(conn: &mut sqlx::AnyConnection, title: &str) -> Result<String, ContentError> {
    let base = match slugify(title) {
        s if s.is_empty() => "article".to_string(),
        s => s,
    };
    let mut candidate = base.clone();
    for n in 2.. {
        if !queries::slug_taken(conn, &candidate, None).await? {
            break;
        }
        candidate = format!("{base}-{n}");
    }
    Ok(candidate)
}

async fn resolve_author(conn: &mut sqlx::AnyConnection, name: &str, terms: Terms) -> Result<i64, ContentError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("author", "must not be empty"));
    }
    if let Some(id) = accounts::queries::id_by_name(conn, name).await? {
        return Ok(id);
    }
    if terms == Terms::MustExist {
        return Err(invalid("author", format!("no user named {name:?}; add one with `openvoice user add`")));
    }
    let username = match slugify(name) {
        s if s.is_empty() => "author".to_string(),
        s => s,
    };
    let email = format!("{username}@authors.invalid");
    let new = NewUser { username: &username, email: &email, display_name: name, role: Role::Author, password: None };
    accounts::validate_username(&username).map_err(|e| invalid("author", e.to_string()))?;
    Ok(accounts::queries::insert(conn, &new, None, store::now()).await?)
}

async fn resolve_category(
    conn: &mut sqlx::AnyConnection,
    db: &Db,
    name: &str,
    terms: Terms,
) -> Result<i64, ContentError> {
    let name = name.trim();
    let slug = slugify(name);
    if slug.is_empty() || name.chars().count() > MAX_TERM_CHARS {
        return Err(invalid("category", format!("{name:?} is not a usable category name")));
    }
    if terms == Terms::CreateMissing {
        return Ok(queries::ensure_category(conn, &slug, name, store::now()).await?);
    }
    match queries::category_id_by_name(conn, name, &slug).await? {
        Some(id) => Ok(id),
        None => {
            let known: Vec<String> =
                queries::categories_with_counts(db).await?.into_iter().map(|(c, _)| c.name).collect();
            Err(invalid("category", format!("unknown category {name:?}; known: {}", known.join(", "))))
        }
    }
}

/// Creates a category; its slug is derived from the name.
pub async fn add_category(db: &Db, name: &str, description: &str) -> Result<Category, ContentError> {
    let name = name.trim();
    let slug = slugify(name);
    if slug.is_empty() || name.chars().count() > MAX_TERM_CHARS {
        return Err(invalid("name", format!("{name:?} is not a usable category name")));
    }
    let mut tx = db.pool.begin().await.map_err(DbError::classify)?;
    let id = match queries::insert_category(&mut tx, &slug, name, description, store::now()).await {
        Ok(id) => id,
        Err(DbError::Conflict(_)) => return Err(invalid("name", format!("category {name:?} already exists"))),
        Err(err) => return Err(err.into()),
    };
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await.map_err(DbError::classify)?;
    Ok(Category { id, slug, name: name.to_string(), description: description.to_string() })
}
