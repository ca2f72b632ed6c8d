//! `/admin/tokens`: everyone signed in creates and revokes their own API tokens (a token is
//! shown once, on the page that created it); admins see and may revoke everyone's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde::Deserialize;

use crate::accounts::api_tokens::{self, MAX_NAME_CHARS};
use crate::accounts::desk::render;
use crate::accounts::session::{AdminForm, SignedIn};
use crate::accounts::{AccountError, Capability, Role};
use crate::http::{AppError, AppState};

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/admin/tokens", get(tokens_page).post(create_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
}

/// Admins manage every token; others only their own.
fn owner_scope(signed_in: &SignedIn) -> Option<&str> {
    (!signed_in.role.can(Capability::ManageUsers)).then_some(signed_in.user.username.as_str())
}

/// The page, with `extra` (a notice, the new token, a form error) and `status`.
async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    extra: minijinja::Value,
) -> Result<Response, AppError> {
    let tokens = api_tokens::list(&state.db, owner_scope(signed_in)).await?;
    let roles: Vec<&str> = Role::ALL.iter().filter(|r| **r <= signed_in.role).map(|r| r.as_str()).collect();
    let ctx = context! {
        tokens => tokens,
        roles => roles,
        max_name => MAX_NAME_CHARS,
        show_owner => owner_scope(signed_in).is_none(),
        ..extra
    };
    Ok((status, render(state, signed_in, "admin/tokens.html", ctx)).into_response())
}

async fn tokens_page(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response, AppError> {
    signed_in.require(Capability::WriteDrafts)?;
    page(&state, &signed_in, StatusCode::OK, context! {}).await
}

#[derive(Deserialize)]
struct NewTokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

async fn create_token(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<NewTokenForm>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::WriteDrafts)?;
    let again = |field: &str, message: String| {
        let form = context! { name => form.name, role => form.role };
        context! { form => form, error => context! { field => field, message => message } }
    };
    let Some(role) = Role::parse(&form.role) else {
        let extra = again("role", "choose one of the roles".into());
        return page(&state, &signed_in, StatusCode::UNPROCESSABLE_ENTITY, extra).await;
    };
    match api_tokens::create(&state.db, &signed_in.user.username, &form.name, Some(role)).await {
        // No redirect: the secret exists only in this response.
        Ok((token, secret)) => {
            page(&state, &signed_in, StatusCode::OK, context! { created => token, secret => secret }).await
        }
        Err(AccountError::Invalid { field, message }) => {
            page(&state, &signed_in, StatusCode::UNPROCESSABLE_ENTITY, again(field, message)).await
        }
        Err(err) => Err(AppError::Internal(err.into())),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, Empty {}): AdminForm<Empty>,
) -> Result<Response, AppError> {
    match api_tokens::revoke(&state.db, id, owner_scope(&signed_in)).await? {
        true => Ok(Redirect::to("/admin/tokens").into_response()),
        false => Err(AppError::NotFound),
    }
}
