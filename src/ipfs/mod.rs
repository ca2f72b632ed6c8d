//! "Download IPFS": every published article is also a UnixFS directory whose CID Kubo and Helia
//! compute identically, stored block by block in the site's database and served by a trustless
//! gateway for the site's own content.
//!
//! # Layout
//! - `bundle`: article → `index.html` + `article.md` + `meta.json` directory; the site snapshot.
//! - `service`: building and storing bundles and snapshots; `DbBlocks`, the block store as the
//!   `openvoice-ipfs` walks see it.
//! - `queries`: the `blocks`, `article_bundles`, `site_snapshot` and `pins` tables.
//! - `routes`: `/ipfs/{cid}[/path]` (CAR, raw block, files with Range, directories) and `/ipfs/site`.
//! - `jobs`: bundling after each publication, the snapshot, pinning.
//! - `pin`: Kubo RPC and Pinning Service API clients.
//! - `config`: the `[ipfs]` section.
//!
//! The format work (UnixFS, dag-pb, CAR) lives in the pure `openvoice-ipfs` crate.

pub mod bundle;
pub mod jobs;
pub mod pin;
pub mod queries;
pub mod routes;
pub mod service;
