//! ActivityPub: the fediverse finds the site as one `Service` actor,
//! `@<activitypub.username>@<host>`, follows it, reads its articles, is sent their changes, and
//! likes, boosts and replies.
//!
//! # Layout
//! - `service`: the actor's RSA key (made once, kept as a site secret, parsed once per process:
//!   `actor_key`) and the JSON documents (actor, WebFinger, NodeInfo, `Article` objects, the
//!   outbox), built from content's types and the configuration; no HTTP, no SQL.
//! - `routes`: `/.well-known/webfinger`, `/.well-known/nodeinfo`, `/nodeinfo/2.1`,
//!   `/activitypub/{actor,outbox,followers,featured}`, the inbox (`POST /activitypub/inbox`:
//!   size, type and rate limits, then the signature, then `inbox`), and `article`, which `site`
//!   calls for an article asked for with an ActivityPub `Accept` (`http::wants_activity_json`).
//! - `signatures`: incoming HTTP signatures, draft-cavage and RFC 9421, checked in two steps so
//!   nothing is fetched for a request that is stale or whose body does not match its digest.
//! - `remote`: remote actors, fetched within limits to verify their keys, kept in `ap_actors`.
//! - `inbox`: what a verified activity does (Follow → Accept, Undo, Like, Announce, Create of a
//!   reply, Delete); each must be its signer's own.
//! - `signing`: HTTP signatures on outgoing POSTs (draft-cavage, RSA-SHA256, `Digest`).
//! - `delivery`: an article's change as a `Create`, `Update` or `Delete` (`federate`), any
//!   activity queued for inboxes (`send`), and the signed POSTs with their retries and give-up
//!   (`deliver`); the schedule is in its doc.
//! - `jobs`: `DeliverActivity`, and `BackgroundJob` for content's `Federate`.
//! - `followers`: the followers, reactions and blocks as the desk and the CLI see them; a block
//!   (an instance's host, an actor URL, or a known `@user@host`) removes its followers at once.
//! - `admin`: the desk's `/admin/fediverse` screen.
//! - `queries`: SQL for migration 0022's tables.
//!
//! Replies to articles become comments through `comments::service::submit_remote` and
//! `delete_remote`, which the inbox calls (this module depends on `comments`, never the reverse).

pub mod admin;
pub mod delivery;
pub mod followers;
pub mod inbox;
pub mod jobs;
pub mod queries;
pub mod remote;
pub mod routes;
pub mod service;
pub mod signatures;
pub mod signing;
