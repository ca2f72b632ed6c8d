//! Categories and tags.

use sqlx::AnyConnection;

use crate::store::{self, Db, DbError, DbResult};

use super::*;

pub async fn category_by_slug(db: &Db, slug: &str) -> DbResult<Category> {
    sqlx::query_as::<_, (i64, String, String, String)>(
        "SELECT id, slug, name, description FROM categories WHERE slug = $1",
    )
    .bind(slug)
    .fetch_one(&db.pool)
    .await
    .map(|(id, slug, name, description)| Category { id, slug, name, description })
    .map_err(DbError::from)
}

/// Finds a category by its exact name or slug.
pub async fn category_by_name_or_slug(db: &Db, key: &str) -> DbResult<Category> {
    sqlx::query_as::<_, (i64, String, String, String)>(
        "SELECT id, slug, name, description FROM categories WHERE name = $1 OR slug = $1",
    )
    .bind(key)
    .fetch_one(&db.pool)
    .await
    .map(|(id, slug, name, description)| Category { id, slug, name, description })
    .map_err(DbError::from)
}

/// All categories with their number of published posts (filed under them first or further).
pub async fn categories_with_counts(db: &Db) -> DbResult<Vec<(Category, i64)>> {
    let rows: Vec<(i64, String, String, String, i64)> = sqlx::query_as(
        "SELECT c.id, c.slug, c.name, c.description, \
         (SELECT COUNT(*) FROM article_categories ac WHERE ac.category_id = c.id AND ac.listed_at IS NOT NULL) \
         FROM categories c ORDER BY c.name",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.into_iter().map(|(id, slug, name, description, n)| (Category { id, slug, name, description }, n)).collect())
}

pub async fn tag_by_slug(db: &Db, slug: &str) -> DbResult<(i64, Tag)> {
    sqlx::query_as::<_, (i64, String, String)>("SELECT id, slug, name FROM tags WHERE slug = $1")
        .bind(slug)
        .fetch_one(&db.pool)
        .await
        .map(|(id, slug, name)| (id, Tag { slug, name }))
        .map_err(DbError::from)
}

pub async fn insert_category(
    conn: &mut AnyConnection,
    slug: &str,
    name: &str,
    description: &str,
    now: i64,
) -> DbResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO categories (slug, name, description, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(slug)
    .bind(name)
    .bind(description)
    .bind(now)
    .fetch_one(conn)
    .await
    .map_err(DbError::from)
}

/// Returns the category id for `name`, creating it when missing.
pub async fn ensure_category(conn: &mut AnyConnection, slug: &str, name: &str, now: i64) -> DbResult<i64> {
    // The slug's own category first: another may carry the name the slug came from.
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM categories WHERE slug = $1 OR name = $2 ORDER BY CASE WHEN slug = $1 THEN 0 ELSE 1 END LIMIT 1",
    )
    .bind(slug)
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    match existing {
        Some(id) => Ok(id),
        None => insert_category(conn, slug, name, "", now).await,
    }
}

/// Returns the tag id for `slug`, creating it when missing.
pub async fn ensure_tag(conn: &mut AnyConnection, slug: &str, name: &str) -> DbResult<i64> {
    let ids = ensure_tags(conn, &[(slug.to_string(), name.to_string())]).await?;
    ids.get(slug).copied().ok_or(DbError::NotFound)
}

/// The tag ids for `(slug, name)` pairs by slug, creating the missing tags (named by the first
/// pair with their slug).
pub async fn ensure_tags(
    conn: &mut AnyConnection,
    tags: &[(String, String)],
) -> DbResult<std::collections::HashMap<String, i64>> {
    let mut ids = std::collections::HashMap::with_capacity(tags.len());
    let slugs: Vec<&str> = tags.iter().map(|(slug, _)| slug.as_str()).collect();
    for chunk in slugs.chunks(store::rows_per_statement(1)) {
        let sql = format!("SELECT id, slug FROM tags WHERE slug IN ({})", store::numbered_rows("?", chunk.len(), 1));
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for slug in chunk {
            query = query.bind(*slug);
        }
        for (id, slug) in query.fetch_all(&mut *conn).await? {
            ids.insert(slug, id);
        }
    }
    let mut missing: Vec<&(String, String)> = Vec::new();
    for tag in tags {
        if !ids.contains_key(&tag.0) && !missing.iter().any(|m| m.0 == tag.0) {
            missing.push(tag);
        }
    }
    for chunk in missing.chunks(store::rows_per_statement(2)) {
        let sql = format!(
            "INSERT INTO tags (slug, name) VALUES {} RETURNING id, slug",
            store::numbered_rows("(?, ?)", chunk.len(), 1)
        );
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for (slug, name) in chunk {
            query = query.bind(slug.as_str()).bind(name.as_str());
        }
        for (id, slug) in query.fetch_all(&mut *conn).await? {
            ids.insert(slug, id);
        }
    }
    Ok(ids)
}

/// The category whose name or slug is `name`, or whose slug is `slug`.
pub async fn category_id_by_name(conn: &mut AnyConnection, name: &str, slug: &str) -> DbResult<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM categories WHERE name = $1 OR slug = $1 OR slug = $2")
        .bind(name)
        .bind(slug)
        .fetch_optional(conn)
        .await
        .map_err(DbError::from)
}

/// Every category with its parent and its number of articles of any status, by name.
pub async fn category_entries(db: &Db) -> DbResult<Vec<CategoryEntry>> {
    let rows: Vec<(i64, String, String, String, Option<i64>, i64)> = sqlx::query_as(
        "SELECT c.id, c.slug, c.name, c.description, c.parent_id, \
         (SELECT COUNT(*) FROM articles a WHERE a.category_id = c.id AND a.status <> 'trashed') \
         FROM categories c ORDER BY c.name",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, slug, name, description, parent_id, articles)| CategoryEntry {
            category: Category { id, slug, name, description },
            parent_id,
            articles,
        })
        .collect())
}

/// Each category's parent: what a cycle check walks.
pub async fn category_parents(conn: &mut AnyConnection) -> DbResult<Vec<(i64, Option<i64>)>> {
    sqlx::query_as("SELECT id, parent_id FROM categories").fetch_all(conn).await.map_err(DbError::from)
}

pub async fn update_category(conn: &mut AnyConnection, id: i64, entry: &CategoryEntry) -> DbResult<bool> {
    let result =
        sqlx::query("UPDATE categories SET slug = $1, name = $2, description = $3, parent_id = $4 WHERE id = $5")
            .bind(&entry.category.slug)
            .bind(&entry.category.name)
            .bind(&entry.category.description)
            .bind(entry.parent_id)
            .bind(id)
            .execute(conn)
            .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes a category: its articles become uncategorised (or keep their further categories) and
/// its children move up to its parent.
pub async fn delete_category(conn: &mut AnyConnection, id: i64) -> DbResult<bool> {
    sqlx::query("UPDATE articles SET category_id = NULL WHERE category_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM article_categories WHERE category_id = $1").bind(id).execute(&mut *conn).await?;
    sqlx::query(
        "UPDATE categories SET parent_id = (SELECT parent_id FROM categories WHERE id = $1) WHERE parent_id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    let result = sqlx::query("DELETE FROM categories WHERE id = $1").bind(id).execute(conn).await?;
    Ok(result.rows_affected() == 1)
}

/// Every tag with its number of articles, by name.
/// Every tag with its number of articles of any status (the admin's view), or with `published_only`
/// just the tags of published articles, counting those (the public's view: a draft's tags are not
/// public yet).
pub async fn tag_entries(db: &Db, published_only: bool) -> DbResult<Vec<TagEntry>> {
    let sql = if published_only {
        "SELECT t.id, t.slug, t.name, COUNT(*) FROM tags t \
         JOIN article_tags at ON at.tag_id = t.id JOIN articles a ON a.id = at.article_id AND a.status = 'published' \
         GROUP BY t.id, t.slug, t.name ORDER BY t.name"
    } else {
        "SELECT t.id, t.slug, t.name, (SELECT COUNT(*) FROM article_tags at WHERE at.tag_id = t.id) \
         FROM tags t ORDER BY t.name"
    };
    let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(sql).fetch_all(&db.pool).await?;
    Ok(rows.into_iter().map(|(id, slug, name, articles)| TagEntry { id, slug, name, articles }).collect())
}

pub async fn rename_tag(conn: &mut AnyConnection, id: i64, slug: &str, name: &str) -> DbResult<bool> {
    let result = sqlx::query("UPDATE tags SET slug = $1, name = $2 WHERE id = $3")
        .bind(slug)
        .bind(name)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Moves every article of tag `from` to tag `into` (unless already there), then deletes `from`.
pub async fn merge_tag(conn: &mut AnyConnection, from: i64, into: i64) -> DbResult<bool> {
    sqlx::query(
        "INSERT INTO article_tags (article_id, tag_id) SELECT article_id, $2 FROM article_tags WHERE tag_id = $1 \
         ON CONFLICT DO NOTHING",
    )
    .bind(from)
    .bind(into)
    .execute(&mut *conn)
    .await?;
    delete_tag(conn, from).await
}

pub async fn delete_tag(conn: &mut AnyConnection, id: i64) -> DbResult<bool> {
    sqlx::query("DELETE FROM article_tags WHERE tag_id = $1").bind(id).execute(&mut *conn).await?;
    let result = sqlx::query("DELETE FROM tags WHERE id = $1").bind(id).execute(conn).await?;
    Ok(result.rows_affected() == 1)
}

pub async fn category_exists(conn: &mut AnyConnection, id: i64) -> DbResult<bool> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM categories WHERE id = $1").bind(id).fetch_optional(conn).await?;
    Ok(found.is_some())
}

pub async fn set_category_parent(conn: &mut AnyConnection, id: i64, parent_id: Option<i64>) -> DbResult<()> {
    sqlx::query("UPDATE categories SET parent_id = $1 WHERE id = $2").bind(parent_id).bind(id).execute(conn).await?;
    Ok(())
}
