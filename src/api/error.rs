//! The API's one error body: `{"error": {"code": "...", "message": "...", "field": "..." | null}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::DbError;

/// Every 4xx and 5xx answer under `/api/v1` has this body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `invalid`, `malformed_json`, `unauthorized`, `forbidden`,
    /// `not_found`, `payload_too_large`, `unsupported_media_type`, …
    pub code: String,
    /// For people.
    pub message: String,
    /// The request field at fault (a JSON path such as `tags[2]`, or a query parameter), if any.
    #[schema(required = true)]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), field: None }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    /// A value the service refused (422), naming the field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).with_field(field)
    }

    /// A malformed query parameter (400).
    pub fn bad_parameter(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message).with_field(field)
    }

    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// Logs the cause; the caller learns only that it was our fault.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %cause, "API internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side.")
    }

    /// The answer for a status that some layer produced without a body of ours.
    pub fn for_status(status: StatusCode) -> ApiError {
        let (code, message) = match status {
            StatusCode::NOT_FOUND => ("not_found", "No such API endpoint."),
            StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "This endpoint does not accept that method."),
            StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "The request body is too large."),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                ("unsupported_media_type", "The request body's content type is not accepted here.")
            }
            StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "The server is busy; please retry shortly."),
            s if s.is_client_error() => ("bad_request", "The request was not understood."),
            _ => ("internal", "Something went wrong on our side."),
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body =
            ErrorBody { error: ErrorDetail { code: self.code.into(), message: self.message, field: self.field } };
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
        }
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => ApiError::not_found("Not found."),
            DbError::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "That conflicts with existing data.")
            }
            other => ApiError::internal(other),
        }
    }
}
