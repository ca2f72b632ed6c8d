//! Walks over a UnixFS DAG whose blocks come from a [`BlockSource`].
//!
//! * [`dfs_blocks`]: the blocks under a root in DFS pre-order (link order, no duplicates),
//!   limited by a `dag-scope` ([`Scope::All`], [`Scope::Entity`], [`Scope::Block`]); this is the
//!   order of a CAR export.
//! * [`resolve_path`]: a path inside a directory (through HAMT shards) to a CID, with the blocks
//!   that prove it.
//! * [`read_range`]: a byte range of a file, skipping subtrees outside the range by their
//!   `blocksizes`, so reading the end of a large file touches a handful of blocks.
//! * [`export_to_dir`]: a whole DAG written out as files and directories.
//!
//! Every block read is re-hashed against its CID, so a corrupt store cannot feed wrong bytes into
//! an export. A malicious DAG cannot make a walk run forever: walks keep a visited set or the chain
//! of ancestors, stop at [`Limits::max_depth`], and count blocks against [`Limits::max_blocks`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::cid_util::{identity_data, is_identity, verify_block, BlockError};
pub use crate::node::Scope;
use crate::node::{
    check_entry_name, decode_node, decode_pb, hamt_step, DecodeError, DirEntry, HamtLink, HamtStep, NameError, Node,
};
use crate::{Block, Cid, DAG_PB, RAW};

/// A synchronous block store: the application implements it over its `blocks` table.
pub trait BlockSource {
    /// The store's error, boxed into [`WalkError::Source`].
    type Error: Into<Box<dyn std::error::Error + Send + Sync>>;

    /// The block's bytes, or `None` if the store does not have it.
    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Self::Error>;
}

impl<S: BlockSource + ?Sized> BlockSource for &S {
    type Error = S::Error;

    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Self::Error> {
        (**self).get(cid)
    }
}

impl BlockSource for HashMap<Cid, Vec<u8>> {
    type Error = std::convert::Infallible;

    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(HashMap::get(self, cid).cloned())
    }
}

impl BlockSource for BTreeMap<Cid, Vec<u8>> {
    type Error = std::convert::Infallible;

    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Self::Error> {
        Ok(BTreeMap::get(self, cid).cloned())
    }
}

/// Bounds on a walk, against DAGs built to exhaust time or memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest link chain followed (directory nesting, file tree levels and HAMT levels together).
    pub max_depth: usize,
    /// Most blocks read by one walk (repeated visits count again in exports and reads).
    pub max_blocks: u64,
}

/// Limits used by every walk that does not take its own: 64 levels (a Kubo file tree of 1 TiB is
/// 4 levels deep), 16 million blocks (4 TiB of 256 KiB leaves).
pub const DEFAULT_LIMITS: Limits = Limits { max_depth: 64, max_blocks: 16 * 1024 * 1024 };

impl Default for Limits {
    fn default() -> Self {
        DEFAULT_LIMITS
    }
}

/// Why a walk stopped.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// The block source failed.
    #[error("block source failed for {cid}: {source}")]
    Source {
        /// The block asked for.
        cid: Cid,
        /// The store's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A block the DAG links to is not in the source.
    #[error("block {0} is missing")]
    Missing(Cid),
    /// A block's bytes do not match its CID, or its codec or hash is unsupported.
    #[error("block {cid}: {source}")]
    BadBlock {
        /// The block.
        cid: Cid,
        /// What is wrong.
        source: BlockError,
    },
    /// A block is not valid dag-pb / UnixFS.
    #[error("block {cid}: {source}")]
    Decode {
        /// The block.
        cid: Cid,
        /// What is wrong (boxed to keep the error small).
        source: Box<DecodeError>,
    },
    /// The DAG is deeper than [`Limits::max_depth`].
    #[error("DAG deeper than {limit} levels at {cid}")]
    TooDeep {
        /// Where the limit was hit.
        cid: Cid,
        /// The limit.
        limit: usize,
    },
    /// The walk read more than [`Limits::max_blocks`] blocks.
    #[error("walk read more than {0} blocks")]
    TooManyBlocks(u64),
    /// A block links to one of its own ancestors.
    #[error("cycle: block {0} links back to an ancestor")]
    Cycle(Cid),
    /// A directory entry name is unsafe to create on disk.
    #[error("unsafe entry name {name:?} in {dir}: {source}")]
    UnsafeName {
        /// The directory.
        dir: Cid,
        /// The name.
        name: String,
        /// What is wrong with the name.
        source: NameError,
    },
    /// A directory has two entries with the same name.
    #[error("directory {dir} has two entries named {name:?}")]
    DuplicateName {
        /// The directory.
        dir: Cid,
        /// The repeated name.
        name: String,
    },
    /// A path segment is not in its directory.
    #[error("{path:?} not found")]
    NotFound {
        /// The path up to and including the missing segment.
        path: String,
    },
    /// A path goes through something that is not a directory.
    #[error("{path:?} is not a directory")]
    NotADirectory {
        /// The path up to the non-directory.
        path: String,
    },
    /// A byte read was asked of something that is not a file.
    #[error("{0} is not a file")]
    NotAFile(Cid),
    /// A file block holds a different amount of content than its parent says.
    #[error("block {cid} holds {actual} bytes of content, its parent says {expected}")]
    SizeMismatch {
        /// The block.
        cid: Cid,
        /// Size from the parent's blocksizes.
        expected: u64,
        /// Size of the block's content.
        actual: u64,
    },
    /// Writing the output failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

/// Reads a block from the source, verifies it against its CID and counts it against the limits.
struct Fetcher<'s, S: ?Sized> {
    source: &'s S,
    limits: Limits,
    blocks_read: u64,
}

impl<'s, S: BlockSource + ?Sized> Fetcher<'s, S> {
    fn new(source: &'s S, limits: Limits) -> Self {
        Fetcher { source, limits, blocks_read: 0 }
    }

    fn fetch(&mut self, cid: &Cid) -> Result<Vec<u8>, WalkError> {
        self.blocks_read += 1;
        if self.blocks_read > self.limits.max_blocks {
            return Err(WalkError::TooManyBlocks(self.limits.max_blocks));
        }
        if let Some(data) = identity_data(cid) {
            return check_block(cid, data);
        }
        match self.source.get(cid) {
            Ok(Some(data)) => check_block(cid, data),
            Ok(None) => Err(WalkError::Missing(*cid)),
            Err(e) => Err(WalkError::Source { cid: *cid, source: e.into() }),
        }
    }
}

fn check_block(cid: &Cid, data: Vec<u8>) -> Result<Vec<u8>, WalkError> {
    match verify_block(cid, &data) {
        Ok(()) => Ok(data),
        Err(source) => Err(WalkError::BadBlock { cid: *cid, source }),
    }
}

fn decode<'a>(cid: &Cid, data: &'a [u8]) -> Result<Node<'a>, WalkError> {
    decode_node(cid, data).map_err(|source| WalkError::Decode { cid: *cid, source: Box::new(source) })
}

/// The blocks under `root` in DFS pre-order, restricted to `scope`, with the default limits.
///
/// Lazy: each `next` reads one block. Identity CIDs are followed but not yielded (their block is
/// the CID itself). After an error the iterator ends.
pub fn dfs_blocks<'s, S: BlockSource + ?Sized>(source: &'s S, root: &Cid, scope: Scope) -> DfsBlocks<'s, S> {
    DfsBlocks::new(source, root, scope, DEFAULT_LIMITS)
}

/// Iterator returned by [`dfs_blocks`].
pub struct DfsBlocks<'s, S: ?Sized> {
    fetcher: Fetcher<'s, S>,
    scope: Scope,
    /// Blocks still to visit, with their depth; the next one is on top.
    stack: Vec<(Cid, usize)>,
    visited: HashSet<Cid>,
    done: bool,
}

impl<'s, S: BlockSource + ?Sized> DfsBlocks<'s, S> {
    /// A DFS walk with explicit limits.
    pub fn new(source: &'s S, root: &Cid, scope: Scope, limits: Limits) -> Self {
        DfsBlocks {
            fetcher: Fetcher::new(source, limits),
            scope,
            stack: vec![(*root, 0)],
            visited: HashSet::new(),
            done: false,
        }
    }

    fn step(&mut self) -> Result<Option<Block>, WalkError> {
        while let Some((cid, depth)) = self.stack.pop() {
            // A block reached twice (the same chunk twice in a file, the same image in two
            // articles) is written once; this also ends any cycle.
            if !self.visited.insert(cid) {
                continue;
            }
            if depth > self.fetcher.limits.max_depth {
                return Err(WalkError::TooDeep { cid, limit: self.fetcher.limits.max_depth });
            }
            let data = self.fetcher.fetch(&cid)?;
            let links = match (self.scope, cid.codec()) {
                (Scope::Block, _) | (_, RAW) => Vec::new(),
                // `All` follows any dag-pb links, UnixFS or not.
                (Scope::All, DAG_PB) => decode_pb(&data)
                    .map_err(|source| WalkError::Decode { cid, source: Box::new(source) })?
                    .links
                    .into_iter()
                    .map(|link| link.cid)
                    .collect(),
                (scope, _) => decode(&cid, &data)?.links_in_scope(scope),
            };
            self.stack.extend(links.into_iter().rev().map(|link| (link, depth + 1)));
            if is_identity(&cid) {
                continue;
            }
            return Ok(Some(Block { cid, data }));
        }
        Ok(None)
    }
}

impl<S: BlockSource + ?Sized> Iterator for DfsBlocks<'_, S> {
    type Item = Result<Block, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(block)) => Some(Ok(block)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The result of [`resolve_path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The CID the path names.
    pub cid: Cid,
    /// The blocks read to get there, in order (the root, intermediate directories and the HAMT
    /// shards on the way), without the target: a trustless gateway sends these before the
    /// target's blocks.
    pub traversed: Vec<Cid>,
}

/// Resolves a `/`-separated path (empty segments ignored) inside the directory `root`.
pub fn resolve_path<S: BlockSource + ?Sized>(source: &S, root: &Cid, path: &str) -> Result<Resolved, WalkError> {
    let mut fetcher = Fetcher::new(source, DEFAULT_LIMITS);
    let mut current = *root;
    let mut traversed = Vec::new();
    let mut walked = String::new();
    let mut depth = 0;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        if !walked.is_empty() {
            walked.push('/');
        }
        walked.push_str(segment);
        let data = fetcher.fetch(&current)?;
        traversed.push(current);
        depth += 1;
        let next = match decode(&current, &data)? {
            Node::Directory(entries) => entries.into_iter().find(|entry| entry.name == segment).map(|entry| entry.cid),
            Node::HamtShard(root_shard) => hamt_lookup(&mut fetcher, root_shard, segment, &mut traversed, &mut depth)?,
            _ => return Err(WalkError::NotADirectory { path: walked }),
        };
        if depth > fetcher.limits.max_depth {
            return Err(WalkError::TooDeep { cid: current, limit: fetcher.limits.max_depth });
        }
        match next {
            Some(cid) => current = cid,
            None => return Err(WalkError::NotFound { path: walked }),
        }
    }
    Ok(Resolved { cid: current, traversed })
}

fn hamt_lookup<S: BlockSource + ?Sized>(
    fetcher: &mut Fetcher<'_, S>,
    root_shard: crate::node::HamtShard,
    name: &str,
    traversed: &mut Vec<Cid>,
    depth: &mut usize,
) -> Result<Option<Cid>, WalkError> {
    let mut shard = root_shard;
    let mut level = 0u32;
    loop {
        match hamt_step(&shard, name, level) {
            // Out of hash bits: no valid shard is that deep, so the name cannot be in it.
            None | Some(HamtStep::NotFound) => return Ok(None),
            Some(HamtStep::Found(entry)) => return Ok(Some(entry.cid)),
            Some(HamtStep::Descend(cid)) => {
                let data = fetcher.fetch(&cid)?;
                traversed.push(cid);
                *depth += 1;
                level += 1;
                shard = match decode(&cid, &data)? {
                    Node::HamtShard(next) => next,
                    _ => {
                        return Err(WalkError::Decode {
                            cid,
                            source: Box::new(DecodeError::UnixFs("HAMT sub-shard is not a HAMT shard")),
                        })
                    }
                };
            }
        }
    }
}

/// Lists a directory (flat or HAMT-sharded) in link order, names unchecked.
pub fn list_directory<S: BlockSource + ?Sized>(source: &S, dir: &Cid) -> Result<Vec<DirEntry>, WalkError> {
    let mut fetcher = Fetcher::new(source, DEFAULT_LIMITS);
    list_with(&mut fetcher, dir)
}

fn list_with<S: BlockSource + ?Sized>(fetcher: &mut Fetcher<'_, S>, dir: &Cid) -> Result<Vec<DirEntry>, WalkError> {
    let data = fetcher.fetch(dir)?;
    match decode(dir, &data)? {
        Node::Directory(entries) => Ok(entries),
        Node::HamtShard(shard) => {
            let mut entries = Vec::new();
            collect_hamt(fetcher, shard, 0, &mut vec![*dir], &mut entries)?;
            Ok(entries)
        }
        _ => Err(WalkError::NotADirectory { path: dir.to_string() }),
    }
}

fn collect_hamt<S: BlockSource + ?Sized>(
    fetcher: &mut Fetcher<'_, S>,
    shard: crate::node::HamtShard,
    depth: usize,
    ancestors: &mut Vec<Cid>,
    out: &mut Vec<DirEntry>,
) -> Result<(), WalkError> {
    for link in shard.links {
        match link {
            HamtLink::Entry { entry, .. } => out.push(entry),
            HamtLink::Shard { cid, .. } => {
                if ancestors.contains(&cid) {
                    return Err(WalkError::Cycle(cid));
                }
                if depth + 1 > fetcher.limits.max_depth {
                    return Err(WalkError::TooDeep { cid, limit: fetcher.limits.max_depth });
                }
                let data = fetcher.fetch(&cid)?;
                let Node::HamtShard(child) = decode(&cid, &data)? else {
                    return Err(WalkError::Decode {
                        cid,
                        source: Box::new(DecodeError::UnixFs("HAMT sub-shard is not a HAMT shard")),
                    });
                };
                ancestors.push(cid);
                collect_hamt(fetcher, child, depth + 1, ancestors, out)?;
                ancestors.pop();
            }
        }
    }
    Ok(())
}

/// Content size of a file (raw leaf or UnixFS file), from its root block alone.
pub fn file_size<S: BlockSource + ?Sized>(source: &S, file: &Cid) -> Result<u64, WalkError> {
    let mut fetcher = Fetcher::new(source, DEFAULT_LIMITS);
    let data = fetcher.fetch(file)?;
    decode(file, &data)?.file_size().ok_or(WalkError::NotAFile(*file))
}

/// Writes bytes `range` of the file `file` to `out` (the range is clipped to the file size) and
/// returns the number of bytes written. Only blocks overlapping the range are read.
pub fn read_range<S: BlockSource + ?Sized>(
    source: &S,
    file: &Cid,
    range: Range<u64>,
    out: &mut impl Write,
) -> Result<u64, WalkError> {
    let mut fetcher = Fetcher::new(source, DEFAULT_LIMITS);
    let mut ancestors = Vec::new();
    read_file(&mut fetcher, file, range, None, &mut ancestors, out)
}

fn read_file<S: BlockSource + ?Sized>(
    fetcher: &mut Fetcher<'_, S>,
    cid: &Cid,
    range: Range<u64>,
    expected_size: Option<u64>,
    ancestors: &mut Vec<Cid>,
    out: &mut impl Write,
) -> Result<u64, WalkError> {
    if ancestors.contains(cid) {
        return Err(WalkError::Cycle(*cid));
    }
    if ancestors.len() > fetcher.limits.max_depth {
        return Err(WalkError::TooDeep { cid: *cid, limit: fetcher.limits.max_depth });
    }
    let data = fetcher.fetch(cid)?;
    let node = decode(cid, &data)?;
    let size = node.file_size().ok_or(WalkError::NotAFile(*cid))?;
    if let Some(expected) = expected_size {
        if expected != size {
            return Err(WalkError::SizeMismatch { cid: *cid, expected, actual: size });
        }
    }
    let range = range.start.min(size)..range.end.min(size);
    if range.is_empty() {
        return Ok(0);
    }
    match node {
        Node::Raw(bytes) => {
            // The range was clipped to the block length above.
            let part = &bytes[range.start as usize..range.end as usize];
            out.write_all(part)?;
            Ok(part.len() as u64)
        }
        Node::File(file) => {
            let mut written = 0;
            if let Some(inline) = file.data_range(&range) {
                out.write_all(&file.data[inline.clone()])?;
                written += inline.len() as u64;
            }
            ancestors.push(*cid);
            for (child, child_range) in file.children_in_range(range) {
                written += read_file(fetcher, &child.cid, child_range, Some(child.blocksize), ancestors, out)?;
            }
            ancestors.pop();
            Ok(written)
        }
        _ => Err(WalkError::NotAFile(*cid)),
    }
}

/// What [`export_to_dir`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Regular files written.
    pub files: u64,
    /// Directories created (including the root, if it is one).
    pub directories: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// File content bytes written.
    pub bytes: u64,
}

/// Writes the DAG `root` to `dest`, which must not exist: a directory becomes a directory tree, a
/// file a file, a symlink a symlink (created as stored, never followed).
///
/// Entry names must be single safe path components (no empty name, `.`, `..`, `/`, `\` or NUL)
/// and unique within their directory. Files and directories are created with "must not exist"
/// semantics, so nothing is ever written through an existing path or a symlink made by the export.
pub fn export_to_dir<S: BlockSource + ?Sized>(source: &S, root: &Cid, dest: &Path) -> Result<ExportStats, WalkError> {
    export_to_dir_with_limits(source, root, dest, DEFAULT_LIMITS)
}

/// [`export_to_dir`] with explicit limits. A DAG that reuses a subtree is exported once per
/// use, so `max_blocks` is what bounds a DAG built to fan out exponentially.
pub fn export_to_dir_with_limits<S: BlockSource + ?Sized>(
    source: &S,
    root: &Cid,
    dest: &Path,
    limits: Limits,
) -> Result<ExportStats, WalkError> {
    let mut fetcher = Fetcher::new(source, limits);
    let mut stats = ExportStats::default();
    let mut ancestors = Vec::new();
    export_entry(&mut fetcher, root, dest.to_path_buf(), &mut ancestors, &mut stats)?;
    Ok(stats)
}

fn export_entry<S: BlockSource + ?Sized>(
    fetcher: &mut Fetcher<'_, S>,
    cid: &Cid,
    dest: PathBuf,
    ancestors: &mut Vec<Cid>,
    stats: &mut ExportStats,
) -> Result<(), WalkError> {
    if ancestors.contains(cid) {
        return Err(WalkError::Cycle(*cid));
    }
    if ancestors.len() > fetcher.limits.max_depth {
        return Err(WalkError::TooDeep { cid: *cid, limit: fetcher.limits.max_depth });
    }
    let data = fetcher.fetch(cid)?;
    let node = decode(cid, &data)?;
    match node {
        Node::Raw(_) | Node::File(_) => {
            let file = fs::OpenOptions::new().write(true).create_new(true).open(&dest)?;
            let mut out = BufWriter::with_capacity(256 * 1024, file);
            // The root block is read a second time here; the walk itself stays simple.
            let written = read_file(fetcher, cid, 0..u64::MAX, None, ancestors, &mut out)?;
            // Flushed, not synced: durability is the caller's choice (7000 fsyncs take minutes).
            out.flush()?;
            stats.files += 1;
            stats.bytes += written;
        }
        Node::Symlink(target) => {
            make_symlink(target, &dest)?;
            stats.symlinks += 1;
        }
        Node::Directory(_) | Node::HamtShard(_) => {
            drop(data);
            let entries = list_with(fetcher, cid)?;
            let mut names = HashSet::with_capacity(entries.len());
            for entry in &entries {
                if let Err(source) = check_entry_name(&entry.name) {
                    return Err(WalkError::UnsafeName { dir: *cid, name: entry.name.clone(), source });
                }
                if !names.insert(entry.name.as_str()) {
                    return Err(WalkError::DuplicateName { dir: *cid, name: entry.name.clone() });
                }
            }
            fs::create_dir(&dest)?;
            stats.directories += 1;
            ancestors.push(*cid);
            for entry in &entries {
                export_entry(fetcher, &entry.cid, dest.join(&entry.name), ancestors, stats)?;
            }
            ancestors.pop();
        }
    }
    Ok(())
}

#[cfg(unix)]
fn make_symlink(target: &[u8], dest: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(target), dest)
}

#[cfg(not(unix))]
fn make_symlink(_target: &[u8], dest: &Path) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, format!("cannot create symlink {} on this system", dest.display())))
}

/// The blocks a trustless gateway sends for `root/path` with the given scope: the blocks
/// traversed to resolve the path, then the target's blocks in DFS order, without duplicates.
///
/// The path is resolved (and its few blocks read) before this returns; the target's blocks are
/// read lazily by the returned iterator.
pub fn blocks_for_path<'s, S: BlockSource + ?Sized>(
    source: &'s S,
    root: &Cid,
    path: &str,
    scope: Scope,
) -> Result<(Resolved, impl Iterator<Item = Result<Block, WalkError>> + 's), WalkError> {
    let resolved = resolve_path(source, root, path)?;
    let mut fetcher = Fetcher::new(source, DEFAULT_LIMITS);
    let mut seen = HashSet::new();
    let mut path_blocks = Vec::new();
    for cid in &resolved.traversed {
        if seen.insert(*cid) && !is_identity(cid) {
            path_blocks.push(Ok(Block { cid: *cid, data: fetcher.fetch(cid)? }));
        }
    }
    let target = dfs_blocks(source, &resolved.cid, scope).filter(move |block| match block {
        Ok(block) => seen.insert(block.cid),
        Err(_) => true,
    });
    Ok((resolved, path_blocks.into_iter().chain(target)))
}
