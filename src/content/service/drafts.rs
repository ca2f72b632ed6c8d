//! Writes by name, for the command line, imports and the demo seed: `create`, `upsert`, and
//! the batched `upsert_many`/`upsert_prepared` that `import markdown` uses.

use std::collections::{HashMap, HashSet};

use crate::content::queries;
use crate::content::queries::write::{ArticleRow, Links};
use crate::store::{self, ContentChange, Db, DbError};

use super::write::{resolve_author, resolve_category, unique_slug, write_core, Filing, Replaced, StatusJobs};
use super::*;

/// Creates a new article. An explicit slug that is taken is an error; a derived one gets a suffix.
pub async fn create(db: &Db, limits: ContentLimits, draft: Draft, terms: Terms) -> Result<Saved, ContentError> {
    save(db, limits, draft, terms, false).await
}

/// Creates the article, or updates the one with the same slug (keeping a revision): imports and edits.
pub async fn upsert(db: &Db, limits: ContentLimits, draft: Draft, terms: Terms) -> Result<Saved, ContentError> {
    save(db, limits, draft, terms, true).await
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
    let db_error = |e: DbError| (None, ContentError::from(e));
    let mut tx = db.begin().await.map_err(db_error)?;
    match save_batch_in(&mut tx, db, items, terms).await {
        Ok(saved) => {
            tx.commit().await.map_err(|e| db_error(e.into()))?;
            Ok(saved)
        }
        Err((None, ContentError::Db(err))) if err.is_refused_value() => {
            // The database refused a value in a statement for many drafts, naming none of them
            // (a NUL character, which PostgreSQL refuses in text): save them one by one, which
            // names the draft at fault.
            tracing::warn!(error = %err, "A batch write failed; saving its drafts one by one");
            tx.rollback().await.map_err(|e| db_error(e.into()))?;
            let mut tx = db.begin().await.map_err(db_error)?;
            let mut saved = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let checked = item.checked.as_ref().map_err(|e| (Some(i), e.copy_of_check()))?;
                saved.push(save_in(&mut tx, db, &item.draft, checked, terms, true).await.map_err(|e| (Some(i), e))?);
            }
            tx.commit().await.map_err(|e| db_error(e.into()))?;
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
pub(super) async fn save_batch_in(
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
        let mut named = Vec::new();
        for name in item.draft.category_names() {
            named.push(match categories.get(name) {
                Some(id) => *id,
                None => {
                    let id = resolve_category(tx, db, name, terms).await.map_err(|e| (Some(i), e))?;
                    *categories.entry(name).or_insert(id)
                }
            });
        }
        resolved.push((checked, author_id, category_ids(None, &named)));
    }
    let all_tags: Vec<(String, String)> = resolved.iter().flat_map(|(c, _, _)| c.tag_slugs.iter().cloned()).collect();
    let tag_ids = queries::terms::ensure_tags(tx, &all_tags).await.map_err(|e| (None, e.into()))?;

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
        let existing: HashMap<String, i64> = queries::write::article_ids_by_slugs(tx, &slug_refs)
            .await
            .map_err(|e| (None, e.into()))?
            .into_iter()
            .map(|(id, slug)| (slug, id))
            .collect();
        let updated: Vec<i64> = existing.values().copied().collect();
        let rows: Vec<ArticleRow<'_>> = (start..end)
            .map(|i| {
                let (checked, author_id, category_ids) = &resolved[i];
                let category_id = category_ids.first().copied();
                article_row(&items[i].draft, checked, &slugs[i - start], *author_id, category_id, now)
            })
            .collect();
        let batch_error = |e: DbError| (None, ContentError::from(e));
        queries::revisions::save_revisions(tx, &updated, now).await.map_err(batch_error)?;
        let ids: HashMap<String, i64> = queries::write::upsert_articles(tx, &rows, now)
            .await
            .map_err(batch_error)?
            .into_iter()
            .map(|(id, slug)| (slug, id))
            .collect();
        queries::write::clear_links(tx, Links::Tags, &updated).await.map_err(batch_error)?;
        queries::write::clear_links(tx, Links::Categories, &updated).await.map_err(batch_error)?;
        let (mut article_tags, mut article_categories) = (Vec::new(), Vec::new());
        let (mut leads, mut not_leads) = (Vec::new(), Vec::new());
        for (i, row) in (start..end).zip(&rows) {
            let id =
                *ids.get(row.slug).ok_or_else(|| (None, invalid("slug", format!("{:?} was not written", row.slug))))?;
            article_tags
                .extend(resolved[i].0.tag_slugs.iter().filter_map(|(slug, _)| tag_ids.get(slug)).map(|t| (id, *t)));
            article_categories.extend(resolved[i].2.iter().map(|c| (id, *c)));
            if items[i].draft.sticky {
                leads.push(id)
            } else {
                not_leads.push(id)
            };
            jobs.add(id, row.status, row.scheduled_at, now).map_err(batch_error)?;
            if existing.contains_key(row.slug) && row.status != Status::Published {
                jobs.maybe_unpublished(id, now).map_err(batch_error)?;
            }
            let slug = row.slug.to_string();
            saved.push(if existing.contains_key(row.slug) {
                Saved::Updated { id, slug, status: row.status }
            } else {
                Saved::Created { id, slug, status: row.status }
            });
        }
        queries::write::add_links(tx, Links::Tags, &article_tags).await.map_err(batch_error)?;
        queries::write::add_links(tx, Links::Categories, &article_categories).await.map_err(batch_error)?;
        queries::write::set_lead_stories(tx, &leads, true).await.map_err(batch_error)?;
        queries::write::set_lead_stories(tx, &not_leads, false).await.map_err(batch_error)?;
        start = end;
    }
    let batch_error = |e: DbError| (None, ContentError::from(e));
    jobs.write(tx).await.map_err(batch_error)?;
    let activity: Vec<(&str, Option<i64>, &str)> =
        saved.iter().map(|s| (s.activity_kind(), Some(s.id()), s.slug())).collect();
    store::record_activity_many(tx, &activity).await.map_err(batch_error)?;
    let changed: Vec<ContentChange> = saved.iter().map(|s| ContentChange::Article(s.id())).collect();
    store::bump_content_epoch(tx, &changed).await.map_err(batch_error)?;
    Ok(saved)
}

pub(super) async fn save(
    db: &Db,
    limits: ContentLimits,
    draft: Draft,
    terms: Terms,
    update_existing: bool,
) -> Result<Saved, ContentError> {
    let checked = check_draft(limits, &draft)?;
    let mut tx = db.begin().await?;
    let saved = save_in(&mut tx, db, &draft, &checked, terms, update_existing).await?;
    tx.commit().await?;
    Ok(saved)
}

/// The checks of `check_text` on a draft, the first failure as the error.
pub(super) fn check_draft(limits: ContentLimits, draft: &Draft) -> Result<Checked, ContentError> {
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
pub(super) fn publish_state(publish: Publish, now: i64) -> (Status, Option<i64>, Option<i64>) {
    match publish {
        Publish::Draft => (Status::Draft, None, None),
        Publish::Now => (Status::Published, Some(now), None),
        Publish::At(at) if at <= now => (Status::Published, Some(at), None),
        Publish::At(at) => (Status::Scheduled, None, Some(at)),
    }
}

/// The row `create`, `upsert` and the batches write for a checked draft.
pub(super) fn article_row<'a>(
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
pub(super) async fn save_in(
    tx: &mut sqlx::AnyConnection,
    db: &Db,
    draft: &Draft,
    checked: &Checked,
    terms: Terms,
    update_existing: bool,
) -> Result<Saved, ContentError> {
    let now = store::now();
    let author_id = resolve_author(tx, &draft.author, terms).await?;
    let mut named = Vec::new();
    for name in draft.category_names() {
        named.push(resolve_category(tx, db, name, terms).await?);
    }
    let category_ids = category_ids(None, &named);
    let category_id = category_ids.first().copied();
    let tags = queries::terms::ensure_tags(tx, &checked.tag_slugs).await?;
    let tag_ids: Vec<i64> = checked.tag_slugs.iter().filter_map(|(slug, _)| tags.get(slug).copied()).collect();

    let existing = match &draft.slug {
        Some(slug) if update_existing => queries::write::article_id_by_slug(tx, slug).await?,
        _ => None,
    };
    let slug = match (&draft.slug, existing) {
        (Some(slug), Some(_)) => slug.clone(),
        (Some(slug), None) => {
            if queries::write::slug_taken(tx, slug, None).await? {
                return Err(invalid("slug", format!("{slug:?} is already used by another article")));
            }
            slug.clone()
        }
        (None, _) => unique_slug(tx, &checked.title, &HashSet::new()).await?,
    };
    let row = article_row(draft, checked, &slug, author_id, category_id, now);
    let replaced = match existing {
        Some(id) => {
            let (_, status) = queries::write::owner_and_status(tx, id).await?.ok_or_else(|| article_not_found(id))?;
            Some(Replaced::new(id, draft.kind, &slug, status))
        }
        None => None,
    };
    let filing = Filing { tag_ids: &tag_ids, category_ids: &category_ids, lead: draft.sticky };
    write_core(tx, replaced, &row, filing, None, now).await
}

/// Creates a category; its slug is derived from the name.
pub async fn add_category(db: &Db, name: &str, description: &str) -> Result<Category, ContentError> {
    let name = name.trim();
    let slug = slugify(name);
    if slug.is_empty() || name.chars().count() > MAX_TERM_CHARS {
        return Err(invalid("name", format!("{name:?} is not a usable category name")));
    }
    let mut tx = db.begin().await?;
    let id = match queries::terms::insert_category(&mut tx, &slug, name, description, store::now()).await {
        Ok(id) => id,
        Err(DbError::Conflict(_)) => return Err(invalid("name", format!("category {name:?} already exists"))),
        Err(err) => return Err(err.into()),
    };
    store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
    tx.commit().await?;
    Ok(Category { id, slug, name: name.to_string(), description: description.to_string() })
}
