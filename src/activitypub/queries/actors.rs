//! `ap_actors`: remote actors as last fetched, keyed by their id and found by their key's id.

use sqlx::FromRow;

use crate::store::{Db, DbError, DbResult};

/// A remote actor as its document said: where its key is, where to deliver, what to call it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RemoteActor {
    pub actor_id: String,
    pub key_id: String,
    pub public_key_pem: String,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    /// `preferredUsername@host`.
    pub handle: String,
    /// The display name, else the handle.
    pub name: String,
    pub profile_url: String,
    pub fetched_at: i64,
}

const COLUMNS: &str = "actor_id, key_id, public_key_pem, inbox, shared_inbox, handle, name, profile_url, fetched_at";

/// The actor whose key is `key_id`.
pub async fn by_key_id(db: &Db, key_id: &str) -> DbResult<Option<RemoteActor>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ap_actors WHERE key_id = $1"))
        .bind(key_id)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn by_id(db: &Db, actor_id: &str) -> DbResult<Option<RemoteActor>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ap_actors WHERE actor_id = $1"))
        .bind(actor_id)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Keeps `actor` as fetched, replacing what was kept.
pub async fn save(db: &Db, actor: &RemoteActor) -> DbResult<()> {
    sqlx::query(&format!(
        "INSERT INTO ap_actors ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (actor_id) DO UPDATE SET key_id = excluded.key_id, public_key_pem = excluded.public_key_pem, \
         inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, handle = excluded.handle, \
         name = excluded.name, profile_url = excluded.profile_url, fetched_at = excluded.fetched_at"
    ))
    .bind(&actor.actor_id)
    .bind(&actor.key_id)
    .bind(&actor.public_key_pem)
    .bind(&actor.inbox)
    .bind(&actor.shared_inbox)
    .bind(&actor.handle)
    .bind(&actor.name)
    .bind(&actor.profile_url)
    .bind(actor.fetched_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Forgets `actor_id` (its `Delete` of itself).
pub async fn delete(conn: &mut sqlx::AnyConnection, actor_id: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM ap_actors WHERE actor_id = $1").bind(actor_id).execute(conn).await?;
    Ok(())
}

/// The actor whose handle (`user@host`) is `handle`, ignoring case.
pub async fn by_handle(db: &Db, handle: &str) -> DbResult<Option<RemoteActor>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ap_actors WHERE LOWER(handle) = LOWER($1) LIMIT 1"))
        .bind(handle)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}
