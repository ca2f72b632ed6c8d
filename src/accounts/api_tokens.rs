//! API tokens: bearer credentials for `/api/v1`, each belonging to a user and scoped to a role.
//!
//! A token is `ov_` followed by 43 random alphanumerics (256 bits). Only its SHA-256 hash is
//! stored: with that much entropy a fast hash cannot be reversed, so argon2 would only slow every
//! API request down. The token's role may not exceed its user's role when it is created, and the
//! rights at each request are the lower of the two, so demoting a user demotes their tokens.

use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::accounts::{AccountError, Role};
use crate::store::{self, Db, DbError};

pub mod queries;
pub mod routes;

const PREFIX: &str = "ov_";
const RANDOM_CHARS: usize = 43;
pub const MAX_NAME_CHARS: usize = 100;
/// `last_used_at` is refreshed at most this often, so reads do not each write a row.
const TOUCH_EVERY_SECS: i64 = 60;

/// A token as listed: never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub role: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Who a valid token speaks for, with its effective role.
#[derive(Debug, Clone)]
pub struct TokenUser {
    pub token_id: i64,
    pub user_id: i64,
    pub username: String,
    pub role: Role,
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Creates a token for `username` named `name`, with `role` (default: the user's role).
/// Returns the token's record and the secret, which is shown once and never stored.
pub async fn create(
    db: &Db,
    username: &str,
    name: &str,
    role: Option<Role>,
) -> Result<(ApiToken, String), AccountError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AccountError::Invalid {
            field: "name",
            message: format!("must be 1–{MAX_NAME_CHARS} characters without control characters"),
        });
    }
    let user = match crate::accounts::find_by_username(db, username).await {
        Ok(user) => user,
        Err(DbError::NotFound) => {
            return Err(AccountError::Invalid { field: "user", message: format!("no user named {username:?}") })
        }
        Err(err) => return Err(err.into()),
    };
    let user_role = Role::parse(&user.role).unwrap_or(Role::Contributor);
    let role = role.unwrap_or(user_role);
    if role > user_role {
        return Err(AccountError::Invalid {
            field: "role",
            message: format!("{} is above {}'s role ({})", role.as_str(), user.username, user_role.as_str()),
        });
    }
    let secret = format!("{PREFIX}{}", Alphanumeric.sample_string(&mut rand::thread_rng(), RANDOM_CHARS));
    let now = store::now();
    let id = queries::insert(db, user.id, name, role.as_str(), &hash(&secret), now).await?;
    let token = ApiToken {
        id,
        username: user.username,
        name: name.to_string(),
        role: role.as_str().to_string(),
        created_at: now,
        last_used_at: None,
        revoked_at: None,
    };
    Ok((token, secret))
}

/// Every token, or those of one user, newest first.
pub async fn list(db: &Db, username: Option<&str>) -> Result<Vec<ApiToken>, DbError> {
    queries::list(db, username).await
}

/// Revokes a token (of `username` only, when given); false if there is no such live token.
pub async fn revoke(db: &Db, id: i64, username: Option<&str>) -> Result<bool, DbError> {
    queries::revoke(db, id, username, store::now()).await
}

/// The user behind a presented token, if it is live and its user is not disabled.
pub async fn authenticate(db: &Db, presented: &str) -> Result<Option<TokenUser>, DbError> {
    let well_formed = presented.len() == PREFIX.len() + RANDOM_CHARS
        && presented.starts_with(PREFIX)
        && presented[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric());
    if !well_formed {
        return Ok(None);
    }
    let Some(found) = queries::live_by_hash(db, &hash(presented)).await? else {
        return Ok(None);
    };
    let now = store::now();
    if found.last_used_at.is_none_or(|at| at < now - TOUCH_EVERY_SECS) {
        queries::touch(db, found.token_id, now).await?;
    }
    let token_role = Role::parse(&found.token_role).unwrap_or(Role::Contributor);
    let user_role = Role::parse(&found.user_role).unwrap_or(Role::Contributor);
    Ok(Some(TokenUser {
        token_id: found.token_id,
        user_id: found.user_id,
        username: found.username,
        role: token_role.min(user_role),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
