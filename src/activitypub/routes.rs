//! The fediverse's URLs: WebFinger, NodeInfo, the site actor and its collections, and an
//! article's `Article` object (asked for by `site` on the article's own URL).
//!
//! These answers are small JSON documents rendered on each request; they are not in the page
//! cache, whose keys are paths that browsers share (`http::cached_first` leaves requests with an
//! ActivityPub `Accept` to the handlers). Their errors are JSON too ([`JsonError`]).

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value;

use super::inbox::{self, InboxError};
use super::remote::{self, RemoteError};
use super::service::{self, Resource};
use super::signatures::{self, Incoming, SignatureError};
use crate::content::chrome::{listing_page_start, listing_total};
use crate::content::model::{ArticleKind, ListFilter};
use crate::content::service::{reading, ContentError};
use crate::http::{parse_page, AppError, AppState};

/// The outbox's path, also its key among the listings' memoised totals and page starts.
const OUTBOX: &str = "/activitypub/outbox";

/// What ActivityPub documents are served as.
pub const ACTIVITY_JSON: &str = "application/activity+json";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.1", get(nodeinfo))
        .route("/activitypub/actor", get(actor))
        .route(OUTBOX, get(outbox))
        .route("/activitypub/followers", get(followers))
        .route("/activitypub/featured", get(featured))
        .route(INBOX, post(inbox))
}

/// The inbox, the actor's and its instance's shared one.
const INBOX: &str = "/activitypub/inbox";
/// Largest activity taken: Mastodon's own limit is 1 MB, but an article's reply or a follow is
/// a few kB.
const MAX_ACTIVITY_BYTES: usize = 256 * 1024;

/// `POST /activitypub/inbox`: an activity, signed by its actor (draft-cavage or RFC 9421).
/// 202 when taken (or understood and dropped); 401 with a bad or missing signature, which
/// changes nothing; 403 from a blocked instance or for another actor's activity; 413, 415 and
/// 422 for what is not an activity; 429 past the rate limit.
async fn inbox(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Body,
) -> Result<Response, JsonError> {
    let ip = crate::http::forms::client_ip(&state.config.comments.client_ip_header, &headers, peer.as_deref());
    if let Err(retry_after) = state.inbox_limiter.take(&state.db, ip).await {
        let mut response =
            JsonError(AppError::refused(StatusCode::TOO_MANY_REQUESTS, "too many requests; retry later"))
                .into_response();
        response.headers_mut().insert(header::RETRY_AFTER, retry_after.into());
        return Ok(response);
    }
    let media_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media_type = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !matches!(media_type.as_str(), "application/activity+json" | "application/ld+json" | "application/json") {
        return Err(refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected Content-Type: application/activity+json"));
    }
    let body = axum::body::to_bytes(body, MAX_ACTIVITY_BYTES).await.map_err(|_| {
        refused(StatusCode::PAYLOAD_TOO_LARGE, format!("an activity is at most {MAX_ACTIVITY_BYTES} bytes"))
    })?;
    let config = state.settings.config();
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or(INBOX);
    let url = format!("{}{path_and_query}", config.base_url());
    let incoming = Incoming { method: &method, url: &url, headers: &headers, body: &body };
    let claimed = signatures::claim(&incoming, crate::store::now()).map_err(unauthorized)?;
    let signer = verified_signer(&state, &config, &claimed).await?;
    let activity: Value = serde_json::from_slice(&body)
        .map_err(|err| refused(StatusCode::UNPROCESSABLE_ENTITY, format!("body: not JSON: {err}")))?;
    match inbox::receive(&state.db, &config, &signer, &activity).await {
        Ok(outcome) => {
            tracing::info!(actor = %signer.actor_id, scheme = claimed.scheme(), ?outcome, "Inbox");
            Ok((StatusCode::ACCEPTED, [(header::CONTENT_TYPE, "application/json")], "{}").into_response())
        }
        Err(InboxError::Invalid { field, message }) => {
            Err(refused(StatusCode::UNPROCESSABLE_ENTITY, format!("{field}: {message}")))
        }
        Err(InboxError::Forbidden(message)) => Err(JsonError(AppError::Forbidden(message))),
        Err(InboxError::Later(retry_after)) => {
            let mut response =
                refused(StatusCode::TOO_MANY_REQUESTS, format!("retry in {retry_after} s")).into_response();
            response.headers_mut().insert(header::RETRY_AFTER, retry_after.into());
            Ok(response)
        }
        Err(InboxError::Db(err)) => Err(JsonError(err.into())),
    }
}

/// The actor whose key verifies `claimed`: the kept key first, then, if that fails, the key
/// fetched again once (the actor may have rotated it).
async fn verified_signer(
    state: &AppState,
    config: &crate::config::Config,
    claimed: &signatures::Claimed,
) -> Result<super::queries::actors::RemoteActor, JsonError> {
    let mut refetch = false;
    loop {
        let signer = remote::actor_for_key(&state.db, config, &claimed.key_id, refetch).await;
        let signer = match signer {
            Ok(Some(signer)) => signer,
            Ok(None) => return Err(unauthorized(SignatureError::Invalid)),
            Err(RemoteError::Db(err)) => return Err(JsonError(err.into())),
            Err(RemoteError::Key(err)) => return Err(JsonError(AppError::Internal(anyhow::anyhow!(err)))),
            Err(err) => return Err(refused(StatusCode::UNAUTHORIZED, format!("the signature's key: {err}"))),
        };
        match signatures::verify(claimed, &signer.public_key_pem).await {
            Ok(()) => return Ok(signer),
            Err(err) if refetch => return Err(unauthorized(err)),
            Err(_) => refetch = true,
        }
    }
}

fn refused(status: StatusCode, message: impl Into<String>) -> JsonError {
    JsonError(AppError::refused(status, message))
}

fn unauthorized(err: SignatureError) -> JsonError {
    refused(StatusCode::UNAUTHORIZED, err.to_string())
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn bad_query(rejection: QueryRejection) -> AppError {
    AppError::BadRequest { field: "query", message: rejection.body_text() }
}

/// `/.well-known/webfinger?resource=acct:news@host`: 400 without a well-formed `resource`, 404
/// for anyone else. Readable from any origin, as Mastodon's web client asks from its own.
async fn webfinger(State(state): State<AppState>, params: Params) -> Response {
    let cors = [(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")];
    let config = state.settings.config();
    let found = params.map_err(bad_query).and_then(|Query(params)| {
        let Some(resource) = params.get("resource") else {
            return Err(AppError::BadRequest { field: "resource", message: "resource is required".into() });
        };
        service::resource(&config, resource)
            .map_err(|err| AppError::BadRequest { field: "resource", message: err.to_string() })
    });
    match found {
        Ok(Resource::Actor) => (cors, json(&service::webfinger(&config), "application/jrd+json")).into_response(),
        Ok(Resource::Unknown) => (cors, JsonError(AppError::NotFound)).into_response(),
        Err(err) => (cors, JsonError(err)).into_response(),
    }
}

async fn nodeinfo_links(State(state): State<AppState>) -> Response {
    json(&service::nodeinfo_links(&state.settings.config()), "application/json")
}

async fn nodeinfo(State(state): State<AppState>) -> Result<Response, JsonError> {
    let local_posts = listing_total(&state, OUTBOX, ListFilter::All).await?;
    let document = service::nodeinfo(&state.settings.config(), local_posts);
    Ok(json(&document, "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\""))
}

async fn actor(State(state): State<AppState>) -> Result<Response, JsonError> {
    let key = service::actor_public_key_pem(&state.db).await?;
    Ok(json(&service::actor(&state.settings.config(), &key), ACTIVITY_JSON))
}

/// `/activitypub/outbox`: the collection; `?page=n`, its pages of `Create`s, newest first.
async fn outbox(State(state): State<AppState>, params: Params) -> Result<Response, JsonError> {
    let Query(params) = params.map_err(bad_query)?;
    let config = state.settings.config();
    // Counted, and its deep pages' starts found, once per listings epoch, as the home page's are.
    let total = listing_total(&state, OUTBOX, ListFilter::All).await?;
    let Some(page) = params.get("page") else {
        return Ok(json(&service::outbox(&config, total), ACTIVITY_JSON));
    };
    let page = parse_page(Some(page.as_str()))?;
    let per_page = service::OUTBOX_PAGE_SIZE;
    let start = listing_page_start(&state, OUTBOX, ListFilter::All, total, page, per_page).await?;
    let listing = reading::list_page(&state.db, ListFilter::All, total, page, per_page, start).await?;
    let mut articles = Vec::with_capacity(listing.items.len());
    for summary in &listing.items {
        articles.push(reading::find_by_id(&state.db, summary.id).await?);
    }
    Ok(json(&service::outbox_page(&config, page, listing.total_pages, &articles), ACTIVITY_JSON))
}

async fn followers(State(state): State<AppState>) -> Result<Response, JsonError> {
    let total = super::queries::followers::count(&state.db).await.map_err(AppError::from)?;
    Ok(json(&service::counted_collection(&state.settings.config(), "/activitypub/followers", total), ACTIVITY_JSON))
}

async fn featured(State(state): State<AppState>) -> Response {
    json(&service::counted_collection(&state.settings.config(), "/activitypub/featured", 0), ACTIVITY_JSON)
}

/// The published post `slug` as an ActivityStreams `Article`: what `/article/{slug}` answers a
/// client whose `Accept` asks for ActivityPub.
pub async fn article(state: &AppState, slug: &str) -> Response {
    let found = reading::find_public(&state.db, slug).await;
    match found {
        Ok(article) if article.summary.kind == ArticleKind::Post => {
            let mut response = json(&service::article(&state.settings.config(), &article), ACTIVITY_JSON);
            response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept, accept-encoding"));
            response
        }
        Ok(_) => JsonError(AppError::NotFound).into_response(),
        Err(err) => JsonError(err.into()).into_response(),
    }
}

fn json(document: &Value, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], document.to_string()).into_response()
}

/// An error as `{"error": "…"}` with its status: the clients of these URLs are programs, and
/// the theme's error page (`http::error::ThemedErrors`) would also drop WebFinger's CORS header.
pub struct JsonError(AppError);

impl From<AppError> for JsonError {
    fn from(err: AppError) -> Self {
        JsonError(err)
    }
}

impl From<ContentError> for JsonError {
    fn from(err: ContentError) -> Self {
        JsonError(err.into())
    }
}

impl From<anyhow::Error> for JsonError {
    fn from(err: anyhow::Error) -> Self {
        JsonError(err.into())
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        if let AppError::Internal(err) = &self.0 {
            tracing::error!(error = format!("{err:#}"), "Internal error");
        }
        let body = serde_json::json!({ "error": self.0.public_message() });
        (self.0.status(), [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    }
}
