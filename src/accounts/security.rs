//! The desk's Security screen: two-factor sign-in (set up with a TOTP app, recovery codes,
//! turn off) and the user's sessions ("sign out everywhere else").
//!
//! - `GET /admin/security`: what is on, the sessions.
//! - `POST /admin/security/two-factor/setup`: a new key, shown as a QR code and as text, with a
//!   form for the first code; `…/confirm` checks it and shows the recovery codes once.
//! - `POST /admin/security/two-factor/recovery-codes`: new codes; `…/disable` (password).
//! - `POST /admin/security/sessions/end-others`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::{context, Value};
use serde::Deserialize;

use crate::accounts::desk::render;
use crate::accounts::session::{AdminForm, SignedIn};
use crate::accounts::two_factor::{self, TwoFactorError};
use crate::accounts::{auth, queries};
use crate::http::{AppError, AppState};
use crate::store;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/security", get(security_page))
        .route("/admin/security/two-factor/setup", post(begin_setup))
        .route("/admin/security/two-factor/confirm", post(confirm_setup))
        .route("/admin/security/two-factor/recovery-codes", post(new_recovery_codes))
        .route("/admin/security/two-factor/disable", post(disable))
        .route("/admin/security/sessions/end-others", post(end_other_sessions))
}

/// Whether the signed-in user's role must sign in with a second factor.
pub fn required_for(state: &AppState, signed_in: &SignedIn) -> bool {
    state.config.accounts.require_two_factor.iter().any(|role| role == signed_in.role.as_str())
}

/// The Security screen with `extra` laid over what it always shows.
async fn page(state: &AppState, signed_in: &SignedIn, status: StatusCode, extra: Value) -> Result<Response, AppError> {
    let now = store::now();
    let current = auth::token_hash(&signed_in.token);
    let sessions: Vec<Value> = queries::sessions_of(&state.db, signed_in.user.id, now)
        .await?
        .into_iter()
        .map(|(id_hash, created_at, last_seen_at, user_agent)| {
            context! { this => id_hash == current, created_at, last_seen_at, user_agent }
        })
        .collect();
    let ctx = context! {
        section => "security",
        enabled => two_factor::is_enabled(&state.db, signed_in.user.id).await?,
        required => required_for(state, signed_in),
        codes_left => queries::recovery_codes_left(&state.db, signed_in.user.id).await?,
        sessions => sessions,
        ..extra
    };
    Ok((status, render(state, signed_in, "admin/security.html", ctx)).into_response())
}

async fn security_page(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response, AppError> {
    page(&state, &signed_in, StatusCode::OK, context! {}).await
}

/// A `TwoFactorError` as the screen shows it: the form's field and a 4xx, or a failure.
fn refusal(err: TwoFactorError) -> Result<(StatusCode, Value), AppError> {
    let field = match err {
        TwoFactorError::WrongCode => "code",
        TwoFactorError::WrongPassword => "current_password",
        TwoFactorError::NoSetup | TwoFactorError::Required => "two_factor",
        TwoFactorError::Db(db) => return Err(db.into()),
    };
    let status = if field == "two_factor" { StatusCode::CONFLICT } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok((status, context! { field => field, message => err.to_string() }))
}

/// The screen after an action: with what it gives on success, else with the refusal.
async fn outcome(
    state: &AppState,
    signed_in: &SignedIn,
    result: Result<Value, TwoFactorError>,
) -> Result<Response, AppError> {
    match result {
        Ok(extra) => page(state, signed_in, StatusCode::OK, extra).await,
        Err(err) => {
            let (status, error) = refusal(err)?;
            page(state, signed_in, status, context! { error }).await
        }
    }
}

fn setup_context(setup: two_factor::Setup) -> Value {
    context! { secret => setup.secret_base32, otpauth_url => setup.otpauth_url, qr_svg => Value::from_safe_string(setup.qr_svg) }
}

#[derive(Deserialize)]
struct Empty {}

async fn begin_setup(
    State(state): State<AppState>,
    AdminForm(signed_in, Empty {}): AdminForm<Empty>,
) -> Result<Response, AppError> {
    let issuer = state.settings.config().site.title.clone();
    let setup = two_factor::begin_setup(&state.db, &signed_in.user, &issuer).await;
    outcome(&state, &signed_in, setup.map(|setup| context! { setup => setup_context(setup) })).await
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn confirm_setup(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<CodeForm>,
) -> Result<Response, AppError> {
    let code: String = form.code.chars().take(64).collect();
    match two_factor::confirm_setup(&state.db, &signed_in.user, &code).await {
        Ok(codes) => page(&state, &signed_in, StatusCode::OK, context! { new_codes => codes }).await,
        Err(err) => {
            let (status, error) = refusal(err)?;
            // A wrong code shows the same key again, to try once more.
            let issuer = state.settings.config().site.title.clone();
            let setup = two_factor::pending_setup(&state.db, &signed_in.user, &issuer).await.ok().map(setup_context);
            page(&state, &signed_in, status, context! { error, setup }).await
        }
    }
}

async fn new_recovery_codes(
    State(state): State<AppState>,
    AdminForm(signed_in, Empty {}): AdminForm<Empty>,
) -> Result<Response, AppError> {
    let codes = two_factor::new_recovery_codes(&state.db, &signed_in.user).await;
    outcome(&state, &signed_in, codes.map(|codes| context! { new_codes => codes })).await
}

#[derive(Deserialize)]
struct DisableForm {
    #[serde(default)]
    current_password: String,
}

async fn disable(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<DisableForm>,
) -> Result<Response, AppError> {
    let required = required_for(&state, &signed_in);
    let notice = "Two-factor sign-in is off. Your password alone now signs you in.";
    let disabled = two_factor::disable(&state.db, &signed_in.user, &form.current_password, required).await;
    outcome(&state, &signed_in, disabled.map(|()| context! { notice })).await
}

async fn end_other_sessions(
    State(state): State<AppState>,
    AdminForm(signed_in, Empty {}): AdminForm<Empty>,
) -> Result<Response, AppError> {
    let ended = auth::end_other_sessions(&state.db, &signed_in.user, &signed_in.token).await?;
    let notice = format!("Signed out everywhere else ({ended} other session{}).", if ended == 1 { "" } else { "s" });
    page(&state, &signed_in, StatusCode::OK, context! { notice }).await
}
