//! Reader comments below articles, as WordPress readers know them: the "Leave a Comment" form,
//! threaded replies, moderation, spam defences, comment feeds and identicons.
//!
//! # Layout
//! - `config`: the `[comments]` section.
//! - `model`: the types other modules see; `PublicComment` has no email by construction.
//! - `service`: validation, WordPress's moderation rules, threads, moderation; one transaction per write.
//! - `queries`: the SQL.
//! - `text`: comment text → sanitised HTML (paragraphs, links, WordPress's tag subset).
//! - `guard`: keyed hashes, the signed form token, signed cookies, the per-IP token bucket.
//! - `avatar`: identicons.
//! - `routes`: the form's POST, reply and comment pages, the article-page hook, avatars.
//! - `feeds`: comment RSS, per article and site-wide.
//! - `cli`: `openvoice comments …`, the moderation queue.
//! - `admin`: the admin desk's moderation screen (`/admin/comments`).

pub mod admin;
pub mod api;
pub mod avatar;
pub mod feeds;
pub mod guard;
pub mod model;
pub mod queries;
pub mod routes;
pub mod service;
pub mod text;
