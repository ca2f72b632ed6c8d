//! ActivityPub, the read side: the fediverse finds the site as one `Service` actor,
//! `@<activitypub.username>@<host>`, and reads its articles.
//!
//! # Layout
//! - `service`: the actor's RSA key (made once, kept as a site secret) and the JSON documents
//!   (actor, WebFinger, NodeInfo, `Article` objects, the outbox), built from content's types and
//!   the configuration; no HTTP, no SQL.
//! - `routes`: `/.well-known/webfinger`, `/.well-known/nodeinfo`, `/nodeinfo/2.1`,
//!   `/activitypub/{actor,outbox,followers,featured}`, and `article`, which `site` calls for an
//!   article asked for with an ActivityPub `Accept` (`http::wants_activity_json`).
//! - `followers`: the followers, reactions and blocks as the desk and the CLI see them; a block
//!   (an instance's host, an actor URL, or a known `@user@host`) removes its followers at once.
//! - `admin`: the desk's `/admin/fediverse` screen.
//! - `queries`: SQL for migration 0022's tables.
//!
//! Replies to articles become comments through `comments::service::submit_remote` and
//! `delete_remote`, which the inbox calls (this module depends on `comments`, never the reverse).

pub mod admin;
pub mod followers;
pub mod inbox;
pub mod queries;
pub mod remote;
pub mod routes;
pub mod service;
#[allow(dead_code)]
mod shims;
pub mod signatures;
