//! `openvoice ipfs status` and `openvoice export car`.

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;

use crate::app;
use crate::config::Config;
use crate::content::queries;
use crate::ipfs::service;
use crate::store::Db;

#[derive(Debug, Subcommand)]
pub enum IpfsCommand {
    /// Each article's current bundle CID and its pin state per target.
    Status,
}

pub async fn run(db: &Db, command: IpfsCommand) -> anyhow::Result<()> {
    match command {
        IpfsCommand::Status => {
            for (slug, target, cid, state, error) in crate::ipfs::queries::pin_states(db).await? {
                println!("{slug:<40} {target:<16} {state:<10} {cid} {}", error.unwrap_or_default());
            }
            println!(
                "{} bundled article(s), {} block(s)",
                crate::ipfs::queries::published_bundles(db).await?.len(),
                crate::ipfs::queries::count_blocks(db).await?
            );
            Ok(())
        }
    }
}

/// Bundles every published article that lacks a current bundle, rebuilds the snapshot and
/// writes it as a CAR file.
pub async fn export_car(db: &Db, config: &Config, data_dir: &Path, out: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let publishing = app::jobs::publishing(config, data_dir)?;
    let ids = queries::reading::published_ids(db).await?;
    for (n, id) in ids.iter().enumerate() {
        service::bundle_article(db, &publishing, *id).await?;
        if (n + 1) % 1000 == 0 {
            eprintln!("bundled {}/{}", n + 1, ids.len());
        }
    }
    let root = service::build_snapshot(db, config, &publishing.templates).await?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let blocks = service::DbBlocks::new(db.clone());
    let written = tokio::task::spawn_blocking(move || {
        openvoice_ipfs::car::write_dag(&blocks, &root, openvoice_ipfs::Scope::All, std::io::BufWriter::new(file))
    })
    .await??;
    println!("{root}");
    eprintln!(
        "Wrote {} ({written} bytes, {} articles) in {:.1}s",
        out.display(),
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
