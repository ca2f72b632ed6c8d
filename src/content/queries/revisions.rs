//! Revisions and autosaves.

use sqlx::AnyConnection;

use crate::store::{self, Db, DbError, DbResult};

use super::*;

/// `save_revision` for many articles at once.
pub async fn save_revisions(conn: &mut AnyConnection, article_ids: &[i64], now: i64) -> DbResult<()> {
    for chunk in article_ids.chunks(store::rows_per_statement(1).saturating_sub(1).max(1)) {
        let sql = format!(
            "INSERT INTO revisions (article_id, title, excerpt, body_md, saved_at) \
             SELECT id, title, excerpt, body_md, $1 FROM articles WHERE id IN ({}) ORDER BY id",
            store::numbered_rows("?", chunk.len(), 2)
        );
        let mut query = sqlx::query(&sql).bind(now);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Copies the current title, excerpt and body into the revision history.
pub async fn save_revision(conn: &mut AnyConnection, article_id: i64, now: i64) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO revisions (article_id, title, excerpt, body_md, saved_at) \
         SELECT id, title, excerpt, body_md, $2 FROM articles WHERE id = $1",
    )
    .bind(article_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn count_revisions(db: &Db, article_id: i64) -> DbResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM revisions WHERE article_id = $1")
        .bind(article_id)
        .fetch_one(&db.pool)
        .await
        .map_err(DbError::from)
}

/// Replaces an article's text (a restored revision), keeping everything else.
pub async fn set_text(conn: &mut AnyConnection, id: i64, text: &TextRow<'_>, now: i64) -> DbResult<()> {
    sqlx::query(
        "UPDATE articles SET title = $1, excerpt = $2, body_md = $3, body_html = $4, body_text = $5, \
         reading_minutes = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(text.title)
    .bind(text.excerpt)
    .bind(text.body_md)
    .bind(text.body_html)
    .bind(text.body_text)
    .bind(text.reading_minutes)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The text columns `set_text` writes.
pub struct TextRow<'a> {
    pub title: &'a str,
    pub excerpt: &'a str,
    pub body_md: &'a str,
    pub body_html: &'a str,
    pub body_text: &'a str,
    pub reading_minutes: i64,
}

pub(super) const REVISION_COLUMNS: &str = "id, article_id, title, excerpt, body_md, saved_at";

pub(super) type RevisionTuple = (i64, i64, String, String, String, i64);

pub(super) fn revision_of((id, article_id, title, excerpt, body_md, saved_at): RevisionTuple) -> Revision {
    Revision { id, article_id, title, excerpt, body_md, saved_at }
}

/// An article's revisions, newest first.
pub async fn revisions(db: &Db, article_id: i64) -> DbResult<Vec<Revision>> {
    let sql = format!("SELECT {REVISION_COLUMNS} FROM revisions WHERE article_id = $1 ORDER BY id DESC");
    let rows: Vec<RevisionTuple> = sqlx::query_as(&sql).bind(article_id).fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(revision_of).collect())
}

pub async fn revision(db: &Db, article_id: i64, id: i64) -> DbResult<Revision> {
    let sql = format!("SELECT {REVISION_COLUMNS} FROM revisions WHERE article_id = $1 AND id = $2");
    let row: RevisionTuple = sqlx::query_as(&sql).bind(article_id).bind(id).fetch_one(&db.pool).await?;
    Ok(revision_of(row))
}

pub async fn save_autosave(conn: &mut AnyConnection, user_id: i64, autosave: &Autosave) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO autosaves (article_id, user_id, title, excerpt, body_md, saved_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (article_id, user_id) DO UPDATE SET title = excluded.title, excerpt = excluded.excerpt, \
         body_md = excluded.body_md, saved_at = excluded.saved_at",
    )
    .bind(autosave.article_id)
    .bind(user_id)
    .bind(&autosave.title)
    .bind(&autosave.excerpt)
    .bind(&autosave.body_md)
    .bind(autosave.saved_at)
    .execute(conn)
    .await
    ?;
    Ok(())
}

pub async fn autosave(db: &Db, article_id: i64, user_id: i64) -> DbResult<Option<Autosave>> {
    let row: Option<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT article_id, title, excerpt, body_md, saved_at FROM autosaves WHERE article_id = $1 AND user_id = $2",
    )
    .bind(article_id)
    .bind(user_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(article_id, title, excerpt, body_md, saved_at)| Autosave {
        article_id,
        title,
        excerpt,
        body_md,
        saved_at,
    }))
}

/// Drops a writer's autosave once their text is saved for real.
pub async fn delete_autosave(conn: &mut AnyConnection, article_id: i64, user_id: i64) -> DbResult<()> {
    sqlx::query("DELETE FROM autosaves WHERE article_id = $1 AND user_id = $2")
        .bind(article_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}
