//! The one error type handlers return. Variants name HTTP outcomes; internal errors are logged
//! with the request's span and never shown to readers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::DbError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    /// A request parameter is malformed; `field` names it.
    #[error("{field}: {message}")]
    BadRequest { field: &'static str, message: String },
    /// The signed-in user's role does not allow it; the message says what.
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbError> for AppError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::NotFound => AppError::NotFound,
            other => AppError::Internal(other.into()),
        }
    }
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What a reader is told.
    pub fn public_message(&self) -> String {
        match self {
            AppError::NotFound => "The page you were looking for does not exist.".into(),
            AppError::BadRequest { field, message } => format!("Invalid parameter `{field}`: {message}"),
            AppError::Forbidden(message) => message.clone(),
            AppError::Internal(_) => "Something went wrong on our side. Please try again later.".into(),
        }
    }
}

/// Without access to the templates (the page renderer wraps errors in the theme), a plain answer.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "Internal error");
        }
        (self.status(), self.public_message()).into_response()
    }
}
