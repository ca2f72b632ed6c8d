//! `ap_followers` and `ap_blocks`: who follows the site actor, and who may not.

use sqlx::FromRow;

use crate::store::{DbError, DbResult};

/// An accepted follow.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Follower {
    pub actor_id: String,
    /// Lowercased host of `actor_id`.
    pub host: String,
    /// Where deliveries to it go: its instance's shared inbox, else its own.
    pub inbox: String,
    /// The `Follow` activity's id.
    pub follow_id: String,
    pub followed_at: i64,
}

/// Adds `follower`, or renews its follow (a second `Follow` from the same actor).
pub async fn add(conn: &mut sqlx::AnyConnection, follower: &Follower) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO ap_followers (actor_id, host, inbox, follow_id, followed_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (actor_id) DO UPDATE SET host = excluded.host, inbox = excluded.inbox, \
         follow_id = excluded.follow_id",
    )
    .bind(&follower.actor_id)
    .bind(&follower.host)
    .bind(&follower.inbox)
    .bind(&follower.follow_id)
    .bind(follower.followed_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes `actor_id`'s follow; with `follow_id`, only if that is the follow (an `Undo` names
/// the activity it undoes). Answers whether there was one.
pub async fn remove(conn: &mut sqlx::AnyConnection, actor_id: &str, follow_id: Option<&str>) -> DbResult<bool> {
    let done = match follow_id {
        Some(follow_id) => {
            sqlx::query("DELETE FROM ap_followers WHERE actor_id = $1 AND follow_id = $2")
                .bind(actor_id)
                .bind(follow_id)
                .execute(conn)
                .await?
        }
        None => sqlx::query("DELETE FROM ap_followers WHERE actor_id = $1").bind(actor_id).execute(conn).await?,
    };
    Ok(done.rows_affected() > 0)
}

/// Whether `actor_id`, or its host, is blocked.
pub async fn is_blocked(conn: &mut sqlx::AnyConnection, actor_id: &str, host: &str) -> DbResult<bool> {
    let found: Option<(String,)> = sqlx::query_as("SELECT target FROM ap_blocks WHERE target = $1 OR target = $2")
        .bind(actor_id)
        .bind(host)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)?;
    Ok(found.is_some())
}
