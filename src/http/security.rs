//! Security headers on every response.
//!
//! Everywhere: `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//! strict-origin-when-cross-origin` unless the handler chose one (token pages choose
//! `no-referrer`), and `Strict-Transport-Security` when `http.behind_tls` says the site is
//! served over HTTPS. Under `/admin`, also a strict Content-Security-Policy (no inline scripts
//! or styles: the admin's JS and CSS are files under `/static/admin/`), no framing, no caching
//! and no indexing, whatever the handler returned.

use axum::http::{header, HeaderValue, Request};
use axum::response::Response;

use crate::http::response_rule::ResponseRule;

/// The admin desk's Content-Security-Policy.
pub const ADMIN_CSP: &str = "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; \
                              frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// Whether `path` is part of the admin desk.
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The headers above, as a [`ResponseRule`] around the whole router.
#[derive(Clone, Copy)]
pub struct SecurityHeaders {
    /// `http.behind_tls`: the site is served over HTTPS, so browsers may be told to insist on it.
    pub behind_tls: bool,
}

impl ResponseRule for SecurityHeaders {
    /// Whether the request was for an admin page.
    type Seen = bool;

    fn see<B>(&self, request: &Request<B>) -> bool {
        is_admin_path(request.uri().path())
    }

    fn apply(&self, admin: bool, mut response: Response) -> Response {
        let headers = response.headers_mut();
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if !headers.contains_key(header::REFERRER_POLICY) {
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin"));
        }
        if self.behind_tls {
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
}
