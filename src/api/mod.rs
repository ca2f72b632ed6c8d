//! What the JSON API under `/api/v1` shares.
//!
//! Each capability module keeps its endpoints in its own `api` module (`content::api`,
//! `comments::api`, `subscriptions::api`, `media::api`), calling its service; `app::api` merges
//! them and serves the OpenAPI 3.1 document. This module holds what the endpoints share:
//! - [`ApiError`]: the one error body `{"error": {"code", "message", "field"}}`, also put on the
//!   answers other layers give under `/api/v1` (unknown path, wrong method, oversize body,
//!   timeouts) by [`JsonErrors`];
//! - [`Caller`]: the bearer-token extractor (`Authorization: Bearer ov_…`, see
//!   `accounts::api_tokens`); rights are `Role::can` on the token's role;
//! - [`ApiJson`], [`ApiQuery`]: extractors that name the faulty field;
//! - [`Paging`], [`Paged`]: `?page=&per_page=` (at most 100) in, an envelope
//!   `{items, page, per_page, total_items, total_pages}` out.

use axum::http::{header, Request};
use axum::response::{IntoResponse, Response};

use crate::http::response_rule::ResponseRule;

pub mod auth;
pub mod error;
pub mod extract;

pub use auth::{Caller, TokenCaller};
pub use error::{ApiError, ErrorBody};
pub use extract::{ApiJson, ApiQuery, Paged, Paging};

pub const PREFIX: &str = "/api/v1";
/// Larger JSON bodies are refused with 413 before they are parsed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The security scheme's name in the document.
pub const BEARER: &str = "bearer";

/// Gives every 4xx/5xx under `/api/v1` the API's error body, whichever layer answered: the site's
/// fallback (unknown path: 404), the router (wrong method: 405), the body limit (413), the
/// timeout and load-shedding layers (503), the panic catcher (500). Our handlers' own errors are
/// already JSON and pass through.
#[derive(Clone, Copy)]
pub struct JsonErrors;

impl ResponseRule for JsonErrors {
    /// Whether the request was for the API.
    type Seen = bool;

    fn see<B>(&self, request: &Request<B>) -> bool {
        let path = request.uri().path();
        path == PREFIX || path.starts_with("/api/v1/")
    }

    fn apply(&self, api: bool, response: Response) -> Response {
        let status = response.status();
        let is_json =
            response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
        if !api || !(status.is_client_error() || status.is_server_error()) || is_json {
            return response;
        }
        let mut fresh = ApiError::for_status(status).into_response();
        for name in [header::ALLOW, header::RETRY_AFTER] {
            if let Some(value) = response.headers().get(&name) {
                fresh.headers_mut().insert(name, value.clone());
            }
        }
        fresh
    }
}
