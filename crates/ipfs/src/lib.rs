//! Content addressing for OpenVoice: UnixFS import, dag-pb decoding, CARv1 files and DAG walks.
//!
//! This crate is a pure library.
//! It has no database, no async runtime and no network: bytes and file trees go in, blocks and
//! CIDs come out, and walks read blocks through the small [`walk::BlockSource`] trait so that the
//! application can serve them from its `blocks` table.
//!
//! # Import profile
//!
//! Imports reproduce **Kubo's `ipfs add --cid-version=1` defaults**, so that
//! `ipfs add -Q --only-hash --cid-version=1 [-r] PATH` prints the same root CID as we do:
//!
//! * CIDv1, printed in base32 (`bafy…` for dag-pb, `bafk…` for raw), sha2-256;
//! * raw leaves (codec `0x55`), fixed 256 KiB (262 144 byte) chunks;
//! * balanced file DAG, at most 174 links per node; a one-chunk file is just its raw leaf;
//! * dag-pb nodes byte-exact with Kubo (Links before Data, empty link names written for files);
//! * directories with links sorted by name, switched to a HAMT shard (fanout 256, murmur3-x64-64)
//!   when the estimated node size (sum of name length plus CID byte length over all links) is
//!   above 256 KiB;
//! * no mode or mtime metadata; hidden files (names starting with `.`) skipped in directories.
//!
//! This is **not** the `unixfs-v1-2025` profile of IPIP-499 (1 MiB chunks, 1024 links), which
//! Kubo uses only after `ipfs init --profile=unixfs-v1-2025` or explicit `Import.*` settings.
//!
//! # Layout
//!
//! * [`import`]: file importer (streaming, bounded memory), directory builder, `import_path`.
//! * [`node`]: strict dag-pb decoding and its UnixFS interpretation (file, directory, HAMT shard).
//! * [`car`]: CARv1 writer and streaming, verifying CARv1 reader.
//! * [`walk`]: DAG walks over a [`walk::BlockSource`]: DFS block lists with `dag-scope`,
//!   byte-range reads, path resolution (through HAMT shards) and export to a directory.
//!
//! The root re-exports what the application calls most.

pub mod car;
pub mod import;
pub mod node;
pub mod walk;

mod cid_util;

use std::fmt;

pub use cid_util::{cid_of, parse_cid, verify_block, BlockError, CidError};
pub use import::{import_bytes, import_path, import_reader, DirectoryBuilder, DirectoryError, FileImporter};
pub use ipld_core::cid::Cid;
pub use walk::{dfs_blocks, BlockSource, Scope};

/// Multicodec code of raw blocks: the block is file content.
pub const RAW: u64 = 0x55;
/// Multicodec code of dag-pb blocks: UnixFS files, directories, HAMT shards, symlinks.
pub const DAG_PB: u64 = 0x70;
/// Multihash code of sha2-256, the only real hash we accept.
pub const SHA2_256: u64 = 0x12;
/// Multihash code of the identity "hash": the digest is the block itself.
pub const IDENTITY: u64 = 0x00;
/// Longest identity digest we accept; the CID type cannot hold more than 64 bytes anyway.
pub const MAX_IDENTITY_LEN: usize = 64;

/// One content-addressed block: `data` hashes to the multihash in `cid`.
#[derive(Clone, PartialEq, Eq)]
pub struct Block {
    /// The block's CID (codec raw or dag-pb, sha2-256).
    pub cid: Cid,
    /// The block's bytes.
    pub data: Vec<u8>,
}

impl Block {
    /// Hashes `data` with sha2-256 and wraps it as a CIDv1 block of the given codec.
    pub fn new(codec: u64, data: Vec<u8>) -> Block {
        Block { cid: cid_of(codec, &data), data }
    }
}

impl fmt::Debug for Block {
    // Blocks are up to 256 KiB: print the CID and the length, never the bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Block").field("cid", &format_args!("{}", self.cid)).field("len", &self.data.len()).finish()
    }
}
