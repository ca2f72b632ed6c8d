//! The web layer every capability builds on: the shared state (`AppState`), the error type,
//! rendering helpers, the page cache, forms' CSRF rule, security headers and the layers the
//! site's router wears (`response_rule`, `own_writes`).
//!
//! It knows no capability: capability modules own their routes, and `app::router` merges them
//! and wraps them in the operational layers every request goes through.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use minijinja::Value;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::{ContentChange, Db};

pub mod cached_first;
pub mod encoding;
pub mod error;
pub mod form_guard;
pub mod forms;
pub mod outbound;
pub mod own_writes;
pub mod page_cache;
pub mod page_views;
pub mod rate_limit;
pub mod response_rule;
pub mod security;

use crate::theme::Templates;
use encoding::Coding;
pub use error::AppError;
use form_guard::FormGuard;
use page_cache::{CachedPage, EpochMap, EpochMemo, PageCache};
use rate_limit::RateLimiter;

/// Everything a request handler may use. Built once at start-up.
pub struct App {
    /// Typed configuration, read once at start-up.
    pub config: Config,
    /// The site's database (SQLite or PostgreSQL).
    pub db: Db,
    /// The theme, with overrides from the data folder.
    pub templates: Templates,
    /// Rendered pages of the current content epoch.
    pub pages: PageCache,
    /// The data folder (theme overrides, uploads, the SQLite file).
    pub data_dir: PathBuf,
    /// The price widgets' context for the current content epoch, so rendering a page does not
    /// read prices from the database each time. The poll job bumps the epoch whenever it stores
    /// something shown.
    pub market: EpochMemo<Value>,
    /// The navigation (categories with published posts and their counts, standing pages) for
    /// the current content epoch.
    pub navigation: EpochMemo<Value>,
    /// How many posts each listing (by its first page's path) holds, for the current listings
    /// epoch: counting reads an index entry per post, and every page of a listing shows it.
    pub listing_totals: EpochMap<String, i64>,
    /// Where each page of each listing starts, as its first post's (published time, id), for
    /// the current listings epoch, once a reader asks for a page deep in it: so that any page
    /// costs what the first one does.
    pub listing_page_starts: EpochMap<String, Arc<[(i64, i64)]>>,
    /// Page views counted since the analytics last wrote them down.
    pub page_views: page_views::PageViews,
    /// Per-client buckets for `/search`, the one public page whose cost a reader chooses.
    pub search_limiter: RateLimiter,
    /// Per-client buckets for the ActivityPub inbox, the one public POST without a form.
    pub inbox_limiter: RateLimiter,
    /// The comment form's keys (from the shared site secret) and its per-IP buckets.
    pub comment_guard: FormGuard,
    /// The subscription links' keys (from the shared site secret) and the subscribe form's per-IP
    /// buckets.
    pub subscribe_guard: FormGuard,
    /// `config` with the settings saved in the admin laid over it, reloaded when the content
    /// epoch moves: what pages show as the site's title, tagline, language, time zone, widgets.
    pub settings: crate::settings::Live,
}

#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config, db: Db, data_dir: PathBuf) -> AppState {
        let templates = Templates::new(&data_dir);
        let pages =
            PageCache::new(config.http.page_cache_entries, Duration::from_secs(config.http.other_articles_lag_secs));
        let (comments, subscriptions) = (&config.comments, &config.subscriptions);
        let comment_guard = FormGuard::new(
            form_guard::COMMENTS_SECRET,
            RateLimiter::new("comments", comments.rate_limit_burst, comments.rate_limit_per_minute),
        );
        let subscribe_guard = FormGuard::new(
            form_guard::SUBSCRIPTIONS_SECRET,
            RateLimiter::new("subscribe", subscriptions.rate_limit_burst, subscriptions.rate_limit_per_minute),
        );
        let settings = crate::settings::Live::new(&config);
        // One per listing: home, and each category, tag and author.
        let listing_totals = EpochMap::new(10_000);
        // A start per page of each: 16 bytes for every `per_page` posts.
        let listing_page_starts = EpochMap::new(1_000);
        let page_views = page_views::PageViews::new(config.analytics.enabled, &config.base_url());
        let search_limiter = RateLimiter::new("search", config.content.search_burst, config.content.search_per_minute);
        let inbox_limiter =
            RateLimiter::new("inbox", config.activitypub.inbox_burst, config.activitypub.inbox_per_minute);
        AppState(Arc::new(App {
            config,
            db,
            templates,
            pages,
            data_dir,
            market: EpochMemo::default(),
            navigation: EpochMemo::default(),
            listing_totals,
            listing_page_starts,
            page_views,
            search_limiter,
            inbox_limiter,
            comment_guard,
            subscribe_guard,
            settings,
        }))
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, letting in-flight requests finish.
/// Handlers can read the peer address (`ConnectInfo<SocketAddr>`), e.g. for per-IP rate limits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Keeps this node's view of the content epoch fresh, so page caches follow writes made by
/// other nodes and by the CLI.
pub async fn follow_content_epoch(state: AppState, shutdown: CancellationToken) {
    loop {
        catch_up_with_content_epoch(&state).await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
}

async fn catch_up_with_content_epoch(state: &AppState) {
    let epoch = match state.db.content_epoch().await {
        Ok(epoch) => epoch,
        Err(err) => return tracing::warn!(error = %err, "Could not read the content epoch"),
    };
    // Settings first, so pages cached under the new epoch show the new settings.
    state.settings.follow(&state.db, &state.config, &state.templates, epoch).await;
    let seen = state.pages.epoch();
    if epoch <= seen {
        return;
    }
    let changes = state.db.content_changes(seen, epoch).await.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "Could not read what changed; dropping every cached page");
        vec![ContentChange::Everything]
    });
    state.pages.advance(epoch, &changes);
}

/// Site-wide values every template sees as `site`.
pub fn site_context(state: &AppState) -> Value {
    crate::theme::site_values(&state.settings.config())
}

/// Renders a template into a cacheable HTML page.
pub fn html_page(
    state: &AppState,
    template: &str,
    ctx: Value,
    last_modified: Option<i64>,
) -> Result<CachedPage, AppError> {
    let html = state
        .templates
        .render(template, ctx)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering {template}: {e:#}")))?;
    Ok(page(StatusCode::OK, "text/html; charset=utf-8", html.into(), last_modified))
}

/// Wraps rendered bytes with their validator.
pub fn page(status: StatusCode, content_type: &'static str, body: Bytes, last_modified: Option<i64>) -> CachedPage {
    let digest = Sha256::digest(&body);
    let etag = format!("\"{}\"", hex::encode(&digest[..12]));
    CachedPage::new(status, content_type, body, etag, last_modified)
}

/// Serves `key` from the page cache, rendering it with `render` on a miss, and answers
/// conditional requests with 304. A browser gets the page compressed once, not as it leaves.
pub async fn cached<F, Fut>(state: &AppState, key: &str, headers: &HeaderMap, render: F) -> Response
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<CachedPage, AppError>>,
{
    match cached_page(state, key, render).await {
        Ok(page) => respond(&page, headers, encoding::negotiate(headers)),
        Err(err) => err.into_response(),
    }
}

/// The page cached under `key`, rendered by `render` on a miss.
pub async fn cached_page<F, Fut>(state: &AppState, key: &str, render: F) -> Result<Arc<CachedPage>, AppError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<CachedPage, AppError>>,
{
    if let Some(page) = state.pages.get(key) {
        return Ok(page);
    }
    let epoch = state.pages.epoch();
    let page = Arc::new(render().await?);
    state.pages.insert(key.to_string(), epoch, page.clone());
    Ok(page)
}

/// Whether `headers` ask for ActivityPub JSON rather than a page: an `Accept` naming
/// `application/activity+json`, or `application/ld+json` with the ActivityStreams profile, at a
/// higher quality than `text/html` (Mastodon's search sends `text/html;q=0.1` after them; a
/// tie is a browser's). `*/*` is anyone's and counts for neither. Such requests are never
/// answered from the page cache, whose pages are HTML.
pub fn wants_activity_json(headers: &HeaderMap) -> bool {
    let (mut activity, mut html) = (0.0_f32, 0.0_f32);
    for accept in headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()) {
        // Every cached page's request asks this: a browser's `Accept` names no JSON at all.
        if !accept.contains("json") {
            continue;
        }
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media_type = parts.next().unwrap_or_default().to_ascii_lowercase();
            let params: Vec<&str> = parts.collect();
            let quality = params
                .iter()
                .find_map(|p| p.strip_prefix("q=").map(|q| q.trim().parse::<f32>().unwrap_or(0.0)))
                .unwrap_or(1.0);
            let activity_streams = params.iter().any(|p| p.contains("https://www.w3.org/ns/activitystreams"));
            match media_type.as_str() {
                "text/html" => html = html.max(quality),
                "application/activity+json" => activity = activity.max(quality),
                "application/ld+json" if activity_streams => activity = activity.max(quality),
                _ => {}
            }
        }
    }
    activity > html
}

/// The page's answer in `coding` (each coding its own strong validator: `"<hash>-br"`), or 304.
pub fn respond(page: &CachedPage, headers: &HeaderMap, coding: Option<Coding>) -> Response {
    let etag = page.etag_value(coding);
    let not_modified = match headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(tags) => tags.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/").as_bytes() == etag.as_bytes()
        }),
        None => match (headers.get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok()), page.last_modified) {
            (Some(since), Some(modified)) => httpdate::parse_http_date(since)
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .is_some_and(|since| modified <= since.as_secs() as i64),
            _ => false,
        },
    };
    let mut response = if not_modified && page.status == StatusCode::OK {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let body = match coding {
            Some(coding) => page.encoded(coding).clone(),
            None => page.body.clone(),
        };
        (page.status, [(header::CONTENT_TYPE, HeaderValue::from_static(page.content_type))], body).into_response()
    };
    let h = response.headers_mut();
    if let Some(coding) = coding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding.header_value()));
    }
    // The answer depends on Accept-Encoding whichever coding it has; an article's page also on
    // Accept, since ActivityPub clients get its JSON at the same URL (`wants_activity_json`).
    let vary = if page.varies_by_accept() { "accept, accept-encoding" } else { "accept-encoding" };
    h.insert(header::VARY, HeaderValue::from_static(vary));
    h.insert(header::ETAG, etag.clone());
    if let Some(last_modified) = page.last_modified_value() {
        h.insert(header::LAST_MODIFIED, last_modified.clone());
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=0, must-revalidate"));
    response
}

/// Parses `?page=`: absent means 1; anything but a whole number from 1 to 100,000 is a 400.
pub fn parse_page(raw: Option<&str>) -> Result<u32, AppError> {
    match raw {
        None => Ok(1),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=100_000).contains(&n) => Ok(n),
            _ => Err(AppError::BadRequest {
                field: "page",
                message: format!("expected a whole number from 1 to 100000, got {text:?}"),
            }),
        },
    }
}
