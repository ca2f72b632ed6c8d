//! OpenVoice: a self-hosted news site in one binary.
//!
//! # Layout
//! - `cli`: the `openvoice` command (serve, init, user, post, import, config, cid).
//! - `app`: the composition root: the router of every capability's routes, the job registry,
//!   `serve`.
//! - `config`: typed configuration (file ← env ← flags).
//! - `http`: the web layer capabilities share: state, errors, rendering, page cache, CSRF rule.
//! - `content`, `accounts`: capabilities, each with its routes, service and queries.
//! - `site`: the reader's pages, composed from content, comments, IPFS links and prices.
//! - `api`: the JSON API under `/api/v1` (shared errors, token auth, paging, the OpenAPI document).
//! - `comments`: reader comments below articles: form, threads, moderation, spam defences.
//! - `market`: crypto price widgets fed by a background poll of price APIs.
//! - `mail`: the durable outbox and its transports (`.eml` files, SMTP).
//! - `subscriptions`: "Subscribe to Blog via Email": double opt-in, article mail, digests.
//! - `media`: the media library: uploaded images, checked, re-encoded, stored by CID.
//! - `settings`: site settings changed in the admin, laid over the configuration on every node.
//! - `migrate`: WordPress import and export, redirects from old URLs.
//! - `activitypub`: the fediverse's read side: the site actor, WebFinger, NodeInfo, articles as
//!   ActivityStreams objects.
//! - `analytics`: private page-view counts (counted in memory by `http::page_views`, written in
//!   batches) and the desk's Analytics screen.
//! - `backup`: `openvoice backup` and `restore`: a consistent copy of the whole site, checked.
//! - `jobs`: the durable job table and its worker.
//! - `store`: the database handle (SQLite or PostgreSQL) and migrations.
//! - `demo`: the first-run demo site.
//!
//! See ARCHITECTURE.md for the invariants.

pub mod accounts;
pub mod activitypub;
pub mod admin;
pub mod analytics;
pub mod api;
pub mod app;
pub mod backup;
pub mod cli;
pub mod comments;
pub mod config;
pub mod content;
pub mod demo;
pub mod http;
pub mod ipfs;
pub mod jobs;
pub mod mail;
pub mod market;
pub mod media;
pub mod migrate;
pub mod settings;
pub mod site;
pub mod store;
pub mod subscriptions;
pub mod theme;
