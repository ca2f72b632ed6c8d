//! The web side of subscriptions: the widget's POST, and the pages the links in mail open.
//!
//! - `POST /subscribe`: the sidebar widget (`widgets/subscribe.html`, the same in every cached
//!   page). Rate-limited per IP (comments' token bucket), same-origin checked, with a honeypot
//!   field. It answers with a page of its own, identical whether the address was new, pending,
//!   confirmed or suppressed: nobody learns who subscribes. A CSRF token would add nothing
//!   here: there is no session to ride on, and double opt-in means a forged request can only
//!   cause one (throttled) confirmation mail, which anyone could cause by hand.
//! - `GET /subscriptions/confirm?token=…` shows a button; its `POST` confirms. Link scanners
//!   that fetch every URL in a mail therefore cannot confirm on the reader's behalf.
//! - `GET|POST /subscriptions/manage?token=…`: frequency and categories.
//! - `GET /subscriptions/unsubscribe?token=…` shows a confirmation page; `POST` to the same URL
//!   unsubscribes. That POST is the RFC 8058 one-click target: it needs no cookie, no CSRF token
//!   and no particular body (the signed token in the URL is the authority).
//!
//! Pages carrying a token are `no-store` and send no referrer, so the token stays in the mail.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use minijinja::{context, Value};
use serde::Deserialize;

use crate::http::forms::{self, parse_form, status_page};
use crate::http::{AppError, AppState};
use crate::store::{self, DbError};
use crate::subscriptions::model::{Address, Frequency, Subscriber, MAX_ADDRESS_CHARS};
use crate::subscriptions::service::{self, SubscriptionError};
use crate::subscriptions::tokens::{Keys, TokenError};

/// Largest body of any subscription form.
const MAX_FORM_BYTES: usize = 16 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subscribe", get(subscribe_form).post(subscribe))
        .route("/subscriptions/confirm", get(confirm_page).post(confirm))
        .route("/subscriptions/manage", get(manage_page).post(manage_save))
        .route("/subscriptions/unsubscribe", get(unsubscribe_page).post(unsubscribe))
}

#[derive(Debug, Default, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn query_token(query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>) -> String {
    query.ok().and_then(|Query(q)| q.token).unwrap_or_default()
}

/// Renders `subscriptions.html` in the site's frame (sidebar and all), for this reader only.
async fn page(state: &AppState, status: StatusCode, path: &str, view: Value) -> Response {
    let base =
        match crate::content::chrome::base_context(state, path, crate::market::routes::sidebar(state).await).await {
            Ok(base) => base,
            Err(err) => return err.into_response(),
        };
    let ctx = context! { ..base, ..context! { sub => view, subscribe_limit => MAX_ADDRESS_CHARS } };
    match state.templates.render("subscriptions.html", ctx) {
        Ok(html) => private((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()),
        Err(err) => AppError::Internal(anyhow::anyhow!("rendering subscriptions.html: {err:#}")).into_response(),
    }
}

/// Marks a response as one reader's: never cached, never indexed, no referrer.
fn private(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn keys(state: &AppState) -> Result<Keys, Response> {
    Keys::of(state).await.map_err(|err| AppError::from(err).into_response())
}

/// Reads a form body: at most [`MAX_FORM_BYTES`], URL-encoded, UTF-8.
/// Reads a form posted from this site's own pages (same origin); `refusal` is shown otherwise.
/// Every answer is private: these pages carry personal tokens.
async fn read_own_form(state: &AppState, request: Request, refusal: &str) -> Result<Vec<(String, String)>, Response> {
    let (parts, body) = request.into_parts();
    let fields = read_form(state, &parts.headers, body).await.map_err(private)?;
    if !forms::same_origin(&state.config.base_url(), &parts.headers) {
        return Err(private(status_page(state, StatusCode::FORBIDDEN, refusal)));
    }
    Ok(fields)
}

async fn read_form(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Vec<(String, String)>, Response> {
    if !forms::is_urlencoded(headers) {
        return Err(status_page(
            state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "This form is sent as an HTML form (application/x-www-form-urlencoded).",
        ));
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| status_page(state, StatusCode::PAYLOAD_TOO_LARGE, "The form is too large to be accepted."))?;
    parse_form(&bytes).map_err(|message| status_page(state, StatusCode::BAD_REQUEST, &message))
}

fn field(fields: &[(String, String)], name: &str) -> String {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// The answer to a refused link or form.
fn refused(state: &AppState, err: SubscriptionError) -> Response {
    let (status, message) = match err {
        SubscriptionError::Token(TokenError::Forged) => (
            StatusCode::BAD_REQUEST,
            "This link is not valid. Please use the whole link from the mail (some mail programs break long links)."
                .to_string(),
        ),
        SubscriptionError::Token(TokenError::Expired) => (
            StatusCode::GONE,
            "This confirmation link has expired. Please subscribe again to get a new one.".to_string(),
        ),
        SubscriptionError::Invalid { message, .. } => (StatusCode::UNPROCESSABLE_ENTITY, message),
        SubscriptionError::Address(err) => (StatusCode::UNPROCESSABLE_ENTITY, err.0),
        SubscriptionError::NotFound(_) => return AppError::NotFound.into_response(),
        SubscriptionError::Db(err) => return AppError::from(err).into_response(),
    };
    private(status_page(state, status, &message))
}

/// `GET /subscribe`: the form on a page of its own (for themes without the sidebar, and links).
async fn subscribe_form(State(state): State<AppState>) -> Response {
    if !state.config.subscriptions.enabled {
        return AppError::NotFound.into_response();
    }
    page(&state, StatusCode::OK, "/subscribe", context! { view => "form", email => "" }).await
}

/// `POST /subscribe`: the widget.
async fn subscribe(State(state): State<AppState>, request: Request) -> Response {
    let config = &state.config.subscriptions;
    if !config.enabled {
        return AppError::NotFound.into_response();
    }
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let ip = forms::client_ip(
        &state.config.comments.client_ip_header,
        headers,
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
    );
    if let Err(retry_after) = state.subscribe_guard.limiter.take(&state.db, ip).await {
        let mut response = status_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many subscription requests from your network. Please try again in a few minutes.",
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return private(response);
    }
    let fields = match read_form(&state, headers, body).await {
        Ok(fields) => fields,
        Err(response) => return private(response),
    };
    if !forms::same_origin(&state.config.base_url(), headers) {
        return private(status_page(
            &state,
            StatusCode::FORBIDDEN,
            "Subscriptions can only be sent from this site's own pages.",
        ));
    }
    let email = field(&fields, "email");
    if !field(&fields, "ov_trap").is_empty() {
        // A bot filled the hidden field: it gets the usual answer, and nothing happens.
        let view = context! { view => "requested", max_age_hours => config.confirm_max_age_hours };
        return page(&state, StatusCode::OK, "/subscribe", view).await;
    }
    let address = match Address::parse(&email) {
        Ok(address) => address,
        Err(err) => {
            let view = context! { view => "invalid", email => email.chars().take(MAX_ADDRESS_CHARS + 10).collect::<String>(), error => err.0 };
            return page(&state, StatusCode::UNPROCESSABLE_ENTITY, "/subscribe", view).await;
        }
    };
    if let Err(err) = service::request(&state.db, config, &address, "form", store::now()).await {
        return AppError::from(err).into_response();
    }
    page(
        &state,
        StatusCode::OK,
        "/subscribe",
        context! { view => "requested", max_age_hours => config.confirm_max_age_hours },
    )
    .await
}

/// `GET /subscriptions/confirm?token=…`: who is about to be confirmed, and the button.
async fn confirm_page(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let token = query_token(query);
    let keys = match keys(&state).await {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    let config = &state.config.subscriptions;
    match service::check_confirmation(&state.db, &keys, config, &token, store::now()).await {
        Ok(subscriber) if subscriber.status == crate::subscriptions::model::Status::Confirmed => {
            let view = context! { view => "confirmed", email => subscriber.email, manage => keys.manage_token(subscriber.id, &subscriber.email), newly => false };
            page(&state, StatusCode::OK, "/subscriptions/confirm", view).await
        }
        Ok(subscriber) => {
            let view = context! { view => "confirm", email => subscriber.email, token => token };
            page(&state, StatusCode::OK, "/subscriptions/confirm", view).await
        }
        Err(err) => refused(&state, err),
    }
}

/// `POST /subscriptions/confirm`: the button.
async fn confirm(State(state): State<AppState>, request: Request) -> Response {
    let fields = match read_own_form(&state, request, "Please confirm from this site's own page.").await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let keys = match keys(&state).await {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    let config = &state.config.subscriptions;
    match service::confirm(&state.db, &keys, config, &field(&fields, "token"), store::now()).await {
        Ok((subscriber, newly)) => {
            let view = context! { view => "confirmed", email => subscriber.email, manage => keys.manage_token(subscriber.id, &subscriber.email), newly => newly };
            page(&state, StatusCode::OK, "/subscriptions/confirm", view).await
        }
        Err(err) => refused(&state, err),
    }
}

/// The manage page's values for `subscriber`.
async fn manage_view(state: &AppState, subscriber: &Subscriber, token: &str, saved: bool) -> Result<Value, Response> {
    let categories = crate::content::queries::terms::categories_with_counts(&state.db)
        .await
        .map_err(|err| AppError::from(err).into_response())?;
    let chosen = subscriber.categories.clone().unwrap_or_default();
    let categories: Vec<Value> = categories
        .into_iter()
        .map(|(c, _)| context! { id => c.id, name => c.name, checked => chosen.contains(&c.id) })
        .collect();
    let frequencies: Vec<Value> = Frequency::ALL
        .iter()
        .map(|f| context! { value => f.as_str(), label => f.label(), checked => *f == subscriber.frequency })
        .collect();
    Ok(context! {
        view => "manage",
        email => subscriber.email,
        status => subscriber.status.as_str(),
        suppressed => subscriber.suppressed,
        token => token,
        all_categories => subscriber.categories.is_none(),
        categories => categories,
        frequencies => frequencies,
        saved => saved,
    })
}

/// `GET /subscriptions/manage?token=…`.
async fn manage_page(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let token = query_token(query);
    let keys = match keys(&state).await {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    match service::manage(&state.db, &keys, &token).await {
        Ok(subscriber) => match manage_view(&state, &subscriber, &token, false).await {
            Ok(view) => page(&state, StatusCode::OK, "/subscriptions/manage", view).await,
            Err(response) => response,
        },
        Err(err) => refused(&state, err),
    }
}

/// `POST /subscriptions/manage`: frequency, `scope` (all or some) and `category` ids.
async fn manage_save(State(state): State<AppState>, request: Request) -> Response {
    let fields =
        match read_own_form(&state, request, "Please change your subscription from this site's own page.").await {
            Ok(fields) => fields,
            Err(response) => return response,
        };
    let token = field(&fields, "token");
    let Some(frequency) = Frequency::parse(&field(&fields, "frequency")) else {
        return private(status_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Please choose how often to hear from us.",
        ));
    };
    let categories = if field(&fields, "scope") == "some" {
        let mut ids = Vec::new();
        for (name, value) in &fields {
            if name == "category" {
                match value.parse::<i64>() {
                    Ok(id) => ids.push(id),
                    Err(_) => return private(status_page(&state, StatusCode::BAD_REQUEST, "Unknown category.")),
                }
            }
        }
        Some(ids)
    } else {
        None
    };
    let keys = match keys(&state).await {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    match service::update(&state.db, &keys, &token, frequency, categories, store::now()).await {
        Ok(subscriber) => match manage_view(&state, &subscriber, &token, true).await {
            Ok(view) => page(&state, StatusCode::OK, "/subscriptions/manage", view).await,
            Err(response) => response,
        },
        Err(err) => refused(&state, err),
    }
}

/// `GET /subscriptions/unsubscribe?token=…`: the confirmation page (a mail client's link
/// scanner must not unsubscribe anyone by fetching it).
async fn unsubscribe_page(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let token = query_token(query);
    let keys = match keys(&state).await {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    match service::manage(&state.db, &keys, &token).await {
        Ok(subscriber) => {
            let view = context! {
                view => "unsubscribe",
                email => subscriber.email,
                token => token,
                already => subscriber.status == crate::subscriptions::model::Status::Unsubscribed,
            };
            page(&state, StatusCode::OK, "/subscriptions/unsubscribe", view).await
        }
        Err(err) => refused(&state, err),
    }
}

/// `POST /subscriptions/unsubscribe?token=…`: RFC 8058 one-click, and the page's button.
/// No cookie, no CSRF check, any body (mail providers send `List-Unsubscribe=One-Click` as
/// `multipart/form-data` or URL-encoded); the token may also come in a URL-encoded body.
async fn unsubscribe(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut token = query_token(query);
    if token.is_empty() && forms::is_urlencoded(&headers) {
        let fields: HashMap<String, String> = parse_form(&body).unwrap_or_default().into_iter().collect();
        token = fields.get("token").cloned().unwrap_or_default();
    }
    let keys = match keys(&state).await {
        Ok(keys) => keys,
        Err(response) => return response,
    };
    match service::unsubscribe(&state.db, &keys, &token, store::now()).await {
        Ok((subscriber, _changed)) => {
            let view = context! { view => "unsubscribed", email => subscriber.email, manage => token };
            page(&state, StatusCode::OK, "/subscriptions/unsubscribe", view).await
        }
        Err(SubscriptionError::Db(DbError::NotFound)) => AppError::NotFound.into_response(),
        Err(err) => refused(&state, err),
    }
}
