//! Categories and tags: the desk's and the API's screens and their rules.

use crate::accounts::Capability;
use crate::content::queries;
use crate::store::{self, ContentChange, Db, DbError};

use super::*;

pub(super) fn check_category(edit: &CategoryEdit) -> Result<(String, String), Vec<ContentError>> {
    let mut errors = Vec::new();
    let name = edit.name.trim();
    if name.is_empty() || edit.name.chars().count() > MAX_TERM_CHARS || slugify(name).is_empty() {
        errors.push(invalid("name", format!("must be 1–{MAX_TERM_CHARS} characters with a letter or digit")));
    }
    let slug = match edit.slug.trim() {
        "" => slugify(name),
        given => given.to_string(),
    };
    if !slug.is_empty() {
        if let Err(err) = validate_slug(&slug) {
            errors.push(err);
        }
    }
    if edit.description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(invalid("description", format!("must be at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    if errors.is_empty() {
        Ok((name.to_string(), slug))
    } else {
        Err(errors)
    }
}

/// Every faulty field of a category form.
pub fn check_category_edit(edit: &CategoryEdit) -> Vec<ContentError> {
    check_category(edit).err().unwrap_or_default()
}

pub async fn category_entries(db: &Db) -> Result<Vec<CategoryEntry>, ContentError> {
    Ok(queries::terms::category_entries(db).await?)
}

/// Creates (`id: None`) or changes a category.
pub async fn save_category(
    db: &Db,
    actor: &Actor,
    id: Option<i64>,
    edit: &CategoryEdit,
) -> Result<CategoryEntry, ContentError> {
    require(actor, Capability::ManageTerms, "manage categories")?;
    let (name, slug) = check_category(edit).map_err(first_error)?;
    let description = edit.description.trim().to_string();
    let mut tx = db.begin().await?;
    if let Some(parent) = edit.parent_id {
        let parents = queries::terms::category_parents(&mut tx).await?;
        if !parents.iter().any(|(c, _)| *c == parent) {
            return Err(invalid("parent", format!("no category with id {parent}")));
        }
        // Walking up from the new parent must not reach the category itself.
        let mut at = Some(parent);
        let mut steps = 0;
        while let Some(current) = at {
            if Some(current) == id || steps > parents.len() {
                return Err(invalid("parent", "a category cannot be filed under itself or one of its subcategories"));
            }
            at = parents.iter().find(|(c, _)| *c == current).and_then(|(_, p)| *p);
            steps += 1;
        }
    }
    let conflict = |e: DbError| match e {
        DbError::Conflict(what) if what.contains("slug") => invalid("slug", format!("{slug:?} is already used")),
        DbError::Conflict(_) => invalid("name", format!("a category named {name:?} already exists")),
        other => other.into(),
    };
    let mut entry = CategoryEntry {
        category: Category { id: 0, slug: slug.clone(), name: name.clone(), description: description.clone() },
        parent_id: edit.parent_id,
        articles: 0,
    };
    match id {
        Some(id) => {
            if !queries::terms::update_category(&mut tx, id, &entry).await.map_err(conflict)? {
                return Err(ContentError::NotFound(format!("category {id}")));
            }
            entry.category.id = id;
        }
        None => {
            let new_id = queries::terms::insert_category(&mut tx, &slug, &name, &description, store::now())
                .await
                .map_err(conflict)?;
            queries::terms::set_category_parent(&mut tx, new_id, edit.parent_id).await?;
            entry.category.id = new_id;
        }
    }
    store::record_activity(&mut tx, "category.saved", Some(entry.category.id), &slug).await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
    tx.commit().await?;
    Ok(entry)
}

/// Deletes a category; its articles become uncategorised, its subcategories move up a level.
pub async fn delete_category(db: &Db, actor: &Actor, id: i64) -> Result<(), ContentError> {
    require(actor, Capability::ManageTerms, "manage categories")?;
    let mut tx = db.begin().await?;
    if !queries::terms::delete_category(&mut tx, id).await? {
        return Err(ContentError::NotFound(format!("category {id}")));
    }
    store::record_activity(&mut tx, "category.deleted", Some(id), "").await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
    tx.commit().await?;
    Ok(())
}

/// Every tag, counting articles of any status (for the desk).
pub async fn tag_entries(db: &Db) -> Result<Vec<TagEntry>, ContentError> {
    Ok(queries::terms::tag_entries(db, false).await?)
}

/// The tags of published articles, counting only those (for anonymous readers).
pub async fn public_tag_entries(db: &Db) -> Result<Vec<TagEntry>, ContentError> {
    Ok(queries::terms::tag_entries(db, true).await?)
}

/// Renames a tag; an empty `slug` is derived from the name.
pub async fn rename_tag(db: &Db, actor: &Actor, id: i64, name: &str, slug: &str) -> Result<(), ContentError> {
    require(actor, Capability::ManageTerms, "manage tags")?;
    let (sent, name) = (name, name.trim());
    if name.is_empty() || sent.chars().count() > MAX_TERM_CHARS || slugify(name).is_empty() {
        return Err(invalid("name", format!("must be 1–{MAX_TERM_CHARS} characters with a letter or digit")));
    }
    let slug = match slug.trim() {
        "" => slugify(name),
        given => given.to_string(),
    };
    validate_slug(&slug)?;
    let mut tx = db.begin().await?;
    match queries::terms::rename_tag(&mut tx, id, &slug, name).await {
        Ok(true) => {}
        Ok(false) => return Err(ContentError::NotFound(format!("tag {id}"))),
        Err(DbError::Conflict(_)) => {
            return Err(invalid("slug", format!("{slug:?} is another tag's; merge the two instead")))
        }
        Err(err) => return Err(err.into()),
    }
    store::record_activity(&mut tx, "tag.renamed", Some(id), &slug).await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes tag `id` (`into: None`), or merges it into tag `into`: its articles get that tag.
pub async fn delete_tag(db: &Db, actor: &Actor, id: i64, into: Option<i64>) -> Result<(), ContentError> {
    require(actor, Capability::ManageTerms, "manage tags")?;
    if into == Some(id) {
        return Err(invalid("into", "a tag cannot be merged into itself"));
    }
    if let Some(into) = into {
        if !queries::terms::tag_entries(db, false).await?.iter().any(|t| t.id == into) {
            return Err(invalid("into", format!("no tag with id {into}")));
        }
    }
    let mut tx = db.begin().await?;
    let done = match into {
        Some(into) => queries::terms::merge_tag(&mut tx, id, into).await?,
        None => queries::terms::delete_tag(&mut tx, id).await?,
    };
    if !done {
        return Err(ContentError::NotFound(format!("tag {id}")));
    }
    store::record_activity(&mut tx, if into.is_some() { "tag.merged" } else { "tag.deleted" }, Some(id), "").await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
    tx.commit().await?;
    Ok(())
}

/// The id of the tag with this slug, if any.
pub async fn tag_id_by_slug(db: &Db, slug: &str) -> Result<Option<i64>, ContentError> {
    match queries::terms::tag_by_slug(db, slug).await {
        Ok((id, _)) => Ok(Some(id)),
        Err(DbError::NotFound) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// The id of the category with this slug, if any.
pub async fn category_id_by_slug(db: &Db, slug: &str) -> Result<Option<i64>, ContentError> {
    match queries::terms::category_by_slug(db, slug).await {
        Ok(category) => Ok(Some(category.id)),
        Err(DbError::NotFound) => Ok(None),
        Err(err) => Err(err.into()),
    }
}
