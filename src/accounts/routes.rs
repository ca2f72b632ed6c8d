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

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use minijinja::context;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::accounts::auth::{self, LoginError, ResetError};
use crate::accounts::desk::{render, render_bare};
use crate::accounts::session::{self, AdminForm, SignedIn};
use crate::accounts::two_factor::TwoFactorError;
use crate::accounts::users::{self, Change};
use crate::accounts::{passkeys, security, AccountError, Capability, NewUser, Role};
use crate::http::forms;
use crate::http::{AppError, AppState};
use crate::mail::Outgoing;

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/login/two-factor", get(second_factor_page).post(second_factor))
        .route("/admin/login/passkey/options", post(passkey_options))
        .route("/admin/logout", post(logout))
        .route("/admin/password", get(password_page).post(change_password))
        .route("/admin/password/forgot", get(forgot_page).post(forgot))
        .route("/admin/password/reset", get(reset_page).post(reset))
        .route("/admin/users", get(users_page).post(add_user))
        .route("/admin/users/new", get(new_user_page))
        .route("/admin/users/{id}", post(change_user))
        .merge(super::security::router())
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
        Some("expired") => Some("Your sign-in took too long or had too many wrong codes. Log in again."),
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
    /// "Remember me": the cookie outlives the browser session (until the session's cap).
    remember: Option<String>,
}

/// What a form posted by someone not yet signed in carries besides its fields.
struct Sender {
    ip: IpAddr,
    /// The session cookie the browser already had, if any.
    previous_session: Option<String>,
    /// The second step of a sign-in under way, if any.
    challenge: Option<String>,
    user_agent: String,
}

impl Sender {
    fn client(&self) -> auth::Client<'_> {
        auth::Client { ip: self.ip, previous: self.previous_session.as_deref(), user_agent: &self.user_agent }
    }
}

/// The cookie holding a sign-in's second step: only the login pages see it, for minutes.
const CHALLENGE_COOKIE: &str = "ov_login";

fn challenge_cookie(value: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{CHALLENGE_COOKIE}={value}; Path=/admin/login; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

/// Reads a form posted to a page for people who are not signed in (login, lost password,
/// reset). There is no session to hold a CSRF secret, so it must come from this site's own
/// pages (`Origin`/`Sec-Fetch-Site`). Refusals and malformed forms get an admin page naming
/// the problem.
async fn public_form<T: DeserializeOwned>(state: &AppState, request: Request) -> Result<(Sender, T), Response> {
    let (parts, body) = request.into_parts();
    if !forms::same_origin(&state.config.base_url(), &parts.headers) {
        let ctx = context! { message => "This form did not come from this site." };
        return Err((StatusCode::FORBIDDEN, render_bare(state, "admin/message.html", ctx)).into_response());
    }
    let sender = Sender {
        ip: forms::client_ip(
            &state.config.accounts.client_ip_header,
            &parts.headers,
            parts.extensions.get::<ConnectInfo<SocketAddr>>(),
        ),
        previous_session: forms::cookie(&parts.headers, session::COOKIE).map(str::to_string),
        challenge: forms::cookie(&parts.headers, CHALLENGE_COOKIE).map(str::to_string),
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string(),
    };
    match Form::<T>::from_request(Request::from_parts(parts, body), state).await {
        Ok(Form(form)) => Ok((sender, form)),
        Err(rejection) => {
            let ctx = context! { message => rejection.body_text() };
            Err((rejection.status(), render_bare(state, "admin/message.html", ctx)).into_response())
        }
    }
}

async fn login(State(state): State<AppState>, request: Request) -> Result<Response, AppError> {
    let (sender, form) = match public_form::<LoginForm>(&state, request).await {
        Ok(read) => read,
        Err(refused) => return Ok(refused),
    };
    let next = safe_next(form.next.as_deref());
    let remember = form.remember.is_some();
    match auth::login(&state.db, &state.config.accounts, &form.username, &form.password, remember, &sender.client())
        .await
    {
        Ok(auth::SignIn::Session(opened)) => Ok(signed_in_response(&state, opened, remember, &next)),
        Ok(auth::SignIn::SecondFactor { challenge }) => {
            let cookie = challenge_cookie(&challenge, auth::CHALLENGE_SECS, secure(&state));
            let url = format!(
                "/admin/login/two-factor?next={}",
                percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
            );
            Ok(session::with_cookie(Redirect::to(&url).into_response(), &cookie))
        }
        Err(LoginError::Db(err)) => Err(err.into()),
        Err(err) => {
            let ctx =
                context! { next => next, username => form.username, remember => remember, error => err.to_string() };
            Ok(refused_login(&state, err, "admin/login.html", ctx))
        }
    }
}

/// A session opened: its cookie, and on to `next`.
fn signed_in_response(state: &AppState, opened: auth::NewSession, remember: bool, next: &str) -> Response {
    let max_age = remember.then_some(opened.max_age_secs);
    let cookie = session::session_cookie(&opened.token, max_age, secure(state));
    let response = session::with_cookie(Redirect::to(next).into_response(), &cookie);
    session::with_cookie(response, &challenge_cookie("", 0, secure(state)))
}

/// `template` again with the refusal: 429 with `Retry-After` while locked, else 401.
fn refused_login(state: &AppState, err: LoginError, template: &str, ctx: minijinja::Value) -> Response {
    let status = match err {
        LoginError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNAUTHORIZED,
    };
    let mut response = (status, render_bare(state, template, ctx)).into_response();
    if let LoginError::Locked { retry_after_secs } = err {
        if let Ok(value) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    response
}

async fn second_factor_page(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(query) = query.unwrap_or_default();
    let next = safe_next(query.next.as_deref());
    let challenge = forms::cookie(&headers, CHALLENGE_COOKIE).unwrap_or_default();
    let Some(user) = auth::pending_sign_in(&state.db, challenge).await? else {
        return Ok(Redirect::to(&session::login_url(&next)).into_response());
    };
    let ctx = context! { next => next, passkeys => passkeys_offered(&state, user.id).await? };
    Ok(render_bare(&state, "admin/login_two_factor.html", ctx))
}

/// Whether the second step offers `user_id` their passkeys.
async fn passkeys_offered(state: &AppState, user_id: i64) -> Result<bool, AppError> {
    Ok(security::relying_party(state).is_ok() && passkeys::any(&state.db, user_id).await?)
}

#[derive(Deserialize)]
struct SecondFactorForm {
    #[serde(default)]
    code: String,
    /// A passkey's answer (JSON), filled in by the page's script instead of a code.
    #[serde(default)]
    credential: String,
    next: Option<String>,
}

async fn second_factor(State(state): State<AppState>, request: Request) -> Result<Response, AppError> {
    let (sender, form) = match public_form::<SecondFactorForm>(&state, request).await {
        Ok(read) => read,
        Err(refused) => return Ok(refused),
    };
    let next = safe_next(form.next.as_deref());
    let challenge = sender.challenge.clone().unwrap_or_default();
    let code: String = form.code.chars().take(64).collect();
    let rp = security::relying_party(&state);
    let proof = match (&rp, form.credential.is_empty()) {
        (Ok(rp), false) => auth::Proof::Passkey { rp, answer: &form.credential },
        _ => auth::Proof::Code(&code),
    };
    match auth::second_factor(&state.db, &state.config.accounts, &challenge, proof, &sender.client()).await {
        Ok((opened, remember)) => Ok(signed_in_response(&state, opened, remember, &next)),
        Err(LoginError::Db(err)) => Err(err.into()),
        Err(LoginError::ChallengeExpired) => {
            let response = Redirect::to("/admin/login?done=expired").into_response();
            Ok(session::with_cookie(response, &challenge_cookie("", 0, secure(&state))))
        }
        Err(err) => {
            let user = auth::pending_sign_in(&state.db, &challenge).await?;
            let passkeys = match user {
                Some(user) => passkeys_offered(&state, user.id).await?,
                None => false,
            };
            let ctx = context! { next => next, passkeys => passkeys, error => err.to_string() };
            Ok(refused_login(&state, err, "admin/login_two_factor.html", ctx))
        }
    }
}

/// The options for the browser's `credentials.get` in the second step of a sign-in, as JSON; a
/// refusal is `{"error": …}`.
async fn passkey_options(State(state): State<AppState>, request: Request) -> Result<Response, AppError> {
    let (sender, Empty {}) = match public_form::<Empty>(&state, request).await {
        Ok(read) => read,
        Err(refused) => return Ok(refused),
    };
    let challenge = sender.challenge.unwrap_or_default();
    let refuse = |status: StatusCode, message: String| Ok((status, Json(json!({ "error": message }))).into_response());
    let Some(user) = auth::pending_sign_in(&state.db, &challenge).await? else {
        return refuse(StatusCode::UNAUTHORIZED, LoginError::ChallengeExpired.to_string());
    };
    let options = match security::relying_party(&state) {
        Ok(rp) => passkeys::begin_sign_in(&state.db, &rp, &auth::token_hash(&challenge), user.id).await,
        Err(err) => Err(err),
    };
    match options {
        Ok(options) => Ok(Json(options).into_response()),
        Err(TwoFactorError::Db(err)) => Err(err.into()),
        Err(err) => refuse(StatusCode::CONFLICT, err.to_string()),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(
    State(state): State<AppState>,
    AdminForm(signed_in, Empty {}): AdminForm<Empty>,
) -> Result<Response, AppError> {
    auth::logout(&state.db, &signed_in.token).await?;
    let response = Redirect::to("/admin/login?done=logged_out").into_response();
    Ok(session::with_cookie(response, &session::clear_cookie(secure(&state))))
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
fn field_error(err: AccountError) -> Result<minijinja::Value, AppError> {
    match err {
        AccountError::Invalid { field, message } => Ok(context! { field => field, message => message }),
        AccountError::Taken { field, value } => {
            Ok(context! { field => field, message => format!("{value:?} is already taken") })
        }
        AccountError::Db(db) => Err(db.into()),
        AccountError::Hashing(why) => Err(AppError::Internal(anyhow::anyhow!(why))),
    }
}

async fn change_password(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<PasswordForm>,
) -> Result<Response, AppError> {
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
            Ok(render(&state, &signed_in, "admin/password.html", ctx))
        }
        Err(err) => {
            let ctx = context! { section => "password", error => field_error(err)? };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&state, &signed_in, "admin/password.html", ctx))
                .into_response())
        }
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

/// The lost-password answer takes at least this long, so that queueing a mail for a real
/// account does not take measurably longer than answering for an unknown one.
const FORGOT_ANSWER_MS: u64 = 400;

/// The same page, after the same time, whatever was typed: nobody learns which addresses have
/// accounts.
async fn forgot(State(state): State<AppState>, request: Request) -> Result<Response, AppError> {
    let answer_at = tokio::time::Instant::now() + std::time::Duration::from_millis(FORGOT_ANSWER_MS);
    let form = match public_form::<ForgotForm>(&state, request).await {
        Ok((_, form)) => form,
        Err(refused) => return Ok(refused),
    };
    let live = state.settings.config();
    let base = live.base_url();
    let title = live.site.title.clone();
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
    auth::request_reset(&state.db, &state.config.accounts, &form.username, compose).await?;
    tokio::time::sleep_until(answer_at).await;
    Ok(render_bare(&state, "admin/forgot.html", context! { sent => true }))
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

async fn reset_page(
    State(state): State<AppState>,
    query: Result<Query<TokenQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    let token = query.ok().and_then(|Query(q)| q.token).unwrap_or_default();
    Ok(if auth::reset_token_valid(&state.db, &token).await? {
        no_referrer(render_bare(&state, "admin/reset.html", context! { token => token }))
    } else {
        let ctx = context! { invalid => ResetError::BadToken.to_string() };
        no_referrer((StatusCode::NOT_FOUND, render_bare(&state, "admin/reset.html", ctx)).into_response())
    })
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

async fn reset(State(state): State<AppState>, request: Request) -> Result<Response, AppError> {
    let form = match public_form::<ResetForm>(&state, request).await {
        Ok((_, form)) => form,
        Err(refused) => return Ok(no_referrer(refused)),
    };
    match auth::reset_password(&state.db, &form.token, &form.new_password, &form.confirm_password).await {
        Ok(()) => Ok(Redirect::to("/admin/login?done=reset").into_response()),
        Err(ResetError::BadToken) => {
            let ctx = context! { invalid => ResetError::BadToken.to_string() };
            Ok(no_referrer((StatusCode::NOT_FOUND, render_bare(&state, "admin/reset.html", ctx)).into_response()))
        }
        Err(ResetError::Account(err)) => {
            let ctx = context! { token => form.token, error => field_error(err)? };
            let page = render_bare(&state, "admin/reset.html", ctx);
            Ok(no_referrer((StatusCode::UNPROCESSABLE_ENTITY, page).into_response()))
        }
    }
}

/// The users screen, with `extra` (a notice or an error) in its context.
async fn users_list(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    extra: minijinja::Value,
) -> Result<Response, AppError> {
    let list = users::list(&state.db).await?;
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    let ctx = context! { ..extra, ..context! { users => list, roles => roles } };
    Ok((status, render(state, signed_in, "admin/users.html", ctx)).into_response())
}

async fn users_page(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageUsers)?;
    users_list(&state, &signed_in, StatusCode::OK, context! {}).await
}

async fn new_user_page(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageUsers)?;
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    let form = context! { role => Role::Author.as_str() };
    Ok(render(&state, &signed_in, "admin/user_new.html", context! { roles => roles, form => form }))
}

#[derive(Deserialize)]
struct NewUserForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    role: String,
    /// Empty: a password is generated and shown once.
    #[serde(default)]
    password: String,
}

async fn add_user(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<NewUserForm>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageUsers)?;
    let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    let again = |error: minijinja::Value| {
        // The password typed is not sent back.
        let form = context! { username => form.username, email => form.email, display_name => form.display_name, role => form.role };
        let ctx = context! { roles => roles, form => form, error => error };
        Ok((StatusCode::UNPROCESSABLE_ENTITY, render(&state, &signed_in, "admin/user_new.html", ctx)).into_response())
    };
    let Some(role) = Role::parse(&form.role) else {
        return again(context! { field => "role", message => "choose one of the roles" });
    };
    let generated = form.password.is_empty().then(crate::accounts::generate_password);
    let password = generated.as_deref().unwrap_or(&form.password);
    let username = form.username.trim().to_lowercase();
    let new = NewUser {
        username: &username,
        email: form.email.trim(),
        display_name: form.display_name.trim(),
        role,
        password: Some(password),
    };
    match crate::accounts::create_user(&state.db, &new).await {
        Ok(user) => {
            let notice = match &generated {
                Some(password) => format!(
                    "Added {} ({}). Their password is {password} — copy it now, it is not shown again.",
                    user.username, user.role
                ),
                None => format!("Added {} ({}).", user.username, user.role),
            };
            users_list(&state, &signed_in, StatusCode::OK, context! { notice => notice }).await
        }
        Err(err) => again(field_error(err)?),
    }
}

#[derive(Deserialize)]
struct ChangeUserForm {
    /// `role`, `disable`, `enable` or `remove`.
    action: String,
    #[serde(default)]
    role: String,
}

async fn change_user(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<ChangeUserForm>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageUsers)?;
    let change = match (form.action.as_str(), Role::parse(&form.role)) {
        ("role", Some(role)) => Change::Role(role),
        ("disable", _) => Change::Disable,
        ("enable", _) => Change::Enable,
        ("remove", _) => Change::Remove,
        (action, _) => {
            let message = match action {
                "role" => "choose one of the roles".to_string(),
                other => format!("unknown action {other:?}"),
            };
            let extra = context! { error => context! { field => "user", message => message } };
            return users_list(&state, &signed_in, StatusCode::UNPROCESSABLE_ENTITY, extra).await;
        }
    };
    match users::change(&state.db, signed_in.user.id, id, change).await {
        Ok(()) => Ok(Redirect::to("/admin/users").into_response()),
        Err(err) => {
            let error = field_error(err)?;
            users_list(&state, &signed_in, StatusCode::UNPROCESSABLE_ENTITY, context! { error => error }).await
        }
    }
}
