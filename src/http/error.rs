//! The one error type handlers return. Variants name HTTP outcomes; internal errors are logged
//! with the request's span and never shown to readers.
//!
//! An `AppError` answers with its status and a plain message marked as an error page; around the
//! whole router, [`ThemedErrors`] renders that mark as the theme's `404.html` or `error.html`,
//! so a handler returns `Result<_, AppError>` (or `err.into_response()`) without the site state.

use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::http::response_rule::ResponseRule;
use crate::http::{site_context, AppState};

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
    /// Any other refusal: `status` (a 4xx) and what the user is told.
    #[error("{message}")]
    Refused { status: StatusCode, message: String },
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
    pub fn refused(status: StatusCode, message: impl Into<String>) -> AppError {
        AppError::Refused { status, message: message.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Refused { status, .. } => *status,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What a reader is told.
    pub fn public_message(&self) -> String {
        match self {
            AppError::NotFound => "The page you were looking for does not exist.".into(),
            AppError::BadRequest { field, message } => format!("Invalid parameter `{field}`: {message}"),
            AppError::Forbidden(message) | AppError::Refused { message, .. } => message.clone(),
            AppError::Internal(_) => "Something went wrong on our side. Please try again later.".into(),
        }
    }
}

/// A plain answer marked with [`ErrorPage`], which [`ThemedErrors`] dresses in the theme.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(err) = &self {
            tracing::error!(error = format!("{err:#}"), "Internal error");
        }
        let message = self.public_message();
        let mut response = (self.status(), message.clone()).into_response();
        response.extensions_mut().insert(ErrorPage(message));
        response
    }
}

/// What a reader is told on an error page; put on the response by `AppError::into_response`.
#[derive(Clone)]
pub struct ErrorPage(pub String);

/// Renders every response marked [`ErrorPage`] as the theme's error page. Under the JSON API,
/// `api::JsonErrors`, outside this rule, then answers with the API's error body instead.
#[derive(Clone)]
pub struct ThemedErrors(pub AppState);

impl ResponseRule for ThemedErrors {
    type Seen = ();

    fn see<B>(&self, _: &Request<B>) {}

    fn apply(&self, _: (), mut response: Response) -> Response {
        match response.extensions_mut().remove::<ErrorPage>() {
            Some(ErrorPage(message)) => {
                let mut page = themed(&self.0, response.status(), &message);
                // When to come back, for a 429 or 503.
                if let Some(retry_after) = response.headers().get(header::RETRY_AFTER) {
                    page.headers_mut().insert(header::RETRY_AFTER, retry_after.clone());
                }
                page
            }
            None => response,
        }
    }
}

/// The theme's error page with `status` and `message`; a plain one if the theme fails.
fn themed(state: &AppState, status: StatusCode, message: &str) -> Response {
    let template = if status == StatusCode::NOT_FOUND { "404.html" } else { "error.html" };
    let ctx = context! { site => site_context(state), status => status.as_u16(), message => message };
    match state.templates.render(template, ctx) {
        Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(render_err) => {
            tracing::error!(error = %render_err, "Rendering the error page failed");
            (status, message.to_string()).into_response()
        }
    }
}
