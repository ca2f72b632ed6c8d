//! Decoding one block: strict dag-pb, then its UnixFS meaning.
//!
//! These are the pure pieces of every walk: given `(cid, bytes)`, [`decode_node`] says whether the
//! block is a raw leaf, a file node (with its children and their content sizes), a directory (named
//! links), a HAMT shard or a symlink, and [`Node::links_in_scope`] says which links a walk follows.
//! The web server uses them to walk asynchronously against its database; [`crate::walk`] uses them
//! over a synchronous [`crate::walk::BlockSource`].
//!
//! The dag-pb decoder is our own, written to the dag-pb spec's strictness rules (Links before
//! Data, fields of a link in order, no unknown or repeated fields): the `ipld-dagpb` crate accepts
//! Data before Links and repeated fields, and `rust-unixfs` keeps its decoder private. Every
//! length is checked against the input, so no input can make it panic or allocate more than a
//! small multiple of the block size.

use std::ops::Range;

use crate::cid_util::{cid_from_bytes, CidError};
use crate::{Cid, DAG_PB, RAW};

/// A dag-pb node, as the bytes say, before any UnixFS interpretation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbNode<'a> {
    /// Links, in block order.
    pub links: Vec<PbLink<'a>>,
    /// The Data field (for UnixFS, a serialized `Data` message).
    pub data: Option<&'a [u8]>,
}

/// One dag-pb link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PbLink<'a> {
    /// Target of the link.
    pub cid: Cid,
    /// Link name: the entry name in directories, empty in files.
    pub name: Option<&'a str>,
    /// Cumulative size of the target DAG, as claimed by the writer.
    pub tsize: Option<u64>,
}

/// What one block means for UnixFS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node<'a> {
    /// A raw block (codec 0x55): all of it is file content.
    Raw(&'a [u8]),
    /// A UnixFS file node: inline content followed by the content of its children.
    File(FileNode<'a>),
    /// A flat UnixFS directory.
    Directory(Vec<DirEntry>),
    /// One node of a HAMT-sharded directory.
    HamtShard(HamtShard),
    /// A UnixFS symlink; the payload is the link target.
    Symlink(&'a [u8]),
}

/// A UnixFS file node (type File, or the legacy type Raw).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileNode<'a> {
    /// Content stored in the node itself, before the children's content.
    pub data: &'a [u8],
    /// Total content size of this subtree: `data.len()` plus the children's block sizes.
    pub filesize: u64,
    /// Children, in content order.
    pub children: Vec<FileChild>,
}

/// A child of a file node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChild {
    /// The child block (raw leaf or file node).
    pub cid: Cid,
    /// Content bytes under this child (UnixFS `blocksizes`), used to skip subtrees.
    pub blocksize: u64,
    /// Cumulative DAG size claimed by the link.
    pub tsize: Option<u64>,
}

/// A named entry of a directory (flat, or found in a HAMT shard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Entry name, as stored (not yet checked for safety: see [`check_entry_name`]).
    pub name: String,
    /// Target of the entry.
    pub cid: Cid,
    /// Cumulative DAG size claimed by the link.
    pub tsize: Option<u64>,
}

/// One node of a HAMT-sharded directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HamtShard {
    /// Number of buckets per node (a power of two).
    pub fanout: u64,
    /// Links, in block order.
    pub links: Vec<HamtLink>,
}

/// A link of a HAMT shard node: a sub-shard or a directory entry, under a bucket index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HamtLink {
    /// A deeper shard node holding every entry of this bucket.
    Shard {
        /// Bucket index (the link name's hex prefix).
        index: u64,
        /// The sub-shard node.
        cid: Cid,
    },
    /// A directory entry stored directly in this bucket.
    Entry {
        /// Bucket index (the link name's hex prefix).
        index: u64,
        /// The entry (name without the hex prefix).
        entry: DirEntry,
    },
}

/// The `dag-scope` of a walk, as in the IPFS trustless gateway spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every block reachable from the root.
    All,
    /// The blocks needed to read the root entity: all blocks of a file; only the node(s) of a
    /// directory (all HAMT shard nodes, none of the entries).
    Entity,
    /// Only the root block.
    Block,
}

impl std::str::FromStr for Scope {
    type Err = UnknownScope;

    /// Parses the `dag-scope` query parameter of the trustless gateway spec.
    fn from_str(s: &str) -> Result<Scope, UnknownScope> {
        match s {
            "all" => Ok(Scope::All),
            "entity" => Ok(Scope::Entity),
            "block" => Ok(Scope::Block),
            _ => Err(UnknownScope),
        }
    }
}

/// A `dag-scope` other than `all`, `entity` or `block`.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("dag-scope must be all, entity or block")]
pub struct UnknownScope;

/// Why a block could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The CID's codec is neither raw nor dag-pb.
    #[error("unsupported codec 0x{0:x} (only raw 0x55 and dag-pb 0x70)")]
    UnsupportedCodec(u64),
    /// The bytes break the protobuf encoding or the dag-pb strictness rules.
    #[error("invalid dag-pb at byte {offset}: {reason}")]
    Protobuf {
        /// Offset into the block (or into the UnixFS Data for UnixFS errors).
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A link's Hash is not a CID.
    #[error("link {index}: bad CID: {source}")]
    LinkCid {
        /// Link index.
        index: usize,
        /// Why the CID was refused.
        source: CidError,
    },
    /// A link has no Hash.
    #[error("link {0}: missing Hash")]
    MissingHash(usize),
    /// A link name is not UTF-8.
    #[error("link {0}: name is not UTF-8")]
    LinkNameNotUtf8(usize),
    /// The dag-pb node has no UnixFS Data.
    #[error("dag-pb node has no UnixFS Data")]
    NotUnixFs,
    /// The UnixFS message is invalid.
    #[error("invalid UnixFS Data: {0}")]
    UnixFs(&'static str),
    /// The UnixFS type is one we do not handle (Metadata, or unknown).
    #[error("unsupported UnixFS type {0}")]
    UnsupportedType(u64),
    /// A file node's links and blocksizes disagree in number.
    #[error("file node has {links} links but {blocksizes} blocksizes")]
    BlocksizesMismatch {
        /// Number of links.
        links: usize,
        /// Number of blocksizes.
        blocksizes: usize,
    },
    /// A file node's declared size is not its inline data plus its blocksizes.
    #[error("file node declares {declared} bytes but its parts add up to {computed:?}")]
    FileSizeMismatch {
        /// UnixFS `filesize`.
        declared: u64,
        /// Inline data plus blocksizes, `None` on overflow.
        computed: Option<u64>,
    },
    /// A directory or HAMT link has no name.
    #[error("link {0}: directory link without a name")]
    MissingName(usize),
    /// A HAMT shard uses a hash other than murmur3-x64-64 (0x22).
    #[error("HAMT hash type 0x{0:x} is not murmur3-x64-64 (0x22)")]
    HamtHashType(u64),
    /// A HAMT shard's fanout is not a power of two in 2..=1024.
    #[error("HAMT fanout {0} is not a power of two in 2..=1024")]
    HamtFanout(u64),
    /// A HAMT link name does not start with a valid bucket index.
    #[error("link {0}: HAMT link name has no valid bucket prefix")]
    HamtLinkName(usize),
}

/// Multihash code of murmur3-x64-64, the HAMT hash of UnixFS.
pub const HAMT_HASH_MURMUR3: u64 = 0x22;

const UNIXFS_RAW: u64 = 0;
const UNIXFS_DIRECTORY: u64 = 1;
const UNIXFS_FILE: u64 = 2;
const UNIXFS_SYMLINK: u64 = 4;
const UNIXFS_HAMT: u64 = 5;

/// Decodes a dag-pb block strictly (no UnixFS interpretation).
pub fn decode_pb(bytes: &[u8]) -> Result<PbNode<'_>, DecodeError> {
    let mut reader = PbReader::new(bytes);
    let mut links = Vec::new();
    let mut data = None;
    while !reader.is_empty() {
        let (field, wire) = reader.key()?;
        match (field, wire) {
            (2, WIRE_LEN) => {
                if data.is_some() {
                    return Err(reader.error("Links after Data"));
                }
                let base = reader.pos;
                let bytes = reader.len_delimited()?;
                links.push(decode_link(bytes, base, links.len())?);
            }
            (1, WIRE_LEN) => {
                if data.is_some() {
                    return Err(reader.error("repeated Data field"));
                }
                data = Some(reader.len_delimited()?);
            }
            _ => return Err(reader.error("unknown field in PBNode")),
        }
    }
    Ok(PbNode { links, data })
}

fn decode_link(bytes: &[u8], base: usize, index: usize) -> Result<PbLink<'_>, DecodeError> {
    let mut reader = PbReader::new(bytes);
    reader.base = base;
    let mut cid = None;
    let mut name = None;
    let mut tsize = None;
    // The spec requires fields 1, 2, 3 in that order, each at most once.
    let mut last_field = 0;
    while !reader.is_empty() {
        let (field, wire) = reader.key()?;
        if field <= last_field {
            return Err(reader.error("PBLink fields out of order or repeated"));
        }
        last_field = field;
        match (field, wire) {
            (1, WIRE_LEN) => {
                let hash = reader.len_delimited()?;
                match cid_from_bytes(hash) {
                    Ok(c) => cid = Some(c),
                    Err(source) => return Err(DecodeError::LinkCid { index, source }),
                }
            }
            (2, WIRE_LEN) => {
                let raw = reader.len_delimited()?;
                match std::str::from_utf8(raw) {
                    Ok(s) => name = Some(s),
                    Err(_) => return Err(DecodeError::LinkNameNotUtf8(index)),
                }
            }
            (3, WIRE_VARINT) => tsize = Some(reader.varint()?),
            _ => return Err(reader.error("unknown field in PBLink")),
        }
    }
    match cid {
        Some(cid) => Ok(PbLink { cid, name, tsize }),
        None => Err(DecodeError::MissingHash(index)),
    }
}

/// Decodes one block into its UnixFS meaning. Does not check the hash: see
/// [`crate::verify_block`].
pub fn decode_node<'a>(cid: &Cid, block: &'a [u8]) -> Result<Node<'a>, DecodeError> {
    match cid.codec() {
        RAW => Ok(Node::Raw(block)),
        DAG_PB => decode_unixfs(decode_pb(block)?),
        codec => Err(DecodeError::UnsupportedCodec(codec)),
    }
}

/// The UnixFS `Data` message, as far as we need it.
#[derive(Default)]
struct UnixFsData<'a> {
    kind: Option<u64>,
    data: Option<&'a [u8]>,
    filesize: Option<u64>,
    blocksizes: Vec<u64>,
    hash_type: Option<u64>,
    fanout: Option<u64>,
}

fn decode_unixfs_data(bytes: &[u8]) -> Result<UnixFsData<'_>, DecodeError> {
    // UnixFS is plain proto2: any field order, last value wins, unknown fields (mode, mtime, and
    // future ones) are skipped by wire type.
    let mut reader = PbReader::new(bytes);
    let mut out = UnixFsData::default();
    while !reader.is_empty() {
        let (field, wire) = reader.key()?;
        match (field, wire) {
            (1, WIRE_VARINT) => out.kind = Some(reader.varint()?),
            (2, WIRE_LEN) => out.data = Some(reader.len_delimited()?),
            (3, WIRE_VARINT) => out.filesize = Some(reader.varint()?),
            (4, WIRE_VARINT) => out.blocksizes.push(reader.varint()?),
            (4, WIRE_LEN) => {
                // Packed encoding; every varint is at least one byte, so this is bounded.
                let packed = reader.len_delimited()?;
                let mut inner = PbReader::new(packed);
                while !inner.is_empty() {
                    out.blocksizes.push(inner.varint()?);
                }
            }
            (5, WIRE_VARINT) => out.hash_type = Some(reader.varint()?),
            (6, WIRE_VARINT) => out.fanout = Some(reader.varint()?),
            (1..=6, _) => return Err(reader.error("wrong wire type for a UnixFS field")),
            _ => reader.skip(wire)?,
        }
    }
    Ok(out)
}

fn decode_unixfs(pb: PbNode<'_>) -> Result<Node<'_>, DecodeError> {
    let Some(raw_data) = pb.data else {
        return Err(DecodeError::NotUnixFs);
    };
    let unixfs = decode_unixfs_data(raw_data)?;
    let Some(kind) = unixfs.kind else {
        return Err(DecodeError::UnixFs("missing Type"));
    };
    match kind {
        UNIXFS_FILE | UNIXFS_RAW => decode_file(pb.links, unixfs),
        UNIXFS_DIRECTORY => {
            let mut entries = Vec::with_capacity(pb.links.len());
            for (index, link) in pb.links.into_iter().enumerate() {
                let Some(name) = link.name else {
                    return Err(DecodeError::MissingName(index));
                };
                entries.push(DirEntry { name: name.to_string(), cid: link.cid, tsize: link.tsize });
            }
            Ok(Node::Directory(entries))
        }
        UNIXFS_HAMT => decode_hamt(pb.links, unixfs).map(Node::HamtShard),
        UNIXFS_SYMLINK => {
            if !pb.links.is_empty() {
                return Err(DecodeError::UnixFs("symlink with links"));
            }
            Ok(Node::Symlink(unixfs.data.unwrap_or_default()))
        }
        other => Err(DecodeError::UnsupportedType(other)),
    }
}

fn decode_file<'a>(links: Vec<PbLink<'a>>, unixfs: UnixFsData<'a>) -> Result<Node<'a>, DecodeError> {
    if links.len() != unixfs.blocksizes.len() {
        return Err(DecodeError::BlocksizesMismatch { links: links.len(), blocksizes: unixfs.blocksizes.len() });
    }
    let data = unixfs.data.unwrap_or_default();
    let computed = unixfs.blocksizes.iter().try_fold(data.len() as u64, |acc, &size| acc.checked_add(size));
    let filesize = match (unixfs.filesize, computed) {
        (Some(declared), Some(sum)) if declared == sum => declared,
        (None, Some(sum)) => sum,
        (declared, computed) => {
            return Err(DecodeError::FileSizeMismatch { declared: declared.unwrap_or_default(), computed })
        }
    };
    let children = links
        .into_iter()
        .zip(unixfs.blocksizes)
        .map(|(link, blocksize)| FileChild { cid: link.cid, blocksize, tsize: link.tsize })
        .collect();
    Ok(Node::File(FileNode { data, filesize, children }))
}

fn decode_hamt(links: Vec<PbLink<'_>>, unixfs: UnixFsData<'_>) -> Result<HamtShard, DecodeError> {
    let hash_type = unixfs.hash_type.unwrap_or_default();
    if hash_type != HAMT_HASH_MURMUR3 {
        return Err(DecodeError::HamtHashType(hash_type));
    }
    let fanout = unixfs.fanout.unwrap_or_default();
    if !(2..=1024).contains(&fanout) || !fanout.is_power_of_two() {
        return Err(DecodeError::HamtFanout(fanout));
    }
    let prefix_len = hamt_prefix_len(fanout);
    let mut out = Vec::with_capacity(links.len());
    for (index, link) in links.into_iter().enumerate() {
        let Some(name) = link.name else {
            return Err(DecodeError::MissingName(index));
        };
        let (prefix, rest) = match (name.get(..prefix_len), name.get(prefix_len..)) {
            (Some(prefix), Some(rest)) => (prefix, rest),
            _ => return Err(DecodeError::HamtLinkName(index)),
        };
        let bucket = match u64::from_str_radix(prefix, 16) {
            Ok(bucket) if bucket < fanout && prefix.bytes().all(|b| b.is_ascii_hexdigit()) => bucket,
            _ => return Err(DecodeError::HamtLinkName(index)),
        };
        if rest.is_empty() {
            out.push(HamtLink::Shard { index: bucket, cid: link.cid });
        } else {
            out.push(HamtLink::Entry {
                index: bucket,
                entry: DirEntry { name: rest.to_string(), cid: link.cid, tsize: link.tsize },
            });
        }
    }
    Ok(HamtShard { fanout, links: out })
}

/// Length of the hex bucket prefix of HAMT link names: the hex digits of `fanout - 1`
/// (2 for the usual fanout of 256), as go-unixfs writes them.
fn hamt_prefix_len(fanout: u64) -> usize {
    format!("{:X}", fanout.saturating_sub(1)).len()
}

impl Node<'_> {
    /// Every link of the node, in block order.
    pub fn links(&self) -> Vec<Cid> {
        match self {
            Node::Raw(_) | Node::Symlink(_) => Vec::new(),
            Node::File(file) => file.children.iter().map(|c| c.cid).collect(),
            Node::Directory(entries) => entries.iter().map(|e| e.cid).collect(),
            Node::HamtShard(shard) => shard.links.iter().map(HamtLink::cid).collect(),
        }
    }

    /// The links a walk of the given scope follows from this node, in block order.
    ///
    /// For [`Scope::Entity`] the rule is local: file nodes lead to their children (all part of
    /// the same file), HAMT shards lead to their sub-shards (part of the same directory), and
    /// nothing else is followed.
    pub fn links_in_scope(&self, scope: Scope) -> Vec<Cid> {
        match scope {
            Scope::All => self.links(),
            Scope::Block => Vec::new(),
            Scope::Entity => match self {
                Node::File(file) => file.children.iter().map(|c| c.cid).collect(),
                Node::HamtShard(shard) => shard
                    .links
                    .iter()
                    .filter_map(|link| match link {
                        HamtLink::Shard { cid, .. } => Some(*cid),
                        HamtLink::Entry { .. } => None,
                    })
                    .collect(),
                Node::Raw(_) | Node::Directory(_) | Node::Symlink(_) => Vec::new(),
            },
        }
    }

    /// Content size for file-like nodes (raw or file), `None` otherwise.
    pub fn file_size(&self) -> Option<u64> {
        match self {
            Node::Raw(bytes) => Some(bytes.len() as u64),
            Node::File(file) => Some(file.filesize),
            _ => None,
        }
    }
}

impl HamtLink {
    /// The link target.
    pub fn cid(&self) -> Cid {
        match self {
            HamtLink::Shard { cid, .. } => *cid,
            HamtLink::Entry { entry, .. } => entry.cid,
        }
    }
}

impl FileNode<'_> {
    /// The children that hold some of the content `range` (offsets relative to this node's
    /// start), each with the part of the range that falls inside it (relative to the child).
    /// The inline `data` is not included; slice it yourself with [`FileNode::data_range`].
    pub fn children_in_range(&self, range: Range<u64>) -> Vec<(FileChild, Range<u64>)> {
        let mut out = Vec::new();
        let mut start = self.data.len() as u64;
        for child in &self.children {
            // Sizes were checked to add up without overflow when the node was decoded.
            let end = start.saturating_add(child.blocksize);
            if end > range.start && start < range.end && child.blocksize > 0 {
                let from = range.start.max(start) - start;
                let to = range.end.min(end) - start;
                out.push((child.clone(), from..to));
            }
            if start >= range.end {
                break;
            }
            start = end;
        }
        out
    }

    /// The part of `range` that falls inside the inline data, as indices into `data`.
    pub fn data_range(&self, range: &Range<u64>) -> Option<Range<usize>> {
        let len = self.data.len() as u64;
        if range.start >= len || range.start >= range.end {
            return None;
        }
        let end = range.end.min(len);
        Some(range.start as usize..end as usize)
    }
}

impl HamtShard {
    /// Bits of the name hash consumed per shard level: log2(fanout).
    pub fn bits_per_level(&self) -> u32 {
        self.fanout.trailing_zeros()
    }
}

/// What a HAMT shard node says about a name: where to go next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HamtStep {
    /// The entry is in this node.
    Found(DirEntry),
    /// The entry, if it exists, is under this sub-shard (one level deeper).
    Descend(Cid),
    /// The name is not in the directory.
    NotFound,
}

/// The 64-bit HAMT hash of an entry name: the first half of murmur3-x64-128 with seed 0, as
/// go-unixfs computes it, read most significant bit first.
pub fn hamt_hash(name: &str) -> u64 {
    let mut cursor = std::io::Cursor::new(name.as_bytes());
    // Reading from an in-memory cursor cannot fail.
    let full = murmur3::murmur3_x64_128(&mut cursor, 0).unwrap_or_default();
    full as u64
}

/// Looks `name` up in one HAMT shard node at `depth` (0 for the directory's root shard).
///
/// Returns `None` when the 64-bit hash has no bits left for this depth, which only a malicious
/// or broken DAG can cause.
pub fn hamt_step(shard: &HamtShard, name: &str, depth: u32) -> Option<HamtStep> {
    let bits = shard.bits_per_level();
    let start = depth.checked_mul(bits)?;
    let end = start.checked_add(bits)?;
    if end > 64 || bits == 0 {
        return None;
    }
    let hash = hamt_hash(name);
    let bucket = (hash << start) >> (64 - bits);
    for link in &shard.links {
        match link {
            HamtLink::Shard { index, cid } if *index == bucket => return Some(HamtStep::Descend(*cid)),
            HamtLink::Entry { index, entry } if *index == bucket && entry.name == name => {
                return Some(HamtStep::Found(entry.clone()))
            }
            _ => {}
        }
    }
    Some(HamtStep::NotFound)
}

/// Why an entry name is unsafe to create on disk.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// Empty name.
    #[error("empty name")]
    Empty,
    /// `.` or `..`.
    #[error("name is a relative path component")]
    Dots,
    /// Contains `/` (or `\`, a separator on other systems).
    #[error("name contains a path separator")]
    Separator,
    /// Contains NUL.
    #[error("name contains NUL")]
    Nul,
}

/// Checks that a directory entry name is a single, harmless path component.
pub fn check_entry_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name == "." || name == ".." {
        return Err(NameError::Dots);
    }
    if name.contains('/') || name.contains('\\') {
        return Err(NameError::Separator);
    }
    if name.contains('\0') {
        return Err(NameError::Nul);
    }
    Ok(())
}

const WIRE_VARINT: u8 = 0;
const WIRE_I64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_I32: u8 = 5;

/// A bounds-checked protobuf reader over a byte slice.
struct PbReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes` in the enclosing block, for error messages.
    base: usize,
}

impl<'a> PbReader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        PbReader { bytes, pos: 0, base: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn error(&self, reason: &'static str) -> DecodeError {
        DecodeError::Protobuf { offset: self.base + self.pos, reason }
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.bytes.get(self.pos) else {
                return Err(self.error("truncated varint"));
            };
            self.pos += 1;
            // The tenth byte may only carry the top bit of a u64.
            if i == 9 && byte > 1 {
                return Err(self.error("varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error("varint longer than 10 bytes"))
    }

    fn key(&mut self) -> Result<(u64, u8), DecodeError> {
        let key = self.varint()?;
        let field = key >> 3;
        if field == 0 {
            return Err(self.error("field number 0"));
        }
        Ok((field, (key & 7) as u8))
    }

    fn len_delimited(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        let remaining = (self.bytes.len() - self.pos) as u64;
        if len > remaining {
            return Err(self.error("length runs past the end"));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.bytes[start..self.pos])
    }

    fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        let width = match wire {
            WIRE_VARINT => return self.varint().map(drop),
            WIRE_LEN => return self.len_delimited().map(drop),
            WIRE_I64 => 8,
            WIRE_I32 => 4,
            _ => return Err(self.error("unsupported wire type")),
        };
        if self.bytes.len() - self.pos < width {
            return Err(self.error("truncated fixed-width field"));
        }
        self.pos += width;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_data_before_links() {
        // Data (field 1) then a link (field 2).
        let link_cid = crate::cid_of(RAW, b"x").to_bytes();
        let mut link = vec![0x0a, link_cid.len() as u8];
        link.extend_from_slice(&link_cid);
        let mut block = vec![0x0a, 0x02, 0x08, 0x02, 0x12, link.len() as u8];
        block.extend_from_slice(&link);
        assert!(matches!(decode_pb(&block), Err(DecodeError::Protobuf { reason: "Links after Data", .. })));
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert!(decode_pb(&[0x0a, 0x05, 0x01]).is_err());
        assert!(decode_pb(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_pb(&[0x1a, 0x00]).is_err());
    }

    #[test]
    fn children_in_range_skips_subtrees() {
        let child = |n: u8| FileChild { cid: crate::cid_of(RAW, &[n]), blocksize: 10, tsize: Some(10) };
        let file = FileNode { data: &[], filesize: 30, children: vec![child(0), child(1), child(2)] };
        let picked = file.children_in_range(12..25);
        assert_eq!(picked.len(), 2);
        assert_eq!(picked[0].1, 2..10);
        assert_eq!(picked[1].1, 0..5);
    }
}
