//! The composition root: where the capabilities meet.
//!
//! - `router`: the site's one router (every capability's public, desk and API routes) in the
//!   layers every request goes through;
//! - `api`: the JSON API's routes and OpenAPI document, merged from the capabilities' `api`
//!   modules;
//! - `jobs`: the job registry (each job kind with the context it runs with) and the recurring
//!   jobs;
//! - `serve`: one node — the HTTP server, the content-epoch follower and the job worker.
//!
//! Nothing below this module imports it (ARCHITECTURE.md, "Layers"; `scripts/module_layers.py`
//! checks it): capabilities expose routers, jobs and services, and only this module knows them
//! all.

pub mod api;
pub mod jobs;
pub mod router;
pub mod serve;
