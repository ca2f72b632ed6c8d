//! Content decisions: validation, slugs, publishing states, revisions, scheduling.
//!
//! Every write runs in one transaction that also bumps the content epoch (so every node's page
//! cache sees the change) and, for scheduled articles, enqueues the job that publishes them.
//! An article that becomes published also gets its IPFS bundle job and, the first time only,
//! the job that mails its subscribers (`content::jobs`).

use std::collections::{HashMap, HashSet};

use crate::accounts::{self, Capability, NewUser, Role};
use crate::content::jobs::{notification, BuildBundle, BuildSnapshot, PublishScheduled};
use crate::content::markdown;
use crate::content::model::*;
use crate::content::queries::{self, ArticleRow};
use crate::jobs;
use crate::store::{self, Db, DbError};

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
    /// The acting user's role does not allow this; the message says what was refused.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ContentError {
    fn from(err: sqlx::Error) -> Self {
        ContentError::Db(err.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ContentError {
    ContentError::Invalid { field, message: message.into() }
}

impl ContentError {
    /// The field an `Invalid` or `TooLarge` error is about, for forms that show it there.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ContentError::Invalid { field, .. } | ContentError::TooLarge { field, .. } => Some(field),
            _ => None,
        }
    }

    /// A copy of a check's failure (`Invalid`, `TooLarge`), for reporting it again.
    fn copy_of_check(&self) -> ContentError {
        match self {
            ContentError::Invalid { field, message } => ContentError::Invalid { field, message: message.clone() },
            ContentError::TooLarge { field, size, limit } => {
                ContentError::TooLarge { field, size: *size, limit: *limit }
            }
            other => invalid("draft", other.to_string()),
        }
    }
}

fn first_error(mut errors: Vec<ContentError>) -> ContentError {
    errors.swap_remove(0)
}

/// The writer's text as typed, before checks.
struct TextInput<'a> {
    title: &'a str,
    slug: Option<&'a str>,
    excerpt: Option<&'a str>,
    body_md: &'a str,
    tags: &'a [String],
}

/// Text that passed the checks, rendered.
struct Checked {
    title: String,
    tag_slugs: Vec<(String, String)>,
    rendered: markdown::Rendered,
    excerpt: String,
}

/// Checks every field of an article's text and reports each faulty one, so a form can show all
/// its messages at once.
fn check_text(limits: ContentLimits, input: &TextInput<'_>) -> Result<Checked, Vec<ContentError>> {
    let mut errors = Vec::new();
    let title = input.title.trim();
    if title.is_empty() {
        errors.push(invalid("title", "must not be empty"));
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        errors.push(invalid("title", format!("must be at most {MAX_TITLE_CHARS} characters")));
    }
    if input.body_md.len() > limits.max_article_bytes {
        errors.push(ContentError::TooLarge {
            field: "body",
            size: input.body_md.len(),
            limit: limits.max_article_bytes,
        });
    }
    if input.excerpt.is_some_and(|e| e.chars().count() > MAX_EXCERPT_CHARS) {
        errors.push(invalid("excerpt", format!("must be at most {MAX_EXCERPT_CHARS} characters")));
    }
    let mut tag_slugs = Vec::with_capacity(input.tags.len());
    if input.tags.len() > MAX_TAGS {
        errors.push(invalid("tags", format!("at most {MAX_TAGS} tags")));
    } else {
        for tag in input.tags {
            let name = tag.trim();
            let slug = slugify(name);
            // The limit counts what was sent, spaces too, as the API's document says.
            if slug.is_empty() || tag.chars().count() > MAX_TERM_CHARS {
                errors.push(invalid(
                    "tags",
                    format!("{name:?} is not a usable tag (1–{MAX_TERM_CHARS} characters with a letter or digit)"),
                ));
                break;
            }
            if !tag_slugs.iter().any(|(s, _)| *s == slug) {
                tag_slugs.push((slug, name.to_string()));
            }
        }
    }
    if let Some(slug) = input.slug {
        if let Err(err) = validate_slug(slug) {
            errors.push(err);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let rendered = markdown::render(input.body_md);
    let excerpt = match input.excerpt.map(str::trim) {
        Some(e) if !e.is_empty() => e.to_string(),
        _ => markdown::excerpt_of(&rendered.text, 40),
    };
    Ok(Checked { title: title.to_string(), tag_slugs, rendered, excerpt })
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

    pub fn id(&self) -> i64 {
        match self {
            Saved::Created { id, .. } | Saved::Updated { id, .. } => *id,
        }
    }

    /// The activity log's entry for this save.
    fn activity_kind(&self) -> &'static str {
        match self {
            Saved::Created { .. } => "article.created",
            Saved::Updated { .. } => "article.updated",
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

/// A draft checked and rendered: the part of a save that needs no database, done before its
/// transaction (for imports on every core, see `prepare_many`).
pub struct Prepared {
    draft: Draft,
    checked: Result<Checked, ContentError>,
}

/// Checks and renders one draft.
pub fn prepare(limits: ContentLimits, draft: Draft) -> Prepared {
    let checked = check_draft(limits, &draft);
    Prepared { draft, checked }
}

/// `prepare` of every draft, on every core: blocking, for a blocking thread.
pub fn prepare_many(limits: ContentLimits, drafts: Vec<Draft>) -> Vec<Prepared> {
    par_map(drafts, |draft| prepare(limits, draft))
}

/// `f` of each item, in order, with the items shared out among as many threads as there are
/// cores. Blocks the caller until all are done.
pub fn par_map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let per_thread = items.len().div_ceil(threads);
    let mut items = items.into_iter();
    let chunks: Vec<Vec<T>> =
        (0..threads).map(|_| items.by_ref().take(per_thread).collect()).filter(|c: &Vec<T>| !c.is_empty()).collect();
    let f = &f;
    std::thread::scope(|scope| {
        let workers: Vec<_> =
            chunks.into_iter().map(|chunk| scope.spawn(move || chunk.into_iter().map(f).collect::<Vec<U>>())).collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// Imports: `upsert` of many drafts in one transaction, much faster than one each. On a
/// failure nothing is written, and the index of the draft at fault (if one is) comes back.
pub async fn upsert_many(
    db: &Db,
    limits: ContentLimits,
    drafts: Vec<Draft>,
    terms: Terms,
) -> Result<Vec<Saved>, (Option<usize>, ContentError)> {
    let prepared = tokio::task::spawn_blocking(move || prepare_many(limits, drafts))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    upsert_prepared(db, &prepared, terms).await
}

/// `upsert_many` of drafts already prepared, in one transaction. The writes are batched: authors
/// and categories are resolved once per name, tags, articles, their tags, jobs and activity are
/// written a few statements for all, and the content epoch is bumped once; the outcome is the
/// same as saving the drafts one after the other. On a failure nothing is written, and the
/// index of the draft at fault (if one is) comes back.
pub async fn upsert_prepared(
    db: &Db,
    items: &[Prepared],
    terms: Terms,
) -> Result<Vec<Saved>, (Option<usize>, ContentError)> {
    let db_error = |e| (None, ContentError::from(DbError::from(e)));
    let mut tx = db.pool.begin().await.map_err(db_error)?;
    match save_batch_in(&mut tx, db, items, terms).await {
        Ok(saved) => {
            tx.commit().await.map_err(db_error)?;
            Ok(saved)
        }
        Err((None, ContentError::Db(err))) if err.is_refused_value() => {
            // The database refused a value in a statement for many drafts, naming none of them
            // (a NUL character, which PostgreSQL refuses in text): save them one by one, which
            // names the draft at fault.
            tracing::warn!(error = %err, "A batch write failed; saving its drafts one by one");
            tx.rollback().await.map_err(db_error)?;
            let mut tx = db.pool.begin().await.map_err(db_error)?;
            let mut saved = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let checked = item.checked.as_ref().map_err(|e| (Some(i), e.copy_of_check()))?;
                saved.push(save_in(&mut tx, db, &item.draft, checked, terms, true).await.map_err(|e| (Some(i), e))?);
            }
            tx.commit().await.map_err(db_error)?;
            Ok(saved)
        }
        Err(err) => {
            // Rolled back now rather than when dropped: the caller writes the batch again at once
            // without the draft at fault, and SQLite answers "database is locked" at once (no
            // busy wait) to a transaction that has read and then writes while another
            // connection still holds the write lock.
            let _ = tx.rollback().await;
            Err(err)
        }
    }
}

/// The batched `upsert` of `items` inside the caller's transaction.
async fn save_batch_in(
    tx: &mut sqlx::AnyConnection,
    db: &Db,
    items: &[Prepared],
    terms: Terms,
) -> Result<Vec<Saved>, (Option<usize>, ContentError)> {
    let now = store::now();
    // Checks, authors and categories in the drafts' order, so the draft named on a failure is the
    // first at fault, as when saving one by one; each name is looked up (or created) once.
    let mut authors: HashMap<&str, i64> = HashMap::new();
    let mut categories: HashMap<&str, i64> = HashMap::new();
    let mut resolved = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let checked = item.checked.as_ref().map_err(|e| (Some(i), e.copy_of_check()))?;
        let name = item.draft.author.trim();
        let author_id = match authors.get(name) {
            Some(id) => *id,
            None => {
                let id = resolve_author(tx, name, terms).await.map_err(|e| (Some(i), e))?;
                *authors.entry(name).or_insert(id)
            }
        };
        let category_id = match item.draft.category.as_deref().map(str::trim) {
            None => None,
            Some(name) => Some(match categories.get(name) {
                Some(id) => *id,
                None => {
                    let id = resolve_category(tx, db, name, terms).await.map_err(|e| (Some(i), e))?;
                    *categories.entry(name).or_insert(id)
                }
            }),
        };
        resolved.push((checked, author_id, category_id));
    }
    let all_tags: Vec<(String, String)> = resolved.iter().flat_map(|(c, _, _)| c.tag_slugs.iter().cloned()).collect();
    let tag_ids = queries::ensure_tags(tx, &all_tags).await.map_err(|e| (None, e.into()))?;

    let mut saved = Vec::with_capacity(items.len());
    let mut jobs = StatusJobs::default();
    let mut start = 0;
    while start < items.len() {
        // A run of drafts with distinct slugs is written at once. A draft whose slug the run
        // already holds updates the article an earlier draft wrote, so it starts the next run,
        // written after this one (the one-by-one outcome: that article, updated, with a revision).
        let mut slugs: Vec<String> = Vec::new();
        let mut taken: HashSet<String> = HashSet::new();
        while start + slugs.len() < items.len() {
            let i = start + slugs.len();
            let slug = match &items[i].draft.slug {
                Some(slug) if taken.contains(slug) => break,
                Some(slug) => slug.clone(),
                None => unique_slug(tx, &resolved[i].0.title, &taken).await.map_err(|e| (Some(i), e))?,
            };
            taken.insert(slug.clone());
            slugs.push(slug);
        }
        let end = start + slugs.len();
        let slug_refs: Vec<&str> = slugs.iter().map(String::as_str).collect();
        let existing: HashMap<String, i64> = queries::article_ids_by_slugs(tx, &slug_refs)
            .await
            .map_err(|e| (None, e.into()))?
            .into_iter()
            .map(|(id, slug)| (slug, id))
            .collect();
        let updated: Vec<i64> = existing.values().copied().collect();
        let rows: Vec<ArticleRow<'_>> = (start..end)
            .map(|i| {
                let (checked, author_id, category_id) = resolved[i];
                article_row(&items[i].draft, checked, &slugs[i - start], author_id, category_id, now)
            })
            .collect();
        let batch_error = |e: DbError| (None, ContentError::from(e));
        queries::save_revisions(tx, &updated, now).await.map_err(batch_error)?;
        let ids: HashMap<String, i64> = queries::upsert_articles(tx, &rows, now)
            .await
            .map_err(batch_error)?
            .into_iter()
            .map(|(id, slug)| (slug, id))
            .collect();
        queries::clear_tags(tx, &updated).await.map_err(batch_error)?;
        let mut article_tags = Vec::new();
        for (i, row) in (start..end).zip(&rows) {
            let id =
                *ids.get(row.slug).ok_or_else(|| (None, invalid("slug", format!("{:?} was not written", row.slug))))?;
            article_tags
                .extend(resolved[i].0.tag_slugs.iter().filter_map(|(slug, _)| tag_ids.get(slug)).map(|t| (id, *t)));
            jobs.add(id, row.status, row.scheduled_at, now).map_err(batch_error)?;
            let slug = row.slug.to_string();
            saved.push(if existing.contains_key(row.slug) {
                Saved::Updated { id, slug, status: row.status }
            } else {
                Saved::Created { id, slug, status: row.status }
            });
        }
        queries::add_article_tags(tx, &article_tags).await.map_err(batch_error)?;
        start = end;
    }
    let batch_error = |e: DbError| (None, ContentError::from(e));
    jobs.write(tx).await.map_err(batch_error)?;
    let activity: Vec<(&str, Option<i64>, &str)> =
        saved.iter().map(|s| (s.activity_kind(), Some(s.id()), s.slug())).collect();
    store::record_activity_many(tx, &activity).await.map_err(batch_error)?;
    store::bump_content_epoch(tx).await.map_err(batch_error)?;
    Ok(saved)
}

async fn save(
    db: &Db,
    limits: ContentLimits,
    draft: Draft,
    terms: Terms,
    update_existing: bool,
) -> Result<Saved, ContentError> {
    let checked = check_draft(limits, &draft)?;
    let mut tx = db.pool.begin().await?;
    let saved = save_in(&mut tx, db, &draft, &checked, terms, update_existing).await?;
    tx.commit().await?;
    Ok(saved)
}

/// The checks of `check_text` on a draft, the first failure as the error.
fn check_draft(limits: ContentLimits, draft: &Draft) -> Result<Checked, ContentError> {
    check_text(
        limits,
        &TextInput {
            title: &draft.title,
            slug: draft.slug.as_deref(),
            excerpt: draft.excerpt.as_deref(),
            body_md: &draft.body_md,
            tags: &draft.tags,
        },
    )
    .map_err(first_error)
}

/// Where `publish` leaves an article saved at `now`: status, published and scheduled times.
fn publish_state(publish: Publish, now: i64) -> (Status, Option<i64>, Option<i64>) {
    match publish {
        Publish::Draft => (Status::Draft, None, None),
        Publish::Now => (Status::Published, Some(now), None),
        Publish::At(at) if at <= now => (Status::Published, Some(at), None),
        Publish::At(at) => (Status::Scheduled, None, Some(at)),
    }
}

/// The row `create`, `upsert` and the batches write for a checked draft.
fn article_row<'a>(
    draft: &'a Draft,
    checked: &'a Checked,
    slug: &'a str,
    author_id: i64,
    category_id: Option<i64>,
    now: i64,
) -> ArticleRow<'a> {
    let (status, published_at, scheduled_at) = publish_state(draft.publish, now);
    ArticleRow {
        kind: draft.kind,
        slug,
        title: &checked.title,
        excerpt: &checked.excerpt,
        body_md: &draft.body_md,
        body_html: &checked.rendered.html,
        body_text: &checked.rendered.text,
        reading_minutes: checked.rendered.reading_minutes,
        status,
        author_id,
        category_id,
        featured_image: draft.featured_image.as_deref(),
        published_at,
        scheduled_at,
    }
}

/// `create` or `upsert` inside the caller's transaction.
async fn save_in(
    tx: &mut sqlx::AnyConnection,
    db: &Db,
    draft: &Draft,
    checked: &Checked,
    terms: Terms,
    update_existing: bool,
) -> Result<Saved, ContentError> {
    let now = store::now();
    let author_id = resolve_author(tx, &draft.author, terms).await?;
    let category_id = match &draft.category {
        None => None,
        Some(name) => Some(resolve_category(tx, db, name, terms).await?),
    };
    let tags = queries::ensure_tags(tx, &checked.tag_slugs).await?;
    let tag_ids: Vec<i64> = checked.tag_slugs.iter().filter_map(|(slug, _)| tags.get(slug).copied()).collect();

    let existing = match &draft.slug {
        Some(slug) if update_existing => queries::article_id_by_slug(tx, slug).await?,
        _ => None,
    };
    let slug = match (&draft.slug, existing) {
        (Some(slug), Some(_)) => slug.clone(),
        (Some(slug), None) => {
            if queries::slug_taken(tx, slug, None).await? {
                return Err(invalid("slug", format!("{slug:?} is already used by another article")));
            }
            slug.clone()
        }
        (None, _) => unique_slug(tx, &checked.title, &HashSet::new()).await?,
    };
    let row = article_row(draft, checked, &slug, author_id, category_id, now);
    let replaced = match existing {
        Some(id) => {
            let (_, status) = queries::owner_and_status(tx, id).await?.ok_or_else(|| article_not_found(id))?;
            Some(Replaced::new(id, draft.kind, &slug, status))
        }
        None => None,
    };
    write_core(tx, replaced, &row, &tag_ids, None, now).await
}

/// The article a write replaces, as the write core needs it.
struct Replaced {
    id: i64,
    status: Status,
    /// Its URL, while it is published: a new slug leaves a redirect from it.
    published_path: Option<String>,
}

impl Replaced {
    fn new(id: i64, kind: ArticleKind, slug: &str, status: Status) -> Replaced {
        Replaced { id, status, published_path: (status == Status::Published).then(|| kind.path(slug)) }
    }
}

/// The one write of an article, inside the caller's transaction, whichever way it came (the CLI
/// and imports by name, the desk and the API by id): the row, inserted or updated after keeping
/// the replaced text as a revision; a redirect from the old URL of a published article whose
/// slug changed; its tags; the jobs its status sets off (and a snapshot rebuild when it stops
/// being published); the activity entry (`activity`, or created/updated); the epoch bump.
/// Batched imports (`save_batch_in`) write the same rows and jobs many at a time.
async fn write_core(
    tx: &mut sqlx::AnyConnection,
    replaced: Option<Replaced>,
    row: &ArticleRow<'_>,
    tag_ids: &[i64],
    activity: Option<&'static str>,
    now: i64,
) -> Result<Saved, ContentError> {
    let saved = match &replaced {
        Some(old) => {
            queries::save_revision(tx, old.id, now).await?;
            queries::update_article(tx, old.id, row, now).await?;
            let new_path = row.kind.path(row.slug);
            if let Some(old_path) = old.published_path.as_deref().filter(|path| *path != new_path) {
                // Links to a published article outlive a new slug, as in WordPress: its old URL
                // answers with a 301 (`app::router`'s `moved_permanently` reads `redirects`).
                queries::save_redirect(tx, old_path, &new_path).await?;
            }
            Saved::Updated { id: old.id, slug: row.slug.to_string(), status: row.status }
        }
        None => {
            let id = match queries::insert_article(tx, row, now).await {
                Err(DbError::Conflict(_)) => return Err(invalid("slug", format!("{:?} is already used", row.slug))),
                other => other?,
            };
            Saved::Created { id, slug: row.slug.to_string(), status: row.status }
        }
    };
    queries::set_tags(tx, saved.id(), tag_ids).await?;
    enqueue_for_status(tx, saved.id(), row.status, row.scheduled_at, now).await?;
    if replaced.is_some_and(|old| old.status == Status::Published) && row.status != Status::Published {
        enqueue_snapshot(tx, now).await?;
    }
    store::record_activity(&mut *tx, activity.unwrap_or(saved.activity_kind()), Some(saved.id()), row.slug).await?;
    store::bump_content_epoch(tx).await?;
    Ok(saved)
}

/// What writes that leave articles in a status queue, in their transaction: a scheduled
/// article its publishing job; a published one its IPFS bundle (one job per article, so a burst
/// of edits is bundled once) and, the first time only, its subscribers' notification.
#[derive(Default)]
struct StatusJobs {
    /// Replacing a queued job with the same key.
    replace: Vec<jobs::NewJob>,
    /// Queued only if no job has the key.
    if_absent: Vec<jobs::NewJob>,
}

impl StatusJobs {
    fn add(&mut self, article_id: i64, status: Status, scheduled_at: Option<i64>, now: i64) -> Result<(), DbError> {
        if let (Status::Scheduled, Some(at)) = (status, scheduled_at) {
            let key = format!("publish:{article_id}");
            self.replace.push(jobs::NewJob::new(&PublishScheduled { article_id }, at, Some(key))?);
        }
        if status == Status::Published {
            let key = format!("bundle:{article_id}");
            self.replace.push(jobs::NewJob::new(&BuildBundle { article_id }, now, Some(key))?);
            self.if_absent.push(notification(article_id, now)?);
        }
        Ok(())
    }

    async fn write(self, conn: &mut sqlx::AnyConnection) -> Result<(), DbError> {
        jobs::enqueue_many(&mut *conn, self.replace).await?;
        jobs::ensure_many(conn, self.if_absent).await
    }
}

/// `StatusJobs` of one article.
async fn enqueue_for_status(
    conn: &mut sqlx::AnyConnection,
    article_id: i64,
    status: Status,
    scheduled_at: Option<i64>,
    now: i64,
) -> Result<(), ContentError> {
    let mut jobs = StatusJobs::default();
    jobs.add(article_id, status, scheduled_at, now)?;
    jobs.write(conn).await?;
    Ok(())
}

/// Publishes a draft or scheduled article now.
pub async fn publish_now(db: &Db, slug: &str) -> Result<Status, ContentError> {
    let article = find(db, slug).await?;
    if article.summary.status == Status::Published {
        return Ok(Status::Published);
    }
    let now = store::now();
    let mut tx = db.pool.begin().await?;
    queries::set_status(&mut tx, article.summary.id, Status::Published, Some(now), None, now).await?;
    enqueue_for_status(&mut tx, article.summary.id, Status::Published, None, now).await?;
    store::record_activity(&mut tx, "article.published", Some(article.summary.id), slug).await?;
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await?;
    Ok(Status::Published)
}

/// Publishes a scheduled article when its time has come; a no-op if it was published or
/// unscheduled meanwhile, so running it twice is harmless.
pub async fn publish_scheduled(db: &Db, article_id: i64) -> Result<bool, ContentError> {
    let now = store::now();
    let mut tx = db.pool.begin().await?;
    let changed = queries::publish_if_scheduled(&mut tx, article_id, now).await?;
    if changed {
        enqueue_for_status(&mut tx, article_id, Status::Published, None, now).await?;
        store::record_activity(&mut tx, "article.published", Some(article_id), "scheduled").await?;
        store::bump_content_epoch(&mut tx).await?;
    }
    tx.commit().await?;
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

/// A slug for `title` that no article has and that is not in `also_taken` (slugs given out in
/// the same batch), with a number added when needed.
async fn unique_slug(
    conn: &mut sqlx::AnyConnection,
    title: &str,
    also_taken: &HashSet<String>,
) -> Result<String, ContentError> {
    let base = match slugify(title) {
        s if s.is_empty() => "article".to_string(),
        s => s,
    };
    let mut candidate = base.clone();
    for n in 2.. {
        if !also_taken.contains(&candidate) && !queries::slug_taken(conn, &candidate, None).await? {
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
    let mut tx = db.pool.begin().await?;
    let id = match queries::insert_category(&mut tx, &slug, name, description, store::now()).await {
        Ok(id) => id,
        Err(DbError::Conflict(_)) => return Err(invalid("name", format!("category {name:?} already exists"))),
        Err(err) => return Err(err.into()),
    };
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await?;
    Ok(Category { id, slug, name: name.to_string(), description: description.to_string() })
}

// ---------------------------------------------------------------------------------------------
// The admin desk and the API: writes on behalf of a signed-in user, checked against their role.

/// Who is acting. Every admin and API write takes one, so both get the same rules.
#[derive(Debug, Clone, Copy)]
pub struct Actor {
    pub user_id: i64,
    pub role: Role,
}

/// An article as the editor form (or an API body) gives it. Empty strings mean "none": an empty
/// slug is derived from the title (or kept, when editing), an empty excerpt is derived from the body.
#[derive(Debug, Clone, Default)]
pub struct ArticleEdit {
    pub title: String,
    pub slug: String,
    pub excerpt: String,
    pub body_md: String,
    pub category_id: Option<i64>,
    pub tags: Vec<String>,
    pub featured_image: String,
}

/// Where a save leaves the article's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// As it is (a new article is a draft): "Save draft" on a draft, "Update" on a published one.
    Keep,
    /// Back to draft (unpublish).
    Draft,
    Publish,
    /// Published by the job at that time, which must be in the future.
    Schedule(i64),
}

/// A status change without an edit (the list's row actions, the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Publish,
    Schedule(i64),
    Unpublish,
    Trash,
    /// Out of the trash, as a draft.
    Restore,
}

pub const MAX_IMAGE_URL_CHARS: usize = 2000;

fn forbidden(message: impl Into<String>) -> ContentError {
    ContentError::Forbidden(message.into())
}

fn article_not_found(id: i64) -> ContentError {
    ContentError::NotFound(format!("#{id}"))
}

fn require(actor: &Actor, capability: Capability, what: &str) -> Result<(), ContentError> {
    if actor.role.can(capability) {
        Ok(())
    } else {
        Err(forbidden(format!("You are not allowed to {what}.")))
    }
}

/// May `actor` change the text of an article by `author_id` that is `status`? Contributors edit
/// their own drafts only; authors their own articles; editors and admins everyone's.
fn may_edit(actor: &Actor, author_id: i64, status: Status) -> Result<(), ContentError> {
    if author_id != actor.user_id {
        return require(actor, Capability::EditOthers, "edit other people's articles");
    }
    require(actor, Capability::WriteDrafts, "write articles")?;
    if status != Status::Draft && !actor.role.can(Capability::PublishOwn) {
        return Err(forbidden("You are not allowed to edit an article once it is scheduled, published or trashed."));
    }
    Ok(())
}

/// May `actor` publish, schedule, unpublish, trash or restore an article by `author_id`?
fn may_change_status(actor: &Actor, author_id: i64) -> Result<(), ContentError> {
    if author_id == actor.user_id {
        require(actor, Capability::PublishOwn, "publish, schedule, unpublish or trash articles")
    } else {
        require(actor, Capability::EditOthers, "publish, schedule, unpublish or trash other people's articles")
    }
}

/// Every faulty field of an edit, each with its message (empty when it may be saved; the
/// database checks — a taken slug, an unknown category — come on save).
pub fn check_edit(limits: ContentLimits, edit: &ArticleEdit) -> Vec<ContentError> {
    let mut errors = check_text(limits, &text_input(edit)).err().unwrap_or_default();
    if let Err(err) = check_image_url(&edit.featured_image) {
        errors.push(err);
    }
    errors
}

fn text_input(edit: &ArticleEdit) -> TextInput<'_> {
    TextInput {
        title: &edit.title,
        slug: Some(edit.slug.trim()).filter(|s| !s.is_empty()),
        excerpt: Some(edit.excerpt.as_str()),
        body_md: &edit.body_md,
        tags: &edit.tags,
    }
}

/// A featured image is a site path (`/media/…`) or an http(s) URL, without spaces or quotes.
fn check_image_url(url: &str) -> Result<(), ContentError> {
    let url = url.trim();
    let ok = url.is_empty()
        || (url.chars().count() <= MAX_IMAGE_URL_CHARS
            && (url.starts_with('/') && !url.starts_with("//")
                || url.starts_with("https://")
                || url.starts_with("http://"))
            && !url.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'<>`".contains(c)));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "featured_image",
            format!("must be a path on this site (/…) or an http(s) URL, at most {MAX_IMAGE_URL_CHARS} characters"),
        ))
    }
}

/// Markdown rendered exactly as the site renders it (sanitised), for the editor's live preview.
pub fn preview(limits: ContentLimits, body_md: &str) -> Result<String, ContentError> {
    if body_md.len() > limits.max_article_bytes {
        return Err(ContentError::TooLarge { field: "body", size: body_md.len(), limit: limits.max_article_bytes });
    }
    Ok(markdown::render(body_md).html)
}

/// The status, dates and jobs a transition leads to from `current`.
fn transition_to(
    transition: Transition,
    current: Option<(Status, Option<i64>, Option<i64>)>,
    now: i64,
) -> Result<(Status, Option<i64>, Option<i64>), ContentError> {
    Ok(match transition {
        Transition::Keep => current.unwrap_or((Status::Draft, None, None)),
        Transition::Draft => (Status::Draft, None, None),
        Transition::Publish => match current {
            Some((Status::Published, published_at, _)) => (Status::Published, published_at, None),
            _ => (Status::Published, Some(now), None),
        },
        Transition::Schedule(at) if at <= now => return Err(invalid("publish_at", "must be in the future")),
        Transition::Schedule(at) => (Status::Scheduled, None, Some(at)),
    })
}

/// Creates an article by `actor`.
pub async fn create_article(
    db: &Db,
    limits: ContentLimits,
    actor: &Actor,
    kind: ArticleKind,
    edit: &ArticleEdit,
    transition: Transition,
) -> Result<Saved, ContentError> {
    require(actor, Capability::WriteDrafts, "write articles")?;
    write_article(db, limits, actor, None, kind, edit, transition).await
}

/// Saves an edit of article `id`, keeping the previous text as a revision.
pub async fn update_article(
    db: &Db,
    limits: ContentLimits,
    actor: &Actor,
    id: i64,
    edit: &ArticleEdit,
    transition: Transition,
) -> Result<Saved, ContentError> {
    write_article(db, limits, actor, Some(id), ArticleKind::Post, edit, transition).await
}

async fn write_article(
    db: &Db,
    limits: ContentLimits,
    actor: &Actor,
    id: Option<i64>,
    kind: ArticleKind,
    edit: &ArticleEdit,
    transition: Transition,
) -> Result<Saved, ContentError> {
    if transition != Transition::Keep && transition != Transition::Draft {
        // Checked before the text so a contributor is told the rule, not a field message.
        require(actor, Capability::PublishOwn, "publish or schedule articles")?;
    }
    let Checked { title, tag_slugs, rendered, excerpt } = check_text(limits, &text_input(edit)).map_err(first_error)?;
    check_image_url(&edit.featured_image)?;
    let featured_image = Some(edit.featured_image.trim()).filter(|u| !u.is_empty());
    let wanted_slug = Some(edit.slug.trim()).filter(|s| !s.is_empty());
    let now = store::now();
    let before = match id {
        Some(id) => Some(queries::find_by_id(db, id).await.map_err(|e| not_found_as(e, id))?),
        None => None,
    };

    let mut tx = db.pool.begin().await?;
    let current = match (id, before) {
        (Some(id), Some(article)) => {
            // Read again inside the transaction: the rules apply to the row being changed.
            let (author_id, status) =
                queries::owner_and_status(&mut tx, id).await?.ok_or_else(|| article_not_found(id))?;
            may_edit(actor, author_id, status)?;
            if status == Status::Trashed {
                return Err(invalid("status", "restore the article from the trash before editing it"));
            }
            let stays_draft = status == Status::Draft && matches!(transition, Transition::Keep | Transition::Draft);
            if !stays_draft {
                may_change_status(actor, author_id)?;
            }
            Some((article, author_id))
        }
        _ => None,
    };
    if let Some(category_id) = edit.category_id {
        if !queries::category_exists(&mut tx, category_id).await? {
            return Err(invalid("category", format!("no category with id {category_id}")));
        }
    }
    let slug = match (wanted_slug, &current) {
        (Some(slug), _) => {
            if queries::slug_taken(&mut tx, slug, id).await? {
                return Err(invalid("slug", format!("{slug:?} is already used by another article")));
            }
            slug.to_string()
        }
        (None, Some((article, _))) => article.summary.slug.clone(),
        (None, None) => unique_slug(&mut tx, &title, &HashSet::new()).await?,
    };
    let was = current.as_ref().map(|(a, _)| (a.summary.status, a.summary.published_at, a.summary.scheduled_at));
    let (status, published_at, scheduled_at) = transition_to(transition, was, now)?;
    let mut tag_ids = Vec::with_capacity(tag_slugs.len());
    for (tag_slug, name) in &tag_slugs {
        tag_ids.push(queries::ensure_tag(&mut tx, tag_slug, name).await?);
    }
    let row = ArticleRow {
        kind: current.as_ref().map_or(kind, |(a, _)| a.summary.kind),
        slug: &slug,
        title: &title,
        excerpt: &excerpt,
        body_md: &edit.body_md,
        body_html: &rendered.html,
        body_text: &rendered.text,
        reading_minutes: rendered.reading_minutes,
        status,
        author_id: current.as_ref().map_or(actor.user_id, |(_, author)| *author),
        category_id: edit.category_id,
        featured_image,
        published_at,
        scheduled_at,
    };
    let replaced = current.as_ref().map(|(article, _)| {
        let s = &article.summary;
        Replaced::new(s.id, s.kind, &s.slug, s.status)
    });
    let newly_published = was.is_some_and(|(s, _, _)| s != Status::Published) && status == Status::Published;
    let activity = newly_published.then_some("article.published");
    let saved = write_core(&mut tx, replaced, &row, &tag_ids, activity, now).await?;
    queries::delete_autosave(&mut tx, saved.id(), actor.user_id).await?;
    tx.commit().await?;
    Ok(saved)
}

/// The site's IPFS snapshot lists published articles: one that stops being published is
/// dropped from it at the next rebuild (coalesced with the snapshot job bundles queue).
async fn enqueue_snapshot(conn: &mut sqlx::AnyConnection, now: i64) -> Result<(), ContentError> {
    jobs::enqueue(conn, &BuildSnapshot, now + 2, Some("ipfs.snapshot")).await?;
    Ok(())
}

fn not_found_as(err: DbError, id: i64) -> ContentError {
    match err {
        DbError::NotFound => article_not_found(id),
        other => other.into(),
    }
}

/// Publishes, schedules, unpublishes, trashes or restores article `id`.
pub async fn change_status(db: &Db, actor: &Actor, id: i64, change: StatusChange) -> Result<Status, ContentError> {
    let now = store::now();
    let mut tx = db.pool.begin().await?;
    let (author_id, was) = queries::owner_and_status(&mut tx, id).await?.ok_or_else(|| article_not_found(id))?;
    may_change_status(actor, author_id)?;
    let (status, published_at, scheduled_at, activity) = match (change, was) {
        (StatusChange::Restore, Status::Trashed) => (Status::Draft, None, None, "article.restored"),
        (StatusChange::Restore, _) => return Err(invalid("status", "only an article in the trash can be restored")),
        (_, Status::Trashed) => return Err(invalid("status", "restore the article from the trash first")),
        (StatusChange::Publish, Status::Published) => return Ok(Status::Published),
        (StatusChange::Publish, _) => (Status::Published, Some(now), None, "article.published"),
        (StatusChange::Schedule(at), _) if at <= now => return Err(invalid("publish_at", "must be in the future")),
        (StatusChange::Schedule(at), _) => (Status::Scheduled, None, Some(at), "article.scheduled"),
        (StatusChange::Unpublish, Status::Draft) => return Ok(Status::Draft),
        (StatusChange::Unpublish, _) => (Status::Draft, None, None, "article.unpublished"),
        (StatusChange::Trash, _) => (Status::Trashed, None, None, "article.trashed"),
    };
    queries::set_status(&mut tx, id, status, published_at, scheduled_at, now).await?;
    enqueue_for_status(&mut tx, id, status, scheduled_at, now).await?;
    if was == Status::Published && status != Status::Published {
        enqueue_snapshot(&mut tx, now).await?;
    }
    store::record_activity(&mut tx, activity, Some(id), status.as_str()).await?;
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await?;
    Ok(status)
}

/// An article for the editor, if `actor` may see it there (their own, or anyone's for editors).
pub async fn article_for_edit(db: &Db, actor: &Actor, id: i64) -> Result<Article, ContentError> {
    let article = queries::find_by_id(db, id).await.map_err(|e| not_found_as(e, id))?;
    let mut conn = db.pool.acquire().await?;
    let (author_id, _) = queries::owner_and_status(&mut conn, id).await?.ok_or_else(|| article_not_found(id))?;
    if author_id != actor.user_id {
        require(actor, Capability::EditOthers, "see other people's articles")?;
    }
    Ok(article)
}

/// One page of the admin's article list; contributors and authors see their own articles only.
pub async fn admin_list(
    db: &Db,
    actor: &Actor,
    mut filter: AdminFilter,
    page: u32,
    per_page: u32,
) -> Result<Page<ArticleSummary>, ContentError> {
    require(actor, Capability::WriteDrafts, "see articles")?;
    if !actor.role.can(Capability::EditOthers) {
        filter.author_id = Some(actor.user_id);
    }
    let offset = (page.max(1) as i64 - 1) * per_page as i64;
    let (items, total) = queries::admin_list(db, &filter, per_page as i64, offset).await?;
    let total_pages = (total as u64).div_ceil(per_page as u64).max(1) as u32;
    Ok(Page { items, page, total_pages, total_items: total })
}

/// Stores `actor`'s autosave of article `id`, apart from the article: it publishes nothing and
/// leaves the live text alone. Pages do not change, so the content epoch is not bumped (that
/// would empty every node's page cache every few seconds while someone types).
pub async fn autosave(
    db: &Db,
    limits: ContentLimits,
    actor: &Actor,
    id: i64,
    title: &str,
    excerpt: &str,
    body_md: &str,
) -> Result<Autosave, ContentError> {
    if body_md.len() > limits.max_article_bytes {
        return Err(ContentError::TooLarge { field: "body", size: body_md.len(), limit: limits.max_article_bytes });
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(invalid("title", format!("must be at most {MAX_TITLE_CHARS} characters")));
    }
    if excerpt.chars().count() > MAX_EXCERPT_CHARS {
        return Err(invalid("excerpt", format!("must be at most {MAX_EXCERPT_CHARS} characters")));
    }
    let mut tx = db.pool.begin().await?;
    let (author_id, status) = queries::owner_and_status(&mut tx, id).await?.ok_or_else(|| article_not_found(id))?;
    may_edit(actor, author_id, status)?;
    let saved = Autosave {
        article_id: id,
        title: title.to_string(),
        excerpt: excerpt.to_string(),
        body_md: body_md.to_string(),
        saved_at: store::now(),
    };
    queries::save_autosave(&mut tx, actor.user_id, &saved).await?;
    tx.commit().await?;
    Ok(saved)
}

/// `actor`'s autosave of article `id`, if newer than the article's last save.
pub async fn pending_autosave(db: &Db, actor: &Actor, article: &Article) -> Result<Option<Autosave>, ContentError> {
    let autosave = queries::autosave(db, article.summary.id, actor.user_id).await?;
    Ok(autosave.filter(|a| a.saved_at >= article.summary.updated_at))
}

/// An article's earlier versions, newest first.
pub async fn revisions(db: &Db, actor: &Actor, id: i64) -> Result<(Article, Vec<Revision>), ContentError> {
    let article = article_for_edit(db, actor, id).await?;
    let revisions = queries::revisions(db, id).await?;
    Ok((article, revisions))
}

/// One side of a comparison: an earlier version or the article as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Revision(i64),
    Current,
}

/// The text a diff compares: title and excerpt as header lines, then the body.
fn diff_text(title: &str, excerpt: &str, body_md: &str) -> String {
    let mut text = format!("Title: {title}\nExcerpt: {excerpt}\n\n{body_md}");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

async fn version_text(db: &Db, article: &Article, version: Version) -> Result<String, ContentError> {
    Ok(match version {
        Version::Current => diff_text(&article.summary.title, &article.summary.excerpt, &article.body_md),
        Version::Revision(rev) => {
            let r = queries::revision(db, article.summary.id, rev).await.map_err(|e| match e {
                DbError::NotFound => ContentError::NotFound(format!("revision {rev}")),
                other => other.into(),
            })?;
            diff_text(&r.title, &r.excerpt, &r.body_md)
        }
    })
}

/// A line diff from one version of article `id` to another.
pub async fn diff(db: &Db, actor: &Actor, id: i64, from: Version, to: Version) -> Result<Vec<DiffLine>, ContentError> {
    let article = article_for_edit(db, actor, id).await?;
    let old = version_text(db, &article, from).await?;
    let new = version_text(db, &article, to).await?;
    Ok(line_diff(&old, &new))
}

fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    use similar::{ChangeTag, TextDiff};
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .map(|change| DiffLine {
            op: match change.tag() {
                ChangeTag::Equal => "equal",
                ChangeTag::Insert => "insert",
                ChangeTag::Delete => "delete",
            },
            text: change.value().trim_end_matches('\n').to_string(),
        })
        .collect()
}

/// Makes revision `revision_id` the article's text again; the text it replaces becomes a
/// revision in turn, so nothing is lost. Status, slug and terms stay as they are.
pub async fn restore_revision(db: &Db, actor: &Actor, id: i64, revision_id: i64) -> Result<(), ContentError> {
    let revision = queries::revision(db, id, revision_id).await.map_err(|e| match e {
        DbError::NotFound => ContentError::NotFound(format!("revision {revision_id}")),
        other => other.into(),
    })?;
    let rendered = markdown::render(&revision.body_md);
    let now = store::now();
    let mut tx = db.pool.begin().await?;
    let (author_id, status) = queries::owner_and_status(&mut tx, id).await?.ok_or_else(|| article_not_found(id))?;
    may_edit(actor, author_id, status)?;
    queries::save_revision(&mut tx, id, now).await?;
    let text = queries::TextRow {
        title: &revision.title,
        excerpt: &revision.excerpt,
        body_md: &revision.body_md,
        body_html: &rendered.html,
        body_text: &rendered.text,
        reading_minutes: rendered.reading_minutes,
    };
    queries::set_text(&mut tx, id, &text, now).await?;
    enqueue_for_status(&mut tx, id, status, None, now).await?;
    store::record_activity(&mut tx, "article.revision_restored", Some(id), &revision_id.to_string()).await?;
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// A category as the categories form gives it.
#[derive(Debug, Clone, Default)]
pub struct CategoryEdit {
    pub name: String,
    /// Empty: derived from the name.
    pub slug: String,
    pub description: String,
    pub parent_id: Option<i64>,
}

pub const MAX_DESCRIPTION_CHARS: usize = 2000;

fn check_category(edit: &CategoryEdit) -> Result<(String, String), Vec<ContentError>> {
    let mut errors = Vec::new();
    let name = edit.name.trim();
    if name.is_empty() || edit.name.chars().count() > MAX_TERM_CHARS || slugify(name).is_empty() {
        errors.push(invalid("name", format!("must be 1–{MAX_TERM_CHARS} characters with a letter or digit")));
    }
    let slug = match edit.slug.trim() {
        "" => slugify(name),
        given => given.to_string(),
    };
    if !slug.is_empty() {
        if let Err(err) = validate_slug(&slug) {
            errors.push(err);
        }
    }
    if edit.description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(invalid("description", format!("must be at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    if errors.is_empty() {
        Ok((name.to_string(), slug))
    } else {
        Err(errors)
    }
}

/// Every faulty field of a category form.
pub fn check_category_edit(edit: &CategoryEdit) -> Vec<ContentError> {
    check_category(edit).err().unwrap_or_default()
}

pub async fn category_entries(db: &Db) -> Result<Vec<CategoryEntry>, ContentError> {
    Ok(queries::category_entries(db).await?)
}

/// Creates (`id: None`) or changes a category.
pub async fn save_category(
    db: &Db,
    actor: &Actor,
    id: Option<i64>,
    edit: &CategoryEdit,
) -> Result<CategoryEntry, ContentError> {
    require(actor, Capability::ManageTerms, "manage categories")?;
    let (name, slug) = check_category(edit).map_err(first_error)?;
    let description = edit.description.trim().to_string();
    let mut tx = db.pool.begin().await?;
    if let Some(parent) = edit.parent_id {
        let parents = queries::category_parents(&mut tx).await?;
        if !parents.iter().any(|(c, _)| *c == parent) {
            return Err(invalid("parent", format!("no category with id {parent}")));
        }
        // Walking up from the new parent must not reach the category itself.
        let mut at = Some(parent);
        let mut steps = 0;
        while let Some(current) = at {
            if Some(current) == id || steps > parents.len() {
                return Err(invalid("parent", "a category cannot be filed under itself or one of its subcategories"));
            }
            at = parents.iter().find(|(c, _)| *c == current).and_then(|(_, p)| *p);
            steps += 1;
        }
    }
    let conflict = |e: DbError| match e {
        DbError::Conflict(what) if what.contains("slug") => invalid("slug", format!("{slug:?} is already used")),
        DbError::Conflict(_) => invalid("name", format!("a category named {name:?} already exists")),
        other => other.into(),
    };
    let mut entry = CategoryEntry {
        category: Category { id: 0, slug: slug.clone(), name: name.clone(), description: description.clone() },
        parent_id: edit.parent_id,
        articles: 0,
    };
    match id {
        Some(id) => {
            if !queries::update_category(&mut tx, id, &entry).await.map_err(conflict)? {
                return Err(ContentError::NotFound(format!("category {id}")));
            }
            entry.category.id = id;
        }
        None => {
            let new_id =
                queries::insert_category(&mut tx, &slug, &name, &description, store::now()).await.map_err(conflict)?;
            queries::set_category_parent(&mut tx, new_id, edit.parent_id).await?;
            entry.category.id = new_id;
        }
    }
    store::record_activity(&mut tx, "category.saved", Some(entry.category.id), &slug).await?;
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Deletes a category; its articles become uncategorised, its subcategories move up a level.
pub async fn delete_category(db: &Db, actor: &Actor, id: i64) -> Result<(), ContentError> {
    require(actor, Capability::ManageTerms, "manage categories")?;
    let mut tx = db.pool.begin().await?;
    if !queries::delete_category(&mut tx, id).await? {
        return Err(ContentError::NotFound(format!("category {id}")));
    }
    store::record_activity(&mut tx, "category.deleted", Some(id), "").await?;
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Every tag, counting articles of any status (for the desk).
pub async fn tag_entries(db: &Db) -> Result<Vec<TagEntry>, ContentError> {
    Ok(queries::tag_entries(db, false).await?)
}

/// The tags of published articles, counting only those (for anonymous readers).
pub async fn public_tag_entries(db: &Db) -> Result<Vec<TagEntry>, ContentError> {
    Ok(queries::tag_entries(db, true).await?)
}

/// Renames a tag; an empty `slug` is derived from the name.
pub async fn rename_tag(db: &Db, actor: &Actor, id: i64, name: &str, slug: &str) -> Result<(), ContentError> {
    require(actor, Capability::ManageTerms, "manage tags")?;
    let (sent, name) = (name, name.trim());
    if name.is_empty() || sent.chars().count() > MAX_TERM_CHARS || slugify(name).is_empty() {
        return Err(invalid("name", format!("must be 1–{MAX_TERM_CHARS} characters with a letter or digit")));
    }
    let slug = match slug.trim() {
        "" => slugify(name),
        given => given.to_string(),
    };
    validate_slug(&slug)?;
    let mut tx = db.pool.begin().await?;
    match queries::rename_tag(&mut tx, id, &slug, name).await {
        Ok(true) => {}
        Ok(false) => return Err(ContentError::NotFound(format!("tag {id}"))),
        Err(DbError::Conflict(_)) => {
            return Err(invalid("slug", format!("{slug:?} is another tag's; merge the two instead")))
        }
        Err(err) => return Err(err.into()),
    }
    store::record_activity(&mut tx, "tag.renamed", Some(id), &slug).await?;
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes tag `id` (`into: None`), or merges it into tag `into`: its articles get that tag.
pub async fn delete_tag(db: &Db, actor: &Actor, id: i64, into: Option<i64>) -> Result<(), ContentError> {
    require(actor, Capability::ManageTerms, "manage tags")?;
    if into == Some(id) {
        return Err(invalid("into", "a tag cannot be merged into itself"));
    }
    if let Some(into) = into {
        if !queries::tag_entries(db, false).await?.iter().any(|t| t.id == into) {
            return Err(invalid("into", format!("no tag with id {into}")));
        }
    }
    let mut tx = db.pool.begin().await?;
    let done = match into {
        Some(into) => queries::merge_tag(&mut tx, id, into).await?,
        None => queries::delete_tag(&mut tx, id).await?,
    };
    if !done {
        return Err(ContentError::NotFound(format!("tag {id}")));
    }
    store::record_activity(&mut tx, if into.is_some() { "tag.merged" } else { "tag.deleted" }, Some(id), "").await?;
    store::bump_content_epoch(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads for the JSON API (`content::api`).

/// Any article by id, whatever its status; callers decide who may see it.
pub async fn find_by_id(db: &Db, id: i64) -> Result<Article, ContentError> {
    queries::find_by_id(db, id).await.map_err(|e| not_found_as(e, id))
}

/// The admin list's filters over published articles and pages only: what anonymous API callers see.
pub async fn public_list(
    db: &Db,
    mut filter: AdminFilter,
    page: u32,
    per_page: u32,
) -> Result<Page<ArticleSummary>, ContentError> {
    filter.status = Some(Status::Published);
    let offset = (page.max(1) as i64 - 1) * per_page as i64;
    let (items, total) = queries::admin_list(db, &filter, per_page as i64, offset).await?;
    let total_pages = (total as u64).div_ceil(per_page.max(1) as u64).max(1) as u32;
    Ok(Page { items, page, total_pages, total_items: total })
}

/// The id of the tag with this slug, if any.
pub async fn tag_id_by_slug(db: &Db, slug: &str) -> Result<Option<i64>, ContentError> {
    match queries::tag_by_slug(db, slug).await {
        Ok((id, _)) => Ok(Some(id)),
        Err(DbError::NotFound) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The id of the category with this slug, if any.
pub async fn category_id_by_slug(db: &Db, slug: &str) -> Result<Option<i64>, ContentError> {
    match queries::category_by_slug(db, slug).await {
        Ok(category) => Ok(Some(category.id)),
        Err(DbError::NotFound) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Where an old URL (an imported site's permalink) lives now, if anywhere.
pub async fn redirect_for(db: &Db, path: &str) -> Result<Option<String>, DbError> {
    if let Some(found) = queries::redirect(db, path).await? {
        return Ok(Some(found));
    }
    // WordPress permalinks end in `/`; links to them are often written without it, and vice versa.
    let other = match path.strip_suffix('/') {
        Some(bare) => bare.to_string(),
        None => format!("{path}/"),
    };
    queries::redirect(db, &other).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_decide_edits_and_status_changes() {
        let contributor = Actor { user_id: 1, role: Role::Contributor };
        let author = Actor { user_id: 2, role: Role::Author };
        let editor = Actor { user_id: 3, role: Role::Editor };
        assert!(may_edit(&contributor, 1, Status::Draft).is_ok());
        assert!(matches!(may_edit(&contributor, 1, Status::Published), Err(ContentError::Forbidden(_))));
        assert!(may_edit(&contributor, 2, Status::Draft).is_err());
        assert!(may_change_status(&contributor, 1).is_err());
        assert!(may_edit(&author, 2, Status::Published).is_ok() && may_change_status(&author, 2).is_ok());
        assert!(may_edit(&author, 1, Status::Draft).is_err() && may_change_status(&author, 1).is_err());
        assert!(may_edit(&editor, 1, Status::Published).is_ok() && may_change_status(&editor, 2).is_ok());
    }

    #[test]
    fn transitions_keep_or_set_dates() {
        let now = 1_000;
        let published = Some((Status::Published, Some(500), None));
        assert_eq!(transition_to(Transition::Keep, None, now).unwrap(), (Status::Draft, None, None));
        assert_eq!(transition_to(Transition::Keep, published, now).unwrap(), (Status::Published, Some(500), None));
        assert_eq!(transition_to(Transition::Publish, published, now).unwrap().1, Some(500), "date kept");
        assert_eq!(transition_to(Transition::Publish, None, now).unwrap(), (Status::Published, Some(now), None));
        assert_eq!(
            transition_to(Transition::Schedule(2_000), None, now).unwrap(),
            (Status::Scheduled, None, Some(2_000))
        );
        assert!(transition_to(Transition::Schedule(now), None, now).is_err(), "not in the future");
    }

    #[test]
    fn featured_images_are_site_paths_or_web_urls() {
        for ok in ["", "/media/bafy/x.png", "https://example.org/a.jpg", "http://example.org/a.jpg"] {
            assert!(check_image_url(ok).is_ok(), "{ok}");
        }
        for bad in ["javascript:alert(1)", "//evil.example/x.png", "/a b.png", "/a\".png", "data:image/png;base64,AA"] {
            assert_eq!(check_image_url(bad).unwrap_err().field(), Some("featured_image"), "{bad}");
        }
    }

    #[test]
    fn diffs_are_by_line() {
        let lines = line_diff("a\nb\nc\n", "a\nB\nc\n");
        let ops: Vec<(&str, &str)> = lines.iter().map(|l| (l.op, l.text.as_str())).collect();
        assert_eq!(ops, [("equal", "a"), ("delete", "b"), ("insert", "B"), ("equal", "c")]);
    }
}
