//! The media library: images uploaded by the newsroom, checked from their bytes, decoded within
//! limits, re-encoded without metadata (EXIF GPS included), with narrower responsive copies,
//! stored content-addressed in the database so every node serves them.
//!
//! `config` (`[media]`), `images` (decode, orient, re-encode, resize; synchronous, run on the
//! blocking pool), `model`, `service` (one transaction per upload), `queries`, `routes`
//! (`/media/{cid}`), `admin` (the library screen), `api` (`/api/v1/media`).

pub mod admin;
pub mod api;
pub mod images;
pub mod model;
pub mod queries;
pub mod routes;
pub mod service;
