//! Reading articles: by slug or id, listings, search, old URLs.

use crate::content::queries;
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

/// One page of published posts; `page` counts from 1. A page past the end is `NotFound`.
pub async fn list_page(
    db: &Db,
    filter: ListFilter,
    page: u32,
    per_page: u32,
) -> Result<Page<ArticleSummary>, ContentError> {
    let total = queries::reading::count_published(db, filter).await?;
    let total_pages = (total as u64).div_ceil(per_page as u64).max(1) as u32;
    if page > total_pages {
        return Err(ContentError::NotFound(format!("page {page}")));
    }
    let offset = (page as i64 - 1) * per_page as i64;
    let items = queries::reading::list_published(db, filter, per_page as i64, offset).await?;
    Ok(Page { items, page, total_pages, total_items: total })
}

/// Searches published posts. Words are taken literally; operators are not interpreted.
pub async fn search(db: &Db, text: &str, page: u32, per_page: u32) -> Result<Page<SearchHit>, ContentError> {
    let terms: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).take(12).map(str::to_lowercase).collect();
    if terms.is_empty() {
        return Ok(Page { items: vec![], page: 1, total_pages: 1, total_items: 0 });
    }
    let offset = (page as i64 - 1) * per_page as i64;
    let (rows, total) = queries::reading::search(db, &terms, per_page as i64, offset).await?;
    let items =
        rows.into_iter().map(|(article, snippet)| SearchHit { article, snippet_html: highlight(&snippet) }).collect();
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
