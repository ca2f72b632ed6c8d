//! Content decisions: validation, slugs, publishing states, revisions, scheduling.
//!
//! Every write runs in one transaction that also bumps the content epoch (so every node's page
//! cache sees the change) and, for scheduled articles, enqueues the job that publishes them.
//! An article that becomes published also gets its IPFS bundle job and, the first time only,
//! the job that mails its subscribers (`content::jobs`).
//!
//! # Layout
//! This module holds what every part shares: the limits, `ContentError`, the text checks, the
//! types a write takes (`Draft`, `ArticleEdit`, `Actor`, …) and the rights rules. Then:
//! - `write`: the one write of an article (`write_core`) and status changes;
//! - `drafts`: writes by name (command line, imports, demo), one at a time or batched;
//! - `editor`: the desk's and the API's writes by id, autosaves, the preview;
//! - `revisions`, `terms` (categories and tags), `reading` (by slug or id, listings, search).

use crate::accounts::{Capability, Role};
use crate::content::markdown;
use crate::content::model::*;
use crate::store::DbError;

pub mod drafts;
pub mod editor;
pub mod reading;
pub mod revisions;
pub mod terms;
pub mod write;

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
        _ => rendered.derived_excerpt(MAX_EXCERPT_CHARS),
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
    /// Names or slugs of the further categories it is filed under.
    pub further_categories: Vec<String>,
    pub tags: Vec<String>,
    pub featured_image: Option<String>,
    pub publish: Publish,
    /// A lead story, pinned above the newest posts.
    pub sticky: bool,
}

impl Draft {
    /// Every category named, the primary first; without a primary, the first further one is.
    fn category_names(&self) -> impl Iterator<Item = &str> {
        self.category.iter().chain(&self.further_categories).map(|name| name.trim())
    }
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

/// A draft checked and rendered: the part of a save that needs no database, done before its
/// transaction (for imports on every core, see `prepare_many`).
pub struct Prepared {
    draft: Draft,
    checked: Result<Checked, ContentError>,
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
    /// The further categories it is filed under.
    pub further_category_ids: Vec<i64>,
    pub tags: Vec<String>,
    pub featured_image: String,
    pub sticky: bool,
}

/// The further categories an article may be filed under, besides its primary one.
pub const MAX_FURTHER_CATEGORIES: usize = 10;

/// The primary category first, then the further ones, each once.
fn category_ids(primary: Option<i64>, further: &[i64]) -> Vec<i64> {
    let mut ids: Vec<i64> = Vec::with_capacity(further.len() + 1);
    for id in primary.iter().chain(further) {
        if !ids.contains(id) {
            ids.push(*id);
        }
    }
    ids
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

fn not_found_as(err: DbError, id: i64) -> ContentError {
    match err {
        DbError::NotFound => article_not_found(id),
        other => other.into(),
    }
}

/// One side of a comparison: an earlier version or the article as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Revision(i64),
    Current,
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

// ---------------------------------------------------------------------------------------------
// Reads for the JSON API (`content::api`).

#[cfg(test)]
mod tests {
    use super::editor::{check_image_url, transition_to};
    use super::revisions::line_diff;
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
