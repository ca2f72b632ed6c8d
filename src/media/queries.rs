//! SQL for the media library: `media_files` (content-addressed bytes), `media`, `media_sizes`.

use sqlx::AnyConnection;

use crate::media::model::{FileRef, MediaFile, MediaItem};
use crate::store::{Db, DbError, DbResult};

/// A file to store: its CID, bytes, type and size in pixels.
pub struct NewFile<'a> {
    pub cid: &'a str,
    pub bytes: &'a [u8],
    pub content_type: &'a str,
    pub width: i64,
    pub height: i64,
}

/// Stores a file unless one with the same CID (hence the same bytes) is already there.
pub async fn insert_file(conn: &mut AnyConnection, file: &NewFile<'_>, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO media_files (cid, bytes, content_type, width, height, size, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (cid) DO NOTHING",
    )
    .bind(file.cid)
    .bind(file.bytes)
    .bind(file.content_type)
    .bind(file.width)
    .bind(file.height)
    .bind(file.bytes.len() as i64)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn insert_media(
    conn: &mut AnyConnection,
    cid: &str,
    original_name: &str,
    alt_text: &str,
    uploader_id: Option<i64>,
    now: i64,
) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO media (cid, original_name, alt_text, uploader_id, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(cid)
    .bind(original_name)
    .bind(alt_text)
    .bind(uploader_id)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(DbError::from)
}

pub async fn insert_size(conn: &mut AnyConnection, media_id: i64, file: &NewFile<'_>) -> DbResult<()> {
    sqlx::query("INSERT INTO media_sizes (media_id, width, height, cid) VALUES ($1, $2, $3, $4)")
        .bind(media_id)
        .bind(file.width)
        .bind(file.height)
        .bind(file.cid)
        .execute(conn)
        .await?;
    Ok(())
}

type ItemRow = (i64, String, i64, i64, String, i64, String, String, Option<i64>, Option<String>, i64);

const ITEM_SELECT: &str =
    "SELECT m.id, m.cid, f.width, f.height, f.content_type, f.size, m.original_name, m.alt_text, \
     m.uploader_id, u.display_name, m.created_at \
     FROM media m JOIN media_files f ON f.cid = m.cid LEFT JOIN users u ON u.id = m.uploader_id";

fn item(row: ItemRow, sizes: Vec<FileRef>) -> MediaItem {
    let (id, cid, width, height, content_type, size, original_name, alt_text, uploader_id, uploader_name, created_at) =
        row;
    MediaItem {
        id,
        original: FileRef { cid, width, height },
        content_type,
        size,
        original_name,
        alt_text,
        uploader_id,
        uploader_name,
        created_at,
        sizes,
    }
}

async fn sizes_of(conn: &mut AnyConnection, media_id: i64) -> DbResult<Vec<FileRef>> {
    sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT cid, width, height FROM media_sizes WHERE media_id = $1 ORDER BY width DESC",
    )
    .bind(media_id)
    .fetch_all(conn)
    .await
    .map(|rows| rows.into_iter().map(|(cid, width, height)| FileRef { cid, width, height }).collect())
    .map_err(DbError::from)
}

/// The entry with this id, in the caller's transaction or connection.
pub async fn by_id(conn: &mut AnyConnection, id: i64) -> DbResult<Option<MediaItem>> {
    let row = sqlx::query_as::<_, ItemRow>(&format!("{ITEM_SELECT} WHERE m.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => Ok(Some(item(row, sizes_of(conn, id).await?))),
        None => Ok(None),
    }
}

/// The id of the entry whose original is `cid`.
pub async fn id_by_cid(conn: &mut AnyConnection, cid: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM media WHERE cid = $1")
        .bind(cid)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

/// Newest first.
pub async fn list(db: &Db, limit: i64, offset: i64) -> DbResult<Vec<MediaItem>> {
    let mut conn = db.pool.acquire().await?;
    let rows = sqlx::query_as::<_, ItemRow>(&format!(
        "{ITEM_SELECT} ORDER BY m.created_at DESC, m.id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&mut *conn)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let sizes = sizes_of(&mut conn, row.0).await?;
        items.push(item(row, sizes));
    }
    Ok(items)
}

pub async fn count(db: &Db) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM media").fetch_one(&db.pool).await.map_err(DbError::from)
}

pub async fn file(db: &Db, cid: &str) -> DbResult<Option<MediaFile>> {
    sqlx::query_as::<_, (Vec<u8>, String)>("SELECT bytes, content_type FROM media_files WHERE cid = $1")
        .bind(cid)
        .fetch_optional(&db.pool)
        .await
        .map(|row| row.map(|(bytes, content_type)| MediaFile { bytes, content_type }))
        .map_err(DbError::from)
}

pub async fn update_alt(conn: &mut AnyConnection, id: i64, alt_text: &str) -> DbResult<bool> {
    let done =
        sqlx::query("UPDATE media SET alt_text = $1 WHERE id = $2").bind(alt_text).bind(id).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the entry and its sizes, then whichever of `cids` no entry uses any more.
pub async fn delete(conn: &mut AnyConnection, id: i64, cids: &[String]) -> DbResult<()> {
    sqlx::query("DELETE FROM media_sizes WHERE media_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM media WHERE id = $1").bind(id).execute(&mut *conn).await?;
    for cid in cids {
        sqlx::query(
            "DELETE FROM media_files WHERE cid = $1 \
             AND NOT EXISTS (SELECT 1 FROM media WHERE cid = $1) \
             AND NOT EXISTS (SELECT 1 FROM media_sizes WHERE cid = $1)",
        )
        .bind(cid)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
