//! Signing in and out, sessions, login throttling, password changes and resets. No HTTP here:
//! the routes pass in what the request said and get domain results back.
//!
//! - Sessions live in the database (every node sees them); the browser holds a random id, the
//!   table only its SHA-256, so a database copy signs nobody in. Expiry slides with use
//!   (`session_idle_secs`) up to a cap from sign-in (`session_max_secs`).
//! - Failed logins are counted per account name as typed and per client address (a keyed
//!   hash), in the database; reaching a limit locks that key for `lockout_secs`. Unknown names
//!   are counted and locked like real ones, and are checked against a dummy argon2 hash, so
//!   neither the answer nor its timing tells whether an account exists.
//! - Changing or resetting a password ends the user's other sessions.

use std::net::IpAddr;
use std::sync::OnceLock;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::accounts::{hash_password, queries, verify_password, AccountError, User};
use crate::config::accounts::AccountsConfig;
use crate::mail::Outgoing;
use crate::store::{self, Db, DbError};

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest: argon2 hashes anything, but a megabyte "password" is a denial of service.
pub const MAX_PASSWORD_CHARS: usize = 1000;

/// A random 256-bit secret, hex: session ids, CSRF secrets, reset tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored of a session id or reset token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two secrets without an early exit on the first differing byte.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A hash of a password nobody knows, verified for unknown accounts so they take as long as
/// known ones.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_token()).unwrap_or_default())
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown account, wrong password, disabled account: one answer for all.
    #[error("Unknown username or wrong password.")]
    Refused,
    /// Too many failures for this account name or from this address.
    #[error("Too many failed attempts. Try again later.")]
    Locked { retry_after_secs: i64 },
    /// The second factor was not right.
    #[error("That code or passkey is not right, or was used already.")]
    WrongCode,
    /// The second step of a sign-in came too late, or after too many wrong codes.
    #[error("Your sign-in has expired. Log in again.")]
    ChallengeExpired,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for LoginError {
    fn from(err: sqlx::Error) -> Self {
        LoginError::Db(err.into())
    }
}

/// A session just opened: `token` goes into the cookie and nowhere else.
pub struct NewSession {
    pub token: String,
    pub user: User,
    /// The cookie's lifetime when the user asks to be remembered: the absolute cap. The idle
    /// expiry slides on the server, which a cookie's `Max-Age` could not follow without being
    /// sent anew on every page.
    pub max_age_secs: i64,
}

/// What a right password leads to.
pub enum SignIn {
    Session(NewSession),
    /// The account signs in with a second factor: `challenge` goes into a short-lived cookie
    /// for [`second_factor`].
    SecondFactor {
        challenge: String,
    },
}

/// How long the second step of a sign-in may take.
pub const CHALLENGE_SECS: i64 = 300;
/// Wrong codes after which a sign-in must start again.
const CHALLENGE_FAILURES: i64 = 5;

/// A valid session, as the extractor needs it.
pub struct Session {
    pub user: User,
    pub csrf: String,
}

fn account_key(name: &str) -> String {
    format!("account:{}", name.trim().to_lowercase())
}

async fn ip_key(db: &Db, ip: IpAddr) -> Result<String, DbError> {
    let secret = crate::store::site_secret(db, "accounts", &random_token()).await?;
    let mut hasher = Sha256::new();
    hasher.update(secret.as_bytes());
    hasher.update(ip.to_string().as_bytes());
    Ok(format!("ip:{}", hex::encode(&hasher.finalize()[..16])))
}

/// Where a sign-in request comes from.
pub struct Client<'a> {
    pub ip: IpAddr,
    /// The session the browser already had, ended by a new one.
    pub previous: Option<&'a str>,
    pub user_agent: &'a str,
}

/// Checks `name` (username or email) and `password`; on success opens a session, or, for an
/// account with two-factor sign-in, a challenge for [`second_factor`].
pub async fn login(
    db: &Db,
    config: &AccountsConfig,
    name: &str,
    password: &str,
    remember: bool,
    client: &Client<'_>,
) -> Result<SignIn, LoginError> {
    let now = store::now();
    let account = account_key(name);
    let ip = ip_key(db, client.ip).await?;
    if let Some(until) = queries::locked_until(db, &[&account, &ip], now).await? {
        return Err(LoginError::Locked { retry_after_secs: until - now });
    }
    let row = if name.len() <= 254 { queries::for_login(db, name.trim()).await? } else { None };
    let (hash, usable) = match &row {
        Some(row) => match &row.password_hash {
            Some(hash) => (hash.clone(), !row.disabled),
            None => (dummy_hash().to_string(), false),
        },
        None => (dummy_hash().to_string(), false),
    };
    let password = password.to_string();
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    let mut tx = db.begin().await?;
    let user = match row {
        Some(row) if matches && usable => row.user,
        _ => {
            record_failures(&mut tx, config, &account, &ip, now).await?;
            tx.commit().await?;
            return Err(LoginError::Refused);
        }
    };
    if super::two_factor::is_enabled(db, user.id).await? {
        // The account's failures stay counted until the second factor is right too.
        let challenge = random_token();
        queries::insert_challenge(&mut tx, &token_hash(&challenge), user.id, remember, now + CHALLENGE_SECS).await?;
        tx.commit().await?;
        return Ok(SignIn::SecondFactor { challenge });
    }
    queries::clear_throttle(&mut tx, &account).await?;
    let opened = open_session(tx, db, config, user, client).await?;
    Ok(SignIn::Session(opened))
}

/// What a user offers as their second factor.
pub enum Proof<'a> {
    /// The app's code of the moment, or a recovery code.
    Code(&'a str),
    /// A passkey's answer (JSON) to the sign-in's ceremony, checked by the relying party `rp`.
    Passkey { rp: &'a webauthn_rs::Webauthn, answer: &'a str },
}

/// The user whose sign-in awaits its second factor, for the challenge whose cookie value is
/// `challenge`.
pub async fn pending_sign_in(db: &Db, challenge: &str) -> Result<Option<User>, DbError> {
    let live = queries::live_challenge(db, &token_hash(challenge), store::now(), CHALLENGE_FAILURES).await?;
    Ok(live.map(|(user, _)| user))
}

/// The second step of a sign-in: `proof` for the challenge whose cookie value is `challenge`.
/// Wrong proofs count as failed logins of the account and address.
pub async fn second_factor(
    db: &Db,
    config: &AccountsConfig,
    challenge: &str,
    proof: Proof<'_>,
    client: &Client<'_>,
) -> Result<(NewSession, bool), LoginError> {
    let now = store::now();
    let challenge_hash = token_hash(challenge);
    let Some((user, remember)) = queries::live_challenge(db, &challenge_hash, now, CHALLENGE_FAILURES).await? else {
        return Err(LoginError::ChallengeExpired);
    };
    let (account, ip) = (account_key(&user.username), ip_key(db, client.ip).await?);
    if let Some(until) = queries::locked_until(db, &[&account, &ip], now).await? {
        return Err(LoginError::Locked { retry_after_secs: until - now });
    }
    let mut tx = db.begin().await?;
    let good = match proof {
        Proof::Code(code) => super::two_factor::take_code(&mut tx, db, user.id, code).await?,
        Proof::Passkey { rp, answer } => {
            super::passkeys::take_answer(&mut tx, db, rp, &challenge_hash, user.id, answer).await?
        }
    };
    if !good {
        queries::fail_challenge(&mut tx, &challenge_hash).await?;
        record_failures(&mut tx, config, &account, &ip, now).await?;
        tx.commit().await?;
        return Err(LoginError::WrongCode);
    }
    queries::delete_challenge(&mut tx, &challenge_hash, now).await?;
    queries::clear_throttle(&mut tx, &account).await?;
    Ok((open_session(tx, db, config, user, client).await?, remember))
}

/// Counts a failed sign-in against the account name and the address.
async fn record_failures(
    tx: &mut sqlx::AnyConnection,
    config: &AccountsConfig,
    account: &str,
    ip: &str,
    now: i64,
) -> Result<(), DbError> {
    let (window, lockout) = (config.failure_window_secs, config.lockout_secs);
    queries::record_failure(tx, account, now, window, config.max_failures_per_account, lockout).await?;
    queries::record_failure(tx, ip, now, window, config.max_failures_per_ip, lockout).await
}

/// Opens a session for `user` in `tx` and commits it; ends the browser's previous one.
async fn open_session(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    db: &Db,
    config: &AccountsConfig,
    user: User,
    client: &Client<'_>,
) -> Result<NewSession, DbError> {
    let now = store::now();
    let token = random_token();
    let expires = now + config.session_idle_secs.min(config.session_max_secs);
    let user_agent: String = client.user_agent.chars().take(300).collect();
    queries::insert_session(&mut tx, &token_hash(&token), user.id, &random_token(), now, expires, &user_agent).await?;
    store::record_activity(&mut tx, "login", Some(user.id), &user.username).await?;
    tx.commit().await?;
    if let Some(previous) = client.previous {
        queries::delete_session(db, &token_hash(previous)).await?;
    }
    // Housekeeping on a rare event rather than a job of its own.
    queries::delete_expired_sessions(db, now).await?;
    queries::prune_throttle(db, now - config.failure_window_secs, now).await?;
    Ok(NewSession { token, user, max_age_secs: config.session_max_secs })
}

/// The session behind cookie value `token`, if valid; slides its expiry forward (at most once a
/// minute, so pages do not each write).
pub async fn session(db: &Db, config: &AccountsConfig, token: &str) -> Result<Option<Session>, DbError> {
    let now = store::now();
    let id_hash = token_hash(token);
    let Some(row) = queries::live_session(db, &id_hash, now, config.session_max_secs).await? else { return Ok(None) };
    if now - row.last_seen_at >= 60 {
        let expires = (now + config.session_idle_secs).min(row.created_at + config.session_max_secs);
        queries::touch_session(db, &id_hash, now, expires).await?;
    }
    Ok(Some(Session { user: row.user, csrf: row.csrf }))
}

/// Ends the session behind cookie value `token`.
pub async fn logout(db: &Db, token: &str) -> Result<(), DbError> {
    queries::delete_session(db, &token_hash(token)).await
}

/// Ends every session of `user` but the one behind cookie value `token`; how many ended.
pub async fn end_other_sessions(db: &Db, user: &User, token: &str) -> Result<u64, DbError> {
    let mut tx = db.begin().await?;
    let ended = queries::delete_sessions_of(&mut tx, user.id, Some(&token_hash(token))).await?;
    store::record_activity(&mut tx, "sessions.end_others", Some(user.id), &user.username).await?;
    tx.commit().await?;
    Ok(ended)
}

fn check_new_password(new: &str, confirm: &str) -> Result<(), AccountError> {
    let chars = new.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AccountError::Invalid {
            field: "new_password",
            message: format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        });
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AccountError::Invalid {
            field: "new_password",
            message: format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        });
    }
    if new != confirm {
        return Err(AccountError::Invalid {
            field: "confirm_password",
            message: "does not match the new password".into(),
        });
    }
    Ok(())
}

/// Hashes `password` on the blocking pool (argon2 takes tens of milliseconds of CPU).
pub(crate) async fn hash(password: &str) -> Result<String, AccountError> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AccountError::Hashing(e.to_string()))?
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

/// Changes `user`'s password after checking the current one; ends their other sessions
/// (`keep_token` is the cookie of the session making the change).
pub async fn change_password(
    db: &Db,
    user: &User,
    current: &str,
    new: &str,
    confirm: &str,
    keep_token: &str,
) -> Result<(), AccountError> {
    let stored = queries::password_hash(db, user.id).await?.unwrap_or_else(|| dummy_hash().to_string());
    let current = current.to_string();
    let matches = tokio::task::spawn_blocking(move || verify_password(&current, &stored)).await.unwrap_or(false);
    if !matches {
        return Err(AccountError::Invalid {
            field: "current_password",
            message: "is not your current password".into(),
        });
    }
    check_new_password(new, confirm)?;
    let hashed = hash(new).await?;
    let mut tx = db.begin().await?;
    replace_password(&mut tx, user.id, &hashed, Some(&token_hash(keep_token)), "password.change").await?;
    tx.commit().await?;
    Ok(())
}

/// Sets `user_id`'s password hash in the caller's transaction and ends what the old password
/// opened: every session but `keep` (an id hash), outstanding reset links, lockouts of the
/// account's names. Records `activity`.
async fn replace_password(
    tx: &mut sqlx::AnyConnection,
    user_id: i64,
    hashed: &str,
    keep: Option<&str>,
    activity: &str,
) -> Result<(), DbError> {
    queries::set_password(tx, user_id, hashed).await?;
    queries::delete_sessions_of(tx, user_id, keep).await?;
    queries::void_resets_of(tx, user_id, store::now()).await?;
    let (username, email) = queries::names_of(tx, user_id).await?;
    queries::clear_throttle(tx, &account_key(&username)).await?;
    queries::clear_throttle(tx, &account_key(&email)).await?;
    store::record_activity(tx, activity, Some(user_id), &username).await
}

/// Sets a new password for the account called `name` (the operator's `openvoice user
/// password`): no current password needed; every session ends.
pub async fn set_password(db: &Db, name: &str, new: &str) -> Result<User, AccountError> {
    check_new_password(new, new)?;
    let Some(row) = queries::for_login(db, name).await? else {
        return Err(AccountError::Invalid { field: "username", message: format!("no account named {name:?}") });
    };
    let hashed = hash(new).await?;
    let mut tx = db.begin().await?;
    replace_password(&mut tx, row.user.id, &hashed, None, "password.set").await?;
    tx.commit().await?;
    Ok(row.user)
}

/// Starts a reset for the account named `name` (username or email): stores a hashed,
/// expiring token and queues the mail `compose` makes of the user and the token, in one
/// transaction. Returns `None` when there is no such usable account, or a link was sent less
/// than a minute ago; the caller answers the same either way.
pub async fn request_reset(
    db: &Db,
    config: &AccountsConfig,
    name: &str,
    compose: impl FnOnce(&User, &str) -> Outgoing,
) -> Result<Option<User>, DbError> {
    let now = store::now();
    let name = name.trim();
    if name.is_empty() || name.len() > 254 {
        return Ok(None);
    }
    let Some(row) = queries::for_login(db, name).await? else { return Ok(None) };
    if row.disabled || row.password_hash.is_none() {
        return Ok(None);
    }
    if queries::last_reset_at(db, row.user.id).await?.is_some_and(|at| now - at < 60) {
        return Ok(None);
    }
    let token = random_token();
    let mail = compose(&row.user, &token);
    let mut tx = db.begin().await?;
    queries::insert_reset(&mut tx, &token_hash(&token), row.user.id, now, now + config.reset_token_secs).await?;
    crate::mail::enqueue(&mut tx, &mail, &format!("password-reset:{}:{now}", row.user.id), now).await?;
    store::record_activity(&mut tx, "password.reset_requested", Some(row.user.id), &row.user.username).await?;
    tx.commit().await?;
    Ok(Some(row.user))
}

/// Whether `token` is a usable reset token (the form is shown only then).
pub async fn reset_token_valid(db: &Db, token: &str) -> Result<bool, DbError> {
    Ok(queries::reset_user(db, &token_hash(token), store::now()).await?.is_some())
}

#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    #[error("This password reset link is invalid, used or expired. Ask for a new one.")]
    BadToken,
    #[error(transparent)]
    Account(#[from] AccountError),
}

/// Sets a new password with a reset token: the token is used up, every session of the user
/// ends, other reset links die and the account's lockout is lifted, in one transaction.
pub async fn reset_password(db: &Db, token: &str, new: &str, confirm: &str) -> Result<(), ResetError> {
    check_new_password(new, confirm)?;
    let hashed = hash(new).await?;
    match apply_reset(db, &token_hash(token), &hashed).await.map_err(AccountError::Db)? {
        true => Ok(()),
        false => Err(ResetError::BadToken),
    }
}

async fn apply_reset(db: &Db, token_hash: &str, hashed: &str) -> Result<bool, DbError> {
    let now = store::now();
    let mut tx = db.begin().await?;
    let Some(user_id) = queries::use_reset(&mut tx, token_hash, now).await? else { return Ok(false) };
    replace_password(&mut tx, user_id, hashed, None, "password.reset").await?;
    tx.commit().await?;
    Ok(true)
}
