//! The media screens: `/admin/media` (the library grid, upload, alt text, delete) and
//! `/admin/media.json` (list and upload for the article editor's script). Uploads are
//! `multipart/form-data` with the CSRF secret in a `csrf` field (or, from scripts, the
//! `X-CSRF-Token` header); they are limited to `media.max_upload_bytes` on routes of their own
//! ([`upload_router`]), outside the site-wide body limit.

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::accounts::session::{AdminForm, SignedIn};
use crate::accounts::Capability;
use crate::config::media::MediaConfig;
use crate::http::{parse_page, AppError, AppState};
use crate::media::model::MediaItem;
use crate::media::service::{self, Actor, MediaError, Upload};

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/admin/media", get(library))
        .route("/admin/media.json", get(list_json))
        .route("/admin/media/{id}/alt", post(set_alt))
        .route("/admin/media/{id}/delete", post(delete))
}

/// The upload routes, with their own body limit; merged outside the site-wide one.
pub fn upload_router(config: &MediaConfig) -> Router<AppState> {
    Router::new()
        .route("/admin/media", post(upload_form))
        .route("/admin/media.json", post(upload_json))
        // Enforced while the multipart body is read, so the answer can say which field and why.
        .layer(DefaultBodyLimit::max(config.upload_body_limit()))
}

#[derive(Deserialize)]
struct PageQuery {
    page: Option<String>,
    notice: Option<String>,
}

/// An entry as the screens and the editor see it.
#[derive(Serialize)]
struct ItemView {
    id: i64,
    url: String,
    srcset: String,
    markdown: String,
    alt: String,
    name: String,
    content_type: String,
    width: i64,
    height: i64,
    bytes: i64,
    uploader: Option<String>,
    created_at: i64,
    sizes: Vec<i64>,
    may_edit: bool,
}

fn view(item: &MediaItem, signed_in: &SignedIn) -> ItemView {
    ItemView {
        id: item.id,
        url: item.url(),
        srcset: item.srcset(),
        markdown: item.markdown(),
        alt: item.alt_text.clone(),
        name: item.original_name.clone(),
        content_type: item.content_type.clone(),
        width: item.original.width,
        height: item.original.height,
        bytes: item.size,
        uploader: item.uploader_name.clone(),
        created_at: item.created_at,
        sizes: item.sizes.iter().map(|s| s.width).collect(),
        may_edit: actor(signed_in).may_edit_others || item.uploader_id == Some(signed_in.user.id),
    }
}

fn actor(signed_in: &SignedIn) -> Actor {
    Actor { user_id: signed_in.user.id, may_edit_others: signed_in.role.can(Capability::EditOthers) }
}

fn notice_text(code: Option<&str>) -> Option<&'static str> {
    match code? {
        "uploaded" => Some("The image was uploaded."),
        "existing" => Some("This image was already in the library; here it is."),
        "alt" => Some("The alt text was saved."),
        "deleted" => Some("The image was deleted."),
        _ => None,
    }
}

/// A refused upload or alt text edit, shown at its field with the text that was typed.
#[derive(Serialize)]
struct FormError {
    field: &'static str,
    message: String,
    /// The entry whose alt text was being edited; `None` for the upload form.
    item: Option<i64>,
    alt: String,
}

/// The library page; `error` and `status` when an upload or edit was refused.
async fn render_library(
    state: &AppState,
    signed_in: &SignedIn,
    page: u32,
    notice: Option<&str>,
    error: Option<FormError>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let (items, total) = service::list(&state.db, page).await.map_err(refused)?;
    let views: Vec<ItemView> = items.iter().map(|item| view(item, signed_in)).collect();
    let pages = (total + service::PER_PAGE - 1) / service::PER_PAGE;
    let ctx = context! {
        items => views,
        page => page,
        pages => pages.max(1),
        total => total,
        notice => notice_text(notice),
        error => error,
        max_upload_mib => state.config.media.max_upload_bytes as f64 / (1 << 20) as f64,
        max_alt => service::MAX_ALT_CHARS,
    };
    let mut response = crate::accounts::desk::render(state, signed_in, "admin/media.html", ctx);
    *response.status_mut() = status;
    Ok(response)
}

async fn library(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<PageQuery>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::UploadMedia)?;
    let page = parse_page(query.page.as_deref())?;
    render_library(&state, &signed_in, page, query.notice.as_deref(), None, StatusCode::OK).await
}

async fn list_json(State(state): State<AppState>, signed_in: SignedIn, Query(query): Query<PageQuery>) -> Response {
    if !signed_in.role.can(Capability::UploadMedia) {
        return json_error(StatusCode::FORBIDDEN, "forbidden", "You are not allowed to upload media.", None);
    }
    let page = match parse_page(query.page.as_deref()) {
        Ok(page) => page,
        Err(err) => return json_error(StatusCode::BAD_REQUEST, "invalid", &err.public_message(), Some("page")),
    };
    match service::list(&state.db, page).await {
        Ok((items, total)) => {
            let views: Vec<ItemView> = items.iter().map(|item| view(item, &signed_in)).collect();
            Json(json!({ "items": views, "page": page, "total": total })).into_response()
        }
        Err(err) => media_json_error(err),
    }
}

/// What an upload request carried, read from its multipart body.
pub(super) struct Received {
    /// Empty from API clients, whose bearer token needs no CSRF secret.
    pub(super) csrf: String,
    pub(super) alt: String,
    pub(super) name: String,
    pub(super) bytes: Vec<u8>,
}

/// Why an upload request could not even be read.
pub(super) struct Unreadable {
    pub(super) status: StatusCode,
    pub(super) field: &'static str,
    pub(super) message: String,
}

/// Reads the form's fields, counting the file's bytes as they arrive (a file over the limit is
/// refused without holding more of it). Also `POST /api/v1/media`'s reader.
pub(super) async fn receive(state: &AppState, request: Request) -> Result<Received, Unreadable> {
    let mut multipart = Multipart::from_request(request, state).await.map_err(|rejection| Unreadable {
        status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        field: "file",
        message: format!("send the upload as multipart/form-data ({})", rejection.body_text()),
    })?;
    let limit = state.config.media.max_upload_bytes;
    let too_large =
        || Unreadable { status: StatusCode::PAYLOAD_TOO_LARGE, field: "file", message: too_large_message(limit) };
    let broken = |err: axum::extract::multipart::MultipartError| {
        if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            Unreadable { status: StatusCode::BAD_REQUEST, field: "file", message: err.body_text() }
        }
    };
    let mut received = Received { csrf: String::new(), alt: String::new(), name: String::new(), bytes: Vec::new() };
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                received.name = field.file_name().unwrap_or("").to_string();
                while let Some(chunk) = field.chunk().await.map_err(broken)? {
                    if received.bytes.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    received.bytes.extend_from_slice(&chunk);
                }
            }
            "csrf" | "alt" => {
                let text = field.text().await.map_err(broken)?;
                if text.len() > 8 * 1024 {
                    return Err(Unreadable {
                        status: StatusCode::PAYLOAD_TOO_LARGE,
                        field: if name == "alt" { "alt" } else { "csrf" },
                        message: "the field is too long".into(),
                    });
                }
                if name == "csrf" {
                    received.csrf = text;
                } else {
                    received.alt = text;
                }
            }
            _ => {}
        }
    }
    Ok(received)
}

fn too_large_message(limit: usize) -> String {
    format!("the file is larger than the limit of {:.1} MiB", limit as f64 / (1 << 20) as f64)
}

async fn upload_form(
    State(state): State<AppState>,
    signed_in: SignedIn,
    request: Request,
) -> Result<Response, AppError> {
    signed_in.require(Capability::UploadMedia)?;
    let received = match receive(&state, request).await {
        Ok(received) => received,
        Err(why) => {
            let error = FormError { field: why.field, message: why.message, item: None, alt: String::new() };
            return render_library(&state, &signed_in, 1, None, Some(error), why.status).await;
        }
    };
    signed_in.check_csrf(&received.csrf)?;
    let alt = received.alt.clone();
    let upload =
        Upload { name: received.name, alt_text: received.alt, bytes: received.bytes, uploader_id: signed_in.user.id };
    match service::upload(&state.db, &state.config.media, upload).await {
        Ok((_, created)) => {
            Ok(Redirect::to(if created { "/admin/media?notice=uploaded" } else { "/admin/media?notice=existing" })
                .into_response())
        }
        Err(err @ (MediaError::Db(_) | MediaError::Worker(_))) => Err(refused(err)),
        Err(err) => {
            let (status, field, message) = refusal(&err);
            let error = FormError { field, message, item: None, alt };
            render_library(&state, &signed_in, 1, None, Some(error), status).await
        }
    }
}

async fn upload_json(State(state): State<AppState>, signed_in: SignedIn, request: Request) -> Response {
    if !signed_in.role.can(Capability::UploadMedia) {
        return json_error(StatusCode::FORBIDDEN, "forbidden", "You are not allowed to upload media.", None);
    }
    let header_token = request.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_string);
    let received = match receive(&state, request).await {
        Ok(received) => received,
        Err(why) => return json_error(why.status, code_for(why.status), &why.message, Some(why.field)),
    };
    let token = header_token.unwrap_or(received.csrf);
    if signed_in.check_csrf(&token).is_err() {
        return json_error(StatusCode::FORBIDDEN, "csrf", "The CSRF token is missing or wrong; reload the page.", None);
    }
    let upload =
        Upload { name: received.name, alt_text: received.alt, bytes: received.bytes, uploader_id: signed_in.user.id };
    match service::upload(&state.db, &state.config.media, upload).await {
        Ok((item, created)) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            (status, Json(json!({ "item": view(&item, &signed_in), "created": created }))).into_response()
        }
        Err(err) => media_json_error(err),
    }
}

#[derive(Deserialize)]
struct AltForm {
    alt: String,
}

async fn set_alt(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<AltForm>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::UploadMedia)?;
    match service::set_alt(&state.db, &actor(&signed_in), id, &form.alt).await {
        Ok(_) => Ok(Redirect::to("/admin/media?notice=alt").into_response()),
        Err(MediaError::Invalid { field, message }) => {
            let error = FormError { field, message, item: Some(id), alt: form.alt };
            render_library(&state, &signed_in, 1, None, Some(error), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(refused(err)),
    }
}

/// A form with no fields but its `csrf`.
#[derive(Deserialize)]
struct NoFields {}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, NoFields {}): AdminForm<NoFields>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::UploadMedia)?;
    service::delete(&state.db, &actor(&signed_in), id).await.map_err(refused)?;
    Ok(Redirect::to("/admin/media?notice=deleted").into_response())
}

/// Status, field and message of a refused upload or edit.
fn refusal(err: &MediaError) -> (StatusCode, &'static str, String) {
    match err {
        MediaError::TooLarge { field, limit } => (StatusCode::PAYLOAD_TOO_LARGE, field, too_large_message(*limit)),
        MediaError::Unsupported { field, message } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, field, message.clone()),
        MediaError::Invalid { field, message } => (StatusCode::UNPROCESSABLE_ENTITY, field, message.clone()),
        MediaError::NotFound => (StatusCode::NOT_FOUND, "id", "There is no such image.".into()),
        MediaError::Forbidden(message) => (StatusCode::FORBIDDEN, "id", message.clone()),
        MediaError::Db(_) | MediaError::Worker(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "", "Something went wrong on our side.".into())
        }
    }
}

/// A refusal with no form to re-render, as an error page.
fn refused(err: MediaError) -> AppError {
    match err {
        MediaError::Db(db) => db.into(),
        MediaError::Worker(why) => AppError::Internal(anyhow::anyhow!("media worker: {why}")),
        other => {
            let (status, _, message) = refusal(&other);
            AppError::refused(status, message)
        }
    }
}

fn internal(err: impl std::fmt::Display) -> String {
    tracing::error!(error = %err, "Media library error");
    "Something went wrong on our side. Please try again later.".into()
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::BAD_REQUEST => "bad_request",
        _ => "internal",
    }
}

fn media_json_error(err: MediaError) -> Response {
    if let MediaError::Db(db) = &err {
        let message = internal(db);
        return json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", &message, None);
    }
    let (status, field, message) = refusal(&err);
    json_error(status, code_for(status), &message, Some(field))
}

/// The API's one error shape: `{"error": {"code", "message", "field"}}`.
fn json_error(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let body = json!({ "error": { "code": code, "message": message, "field": field } });
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
