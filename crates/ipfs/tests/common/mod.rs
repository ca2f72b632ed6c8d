//! Shared test support: our own generator of the vector inputs, the vectors themselves, and
//! helpers to import into an in-memory block store.
//!
//! The inputs are described in `shared/ipfs-vectors/README.md`; this generator is written from
//! that description (and checked against the input hashes in `vectors.json`), so the expected CIDs
//! in `tests/data/vectors.json` stay facts computed by an independent JavaScript implementation.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use openvoice_ipfs::{import_bytes, import_path, Block, Cid, DirectoryBuilder};

/// Names of every input, in `vectors.json` order.
pub const INPUTS: [&str; 7] =
    ["a-empty.bin", "b-hello.txt", "c-1mib.bin", "d-50mib.bin", "e-site", "f-dir1200", "g-dir7000"];

/// `n` bytes with byte i = i % 251.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// Writes one input (file or directory) named `name` into `dir`.
pub fn write_input(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    match name {
        "a-empty.bin" => write(&path, b""),
        "b-hello.txt" => write(&path, b"hello world"),
        "c-1mib.bin" => write(&path, &pattern(1 << 20)),
        "d-50mib.bin" => write(&path, &pattern(50 << 20)),
        "e-site" => {
            write(&path.join("index.html"), b"<h1>hi</h1>");
            write(&path.join("a").join("b.txt"), b"b");
            write(&path.join("feed.xml"), b"<rss/>");
        }
        "f-dir1200" => numbered_files(&path, 1200),
        "g-dir7000" => numbered_files(&path, 7000),
        other => panic!("unknown input {other}"),
    }
    path
}

/// f0000..f{count-1}, each containing its own name.
fn numbered_files(dir: &Path, count: usize) {
    fs::create_dir_all(dir).expect("create dir");
    for i in 0..count {
        let name = format!("f{i:04}");
        fs::write(dir.join(&name), name.as_bytes()).expect("write file");
    }
}

pub fn write(path: &Path, data: &[u8]) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("create parent");
    }
    fs::write(path, data).expect("write file");
}

/// The vectors computed by the JS reference implementation.
pub fn vectors() -> serde_json::Value {
    serde_json::from_str(include_str!("../data/vectors.json")).expect("vectors.json parses")
}

/// The `expected` (Kubo `ipfs add --cid-version=1`) root CID of an input.
pub fn expected_cid(name: &str) -> String {
    vectors()["expected"][name].as_str().unwrap_or_else(|| panic!("no expected CID for {name}")).to_string()
}

/// An in-memory block store filled by `import_path`.
pub fn import_to_store(path: &Path) -> (Cid, HashMap<Cid, Vec<u8>>) {
    let mut store = HashMap::new();
    let root = import_path(path, |block: Block| {
        store.insert(block.cid, block.data);
    })
    .expect("import_path");
    (root, store)
}

/// f0000..f{count-1} built in memory with `DirectoryBuilder` (no files on disk, which costs
/// seconds for 7000 entries on ext4); `import_path` on the same input is checked by the vectors.
pub fn numbered_dir_in_memory(count: usize) -> (Cid, HashMap<Cid, Vec<u8>>) {
    let mut store = HashMap::new();
    let mut dir = DirectoryBuilder::new();
    for i in 0..count {
        let name = format!("f{i:04}");
        let (cid, blocks) = import_bytes(name.as_bytes());
        let size = blocks.iter().map(|b| b.data.len() as u64).sum();
        store.extend(blocks.into_iter().map(|b| (b.cid, b.data)));
        dir.add(&name, cid, size).expect("add");
    }
    let (root, _) = dir
        .build(|block: Block| {
            store.insert(block.cid, block.data);
        })
        .expect("build");
    (root, store)
}

/// Root of the repository (the workspace), where `tests/ipfs-js` lives.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Asserts that two directory trees hold the same files with the same bytes.
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let meta = fs::symlink_metadata(expected).expect("stat expected");
    if meta.is_file() {
        let want = fs::read(expected).expect("read expected");
        let got = fs::read(actual).unwrap_or_else(|e| panic!("read {}: {e}", actual.display()));
        assert!(want == got, "{} differs from {}", actual.display(), expected.display());
        return;
    }
    let mut want: Vec<String> = list(expected);
    let mut got: Vec<String> = list(actual);
    want.sort();
    got.sort();
    assert_eq!(want, got, "entries of {}", actual.display());
    for name in want {
        assert_same_tree(&expected.join(&name), &actual.join(&name));
    }
}

fn list(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read_dir {}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").file_name().into_string().expect("utf-8 name"))
        .collect()
}
