//! The one write of an article (`write_core`) and what every write path shares: slugs, authors
//! and categories resolved by name, the jobs a status sets off, status changes.

use std::collections::HashSet;

use crate::accounts::{self, NewUser, Role};
use crate::content::jobs::{federation, notification, BuildBundle, BuildSnapshot, PublishScheduled};
use crate::content::queries;
use crate::content::queries::write::{ArticleRow, Links};
use crate::jobs;
use crate::store::{self, ContentChange, Db, DbError};

use super::reading::find;
use super::*;

/// The article a write replaces, as the write core needs it.
pub(super) struct Replaced {
    id: i64,
    status: Status,
    /// Its URL, while it is published: a new slug leaves a redirect from it.
    published_path: Option<String>,
}

impl Replaced {
    pub(super) fn new(id: i64, kind: ArticleKind, slug: &str, status: Status) -> Replaced {
        Replaced { id, status, published_path: (status == Status::Published).then(|| kind.path(slug)) }
    }
}

/// The one write of an article, inside the caller's transaction, whichever way it came (the CLI
/// and imports by name, the desk and the API by id): the row, inserted or updated after keeping
/// the replaced text as a revision; a redirect from the old URL of a published article whose
/// slug changed; its tags; the jobs its status sets off (and a snapshot rebuild when it stops
/// being published); the activity entry (`activity`, or created/updated); the epoch bump.
/// Batched imports (`save_batch_in`) write the same rows and jobs many at a time.
/// What an article is filed under: its tags, its categories (the primary one first), and
/// whether it is a lead story.
pub(super) struct Filing<'a> {
    pub(super) tag_ids: &'a [i64],
    pub(super) category_ids: &'a [i64],
    pub(super) lead: bool,
}

pub(super) async fn write_core(
    tx: &mut sqlx::AnyConnection,
    replaced: Option<Replaced>,
    row: &ArticleRow<'_>,
    filing: Filing<'_>,
    activity: Option<&'static str>,
    now: i64,
) -> Result<Saved, ContentError> {
    let saved = match &replaced {
        Some(old) => {
            queries::revisions::save_revision(tx, old.id, now).await?;
            queries::write::update_article(tx, old.id, row, now).await?;
            let new_path = row.kind.path(row.slug);
            if let Some(old_path) = old.published_path.as_deref().filter(|path| *path != new_path) {
                // Links to a published article outlive a new slug, as in WordPress: its old URL
                // answers with a 301 (`app::router`'s `moved_permanently` reads `redirects`).
                queries::write::save_redirect(tx, old_path, &new_path).await?;
            }
            Saved::Updated { id: old.id, slug: row.slug.to_string(), status: row.status }
        }
        None => {
            let id = match queries::write::insert_article(tx, row, now).await {
                Err(DbError::Conflict(_)) => return Err(invalid("slug", format!("{:?} is already used", row.slug))),
                other => other?,
            };
            Saved::Created { id, slug: row.slug.to_string(), status: row.status }
        }
    };
    queries::write::set_links(tx, Links::Tags, saved.id(), filing.tag_ids).await?;
    queries::write::set_links(tx, Links::Categories, saved.id(), filing.category_ids).await?;
    queries::write::set_lead_stories(tx, &[saved.id()], filing.lead).await?;
    enqueue_for_status(tx, saved.id(), row.status, row.scheduled_at, now).await?;
    if replaced.is_some_and(|old| old.status == Status::Published) && row.status != Status::Published {
        enqueue_unpublished(tx, saved.id(), now).await?;
    }
    store::record_activity(&mut *tx, activity.unwrap_or(saved.activity_kind()), Some(saved.id()), row.slug).await?;
    store::bump_content_epoch(tx, &[ContentChange::Article(saved.id())]).await?;
    Ok(saved)
}

/// What writes that leave articles in a status queue, in their transaction: a scheduled
/// article its publishing job; a published one its IPFS bundle and its federation (one job of
/// each per article, so a burst of edits is bundled and sent once) and, the first time only,
/// its subscribers' notification.
#[derive(Default)]
pub(super) struct StatusJobs {
    /// Replacing a queued job with the same key.
    replace: Vec<jobs::NewJob>,
    /// Queued only if no job has the key.
    if_absent: Vec<jobs::NewJob>,
}

impl StatusJobs {
    pub(super) fn add(
        &mut self,
        article_id: i64,
        status: Status,
        scheduled_at: Option<i64>,
        now: i64,
    ) -> Result<(), DbError> {
        if let (Status::Scheduled, Some(at)) = (status, scheduled_at) {
            let key = format!("publish:{article_id}");
            self.replace.push(jobs::NewJob::new(&PublishScheduled { article_id }, at, Some(key))?);
        }
        if status == Status::Published {
            let key = format!("bundle:{article_id}");
            self.replace.push(jobs::NewJob::new(&BuildBundle { article_id }, now, Some(key))?);
            self.replace.push(federation(article_id, now)?);
            self.if_absent.push(notification(article_id, now)?);
        }
        Ok(())
    }

    /// The federation of an article that may have stopped being published (a batch does not
    /// know what each replaced row was): its job sends a `Delete` only if it was sent.
    pub(super) fn maybe_unpublished(&mut self, article_id: i64, now: i64) -> Result<(), DbError> {
        self.replace.push(federation(article_id, now)?);
        Ok(())
    }

    pub(super) async fn write(self, conn: &mut sqlx::AnyConnection) -> Result<(), DbError> {
        jobs::enqueue_many(&mut *conn, self.replace).await?;
        jobs::ensure_many(conn, self.if_absent).await
    }
}

/// `StatusJobs` of one article.
pub(super) async fn enqueue_for_status(
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
    let mut tx = db.begin().await?;
    queries::write::set_status(&mut tx, article.summary.id, Status::Published, Some(now), None, now).await?;
    enqueue_for_status(&mut tx, article.summary.id, Status::Published, None, now).await?;
    store::record_activity(&mut tx, "article.published", Some(article.summary.id), slug).await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::Article(article.summary.id)]).await?;
    tx.commit().await?;
    Ok(Status::Published)
}

/// Publishes a scheduled article when its time has come; a no-op if it was published or
/// unscheduled meanwhile, so running it twice is harmless.
pub async fn publish_scheduled(db: &Db, article_id: i64) -> Result<bool, ContentError> {
    let now = store::now();
    let mut tx = db.begin().await?;
    let changed = queries::write::publish_if_scheduled(&mut tx, article_id, now).await?;
    if changed {
        enqueue_for_status(&mut tx, article_id, Status::Published, None, now).await?;
        store::record_activity(&mut tx, "article.published", Some(article_id), "scheduled").await?;
        store::bump_content_epoch(&mut tx, &[ContentChange::Article(article_id)]).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// A slug for `title` that no article has and that is not in `also_taken` (slugs given out in
/// the same batch), with a number added when needed.
pub(super) async fn unique_slug(
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
        if !also_taken.contains(&candidate) && !queries::write::slug_taken(conn, &candidate, None).await? {
            break;
        }
        candidate = format!("{base}-{n}");
    }
    Ok(candidate)
}

pub(super) async fn resolve_author(
    conn: &mut sqlx::AnyConnection,
    name: &str,
    terms: Terms,
) -> Result<i64, ContentError> {
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

pub(super) async fn resolve_category(
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
        return Ok(queries::terms::ensure_category(conn, &slug, name, store::now()).await?);
    }
    match queries::terms::category_id_by_name(conn, name, &slug).await? {
        Some(id) => Ok(id),
        None => {
            let known: Vec<String> =
                queries::terms::categories_with_counts(db).await?.into_iter().map(|(c, _)| c.name).collect();
            Err(invalid("category", format!("unknown category {name:?}; known: {}", known.join(", "))))
        }
    }
}

/// What an article that stops being published sets off: the site's IPFS snapshot lists
/// published articles, so it is dropped from it at the next rebuild (coalesced with the
/// snapshot job bundles queue), and the fediverse is sent its `Delete`.
pub(super) async fn enqueue_unpublished(
    conn: &mut sqlx::AnyConnection,
    article_id: i64,
    now: i64,
) -> Result<(), ContentError> {
    jobs::enqueue(&mut *conn, &BuildSnapshot, now + 2, Some("ipfs.snapshot")).await?;
    jobs::enqueue_many(conn, vec![federation(article_id, now)?]).await?;
    Ok(())
}

/// Publishes, schedules, unpublishes, trashes or restores article `id`.
pub async fn change_status(db: &Db, actor: &Actor, id: i64, change: StatusChange) -> Result<Status, ContentError> {
    let now = store::now();
    let mut tx = db.begin().await?;
    let (author_id, was) = queries::write::owner_and_status(&mut tx, id).await?.ok_or_else(|| article_not_found(id))?;
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
    queries::write::set_status(&mut tx, id, status, published_at, scheduled_at, now).await?;
    enqueue_for_status(&mut tx, id, status, scheduled_at, now).await?;
    if was == Status::Published && status != Status::Published {
        enqueue_unpublished(&mut tx, id, now).await?;
    }
    store::record_activity(&mut tx, activity, Some(id), status.as_str()).await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::Article(id)]).await?;
    tx.commit().await?;
    Ok(status)
}
