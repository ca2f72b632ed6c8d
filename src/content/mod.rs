//! Content: articles, standing pages, categories, tags, revisions, feeds and Markdown import.
//!
//! # Layout
//! - `model`: the types other modules see.
//! - `service`: validation and publishing decisions; every write is one transaction.
//! - `queries`: the SQL.
//! - `markdown`: Markdown → sanitised HTML.
//! - `embeds`: bare YouTube, Vimeo, X and Mastodon links → click-to-load placeholders.
//! - `chrome`: what every public page shares (navigation, canonical URL, sidebar slots); the
//!   pages themselves are composed in `site`.
//! - `feeds`: the machine-readable views.
//! - `admin`: the admin desk's article editor, revisions, categories and tags screens.
//! - `api`: `/api/v1/articles`, `/categories`, `/tags` (see `crate::api`).
//! - `import`: Markdown files with front matter → articles (used for the demo site too).
//! - `jobs`: publishing scheduled articles, and the jobs a publication sets off for IPFS and
//!   subscriptions.

pub mod admin;
pub mod api;
pub mod chrome;
pub mod embeds;
pub mod feeds;
pub mod import;
pub mod jobs;
pub mod markdown;
pub mod model;
pub mod oembed;
pub mod queries;
pub mod service;
