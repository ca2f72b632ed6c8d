//! CARv1 round trips, and the reader's verdict on damaged or hostile CARs.

mod common;

use std::collections::HashMap;

use openvoice_ipfs::car::{self, CarError, CarReader};
use openvoice_ipfs::{cid_of, dfs_blocks, import_bytes, Block, Cid, Scope, RAW};

use common::{import_to_store, write_input};

fn car_of(store: &HashMap<Cid, Vec<u8>>, root: &Cid) -> Vec<u8> {
    let mut out = Vec::new();
    car::write_dag(store, root, Scope::All, &mut out).expect("write CAR");
    out
}

fn read_all(bytes: &[u8]) -> Result<(Vec<Cid>, Vec<Block>), CarError> {
    let reader = CarReader::new(bytes)?;
    let roots = reader.roots().to_vec();
    let blocks = reader.collect::<Result<Vec<_>, _>>()?;
    Ok((roots, blocks))
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// A CAR with a valid header for `root` followed by `sections`.
fn car_with(root: &Cid, sections: &[u8]) -> Vec<u8> {
    let mut out = car::encode_header(&[*root]);
    out.extend_from_slice(sections);
    out
}

fn section(cid: &Cid, data: &[u8]) -> Vec<u8> {
    let cid_bytes = cid.to_bytes();
    let mut out = varint((cid_bytes.len() + data.len()) as u64);
    out.extend_from_slice(&cid_bytes);
    out.extend_from_slice(data);
    out
}

#[test]
fn round_trip_gives_the_same_blocks_in_dfs_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["e-site", "d-50mib.bin", "g-dir7000"] {
        let (root, store) = match name {
            "g-dir7000" => common::numbered_dir_in_memory(7000),
            _ => import_to_store(&write_input(dir.path(), name)),
        };
        let bytes = car_of(&store, &root);
        let (roots, blocks) = read_all(&bytes).expect("read back");
        assert_eq!(roots, vec![root]);
        let dfs: Vec<Block> = dfs_blocks(&store, &root, Scope::All).collect::<Result<_, _>>().expect("dfs");
        assert_eq!(blocks, dfs, "{name}");
        assert_eq!(blocks.len(), store.len(), "every block once: {name}");
        assert_eq!(blocks[0].cid, root, "root first");
    }
}

#[test]
fn repeated_blocks_are_written_once() {
    // 1 MiB of zeros is four identical leaves under one file node.
    let (root, blocks) = import_bytes(&vec![0u8; 1 << 20]);
    let store: HashMap<Cid, Vec<u8>> = blocks.into_iter().map(|b| (b.cid, b.data)).collect();
    assert_eq!(store.len(), 2);
    let (_, read) = read_all(&car_of(&store, &root)).expect("read back");
    assert_eq!(read.len(), 2);
}

#[test]
fn write_car_from_an_iterator_round_trips() {
    let (root, blocks) = import_bytes(&common::pattern(600_000));
    let mut out = Vec::new();
    let written = car::write_car(&root, blocks.iter().rev().cloned(), &mut out).expect("write");
    assert_eq!(written, out.len() as u64);
    let (roots, read) = read_all(&out).expect("read");
    assert_eq!(roots, vec![root]);
    assert_eq!(read, blocks.into_iter().rev().collect::<Vec<_>>());
}

#[test]
fn truncated_car_is_rejected() {
    let (root, blocks) = import_bytes(b"hello world");
    let mut bytes = Vec::new();
    car::write_car(&root, blocks, &mut bytes).expect("write");
    for cut in [1, 5, 20] {
        let short = &bytes[..bytes.len() - cut];
        assert!(matches!(read_all(short), Err(CarError::Truncated { .. })), "cut {cut}: {:?}", read_all(short));
    }
    assert!(matches!(read_all(&[]), Err(CarError::Truncated { .. })));
    assert!(matches!(read_all(&bytes[..10]), Err(CarError::Truncated { .. })));
}

#[test]
fn flipped_byte_is_a_hash_mismatch() {
    let (root, blocks) = import_bytes(&common::pattern(300_000));
    let mut bytes = Vec::new();
    car::write_car(&root, blocks, &mut bytes).expect("write");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let err = read_all(&bytes).expect_err("corrupt");
    assert!(matches!(err, CarError::HashMismatch { .. }), "{err}");
}

#[test]
fn bad_varints_are_rejected() {
    let root = cid_of(RAW, b"x");
    // Ten continuation bytes: longer than the 9-byte maximum.
    let err = read_all(&car_with(&root, &[0xff; 10])).expect_err("overlong");
    assert!(matches!(err, CarError::BadVarint { .. }), "{err}");
    // A non-minimal encoding of 0.
    let err = read_all(&car_with(&root, &[0x80, 0x00])).expect_err("non-minimal");
    assert!(matches!(err, CarError::BadVarint { .. }), "{err}");
    // Bad varint as the header length.
    let err = read_all(&[0xff; 12]).expect_err("header varint");
    assert!(matches!(err, CarError::BadVarint { offset: 0 }), "{err}");
}

#[test]
fn absurd_lengths_are_rejected_before_allocating() {
    let root = cid_of(RAW, b"x");
    let err = read_all(&car_with(&root, &varint(1 << 40))).expect_err("huge block");
    assert!(matches!(err, CarError::BlockTooLarge { len, .. } if len == 1 << 40), "{err}");
    let err = read_all(&varint(1 << 30)).expect_err("huge header");
    assert!(matches!(err, CarError::HeaderTooLarge { .. }), "{err}");
    let err = read_all(&car_with(&root, &[0x00])).expect_err("empty section");
    assert!(matches!(err, CarError::EmptySection { .. }), "{err}");
}

#[test]
fn unknown_codecs_and_hashes_are_rejected() {
    let data = b"{}";
    let sha = cid_of(RAW, data);
    // Same sha2-256 digest, dag-cbor codec.
    let cbor = Cid::new_v1(0x71, *sha.hash());
    let err = read_all(&car_with(&cbor, &section(&cbor, data))).expect_err("dag-cbor");
    assert!(matches!(err, CarError::UnsupportedCodec { codec: 0x71, .. }), "{err}");

    // A sha2-512 multihash (with a digest that happens to be 64 zero bytes).
    let mh = openvoice_ipfs::Cid::read_bytes(&[&[0x01, 0x55, 0x13, 0x40][..], &[0u8; 64]].concat()[..]).expect("cid");
    let err = read_all(&car_with(&mh, &section(&mh, data))).expect_err("sha2-512");
    assert!(matches!(err, CarError::UnsupportedHash { .. }), "{err}");
}

#[test]
fn identity_blocks_must_equal_their_digest() {
    let ident = Cid::read_bytes(&[0x01, 0x55, 0x00, 0x02, b'h', b'i'][..]).expect("cid");
    let (_, blocks) = read_all(&car_with(&ident, &section(&ident, b"hi"))).expect("identity ok");
    assert_eq!(blocks[0].data, b"hi");
    let err = read_all(&car_with(&ident, &section(&ident, b"ho"))).expect_err("mismatch");
    assert!(matches!(err, CarError::HashMismatch { .. }), "{err}");
}

#[test]
fn header_root_mismatch_is_reported() {
    let (root, blocks) = import_bytes(b"hello world");
    let mut bytes = Vec::new();
    car::write_car(&root, blocks, &mut bytes).expect("write");
    let reader = CarReader::new(&bytes[..]).expect("header");
    reader.expect_root(&root).expect("right root");
    let other = cid_of(RAW, b"something else");
    let err = reader.expect_root(&other).expect_err("wrong root");
    assert!(matches!(err, CarError::RootMismatch { ref found, .. } if found == &vec![root]), "{err}");
}

#[test]
fn invalid_headers_are_rejected() {
    // {version: 2} as written at the start of a CARv2 (its pragma).
    let pragma = [0x0a, 0xa1, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x02];
    let err = read_all(&pragma).expect_err("CARv2");
    assert!(matches!(err, CarError::UnsupportedVersion(2)), "{err}");
    // Not a map.
    let err = read_all(&[0x01, 0x01]).expect_err("not a map");
    assert!(matches!(err, CarError::InvalidHeader(_)), "{err}");
    // No roots.
    let empty_roots =
        [0x11, 0xa2, 0x65, b'r', b'o', b'o', b't', b's', 0x80, 0x67, b'v', b'e', b'r', b's', b'i', b'o', b'n', 0x01];
    let err = read_all(&empty_roots[..]).expect_err("no roots");
    assert!(matches!(err, CarError::InvalidHeader("no roots")), "{err}");
}

#[test]
fn reader_stops_after_the_first_error() {
    let root = cid_of(RAW, b"x");
    let bytes = car_with(&root, &[0xff; 10]);
    let mut reader = CarReader::new(&bytes[..]).expect("header");
    assert!(matches!(reader.next(), Some(Err(_))));
    assert!(reader.next().is_none());
}
