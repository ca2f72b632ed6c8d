//! What every public page shares (the page chrome): the site, the navigation read once per
//! content epoch, the canonical URL and the sidebar; listing totals; and how content's errors
//! answer a request.

use std::sync::Arc;

use minijinja::{context, Value};

use crate::content::model::{ListFilter, ListPosition};
use crate::content::{queries, service};
use crate::http::{site_context, AppError, AppState};

/// Context every public page shares: the site, the navigation (`categories`, standing
/// `pages`), the canonical URL, and the sidebar's price widgets (`market`: the caller passes
/// `market::routes::sidebar`, which content does not know).
pub async fn base_context(state: &AppState, path: &str, market: Value) -> Result<Value, AppError> {
    Ok(context! {
        ..navigation(state).await?,
        ..context! {
            site => site_context(state),
            canonical => format!("{}{}", state.config.base_url(), path),
            sidebar_slots => ["site-token", "market-prices", "subscribe"],
            market => market,
        }
    })
}

/// Standing pages the footer links to.
const FOOTER_PAGES: i64 = 10;

/// The categories with published posts and their counts, and the first standing pages, read
/// once per content epoch.
async fn navigation(state: &AppState) -> Result<Value, AppError> {
    let epoch = state.pages.epoch();
    if let Some(navigation) = state.navigation.get(epoch) {
        return Ok(navigation);
    }
    let categories: Vec<Value> = queries::terms::categories_with_counts(&state.db)
        .await?
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(c, n)| context! { slug => c.slug, name => c.name, count => n })
        .collect();
    let pages = queries::reading::standing_pages(&state.db, FOOTER_PAGES).await?;
    let navigation = context! { categories => categories, pages => pages };
    state.navigation.put(epoch, navigation.clone());
    Ok(navigation)
}

/// The path of page `page` of the listing at `path`: `/category/x/page/2`; page 1 is `path`.
pub fn page_path(path: &str, page: u32) -> String {
    if page <= 1 {
        path.to_string()
    } else {
        format!("{}/page/{page}", path.trim_end_matches('/'))
    }
}

/// How a content failure answers a request: the HTTP side of the service's errors.
impl From<service::ContentError> for AppError {
    fn from(err: service::ContentError) -> Self {
        match err {
            service::ContentError::NotFound(_) => AppError::NotFound,
            service::ContentError::Invalid { field, message } => AppError::BadRequest { field, message },
            service::ContentError::TooLarge { field, .. } => AppError::BadRequest { field, message: err.to_string() },
            service::ContentError::Forbidden(message) => AppError::Forbidden(message),
            service::ContentError::Db(db) => db.into(),
        }
    }
}

/// How many published posts the listing at `path` (its first page's) holds, counted once per
/// listings epoch: counting reads an index entry per post, and every page of the listing (and
/// the sitemap index) shows it.
pub async fn listing_total(state: &AppState, path: &str, filter: ListFilter) -> Result<i64, AppError> {
    let epoch = state.pages.listings_epoch();
    if let Some(total) = state.listing_totals.get(epoch, path) {
        return Ok(total);
    }
    let total = service::reading::count(&state.db, filter).await?;
    state.listing_totals.put(epoch, path.to_string(), total);
    Ok(total)
}

/// Where page `page` of the `total` posts of the listing at `path`, `per_page` a page, starts,
/// if it lies deep in the listing (`None`: the page is read by skipping posts). Every page's
/// start is found in one pass, kept until the listings epoch moves.
pub async fn listing_page_start(
    state: &AppState,
    path: &str,
    filter: ListFilter,
    total: i64,
    page: u32,
    per_page: u32,
) -> Result<Option<ListPosition>, AppError> {
    if !service::reading::is_deep(total, page, per_page) {
        return Ok(None);
    }
    let epoch = state.pages.listings_epoch();
    let starts = match state.listing_page_starts.get(epoch, path) {
        Some(starts) => starts,
        None => {
            let starts = service::reading::page_starts(&state.db, filter, per_page).await?;
            let starts: Arc<[(i64, i64)]> = starts.iter().map(|s| (s.published_at, s.id)).collect();
            state.listing_page_starts.put(epoch, path.to_string(), starts.clone());
            starts
        }
    };
    // A total counted under another epoch than the starts may name a page past them; such a
    // page is read by skipping.
    Ok(starts.get(page as usize - 1).map(|&(published_at, id)| ListPosition { published_at, id }))
}
