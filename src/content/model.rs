//! Content types as the rest of the program sees them: no SQL, no HTTP.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArticleKind {
    /// A dated news article: listed, in feeds.
    Post,
    /// A standing page such as About: never listed nor in feeds.
    Page,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Scheduled,
    Published,
    /// In the trash: public nowhere (every public query asks for `published`); restoring makes
    /// it a draft again, as in WordPress.
    Trashed,
}

impl ArticleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleKind::Post => "post",
            ArticleKind::Page => "page",
        }
    }
    /// Where an article of this kind with `slug` is served.
    pub fn path(self, slug: &str) -> String {
        match self {
            ArticleKind::Post => format!("/article/{slug}"),
            ArticleKind::Page => format!("/{slug}"),
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "post" => Some(ArticleKind::Post),
            "page" => Some(ArticleKind::Page),
            _ => None,
        }
    }
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Scheduled => "scheduled",
            Status::Published => "published",
            Status::Trashed => "trashed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Status::Draft),
            "scheduled" => Some(Status::Scheduled),
            "published" => Some(Status::Published),
            "trashed" => Some(Status::Trashed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AuthorRef {
    pub username: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Category {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tag {
    pub slug: String,
    pub name: String,
}

/// What a listing shows of an article.
#[derive(Debug, Clone, Serialize)]
pub struct ArticleSummary {
    pub id: i64,
    pub kind: ArticleKind,
    pub slug: String,
    pub title: String,
    pub excerpt: String,
    pub status: Status,
    pub reading_minutes: i64,
    pub published_at: Option<i64>,
    pub scheduled_at: Option<i64>,
    pub updated_at: i64,
    pub author: AuthorRef,
    /// The primary category.
    pub category: Option<Category>,
    /// A lead story, pinned above the newest posts.
    pub sticky: bool,
}

/// A whole article with its rendered body.
#[derive(Debug, Clone, Serialize)]
pub struct Article {
    #[serde(flatten)]
    pub summary: ArticleSummary,
    pub body_md: String,
    pub body_html: String,
    pub featured_image: Option<String>,
    pub tags: Vec<Tag>,
    /// Every category it is filed under, the primary one first.
    pub categories: Vec<Category>,
}

impl Article {
    /// The categories it is filed under besides its primary one.
    pub fn further_categories(&self) -> impl Iterator<Item = &Category> {
        let primary = self.summary.category.as_ref().map(|c| c.id);
        self.categories.iter().filter(move |c| Some(c.id) != primary)
    }
}

/// The neighbours of an article in publication order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Neighbours {
    pub previous: Option<LinkRef>,
    pub next: Option<LinkRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LinkRef {
    pub slug: String,
    pub title: String,
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub total_pages: u32,
    pub total_items: i64,
}

/// A search hit: the article and a snippet whose matches are wrapped in `<mark>`.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub article: ArticleSummary,
    pub snippet_html: String,
}

/// What a listing is restricted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFilter {
    All,
    Category(i64),
    Tag(i64),
    Author(i64),
}

/// A post's place in a listing, which orders posts newest first by published time, then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListPosition {
    pub published_at: i64,
    pub id: i64,
}

/// What the admin's article list is restricted to. `status: None` lists everything but the trash.
#[derive(Debug, Clone, Default)]
pub struct AdminFilter {
    pub status: Option<Status>,
    pub category_id: Option<i64>,
    pub author_id: Option<i64>,
    /// Words the title must contain (case-insensitive).
    pub search: Option<String>,
    pub tag_id: Option<i64>,
}

/// An earlier version of an article's text.
#[derive(Debug, Clone, Serialize)]
pub struct Revision {
    pub id: i64,
    pub article_id: i64,
    pub title: String,
    pub excerpt: String,
    pub body_md: String,
    pub saved_at: i64,
}

/// A writer's newest autosave of an article, kept apart from the article itself.
#[derive(Debug, Clone, Serialize)]
pub struct Autosave {
    pub article_id: i64,
    pub title: String,
    pub excerpt: String,
    pub body_md: String,
    pub saved_at: i64,
}

/// One line of a diff between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// `equal`, `insert` or `delete`.
    pub op: &'static str,
    pub text: String,
}

/// A category as the admin manages it.
#[derive(Debug, Clone, Serialize)]
pub struct CategoryEntry {
    #[serde(flatten)]
    pub category: Category,
    pub parent_id: Option<i64>,
    /// Articles of any status filed under it.
    pub articles: i64,
}

/// A tag as the admin manages it.
#[derive(Debug, Clone, Serialize)]
pub struct TagEntry {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub articles: i64,
}
