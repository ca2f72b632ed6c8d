//! "Download IPFS": every published article is also a UnixFS directory whose CID Kubo and Helia
//! compute identically, stored block by block in the site's database and served by a trustless
//! gateway for the site's own content.
//!
//! # Layout
//! - `bundle`: article → `index.html` + `article.md` + `meta.json` + the images it shows
//!   (`media/<cid>/<name>`, loaded relatively); the site snapshot.
//! - `ipns`: the site's Ed25519 key (libp2p protobuf import/export), its IPNS name and signed
//!   V1+V2 records naming the latest snapshot.
//! - `service`: building and storing bundles and snapshots, signing each snapshot's IPNS record
//!   (and again when half its lifetime is gone); `DbBlocks`, the block store as the
//!   `openvoice-ipfs` walks see it.
//! - `queries`: the `blocks`, `article_bundles`, `site_snapshot` and `pins` tables.
//! - `routes`: `/ipfs/{cid}[/path]` (CAR, raw block, files with Range, directories), `/ipfs/site`,
//!   and `/ipns/{name}[/path]` (the latest snapshot, or its record with `?format=ipns-record`).
//! - `jobs`: bundling after each publication, the snapshot, pinning.
//! - `pin`: Kubo RPC and Pinning Service API clients.
//! - `config`: the `[ipfs]` section.
//!
//! The format work (UnixFS, dag-pb, CAR) lives in the pure `openvoice-ipfs` crate.

pub mod bundle;
pub mod ipns;
pub mod jobs;
pub mod pin;
pub mod queries;
pub mod routes;
pub mod service;
