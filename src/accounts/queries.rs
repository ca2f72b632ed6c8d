//! SQL for accounts.

use sqlx::AnyConnection;

use crate::accounts::{NewUser, User};
use crate::store::{Db, DbError, DbResult};

pub async fn insert(
    conn: &mut AnyConnection,
    new: &NewUser<'_>,
    password_hash: Option<&str>,
    now: i64,
) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO users (username, email, display_name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(new.username)
    .bind(new.email)
    .bind(new.display_name)
    .bind(new.role.as_str())
    .bind(password_hash)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(DbError::classify)
}

pub async fn by_username(db: &Db, username: &str) -> DbResult<User> {
    sqlx::query_as::<_, (i64, String, String, String, String)>(
        "SELECT id, username, email, display_name, role FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_one(&db.pool)
    .await
    .map(|(id, username, email, display_name, role)| User { id, username, email, display_name, role })
    .map_err(DbError::classify)
}

/// The id of the user with this display name or username, if any.
pub async fn id_by_name(conn: &mut AnyConnection, name: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM users WHERE display_name = $1 OR username = $1 ORDER BY id LIMIT 1")
        .bind(name)
        .fetch_optional(conn)
        .await
        .map_err(DbError::classify)
}

pub async fn count(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&db.pool).await.map_err(DbError::classify)
}
