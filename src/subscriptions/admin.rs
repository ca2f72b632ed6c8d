//! The desk's Subscribers screen (editors and admins): the list by status and address, each
//! subscriber's frequency and categories, unsubscribe (and suppress), delete with their data,
//! export and import CSV.
//!
//! - `GET /admin/subscribers?status=&q=&page=`; `GET /admin/subscribers.csv` (everyone, as
//!   `openvoice subscribers export` writes them).
//! - `POST /admin/subscribers/import`: a CSV file chosen in the form (multipart) or pasted into
//!   it; every line is checked first, and one bad line imports nothing.
//! - `POST /admin/subscribers/{id}/unsubscribe`, `…/{id}/delete`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::{context, Value};
use serde::Deserialize;

use crate::accounts::desk::render;
use crate::accounts::session::{AdminForm, SignedIn};
use crate::accounts::Capability;
use crate::http::{parse_page, AppError, AppState};
use crate::store;
use crate::subscriptions::model::Status;
use crate::subscriptions::service;

const PER_PAGE: i64 = 50;

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/admin/subscribers", get(list))
        .route("/admin/subscribers.csv", get(export))
        .route("/admin/subscribers/{id}/unsubscribe", post(unsubscribe))
        .route("/admin/subscribers/{id}/delete", post(delete))
}

/// The import route, with a body limit of its own (a list is larger than a form); merged
/// outside the site-wide one.
pub fn import_router() -> Router<AppState> {
    Router::new()
        .route("/admin/subscribers/import", post(import))
        // Room for the form's other fields; the file itself is counted as it arrives.
        .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES + 64 * 1024))
}

#[derive(Debug, Default, Deserialize)]
struct ListParams {
    status: Option<String>,
    q: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    signed_in: SignedIn,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageSubscribers)?;
    let Ok(Query(params)) = params else {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, "The list's filters are malformed."));
    };
    let status = match params.status.as_deref().unwrap_or("all") {
        "all" => None,
        name => match Status::parse(name) {
            Some(status) => Some(status),
            None => return Err(AppError::refused(StatusCode::BAD_REQUEST, format!("status: unknown status {name:?}"))),
        },
    };
    let search: String = params.q.unwrap_or_default().chars().take(254).collect();
    let notice = match params.done.as_deref() {
        Some("unsubscribed") => Some("Unsubscribed; the address gets no more mail."),
        Some("deleted") => Some("Deleted, with the mail queued for them."),
        _ => None,
    };
    let selection = Selection { status, search: &search, page: parse_page(params.page.as_deref())? };
    page(&state, &signed_in, StatusCode::OK, selection, context! { notice }).await
}

/// Which subscribers a page of the screen shows.
struct Selection<'a> {
    status: Option<Status>,
    search: &'a str,
    page: u32,
}

/// The screen: the page of subscribers `selection` names, with `extra` (notices, errors).
async fn page(
    state: &AppState,
    signed_in: &SignedIn,
    code: StatusCode,
    selection: Selection<'_>,
    extra: Value,
) -> Result<Response, AppError> {
    let Selection { status, search, page } = selection;
    let subscribers = service::list(&state.db, status, search, PER_PAGE, (page as i64 - 1) * PER_PAGE).await?;
    let total = service::count(&state.db, status, search).await?;
    let categories = crate::content::queries::terms::categories_with_counts(&state.db).await?;
    let category_names: Vec<(i64, String)> = categories.into_iter().map(|(c, _)| (c.id, c.name)).collect();
    let rows: Vec<Value> = subscribers
        .into_iter()
        .map(|s| {
            let categories = s.categories.as_ref().map(|ids| {
                ids.iter()
                    .filter_map(|id| category_names.iter().find(|(cid, _)| cid == id).map(|(_, name)| name.clone()))
                    .collect::<Vec<_>>()
            });
            context! {
                id => s.id, email => s.email, status => s.status.as_str(), frequency => s.frequency.as_str(),
                categories, suppressed => s.suppressed, created_at => s.created_at, confirmed_at => s.confirmed_at,
            }
        })
        .collect();
    let ctx = context! {
        subscribers => rows,
        total,
        page,
        total_pages => (total as u64).div_ceil(PER_PAGE as u64).max(1),
        statuses => ["all", "confirmed", "pending", "unsubscribed"],
        status => status.map_or("all", Status::as_str),
        q => search,
        ..extra
    };
    Ok((code, render(state, signed_in, "admin/subscribers.html", ctx)).into_response())
}

async fn export(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageSubscribers)?;
    let csv = service::export(&state.db).await?;
    let disposition = format!("attachment; filename=\"subscribers-{}.csv\"", chrono::Utc::now().format("%Y-%m-%d"));
    Ok((
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, disposition)],
        csv,
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ImportForm {
    csrf: String,
    csv: String,
    /// Ask every address to confirm instead of trusting the list.
    pending: Option<String>,
}

/// The largest list imported at once (some 200,000 subscribers).
const MAX_IMPORT_BYTES: usize = 8 * 1024 * 1024;

/// The import form as sent: with a chosen file (multipart, the file's text standing in for
/// the pasted list) or with the list pasted (urlencoded). A form that cannot be read is why,
/// to show in the screen.
async fn read_import(state: &AppState, request: Request) -> Result<ImportForm, (StatusCode, String)> {
    let multipart =
        request.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"multipart/"));
    if !multipart {
        let Form(form) = Form::<ImportForm>::from_request(request, state)
            .await
            .map_err(|rejection| (rejection.status(), rejection.body_text()))?;
        return Ok(form);
    }
    let too_large = || {
        let message = format!("file: the file is larger than {} MiB; split the list", MAX_IMPORT_BYTES >> 20);
        (StatusCode::PAYLOAD_TOO_LARGE, message)
    };
    let broken = |err: axum::extract::multipart::MultipartError| match err.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        status => (status, format!("file: {}", err.body_text())),
    };
    let mut multipart = Multipart::from_request(request, state).await.map_err(|r| (r.status(), r.body_text()))?;
    let (mut form, mut file) = (ImportForm::default(), Vec::new());
    while let Some(mut field) = multipart.next_field().await.map_err(broken)? {
        match field.name().unwrap_or("") {
            "file" => {
                while let Some(chunk) = field.chunk().await.map_err(broken)? {
                    if file.len() + chunk.len() > MAX_IMPORT_BYTES {
                        return Err(too_large());
                    }
                    file.extend_from_slice(&chunk);
                }
            }
            "csrf" => form.csrf = field.text().await.map_err(broken)?,
            "csv" => form.csv = field.text().await.map_err(broken)?,
            "pending" => form.pending = Some(field.text().await.map_err(broken)?),
            _ => {}
        }
    }
    if !file.is_empty() {
        form.csv = String::from_utf8(file).map_err(|_| {
            (StatusCode::UNPROCESSABLE_ENTITY, "file: the file is not UTF-8 text; save it as CSV UTF-8".to_string())
        })?;
    }
    Ok(form)
}

async fn import(State(state): State<AppState>, signed_in: SignedIn, request: Request) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageSubscribers)?;
    let everyone = || Selection { status: None, search: "", page: 1 };
    let form = match read_import(&state, request).await {
        Ok(form) => form,
        Err((status, why)) => {
            let extra = context! { import_errors => [why] };
            return page(&state, &signed_in, status, everyone(), extra).await;
        }
    };
    signed_in.check_csrf(&form.csrf)?;
    match service::import(&state.db, &form.csv, form.pending.is_some(), store::now()).await {
        Ok(done) => {
            let notice = format!(
                "Imported: {} added, {} already subscribed, {} suppressed and left out, {} asked to confirm.",
                done.added, done.existing, done.suppressed, done.confirmations
            );
            page(&state, &signed_in, StatusCode::OK, everyone(), context! { notice }).await
        }
        Err(errors) => {
            let extra = context! { import_errors => errors, csv => form.csv };
            page(&state, &signed_in, StatusCode::UNPROCESSABLE_ENTITY, everyone(), extra).await
        }
    }
}

/// The address of subscriber `id`, or a 404.
async fn address(state: &AppState, id: i64) -> Result<crate::subscriptions::model::Address, AppError> {
    service::address_of(&state.db, id).await?.ok_or(AppError::NotFound)
}

#[derive(Debug, Default, Deserialize)]
struct Empty {}

async fn unsubscribe(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, Empty {}): AdminForm<Empty>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageSubscribers)?;
    service::unsubscribe_address(&state.db, &address(&state, id).await?, store::now()).await?;
    Ok(Redirect::to("/admin/subscribers?done=unsubscribed").into_response())
}

async fn delete(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, Empty {}): AdminForm<Empty>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageSubscribers)?;
    service::remove(&state.db, &address(&state, id).await?).await?;
    Ok(Redirect::to("/admin/subscribers?done=deleted").into_response())
}
