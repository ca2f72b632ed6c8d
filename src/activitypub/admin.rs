//! The desk's Fediverse screen (editors and admins, `Capability::ManageFediverse`): the site
//! actor's handle, followers and instances, likes and boosts, the followers newest first, the
//! blocks with *Unblock*, and a *Block* form.
//!
//! - `GET /admin/fediverse?page=`
//! - `POST /admin/fediverse/block` (`target`: a host, an actor URL or `@user@host`): blocks it and
//!   removes its followers; bad input answers 422 with the screen and the field marked.
//! - `POST /admin/fediverse/unblock` (`target`, as listed).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Value};
use serde::Deserialize;

use crate::accounts::desk::render;
use crate::accounts::session::{AdminForm, SignedIn};
use crate::accounts::Capability;
use crate::activitypub::followers::{self, BlockError};
use crate::activitypub::service;
use crate::http::{parse_page, AppError, AppState};
use crate::store;

const PER_PAGE: i64 = 50;

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/admin/fediverse", get(screen))
        .route("/admin/fediverse/block", post(block))
        .route("/admin/fediverse/unblock", post(unblock))
}

#[derive(Debug, Default, Deserialize)]
struct ScreenParams {
    page: Option<String>,
    done: Option<String>,
}

async fn screen(
    State(state): State<AppState>,
    signed_in: SignedIn,
    params: Result<Query<ScreenParams>, QueryRejection>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageFediverse)?;
    let Ok(Query(params)) = params else {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, "The screen's parameters are malformed."));
    };
    let page = parse_page(params.page.as_deref())?;
    let notice = match params.done.as_deref() {
        Some("blocked") => Some("Blocked; its followers are removed and what it sends is refused."),
        Some("unblocked") => Some("Unblocked."),
        _ => None,
    };
    let shown = Shown { page, code: StatusCode::OK };
    render_screen(&state, &signed_in, shown, context! { notice }).await
}

/// Which page of the screen is shown, answered with which status.
struct Shown {
    page: u32,
    code: StatusCode,
}

async fn render_screen(
    state: &AppState,
    signed_in: &SignedIn,
    shown: Shown,
    extra: Value,
) -> Result<Response, AppError> {
    let overview = followers::overview(&state.db).await?;
    let rows = followers::list(&state.db, PER_PAGE, (shown.page as i64 - 1) * PER_PAGE).await?;
    let followers: Vec<Value> = rows
        .into_iter()
        .map(|f| {
            context! {
                actor_id => f.actor_id,
                handle => f.handle,
                name => f.name,
                profile_url => f.profile_url,
                host => f.host,
                followed_at => f.followed_at,
            }
        })
        .collect();
    let blocks: Vec<Value> = followers::blocks(&state.db)
        .await?
        .into_iter()
        .map(|b| {
            let instance = !b.target.contains("://");
            context! { target => b.target, created_at => b.created_at, instance }
        })
        .collect();
    let ctx = context! {
        handle => format!("@{}@{}", state.config.activitypub.username, service::host(&state.config)),
        actor_url => service::Urls::new(&state.config).actor(),
        overview => context! {
            followers => overview.followers,
            instances => overview.instances,
            likes => overview.likes,
            boosts => overview.boosts,
            blocks => overview.blocks,
            failing_instances => overview.failing_instances,
        },
        followers,
        blocks,
        page => shown.page,
        total_pages => (overview.followers as u64).div_ceil(PER_PAGE as u64).max(1),
        max_target => followers::MAX_TARGET_CHARS,
        ..extra
    };
    Ok((shown.code, render(state, signed_in, "admin/fediverse.html", ctx)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TargetForm {
    target: String,
}

async fn block(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<TargetForm>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageFediverse)?;
    match followers::block(&state.db, &form.target, store::now()).await {
        Ok(_) => Ok(Redirect::to("/admin/fediverse?done=blocked").into_response()),
        Err(err) => refused(&state, &signed_in, &form.target, "block", err).await,
    }
}

async fn unblock(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<TargetForm>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageFediverse)?;
    match followers::unblock(&state.db, &form.target).await {
        Ok(_) => Ok(Redirect::to("/admin/fediverse?done=unblocked").into_response()),
        Err(err) => refused(&state, &signed_in, &form.target, "unblock", err).await,
    }
}

/// The screen again, 422, with the refused target and why (`form` is which form sent it).
async fn refused(
    state: &AppState,
    signed_in: &SignedIn,
    target: &str,
    form: &str,
    err: BlockError,
) -> Result<Response, AppError> {
    let message = match err {
        BlockError::Db(err) => return Err(err.into()),
        other => other.to_string(),
    };
    let shown = Shown { page: 1, code: StatusCode::UNPROCESSABLE_ENTITY };
    let value: String = target.chars().take(followers::MAX_TARGET_CHARS + 1).collect();
    let extra = context! { error => context! { field => "target", form, message }, target => value };
    render_screen(state, signed_in, shown, extra).await
}
