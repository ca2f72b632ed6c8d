//! Security headers on every response.
//!
//! Everywhere: `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//! strict-origin-when-cross-origin` unless the handler chose one (token pages choose
//! `no-referrer`), and `Strict-Transport-Security` when `http.behind_tls` says the site is
//! served over HTTPS. Under `/admin`, also a strict Content-Security-Policy (no inline scripts
//! or styles: the admin's JS and CSS are files under `/static/admin/`), no framing, no caching
//! and no indexing, whatever the handler returned.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::AppState;

/// The admin desk's Content-Security-Policy.
pub const ADMIN_CSP: &str = "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; \
                              frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Whether `path` is part of the admin desk.
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let admin = is_admin_path(request.uri().path());
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !headers.contains_key(header::REFERRER_POLICY) {
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
    }
    if state.config.http.behind_tls {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    if admin {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(ADMIN_CSP));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    }
    response
}
