//! Revisions: the list, line diffs between versions, restoring one.

use crate::content::markdown;
use crate::content::queries;
use crate::store::{self, ContentChange, Db, DbError};

use super::editor::article_for_edit;
use super::write::enqueue_for_status;
use super::*;

/// An article's earlier versions, newest first.
pub async fn revisions(db: &Db, actor: &Actor, id: i64) -> Result<(Article, Vec<Revision>), ContentError> {
    let article = article_for_edit(db, actor, id).await?;
    let revisions = queries::revisions::revisions(db, id).await?;
    Ok((article, revisions))
}

/// The text a diff compares: title and excerpt as header lines, then the body.
pub(super) fn diff_text(title: &str, excerpt: &str, body_md: &str) -> String {
    let mut text = format!("Title: {title}\nExcerpt: {excerpt}\n\n{body_md}");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

pub(super) async fn version_text(db: &Db, article: &Article, version: Version) -> Result<String, ContentError> {
    Ok(match version {
        Version::Current => diff_text(&article.summary.title, &article.summary.excerpt, &article.body_md),
        Version::Revision(rev) => {
            let r = queries::revisions::revision(db, article.summary.id, rev).await.map_err(|e| match e {
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

pub(super) fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
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
    let revision = queries::revisions::revision(db, id, revision_id).await.map_err(|e| match e {
        DbError::NotFound => ContentError::NotFound(format!("revision {revision_id}")),
        other => other.into(),
    })?;
    let rendered = markdown::render(&revision.body_md);
    let now = store::now();
    let mut tx = db.begin().await?;
    let (author_id, status) =
        queries::write::owner_and_status(&mut tx, id).await?.ok_or_else(|| article_not_found(id))?;
    may_edit(actor, author_id, status)?;
    queries::revisions::save_revision(&mut tx, id, now).await?;
    let text = queries::revisions::TextRow {
        title: &revision.title,
        excerpt: &revision.excerpt,
        body_md: &revision.body_md,
        body_html: &rendered.html,
        body_text: &rendered.text,
        reading_minutes: rendered.reading_minutes,
    };
    queries::revisions::set_text(&mut tx, id, &text, now).await?;
    enqueue_for_status(&mut tx, id, status, None, now).await?;
    store::record_activity(&mut tx, "article.revision_restored", Some(id), &revision_id.to_string()).await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::Article(id)]).await?;
    tx.commit().await?;
    Ok(())
}
