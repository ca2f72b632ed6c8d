//! `ap_articles`, `ap_activities` and `ap_instances`: what the fediverse was told of each
//! article, the activities sent, and the instances that fail deliveries.

use std::collections::HashMap;

use sqlx::{AnyConnection, FromRow};

use crate::store::{self, Db, DbError, DbResult};

/// An article as the fediverse was told of it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Federated {
    /// The `Article`'s id when it was sent; a `Delete` names it after the article is gone.
    pub object_id: String,
    /// The version last sent: 63 bits of the SHA-256 of the `Article` object (not its
    /// `updated_at`, as migration 0022's comment has it: two saves in one second share that).
    pub sent_version: i64,
    /// When a `Delete` went out.
    pub deleted_at: Option<i64>,
}

pub async fn federated(conn: &mut AnyConnection, article_id: i64) -> DbResult<Option<Federated>> {
    sqlx::query_as("SELECT object_id, sent_version, deleted_at FROM ap_articles WHERE article_id = $1")
        .bind(article_id)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

/// Records what was last sent of `article_id`.
pub async fn save_federated(conn: &mut AnyConnection, article_id: i64, federated: &Federated) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO ap_articles (article_id, object_id, sent_version, deleted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (article_id) DO UPDATE SET object_id = excluded.object_id, \
         sent_version = excluded.sent_version, deleted_at = excluded.deleted_at",
    )
    .bind(article_id)
    .bind(&federated.object_id)
    .bind(federated.sent_version)
    .bind(federated.deleted_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps an activity to send; answers its row id. The same activity id again replaces the body
/// (a job run twice) and keeps the row.
pub async fn insert_activity(conn: &mut AnyConnection, activity_id: &str, body: &str, now: i64) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO ap_activities (activity_id, body, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (activity_id) DO UPDATE SET body = excluded.body RETURNING id",
    )
    .bind(activity_id)
    .bind(body)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(DbError::from)
}

pub async fn activity_body(db: &Db, id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT body FROM ap_activities WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Every inbox a follower is delivered at, once, leaving out followers blocked by actor or by
/// host; sorted.
pub async fn follower_inboxes(conn: &mut AnyConnection) -> DbResult<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT f.inbox FROM ap_followers f WHERE NOT EXISTS \
         (SELECT 1 FROM ap_blocks b WHERE b.target = f.host OR b.target = f.actor_id) ORDER BY f.inbox",
    )
    .fetch_all(conn)
    .await
    .map_err(DbError::from)
}

/// Since when each of `hosts` that is failing has been failing.
pub async fn failing_since(db: &Db, hosts: &[&str]) -> DbResult<HashMap<String, i64>> {
    let mut found = HashMap::new();
    for chunk in hosts.chunks(store::BINDS_PER_STATEMENT) {
        let sql = format!(
            "SELECT host, failing_since FROM ap_instances WHERE host IN ({})",
            store::numbered_rows("?", chunk.len(), 1)
        );
        let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
        for host in chunk {
            query = query.bind(*host);
        }
        found.extend(query.fetch_all(&db.pool).await?);
    }
    Ok(found)
}

/// Notes failed deliveries, `(host, error)`: a host's first failure since its last success
/// starts its `failing_since`; later ones only replace the error.
pub async fn note_failures(db: &Db, failures: &[(&str, &str)], now: i64) -> DbResult<()> {
    for chunk in failures.chunks(store::rows_per_statement(3)) {
        let sql = format!(
            "INSERT INTO ap_instances (host, failing_since, last_error) VALUES {} \
             ON CONFLICT (host) DO UPDATE SET last_error = excluded.last_error",
            store::numbered_rows("(?, ?, ?)", chunk.len(), 1)
        );
        let mut query = sqlx::query(&sql);
        for (host, error) in chunk {
            query = query.bind(*host).bind(now).bind(*error);
        }
        query.execute(&db.pool).await?;
    }
    Ok(())
}

/// Forgets the failures of `hosts`, which took a delivery.
pub async fn clear_failures(db: &Db, hosts: &[&str]) -> DbResult<()> {
    for chunk in hosts.chunks(store::BINDS_PER_STATEMENT) {
        let sql = format!("DELETE FROM ap_instances WHERE host IN ({})", store::numbered_rows("?", chunk.len(), 1));
        let mut query = sqlx::query(&sql);
        for host in chunk {
            query = query.bind(*host);
        }
        query.execute(&db.pool).await?;
    }
    Ok(())
}
