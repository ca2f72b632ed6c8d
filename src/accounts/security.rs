//! The desk's Security screen: two-factor sign-in (a TOTP app, passkeys, recovery codes, turn
//! off) and the user's sessions ("sign out everywhere else").
//!
//! - `GET /admin/security`: what is on, the passkeys, the sessions.
//! - `POST /admin/security/two-factor/setup`: a new key, shown as a QR code and as text, with a
//!   form for the first code; `…/confirm` checks it (and shows the recovery codes once when that
//!   turns two-factor sign-in on).
//! - `POST /admin/security/passkeys/options`: the browser's `credentials.create` options (JSON,
//!   for `static/admin/passkeys.js`); `POST /admin/security/passkeys` adds the passkey from the
//!   browser's answer; `…/passkeys/{id}/remove` (password).
//! - `POST /admin/security/two-factor/recovery-codes`: new codes; `…/disable` (password).
//! - `POST /admin/security/sessions/end-others`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use minijinja::{context, Value};
use serde::Deserialize;

use crate::accounts::desk::render;
use crate::accounts::session::{AdminForm, SignedIn};
use crate::accounts::two_factor::{self, TwoFactorError};
use crate::accounts::{auth, passkeys, queries};
use crate::http::{AppError, AppState};
use crate::store;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/security", get(security_page))
        .route("/admin/security/two-factor/setup", post(begin_setup))
        .route("/admin/security/two-factor/confirm", post(confirm_setup))
        .route("/admin/security/two-factor/recovery-codes", post(new_recovery_codes))
        .route("/admin/security/two-factor/disable", post(disable))
        .route("/admin/security/passkeys/options", post(passkey_options))
        .route("/admin/security/passkeys", post(add_passkey))
        .route("/admin/security/passkeys/{id}/remove", post(remove_passkey))
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
        app_enabled => two_factor::app_enabled(&state.db, signed_in.user.id).await?,
        passkeys => passkeys::list(&state.db, signed_in.user.id).await?,
        passkeys_possible => relying_party(state).is_ok(),
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
    let (status, field, message) = refusal_parts(err)?;
    Ok((status, context! { field, message }))
}

/// A `TwoFactorError`'s status, field and message, or a failure.
fn refusal_parts(err: TwoFactorError) -> Result<(StatusCode, &'static str, String), AppError> {
    use TwoFactorError::*;
    let (status, field) = match err {
        WrongCode => (StatusCode::UNPROCESSABLE_ENTITY, "code"),
        WrongPassword => (StatusCode::UNPROCESSABLE_ENTITY, "current_password"),
        NoSetup | Required => (StatusCode::CONFLICT, "two_factor"),
        NoPasskeyOrigin => (StatusCode::CONFLICT, "passkey"),
        NoSuchPasskey => (StatusCode::NOT_FOUND, "passkey"),
        PasskeyName => (StatusCode::UNPROCESSABLE_ENTITY, "passkey_name"),
        NoPasskeyAnswer | PasskeyAnswerUnreadable(_) | NoPasskeyCeremony | PasskeyRefused(_) | PasskeyKnown => {
            (StatusCode::UNPROCESSABLE_ENTITY, "passkey")
        }
        Db(db) => return Err(db.into()),
    };
    Ok((status, field, err.to_string()))
}

/// This site as a WebAuthn relying party, at its address of the moment.
pub(super) fn relying_party(state: &AppState) -> Result<webauthn_rs::Webauthn, TwoFactorError> {
    let live = state.settings.config();
    passkeys::relying_party(&live.base_url(), &live.site.title)
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
        Ok(Some(codes)) => page(&state, &signed_in, StatusCode::OK, context! { new_codes => codes }).await,
        Ok(None) => {
            let notice = "Your authenticator app is added: it signs you in as well as your passkeys.";
            page(&state, &signed_in, StatusCode::OK, context! { notice }).await
        }
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

/// The options for the browser's `credentials.create`, as JSON; a refusal is `{"error": …}`.
async fn passkey_options(
    State(state): State<AppState>,
    AdminForm(signed_in, Empty {}): AdminForm<Empty>,
) -> Result<Response, AppError> {
    let options = match relying_party(&state) {
        Ok(rp) => passkeys::begin_registration(&state.db, &rp, &signed_in.user).await,
        Err(err) => Err(err),
    };
    match options {
        Ok(options) => Ok(Json(options).into_response()),
        Err(err) => {
            let (status, field, message) = refusal_parts(err)?;
            Ok((status, Json(serde_json::json!({ "error": message, "field": field }))).into_response())
        }
    }
}

#[derive(Deserialize)]
struct PasskeyForm {
    #[serde(default)]
    name: String,
    /// The browser's answer to `credentials.create`, as JSON (filled in by the script).
    #[serde(default)]
    credential: String,
}

async fn add_passkey(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<PasskeyForm>,
) -> Result<Response, AppError> {
    let added = match relying_party(&state) {
        Ok(rp) => passkeys::finish_registration(&state.db, &rp, &signed_in.user, &form.name, &form.credential).await,
        Err(err) => Err(err),
    };
    let notice = "Your passkey is added: use it to sign in after your password.";
    let extra = added.map(|codes| match codes {
        Some(codes) => context! { new_codes => codes, notice },
        None => context! { notice },
    });
    outcome(&state, &signed_in, extra).await
}

async fn remove_passkey(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<DisableForm>,
) -> Result<Response, AppError> {
    let required = required_for(&state, &signed_in);
    let removed = passkeys::remove(&state.db, &signed_in.user, id, &form.current_password, required).await;
    match removed {
        Ok(still_on) => {
            let notice = match still_on {
                true => "The passkey is removed.",
                false => {
                    "The passkey is removed. It was your last second factor, so your password alone now signs you in."
                }
            };
            page(&state, &signed_in, StatusCode::OK, context! { notice }).await
        }
        // Each passkey has its own password field: the error is shown with the list.
        Err(TwoFactorError::WrongPassword) => {
            let error = context! { field => "passkey", message => TwoFactorError::WrongPassword.to_string() };
            page(&state, &signed_in, StatusCode::UNPROCESSABLE_ENTITY, context! { error }).await
        }
        Err(err) => outcome(&state, &signed_in, Err(err)).await,
    }
}

async fn end_other_sessions(
    State(state): State<AppState>,
    AdminForm(signed_in, Empty {}): AdminForm<Empty>,
) -> Result<Response, AppError> {
    let ended = auth::end_other_sessions(&state.db, &signed_in.user, &signed_in.token).await?;
    let notice = format!("Signed out everywhere else ({ended} other session{}).", if ended == 1 { "" } else { "s" });
    page(&state, &signed_in, StatusCode::OK, context! { notice }).await
}
