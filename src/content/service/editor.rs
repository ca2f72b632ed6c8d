//! The desk's and the API's writes by id, under the actor's rights: the editor's create and
//! update with their transitions, the article list, autosaves, the preview.

use std::collections::HashSet;

use crate::accounts::Capability;
use crate::content::markdown;
use crate::content::queries;
use crate::content::queries::write::ArticleRow;
use crate::store::{self, Db};

use super::write::{unique_slug, write_core, Filing, Replaced};
use super::*;

/// Every faulty field of an edit, each with its message (empty when it may be saved; the
/// database checks — a taken slug, an unknown category — come on save).
pub fn check_edit(limits: ContentLimits, edit: &ArticleEdit) -> Vec<ContentError> {
    let mut errors = check_text(limits, &text_input(edit)).err().unwrap_or_default();
    if let Err(err) = check_image_url(&edit.featured_image) {
        errors.push(err);
    }
    if edit.further_category_ids.len() > MAX_FURTHER_CATEGORIES {
        errors.push(invalid(
            "further_category_ids",
            format!("an article is filed under at most {MAX_FURTHER_CATEGORIES} further categories"),
        ));
    }
    errors
}

pub(super) fn text_input(edit: &ArticleEdit) -> TextInput<'_> {
    TextInput {
        title: &edit.title,
        slug: Some(edit.slug.trim()).filter(|s| !s.is_empty()),
        excerpt: Some(edit.excerpt.as_str()),
        body_md: &edit.body_md,
        tags: &edit.tags,
    }
}

/// A featured image is a site path (`/media/…`) or an http(s) URL, without spaces or quotes.
pub(super) fn check_image_url(url: &str) -> Result<(), ContentError> {
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
pub(super) fn transition_to(
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

pub(super) async fn write_article(
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
        Some(id) => Some(queries::reading::find_by_id(db, id).await.map_err(|e| not_found_as(e, id))?),
        None => None,
    };

    let mut tx = db.begin().await?;
    let current = match (id, before) {
        (Some(id), Some(article)) => {
            // Read again inside the transaction: the rules apply to the row being changed.
            let (author_id, status) =
                queries::write::owner_and_status(&mut tx, id).await?.ok_or_else(|| article_not_found(id))?;
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
    for id in &edit.further_category_ids {
        if !queries::terms::category_exists(&mut tx, *id).await? {
            return Err(invalid("further_category_ids", format!("no category with id {id}")));
        }
    }
    if let Some(category_id) = edit.category_id {
        if !queries::terms::category_exists(&mut tx, category_id).await? {
            return Err(invalid("category", format!("no category with id {category_id}")));
        }
    }
    let slug = match (wanted_slug, &current) {
        (Some(slug), _) => {
            if queries::write::slug_taken(&mut tx, slug, id).await? {
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
        tag_ids.push(queries::terms::ensure_tag(&mut tx, tag_slug, name).await?);
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
    let category_ids = category_ids(edit.category_id, &edit.further_category_ids);
    let filing = Filing { tag_ids: &tag_ids, category_ids: &category_ids, lead: edit.sticky };
    let saved = write_core(&mut tx, replaced, &row, filing, activity, now).await?;
    queries::revisions::delete_autosave(&mut tx, saved.id(), actor.user_id).await?;
    tx.commit().await?;
    Ok(saved)
}

/// An article for the editor, if `actor` may see it there (their own, or anyone's for editors).
pub async fn article_for_edit(db: &Db, actor: &Actor, id: i64) -> Result<Article, ContentError> {
    let article = queries::reading::find_by_id(db, id).await.map_err(|e| not_found_as(e, id))?;
    let mut conn = db.pool.acquire().await?;
    let (author_id, _) = queries::write::owner_and_status(&mut conn, id).await?.ok_or_else(|| article_not_found(id))?;
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
    let (items, total) = queries::reading::admin_list(db, &filter, per_page as i64, offset).await?;
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
    let mut tx = db.begin().await?;
    let (author_id, status) =
        queries::write::owner_and_status(&mut tx, id).await?.ok_or_else(|| article_not_found(id))?;
    may_edit(actor, author_id, status)?;
    let saved = Autosave {
        article_id: id,
        title: title.to_string(),
        excerpt: excerpt.to_string(),
        body_md: body_md.to_string(),
        saved_at: store::now(),
    };
    queries::revisions::save_autosave(&mut tx, actor.user_id, &saved).await?;
    tx.commit().await?;
    Ok(saved)
}

/// `actor`'s autosave of article `id`, if newer than the article's last save.
pub async fn pending_autosave(db: &Db, actor: &Actor, article: &Article) -> Result<Option<Autosave>, ContentError> {
    let autosave = queries::revisions::autosave(db, article.summary.id, actor.user_id).await?;
    Ok(autosave.filter(|a| a.saved_at >= article.summary.updated_at))
}
