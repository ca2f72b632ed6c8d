//! SQL for passkeys and the WebAuthn ceremonies under way.

use sqlx::AnyConnection;

use crate::store::{Db, DbError, DbResult};

/// A passkey as the Security screen lists it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn list(db: &Db, user_id: i64) -> DbResult<Vec<PasskeyRow>> {
    sqlx::query_as("SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY id")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn count(conn: &mut AnyConnection, user_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(conn)
        .await
        .map_err(DbError::from)
}

/// The user's passkeys as stored: `(credential_id, credential)`.
pub async fn credentials(db: &Db, user_id: i64) -> DbResult<Vec<(String, String)>> {
    sqlx::query_as("SELECT credential_id, credential FROM passkeys WHERE user_id = $1 ORDER BY id")
        .bind(user_id)
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Adds a passkey; a `credential_id` already stored (for anyone) is a `Conflict`.
pub async fn insert(
    conn: &mut AnyConnection,
    user_id: i64,
    credential_id: &str,
    name: &str,
    credential: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO passkeys (user_id, credential_id, name, credential, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(credential_id)
    .bind(name)
    .bind(credential)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps the passkey's new state (its signature counter) after a sign-in.
pub async fn record_use(
    conn: &mut AnyConnection,
    user_id: i64,
    credential_id: &str,
    credential: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query("UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE user_id = $3 AND credential_id = $4")
        .bind(credential)
        .bind(now)
        .bind(user_id)
        .bind(credential_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes one of the user's passkeys: whether there was one.
pub async fn delete(conn: &mut AnyConnection, user_id: i64, id: i64) -> DbResult<bool> {
    let done =
        sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND id = $2").bind(user_id).bind(id).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete_all(conn: &mut AnyConnection, user_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM passkeys WHERE user_id = $1").bind(user_id).execute(conn).await?;
    Ok(())
}

/// Keeps a ceremony's state under `id`, replacing one begun before; drops expired ones.
pub async fn put_ceremony(db: &Db, id: &str, state: &str, expires_at: i64, now: i64) -> DbResult<()> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE id = $1 OR expires_at <= $2")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO webauthn_ceremonies (id, state, expires_at) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(state)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Takes the live ceremony `id` out: its state, once.
pub async fn take_ceremony(conn: &mut AnyConnection, id: &str, now: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("DELETE FROM webauthn_ceremonies WHERE id = $1 AND expires_at > $2 RETURNING state")
        .bind(id)
        .bind(now)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}
