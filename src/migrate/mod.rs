//! Moving in and out: `import wordpress` (WXR), `export wordpress`, `export static` and what old URLs
//! become.
//!
//! `wxr` reads a WordPress export as a stream, `wordpress` turns it into content through the
//! content and comments services (with `shortcodes` converting the bodies' shortcodes, and media
//! through `fetch` into the library), `queries` holds the SQL (import keys, imported comments with their
//! original times); the redirects table is `content`'s.

pub mod export;
pub mod fetch;
pub mod queries;
pub mod shortcodes;
pub mod static_pages;
pub mod static_site;
pub mod wordpress;
pub mod wxr;
