//! Walks: byte ranges, export, path resolution (through the HAMT of g-dir7000), dag-scope, and
//! DAGs crafted to make a walk misbehave.

mod common;

use std::cell::Cell;
use std::collections::HashMap;
use std::convert::Infallible;

use openvoice_ipfs::node::{decode_node, Node};
use openvoice_ipfs::walk::{
    self, blocks_for_path, export_to_dir, export_to_dir_with_limits, list_directory, read_range, resolve_path,
    BlockSource, Limits, WalkError, DEFAULT_LIMITS,
};
use openvoice_ipfs::{cid_of, dfs_blocks, import_bytes, Block, Cid, DirectoryBuilder, Scope, DAG_PB, RAW};

use common::{assert_same_tree, import_to_store, write_input};

/// A block source that counts reads, to prove that walks skip what they do not need.
struct Counting<'a> {
    store: &'a HashMap<Cid, Vec<u8>>,
    reads: Cell<u64>,
}

impl BlockSource for Counting<'_> {
    type Error = Infallible;

    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, Infallible> {
        self.reads.set(self.reads.get() + 1);
        Ok(self.store.get(cid).cloned())
    }
}

fn store_of(blocks: Vec<Block>) -> HashMap<Cid, Vec<u8>> {
    blocks.into_iter().map(|b| (b.cid, b.data)).collect()
}

fn read(store: &impl BlockSource, root: &Cid, range: std::ops::Range<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    let n = read_range(store, root, range, &mut out).expect("read_range");
    assert_eq!(n, out.len() as u64);
    out
}

#[test]
fn byte_ranges_match_the_source_and_skip_subtrees() {
    let data = common::pattern(50 << 20);
    let (root, blocks) = import_bytes(&data);
    let store = store_of(blocks);
    let len = data.len() as u64;
    let chunk = 256 * 1024;
    let first_subtree = 174 * chunk;
    for range in [
        0..0,
        0..1,
        0..11,
        5..chunk + 5,
        chunk - 1..chunk + 1,
        first_subtree - 10..first_subtree + 10,
        len - 100..len,
        len - 100..len + 1000,
        len..len + 5,
        0..len,
    ] {
        let want = &data[range.start.min(len) as usize..range.end.min(len) as usize];
        assert!(read(&store, &root, range.clone()) == want, "range {range:?}");
    }

    // The last 100 bytes need the root, one internal node and one leaf.
    let counting = Counting { store: &store, reads: Cell::new(0) };
    read(&counting, &root, len - 100..len);
    assert_eq!(counting.reads.get(), 3);
    assert_eq!(walk::file_size(&store, &root).expect("size"), len);
}

#[test]
fn export_reproduces_the_inputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["e-site", "g-dir7000", "d-50mib.bin", "b-hello.txt", "a-empty.bin"] {
        let input = write_input(dir.path(), name);
        let (root, store) = import_to_store(&input);
        let out = dir.path().join(format!("out-{name}"));
        let stats = export_to_dir(&store, &root, &out).expect("export");
        assert_same_tree(&input, &out);
        assert!(stats.files >= 1, "{name}: {stats:?}");
    }
    // The destination must not exist.
    let input = dir.path().join("e-site");
    let (root, store) = import_to_store(&input);
    assert!(matches!(
        export_to_dir(&store, &root, &input),
        Err(WalkError::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists
    ));
}

#[test]
fn paths_resolve_through_the_hamt() {
    let (root, store) = common::numbered_dir_in_memory(7000);
    assert_eq!(root.to_string(), common::expected_cid("g-dir7000"));
    for i in 0..7000 {
        let name = format!("f{i:04}");
        let resolved = resolve_path(&store, &root, &name).expect("resolve");
        assert_eq!(resolved.cid, cid_of(RAW, name.as_bytes()), "{name}");
        assert_eq!(resolved.traversed.first(), Some(&root));
        // Root shard, maybe a sub-shard: never more than the HAMT's depth.
        assert!((1..=3).contains(&resolved.traversed.len()), "{name}");
    }
    assert!(matches!(
        resolve_path(&store, &root, "f7000"),
        Err(WalkError::NotFound { path }) if path == "f7000"
    ));
    assert!(matches!(resolve_path(&store, &root, "f0001/x"), Err(WalkError::NotADirectory { .. })));
    let entries = list_directory(&store, &root).expect("list");
    assert_eq!(entries.len(), 7000);
}

#[test]
fn dag_scope_selects_blocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let count = |store: &HashMap<Cid, Vec<u8>>, root: &Cid, scope| {
        dfs_blocks(store, root, scope).collect::<Result<Vec<_>, _>>().expect("dfs").len()
    };

    let (site, site_store) = import_to_store(&write_input(dir.path(), "e-site"));
    assert_eq!(count(&site_store, &site, Scope::All), 5);
    assert_eq!(count(&site_store, &site, Scope::Entity), 1);
    assert_eq!(count(&site_store, &site, Scope::Block), 1);

    let (file, file_store) = import_to_store(&write_input(dir.path(), "d-50mib.bin"));
    assert_eq!(count(&file_store, &file, Scope::All), 203);
    assert_eq!(count(&file_store, &file, Scope::Entity), 203);
    assert_eq!(count(&file_store, &file, Scope::Block), 1);

    // Entity of a HAMT directory: every shard node (7622 blocks - 7000 files), no entry.
    let (hamt, hamt_store) = common::numbered_dir_in_memory(7000);
    assert_eq!(count(&hamt_store, &hamt, Scope::Entity), 622);
    assert_eq!(count(&hamt_store, &hamt, Scope::All), 7622);
}

#[test]
fn blocks_for_a_path_start_with_the_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, store) = import_to_store(&write_input(dir.path(), "e-site"));
    let (resolved, blocks) = blocks_for_path(&store, &root, "/a/b.txt", Scope::Entity).expect("path");
    let blocks: Vec<Block> = blocks.collect::<Result<_, _>>().expect("blocks");
    assert_eq!(resolved.cid, cid_of(RAW, b"b"));
    let cids: Vec<Cid> = blocks.iter().map(|b| b.cid).collect();
    let a = resolve_path(&store, &root, "a").expect("a").cid;
    assert_eq!(cids, vec![root, a, resolved.cid]);
}

// --- Hostile DAGs, built by hand ---------------------------------------------------------

fn varint(out: &mut Vec<u8>, mut value: u64) {
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

fn field_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    varint(out, field << 3 | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn field_varint(out: &mut Vec<u8>, field: u64, value: u64) {
    varint(out, field << 3);
    varint(out, value);
}

/// A dag-pb node with the given named links and UnixFS Data (type, data, blocksizes).
fn pb_node(links: &[(Cid, &str)], kind: u64, data: &[u8], blocksizes: &[u64]) -> Block {
    let mut out = Vec::new();
    for (cid, name) in links {
        let mut link = Vec::new();
        field_bytes(&mut link, 1, &cid.to_bytes());
        field_bytes(&mut link, 2, name.as_bytes());
        field_varint(&mut link, 3, 1);
        field_bytes(&mut out, 2, &link);
    }
    let mut unixfs = Vec::new();
    field_varint(&mut unixfs, 1, kind);
    if !data.is_empty() {
        field_bytes(&mut unixfs, 2, data);
    }
    if kind == 2 {
        field_varint(&mut unixfs, 3, data.len() as u64 + blocksizes.iter().sum::<u64>());
    }
    for size in blocksizes {
        field_varint(&mut unixfs, 4, *size);
    }
    field_bytes(&mut out, 1, &unixfs);
    Block::new(DAG_PB, out)
}

const DIRECTORY: u64 = 1;
const FILE: u64 = 2;

#[test]
fn unsafe_and_duplicate_names_are_refused_on_export() {
    let file = Block::new(RAW, b"x".to_vec());
    for bad in ["..", ".", "", "a/b", "nul\0byte", "back\\slash"] {
        let dir = pb_node(&[(file.cid, bad)], DIRECTORY, &[], &[]);
        let store = store_of(vec![file.clone(), dir.clone()]);
        let out = tempfile::tempdir().expect("tempdir");
        let err = export_to_dir(&store, &dir.cid, &out.path().join("x")).expect_err(bad);
        assert!(matches!(err, WalkError::UnsafeName { .. }), "{bad:?}: {err}");
        // Nothing was created.
        assert!(!out.path().join("x").exists());
    }
    let dir = pb_node(&[(file.cid, "same"), (file.cid, "same")], DIRECTORY, &[], &[]);
    let store = store_of(vec![file, dir.clone()]);
    let out = tempfile::tempdir().expect("tempdir");
    let err = export_to_dir(&store, &dir.cid, &out.path().join("x")).expect_err("dup");
    assert!(matches!(err, WalkError::DuplicateName { .. }), "{err}");
}

#[test]
fn absurd_depth_is_refused() {
    let leaf = Block::new(RAW, b"deep".to_vec());
    let path = vec!["d"; DEFAULT_LIMITS.max_depth + 5].join("/") + "/leaf";
    let mut builder = DirectoryBuilder::new();
    builder.add(&path, leaf.cid, 4).expect("add");
    let mut blocks = vec![leaf];
    let (root, _) = builder.build(|b| blocks.push(b)).expect("build");
    let store = store_of(blocks);
    let out = tempfile::tempdir().expect("tempdir");
    let err = export_to_dir(&store, &root, &out.path().join("x")).expect_err("too deep");
    assert!(matches!(err, WalkError::TooDeep { .. }), "{err}");
    let err = resolve_path(&store, &root, &path).expect_err("too deep");
    assert!(matches!(err, WalkError::TooDeep { .. }), "{err}");
    let err = dfs_blocks(&store, &root, Scope::All).find_map(Result::err).expect("dfs stops");
    assert!(matches!(err, WalkError::TooDeep { .. }), "{err}");
}

#[test]
fn exponential_fan_out_is_bounded() {
    // Each level links twice to the level below: 2^40 paths over 41 blocks.
    let mut current = Block::new(RAW, b"x".to_vec());
    let mut blocks = vec![current.clone()];
    for _ in 0..40 {
        current = pb_node(&[(current.cid, "a"), (current.cid, "b")], DIRECTORY, &[], &[]);
        blocks.push(current.clone());
    }
    let store = store_of(blocks);
    // DFS de-duplicates: every block once.
    assert_eq!(dfs_blocks(&store, &current.cid, Scope::All).count(), 41);
    // An export writes every path, so the block budget stops it.
    let out = tempfile::tempdir().expect("tempdir");
    let limits = Limits { max_depth: 64, max_blocks: 1000 };
    let err = export_to_dir_with_limits(&store, &current.cid, &out.path().join("x"), limits).expect_err("bounded");
    assert!(matches!(err, WalkError::TooManyBlocks(1000)), "{err}");
}

#[test]
fn lying_sizes_missing_and_corrupt_blocks_are_errors() {
    let leaf = Block::new(RAW, b"hello".to_vec());
    // The parent claims 10 bytes for a 5-byte leaf.
    let liar = pb_node(&[(leaf.cid, "")], FILE, &[], &[10]);
    let store = store_of(vec![leaf.clone(), liar.clone()]);
    let err = read_range(&store, &liar.cid, 0..100, &mut Vec::new()).expect_err("liar");
    assert!(matches!(err, WalkError::SizeMismatch { expected: 10, actual: 5, .. }), "{err}");

    let honest = pb_node(&[(leaf.cid, "")], FILE, b"inline ", &[5]);
    let mut store = store_of(vec![leaf.clone(), honest.clone()]);
    assert_eq!(read(&store, &honest.cid, 0..100), b"inline hello");
    assert_eq!(read(&store, &honest.cid, 3..9), b"ine he");

    store.insert(leaf.cid, b"jello".to_vec());
    let err = read_range(&store, &honest.cid, 0..100, &mut Vec::new()).expect_err("corrupt");
    assert!(matches!(err, WalkError::BadBlock { .. }), "{err}");

    store.remove(&leaf.cid);
    let err = read_range(&store, &honest.cid, 0..100, &mut Vec::new()).expect_err("missing");
    assert!(matches!(err, WalkError::Missing(cid) if cid == leaf.cid), "{err}");
    // The inline part alone needs no child.
    assert_eq!(read(&store, &honest.cid, 0..6), b"inline");

    let dir = pb_node(&[(leaf.cid, "f")], DIRECTORY, &[], &[]);
    let store = store_of(vec![leaf, dir.clone()]);
    let err = read_range(&store, &dir.cid, 0..1, &mut Vec::new()).expect_err("dir");
    assert!(matches!(err, WalkError::NotAFile(_)), "{err}");
    assert!(matches!(decode_node(&dir.cid, &store[&dir.cid]), Ok(Node::Directory(_))));
}
