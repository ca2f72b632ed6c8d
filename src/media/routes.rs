//! `GET /media/{cid}` and `/media/{cid}/{name}`: stored images, immutable by construction (the
//! URL names the bytes), so browsers and proxies may keep them for a year.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::http::{AppError, AppState};
use crate::media::service;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn router() -> Router<AppState> {
    Router::new().route("/media/{cid}", get(by_cid)).route("/media/{cid}/{name}", get(by_cid_and_name))
}

async fn by_cid(
    State(state): State<AppState>,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    serve(&state, &cid, &headers).await
}

async fn by_cid_and_name(
    State(state): State<AppState>,
    Path((cid, _name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    serve(&state, &cid, &headers).await
}

async fn serve(state: &AppState, cid: &str, headers: &HeaderMap) -> Result<Response, AppError> {
    let etag = format!("\"{cid}\"");
    let file =
        service::file(&state.db, cid).await.map_err(|err| AppError::Internal(err.into()))?.ok_or(AppError::NotFound)?;
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim().trim_start_matches("W/") == etag));
    let mut response = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { file.bytes.into_response() };
    let h = response.headers_mut();
    if !fresh {
        if let Ok(v) = HeaderValue::from_str(&file.content_type) {
            h.insert(header::CONTENT_TYPE, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}
