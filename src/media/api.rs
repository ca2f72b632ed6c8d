//! `/api/v1/media`: the media library for tokens whose role may upload media (authors and up),
//! like the library screen: list, read, upload (`multipart/form-data`, through the same reader and
//! service as the screen), alt text and delete (one's own uploads; editors and up any).

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::api_tokens::TokenUser;
use crate::accounts::Capability;
use crate::api::{ApiError, ApiJson, ApiQuery, Caller, ErrorBody, Paged, Paging, TokenCaller};
use crate::http::AppState;
use crate::media::admin::receive;
use crate::media::model::{file_url, MediaItem};
use crate::media::service::{self, Actor, MediaError, Upload};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_media)).routes(routes!(get_media, update_media, delete_media))
}

/// `POST /media`, apart: it has the upload's body limit, not the API's (see `api::upload_router`).
pub fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upload_media))
}

impl From<MediaError> for ApiError {
    fn from(err: MediaError) -> Self {
        match err {
            MediaError::NotFound => ApiError::not_found("No such media item."),
            MediaError::Forbidden(message) => ApiError::forbidden(message),
            MediaError::Db(db) => db.into(),
            MediaError::Worker(why) => ApiError::internal(why),
            MediaError::TooLarge { field, .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", err.to_string()).with_field(field)
            }
            MediaError::Unsupported { field, ref message } => {
                ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message.clone())
                    .with_field(field)
            }
            MediaError::Invalid { field, message } => ApiError::invalid(field, message),
        }
    }
}

/// The service's view of a token's user: editors and up may change anyone's uploads.
fn actor(user: &TokenUser) -> Actor {
    Actor { user_id: user.user_id, may_edit_others: user.role.can(Capability::EditOthers) }
}

#[derive(Serialize, ToSchema)]
pub struct ImageSize {
    url: String,
    width: i64,
    height: i64,
}

#[derive(Serialize, ToSchema)]
pub struct MediaOut {
    id: i64,
    /// The re-encoded original: `/media/{cid}/{name}`.
    url: String,
    width: i64,
    height: i64,
    content_type: String,
    /// Bytes of the stored original.
    size: i64,
    original_name: String,
    alt_text: String,
    /// Narrower copies, widest first.
    sizes: Vec<ImageSize>,
    /// For an `<img srcset>`.
    srcset: String,
    /// What to paste into an article.
    markdown: String,
    uploader: Option<String>,
    /// Unix seconds.
    created_at: i64,
}

impl From<MediaItem> for MediaOut {
    fn from(item: MediaItem) -> Self {
        let name = item.download_name();
        MediaOut {
            id: item.id,
            url: item.url(),
            width: item.original.width,
            height: item.original.height,
            srcset: item.srcset(),
            markdown: item.markdown(),
            sizes: item
                .sizes
                .iter()
                .map(|s| ImageSize { url: file_url(&s.cid, &name), width: s.width, height: s.height })
                .collect(),
            content_type: item.content_type,
            size: item.size,
            original_name: item.original_name,
            alt_text: item.alt_text,
            uploader: item.uploader_name,
            created_at: item.created_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MediaQuery {
    #[param(minimum = 1, maximum = 100000)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
}

/// List the media library, newest first (authors and up).
#[utoipa::path(get, path = "/media", tag = "media", params(MediaQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Paged<MediaOut>, links(
            ("GetFirst" = (operation_id = "get_media", parameters(("id" = "$response.body#/items/0/id")))),
        )),
        (status = "4XX", body = ErrorBody)))]
async fn list_media(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<MediaQuery>,
) -> Result<Json<Paged<MediaOut>>, ApiError> {
    caller.require(Capability::UploadMedia)?;
    let paging = Paging::new(query.page, query.per_page)?;
    let (items, total) = service::list_range(&state.db, paging.limit(), paging.offset()).await?;
    Ok(Json(Paged::new(items.into_iter().map(MediaOut::from).collect(), paging, total)))
}

/// One media item (authors and up).
#[utoipa::path(get, path = "/media/{id}", tag = "media", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = MediaOut), (status = "4XX", body = ErrorBody)))]
async fn get_media(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<MediaOut>, ApiError> {
    caller.require(Capability::UploadMedia)?;
    Ok(Json(service::find(&state.db, id).await?.into()))
}

/// An upload, as `multipart/form-data`.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the form in the document; `media::admin::receive` reads it.
pub struct UploadForm {
    /// A JPEG, PNG, WebP or GIF image of at most `[media] max_upload_bytes` (10 MiB by default); its
    /// type is read from its bytes. It is stored re-encoded, without metadata, with narrower copies.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
    /// Alternative text for people who cannot see the image.
    #[schema(max_length = 500)]
    alt: Option<String>,
}

/// Upload an image (authors and up). The same image uploaded again is not stored twice: the
/// answer is then 200 with the entry already in the library.
#[utoipa::path(post, path = "/media", tag = "media",
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = MediaOut),
        (status = 200, description = "Already in the library", body = MediaOut),
        (status = "4XX", description = "413 over the size limit, 415 not an accepted image type, 422 corrupt \
            or too many pixels; `field` names the form field", body = ErrorBody)))]
async fn upload_media(State(state): State<AppState>, caller: Caller, request: Request) -> Result<Response, ApiError> {
    // Before the body is read: a caller without the right learns nothing from it.
    let user = caller.require(Capability::UploadMedia)?;
    let received = receive(&state, request).await.map_err(|why| {
        ApiError::new(why.status, ApiError::for_status(why.status).code, why.message).with_field(why.field)
    })?;
    let upload =
        Upload { name: received.name, alt_text: received.alt, bytes: received.bytes, uploader_id: user.user_id };
    let (item, created) = service::upload(&state.db, &state.config.media, upload).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(MediaOut::from(item))).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaPatch {
    /// One line; empty removes it.
    #[schema(max_length = 500)]
    alt_text: String,
}

/// Change an image's alt text (one's own uploads; editors and up any).
#[utoipa::path(patch, path = "/media/{id}", tag = "media", request_body = MediaPatch,
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = MediaOut), (status = "4XX", body = ErrorBody)))]
async fn update_media(
    State(state): State<AppState>,
    caller: TokenCaller,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<MediaPatch>,
) -> Result<Json<MediaOut>, ApiError> {
    let user = caller.require(Capability::UploadMedia)?;
    match service::set_alt(&state.db, &actor(user), id, &patch.alt_text).await {
        Ok(item) => Ok(Json(item.into())),
        // The service speaks of the screen's `alt` field; this body calls it `alt_text`.
        Err(MediaError::Invalid { message, .. }) => Err(ApiError::invalid("alt_text", message)),
        Err(err) => Err(err.into()),
    }
}

/// Delete an image and every file no other entry uses (one's own uploads; editors and up any).
/// Articles that show it keep a broken link.
#[utoipa::path(delete, path = "/media/{id}", tag = "media", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_media(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    let user = caller.require(Capability::UploadMedia)?;
    service::delete(&state.db, &actor(user), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
