//! The streaming CAR reader on arbitrary bytes: it must return an error or blocks, never panic,
//! and never allocate beyond its caps (libFuzzer's -rss_limit_mb catches that).
#![no_main]

use libfuzzer_sys::fuzz_target;
use openvoice_ipfs::car::CarReader;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = CarReader::new(data) else {
        return;
    };
    let root = reader.roots().first().copied();
    if let Some(root) = root {
        let _ = reader.expect_root(&root);
    }
    for block in reader {
        match block {
            // Every block the reader yields must verify on its own.
            Ok(block) => assert!(openvoice_ipfs::verify_block(&block.cid, &block.data).is_ok()),
            Err(_) => break,
        }
    }
});
