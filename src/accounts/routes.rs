//! The accounts screens of the admin desk: log in and out, change a forgotten or known password.
//!
//! - `GET|POST /admin/login`: the same answer ("Unknown username or wrong password.") for an
//!   unknown account and a wrong password; 429 while the account name or the address is locked.
//!   The login form has no session yet to hold a CSRF secret: it is checked to come from this
//!   site (`Origin`/`Sec-Fetch-Site`), and the new session gets a fresh id (no fixation).
//! - `POST /admin/logout`: ends the session in the database, clears the cookie.
//! - `GET|POST /admin/password`: current password, new one twice; other sessions end.
//! - `GET|POST /admin/password/forgot`: the same answer for every address; mail via the outbox.
//! - `GET|POST /admin/password/reset?token=…`: single-use, expiring; every session ends.
//!
//! Pages carrying a reset token send no referrer.

use std::net::SocketAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequest, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::context;
use serde::Deserialize;

use crate::accounts::auth::{self, LoginError, ResetError};
use crate::accounts::session::{self, AdminForm, SignedIn};
use crate::accounts::AccountError;
use crate::admin::{render, render_bare};
use crate::http::forms;
use crate::http::{error_page, AppError, AppState};
use crate::mail::Outgoing;

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/password", get(password_page).post(change_password))
        .route("/admin/password/forgot", get(forgot_page).post(forgot))
        .route("/admin/password/reset", get(reset_page).post(reset))
}

/// Where to go after logging in: an admin path on this site, else the dashboard.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next) if next.starts_with("/admin") && !next.starts_with("//") && !next.contains('\\') => next.into(),
        _ => "/admin".into(),
    }
}

fn secure(state: &AppState) -> bool {
    state.config.http.behind_tls
}

#[derive(Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
    /// A notice from the page that sent the user here (`logged_out`, `reset`).
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    match done {
        Some("logged_out") => Some("You are now logged out."),
        Some("reset") => Some("Your password has been changed. Log in with your new password."),
        _ => None,
    }
}

async fn login_page(
    State(state): State<AppState>,
    signed_in: Option<SignedIn>,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Response {
    let Query(query) = query.unwrap_or_default();
    let next = safe_next(query.next.as_deref());
    if signed_in.is_some() {
        return Redirect::to(&next).into_response();
    }
    let ctx = context! { next => next, notice => notice(query.done.as_deref()) };
    render_bare(&state, "admin/login.html", ctx)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if !forms::same_origin(&state.config.base_url(), &parts.headers) {
        let ctx = context! { message => "This form did not come from this site." };
        return (StatusCode::FORBIDDEN, render_bare(&state, "admin/message.html", ctx)).into_response();
    }
    let ip = forms::client_ip(
        &state.config.accounts.client_ip_header,
        &parts.headers,
        parts.extensions.get::<ConnectInfo<SocketAddr>>(),
    );
    let previous = forms::cookie(&parts.headers, session::COOKIE).map(str::to_string);
    let form = match Form::<LoginForm>::from_request(Request::from_parts(parts, body), &state).await {
        Ok(Form(form)) => form,
        Err(rejection) => {
            let ctx = context! { message => rejection.body_text() };
            return (rejection.status(), render_bare(&state, "admin/message.html", ctx)).into_response();
        }
    };
    let next = safe_next(form.next.as_deref());
    let previous = previous.as_deref();
    match auth::login(&state.db, &state.config.accounts, &form.username, &form.password, ip, previous).await {
        Ok(opened) => {
            let cookie = session::session_cookie(&opened.token, opened.max_age_secs, secure(&state));
            session::with_cookie(Redirect::to(&next).into_response(), &cookie)
        }
        Err(LoginError::Db(err)) => error_page(&state, AppError::from(err)),
        Err(err) => {
            let status = match err {
                LoginError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let ctx = context! { next => next, username => form.username, error => err.to_string() };
            let mut response = (status, render_bare(&state, "admin/login.html", ctx)).into_response();
            if let LoginError::Locked { retry_after_secs } = err {
                if let Ok(value) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            response
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(State(state): State<AppState>, AdminForm(signed_in, Empty {}): AdminForm<Empty>) -> Response {
    if let Err(err) = auth::logout(&state.db, &signed_in.token).await {
        return error_page(&state, AppError::from(err));
    }
    let response = Redirect::to("/admin/login?done=logged_out").into_response();
    session::with_cookie(response, &session::clear_cookie(secure(&state)))
}

async fn password_page(State(state): State<AppState>, signed_in: SignedIn) -> Response {
    render(&state, &signed_in, "admin/password.html", context! { section => "password" })
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `AccountError::Invalid` as a per-field message for a form; anything else is an error page.
fn field_error(state: &AppState, err: AccountError) -> Result<minijinja::Value, Response> {
    match err {
        AccountError::Invalid { field, message } => Ok(context! { field => field, message => message }),
        AccountError::Taken { field, value } => {
            Ok(context! { field => field, message => format!("{value:?} is already taken") })
        }
        AccountError::Db(db) => Err(error_page(state, AppError::from(db))),
    }
}

async fn change_password(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<PasswordForm>,
) -> Response {
    let result = auth::change_password(
        &state.db,
        &signed_in.user,
        &form.current_password,
        &form.new_password,
        &form.confirm_password,
        &signed_in.token,
    )
    .await;
    match result {
        Ok(()) => {
            let ctx = context! { section => "password", notice => "Your password has been changed. Your other sessions have been logged out." };
            render(&state, &signed_in, "admin/password.html", ctx)
        }
        Err(err) => match field_error(&state, err) {
            Ok(error) => {
                let ctx = context! { section => "password", error => error };
                (StatusCode::UNPROCESSABLE_ENTITY, render(&state, &signed_in, "admin/password.html", ctx))
                    .into_response()
            }
            Err(response) => response,
        },
    }
}

async fn forgot_page(State(state): State<AppState>) -> Response {
    render_bare(&state, "admin/forgot.html", context! {})
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    username: String,
}

/// The same page whatever was typed: nobody learns which addresses have accounts.
async fn forgot(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<ForgotForm>) -> Response {
    if !forms::same_origin(&state.config.base_url(), &headers) {
        let ctx = context! { message => "This form did not come from this site." };
        return (StatusCode::FORBIDDEN, render_bare(&state, "admin/message.html", ctx)).into_response();
    }
    let base = state.config.base_url();
    let title = state.config.site.title.clone();
    let compose = |user: &crate::accounts::User, token: &str| {
        let link = format!("{base}/admin/password/reset?token={token}");
        let minutes = state.config.accounts.reset_token_secs / 60;
        Outgoing {
            to: user.email.clone(),
            subject: format!("[{title}] Password reset"),
            text: format!(
                "Someone asked to reset the password of the account {username} on {title}.\n\n\
                 To choose a new password, open this link within {minutes} minutes:\n\n{link}\n\n\
                 If it was not you, ignore this mail: your password stays as it is.\n",
                username = user.username,
            ),
            html: None,
            unsubscribe: None,
        }
    };
    if let Err(err) = auth::request_reset(&state.db, &state.config.accounts, &form.username, compose).await {
        return error_page(&state, AppError::from(err));
    }
    render_bare(&state, "admin/forgot.html", context! { sent => true })
}

#[derive(Deserialize, Default)]
struct TokenQuery {
    token: Option<String>,
}

/// Reset pages carry the token in their URL: it must not leak through `Referer`.
fn no_referrer(mut response: Response) -> Response {
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

async fn reset_page(State(state): State<AppState>, query: Result<Query<TokenQuery>, QueryRejection>) -> Response {
    let token = query.ok().and_then(|Query(q)| q.token).unwrap_or_default();
    match auth::reset_token_valid(&state.db, &token).await {
        Ok(true) => no_referrer(render_bare(&state, "admin/reset.html", context! { token => token })),
        Ok(false) => {
            let ctx = context! { invalid => ResetError::BadToken.to_string() };
            no_referrer((StatusCode::NOT_FOUND, render_bare(&state, "admin/reset.html", ctx)).into_response())
        }
        Err(err) => error_page(&state, AppError::from(err)),
    }
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

async fn reset(State(state): State<AppState>, Form(form): Form<ResetForm>) -> Response {
    match auth::reset_password(&state.db, &form.token, &form.new_password, &form.confirm_password).await {
        Ok(()) => Redirect::to("/admin/login?done=reset").into_response(),
        Err(ResetError::BadToken) => {
            let ctx = context! { invalid => ResetError::BadToken.to_string() };
            no_referrer((StatusCode::NOT_FOUND, render_bare(&state, "admin/reset.html", ctx)).into_response())
        }
        Err(ResetError::Account(err)) => match field_error(&state, err) {
            Ok(error) => {
                let ctx = context! { token => form.token, error => error };
                let page = render_bare(&state, "admin/reset.html", ctx);
                no_referrer((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
            }
            Err(response) => response,
        },
    }
}
