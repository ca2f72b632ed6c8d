//! `/api/v1/media`: the media library, read-only (uploads go through `/admin/media`), for tokens
//! whose role may upload media (authors and up), like the library screen.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Capability;
use crate::api::{ApiError, ApiQuery, Caller, ErrorBody, Paged, Paging};
use crate::http::AppState;
use crate::media::model::{file_url, MediaItem};
use crate::media::service::{self, MediaError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_media)).routes(routes!(get_media))
}

impl From<MediaError> for ApiError {
    fn from(err: MediaError) -> Self {
        match err {
            MediaError::NotFound => ApiError::not_found("No such media item."),
            MediaError::Forbidden(message) => ApiError::forbidden(message),
            MediaError::Db(db) => db.into(),
            MediaError::TooLarge { field, .. }
            | MediaError::Unsupported { field, .. }
            | MediaError::Invalid { field, .. } => ApiError::invalid(field, err.to_string()),
        }
    }
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
