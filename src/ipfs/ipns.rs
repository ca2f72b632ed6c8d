//! The site's stable IPFS name: an Ed25519 key the site keeps, and IPNS records signed with it
//! that name the newest site snapshot. A reader who knows the name (`/ipns/k51…`, or a DNSLink)
//! finds the latest snapshot whatever its CID.
//!
//! The formats are those of the IPNS record specification (<https://specs.ipfs.tech/ipns/ipns-record/>):
//! a V2 record — DAG-CBOR data, signed after the `ipns-signature:` prefix — in the `IpnsEntry`
//! protobuf, with the V1 fields and signature alongside for older resolvers; keys in libp2p's
//! protobuf format, which Kubo's `ipfs key import` and `ipfs key export` read and write. No crate
//! signs IPNS records without bringing a libp2p node, so the three small protobuf messages are
//! declared here (with prost) and the data is encoded with serde_ipld_dagcbor.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signer, SigningKey};
use ipld_core::cid::multibase::Base;
use ipld_core::cid::multihash::Multihash;
use ipld_core::cid::Cid;
use ipld_core::ipld::Ipld;
use prost::Message;

/// libp2p's `KeyType.Ed25519`.
const ED25519: i32 = 1;
/// Multicodec of a libp2p public key, as IPNS names use it.
const LIBP2P_KEY: u64 = 0x72;
/// The identity multihash: the name carries the public key itself.
const IDENTITY: u64 = 0x00;
/// What a V2 signature signs before the record's data.
const SIGNATURE_V2_PREFIX: &[u8] = b"ipns-signature:";

/// libp2p's `PublicKey` and `PrivateKey` messages (the same two fields).
#[derive(Clone, PartialEq, Message)]
struct KeyMessage {
    #[prost(int32, tag = "1")]
    key_type: i32,
    #[prost(bytes = "vec", tag = "2")]
    data: Vec<u8>,
}

/// The `IpnsEntry` message.
#[derive(Clone, PartialEq, Message)]
struct IpnsEntry {
    #[prost(bytes = "vec", optional, tag = "1")]
    value: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "2")]
    signature_v1: Option<Vec<u8>>,
    /// `EOL` (0): valid until `validity`.
    #[prost(int32, optional, tag = "3")]
    validity_type: Option<i32>,
    #[prost(bytes = "vec", optional, tag = "4")]
    validity: Option<Vec<u8>>,
    #[prost(uint64, optional, tag = "5")]
    sequence: Option<u64>,
    /// Nanoseconds.
    #[prost(uint64, optional, tag = "6")]
    ttl: Option<u64>,
    #[prost(bytes = "vec", optional, tag = "8")]
    signature_v2: Option<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "9")]
    data: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not a key in libp2p's protobuf format (as `ipfs key export` writes it)")]
    NotAKey,
    #[error("a key of type {0}; only Ed25519 keys (type 1) can be the site's")]
    NotEd25519(i32),
    #[error("an Ed25519 private key has 64 bytes (seed and public key), this one {0}")]
    WrongLength(usize),
    #[error("the key's public half does not belong to its private half")]
    Mismatched,
}

/// The key the site signs its IPNS records with.
pub struct SiteKey(SigningKey);

/// One signed record: what the gateway serves as `application/vnd.ipfs.ipns-record`.
pub struct SignedRecord {
    pub bytes: Vec<u8>,
    pub sequence: u64,
    pub valid_until: DateTime<Utc>,
}

impl SiteKey {
    pub fn generate() -> SiteKey {
        SiteKey(SigningKey::from_bytes(&rand::random::<[u8; 32]>()))
    }

    /// The key in libp2p's protobuf format: Ed25519, the 32-byte seed then the public key.
    pub fn to_protobuf(&self) -> Vec<u8> {
        let mut data = self.0.to_bytes().to_vec();
        data.extend_from_slice(self.0.verifying_key().as_bytes());
        KeyMessage { key_type: ED25519, data }.encode_to_vec()
    }

    pub fn from_protobuf(bytes: &[u8]) -> Result<SiteKey, KeyError> {
        let message = KeyMessage::decode(bytes).map_err(|_| KeyError::NotAKey)?;
        if message.key_type != ED25519 {
            return Err(KeyError::NotEd25519(message.key_type));
        }
        if message.data.len() != 64 {
            return Err(KeyError::WrongLength(message.data.len()));
        }
        let seed: [u8; 32] = message.data[..32].try_into().expect("32 bytes");
        let key = SigningKey::from_bytes(&seed);
        if key.verifying_key().as_bytes()[..] != message.data[32..] {
            return Err(KeyError::Mismatched);
        }
        Ok(SiteKey(key))
    }

    /// The IPNS name: a CIDv1 (libp2p-key) of the identity multihash of the public key in
    /// protobuf form, in base36 — the `k51…` string Kubo prints.
    pub fn name(&self) -> String {
        let public = KeyMessage { key_type: ED25519, data: self.0.verifying_key().as_bytes().to_vec() };
        let digest = Multihash::<64>::wrap(IDENTITY, &public.encode_to_vec()).expect("a 36-byte key fits");
        Cid::new_v1(LIBP2P_KEY, digest).to_string_of_base(Base::Base36Lower).expect("base36 encodes a CIDv1")
    }

    /// A record naming `value` (`/ipfs/<cid>`), number `sequence`, valid until `valid_until`,
    /// which resolvers may cache for `ttl`.
    pub fn sign(
        &self,
        value: &str,
        sequence: u64,
        valid_until: DateTime<Utc>,
        ttl: std::time::Duration,
    ) -> SignedRecord {
        let validity = valid_until.to_rfc3339_opts(SecondsFormat::Nanos, true);
        let ttl_nanos = u64::try_from(ttl.as_nanos()).unwrap_or(u64::MAX);
        // DAG-CBOR sorts the keys (shorter first), whatever order the map holds them in.
        let data = Ipld::Map(BTreeMap::from([
            ("Value".to_string(), Ipld::Bytes(value.as_bytes().to_vec())),
            ("Validity".to_string(), Ipld::Bytes(validity.as_bytes().to_vec())),
            ("ValidityType".to_string(), Ipld::Integer(0)),
            ("Sequence".to_string(), Ipld::Integer(sequence.into())),
            ("TTL".to_string(), Ipld::Integer(ttl_nanos.into())),
        ]));
        let data = serde_ipld_dagcbor::to_vec(&data).expect("a map of bytes and integers encodes");
        let signature_v2 = self.0.sign(&[SIGNATURE_V2_PREFIX, &data].concat()).to_bytes().to_vec();
        let signature_v1 = self.0.sign(&[value.as_bytes(), validity.as_bytes(), b"EOL"].concat()).to_bytes().to_vec();
        let entry = IpnsEntry {
            value: Some(value.as_bytes().to_vec()),
            signature_v1: Some(signature_v1),
            validity_type: Some(0),
            validity: Some(validity.into_bytes()),
            sequence: Some(sequence),
            ttl: Some(ttl_nanos),
            signature_v2: Some(signature_v2),
            data: Some(data),
        };
        SignedRecord { bytes: entry.encode_to_vec(), sequence, valid_until }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_bad_keys_say_why() {
        let key = SiteKey::generate();
        let again = SiteKey::from_protobuf(&key.to_protobuf()).unwrap();
        assert_eq!(again.name(), key.name());
        assert!(key.name().starts_with("k51"), "{}", key.name());
        assert_eq!(SiteKey::from_protobuf(b"\xff\xff").err(), Some(KeyError::NotAKey));
        let rsa = KeyMessage { key_type: 0, data: vec![1; 64] }.encode_to_vec();
        assert_eq!(SiteKey::from_protobuf(&rsa).err(), Some(KeyError::NotEd25519(0)));
        let short = KeyMessage { key_type: ED25519, data: vec![1; 32] }.encode_to_vec();
        assert_eq!(SiteKey::from_protobuf(&short).err(), Some(KeyError::WrongLength(32)));
        let mut data = key.to_protobuf();
        let last = data.len() - 1;
        data[last] ^= 1;
        assert_eq!(SiteKey::from_protobuf(&data).err(), Some(KeyError::Mismatched));
    }
}
