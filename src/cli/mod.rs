//! The `openvoice` command line: the clap tree and the commands that fit in a few lines here;
//! each family of commands has its own file (`users`, `posts` with categories, `comments`,
//! `subscribers`, `mail`, `tokens`, `ipfs`, `migrate`).

mod comments;
mod fediverse;
mod ipfs;
mod mail;
mod migrate;
mod posts;
mod subscribers;
mod tokens;
mod users;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app;
use crate::backup;
use crate::config::{self, Config, Overrides};
use crate::content::service::ContentLimits;
use crate::demo;
use crate::jobs;
use crate::migrate::fetch::FetchLimits;
use crate::migrate::wordpress::Fetching;
use crate::store::{self, Db};

/// OpenVoice: a self-hosted news site in one binary.
#[derive(Debug, Parser)]
#[command(name = "openvoice", version, about)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Data folder: the SQLite database, `openvoice.toml`, theme overrides.
    #[arg(long, env = "OPENVOICE_DATA", default_value = "openvoice-data", global = true)]
    data: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`); default: SQLite in the data folder.
    #[arg(long, env = "OPENVOICE_DATABASE_URL", global = true)]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web site (and the background job worker).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long, env = "OPENVOICE_LISTEN")]
        listen: Option<String>,
        /// Do not run background jobs in this process.
        #[arg(long)]
        no_jobs: bool,
        /// Do not seed the demo site into an empty database.
        #[arg(long, env = "OPENVOICE_NO_DEMO")]
        no_demo: bool,
    },
    /// Create the data folder and database, and seed the demo site if empty.
    Init {
        /// Leave the site empty (to import one); add the first admin with `openvoice user add`.
        #[arg(long)]
        no_demo: bool,
    },
    /// Print the effective configuration (secrets masked).
    Config,
    /// Manage accounts.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Manage categories.
    #[command(subcommand)]
    Category(posts::CategoryCommand),
    /// Write, list and publish articles.
    #[command(subcommand)]
    Post(posts::PostCommand),
    /// Import content from other systems.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Inspect the background job queue.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Print the CID of a file or directory exactly as `ipfs add -Q --only-hash --cid-version=1 [-r]` would.
    Cid { path: PathBuf },
    /// Export content.
    #[command(subcommand)]
    Export(ExportCommand),
    /// IPFS bundles and pins.
    #[command(subcommand)]
    Ipfs(ipfs::IpfsCommand),
    /// Moderate reader comments; open or close them per article.
    #[command(subcommand)]
    Comments(comments::CommentsCommand),
    /// Email subscribers: list, count, export, import, add, unsubscribe, remove, notify.
    #[command(subcommand)]
    Subscribers(subscribers::SubscribersCommand),
    /// The fediverse: status, followers, block and unblock instances or accounts, blocks.
    #[command(subcommand)]
    Fediverse(fediverse::FediverseCommand),
    /// Outgoing mail: test the settings, see the outbox, deliver now.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// API tokens for /api/v1: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
    /// Write a consistent copy of the whole site while it serves (SQLite: the database file;
    /// PostgreSQL: `pg_dump` of the site's schema), with its SHA-256 in `OUT.sha256`.
    Backup {
        /// The backup file to write; never overwritten.
        out: PathBuf,
    },
    /// Replace the site's database with a backup, once its checksum and content check out.
    /// Stop the site first. On SQLite the replaced database is kept beside it.
    Restore {
        /// A file `openvoice backup` wrote, with its `.sha256` beside it.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import a folder of Markdown files with YAML front matter (Hugo, Jekyll, Zola).
    Markdown {
        dir: PathBuf,
        /// Byline for files without an `author`.
        #[arg(long, default_value = "Site Admin")]
        author: String,
    },
    /// Import a WordPress export (WXR 1.0–1.2): posts, pages, categories, tags, authors,
    /// comments, featured images; old URLs answer with a 301. Re-running updates.
    Wordpress {
        file: PathBuf,
        /// A local copy of `wp-content/uploads`, copied to `<data>/theme/static/uploads`;
        /// without it media keep their original URLs (counted in the warnings).
        #[arg(long)]
        uploads: Option<PathBuf>,
        /// Download each attachment the export names, and the images in post bodies on the
        /// old site's host, into the media library, and point the posts at the copies.
        #[arg(long)]
        fetch_attachments: bool,
        /// Let --fetch-attachments fetch from private, loopback and link-local addresses
        /// (an intranet's old site); refused otherwise.
        #[arg(long, requires = "fetch_attachments")]
        allow_private_addresses: bool,
        /// Most files --fetch-attachments downloads (each at most `media.max_upload_bytes`).
        #[arg(long, default_value_t = 10_000)]
        max_attachments: usize,
        /// Seconds a download may take to answer, and again to arrive.
        #[arg(long, default_value_t = 30)]
        attachment_timeout_secs: u64,
        /// List every warning, not only a count and an example of each kind.
        #[arg(long)]
        verbose: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// The whole site as one IPFS snapshot in a CARv1 file: every article bundle, an index page
    /// and the feed. Articles without a current bundle are bundled first.
    Car {
        #[arg(long)]
        out: PathBuf,
    },
    /// A WordPress export (WXR 1.2) of every article, page, category, tag and comment.
    Wordpress { out: PathBuf },
    /// The public site as static files (pages, archives, feeds, sitemap, assets, media) that
    /// any static server can serve, rendered by the same code as the server's pages.
    Static {
        /// A new or empty folder.
        out: PathBuf,
        /// The URL the copy will be served at, for canonical links and feeds (default: the
        /// configured `site.base_url`).
        #[arg(long)]
        base_url: Option<String>,
        /// Pages rendered at once.
        #[arg(long, default_value_t = 2)]
        jobs: usize,
    },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Count jobs per state.
    Status,
}

/// Entry point: parses arguments, runs the command, prints errors without a backtrace.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // html5ever warns of every malformed tag it mends, which imports of old sites meet by the
    // thousand; what an import changed is in its summary.
    let default_filter =
        if matches!(cli.command, Command::Serve { .. }) { "info,sqlx=warn" } else { "warn,html5ever=error" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OPENVOICE_LOG").unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: starting the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides { listen, database_url: cli.global.database_url.clone() };
    let data_dir = config::ensure_data_dir(&cli.global.data)?;
    let config = Config::load(&data_dir, &overrides)?;
    if let Command::Cid { path } = &cli.command {
        // Hashing only: no data folder, no database.
        let cid = openvoice_ipfs::import_path(path, |_| {}).with_context(|| format!("reading {}", path.display()))?;
        println!("{cid}");
        return Ok(());
    }
    if let Command::Config = cli.command {
        print!("{}", config.to_masked_toml());
        return Ok(());
    }
    if let Command::Restore { file } = &cli.command {
        // Before connecting: the database being replaced may be the damaged one.
        return restore(file, &database_url(&config, &data_dir), &data_dir).await;
    }
    let db = connect(&config, &data_dir).await?;
    // Other commands (`mail test`, `export car`…) run with the settings saved in the admin, as the
    // server's jobs do; `serve` lays them over the file's itself, which its pages follow.
    let config = match &cli.command {
        Command::Serve { .. } => config,
        _ => crate::settings::service::effective(&db, &config).await.context("reading the saved settings")?,
    };
    let limits = ContentLimits { max_article_bytes: config.content.max_article_bytes };
    match cli.command {
        Command::Serve { no_jobs, no_demo, .. } => {
            if !no_demo {
                seed(&db, limits).await?;
            }
            let _running = backup::hold_serve_lock(&data_dir)?;
            app::serve::serve(config, db, data_dir, !no_jobs).await
        }
        Command::Init { no_demo } => {
            if !no_demo {
                seed(&db, limits).await?;
            }
            write_default_config(&data_dir)?;
            println!("Data folder ready: {}", data_dir.display());
            if no_demo {
                migrate::tell_how_to_add_an_admin(&db).await?;
            }
            Ok(())
        }
        Command::Config => Ok(()),
        Command::User(command) => users::run(&db, command).await,
        Command::Category(command) => posts::categories(&db, command).await,
        Command::Post(command) => posts::run(&db, limits, command).await,
        Command::Import(ImportCommand::Markdown { dir, author }) => {
            migrate::import_markdown(&db, limits, &dir, &author).await
        }
        Command::Import(ImportCommand::Wordpress {
            file,
            uploads,
            fetch_attachments,
            allow_private_addresses,
            max_attachments,
            attachment_timeout_secs,
            verbose,
        }) => {
            let fetching = fetch_attachments.then(|| Fetching {
                limits: FetchLimits {
                    max_bytes: config.media.max_upload_bytes,
                    max_files: max_attachments,
                    timeout: std::time::Duration::from_secs(attachment_timeout_secs),
                    allow_private_addresses,
                },
                library: config.media.clone(),
            });
            migrate::import_wordpress(&db, limits, &data_dir, &file, uploads.as_deref(), fetching, verbose).await
        }
        Command::Cid { .. } | Command::Restore { .. } => Ok(()),
        Command::Backup { out } => {
            let written = backup::take(&db, &database_url(&config, &data_dir), &out).await?;
            println!(
                "Backup written: {} ({:.1} MB)\n  sha256 {}  (in {}.sha256)\n  restore with: openvoice restore {}",
                written.path.display(),
                written.bytes as f64 / 1e6,
                written.sha256,
                written.path.display(),
                written.path.display()
            );
            Ok(())
        }
        Command::Export(ExportCommand::Wordpress { out }) => migrate::export_wordpress(&db, &config, &out).await,
        Command::Export(ExportCommand::Car { out }) => ipfs::export_car(&db, &config, &data_dir, &out).await,
        Command::Export(ExportCommand::Static { out, base_url, jobs }) => {
            // A connection per task at most: the export reads the site in a few bulk queries.
            let db = Db::connect(&database_url(&config, &data_dir), jobs.clamp(1, 16) as u32).await?;
            migrate::export_static(db, config, data_dir, &out, base_url, jobs, app::router::router).await
        }
        Command::Ipfs(command) => ipfs::run(&db, &config, command).await,
        Command::Jobs(JobsCommand::Status) => {
            for (state, count) in jobs::counts(&db).await? {
                println!("{state:<10} {count}");
            }
            Ok(())
        }
        Command::Comments(command) => comments::run(&db, command).await,
        Command::Token(command) => tokens::run(&db, command).await,
        Command::Subscribers(command) => subscribers::run(&db, &config, command).await,
        Command::Fediverse(command) => fediverse::run(&db, &config, command).await,
        Command::Mail(command) => {
            let (mailer, _) = crate::subscriptions::contexts(Arc::new(config.clone()), &data_dir)?;
            mail::run(&db, &mailer, &config.site.title, command).await
        }
    }
}

async fn restore(file: &Path, database_url: &str, data_dir: &Path) -> anyhow::Result<()> {
    match backup::restore(file, database_url, data_dir).await? {
        backup::Restored::Sqlite { database, previous } => {
            println!("Restored {} into {}", file.display(), database.display());
            if let Some(previous) = previous {
                println!("  the replaced database is kept as {}", previous.display());
            }
        }
        backup::Restored::Postgres { schema } => {
            println!("Restored {} into the PostgreSQL schema {schema}", file.display());
        }
    }
    Ok(())
}

async fn connect(config: &Config, data_dir: &Path) -> anyhow::Result<Db> {
    Db::connect(&database_url(config, data_dir), 16).await
}

fn database_url(config: &Config, data_dir: &Path) -> String {
    if config.database_url.is_empty() {
        store::sqlite_url_for(data_dir)
    } else {
        config.database_url.clone()
    }
}

async fn seed(db: &Db, limits: ContentLimits) -> anyhow::Result<()> {
    if let Some(seeded) = demo::seed_if_empty(db, limits).await? {
        // Printed on the console, never logged: this is the only time the password is shown.
        println!("Created the demo site and an admin account.");
        println!("  username: {}", seeded.admin_username);
        println!("  password: {}  (shown once; change it after logging in)", seeded.admin_password);
    }
    Ok(())
}

fn write_default_config(data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join("openvoice.toml");
    if path.exists() {
        return Ok(());
    }
    let text = format!(
        "# OpenVoice configuration. Every key can also be set as OPENVOICE_<SECTION>_<KEY>,\n# and `openvoice config` prints the effective values.\n\n{}",
        toml::to_string(&Config::default()).unwrap_or_default()
    );
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}
