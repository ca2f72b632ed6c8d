//! Moving in and out: `import wordpress` (WXR), `export wordpress`, `export static` and the
//! redirects from old URLs.
//!
//! `wxr` reads a WordPress export as a stream, `wordpress` turns it into content through the
//! content and comments services, `queries` holds the SQL (import keys, redirects, the category
//! hierarchy, imported comments with their original times).

pub mod cli;
pub mod export;
pub mod queries;
pub mod static_pages;
pub mod static_site;
pub mod wordpress;
pub mod wxr;

use crate::store::{Db, DbError};

/// Where an old URL (an imported site's permalink) lives now, if anywhere.
pub async fn redirect_for(db: &Db, path: &str) -> Result<Option<String>, DbError> {
    if let Some(found) = queries::redirect(db, path).await? {
        return Ok(Some(found));
    }
    // WordPress permalinks end in `/`; links to them are often written without it, and vice versa.
    let other = match path.strip_suffix('/') {
        Some(bare) => bare.to_string(),
        None => format!("{path}/"),
    };
    queries::redirect(db, &other).await
}
