//! SQL for articles, categories, tags and revisions. Shared SQL for both backends except search.
//!
//! Laid out like `content::service`: `reading` (listings, articles with their bodies, search,
//! the desk's list, redirects), `write` (article rows one or many at a time, tags, statuses),
//! `revisions` (and autosaves), `terms` (categories and tags). This module holds the summary
//! columns and row types they share.

use sqlx::FromRow;

use crate::content::model::*;
use crate::store::{Db, DbResult};

pub mod oembed;
pub mod reading;
pub mod revisions;
pub mod terms;
pub mod write;

const SUMMARY_COLUMNS: &str = "a.id, a.kind, a.slug, a.title, a.excerpt, a.status, a.reading_minutes, \
     a.published_at, a.scheduled_at, a.updated_at, \
     CAST(CASE WHEN EXISTS (SELECT 1 FROM lead_stories ls WHERE ls.article_id = a.id) THEN 1 ELSE 0 END AS BIGINT) AS sticky, \
     u.username, u.display_name, \
     c.id AS category_id, c.slug AS category_slug, c.name AS category_name, c.description AS category_description";
const SUMMARY_FROM: &str =
    "articles a JOIN users u ON u.id = a.author_id LEFT JOIN categories c ON c.id = a.category_id";
/// `SUMMARY_FROM` joined to a subquery `ranked` of article ids.
const RANKED_FROM: &str = "ranked JOIN articles a ON a.id = ranked.id \
     JOIN users u ON u.id = a.author_id LEFT JOIN categories c ON c.id = a.category_id";

#[derive(FromRow)]
struct SummaryRow {
    id: i64,
    kind: String,
    slug: String,
    title: String,
    excerpt: String,
    status: String,
    reading_minutes: i64,
    published_at: Option<i64>,
    scheduled_at: Option<i64>,
    updated_at: i64,
    sticky: i64,
    username: String,
    display_name: String,
    category_id: Option<i64>,
    category_slug: Option<String>,
    category_name: Option<String>,
    category_description: Option<String>,
}

impl From<SummaryRow> for ArticleSummary {
    fn from(r: SummaryRow) -> Self {
        let category = match (r.category_id, r.category_slug, r.category_name) {
            (Some(id), Some(slug), Some(name)) => {
                Some(Category { id, slug, name, description: r.category_description.unwrap_or_default() })
            }
            _ => None,
        };
        ArticleSummary {
            id: r.id,
            kind: ArticleKind::parse(&r.kind).unwrap_or(ArticleKind::Post),
            slug: r.slug,
            title: r.title,
            excerpt: r.excerpt,
            status: Status::parse(&r.status).unwrap_or(Status::Draft),
            reading_minutes: r.reading_minutes,
            published_at: r.published_at,
            scheduled_at: r.scheduled_at,
            updated_at: r.updated_at,
            author: AuthorRef { username: r.username, display_name: r.display_name },
            category,
            sticky: r.sticky != 0,
        }
    }
}

#[derive(FromRow)]
struct BodyRow {
    body_md: String,
    body_html: String,
    featured_image: Option<String>,
}

/// Where a listing query starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFrom {
    /// After skipping this many of the newest posts.
    Newest(i64),
    /// After skipping this many of the oldest posts (the page's posts still come newest first).
    Oldest(i64),
    /// At this post and older: as quick deep in a listing as at its start.
    At(ListPosition),
}

/// Where a listing's posts come from: the rows (`FROM … WHERE …`, its argument as `$n`) and
/// their id and time columns, which a listing index holds in order. A tag's listing reads
/// `article_tags`, a category's `article_categories`, whose `listed_at` mirrors the published
/// time of the published posts.
struct ListingSource {
    rows: String,
    id: &'static str,
    time: &'static str,
    arg: Option<i64>,
}

fn listing_source(filter: ListFilter, n: usize) -> ListingSource {
    let posts = "articles a WHERE a.kind = 'post' AND a.status = 'published'";
    let (rows, arg) = match filter {
        ListFilter::All => (posts.to_string(), None),
        ListFilter::Author(id) => (format!("{posts} AND a.author_id = ${n}"), Some(id)),
        ListFilter::Tag(id) => {
            let rows = format!("article_tags at WHERE at.tag_id = ${n} AND at.listed_at IS NOT NULL");
            return ListingSource { rows, id: "at.article_id", time: "at.listed_at", arg: Some(id) };
        }
        // Every article filed under the category, as its primary one or a further one.
        ListFilter::Category(id) => {
            let rows = format!("article_categories ac WHERE ac.category_id = ${n} AND ac.listed_at IS NOT NULL");
            return ListingSource { rows, id: "ac.article_id", time: "ac.listed_at", arg: Some(id) };
        }
    };
    ListingSource { rows, id: "a.id", time: "a.published_at", arg }
}

pub(super) async fn with_body(db: &Db, summary: ArticleSummary) -> DbResult<Article> {
    let body = sqlx::query_as::<_, BodyRow>("SELECT body_md, body_html, featured_image FROM articles WHERE id = $1")
        .bind(summary.id)
        .fetch_one(&db.pool)
        .await?;
    let tags = reading::tags_of(db, summary.id).await?;
    let categories = reading::categories_of(db, summary.id).await?;
    Ok(Article {
        summary,
        body_md: body.body_md,
        body_html: body.body_html,
        featured_image: body.featured_image,
        tags,
        categories,
    })
}
