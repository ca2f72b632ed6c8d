//! Prints the root CID of a file or directory, as `ipfs add -Q --only-hash --cid-version=1 -r PATH`
//! prints it, without storing any block. It stands in for `openvoice cid PATH` in `bench/cid.sh`.
//!
//! Usage: `cargo run --release -p openvoice-ipfs --example cid -- [cid] PATH` (the optional
//! `cid` word lets the benchmark call it exactly like `openvoice cid PATH`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.len() == 2 && args[0] == "cid" {
        args.remove(0);
    }
    let path = match <[OsString; 1]>::try_from(args) {
        Ok([path]) => PathBuf::from(path),
        Err(_) => {
            eprintln!("usage: cid [cid] PATH");
            return ExitCode::from(2);
        }
    };
    match openvoice_ipfs::import_path(&path, |_block| {}) {
        Ok(cid) => {
            println!("{cid}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cid: {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
