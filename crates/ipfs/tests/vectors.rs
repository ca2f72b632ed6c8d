//! Our import against the CIDs computed by the independent JS implementation
//! (`tests/data/vectors.json`, Kubo `ipfs add --cid-version=1` settings).

mod common;

use std::collections::HashSet;
use std::fs;

use openvoice_ipfs::node::{decode_node, Node};
use openvoice_ipfs::{import_bytes, import_path, import_reader, Block, DirectoryBuilder, FileImporter};
use sha2::{Digest, Sha256};

use common::{expected_cid, vectors, write_input, INPUTS};

#[test]
fn generator_matches_the_described_inputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hashes = vectors()["input_sha256"].clone();
    for name in ["a-empty.bin", "b-hello.txt", "c-1mib.bin", "d-50mib.bin"] {
        let path = write_input(dir.path(), name);
        let digest = Sha256::digest(fs::read(&path).expect("read input"));
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(Some(hex.as_str()), hashes[name].as_str(), "{name}");
    }
}

#[test]
fn import_path_reproduces_every_vector() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vectors = vectors();
    for name in INPUTS {
        let path = write_input(dir.path(), name);
        let mut blocks = Vec::new();
        let root = import_path(&path, |block: Block| blocks.push(block)).expect("import");
        assert_eq!(root.to_string(), expected_cid(name), "root of {name}");

        let unique: HashSet<_> = blocks.iter().map(|b| b.cid).collect();
        assert_eq!(Some(unique.len() as u64), vectors["block_count"][name].as_u64(), "block count of {name}");
        for block in &blocks {
            openvoice_ipfs::verify_block(&block.cid, &block.data).expect("emitted block verifies");
        }

        let root_block = blocks.iter().find(|b| b.cid == root).expect("root block emitted");
        let kind = match decode_node(&root, &root_block.data).expect("root decodes") {
            Node::Raw(_) => "raw",
            Node::File(_) => "file",
            Node::Directory(_) => "directory",
            Node::HamtShard(_) => "hamt-sharded-directory",
            Node::Symlink(_) => "symlink",
        };
        assert_eq!(Some(kind), vectors["root_type"][name].as_str(), "root type of {name}");
        fs::remove_dir_all(&path).or_else(|_| fs::remove_file(&path)).expect("clean up");
    }
}

#[test]
fn in_memory_and_streaming_file_imports_agree() {
    for (name, data) in [
        ("a-empty.bin", Vec::new()),
        ("b-hello.txt", b"hello world".to_vec()),
        ("c-1mib.bin", common::pattern(1 << 20)),
        ("d-50mib.bin", common::pattern(50 << 20)),
    ] {
        let want = expected_cid(name);
        let (cid, blocks) = import_bytes(&data);
        assert_eq!(cid.to_string(), want, "import_bytes {name}");
        assert_eq!(blocks.last().map(|b| b.cid), Some(cid), "root comes last");

        let (cid, dag_size) = import_reader(&data[..], |_| {}).expect("import_reader");
        assert_eq!(cid.to_string(), want, "import_reader {name}");
        let total: u64 = blocks.iter().map(|b| b.data.len() as u64).sum();
        assert_eq!(dag_size, total, "cumulative size of {name}");

        // Pushing in odd pieces must not change anything.
        let mut importer = FileImporter::new();
        let mut sink = |_: Block| {};
        for piece in data.chunks(100_003) {
            importer.push(piece, &mut sink);
        }
        let (cid, _) = importer.finish(&mut sink);
        assert_eq!(cid.to_string(), want, "FileImporter::push {name}");
    }
}

#[test]
fn directory_builder_reproduces_e_site() {
    let mut dir = DirectoryBuilder::new();
    let mut blocks = Vec::new();
    for (path, content) in [("index.html", &b"<h1>hi</h1>"[..]), ("a/b.txt", b"b"), ("feed.xml", b"<rss/>")] {
        let (cid, size) = import_reader(content, |b| blocks.push(b)).expect("import");
        dir.add(path, cid, size).expect("add");
    }
    let (root, _) = dir.build(|b| blocks.push(b)).expect("build");
    assert_eq!(root.to_string(), expected_cid("e-site"));
    assert_eq!(blocks.len(), 5);
}

/// Kubo shards a directory when the sum of name lengths and CID lengths is strictly above
/// 256 KiB: 4096 entries of 28-character names and 36-byte raw CIDs make exactly 262144 bytes.
#[test]
fn hamt_threshold_is_strictly_above_256_kib() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (label, last_name_len, sharded) in [("at", 28, false), ("over", 29, true)] {
        let root = dir.path().join(label);
        fs::create_dir(&root).expect("mkdir");
        for i in 0..4096 {
            let len = if i == 4095 { last_name_len } else { 28 };
            let name = format!("{i:0len$}");
            fs::write(root.join(name), b"x").expect("write");
        }
        let (cid, store) = common::import_to_store(&root);
        let node = decode_node(&cid, &store[&cid]).expect("decode root");
        assert_eq!(matches!(node, Node::HamtShard(_)), sharded, "{label} threshold");
    }
}

#[test]
fn import_path_skips_hidden_files_and_keeps_empty_dirs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let site = write_input(dir.path(), "e-site");
    let plain = import_path(&site, |_| {}).expect("import");
    fs::write(site.join(".hidden"), b"secret").expect("write");
    fs::create_dir(site.join(".git")).expect("mkdir");
    fs::write(site.join(".git").join("HEAD"), b"ref").expect("write");
    assert_eq!(import_path(&site, |_| {}).expect("import"), plain);

    fs::create_dir(site.join("empty")).expect("mkdir");
    let with_empty = import_path(&site, |_| {}).expect("import");
    assert_ne!(with_empty, plain);
    let mut expected = DirectoryBuilder::new();
    for (path, content) in [("index.html", &b"<h1>hi</h1>"[..]), ("a/b.txt", b"b"), ("feed.xml", b"<rss/>")] {
        let (cid, size) = import_reader(content, |_| {}).expect("import");
        expected.add(path, cid, size).expect("add");
    }
    expected.add_directory("empty").expect("add dir");
    assert_eq!(expected.build(|_| {}).expect("build").0, with_empty);
}

#[cfg(unix)]
#[test]
fn symlinks_are_stored_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("d");
    fs::create_dir(&root).expect("mkdir");
    std::os::unix::fs::symlink("/etc/passwd", root.join("link")).expect("symlink");
    let (cid, store) = common::import_to_store(&root);
    let Node::Directory(entries) = decode_node(&cid, &store[&cid]).expect("decode") else {
        panic!("root is not a directory");
    };
    let link = &entries[0];
    assert_eq!(link.name, "link");
    assert_eq!(decode_node(&link.cid, &store[&link.cid]).expect("decode"), Node::Symlink(b"/etc/passwd"));
    // go-unixfs SymlinkData: Data{Type: Symlink, Data: target}, no Links.
    let mut expected = vec![0x0a, 15, 0x08, 0x04, 0x12, 11];
    expected.extend_from_slice(b"/etc/passwd");
    assert_eq!(store[&link.cid], expected);
}
