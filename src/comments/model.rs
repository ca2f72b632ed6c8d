//! Comment types as the rest of the program sees them: no SQL, no HTTP.
//!
//! [`PublicComment`] is everything a page, a feed or any other public view may show: it has no
//! email and no address, so no template can leak them. Only [`ModeratedComment`] (the
//! moderation queue in the CLI) carries the email.
//!
//! [`RemoteReply`] is a reply from the fediverse as the ActivityPub inbox hands it over.

use serde::Serialize;

/// WordPress's four states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CommentStatus {
    /// Waiting for a moderator; shown only to the browser that wrote it.
    Pending,
    /// Public.
    Approved,
    /// Hidden; kept for the moderator to check.
    Spam,
    /// Deleted by a moderator; kept, and replies to it are refused.
    Trash,
}

impl CommentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentStatus::Pending => "pending",
            CommentStatus::Approved => "approved",
            CommentStatus::Spam => "spam",
            CommentStatus::Trash => "trash",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(CommentStatus::Pending),
            "approved" => Some(CommentStatus::Approved),
            "spam" => Some(CommentStatus::Spam),
            "trash" => Some(CommentStatus::Trash),
            _ => None,
        }
    }
}

/// A comment as readers may see it.
#[derive(Debug, Clone, Serialize)]
pub struct PublicComment {
    pub id: i64,
    pub article_id: i64,
    pub parent_id: Option<i64>,
    pub status: CommentStatus,
    pub author_name: String,
    /// The commenter's website, or empty.
    pub author_url: String,
    /// Keyed hash of the email: names the identicon at `/comments/avatar/{avatar}.svg`.
    pub avatar: String,
    /// Sanitised HTML.
    pub content_html: String,
    pub created_at: i64,
    /// When its status last changed.
    pub updated_at: i64,
    /// A reply from the fediverse (`service::submit_remote`): `author_url` is the remote
    /// author's profile, and the thread marks it "via the fediverse".
    pub via_fediverse: bool,
}

/// A comment with the fields only moderators see.
#[derive(Debug, Clone, Serialize)]
pub struct ModeratedComment {
    #[serde(flatten)]
    pub comment: PublicComment,
    pub article_slug: String,
    /// Empty for a reply from the fediverse, which has `remote_actor` instead.
    pub author_email: String,
    /// The remote author's actor id (a URL), for a reply from the fediverse.
    pub remote_actor: Option<String>,
    pub content: String,
}

/// A comment in a thread, with its replies.
#[derive(Debug, Clone, Serialize)]
pub struct ThreadNode {
    #[serde(flatten)]
    pub comment: PublicComment,
    /// Nesting level from 1; replies deeper than the configured depth join the deepest level.
    pub depth: u32,
    /// Whether a "Reply" link is shown (below the configured depth, and comments open).
    pub can_reply: bool,
    /// Shown to its author only: "Your comment is awaiting moderation."
    pub awaiting_moderation: bool,
    pub replies: Vec<ThreadNode>,
}

/// One page of an article's thread.
#[derive(Debug, Clone, Serialize)]
pub struct Thread {
    pub comments: Vec<ThreadNode>,
    /// Approved comments on the article, on every page.
    pub approved_count: i64,
    pub page: u32,
    pub total_pages: u32,
    /// When the newest approved comment was approved (the page's Last-Modified).
    pub last_changed: Option<i64>,
}

/// A listed item with its number of approved comments (`comment_count` in templates).
#[derive(Debug, Clone, Serialize)]
pub struct Counted<T> {
    #[serde(flatten)]
    pub item: T,
    pub comment_count: i64,
}

/// The comment settings of one article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArticleSettings {
    /// The per-article switch (`openvoice comments open|close`).
    pub open: bool,
    /// Overrides `comments.close_after_days` for this article; 0 = never.
    pub close_after_days: Option<i64>,
}

/// What a commenter typed, as received.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CommentForm {
    pub author: String,
    pub email: String,
    pub url: String,
    pub comment: String,
    /// The comment replied to, if any.
    pub parent: Option<i64>,
    /// "Save my name, email, and website in this browser for the next time I comment."
    pub save: bool,
}

/// A reply from the fediverse (a `Create` of a `Note` whose `inReplyTo` is an article or one of
/// its comments), as the ActivityPub inbox hands it to `service::submit_remote`. The inbox has
/// checked the activity's signature and that the note is its actor's.
#[derive(Debug, Clone)]
pub struct RemoteReply {
    /// The article replied to.
    pub slug: String,
    /// The comment replied to, when the note answers one.
    pub parent_id: Option<i64>,
    /// The `Note`'s id (a URL): a second delivery of it changes nothing, its `Delete` trashes it.
    pub remote_id: String,
    /// The author's actor id (a URL): "held when first" is keyed by it.
    pub remote_actor: String,
    /// The author's display name (else their handle).
    pub author_name: String,
    /// The author's profile page, which the name links to.
    pub author_url: String,
    /// The note's `content`: HTML, reduced to the commenter subset before it is stored.
    pub content_html: String,
    /// The note's `published` time, Unix seconds; a time in the future counts as now.
    pub published_at: Option<i64>,
}

/// What became of a remote reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Submitted {
    pub id: i64,
    pub status: CommentStatus,
    /// False when the note was already a comment (a repeated delivery): nothing changed.
    pub created: bool,
}
