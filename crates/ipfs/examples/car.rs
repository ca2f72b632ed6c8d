//! Imports a file or directory (Kubo `ipfs add -r --cid-version=1` profile) and writes it as a
//! CARv1 in DFS order, like `ipfs dag export $(ipfs add -Q -r --cid-version=1 PATH)`; prints the
//! root CID. With BLOCKS_DIR, also writes every dag-pb block there as a file named by its CID
//! (`bench/fuzz-ipfs.sh` seeds its corpora with them).
//!
//! Usage: `cargo run -p openvoice-ipfs --example car -- PATH OUT.car [BLOCKS_DIR]`

use std::collections::HashMap;
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use openvoice_ipfs::{car, import_path, Block, Scope, DAG_PB};

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let (path, out, blocks_dir) = match args.as_slice() {
        [path, out] => (path, out, None),
        [path, out, blocks] => (path, out, Some(blocks)),
        _ => {
            eprintln!("usage: car PATH OUT.car [BLOCKS_DIR]");
            return ExitCode::from(2);
        }
    };
    match run(path, out, blocks_dir.map(PathBuf::as_path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("car: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &Path, out: &Path, blocks_dir: Option<&Path>) -> Result<(), Box<dyn std::error::Error>> {
    let mut store = HashMap::new();
    let root = import_path(path, |block: Block| {
        store.insert(block.cid, block.data);
    })?;
    car::write_dag(&store, &root, Scope::All, BufWriter::new(fs::File::create(out)?))?;
    if let Some(dir) = blocks_dir {
        fs::create_dir_all(dir)?;
        for (cid, data) in &store {
            if cid.codec() == DAG_PB {
                fs::write(dir.join(cid.to_string()), data)?;
            }
        }
    }
    println!("{root}");
    Ok(())
}
