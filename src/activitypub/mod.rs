//! ActivityPub: the fediverse finds the site as one `Service` actor,
//! `@<activitypub.username>@<host>`, reads its articles, and is sent their changes.
//!
//! # Layout
//! - `service`: the actor's RSA key (made once, kept as a site secret, parsed once per process:
//!   `actor_key`) and the JSON documents (actor, WebFinger, NodeInfo, `Article` objects, the
//!   outbox), built from content's types and the configuration; no HTTP, no SQL.
//! - `routes`: `/.well-known/webfinger`, `/.well-known/nodeinfo`, `/nodeinfo/2.1`,
//!   `/activitypub/{actor,outbox,followers,featured}`, and `article`, which `site` calls for an
//!   article asked for with an ActivityPub `Accept` (`http::wants_activity_json`).
//! - `signing`: HTTP signatures on outgoing POSTs (draft-cavage, RSA-SHA256, `Digest`).
//! - `delivery`: an article's change as a `Create`, `Update` or `Delete` (`federate`), any
//!   activity queued for inboxes (`send`), and the signed POSTs with their retries and give-up
//!   (`deliver`); the schedule is in its doc.
//! - `jobs`: `DeliverActivity`, and `BackgroundJob` for content's `Federate`.
//! - `queries`: the SQL of migration 0022's tables.

pub mod delivery;
pub mod jobs;
pub mod queries;
pub mod routes;
pub mod service;
pub mod signing;
