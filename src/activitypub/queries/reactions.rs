//! `ap_reactions`: likes and boosts of articles, one per actor and kind.

use crate::store::DbResult;

/// Keeps a reaction; a second of the same kind by the same actor changes nothing.
pub async fn add(
    conn: &mut sqlx::AnyConnection,
    activity_id: &str,
    kind: &str,
    article_id: i64,
    actor_id: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO ap_reactions (activity_id, kind, article_id, actor_id, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(activity_id)
    .bind(kind)
    .bind(article_id)
    .bind(actor_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the reaction `activity_id` of `actor_id` (its `Undo`); answers whether there was one.
pub async fn remove(conn: &mut sqlx::AnyConnection, activity_id: &str, actor_id: &str) -> DbResult<bool> {
    let done = sqlx::query("DELETE FROM ap_reactions WHERE activity_id = $1 AND actor_id = $2")
        .bind(activity_id)
        .bind(actor_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes every reaction of `actor_id` (the actor deleted itself, or was blocked).
pub async fn remove_all_of(conn: &mut sqlx::AnyConnection, actor_id: &str) -> DbResult<()> {
    sqlx::query("DELETE FROM ap_reactions WHERE actor_id = $1").bind(actor_id).execute(conn).await?;
    Ok(())
}
