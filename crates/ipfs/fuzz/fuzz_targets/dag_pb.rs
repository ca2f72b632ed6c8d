//! The dag-pb and UnixFS decoders on arbitrary bytes, and the pure walk helpers on whatever they
//! accept: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openvoice_ipfs::node::{self, Node, Scope};
use openvoice_ipfs::{cid_of, DAG_PB};

fuzz_target!(|data: &[u8]| {
    let _ = node::decode_pb(data);
    let cid = cid_of(DAG_PB, data);
    let Ok(decoded) = node::decode_node(&cid, data) else {
        return;
    };
    let _ = decoded.links();
    for scope in [Scope::All, Scope::Entity, Scope::Block] {
        let _ = decoded.links_in_scope(scope);
    }
    let _ = decoded.file_size();
    match &decoded {
        Node::File(file) => {
            let size = file.filesize;
            for range in [0..size, size / 2..size, 0..u64::MAX, size..size.saturating_add(1)] {
                let _ = file.data_range(&range);
                let _ = file.children_in_range(range);
            }
        }
        Node::HamtShard(shard) => {
            for depth in 0..12 {
                let _ = node::hamt_step(shard, "index.html", depth);
            }
        }
        Node::Directory(entries) => {
            for entry in entries {
                let _ = node::check_entry_name(&entry.name);
            }
        }
        Node::Raw(_) | Node::Symlink(_) => {}
    }
});
