//! The site's one router: every capability's public, desk and API routes, merged, inside the
//! operational layers every request goes through (request ids, tracing, panic catching, load
//! shedding, timeouts, body limits, compression, security headers) — except an anonymous read of
//! a cached page, answered just inside the request id and security headers (`http::cached_first`)
//! — plus the few routes that belong to no capability (health, theme files, the not-found page
//! and old URLs' redirects).

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{BoxError, Router};
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::content::service::reading;
use crate::http::cached_first::CachedFirstLayer;
use crate::http::error::ThemedErrors;
use crate::http::own_writes::SeeOwnWritesLayer;
use crate::http::response_rule::ResponseRuleLayer;
use crate::http::{security, AppError, AppState};

/// The whole site as one router. Tests call this directly.
pub fn router(state: AppState) -> Router {
    let http = &state.config.http;
    // `Router::layer` wraps: the last layer added is the outermost.
    Router::new()
        .merge(crate::site::router())
        .merge(crate::content::feeds::router())
        .merge(crate::ipfs::routes::router())
        .merge(crate::market::routes::router())
        .merge(crate::comments::routes::router(crate::site::post_page))
        .merge(crate::subscriptions::routes::router())
        .merge(crate::media::routes::router())
        .merge(crate::activitypub::routes::router())
        .merge(in_desk_frame(
            &state,
            Router::new()
                .merge(crate::accounts::routes::admin_router())
                .merge(crate::admin::router())
                .merge(crate::content::admin::admin_router())
                .merge(crate::comments::admin::admin_router())
                .merge(crate::subscriptions::admin::admin_router())
                .merge(crate::analytics::admin::admin_router())
                .merge(crate::activitypub::admin::admin_router())
                .merge(crate::media::admin::admin_router())
                .merge(crate::accounts::api_tokens::routes::admin_router()),
        ))
        .merge(super::api::router())
        .route("/healthz", get(healthz))
        .route("/static/{*path}", get(static_file))
        // Browsers ask for this on every page without a `<link rel=icon>` (the IPFS copies).
        .route("/favicon.ico", get(|state: State<AppState>| static_file(state, Path("favicon.svg".into()))))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), moved_permanently))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(http.max_body_bytes))
        // Image uploads have a limit of their own (`media.max_upload_bytes`), and so do
        // subscriber lists, so they join the router after the site-wide one.
        .merge(in_desk_frame(&state, crate::media::admin::upload_router(&state.config.media)))
        .merge(in_desk_frame(&state, crate::subscriptions::admin::import_router()))
        .merge(super::api::upload_router(&state.config.media))
        // Inside compression, so themed error pages are compressed like any page.
        .layer(ResponseRuleLayer(ThemedErrors(state.clone())))
        .layer(SeeOwnWritesLayer(state.clone()))
        // Every answer is compressed as it leaves, cached pages included, so the level is what a
        // reader's cached page costs: the fastest level serves 2.5x the default's requests/s to
        // browsers (15k against 6k, article page, wrk -c64 with `Accept-Encoding: br`) for 18%
        // more bytes.
        .layer(tower_http::compression::CompressionLayer::new().quality(tower_http::CompressionLevel::Fastest))
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
        // Cached pages are answered here, past nothing but the request id and security headers.
        .layer(CachedFirstLayer(state.clone()))
        // Outside the cache's answers, so that cached pages are counted too.
        .layer(ResponseRuleLayer(state.page_views.clone()))
        .layer(SetRequestIdLayer::x_request_id(RandomRequestId))
        .layer(ResponseRuleLayer(security::SecurityHeaders { behind_tls: state.config.http.behind_tls }))
        .with_state(state)
}

/// Desk routes, their error pages shown inside the desk's frame.
fn in_desk_frame(state: &AppState, desk: Router<AppState>) -> Router<AppState> {
    desk.layer(axum::middleware::from_fn_with_state(state.clone(), crate::accounts::desk::errors_in_frame))
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
        return AppError::NotFound.into_response();
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

async fn not_found() -> Response {
    AppError::NotFound.into_response()
}

/// A page that is not found may have moved: an imported site's old permalink (`migrate`), or a
/// published article whose slug changed. Then the 404 becomes a 301 to its new place.
/// WordPress's default permalinks (`/?p=12`) name the home page, which is found: they are
/// looked up before it is served.
async fn moved_permanently(State(state): State<AppState>, request: Request<axum::body::Body>, next: Next) -> Response {
    let is_read = request.method() == Method::GET || request.method() == Method::HEAD;
    let uri = request.uri().clone();
    let query_permalink = match (is_read, uri.path(), uri.query()) {
        (true, "/", Some(query)) => reading::query_permalink(query),
        _ => None,
    };
    if let Some(old) = query_permalink {
        match reading::redirect_for(&state.db, &old).await {
            Ok(Some(new_path)) => return permanent_redirect(new_path),
            Ok(None) => {}
            Err(err) => return AppError::Internal(err.into()).into_response(),
        }
    }
    let response = next.run(request).await;
    if !is_read || response.status() != StatusCode::NOT_FOUND {
        return response;
    }
    match reading::redirect_for(&state.db, uri.path()).await {
        Ok(Some(new_path)) => permanent_redirect(new_path),
        Ok(None) => response,
        Err(err) => AppError::Internal(err.into()).into_response(),
    }
}

fn permanent_redirect(new_path: String) -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, new_path)]).into_response()
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
