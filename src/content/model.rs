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
}

impl ArticleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ArticleKind::Post => "post",
            ArticleKind::Page => "page",
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
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Status::Draft),
            "scheduled" => Some(Status::Scheduled),
            "published" => Some(Status::Published),
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
    pub category: Option<Category>,
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
#[derive(Debug, Clone, Copy)]
pub enum ListFilter {
    All,
    Category(i64),
    Tag(i64),
    Author(i64),
}
