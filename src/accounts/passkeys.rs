//! Passkeys (WebAuthn, by webauthn-rs) as a second factor: a user adds passkeys on the
//! Security screen, and a sign-in whose password was right can be finished with one instead of
//! an app's code. No HTTP here.
//!
//! - The relying party is the site's `base_url`: its host is the RP id. Browsers offer passkeys
//!   only to a domain name over https (or `http://localhost`), so an address like
//!   `http://127.0.0.1:8080` is told to set `site.base_url`.
//! - The server's half of each ceremony (webauthn-rs's state, which holds the challenge) is kept
//!   in `webauthn_ceremonies`, where every node sees it, and is taken once: an answer replayed
//!   or sent to another ceremony finds nothing to match.
//! - Passkeys must verify their user (PIN or biometrics). Their signature counters are kept, and
//!   a counter that goes backwards is refused as a cloned authenticator (webauthn-rs's check).

use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    CreationChallengeResponse, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::accounts::two_factor::{self, TwoFactorError};
use crate::accounts::{auth, User};
use crate::store::{self, Db, DbError};

pub mod queries;

pub use queries::PasskeyRow;

/// The longest name a passkey may be given.
pub const MAX_NAME_CHARS: usize = 60;
/// The largest answer a browser sends for a ceremony (real ones are a few kilobytes).
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How long a ceremony may take: the browser's own timeout is five minutes.
const CEREMONY_SECS: i64 = 300;

/// The relying party that is this site, at `base_url`, shown to people as `site_name`.
pub fn relying_party(base_url: &str, site_name: &str) -> Result<Webauthn, TwoFactorError> {
    let origin = Url::parse(base_url).map_err(|_| TwoFactorError::NoPasskeyOrigin)?;
    let host = origin.domain().ok_or(TwoFactorError::NoPasskeyOrigin)?;
    if origin.scheme() != "https" && host != "localhost" {
        return Err(TwoFactorError::NoPasskeyOrigin);
    }
    WebauthnBuilder::new(host, &origin)
        .and_then(|builder| builder.rp_name(site_name).build())
        .map_err(|_| TwoFactorError::NoPasskeyOrigin)
}

/// The user's passkeys, for the Security screen.
pub async fn list(db: &Db, user_id: i64) -> Result<Vec<PasskeyRow>, DbError> {
    queries::list(db, user_id).await
}

/// Whether the user has a passkey.
pub async fn any(db: &Db, user_id: i64) -> Result<bool, DbError> {
    let mut conn = db.pool.acquire().await?;
    Ok(queries::count(&mut conn, user_id).await? > 0)
}

/// The user's passkeys as webauthn-rs reads them, with their ids.
async fn stored(db: &Db, user_id: i64) -> Result<Vec<(String, Passkey)>, DbError> {
    let rows = queries::credentials(db, user_id).await?;
    rows.into_iter().map(|(id, credential)| Ok((id, serde_json::from_str(&credential)?))).collect()
}

/// The id the user's passkeys know them by: stable, and saying nothing about the account
/// (WebAuthn's user handle must not be a name or an address).
async fn user_handle(db: &Db, user_id: i64) -> Result<Uuid, DbError> {
    let secret = store::site_secret(db, "webauthn", &auth::random_token()).await?;
    let digest = Sha256::digest(format!("{secret}:{user_id}").as_bytes());
    Ok(Uuid::from_slice(&digest[..16]).unwrap_or_default())
}

fn refused(err: impl std::fmt::Display) -> TwoFactorError {
    TwoFactorError::PasskeyRefused(err.to_string())
}

/// What a browser sent as its answer, read as `T`.
fn answer<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, TwoFactorError> {
    if json.trim().is_empty() {
        return Err(TwoFactorError::NoPasskeyAnswer);
    }
    if json.len() > MAX_ANSWER_BYTES {
        return Err(TwoFactorError::PasskeyAnswerUnreadable(format!("it is over {MAX_ANSWER_BYTES} bytes")));
    }
    serde_json::from_str(json).map_err(|err| TwoFactorError::PasskeyAnswerUnreadable(err.to_string()))
}

fn registration_key(user_id: i64) -> String {
    format!("register:{user_id}")
}

fn sign_in_key(challenge_hash: &str) -> String {
    format!("sign-in:{challenge_hash}")
}

/// Starts adding a passkey for `user`: the options for the browser's `credentials.create`.
pub async fn begin_registration(
    db: &Db,
    rp: &Webauthn,
    user: &User,
) -> Result<CreationChallengeResponse, TwoFactorError> {
    let known = stored(db, user.id).await?.into_iter().map(|(_, passkey)| passkey.cred_id().clone()).collect();
    let shown = if user.display_name.trim().is_empty() { &user.username } else { &user.display_name };
    let handle = user_handle(db, user.id).await?;
    let (options, state) =
        rp.start_passkey_registration(handle, &user.username, shown, Some(known)).map_err(refused)?;
    let now = store::now();
    let state = serde_json::to_string(&state).map_err(DbError::from)?;
    queries::put_ceremony(db, &registration_key(user.id), &state, now + CEREMONY_SECS, now).await?;
    Ok(options)
}

/// Finishes adding a passkey named `name` from the browser's answer `credential` (JSON). When
/// it turns two-factor sign-in on, returns the new recovery codes, shown once.
pub async fn finish_registration(
    db: &Db,
    rp: &Webauthn,
    user: &User,
    name: &str,
    credential: &str,
) -> Result<Option<Vec<String>>, TwoFactorError> {
    let name = name.trim();
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(TwoFactorError::PasskeyName);
    }
    let name = if name.is_empty() { "Passkey" } else { name };
    let response: RegisterPublicKeyCredential = answer(credential)?;
    let was_on = two_factor::is_enabled(db, user.id).await?;
    let now = store::now();
    let mut tx = db.begin().await?;
    let Some(state) = queries::take_ceremony(&mut tx, &registration_key(user.id), now).await? else {
        return Err(TwoFactorError::NoPasskeyCeremony);
    };
    let state: PasskeyRegistration = serde_json::from_str(&state).map_err(DbError::from)?;
    let passkey = rp.finish_passkey_registration(&response, &state).map_err(refused)?;
    let credential_id = credential_id(&passkey)?;
    let stored = serde_json::to_string(&passkey).map_err(DbError::from)?;
    match queries::insert(&mut tx, user.id, &credential_id, name, &stored, now).await {
        Err(DbError::Conflict(_)) => return Err(TwoFactorError::PasskeyKnown),
        other => other?,
    }
    let codes = match was_on {
        true => None,
        false => Some(two_factor::replace_recovery_codes(&mut tx, user.id).await?),
    };
    store::record_activity(&mut tx, "passkey.add", Some(user.id), &user.username).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(codes)
}

/// A passkey's credential id as stored: base64url, as webauthn-rs writes it.
fn credential_id(passkey: &Passkey) -> Result<String, DbError> {
    Ok(serde_json::to_value(passkey.cred_id())?.as_str().unwrap_or_default().to_string())
}

/// Removes the user's passkey `id`, given their password. When it was their last second factor,
/// two-factor sign-in is off afterwards (and their recovery codes go), unless their role
/// requires it: then it stays. Whether two-factor sign-in is still on.
pub async fn remove(db: &Db, user: &User, id: i64, password: &str, required: bool) -> Result<bool, TwoFactorError> {
    two_factor::check_password(db, user, password).await?;
    let app = two_factor::app_enabled(db, user.id).await?;
    let mut tx = db.begin().await?;
    if !queries::delete(&mut tx, user.id, id).await? {
        return Err(TwoFactorError::NoSuchPasskey);
    }
    let still_on = app || queries::count(&mut tx, user.id).await? > 0;
    if !still_on && required {
        return Err(TwoFactorError::Required);
    }
    if !still_on {
        two_factor::forget_recovery_codes(&mut tx, user.id).await?;
    }
    store::record_activity(&mut tx, "passkey.remove", Some(user.id), &user.username).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(still_on)
}

/// Starts the passkey step of the sign-in whose challenge hashes to `challenge_hash`: the
/// options for the browser's `credentials.get`, naming the user's passkeys.
pub async fn begin_sign_in(
    db: &Db,
    rp: &Webauthn,
    challenge_hash: &str,
    user_id: i64,
) -> Result<RequestChallengeResponse, TwoFactorError> {
    let passkeys: Vec<Passkey> = stored(db, user_id).await?.into_iter().map(|(_, passkey)| passkey).collect();
    if passkeys.is_empty() {
        return Err(TwoFactorError::NoSuchPasskey);
    }
    let (options, state) = rp.start_passkey_authentication(&passkeys).map_err(refused)?;
    let now = store::now();
    let state = serde_json::to_string(&state).map_err(DbError::from)?;
    queries::put_ceremony(db, &sign_in_key(challenge_hash), &state, now + CEREMONY_SECS, now).await?;
    Ok(options)
}

/// Takes the browser's answer `credential` (JSON) as the user's second factor inside `conn`'s
/// transaction, for the sign-in whose challenge hashes to `challenge_hash`. Whether it was
/// good; either way the ceremony is used up.
pub async fn take_answer(
    conn: &mut sqlx::AnyConnection,
    db: &Db,
    rp: &Webauthn,
    challenge_hash: &str,
    user_id: i64,
    credential: &str,
) -> Result<bool, DbError> {
    let now = store::now();
    let Some(state) = queries::take_ceremony(conn, &sign_in_key(challenge_hash), now).await? else { return Ok(false) };
    let Ok(response) = answer::<PublicKeyCredential>(credential) else { return Ok(false) };
    let state: PasskeyAuthentication = serde_json::from_str(&state)?;
    let Ok(result) = rp.finish_passkey_authentication(&response, &state) else { return Ok(false) };
    for (id, mut passkey) in stored(db, user_id).await? {
        if passkey.update_credential(&result).is_some() {
            queries::record_use(conn, user_id, &id, &serde_json::to_string(&passkey)?, now).await?;
            return Ok(true);
        }
    }
    Ok(false)
}
