//! `ap_followers` and `ap_blocks`: who follows the site actor, and who may not.

use sqlx::FromRow;

use crate::store::{Db, DbError, DbResult};

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

/// A follower as the desk lists it: the follow, and what the actor said of itself when known.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ListedFollower {
    pub actor_id: String,
    pub host: String,
    pub followed_at: i64,
    /// From `ap_actors`, when the actor was fetched.
    pub handle: Option<String>,
    pub name: Option<String>,
    pub profile_url: Option<String>,
}

/// A blocked instance (a host) or actor (its id).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Block {
    pub target: String,
    pub created_at: i64,
}

pub async fn count(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM ap_followers").fetch_one(&db.pool).await.map_err(DbError::from)
}

/// How many instances the followers are on.
pub async fn instances_count(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(DISTINCT host) FROM ap_followers").fetch_one(&db.pool).await.map_err(DbError::from)
}

/// Followers newest first (`ap_followers_recent`).
pub async fn page(db: &Db, limit: i64, offset: i64) -> DbResult<Vec<ListedFollower>> {
    sqlx::query_as(
        "SELECT f.actor_id, f.host, f.followed_at, a.handle, a.name, a.profile_url \
         FROM ap_followers f LEFT JOIN ap_actors a ON a.actor_id = f.actor_id \
         ORDER BY f.followed_at DESC, f.actor_id LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Blocks `target` (a host or an actor id) and removes the followers it covers: the actor, or
/// every actor on the host. Answers whether the block is new and how many follows went.
pub async fn block(conn: &mut sqlx::AnyConnection, target: &str, now: i64) -> DbResult<(bool, u64)> {
    let added =
        sqlx::query("INSERT INTO ap_blocks (target, created_at) VALUES ($1, $2) ON CONFLICT (target) DO NOTHING")
            .bind(target)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    let removed = sqlx::query("DELETE FROM ap_followers WHERE host = $1 OR actor_id = $1")
        .bind(target)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok((added > 0, removed))
}

/// Lifts a block; answers whether there was one.
pub async fn unblock(conn: &mut sqlx::AnyConnection, target: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM ap_blocks WHERE target = $1").bind(target).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}

/// Every block, newest first.
pub async fn blocks(db: &Db) -> DbResult<Vec<Block>> {
    sqlx::query_as("SELECT target, created_at FROM ap_blocks ORDER BY created_at DESC, target")
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Likes and boosts (`Announce`s) of every article: `(likes, boosts)`.
pub async fn reaction_totals(db: &Db) -> DbResult<(i64, i64)> {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM ap_reactions WHERE kind = 'like'), \
                (SELECT COUNT(*) FROM ap_reactions WHERE kind = 'announce')",
    )
    .fetch_one(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Remote instances whose deliveries are failing (`ap_instances`).
pub async fn failing_instances(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM ap_instances").fetch_one(&db.pool).await.map_err(DbError::from)
}
