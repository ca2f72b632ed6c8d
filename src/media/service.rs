//! Media decisions: check and process an upload, store it content-addressed in one transaction,
//! edit alt text, delete. Knows no HTTP.

use crate::config::media::MediaConfig;
use crate::media::images::{self, Encoded, ImageProblem};
use crate::media::model::{MediaFile, MediaItem};
use crate::media::queries::{self, NewFile};
use crate::store::{self, Db, DbError};

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_ALT_CHARS: usize = 500;
/// Entries per library page.
pub const PER_PAGE: i64 = 48;

/// Images decoded at once by this node: each may use `media.max_decode_bytes` of memory.
static IMAGE_WORK: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The file is larger than `media.max_upload_bytes`.
    #[error("{field}: the file is larger than the limit of {limit} bytes")]
    TooLarge { field: &'static str, limit: usize },
    /// Not an image type we accept (detected from the bytes).
    #[error("{field}: {message}")]
    Unsupported { field: &'static str, message: String },
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    #[error("no such media item")]
    NotFound,
    /// The signed-in user may not change this entry.
    #[error("{0}")]
    Forbidden(String),
    /// The image worker could not run (its thread panicked, or the pool is shutting down).
    #[error("image worker: {0}")]
    Worker(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for MediaError {
    fn from(err: sqlx::Error) -> Self {
        MediaError::Db(err.into())
    }
}

/// An upload as received.
pub struct Upload {
    /// The client's file name (only shown, and used for the download name).
    pub name: String,
    pub alt_text: String,
    pub bytes: Vec<u8>,
    pub uploader_id: i64,
}

/// Who is changing an entry: editors may change any, others only their own.
pub struct Actor {
    pub user_id: i64,
    pub may_edit_others: bool,
}

/// The stored entry, and whether this upload created it (`false`: the same image was already in
/// the library, and that entry is returned).
pub async fn upload(db: &Db, config: &MediaConfig, upload: Upload) -> Result<(MediaItem, bool), MediaError> {
    if upload.bytes.len() > config.max_upload_bytes {
        return Err(MediaError::TooLarge { field: "file", limit: config.max_upload_bytes });
    }
    if upload.bytes.is_empty() {
        return Err(MediaError::Invalid { field: "file", message: "choose an image file to upload".into() });
    }
    let name = clean_name(&upload.name);
    let alt_text = check_alt(&upload.alt_text)?;
    // Cheap refusal before a blocking thread is used.
    images::detect(&upload.bytes).map_err(image_error)?;
    let config = config.clone();
    let bytes = upload.bytes;
    let permit = IMAGE_WORK.acquire().await.map_err(|e| MediaError::Worker(e.to_string()))?;
    let processed = tokio::task::spawn_blocking(move || {
        let processed = images::process(&bytes, &config)?;
        let files: Vec<(String, Encoded)> = std::iter::once(processed.original)
            .chain(processed.sizes)
            .map(|file| (openvoice_ipfs::import_bytes(&file.bytes).0.to_string(), file))
            .collect();
        Ok::<_, ImageProblem>(files)
    })
    .await
    .map_err(|e| MediaError::Worker(e.to_string()))?
    .map_err(image_error)?;
    drop(permit);

    let now = store::now();
    let mut tx = db.begin().await?;
    let (original_cid, _) = &processed[0];
    if let Some(id) = queries::id_by_cid(&mut tx, original_cid).await? {
        let item = queries::by_id(&mut tx, id).await?.ok_or(MediaError::NotFound)?;
        return Ok((item, false));
    }
    for (cid, file) in &processed {
        queries::insert_file(&mut tx, &new_file(cid, file), now).await?;
    }
    let id = match queries::insert_media(&mut tx, original_cid, &name, &alt_text, Some(upload.uploader_id), now).await {
        Ok(id) => id,
        // The same image uploaded at the same moment: the other upload's entry stands.
        Err(DbError::Conflict(_)) => {
            drop(tx);
            let mut conn = db.pool.acquire().await?;
            let id = queries::id_by_cid(&mut conn, original_cid).await?.ok_or(MediaError::NotFound)?;
            return Ok((queries::by_id(&mut conn, id).await?.ok_or(MediaError::NotFound)?, false));
        }
        Err(err) => return Err(err.into()),
    };
    for (cid, file) in &processed[1..] {
        queries::insert_size(&mut tx, id, &new_file(cid, file)).await?;
    }
    store::record_activity(&mut tx, "media.upload", Some(id), &name).await?;
    let item = queries::by_id(&mut tx, id).await?.ok_or(MediaError::NotFound)?;
    tx.commit().await?;
    Ok((item, true))
}

/// Page `page` (from 1) of the library, newest first, `PER_PAGE` to a page (the admin grid), and
/// how many entries there are.
pub async fn list(db: &Db, page: u32) -> Result<(Vec<MediaItem>, i64), MediaError> {
    list_range(db, PER_PAGE, i64::from(page.saturating_sub(1)) * PER_PAGE).await
}

/// `limit` entries from `offset`, newest first, and how many entries there are (the API's pages).
pub async fn list_range(db: &Db, limit: i64, offset: i64) -> Result<(Vec<MediaItem>, i64), MediaError> {
    Ok((queries::list(db, limit, offset).await?, queries::count(db).await?))
}

pub async fn find(db: &Db, id: i64) -> Result<MediaItem, MediaError> {
    let mut conn = db.pool.acquire().await?;
    queries::by_id(&mut conn, id).await?.ok_or(MediaError::NotFound)
}

/// The `srcset` of a library image given by its URL (`/media/{cid}/…`, as the editor inserts it),
/// for the theme's featured images; `None` for any other URL.
pub async fn srcset_for_url(db: &Db, url: Option<&str>) -> Result<Option<String>, DbError> {
    let Some(cid) = url.and_then(|u| u.strip_prefix("/media/")).and_then(|rest| rest.split('/').next()) else {
        return Ok(None);
    };
    let mut conn = db.pool.acquire().await?;
    let Some(id) = queries::id_by_cid(&mut conn, cid).await? else { return Ok(None) };
    Ok(queries::by_id(&mut conn, id).await?.filter(|item| !item.sizes.is_empty()).map(|item| item.srcset()))
}

/// `html` with every `<img>` of a media-library image given its size, its narrower copies
/// (`srcset`) and lazy loading, as featured images have: the browser keeps the image's room
/// while it loads (no layout shift) and a phone fetches a narrow copy. Other images, and
/// attributes already there, are left as they are. `html` is sanitised HTML, whose attributes
/// are double-quoted.
pub async fn with_image_sizes(db: &Db, html: &str) -> Result<String, DbError> {
    if !html.contains("src=\"/media/") {
        return Ok(html.to_string());
    }
    let mut conn = db.pool.acquire().await?;
    let mut out = String::with_capacity(html.len() + 512);
    let mut rest = html;
    while let Some(start) = rest.find("<img ") {
        let Some(length) = rest[start..].find('>') else { break };
        let tag = rest[start..start + length].trim_end_matches('/');
        out.push_str(&rest[..start]);
        out.push_str(tag);
        let cid = tag.split("src=\"/media/").nth(1).and_then(|rest| rest.split(['/', '"']).next());
        let item = match cid {
            Some(cid) => match queries::id_by_cid(&mut conn, cid).await? {
                Some(id) => queries::by_id(&mut conn, id).await?,
                None => None,
            },
            None => None,
        };
        if let Some(item) = item {
            out.push_str(&image_attributes(tag, &item));
        }
        out.push('>');
        rest = &rest[start + length + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The attributes `tag` lacks for the library image `item`.
fn image_attributes(tag: &str, item: &MediaItem) -> String {
    let quoted = |value: String| value.replace('&', "&amp;").replace('"', "&quot;");
    let mut wanted = vec![
        ("width", item.original.width.to_string()),
        ("height", item.original.height.to_string()),
        ("loading", "lazy".to_string()),
        ("decoding", "async".to_string()),
    ];
    if !item.sizes.is_empty() {
        wanted.push(("srcset", item.srcset()));
        wanted.push(("sizes", "(max-width: 800px) 100vw, 800px".to_string()));
    }
    wanted
        .into_iter()
        .filter(|(name, _)| !tag.contains(&format!(" {name}=")))
        .map(|(name, value)| format!(" {name}=\"{}\"", quoted(value)))
        .collect()
}

/// A stored file by CID (`None` for an unknown or malformed one).
pub async fn file(db: &Db, cid: &str) -> Result<Option<MediaFile>, MediaError> {
    if openvoice_ipfs::parse_cid(cid).is_err() {
        return Ok(None);
    }
    Ok(queries::file(db, cid).await?)
}

pub async fn set_alt(db: &Db, actor: &Actor, id: i64, alt_text: &str) -> Result<MediaItem, MediaError> {
    let alt_text = check_alt(alt_text)?;
    let mut tx = db.begin().await?;
    let item = queries::by_id(&mut tx, id).await?.ok_or(MediaError::NotFound)?;
    check_owner(actor, &item, "edit")?;
    queries::update_alt(&mut tx, id, &alt_text).await?;
    store::record_activity(&mut tx, "media.alt", Some(id), &item.original_name).await?;
    let item = queries::by_id(&mut tx, id).await?.ok_or(MediaError::NotFound)?;
    tx.commit().await?;
    Ok(item)
}

/// Deletes the entry and every file no other entry uses.
pub async fn delete(db: &Db, actor: &Actor, id: i64) -> Result<(), MediaError> {
    let mut tx = db.begin().await?;
    let item = queries::by_id(&mut tx, id).await?.ok_or(MediaError::NotFound)?;
    check_owner(actor, &item, "delete")?;
    let cids: Vec<String> =
        std::iter::once(item.original.cid.clone()).chain(item.sizes.iter().map(|s| s.cid.clone())).collect();
    queries::delete(&mut tx, id, &cids).await?;
    store::record_activity(&mut tx, "media.delete", Some(id), &item.original_name).await?;
    tx.commit().await?;
    Ok(())
}

fn check_owner(actor: &Actor, item: &MediaItem, verb: &str) -> Result<(), MediaError> {
    if actor.may_edit_others || item.uploader_id == Some(actor.user_id) {
        Ok(())
    } else {
        Err(MediaError::Forbidden(format!("You are not allowed to {verb} media uploaded by someone else.")))
    }
}

fn new_file<'a>(cid: &'a str, file: &'a Encoded) -> NewFile<'a> {
    NewFile {
        cid,
        bytes: &file.bytes,
        content_type: file.content_type,
        width: i64::from(file.width),
        height: i64::from(file.height),
    }
}

fn image_error(problem: ImageProblem) -> MediaError {
    match problem {
        ImageProblem::Unsupported(_) => MediaError::Unsupported { field: "file", message: problem.to_string() },
        ImageProblem::TooBig(_) | ImageProblem::Corrupt(_) => {
            MediaError::Invalid { field: "file", message: problem.to_string() }
        }
    }
}

/// The last path segment of the client's name, without control characters, at most
/// `MAX_NAME_CHARS` characters.
fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect();
    if cleaned.is_empty() {
        "image".into()
    } else {
        cleaned
    }
}

fn check_alt(alt: &str) -> Result<String, MediaError> {
    let alt = alt.trim();
    if alt.chars().count() > MAX_ALT_CHARS {
        return Err(MediaError::Invalid {
            field: "alt",
            message: format!("the alt text is longer than {MAX_ALT_CHARS} characters"),
        });
    }
    if alt.chars().any(char::is_control) {
        return Err(MediaError::Invalid { field: "alt", message: "the alt text must be one line of text".into() });
    }
    Ok(alt.to_string())
}
