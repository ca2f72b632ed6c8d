//! CARv1 files: a writer, and a streaming reader that verifies every block.
//!
//! Format: `varint(len) | dag-cbor {roots: [cid], version: 1}` then, per block,
//! `varint(len) | cid bytes | block bytes`. We write exactly one root and the blocks in DFS
//! pre-order from the root (link order, no duplicates), which is what the trustless gateway spec
//! calls `order=dfs` and what Kubo's `ipfs dag export` produces.
//!
//! The reader is meant for untrusted uploads: it holds one block at a time, caps the header and
//! every block (so a length prefix cannot make it allocate much), re-hashes every block against
//! its CID, accepts only raw and dag-pb blocks, and says precisely what is wrong in a [`CarError`].

use std::io::{self, BufReader, Read, Write};

use crate::cid_util::{cid_from_bytes, verify_block, BlockError};
use crate::walk::{self, BlockSource, Scope, WalkError};
use crate::{Block, Cid};

/// Default cap on a block's data: Kubo's own maximum is 1 MiB for a block sent over bitswap, and
/// our blocks are at most 256 KiB plus a small node.
pub const DEFAULT_MAX_BLOCK: usize = 2 * 1024 * 1024;
/// Default cap on the header: one root takes about 45 bytes.
pub const DEFAULT_MAX_HEADER: usize = 4 * 1024;

/// Why a CAR was rejected. Offsets count bytes from the start of the stream.
#[derive(Debug, thiserror::Error)]
pub enum CarError {
    /// The underlying reader failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The stream ended inside the header or a section.
    #[error("truncated CAR: input ended inside {what} at byte {offset}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Where the input ended.
        offset: u64,
    },
    /// A length prefix is not a valid (minimal, at most 9-byte) unsigned varint.
    #[error("bad varint at byte {offset}")]
    BadVarint {
        /// Where the varint starts.
        offset: u64,
    },
    /// The header length prefix exceeds the cap.
    #[error("header of {len} bytes exceeds the {limit}-byte limit")]
    HeaderTooLarge {
        /// Claimed length.
        len: u64,
        /// The cap.
        limit: usize,
    },
    /// The header is not `{roots: [cid…], version: 1}` in dag-cbor.
    #[error("invalid CAR header: {0}")]
    InvalidHeader(&'static str),
    /// The header names a version other than 1 (2 is a CARv2 wrapper, which we do not read).
    #[error("unsupported CAR version {0} (only CARv1)")]
    UnsupportedVersion(u64),
    /// The header's roots are not the one expected.
    #[error("header roots {found:?} are not [{expected}]")]
    RootMismatch {
        /// The root the caller expected.
        expected: Cid,
        /// The roots in the header.
        found: Vec<Cid>,
    },
    /// A section length exceeds the block cap.
    #[error("section at byte {offset} claims {len} bytes, over the {limit}-byte limit")]
    BlockTooLarge {
        /// Where the section starts.
        offset: u64,
        /// Claimed length.
        len: u64,
        /// The cap (block data plus room for the CID).
        limit: usize,
    },
    /// A section of length zero (some writers use it as a terminator; CARv1 does not).
    #[error("empty section at byte {offset}")]
    EmptySection {
        /// Where the section starts.
        offset: u64,
    },
    /// A section does not start with a valid CID.
    #[error("section at byte {offset}: invalid CID: {reason}")]
    InvalidCid {
        /// Where the section starts.
        offset: u64,
        /// Why the CID is invalid.
        reason: String,
    },
    /// A block's codec is neither raw nor dag-pb.
    #[error("block {cid} at byte {offset}: unsupported codec 0x{codec:x} (only raw 0x55 and dag-pb 0x70)")]
    UnsupportedCodec {
        /// The block's CID.
        cid: Cid,
        /// The codec.
        codec: u64,
        /// Where the section starts.
        offset: u64,
    },
    /// A block's multihash is not sha2-256, or is an identity hash over the size cap.
    #[error("block {cid} at byte {offset}: unsupported multihash 0x{:x} with a {}-byte digest (only sha2-256, or identity up to {} bytes)", cid.hash().code(), cid.hash().size(), crate::MAX_IDENTITY_LEN)]
    UnsupportedHash {
        /// The block's CID (its multihash says which hash).
        cid: Cid,
        /// Where the section starts.
        offset: u64,
    },
    /// A block's bytes do not hash to its CID.
    #[error("block {cid} at byte {offset}: bytes do not match the CID")]
    HashMismatch {
        /// The block's CID.
        cid: Cid,
        /// Where the section starts.
        offset: u64,
    },
}

/// Encodes the CARv1 header (with its length prefix) for the given roots.
pub fn encode_header(roots: &[Cid]) -> Vec<u8> {
    // dag-cbor map with keys in canonical order (shorter first): "roots", "version".
    let mut cbor = vec![0xa2];
    cbor_head(&mut cbor, 3, 5);
    cbor.extend_from_slice(b"roots");
    cbor_head(&mut cbor, 4, roots.len() as u64);
    for root in roots {
        let bytes = root.to_bytes();
        // Tag 42 (CID), byte string with the 0x00 multibase-identity prefix.
        cbor.extend_from_slice(&[0xd8, 0x2a]);
        cbor_head(&mut cbor, 2, bytes.len() as u64 + 1);
        cbor.push(0x00);
        cbor.extend_from_slice(&bytes);
    }
    cbor_head(&mut cbor, 3, 7);
    cbor.extend_from_slice(b"version");
    cbor.push(0x01);
    let mut out = Vec::with_capacity(cbor.len() + 2);
    write_varint(&mut out, cbor.len() as u64);
    out.extend_from_slice(&cbor);
    out
}

/// The bytes that precede a block's data in a CARv1 section: `varint(len) | cid`.
///
/// With [`encode_header`], this lets an async server stream a CAR body chunk by chunk without a
/// `Write` adapter: header, then `section_prefix(cid, data.len())` and `data` for each block.
pub fn section_prefix(cid: &Cid, data_len: usize) -> Vec<u8> {
    let cid_bytes = cid.to_bytes();
    let mut prefix = Vec::with_capacity(10 + cid_bytes.len());
    write_varint(&mut prefix, (cid_bytes.len() + data_len) as u64);
    prefix.extend_from_slice(&cid_bytes);
    prefix
}

/// Writes a CARv1 incrementally: the header on creation, then one section per block.
pub struct CarWriter<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> CarWriter<W> {
    /// Writes the header naming `root` as the only root.
    pub fn new(root: &Cid, mut out: W) -> io::Result<CarWriter<W>> {
        let header = encode_header(std::slice::from_ref(root));
        out.write_all(&header)?;
        Ok(CarWriter { out, written: header.len() as u64 })
    }

    /// Appends one block. The caller is responsible for order and for not repeating blocks.
    pub fn write_block(&mut self, cid: &Cid, data: &[u8]) -> io::Result<()> {
        let prefix = section_prefix(cid, data.len());
        self.out.write_all(&prefix)?;
        self.out.write_all(data)?;
        self.written += (prefix.len() + data.len()) as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Flushes and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes a CARv1 with `root` as its root and the given blocks, in the order given (which should
/// be DFS order from the root, see [`crate::dfs_blocks`]). Returns the bytes written.
pub fn write_car<W: Write>(
    root: &Cid,
    blocks_in_dfs_order: impl IntoIterator<Item = Block>,
    out: W,
) -> io::Result<u64> {
    let mut writer = CarWriter::new(root, out)?;
    for block in blocks_in_dfs_order {
        writer.write_block(&block.cid, &block.data)?;
    }
    let written = writer.bytes_written();
    writer.finish()?;
    Ok(written)
}

/// Walks the DAG under `root` in `source` (DFS, link order, no duplicates, limited to `scope`)
/// and writes it as a CARv1. This is the export path for blocks served from a database.
pub fn write_dag<S: BlockSource + ?Sized, W: Write>(
    source: &S,
    root: &Cid,
    scope: Scope,
    out: W,
) -> Result<u64, WalkError> {
    let mut writer = CarWriter::new(root, out).map_err(WalkError::Io)?;
    for block in walk::dfs_blocks(source, root, scope) {
        let block = block?;
        writer.write_block(&block.cid, &block.data).map_err(WalkError::Io)?;
    }
    let written = writer.bytes_written();
    writer.finish().map_err(WalkError::Io)?;
    Ok(written)
}

/// Limits for [`CarReader`].
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// Largest block data accepted.
    pub max_block: usize,
    /// Largest header accepted.
    pub max_header: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits { max_block: DEFAULT_MAX_BLOCK, max_header: DEFAULT_MAX_HEADER }
    }
}

/// Room for the CID in front of the block data in a section: a CIDv1 with a 64-byte digest.
const MAX_CID_LEN: usize = 80;

/// A streaming CARv1 reader: an iterator of verified blocks.
///
/// The header is read and checked by [`CarReader::new`]. Each call to `next` reads one section,
/// verifies the block against its CID and yields it; after the first error the iterator ends.
/// Duplicate blocks are passed through (the format allows them).
pub struct CarReader<R: Read> {
    input: BufReader<R>,
    roots: Vec<Cid>,
    limits: ReadLimits,
    offset: u64,
    done: bool,
}

impl<R: Read> CarReader<R> {
    /// Reads the header with the default limits.
    pub fn new(input: R) -> Result<CarReader<R>, CarError> {
        CarReader::with_limits(input, ReadLimits::default())
    }

    /// Reads the header with the given limits.
    pub fn with_limits(input: R, limits: ReadLimits) -> Result<CarReader<R>, CarError> {
        let mut reader = CarReader {
            input: BufReader::with_capacity(64 * 1024, input),
            roots: Vec::new(),
            limits,
            offset: 0,
            done: false,
        };
        let len = match reader.read_varint()? {
            Some(len) => len,
            None => return Err(CarError::Truncated { what: "header length", offset: 0 }),
        };
        if len > limits.max_header as u64 {
            return Err(CarError::HeaderTooLarge { len, limit: limits.max_header });
        }
        let header = reader.read_exact_vec(len as usize, "header")?;
        reader.roots = decode_header(&header)?;
        Ok(reader)
    }

    /// The roots named in the header.
    pub fn roots(&self) -> &[Cid] {
        &self.roots
    }

    /// Fails unless the header names exactly `expected` as its only root.
    pub fn expect_root(&self, expected: &Cid) -> Result<(), CarError> {
        if self.roots.as_slice() == std::slice::from_ref(expected) {
            return Ok(());
        }
        Err(CarError::RootMismatch { expected: *expected, found: self.roots.clone() })
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn next_block(&mut self) -> Result<Option<Block>, CarError> {
        let start = self.offset;
        let Some(len) = self.read_varint()? else {
            return Ok(None);
        };
        let limit = self.limits.max_block + MAX_CID_LEN;
        if len > limit as u64 {
            return Err(CarError::BlockTooLarge { offset: start, len, limit });
        }
        if len == 0 {
            return Err(CarError::EmptySection { offset: start });
        }
        let mut section = self.read_exact_vec(len as usize, "block section")?;
        let mut rest = section.as_slice();
        let cid =
            Cid::read_bytes(&mut rest).map_err(|e| CarError::InvalidCid { offset: start, reason: e.to_string() })?;
        let cid_len = section.len() - rest.len();
        if section.len() - cid_len > self.limits.max_block {
            return Err(CarError::BlockTooLarge { offset: start, len, limit });
        }
        let data = section.split_off(cid_len);
        match verify_block(&cid, &data) {
            Ok(()) => Ok(Some(Block { cid, data })),
            Err(BlockError::UnsupportedCodec(codec)) => Err(CarError::UnsupportedCodec { cid, codec, offset: start }),
            Err(BlockError::HashMismatch) => Err(CarError::HashMismatch { cid, offset: start }),
            Err(BlockError::UnsupportedHash { .. } | BlockError::IdentityTooLarge(_)) => {
                Err(CarError::UnsupportedHash { cid, offset: start })
            }
        }
    }

    /// Reads an unsigned varint; `None` at a clean end of input before its first byte.
    fn read_varint(&mut self) -> Result<Option<u64>, CarError> {
        let start = self.offset;
        let mut value: u64 = 0;
        for i in 0..9 {
            let mut byte = [0u8];
            let n = read_retrying(&mut self.input, &mut byte)?;
            if n == 0 {
                if i == 0 {
                    return Ok(None);
                }
                return Err(CarError::Truncated { what: "varint", offset: self.offset });
            }
            self.offset += 1;
            let byte = byte[0];
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                // Minimal encoding: a last byte of zero (after the first) is padding.
                if byte == 0 && i > 0 {
                    return Err(CarError::BadVarint { offset: start });
                }
                return Ok(Some(value));
            }
        }
        // The multiformats unsigned varint is at most 9 bytes (63 bits).
        Err(CarError::BadVarint { offset: start })
    }

    fn read_exact_vec(&mut self, len: usize, what: &'static str) -> Result<Vec<u8>, CarError> {
        // `len` was checked against a cap before this allocation.
        let mut buf = Vec::with_capacity(len);
        let got = (&mut self.input).take(len as u64).read_to_end(&mut buf)?;
        self.offset += got as u64;
        if got < len {
            return Err(CarError::Truncated { what, offset: self.offset });
        }
        Ok(buf)
    }
}

impl<R: Read> Iterator for CarReader<R> {
    type Item = Result<Block, CarError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.next_block();
        match result {
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

fn read_retrying(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn cbor_head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    match value {
        0..=23 => out.push(major | value as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, value as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(value as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(value as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&value.to_be_bytes());
        }
    }
}

/// Decodes the dag-cbor header map. Only the shape CARv1 allows is accepted: a map with the keys
/// `roots` (an array of tag-42 CIDs) and `version` (an unsigned integer), in any order.
fn decode_header(bytes: &[u8]) -> Result<Vec<Cid>, CarError> {
    let mut cbor = Cbor { bytes, pos: 0 };
    let (major, entries) = cbor.head()?;
    if major != 5 {
        return Err(CarError::InvalidHeader("not a map"));
    }
    let mut roots = None;
    let mut version = None;
    for _ in 0..entries {
        let (major, len) = cbor.head()?;
        if major != 3 {
            return Err(CarError::InvalidHeader("map key is not a string"));
        }
        match cbor.take(len)? {
            b"roots" if roots.is_none() => {
                let (major, count) = cbor.head()?;
                if major != 4 {
                    return Err(CarError::InvalidHeader("roots is not an array"));
                }
                let mut list = Vec::new();
                for _ in 0..count {
                    list.push(cbor.cid()?);
                }
                roots = Some(list);
            }
            b"version" if version.is_none() => {
                let (major, value) = cbor.head()?;
                if major != 0 {
                    return Err(CarError::InvalidHeader("version is not an unsigned integer"));
                }
                version = Some(value);
            }
            b"roots" | b"version" => return Err(CarError::InvalidHeader("repeated key")),
            _ => return Err(CarError::InvalidHeader("unknown key")),
        }
    }
    if cbor.pos != bytes.len() {
        return Err(CarError::InvalidHeader("bytes after the header map"));
    }
    match version {
        Some(1) => {}
        Some(other) => return Err(CarError::UnsupportedVersion(other)),
        None => return Err(CarError::InvalidHeader("missing version")),
    }
    match roots {
        Some(roots) if !roots.is_empty() => Ok(roots),
        Some(_) => Err(CarError::InvalidHeader("no roots")),
        None => Err(CarError::InvalidHeader("missing roots")),
    }
}

/// Just enough of a CBOR decoder for the header; every length is checked against the input.
struct Cbor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cbor<'a> {
    fn byte(&mut self) -> Result<u8, CarError> {
        let Some(&b) = self.bytes.get(self.pos) else {
            return Err(CarError::InvalidHeader("header ends early"));
        };
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, len: u64) -> Result<&'a [u8], CarError> {
        let remaining = (self.bytes.len() - self.pos) as u64;
        if len > remaining {
            return Err(CarError::InvalidHeader("header ends early"));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.bytes[start..self.pos])
    }

    /// Reads a data item head: major type and argument (definite lengths only).
    fn head(&mut self) -> Result<(u8, u64), CarError> {
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        let value = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.array()?)),
            26 => u64::from(u32::from_be_bytes(self.array()?)),
            27 => u64::from_be_bytes(self.array()?),
            _ => return Err(CarError::InvalidHeader("indefinite or reserved CBOR length")),
        };
        Ok((major, value))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CarError> {
        let slice = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn cid(&mut self) -> Result<Cid, CarError> {
        let (major, tag) = self.head()?;
        if major != 6 || tag != 42 {
            return Err(CarError::InvalidHeader("root is not a CID (tag 42)"));
        }
        let (major, len) = self.head()?;
        if major != 2 {
            return Err(CarError::InvalidHeader("CID is not a byte string"));
        }
        let bytes = self.take(len)?;
        match bytes.split_first() {
            Some((0, cid)) => cid_from_bytes(cid).map_err(|_| CarError::InvalidHeader("root is not a valid CID")),
            _ => Err(CarError::InvalidHeader("CID bytes lack the 0x00 prefix")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{cid_of, RAW};

    /// Errors stay within clippy's `result_large_err` threshold (128 bytes), so that callers
    /// returning them need no `allow`.
    #[test]
    fn errors_are_small() {
        assert!(std::mem::size_of::<CarError>() <= 128);
        assert!(std::mem::size_of::<WalkError>() <= 128);
        assert!(std::mem::size_of::<crate::CidError>() <= 128);
        assert!(std::mem::size_of::<crate::DirectoryError>() <= 128);
    }

    #[test]
    fn header_round_trip() {
        let root = cid_of(RAW, b"hello");
        let header = encode_header(&[root]);
        let reader = CarReader::new(&header[..]).expect("header");
        assert_eq!(reader.roots(), &[root]);
    }

    #[test]
    fn header_matches_go_car() {
        // The header `ipfs dag export` writes for bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e.
        let root = crate::parse_cid("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e").expect("cid");
        let header = encode_header(&[root]);
        assert_eq!(header[0] as usize, header.len() - 1);
        assert_eq!(&header[1..9], &[0xa2, 0x65, b'r', b'o', b'o', b't', b's', 0x81]);
        assert_eq!(&header[9..13], &[0xd8, 0x2a, 0x58, 0x25]);
        assert_eq!(&header[header.len() - 9..], b"\x67version\x01");
    }
}
