//! SQL for API tokens.

use sqlx::FromRow;

use crate::accounts::api_tokens::ApiToken;
use crate::store::{Db, DbError, DbResult};

pub async fn insert(db: &Db, user_id: i64, name: &str, role: &str, token_hash: &str, now: i64) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO api_tokens (user_id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(name)
    .bind(role)
    .bind(token_hash)
    .bind(now)
    .fetch_one(&db.pool)
    .await
    .map_err(DbError::from)
}

#[derive(FromRow)]
struct TokenRow {
    id: i64,
    username: String,
    name: String,
    role: String,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

pub async fn list(db: &Db, username: Option<&str>) -> DbResult<Vec<ApiToken>> {
    let rows: Vec<TokenRow> = sqlx::query_as(
        "SELECT t.id, u.username, t.name, t.role, t.created_at, t.last_used_at, t.revoked_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE ($1 = '' OR u.username = $1) ORDER BY t.id DESC",
    )
    .bind(username.unwrap_or(""))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ApiToken {
            id: r.id,
            username: r.username,
            name: r.name,
            role: r.role,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
        .collect())
}

pub async fn revoke(db: &Db, id: i64, username: Option<&str>, now: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
         AND ($3 = '' OR user_id = (SELECT id FROM users WHERE username = $3))",
    )
    .bind(now)
    .bind(id)
    .bind(username.unwrap_or(""))
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A live token's owner, as stored.
#[derive(FromRow)]
pub struct LiveToken {
    pub token_id: i64,
    pub user_id: i64,
    pub username: String,
    pub token_role: String,
    pub user_role: String,
    pub last_used_at: Option<i64>,
}

/// The unrevoked token with this hash whose user may still sign in.
pub async fn live_by_hash(db: &Db, token_hash: &str) -> DbResult<Option<LiveToken>> {
    sqlx::query_as(
        "SELECT t.id AS token_id, u.id AS user_id, u.username, t.role AS token_role, u.role AS user_role, \
         t.last_used_at FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(&db.pool)
    .await
    .map_err(DbError::from)
}

pub async fn touch(db: &Db, token_id: i64, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
        .bind(now)
        .bind(token_id)
        .execute(&db.pool)
        .await?;
    Ok(())
}
