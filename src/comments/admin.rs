//! The admin desk's comment moderation screen (editors and admins): the queue by status,
//! approve, spam, trash, back to pending (one comment, or the ones ticked), and a moderator's
//! reply.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;
use serde::Deserialize;

use crate::accounts::session::{AdminForm, SignedIn};
use crate::accounts::Capability;
use crate::comments::model::CommentStatus;
use crate::comments::queries::ModerationFilter;
use crate::comments::service::{self, CommentError};
use crate::http::{parse_page, AppError, AppState};

const PER_PAGE: i64 = 30;

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/admin/comments", get(queue))
        .route("/admin/comments/{id}/status", post(set_status))
        .route("/admin/comments/bulk", post(bulk_status))
        .route("/admin/comments/{id}/reply", post(reply))
}

#[derive(Debug, Default, Deserialize)]
struct QueueParams {
    status: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

/// The answer to a refused moderation action.
fn failure(err: CommentError) -> AppError {
    match err {
        CommentError::Db(err) => err.into(),
        CommentError::Invalid(fields) => {
            let message = fields.iter().map(|(field, m)| format!("{field}: {m}")).collect::<Vec<_>>().join(" ");
            AppError::refused(StatusCode::BAD_REQUEST, message)
        }
        CommentError::ParentNotFound => AppError::refused(StatusCode::NOT_FOUND, "There is no such comment."),
        other => AppError::refused(StatusCode::BAD_REQUEST, other.to_string()),
    }
}

async fn queue(
    State(state): State<AppState>,
    signed_in: SignedIn,
    params: Result<Query<QueueParams>, QueryRejection>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ModerateComments)?;
    let Ok(Query(params)) = params else {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, "The queue's filters are malformed."));
    };
    // Pending first, as WordPress's queue; `all` lists every status.
    let status = match params.status.as_deref().unwrap_or("pending") {
        "all" => None,
        name => match CommentStatus::parse(name) {
            Some(status) => Some(status),
            None => return Err(AppError::refused(StatusCode::BAD_REQUEST, format!("status: unknown status {name:?}"))),
        },
    };
    let page = parse_page(params.page.as_deref())?;
    let filter = ModerationFilter { status, article_id: None, published_articles_only: false };
    let (comments, total) = service::list(&state.db, filter, PER_PAGE, (page as i64 - 1) * PER_PAGE).await?;
    let notice = match params.done.as_deref() {
        Some("approved") => Some("Approved."),
        Some("spam") => Some("Marked as spam."),
        Some("trash") => Some("Moved to the trash."),
        Some("pending") => Some("Back in the queue."),
        Some("bulk") => Some("The selected comments are moved."),
        Some("replied") => Some("Your reply is published."),
        _ => None,
    };
    let ctx = context! {
        comments => comments,
        total => total,
        page => page,
        total_pages => (total as u64).div_ceil(PER_PAGE as u64).max(1),
        status => status.map_or("all", CommentStatus::as_str),
        statuses => ["pending", "approved", "spam", "trash", "all"],
        notice => notice,
    };
    Ok(crate::accounts::desk::render(&state, &signed_in, "admin/comments.html", ctx))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusForm {
    /// `approved`, `spam`, `trash` or `pending`.
    status: String,
    /// The queue to go back to.
    back: String,
}

async fn set_status(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<StatusForm>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ModerateComments)?;
    let Some(status) = CommentStatus::parse(&form.status) else {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, format!("status: unknown status {:?}", form.status)));
    };
    service::set_status(&state.db, &[id], status).await.map_err(failure)?;
    Ok(back_to_queue(&form.back, status.as_str()))
}

/// The queue `back` names (pending if none), with a notice of what was `done`.
fn back_to_queue(back: &str, done: &str) -> Response {
    let back = match back {
        queue @ ("pending" | "approved" | "spam" | "trash" | "all") => queue,
        _ => "pending",
    };
    Redirect::to(&format!("/admin/comments?status={back}&done={done}")).into_response()
}

/// Comments selected at once, as a queue page holds them.
const MOST_SELECTED: usize = 200;

/// Approve, spam, trash or unapprove the comments ticked in the queue (`ids`, repeated): all of
/// them in one transaction, or none if one is refused.
async fn bulk_status(
    State(state): State<AppState>,
    AdminForm(signed_in, fields): AdminForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ModerateComments)?;
    let field = |name: &str| fields.iter().find(|(key, _)| key == name).map_or("", |(_, value)| value.as_str());
    let Some(status) = CommentStatus::parse(field("status")) else {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, "status: choose what to do with the selected comments"));
    };
    let mut ids = Vec::new();
    for (_, value) in fields.iter().filter(|(key, _)| key == "ids") {
        let Ok(id) = value.parse::<i64>() else {
            return Err(AppError::refused(StatusCode::BAD_REQUEST, format!("ids: {value:?} is not a comment id")));
        };
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, "ids: select at least one comment"));
    }
    if ids.len() > MOST_SELECTED {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, format!("ids: at most {MOST_SELECTED} at once")));
    }
    service::set_status(&state.db, &ids, status).await.map_err(failure)?;
    Ok(back_to_queue(field("back"), "bulk"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ReplyForm {
    comment: String,
}

async fn reply(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<ReplyForm>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ModerateComments)?;
    let keys = crate::comments::guard::Keys::of(&state).await?;
    let user = &signed_in.user;
    service::reply_as_moderator(&state.db, &keys, id, &user.display_name, &user.email, &form.comment)
        .await
        .map_err(failure)?;
    Ok(Redirect::to("/admin/comments?status=approved&done=replied").into_response())
}
