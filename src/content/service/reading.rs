//! Reading articles: by slug or id, listings, search, old URLs.

use crate::content::queries::{self, ListFrom};
use crate::store::{Db, DbError};

use super::*;

pub async fn find(db: &Db, slug: &str) -> Result<Article, ContentError> {
    match queries::reading::find_by_slug(db, slug).await {
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

/// How many published posts `filter` lists.
pub async fn count(db: &Db, filter: ListFilter) -> Result<i64, ContentError> {
    Ok(queries::reading::count_published(db, filter).await?)
}

/// How many pages from either end of a listing a page is read by skipping posts; deeper pages
/// are read from where they start ([`page_starts`]), as skipping costs an index entry per post.
pub const DEEP_PAGES: i64 = 50;

/// Whether page `page` (counting from 1) of a listing of `total` posts lies so deep in it that
/// it should be read from where it starts.
pub fn is_deep(total: i64, page: u32, per_page: u32) -> bool {
    let (per_page, offset) = (per_page as i64, (page as i64 - 1) * per_page as i64);
    offset.min(total - offset - per_page) > DEEP_PAGES * per_page
}

/// Where each page of `per_page` posts of `filter`'s listing starts, first page first. One
/// pass over the listing: keep it while no article changes.
pub async fn page_starts(db: &Db, filter: ListFilter, per_page: u32) -> Result<Vec<ListPosition>, ContentError> {
    Ok(queries::reading::page_starts(db, filter, per_page as i64).await?)
}

/// Lead stories shown at a time.
pub const LEAD_STORIES: i64 = 3;

/// The lead stories (sticky posts) that head the first page of `filter`'s listing: the home
/// page's, or a category's; other listings have none.
pub async fn lead_stories(db: &Db, filter: ListFilter) -> Result<Vec<ArticleSummary>, DbError> {
    match filter {
        ListFilter::All => queries::reading::lead_stories(db, None, LEAD_STORIES).await,
        ListFilter::Category(id) => queries::reading::lead_stories(db, Some(id), LEAD_STORIES).await,
        ListFilter::Author(_) | ListFilter::Tag(_) => Ok(Vec::new()),
    }
}

/// One page of the `total` published posts `filter` lists; `page` counts from 1. A page past
/// the end is `NotFound`. `start` is where the page starts, if known: a deep page needs it
/// ([`is_deep`]) to cost what the first page does.
pub async fn list_page(
    db: &Db,
    filter: ListFilter,
    total: i64,
    page: u32,
    per_page: u32,
    start: Option<ListPosition>,
) -> Result<Page<ArticleSummary>, ContentError> {
    let total_pages = (total as u64).div_ceil(per_page as u64).max(1) as u32;
    if page > total_pages {
        return Err(ContentError::NotFound(format!("page {page}")));
    }
    let (per_page, offset) = (per_page as i64, (page as i64 - 1) * per_page as i64);
    // Pages past the middle skip from the oldest post, so the last page is as quick as the first.
    let (limit, from) = match start {
        Some(start) => (per_page, ListFrom::At(start)),
        None if offset * 2 <= total => (per_page, ListFrom::Newest(offset)),
        None => {
            let from_oldest = total - offset - per_page;
            if from_oldest < 0 {
                (per_page + from_oldest, ListFrom::Oldest(0))
            } else {
                (per_page, ListFrom::Oldest(from_oldest))
            }
        }
    };
    let items = queries::reading::list_published(db, filter, limit, from).await?;
    Ok(Page { items, page, total_pages, total_items: total })
}

/// How many of the newest matching articles a search ranks: the cost of a search is bounded
/// by this, however common its words and however large the archive.
pub const SEARCH_CANDIDATES: i64 = 500;

/// Searches published posts: the best matches among the newest [`SEARCH_CANDIDATES`] that
/// match. Words are taken literally; operators are not interpreted.
pub async fn search(db: &Db, text: &str, page: u32, per_page: u32) -> Result<Page<SearchHit>, ContentError> {
    let terms: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(12).map(str::to_lowercase).collect();
    if terms.is_empty() {
        return Ok(Page { items: vec![], page: 1, total_pages: 1, total_items: 0 });
    }
    let offset = (page as i64 - 1) * per_page as i64;
    let (articles, total) = queries::reading::search(db, &terms, SEARCH_CANDIDATES, per_page as i64, offset).await?;
    // Markers the database wraps matches in; control characters cannot come from the text
    // people search in, so `highlight` can escape the snippet and then turn them into <mark>.
    let ids: Vec<i64> = articles.iter().map(|a| a.id).collect();
    let mut snippets: std::collections::HashMap<i64, String> =
        queries::reading::snippets(db, &terms, &ids, "\u{2}", "\u{3}").await?.into_iter().collect();
    let items = articles
        .into_iter()
        .map(|article| {
            let snippet = snippets.remove(&article.id).unwrap_or_default();
            SearchHit { article, snippet_html: highlight(&snippet) }
        })
        .collect();
    let total_pages = (total as u64).div_ceil(per_page as u64).max(1) as u32;
    Ok(Page { items, page, total_pages, total_items: total })
}

/// Escapes a snippet, then turns the database's match markers into `<mark>`.
pub(super) fn highlight(snippet: &str) -> String {
    let escaped = minijinja::HtmlEscape(snippet).to_string();
    escaped.replace('\u{2}', "<mark>").replace('\u{3}', "</mark>")
}

/// Any article by id, whatever its status; callers decide who may see it.
pub async fn find_by_id(db: &Db, id: i64) -> Result<Article, ContentError> {
    queries::reading::find_by_id(db, id).await.map_err(|e| not_found_as(e, id))
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
    let (items, total) = queries::reading::admin_list(db, &filter, per_page as i64, offset).await?;
    let total_pages = (total as u64).div_ceil(per_page.max(1) as u64).max(1) as u32;
    Ok(Page { items, page, total_pages, total_items: total })
}

/// WordPress's default permalinks, `/?p=12` and `/?page_id=7`, in the one form their redirects
/// are stored under; `None` for any other query.
pub fn query_permalink(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, id) = pair.split_once('=')?;
        let is_id = (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
        (matches!(key, "p" | "page_id") && is_id).then(|| format!("/?{key}={id}"))
    })
}

/// Where an old URL (an imported site's permalink) lives now, if anywhere.
pub async fn redirect_for(db: &Db, path: &str) -> Result<Option<String>, DbError> {
    if let Some(found) = queries::reading::redirect(db, path).await? {
        return Ok(Some(found));
    }
    // WordPress permalinks end in `/`; links to them are often written without it, and vice versa.
    let other = match path.strip_suffix('/') {
        Some(bare) => bare.to_string(),
        None => format!("{path}/"),
    };
    queries::reading::redirect(db, &other).await
}
