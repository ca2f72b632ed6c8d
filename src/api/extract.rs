//! Request extractors whose every rejection is an [`ApiError`] naming the field at fault, and the
//! pagination every list endpoint shares.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::api::ApiError;

/// A JSON body: `Content-Type: application/json` (415 otherwise), at most the API's body limit
/// (413), well-formed (400 `malformed_json`), an object (422: serde would also fill a struct from
/// an array of its field values, which no client means) and of the right shape (422 `invalid`,
/// with the path of the faulty field, e.g. `tags[1]`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|essence| essence.trim().to_ascii_lowercase())
            .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with `Content-Type: application/json`.",
            ));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::for_status(StatusCode::PAYLOAD_TOO_LARGE)
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, "bad_request", rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // PostgreSQL cannot store NUL in text; refuse it here, naming the field, rather than fail there.
    if memchr::memmem::find(bytes, b"\\u0000").is_some() {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(path) = nul_path(&value, "") {
                return Err(ApiError::invalid(path, "must not contain NUL characters"));
            }
        }
    }
    if bytes.trim_ascii_start().starts_with(b"[") {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", "The body must be a JSON object."));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = inner.to_string();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            let error = ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("Malformed JSON: {message}"));
            return if path == "." { error } else { error.with_field(path) };
        }
        // serde reports a missing field at the object that lacks it; name the field itself.
        let field = match (missing_field(&message), path.as_str()) {
            (Some(name), ".") => Some(name.to_string()),
            (Some(name), parent) => Some(format!("{parent}.{name}")),
            (None, ".") => None,
            (None, path) => Some(path.to_string()),
        };
        let error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message);
        match field {
            Some(field) => error.with_field(field),
            None => error,
        }
    })?;
    de.end()
        .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("Malformed JSON: {err}")))?;
    Ok(value)
}

/// The path (`tags[1]`, `inner.name`) below `path` of the first string holding a NUL character.
fn nul_path(value: &serde_json::Value, path: &str) -> Option<String> {
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(path.to_string()),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, item)| nul_path(item, &format!("{path}[{i}]")))
        }
        serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| match path {
            "" => nul_path(item, key),
            _ => nul_path(item, &format!("{path}.{key}")),
        }),
        _ => None,
    }
}

/// The field a serde "missing field `x`" message names.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next())
}

/// Query parameters; a malformed one is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        if let Some((name, _)) =
            form_urlencoded::parse(query.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
        {
            return Err(ApiError::bad_parameter(name, "must not contain NUL characters"));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            let field = missing_field(&message).map_or(path, str::to_string);
            ApiError::bad_parameter(field, message)
        })
    }
}

/// For `Option<Option<T>>` fields of a PATCH body (with `#[serde(default)]`): absent is `None`
/// (keep), `null` is `Some(None)` (clear), a value is `Some(Some(value))`.
pub fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(de: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

pub const MAX_PER_PAGE: u32 = 100;
pub const DEFAULT_PER_PAGE: u32 = 20;
const MAX_PAGE: u32 = 100_000;

/// `?page=` (from 1) and `?per_page=` (1–100, default 20), checked.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
}

impl Paging {
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Result<Paging, ApiError> {
        let page = page.unwrap_or(1);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(ApiError::bad_parameter("page", format!("must be from 1 to {MAX_PAGE}")));
        }
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::bad_parameter("per_page", format!("must be from 1 to {MAX_PER_PAGE}")));
        }
        Ok(Paging { page, per_page })
    }

    pub fn limit(&self) -> i64 {
        self.per_page.into()
    }

    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.per_page)
    }
}

/// One page of a list: every list endpoint answers with this envelope. A page past the end has
/// no items (and is not an error).
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total_items: i64,
    pub total_pages: u32,
}

impl<T> Paged<T> {
    pub fn new(items: Vec<T>, paging: Paging, total_items: i64) -> Paged<T> {
        let total_pages = (total_items.max(0) as u64).div_ceil(paging.per_page.into()).max(1);
        Paged {
            items,
            page: paging.page,
            per_page: paging.per_page,
            total_items,
            total_pages: u32::try_from(total_pages).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)] // Only the error paths are looked at.
    struct Body {
        title: String,
        tags: Vec<String>,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn field_of(json: &str) -> (StatusCode, Option<String>) {
        let err = parse_json::<Body>(json.as_bytes()).unwrap_err();
        (err.status, err.field)
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"title": 5, "tags": []}"#), (StatusCode::UNPROCESSABLE_ENTITY, Some("title".into())));
        assert_eq!(
            field_of(r#"{"title": "a", "tags": ["x", 2]}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("tags[1]".into()))
        );
        assert_eq!(
            field_of(r#"{"title": "a", "tags": [], "inner": {"n": "\u0000"}}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("inner.n".into()))
        );
        assert_eq!(field_of(r#"{"tags": []}"#), (StatusCode::UNPROCESSABLE_ENTITY, Some("title".into())));
        assert_eq!(
            field_of(r#"{"title": "a", "tags": [], "inner": {}}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("inner.n".into()))
        );
        assert_eq!(field_of(r#"["a", ["b"], null]"#), (StatusCode::UNPROCESSABLE_ENTITY, None));
        assert_eq!(field_of(r#"{"title": "a""#).0, StatusCode::BAD_REQUEST);
        assert_eq!(field_of(r#"{"title": "a", "tags": []} x"#).0, StatusCode::BAD_REQUEST);
        assert_eq!(
            field_of(r#"{"title": "a", "tags": ["b", "c\u0000"]}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("tags[1]".into()))
        );
        assert_eq!(
            field_of(r#"{"title": "a", "tags": [], "inner": {"n": "\u0000"}}"#),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("inner.n".into()))
        );
    }
}
