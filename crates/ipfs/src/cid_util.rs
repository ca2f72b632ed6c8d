//! CID helpers shared by every module: hashing a block into a CID, parsing CID text with errors
//! that say what is wrong, and checking that a block's bytes match its CID.

use ipld_core::cid::multibase;
use ipld_core::cid::multihash::Multihash;
use sha2::{Digest, Sha256};

use crate::{Cid, DAG_PB, IDENTITY, MAX_IDENTITY_LEN, RAW, SHA2_256};

/// Why a CID string was refused by [`parse_cid`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidError {
    /// The string is empty.
    #[error("empty CID")]
    Empty,
    /// The first character is not a known multibase prefix.
    #[error("unknown multibase prefix {0:?} (a CIDv1 in base32 starts with 'b')")]
    UnknownMultibase(char),
    /// The characters after the multibase prefix are not valid in that base.
    #[error("invalid {base} characters in CID")]
    BadEncoding {
        /// The multibase named by the prefix.
        base: String,
    },
    /// The decoded bytes are not a CID (bad version, varint or multihash).
    #[error("not a CID: {0}")]
    NotACid(String),
    /// Bytes are left over after a complete CID.
    #[error("{0} unexpected bytes after the CID")]
    TrailingBytes(usize),
    /// The codec is neither raw (0x55) nor dag-pb (0x70).
    #[error("unsupported codec 0x{0:x} (only raw 0x55 and dag-pb 0x70 are served)")]
    UnsupportedCodec(u64),
    /// The multihash is not sha2-256 (or a small identity hash).
    #[error("unsupported multihash 0x{code:x} with a {len}-byte digest (only sha2-256 and identity up to {MAX_IDENTITY_LEN} bytes)")]
    UnsupportedHash {
        /// Multihash code.
        code: u64,
        /// Digest length.
        len: usize,
    },
}

/// Why a block's bytes do not belong to its CID.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockError {
    /// The codec is neither raw nor dag-pb.
    #[error("unsupported codec 0x{0:x} (only raw 0x55 and dag-pb 0x70)")]
    UnsupportedCodec(u64),
    /// The multihash is not sha2-256 (or identity).
    #[error("unsupported multihash 0x{code:x} with a {len}-byte digest")]
    UnsupportedHash {
        /// Multihash code.
        code: u64,
        /// Digest length.
        len: usize,
    },
    /// An identity CID carries a digest longer than [`MAX_IDENTITY_LEN`].
    #[error("identity CID of {0} bytes exceeds the {MAX_IDENTITY_LEN}-byte limit")]
    IdentityTooLarge(usize),
    /// The bytes hash to something else.
    #[error("block bytes do not hash to the CID")]
    HashMismatch,
}

/// The CIDv1 (sha2-256) of `data` stored under `codec`.
///
/// The `sha2` crate picks the CPU's SHA extensions at run time (via `cpufeatures`), which is what
/// keeps file import at the speed of `openssl dgst -sha256`.
pub fn cid_of(codec: u64, data: &[u8]) -> Cid {
    let digest = Sha256::digest(data);
    // Infallible: a 32-byte digest always fits the 64-byte multihash.
    let hash = Multihash::wrap(SHA2_256, &digest).unwrap_or_default();
    Cid::new_v1(codec, hash)
}

/// Parses a CID string (any multibase, or a CIDv0 `Qm…`), accepting only the codecs and hashes
/// this crate can verify: raw or dag-pb, sha2-256 or identity.
pub fn parse_cid(s: &str) -> Result<Cid, CidError> {
    let Some(first) = s.chars().next() else {
        return Err(CidError::Empty);
    };
    // A CIDv0 is bare base58btc without a multibase prefix.
    let is_v0 = s.len() == 46 && s.starts_with("Qm");
    let bytes = if is_v0 {
        match multibase::Base::Base58Btc.decode(s) {
            Ok(bytes) => bytes,
            Err(_) => return Err(CidError::BadEncoding { base: "base58btc (CIDv0)".to_string() }),
        }
    } else {
        let base = match multibase::Base::from_code(first) {
            Ok(base) => base,
            Err(_) => return Err(CidError::UnknownMultibase(first)),
        };
        match multibase::decode(s) {
            Ok((_, bytes)) => bytes,
            Err(_) => return Err(CidError::BadEncoding { base: format!("{base:?}").to_lowercase() }),
        }
    };
    let cid = cid_from_bytes(&bytes)?;
    check_supported(&cid)?;
    Ok(cid)
}

/// Reads exactly one binary CID from `bytes`.
pub(crate) fn cid_from_bytes(bytes: &[u8]) -> Result<Cid, CidError> {
    let mut rest = bytes;
    let cid = match Cid::read_bytes(&mut rest) {
        Ok(cid) => cid,
        Err(e) => return Err(CidError::NotACid(e.to_string())),
    };
    if !rest.is_empty() {
        return Err(CidError::TrailingBytes(rest.len()));
    }
    Ok(cid)
}

fn check_supported(cid: &Cid) -> Result<(), CidError> {
    match check_codec_and_hash(cid) {
        Ok(()) => Ok(()),
        Err(BlockError::UnsupportedCodec(codec)) => Err(CidError::UnsupportedCodec(codec)),
        Err(BlockError::UnsupportedHash { code, len }) => Err(CidError::UnsupportedHash { code, len }),
        Err(BlockError::IdentityTooLarge(len)) => Err(CidError::UnsupportedHash { code: IDENTITY, len }),
        Err(BlockError::HashMismatch) => Ok(()),
    }
}

fn check_codec_and_hash(cid: &Cid) -> Result<(), BlockError> {
    let codec = cid.codec();
    if codec != RAW && codec != DAG_PB {
        return Err(BlockError::UnsupportedCodec(codec));
    }
    let hash = cid.hash();
    let len = hash.digest().len();
    match hash.code() {
        SHA2_256 if len == 32 => Ok(()),
        IDENTITY if len <= MAX_IDENTITY_LEN => Ok(()),
        IDENTITY => Err(BlockError::IdentityTooLarge(len)),
        code => Err(BlockError::UnsupportedHash { code, len }),
    }
}

/// Checks that `data` is the block named by `cid`: a supported codec and hash, and the bytes hash
/// to the digest (or, for identity CIDs, are the digest).
pub fn verify_block(cid: &Cid, data: &[u8]) -> Result<(), BlockError> {
    check_codec_and_hash(cid)?;
    let hash = cid.hash();
    let matches = match hash.code() {
        SHA2_256 => Sha256::digest(data).as_slice() == hash.digest(),
        _ => data == hash.digest(),
    };
    if !matches {
        return Err(BlockError::HashMismatch);
    }
    Ok(())
}

/// True for CIDs whose block is the digest itself, so no store needs to hold it.
pub(crate) fn is_identity(cid: &Cid) -> bool {
    cid.hash().code() == IDENTITY
}

/// The block of an identity CID, read out of the CID.
pub(crate) fn identity_data(cid: &Cid) -> Option<Vec<u8>> {
    is_identity(cid).then(|| cid.hash().digest().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipld_core::cid::Version;

    #[test]
    fn parse_cid_explains_errors() {
        let ok = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
        assert_eq!(parse_cid(ok).map(|c| c.to_string()), Ok(ok.to_string()));
        assert_eq!(parse_cid(""), Err(CidError::Empty));
        assert_eq!(parse_cid("!abc"), Err(CidError::UnknownMultibase('!')));
        assert!(matches!(parse_cid("bafkrei!!"), Err(CidError::BadEncoding { .. })));
        // dag-cbor (0x71) is a valid CID that we do not serve.
        let cbor = Cid::new_v1(0x71, cid_of(RAW, b"x").hash().to_owned());
        assert_eq!(parse_cid(&cbor.to_string()), Err(CidError::UnsupportedCodec(0x71)));
        let v0 = "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u";
        assert_eq!(parse_cid(v0).map(|c| c.version()), Ok(Version::V0));
    }

    #[test]
    fn verify_block_checks_hash() {
        let cid = cid_of(RAW, b"hello world");
        assert_eq!(verify_block(&cid, b"hello world"), Ok(()));
        assert_eq!(verify_block(&cid, b"hello worle"), Err(BlockError::HashMismatch));
    }
}
