//! `/api/v1/comments`: listing and moderation over JSON.
//!
//! Anonymous callers (and tokens that may not moderate) see approved comments on published
//! articles, without email addresses; moderators (editors and up) see every comment with its
//! author's email and may change its status.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Capability;
use crate::api::{ApiError, ApiJson, ApiQuery, Caller, ErrorBody, Paged, Paging, TokenCaller};
use crate::comments::model::{CommentStatus, ModeratedComment};
use crate::comments::queries::ModerationFilter;
use crate::comments::service::{self, CommentError};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_comments)).routes(routes!(moderate_comment, delete_comment))
}

impl From<CommentError> for ApiError {
    fn from(err: CommentError) -> Self {
        match err {
            CommentError::Invalid(mut fields) if !fields.is_empty() => {
                let (field, message) = fields.swap_remove(0);
                if field == "id" {
                    ApiError::not_found(message)
                } else {
                    ApiError::invalid(field, message)
                }
            }
            CommentError::Db(db) => db.into(),
            other => ApiError::invalid("comment", other.to_string()),
        }
    }
}

/// WordPress's four comment states.
#[derive(Serialize, Deserialize, Clone, Copy, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommentState {
    Pending,
    Approved,
    Spam,
    Trash,
}

impl From<CommentState> for CommentStatus {
    fn from(s: CommentState) -> Self {
        match s {
            CommentState::Pending => CommentStatus::Pending,
            CommentState::Approved => CommentStatus::Approved,
            CommentState::Spam => CommentStatus::Spam,
            CommentState::Trash => CommentStatus::Trash,
        }
    }
}

impl From<CommentStatus> for CommentState {
    fn from(s: CommentStatus) -> Self {
        match s {
            CommentStatus::Pending => CommentState::Pending,
            CommentStatus::Approved => CommentState::Approved,
            CommentStatus::Spam => CommentState::Spam,
            CommentStatus::Trash => CommentState::Trash,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CommentOut {
    id: i64,
    article_id: i64,
    article_slug: String,
    parent_id: Option<i64>,
    status: CommentState,
    author_name: String,
    /// The commenter's website, or empty.
    author_url: String,
    /// Names the identicon at `/comments/avatar/{avatar}.svg`.
    avatar: String,
    /// Sanitised HTML.
    content_html: String,
    /// Unix seconds.
    created_at: i64,
    updated_at: i64,
    /// Only for tokens that may moderate comments.
    author_email: Option<String>,
    /// The text as written; only for tokens that may moderate comments.
    content: Option<String>,
}

impl CommentOut {
    fn new(c: ModeratedComment, moderator: bool) -> CommentOut {
        CommentOut {
            id: c.comment.id,
            article_id: c.comment.article_id,
            article_slug: c.article_slug,
            parent_id: c.comment.parent_id,
            status: c.comment.status.into(),
            author_name: c.comment.author_name,
            author_url: c.comment.author_url,
            avatar: c.comment.avatar,
            content_html: c.comment.content_html,
            created_at: c.comment.created_at,
            updated_at: c.comment.updated_at,
            author_email: moderator.then_some(c.author_email),
            content: moderator.then_some(c.content),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommentQuery {
    /// Any but `approved` needs a token that may moderate comments.
    #[param(inline)]
    status: Option<CommentState>,
    /// Only the comments on this article.
    article_id: Option<i64>,
    #[param(minimum = 1, maximum = 100000)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
}

/// List comments, newest first.
#[utoipa::path(get, path = "/comments", tag = "comments", params(CommentQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Paged<CommentOut>, links(
            ("ModerateFirst" = (operation_id = "moderate_comment", parameters(("id" = "$response.body#/items/0/id")))),
            ("TrashFirst" = (operation_id = "delete_comment", parameters(("id" = "$response.body#/items/0/id")))),
        )),
        (status = "4XX", body = ErrorBody)))]
async fn list_comments(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<CommentQuery>,
) -> Result<Json<Paged<CommentOut>>, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let moderator = caller.can(Capability::ModerateComments);
    let status = query.status.map(CommentStatus::from);
    let filter = if moderator {
        ModerationFilter { status, article_id: query.article_id, published_articles_only: false }
    } else {
        if status.is_some_and(|s| s != CommentStatus::Approved) {
            caller.require(Capability::ModerateComments)?;
        }
        ModerationFilter {
            status: Some(CommentStatus::Approved),
            article_id: query.article_id,
            published_articles_only: true,
        }
    };
    let (items, total) = service::list(&state.db, filter, paging.limit(), paging.offset()).await?;
    let items = items.into_iter().map(|c| CommentOut::new(c, moderator)).collect();
    Ok(Json(Paged::new(items, paging, total)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Moderation {
    status: CommentState,
}

#[derive(Serialize, ToSchema)]
pub struct Moderated {
    id: i64,
    status: CommentState,
    /// False when the comment already had that status.
    changed: bool,
}

/// Approve, hold, mark as spam or trash a comment (editors and up).
#[utoipa::path(patch, path = "/comments/{id}", tag = "comments", request_body = Moderation,
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = Moderated), (status = "4XX", body = ErrorBody)))]
async fn moderate_comment(
    State(state): State<AppState>,
    caller: TokenCaller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<Moderation>,
) -> Result<Json<Moderated>, ApiError> {
    caller.require(Capability::ModerateComments)?;
    let changed = service::set_status(&state.db, &[id], body.status.into()).await?;
    Ok(Json(Moderated { id, status: body.status, changed: !changed.is_empty() }))
}

/// Move a comment to the trash (editors and up); replies to it are refused from then on.
#[utoipa::path(delete, path = "/comments/{id}", tag = "comments", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_comment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    caller.require(Capability::ModerateComments)?;
    service::set_status(&state.db, &[id], CommentStatus::Trash).await?;
    Ok(StatusCode::NO_CONTENT)
}
