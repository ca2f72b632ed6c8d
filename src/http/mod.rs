//! The web layer: router, middleware, page cache and rendering helpers.
//!
//! Capability modules own their routes (`content::routes`, `content::feeds`); this module merges
//! them and wraps them in the operational layers every request goes through: request ids,
//! tracing, panic catching, load shedding, timeouts, body limits and compression.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{BoxError, Router};
use minijinja::{context, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::content;
use crate::store::Db;

pub mod error;
pub mod forms;
mod own_writes;
pub mod page_cache;
pub mod response_rule;
pub mod security;

use crate::theme::Templates;
pub use error::AppError;
use page_cache::{CachedPage, EpochMemo, PageCache};
use response_rule::ResponseRuleLayer;

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
    /// Comment keys (from the shared site secret) and this node's per-IP token buckets.
    pub comments: crate::comments::NodeState,
    /// Subscription link keys (from the shared site secret) and the subscribe form's per-IP
    /// token buckets.
    pub subscriptions: crate::subscriptions::NodeState,
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
        let pages = PageCache::new(config.http.page_cache_entries);
        let comments = crate::comments::NodeState::new(&config.comments);
        let subscriptions = crate::subscriptions::NodeState::new(&config.subscriptions);
        let settings = crate::settings::Live::new(&config);
        AppState(Arc::new(App {
            config,
            db,
            templates,
            pages,
            data_dir,
            market: EpochMemo::default(),
            navigation: EpochMemo::default(),
            comments,
            subscriptions,
            settings,
        }))
    }
}

/// The whole site as one router. Tests call this directly.
pub fn router(state: AppState) -> Router {
    let http = &state.config.http;
    // `Router::layer` wraps: the last layer added is the outermost.
    Router::new()
        .merge(content::routes::router())
        .merge(content::feeds::router())
        .merge(crate::ipfs::routes::router())
        .merge(crate::market::routes::router())
        .merge(crate::comments::routes::router())
        .merge(crate::subscriptions::routes::router())
        .merge(crate::accounts::routes::admin_router())
        .merge(crate::admin::router())
        .merge(content::admin::admin_router())
        .merge(crate::comments::admin::admin_router())
        .merge(crate::media::routes::router())
        .merge(crate::media::admin::admin_router())
        .merge(crate::settings::routes::admin_router())
        .merge(crate::api::router())
        .merge(crate::accounts::api_tokens::routes::admin_router())
        .route("/healthz", get(healthz))
        .route("/static/{*path}", get(static_file))
        // Browsers ask for this on every page without a `<link rel=icon>` (the IPFS copies).
        .route("/favicon.ico", get(|state: State<AppState>| static_file(state, Path("favicon.svg".into()))))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), moved_permanently))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(http.max_body_bytes))
        // Image uploads have a limit of their own (`media.max_upload_bytes`), so they join the
        // router after the site-wide one.
        .merge(crate::media::admin::upload_router(&state.config.media))
        .merge(crate::api::upload_router(&state.config.media))
        .layer(own_writes::SeeOwnWritesLayer(state.clone()))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(http.request_timeout_secs),
        ))
        // Excess load is shed with 503 + Retry-After instead of queueing without bound.
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .load_shed()
                .concurrency_limit(http.max_concurrency),
        )
        .layer(tower_http::catch_panic::CatchPanicLayer::new())
        // Outside everything that may answer on its own, so /api/v1 errors all get the API's body.
        .layer(ResponseRuleLayer(crate::api::JsonErrors))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
        .layer(ResponseRuleLayer(security::SecurityHeaders { behind_tls: state.config.http.behind_tls }))
        .with_state(state)
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
    match state.db.content_epoch().await {
        Ok(epoch) => {
            // Settings first, so pages cached under the new epoch show the new settings.
            state.settings.follow(&state.db, &state.config, &state.templates, epoch).await;
            state.pages.set_epoch(epoch)
        }
        Err(err) => tracing::warn!(error = %err, "Could not read the content epoch"),
    }
}

async fn overloaded(err: BoxError) -> Response {
    if err.is::<tower::load_shed::error::Overloaded>() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "The server is busy; please retry shortly.",
        )
            .into_response();
    }
    tracing::error!(error = %err, "Middleware error");
    (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.").into_response()
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.content_epoch().await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
        Err(err) => {
            tracing::error!(error = %err, "Health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn static_file(State(state): State<AppState>, Path(path): Path<String>) -> Response {
    let Some(bytes) = state.templates.static_file(&path) else {
        return error_page(&state, AppError::NotFound);
    };
    let content_type = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    };
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")], bytes).into_response()
}

async fn not_found(State(state): State<AppState>) -> Response {
    error_page(&state, AppError::NotFound)
}

/// A page that is not found may have moved: an imported site's old permalink (`migrate`), or a
/// published article whose slug changed. Then the 404 becomes a 301 to its new place.
async fn moved_permanently(State(state): State<AppState>, request: Request<axum::body::Body>, next: Next) -> Response {
    let is_read = request.method() == Method::GET || request.method() == Method::HEAD;
    let uri = request.uri().clone();
    let response = next.run(request).await;
    if !is_read || response.status() != StatusCode::NOT_FOUND {
        return response;
    }
    match crate::migrate::redirect_for(&state.db, uri.path()).await {
        Ok(Some(new_path)) => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, new_path)]).into_response(),
        Ok(None) => response,
        Err(err) => error_page(&state, AppError::Internal(err.into())),
    }
}

/// The theme's error page for `err`, with the right status.
pub fn error_page(state: &AppState, err: AppError) -> Response {
    if let AppError::Internal(cause) = &err {
        tracing::error!(error = format!("{cause:#}"), "Internal error");
    }
    let status = err.status();
    let template = if status == StatusCode::NOT_FOUND { "404.html" } else { "error.html" };
    let ctx = context! { site => site_context(state), status => status.as_u16(), message => err.public_message() };
    match state.templates.render(template, ctx) {
        Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(render_err) => {
            tracing::error!(error = %render_err, "Rendering the error page failed");
            (status, err.public_message()).into_response()
        }
    }
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
    CachedPage { status, content_type, body, etag, last_modified }
}

/// Serves `key` from the page cache, rendering it with `render` on a miss, and answers
/// conditional requests with 304.
pub async fn cached<F, Fut>(state: &AppState, key: &str, headers: &HeaderMap, render: F) -> Response
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<CachedPage, AppError>>,
{
    let page = match state.pages.get(key) {
        Some(page) => page,
        None => {
            let epoch = state.pages.epoch();
            match render().await {
                Ok(page) => {
                    let page = Arc::new(page);
                    state.pages.insert(key.to_string(), epoch, page.clone());
                    page
                }
                Err(err) => return error_page(state, err),
            }
        }
    };
    respond(&page, headers)
}

fn respond(page: &CachedPage, headers: &HeaderMap) -> Response {
    let last_modified = page
        .last_modified
        .map(|ts| httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(ts.max(0) as u64)));
    let not_modified = match headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(tags) => tags.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == page.etag
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
        (page.status, [(header::CONTENT_TYPE, page.content_type)], page.body.clone()).into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&page.etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(Ok(v)) = last_modified.map(|d| HeaderValue::from_str(&d)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=0, must-revalidate"));
    response
}

/// Request ids: 64 random bits, hex.
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = format!("{:016x}", rand::random::<u64>());
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
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
