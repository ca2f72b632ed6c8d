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
//!
//! Not yet: the inbox, HTTP signatures, follows and delivery.

pub mod inbox;
pub mod queries;
pub mod remote;
pub mod routes;
pub mod service;
#[allow(dead_code)]
mod shims;
pub mod signatures;
