//! `openvoice ipfs …` (pin status, the site's IPNS name, record and key, DNSLink) and
//! `openvoice export car`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;

use crate::app;
use crate::config::Config;
use crate::content::queries;
use crate::ipfs::service;
use crate::store::Db;
use crate::theme;

#[derive(Debug, Subcommand)]
pub enum IpfsCommand {
    /// Each article's current bundle CID and its pin state per target.
    Status,
    /// The site's IPNS name and the snapshot its record names.
    Name,
    /// Writes the site's current IPNS record to OUT, for a Kubo node to publish to the IPFS
    /// network (`ipfs routing put /ipns/NAME OUT`).
    Record { out: PathBuf },
    /// The site's IPNS key, in libp2p's protobuf format (Kubo's `ipfs key export`/`import`).
    #[command(subcommand)]
    Key(KeyCommand),
    /// The DNS TXT record that points the site's domain at its IPNS name (DNSLink).
    Dnslink {
        /// The domain readers know (default: the host of `site.base_url`).
        #[arg(long)]
        host: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Writes the key to OUT (readable by you only): keep it to move the name to another site.
    Export { out: PathBuf },
    /// Makes the key in FILE the site's: the site's name becomes the key's.
    Import { file: PathBuf },
}

pub async fn run(db: &Db, config: &Config, command: IpfsCommand) -> anyhow::Result<()> {
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
        }
        IpfsCommand::Name => {
            let name = service::site_key(db).await?.name();
            println!("/ipns/{name}");
            match crate::ipfs::queries::site_root(db).await? {
                Some(root) => {
                    service::current_ipns_record(db, config).await?;
                    let (_, sequence, valid_until, _) =
                        crate::ipfs::queries::ipns_record(db).await?.context("the record just signed")?;
                    println!("names /ipfs/{root} (record {sequence}, valid until {})", theme::rfc3339(valid_until));
                }
                None => println!("names nothing yet: no site snapshot has been built"),
            }
        }
        IpfsCommand::Record { out } => {
            let (name, record) = service::current_ipns_record(db, config).await?.context(
                "no site snapshot has been built yet (run `openvoice serve` with jobs, or `openvoice export car`)",
            )?;
            std::fs::write(&out, record).with_context(|| format!("writing {}", out.display()))?;
            println!("Wrote the record of /ipns/{name} to {}", out.display());
        }
        IpfsCommand::Key(KeyCommand::Export { out }) => {
            let key = service::site_key(db).await?;
            write_private(&out, &key.to_protobuf())?;
            println!("Wrote the key of /ipns/{} to {}", key.name(), out.display());
        }
        IpfsCommand::Key(KeyCommand::Import { file }) => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let key =
                service::import_site_key(db, config, &bytes).await.with_context(|| format!("{}", file.display()))?;
            println!("The site's name is now /ipns/{}", key.name());
        }
        IpfsCommand::Dnslink { host } => {
            let host = match host {
                Some(host) => host,
                None => reqwest::Url::parse(&config.base_url())
                    .ok()
                    .and_then(|url| url.host_str().map(str::to_string))
                    .context("site.base_url has no host: pass --host")?,
            };
            let name = service::site_key(db).await?.name();
            println!("_dnslink.{host}.\tTXT\t\"dnslink=/ipns/{name}\"");
        }
    }
    Ok(())
}

/// Writes `bytes` to a new file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
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
