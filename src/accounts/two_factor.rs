//! Two-factor sign-in: a TOTP app (RFC 6238 as authenticator apps use it: SHA-1, 6 digits,
//! 30-second steps, one step of clock drift either way), passkeys (`accounts::passkeys`) and
//! one-time recovery codes. No HTTP here.
//!
//! - Two-factor sign-in is on while the user has a confirmed app or a passkey; turning it on
//!   gives recovery codes, and turning it off removes the app, the passkeys and the codes.
//! - A code is good once: the newest step a code was taken for is kept, and only later steps
//!   are accepted, in one conditional update (two nodes cannot both take it).
//! - Recovery codes are random (50 bits each) and stored as SHA-256; a used one is deleted.
//! - The key itself must be readable to check codes, so it is stored as it is: a copy of the
//!   database holds it, as it holds the password hashes.

use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

use crate::accounts::{auth, passkeys, queries, verify_password, User};
use crate::store::{self, Db, DbError};

/// Recovery codes given at a time.
pub const RECOVERY_CODES: usize = 10;
const STEP_SECS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    #[error("That code is not right, or was used already. Enter the code your app shows now.")]
    WrongCode,
    #[error("Your password is not right.")]
    WrongPassword,
    #[error("Start the setup again: it was not begun, or is done already.")]
    NoSetup,
    #[error("Your role must sign in with a second factor, so it cannot be turned off.")]
    Required,
    #[error(
        "Passkeys need the site at a domain name over https (or http://localhost): set site.base_url to that address."
    )]
    NoPasskeyOrigin,
    #[error("Your browser sent no passkey: adding or using one needs JavaScript and a browser that has passkeys.")]
    NoPasskeyAnswer,
    #[error("Your browser's passkey answer could not be read: {0}.")]
    PasskeyAnswerUnreadable(String),
    #[error("This passkey request has expired or was used already. Try again.")]
    NoPasskeyCeremony,
    #[error("The passkey was not accepted ({0}). Try again.")]
    PasskeyRefused(String),
    #[error("That passkey is added already.")]
    PasskeyKnown,
    #[error("A passkey's name must be at most {max} characters.", max = super::passkeys::MAX_NAME_CHARS)]
    PasskeyName,
    #[error("There is no such passkey.")]
    NoSuchPasskey,
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What the desk shows to set up an app: the key as text and as a QR code of its `otpauth://`
/// URL.
pub struct Setup {
    pub secret_base32: String,
    pub otpauth_url: String,
    pub qr_svg: String,
}

/// The TOTP of `secret` for `user` on the site `issuer`.
fn totp(secret: Vec<u8>, issuer: &str, user: &User) -> TOTP {
    // `otpauth` labels are `issuer:account`; a colon in either would move the split.
    let (issuer, account) = (issuer.replace(':', " "), user.username.replace(':', " "));
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, STEP_SECS, secret, Some(issuer), account)
}

/// Whether the user signs in with a second factor: an app or a passkey.
pub async fn is_enabled(db: &Db, user_id: i64) -> Result<bool, DbError> {
    Ok(app_enabled(db, user_id).await? || passkeys::any(db, user_id).await?)
}

/// Whether the user has a confirmed authenticator app.
pub async fn app_enabled(db: &Db, user_id: i64) -> Result<bool, DbError> {
    Ok(queries::totp_of(db, user_id).await?.is_some_and(|(_, confirmed, _)| confirmed))
}

/// Starts setting up an app for `user`: a new key (replacing a setup not finished).
pub async fn begin_setup(db: &Db, user: &User, issuer: &str) -> Result<Setup, TwoFactorError> {
    if app_enabled(db, user.id).await? {
        return Err(TwoFactorError::NoSetup);
    }
    let mut secret = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut secret);
    queries::begin_totp(db, user.id, &hex::encode(secret), store::now()).await?;
    Ok(setup_of(totp(secret.to_vec(), issuer, user)))
}

/// The setup begun and not finished, to show again after a wrong code.
pub async fn pending_setup(db: &Db, user: &User, issuer: &str) -> Result<Setup, TwoFactorError> {
    match queries::totp_of(db, user.id).await? {
        Some((secret, false, _)) => Ok(setup_of(totp(hex::decode(secret).unwrap_or_default(), issuer, user))),
        _ => Err(TwoFactorError::NoSetup),
    }
}

fn setup_of(totp: TOTP) -> Setup {
    let otpauth_url = totp.get_url();
    let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
        .map(|code| code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).build())
        .unwrap_or_default();
    Setup { secret_base32: totp.get_secret_base32(), otpauth_url, qr_svg }
}

/// Finishes the setup with a code from the app. When that turns two-factor sign-in on, returns
/// the recovery codes, shown once.
pub async fn confirm_setup(db: &Db, user: &User, code: &str) -> Result<Option<Vec<String>>, TwoFactorError> {
    let Some((secret, false, last_step)) = queries::totp_of(db, user.id).await? else {
        return Err(TwoFactorError::NoSetup);
    };
    let Some(step) = matching_step(&secret, code, last_step) else { return Err(TwoFactorError::WrongCode) };
    let was_on = passkeys::any(db, user.id).await?;
    let mut tx = db.begin().await?;
    if !queries::take_totp_step(&mut tx, user.id, step, store::now(), true).await? {
        return Err(TwoFactorError::WrongCode);
    }
    let codes = match was_on {
        true => None,
        false => Some(replace_recovery_codes(&mut tx, user.id).await?),
    };
    store::record_activity(&mut tx, "two_factor.enable", Some(user.id), &user.username).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(codes)
}

/// New recovery codes for a user who has two-factor sign-in, replacing the old ones.
pub async fn new_recovery_codes(db: &Db, user: &User) -> Result<Vec<String>, TwoFactorError> {
    if !is_enabled(db, user.id).await? {
        return Err(TwoFactorError::NoSetup);
    }
    let mut tx = db.begin().await?;
    let codes = replace_recovery_codes(&mut tx, user.id).await?;
    store::record_activity(&mut tx, "two_factor.recovery_codes", Some(user.id), &user.username).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(codes)
}

pub(crate) async fn replace_recovery_codes(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
) -> Result<Vec<String>, DbError> {
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let hashes: Vec<String> = codes.iter().map(|code| auth::token_hash(&normalise(code))).collect();
    queries::replace_recovery_codes(conn, user_id, &hashes).await?;
    Ok(codes)
}

/// Drops the user's recovery codes, when their last second factor goes.
pub(crate) async fn forget_recovery_codes(conn: &mut sqlx::AnyConnection, user_id: i64) -> Result<(), DbError> {
    queries::replace_recovery_codes(conn, user_id, &[]).await
}

/// `xxxxx-xxxxx` in lower-case base32 without look-alikes' ambiguity (RFC 4648 alphabet).
fn recovery_code() -> String {
    let mut bytes = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut bytes);
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let chars: String = bytes.iter().map(|b| alphabet[(*b & 31) as usize] as char).collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A code as typed: spaces and dashes dropped, lower case.
fn normalise(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// Checks `password` is the user's, before a change that weakens their sign-in.
pub(crate) async fn check_password(db: &Db, user: &User, password: &str) -> Result<(), TwoFactorError> {
    let hash = queries::password_hash(db, user.id).await?.unwrap_or_default();
    let password = password.to_string();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await.unwrap_or(false);
    if matches {
        Ok(())
    } else {
        Err(TwoFactorError::WrongPassword)
    }
}

/// Removes the app, the passkeys and the recovery codes of `user_id` in `conn`'s transaction.
async fn turn_off(conn: &mut sqlx::AnyConnection, user_id: i64) -> Result<(), DbError> {
    queries::delete_totp(conn, user_id).await?;
    passkeys::queries::delete_all(conn, user_id).await
}

/// Turns two-factor sign-in off, given the user's password; not for a role that requires it.
pub async fn disable(db: &Db, user: &User, password: &str, required: bool) -> Result<(), TwoFactorError> {
    if required {
        return Err(TwoFactorError::Required);
    }
    check_password(db, user, password).await?;
    let mut tx = db.begin().await?;
    turn_off(&mut tx, user.id).await?;
    store::record_activity(&mut tx, "two_factor.disable", Some(user.id), &user.username).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}

/// Turns two-factor sign-in off for the account `name` (username or email) from the command
/// line: for an owner who lost the app and the recovery codes.
pub async fn turn_off_by_operator(db: &Db, name: &str) -> anyhow::Result<User> {
    let Some(row) = queries::for_login(db, name.trim()).await? else {
        anyhow::bail!("no account is called {name:?}");
    };
    let mut tx = db.begin().await?;
    turn_off(&mut tx, row.user.id).await?;
    store::record_activity(&mut tx, "two_factor.operator_off", Some(row.user.id), &row.user.username).await?;
    tx.commit().await?;
    Ok(row.user)
}

/// Takes `code` as the user's second factor inside `conn`'s transaction: the app's code of
/// the moment, or one of their recovery codes. Whether it was good.
pub async fn take_code(conn: &mut sqlx::AnyConnection, db: &Db, user_id: i64, code: &str) -> Result<bool, DbError> {
    if let Some((secret, true, last_step)) = queries::totp_of(db, user_id).await? {
        if let Some(step) = matching_step(&secret, code, last_step) {
            return queries::take_totp_step(conn, user_id, step, store::now(), false).await;
        }
    }
    let typed = normalise(code);
    if typed.len() != 10 {
        return Ok(false);
    }
    queries::use_recovery_code(conn, user_id, &auth::token_hash(&typed)).await
}

/// The step, within one of now, whose code `code` is, if later than `last_step`.
fn matching_step(secret_hex: &str, code: &str, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secret = hex::decode(secret_hex).ok()?;
    let totp = TOTP::new_unchecked(Algorithm::SHA1, 6, 0, STEP_SECS, secret, None, String::new());
    let now_step = store::now() / STEP_SECS as i64;
    (now_step - 1..=now_step + 1)
        .filter(|step| *step > last_step)
        .find(|step| auth::same_secret(&totp.generate(*step as u64 * STEP_SECS), &code))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, Appendix B: the SHA-1 key `12345678901234567890`, 8 digits there; the last 6
    /// digits are the 6-digit code of the same moment.
    #[test]
    fn codes_are_rfc_6238s() {
        let totp =
            TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, b"12345678901234567890".to_vec(), None, String::new());
        for (time, eight_digits) in [(59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924")] {
            assert_eq!(totp.generate(time), eight_digits[2..]);
        }
    }

    #[test]
    fn recovery_codes_are_read_as_typed() {
        let code = recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(normalise(&code.to_uppercase().replace('-', " ")), code.replace('-', ""));
    }
}
