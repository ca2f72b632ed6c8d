//! SQL for the block store, article bundles, the site snapshot and pin states.

use sqlx::AnyConnection;

use crate::store::{Db, DbError, DbResult};

/// Stores blocks; blocks already present (same CID, so same bytes) are left alone.
pub async fn put_blocks(conn: &mut AnyConnection, blocks: &[openvoice_ipfs::Block], now: i64) -> DbResult<usize> {
    let mut added = 0;
    for block in blocks {
        let result = sqlx::query(
            "INSERT INTO blocks (cid, data, size, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (cid) DO NOTHING",
        )
        .bind(block.cid.to_string())
        .bind(&block.data)
        .bind(block.data.len() as i64)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        added += result.rows_affected() as usize;
    }
    Ok(added)
}

pub async fn get_block(db: &Db, cid: &str) -> DbResult<Option<Vec<u8>>> {
    sqlx::query_scalar("SELECT data FROM blocks WHERE cid = $1")
        .bind(cid)
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn count_blocks(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM blocks").fetch_one(&db.pool).await.map_err(DbError::from)
}

/// The newest bundle of an article: its root, the root it replaced, and when it was built.
pub async fn current_bundle(db: &Db, article_id: i64) -> DbResult<Option<(String, Option<String>, i64)>> {
    sqlx::query_as(
        "SELECT root_cid, previous_cid, created_at FROM article_bundles WHERE article_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(article_id)
    .fetch_optional(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Each article's current bundle root, as (article id, root CID) (`export static`).
pub async fn current_bundles(db: &Db) -> DbResult<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT b.article_id, b.root_cid FROM article_bundles b \
         WHERE b.id = (SELECT MAX(id) FROM article_bundles WHERE article_id = b.article_id)",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Every bundle root of an article, oldest first.
pub async fn bundle_history(db: &Db, article_id: i64) -> DbResult<Vec<String>> {
    sqlx::query_scalar("SELECT root_cid FROM article_bundles WHERE article_id = $1 ORDER BY id")
        .bind(article_id)
        .fetch_all(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn insert_bundle(
    conn: &mut AnyConnection,
    article_id: i64,
    root_cid: &str,
    dag_size: i64,
    previous_cid: Option<&str>,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO article_bundles (article_id, root_cid, dag_size, previous_cid, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (article_id, root_cid) DO NOTHING",
    )
        .bind(article_id)
        .bind(root_cid)
        .bind(dag_size)
        .bind(previous_cid)
        .bind(now)
        .execute(conn)
        .await
        ?;
    Ok(())
}

/// (slug, title, current bundle root, its DAG size) of every published article and page, by slug.
pub async fn published_bundles(db: &Db) -> DbResult<Vec<(String, String, String, i64)>> {
    sqlx::query_as(
        "SELECT a.slug, a.title, b.root_cid, b.dag_size FROM articles a JOIN article_bundles b ON b.article_id = a.id \
         WHERE a.status = 'published' AND b.id = (SELECT MAX(id) FROM article_bundles WHERE article_id = a.id) \
         ORDER BY a.slug",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}

pub async fn site_root(db: &Db) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT root_cid FROM site_snapshot WHERE id = 1")
        .fetch_optional(&db.pool)
        .await
        .map_err(DbError::from)
}

pub async fn set_site_root(conn: &mut AnyConnection, root_cid: &str, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO site_snapshot (id, root_cid, built_at) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET root_cid = excluded.root_cid, built_at = excluded.built_at",
    )
    .bind(root_cid)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The site's IPNS record as signed last: `(name, sequence, valid until, record)`.
pub async fn ipns_record(db: &Db) -> DbResult<Option<(String, i64, i64, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT ipns_name, ipns_sequence, ipns_valid_until, ipns_record FROM site_snapshot \
         WHERE id = 1 AND ipns_record IS NOT NULL",
    )
    .fetch_optional(&db.pool)
    .await
    .map_err(DbError::from)
}

/// Takes the next IPNS sequence number (the first is 1), whichever node asks.
pub async fn next_ipns_sequence(conn: &mut AnyConnection) -> DbResult<i64> {
    sqlx::query_scalar(
        "UPDATE site_snapshot SET ipns_sequence = COALESCE(ipns_sequence, 0) + 1 WHERE id = 1 RETURNING ipns_sequence",
    )
    .fetch_one(conn)
    .await
    .map_err(DbError::from)
}

pub async fn set_ipns_record(conn: &mut AnyConnection, name: &str, valid_until: i64, record: &[u8]) -> DbResult<()> {
    sqlx::query("UPDATE site_snapshot SET ipns_name = $1, ipns_valid_until = $2, ipns_record = $3 WHERE id = 1")
        .bind(name)
        .bind(valid_until)
        .bind(record)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_pin_state(
    conn: &mut AnyConnection,
    article_id: i64,
    target: &str,
    root_cid: &str,
    state: &str,
    error: Option<&str>,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO pins (article_id, target, root_cid, state, last_error, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (article_id, target) DO UPDATE SET root_cid = excluded.root_cid, state = excluded.state, \
         last_error = excluded.last_error, updated_at = excluded.updated_at",
    )
    .bind(article_id)
    .bind(target)
    .bind(root_cid)
    .bind(state)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await
    ?;
    Ok(())
}

/// (slug, target, cid, state, last error) for every pin record.
pub async fn pin_states(db: &Db) -> DbResult<Vec<(String, String, String, String, Option<String>)>> {
    sqlx::query_as(
        "SELECT a.slug, p.target, p.root_cid, p.state, p.last_error FROM pins p JOIN articles a ON a.id = p.article_id \
         ORDER BY a.slug, p.target",
    )
    .fetch_all(&db.pool)
    .await
    .map_err(DbError::from)
}
