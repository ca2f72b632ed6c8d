//! UnixFS import with Kubo's `ipfs add --cid-version=1` defaults (see the crate docs).
//!
//! * [`FileImporter`] turns a byte stream into raw 256 KiB leaves and a balanced tree of dag-pb
//!   file nodes (at most 174 links each), handing every block to a sink as soon as it exists.
//!   It holds one chunk and at most 174 links per tree level, so memory does not grow with the
//!   file.
//! * [`DirectoryBuilder`] collects `(path, cid, size)` entries and renders the directory nodes,
//!   sharding any directory above the HAMT threshold.
//! * [`import_path`] does both for a file or a directory tree on disk, like
//!   `ipfs add [-r] --cid-version=1 PATH`.
//!
//! Leaves are hashed here rather than by `rust_unixfs::file::adder::FileAdder` because the adder
//! copies every chunk into a fresh vector and hashes through `multihash-codetable`; reading each
//! chunk straight into the vector that becomes the block saves that copy, which matters when the
//! goal is the speed of `openssl dgst -sha256`. The balanced layout is rust-unixfs's, and the file
//! nodes are rendered by its `rebuild_file_branch` so that they stay byte-identical; a unit test
//! checks our layout against `FileAdder` on deep trees.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use ipld_core::cid::Version;
use multihash_codetable::Code;
use rust_unixfs::dir::builder::{BufferingTreeBuilder, TreeBuildingFailed, TreeOptions};
use rust_unixfs::file::adder::{rebuild_file_branch, FileBranchLink};
use rust_unixfs::Metadata;

use crate::node::{check_entry_name, NameError};
use crate::{cid_of, Block, Cid, DAG_PB, RAW};

/// Kubo's default chunk size (`size-262144`).
pub const CHUNK_SIZE: usize = 256 * 1024;
/// Kubo's default maximum number of links per file node in the balanced layout.
pub const MAX_LINKS: usize = 174;

/// Streaming importer for one file.
///
/// Push bytes with [`FileImporter::push`] (or let [`import_reader`] read them), then call
/// [`FileImporter::finish`]. Blocks come out through the sink in creation order: each leaf as soon
/// as its chunk is full, each file node as soon as its children are known, the root last.
pub struct FileImporter {
    /// The chunk being filled; it becomes the leaf block's data without a copy.
    chunk: Vec<u8>,
    chunk_size: usize,
    max_links: usize,
    /// Pending links per tree level (0 = leaves); a level is folded into one node of the level
    /// above as soon as it holds more than `max_links` links, as go-unixfs's balanced builder does.
    layers: Vec<Vec<FileBranchLink>>,
    file_size: u64,
}

impl Default for FileImporter {
    fn default() -> Self {
        FileImporter::new()
    }
}

impl FileImporter {
    /// An importer with Kubo's defaults: 256 KiB chunks, 174 links per node.
    pub fn new() -> FileImporter {
        FileImporter::with_layout(CHUNK_SIZE, MAX_LINKS)
    }

    /// Other layouts exist only so tests can build deep trees from little data.
    pub(crate) fn with_layout(chunk_size: usize, max_links: usize) -> FileImporter {
        FileImporter {
            chunk: Vec::new(),
            chunk_size: chunk_size.max(1),
            max_links: max_links.max(2),
            layers: Vec::new(),
            file_size: 0,
        }
    }

    /// Content bytes pushed so far.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Adds file content. Emits a leaf (and any completed file nodes) for every full chunk.
    pub fn push(&mut self, mut data: &[u8], sink: &mut impl FnMut(Block)) {
        while !data.is_empty() {
            if self.chunk.capacity() == 0 {
                self.chunk.reserve_exact(self.chunk_size);
            }
            let take = (self.chunk_size - self.chunk.len()).min(data.len());
            self.chunk.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.file_size += take as u64;
            if self.chunk.len() == self.chunk_size {
                self.flush_leaf(sink);
            }
        }
    }

    /// Reads `reader` to its end straight into the chunk buffers (one copy, from the kernel).
    pub fn push_reader(&mut self, reader: &mut impl Read, sink: &mut impl FnMut(Block)) -> io::Result<()> {
        loop {
            if self.chunk.capacity() == 0 {
                self.chunk.reserve_exact(self.chunk_size);
            }
            let want = (self.chunk_size - self.chunk.len()) as u64;
            let before = self.chunk.len();
            // `read_to_end` on a `Take` fills the spare capacity without zeroing it first, and
            // stops exactly at the chunk boundary.
            reader.by_ref().take(want).read_to_end(&mut self.chunk)?;
            let got = self.chunk.len() - before;
            self.file_size += got as u64;
            if self.chunk.len() == self.chunk_size {
                self.flush_leaf(sink);
            } else {
                // Short read from `read_to_end` means end of input.
                return Ok(());
            }
        }
    }

    /// Emits the last leaf and the remaining file nodes; returns the root CID and the cumulative
    /// DAG size (the sum of all block lengths, which is the Tsize a parent directory records).
    pub fn finish(mut self, sink: &mut impl FnMut(Block)) -> (Cid, u64) {
        // An empty file is one empty raw leaf; otherwise a partial chunk is the last leaf.
        let has_links = self.layers.iter().any(|layer| !layer.is_empty());
        if !self.chunk.is_empty() || !has_links {
            self.flush_leaf(sink);
        }
        loop {
            let total: usize = self.layers.iter().map(Vec::len).sum();
            if total <= 1 {
                break;
            }
            let Some(depth) = self.layers.iter().position(|layer| !layer.is_empty()) else {
                break;
            };
            let count = self.layers[depth].len().min(self.max_links);
            self.fold(depth, count, sink);
        }
        match self.layers.iter().find_map(|layer| layer.first()) {
            Some(root) => (root.cid, root.tsize),
            // Unreachable: at least one leaf was flushed above.
            None => (cid_of(RAW, &[]), 0),
        }
    }

    fn flush_leaf(&mut self, sink: &mut impl FnMut(Block)) {
        let mut data = std::mem::take(&mut self.chunk);
        // Only the last leaf is short; without this a 5-byte file would keep a 256 KiB buffer
        // alive in whatever the sink stores it in.
        data.shrink_to_fit();
        let cid = cid_of(RAW, &data);
        let len = data.len() as u64;
        sink(Block { cid, data });
        self.push_link(FileBranchLink { cid, blocksize: len, tsize: len }, sink);
    }

    fn push_link(&mut self, link: FileBranchLink, sink: &mut impl FnMut(Block)) {
        if self.layers.is_empty() {
            self.layers.push(Vec::new());
        }
        self.layers[0].push(link);
        let mut depth = 0;
        while self.layers[depth].len() > self.max_links {
            self.fold(depth, self.max_links, sink);
            depth += 1;
        }
    }

    /// Renders the first `count` links of `layers[depth]` into one file node and puts its link
    /// into the level above.
    fn fold(&mut self, depth: usize, count: usize, sink: &mut impl FnMut(Block)) {
        let links: Vec<FileBranchLink> = self.layers[depth].drain(..count).collect();
        let filesize: u64 = links.iter().map(|l| l.blocksize).sum();
        let children_tsize: u64 = links.iter().map(|l| l.tsize).sum();
        let (cid, data) = rebuild_file_branch(filesize, &links, Version::V1, Code::Sha2_256);
        let promoted = FileBranchLink { cid, blocksize: filesize, tsize: children_tsize + data.len() as u64 };
        sink(Block { cid, data });
        if depth + 1 == self.layers.len() {
            self.layers.push(Vec::new());
        }
        self.layers[depth + 1].push(promoted);
    }
}

/// Imports an in-memory file; returns the root CID and every block (root last).
pub fn import_bytes(data: &[u8]) -> (Cid, Vec<Block>) {
    let mut blocks = Vec::new();
    let mut sink = |block| blocks.push(block);
    let mut importer = FileImporter::new();
    importer.push(data, &mut sink);
    let (cid, _) = importer.finish(&mut sink);
    (cid, blocks)
}

/// Imports a file from a reader with bounded memory; returns the root CID and the cumulative DAG
/// size.
pub fn import_reader(mut reader: impl Read, mut sink: impl FnMut(Block)) -> io::Result<(Cid, u64)> {
    let mut importer = FileImporter::new();
    importer.push_reader(&mut reader, &mut sink)?;
    Ok(importer.finish(&mut sink))
}

/// Why a directory could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A path component is empty, `.` or `..`, or contains NUL.
    #[error("bad path {path:?}: {source}")]
    BadPath {
        /// The path given.
        path: String,
        /// What is wrong with the offending component.
        source: NameError,
    },
    /// The path was added before.
    #[error("path {0:?} added twice")]
    Duplicate(String),
    /// A path goes through something added as a file.
    #[error("path {0:?} goes through a file")]
    NotADirectory(String),
    /// rust-unixfs could not render a node (a HAMT with colliding hashes, a protobuf failure).
    #[error("cannot build directory node: {0}")]
    Build(String),
}

/// Builds a UnixFS directory tree from `(path, cid, cumulative size)` entries.
///
/// The root is the directory itself (as `ipfs add -r DIR` makes it): add `index.html` and
/// `images/a.png`, not `bundle/index.html`. Intermediate directories are created implicitly; use
/// [`DirectoryBuilder::add_directory`] for empty ones.
pub struct DirectoryBuilder {
    inner: BufferingTreeBuilder,
}

impl Default for DirectoryBuilder {
    fn default() -> Self {
        DirectoryBuilder::new()
    }
}

impl DirectoryBuilder {
    /// An empty directory with Kubo's settings: CIDv1, HAMT (fanout 256) above 256 KiB.
    pub fn new() -> DirectoryBuilder {
        let mut opts = TreeOptions::default();
        // The root node is the directory itself, holding any number of entries.
        opts.wrap_with_directory();
        // Kubo sets no block size limit on directories; the HAMT threshold keeps them small.
        opts.block_size_limit(None);
        DirectoryBuilder { inner: BufferingTreeBuilder::new(opts) }
    }

    /// Adds a file (or any DAG) at `path`, e.g. `images/a.png`.
    pub fn add(&mut self, path: &str, cid: Cid, cumulative_size: u64) -> Result<(), DirectoryError> {
        check_path(path)?;
        self.inner.put_link(path, cid, cumulative_size).map_err(|e| map_tree_error(path, e))
    }

    /// Adds an (empty, unless entries are added below it) directory at `path`.
    pub fn add_directory(&mut self, path: &str) -> Result<(), DirectoryError> {
        check_path(path)?;
        // A directory with default (absent) metadata renders exactly as a plain directory.
        self.inner.set_metadata(path, Metadata::default()).map_err(|e| map_tree_error(path, e))
    }

    /// Renders the directory nodes (children before parents, the root last) into the sink and
    /// returns the root CID and its cumulative DAG size.
    pub fn build(self, mut sink: impl FnMut(Block)) -> Result<(Cid, u64), DirectoryError> {
        let mut iter = self.inner.build();
        let mut root = None;
        while let Some(node) = iter.next_borrowed() {
            let node = node.map_err(|e| DirectoryError::Build(e.to_string()))?;
            root = Some((*node.cid, node.total_size));
            sink(Block { cid: *node.cid, data: node.block.to_vec() });
        }
        root.ok_or_else(|| DirectoryError::Build("no root node was produced".to_string()))
    }
}

fn check_path(path: &str) -> Result<(), DirectoryError> {
    for component in path.split('/') {
        match check_entry_name(component) {
            // A backslash is an ordinary character in a Unix file name and Kubo adds such files;
            // only an export has to refuse it (it is a separator elsewhere).
            Ok(()) | Err(NameError::Separator) => {}
            Err(source) => return Err(DirectoryError::BadPath { path: path.to_string(), source }),
        }
    }
    Ok(())
}

fn map_tree_error(path: &str, error: TreeBuildingFailed) -> DirectoryError {
    match error {
        TreeBuildingFailed::DuplicatePath(_) => DirectoryError::Duplicate(path.to_string()),
        TreeBuildingFailed::LeafAsDirectory(_) => DirectoryError::NotADirectory(path.to_string()),
        other => DirectoryError::Build(other.to_string()),
    }
}

/// Imports a file, a symlink or a directory tree like `ipfs add -r --cid-version=1 PATH` and
/// returns the root CID, which is what `ipfs add -Q --only-hash --cid-version=1 -r PATH` prints.
///
/// Directories are walked recursively; entries whose names start with `.` are skipped (Kubo's
/// default without `--hidden`), symlinks are stored as UnixFS symlinks and not followed, empty
/// directories are kept. Names must be UTF-8. Other file types (sockets, devices) are an error.
pub fn import_path(path: &Path, mut sink: impl FnMut(Block)) -> io::Result<Cid> {
    let meta = fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        let (cid, _) = import_symlink(path, &mut sink)?;
        return Ok(cid);
    }
    if meta.is_file() {
        let (cid, _) = import_reader(fs::File::open(path)?, &mut sink)?;
        return Ok(cid);
    }
    if !meta.is_dir() {
        return Err(unsupported_file_type(path));
    }

    let mut builder = DirectoryBuilder::new();
    // Directories still to read, as (path on disk, path inside the DAG).
    let mut pending = vec![(path.to_path_buf(), String::new())];
    while let Some((dir, dag_path)) = pending.pop() {
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().into_string().map_err(|name| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("file name {name:?} in {} is not UTF-8", dir.display()),
                )
            })?;
            if !name.starts_with('.') {
                names.push(name);
            }
        }
        if names.is_empty() && !dag_path.is_empty() {
            builder.add_directory(&dag_path).map_err(io::Error::other)?;
        }
        // Sorted so that blocks come out in a stable order; links are sorted by the builder anyway.
        names.sort_unstable();
        for name in names.into_iter().rev() {
            let disk_path = dir.join(&name);
            let child_path = if dag_path.is_empty() { name } else { format!("{dag_path}/{name}") };
            let meta = fs::symlink_metadata(&disk_path)?;
            let (cid, size) = if meta.file_type().is_symlink() {
                import_symlink(&disk_path, &mut sink)?
            } else if meta.is_file() {
                import_reader(fs::File::open(&disk_path)?, &mut sink)?
            } else if meta.is_dir() {
                pending.push((disk_path, child_path));
                continue;
            } else {
                return Err(unsupported_file_type(&disk_path));
            };
            builder.add(&child_path, cid, size).map_err(io::Error::other)?;
        }
    }
    let (cid, _) = builder.build(&mut sink).map_err(io::Error::other)?;
    Ok(cid)
}

fn import_symlink(path: &Path, sink: &mut impl FnMut(Block)) -> io::Result<(Cid, u64)> {
    let target = fs::read_link(path)?;
    let Some(target) = target.to_str() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("symlink target of {} is not UTF-8", path.display()),
        ));
    };
    let mut data = Vec::new();
    rust_unixfs::symlink::serialize_symlink_block(target, &mut data);
    let cid = cid_of(DAG_PB, &data);
    let size = data.len() as u64;
    sink(Block { cid, data });
    Ok((cid, size))
}

fn unsupported_file_type(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{} is not a regular file, directory or symlink", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_unixfs::file::adder::{BalancedCollector, Chunker, FileAdder};

    fn adder_blocks(data: &[u8], chunk: usize, links: usize) -> Vec<(Cid, Vec<u8>)> {
        let mut adder = FileAdder::builder()
            .with_chunker(Chunker::Size(chunk))
            .with_collector(BalancedCollector::with_branching_factor(links))
            .build();
        let mut out = Vec::new();
        let mut offset = 0;
        while offset < data.len() {
            let (blocks, used) = adder.push(&data[offset..]);
            out.extend(blocks);
            offset += used;
        }
        out.extend(adder.finish());
        out
    }

    /// Our layout must produce the same blocks, in the same order, as rust-unixfs's adder, also
    /// for trees several levels deep and for sizes just around level boundaries.
    #[test]
    fn layout_matches_rust_unixfs_adder() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        for (chunk, links) in [(4, 3), (7, 2), (16, 5), (1, 4)] {
            for len in [0, 1, chunk, chunk + 1, 3 * chunk, 9 * chunk, 9 * chunk + 1, 28 * chunk, 1000, 4000] {
                let input = &data[..len.min(data.len())];
                let expected = adder_blocks(input, chunk, links);
                let mut got = Vec::new();
                let mut importer = FileImporter::with_layout(chunk, links);
                // Odd push sizes exercise partial chunks.
                for piece in input.chunks(3) {
                    importer.push(piece, &mut |b: Block| got.push((b.cid, b.data)));
                }
                let (root, dag_size) = importer.finish(&mut |b: Block| got.push((b.cid, b.data)));
                assert_eq!(got, expected, "chunk {chunk} links {links} len {len}");
                assert_eq!(Some(root), expected.last().map(|b| b.0));
                let total: u64 = got.iter().map(|b| b.1.len() as u64).sum();
                assert_eq!(dag_size, total);
            }
        }
    }

    #[test]
    fn reader_and_push_agree() {
        let data: Vec<u8> = (0..(CHUNK_SIZE * 3 + 5)).map(|i| (i % 7) as u8).collect();
        let (cid, blocks) = import_bytes(&data);
        let mut count = 0;
        let (cid2, size) = import_reader(&data[..], |_| count += 1).expect("ok");
        assert_eq!(cid, cid2);
        assert_eq!(count, blocks.len());
        assert_eq!(size, blocks.iter().map(|b| b.data.len() as u64).sum::<u64>());
    }

    #[test]
    fn empty_directory_is_kubos() {
        let (cid, _) = DirectoryBuilder::new().build(|_| {}).expect("ok");
        assert_eq!(cid.to_string(), "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354");
        let mut with_empty = DirectoryBuilder::new();
        with_empty.add_directory("sub").expect("ok");
        let mut blocks = Vec::new();
        with_empty.build(|b| blocks.push(b)).expect("ok");
        assert_eq!(blocks[0].cid.to_string(), "bafybeiczsscdsbs7ffqz55asqdf3smv6klcw3gofszvwlyarci47bgf354");
    }

    #[test]
    fn directory_rejects_bad_paths() {
        let cid = cid_of(RAW, b"x");
        let mut dir = DirectoryBuilder::new();
        for bad in ["", "/a", "a/", "a//b", "../a", "a/./b", "a\0b"] {
            assert!(matches!(dir.add(bad, cid, 1), Err(DirectoryError::BadPath { .. })), "{bad:?}");
        }
        dir.add("a/b", cid, 1).expect("ok");
        dir.add("a/back\\slash", cid, 1).expect("a backslash is an ordinary character");
        assert!(matches!(dir.add("a/b", cid, 1), Err(DirectoryError::Duplicate(_))));
        assert!(matches!(dir.add("a/b/c", cid, 1), Err(DirectoryError::NotADirectory(_))));
    }
}
