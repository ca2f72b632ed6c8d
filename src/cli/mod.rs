//! The `openvoice` command line: the clap tree and the commands that fit in a few lines here;
//! each larger family has its own file (`comments`, `subscribers`, `mail`, `tokens`, `migrate`).

mod comments;
mod mail;
mod migrate;
mod subscribers;
mod tokens;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};

use crate::accounts::{self, NewUser, Role};
use crate::app;
use crate::config::{self, Config, Overrides};
use crate::content::model::ArticleKind;
use crate::content::service::{self, ContentLimits, Draft, Publish, Terms};
use crate::content::{import, queries};
use crate::demo;
use crate::ipfs;
use crate::jobs;
use crate::store::{self, Db};
use crate::theme;

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
    },
    /// Create the data folder and database, and seed the demo site if empty.
    Init,
    /// Print the effective configuration (secrets masked).
    Config,
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage categories.
    #[command(subcommand)]
    Category(CategoryCommand),
    /// Write, list and publish articles.
    #[command(subcommand)]
    Post(PostCommand),
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
    Ipfs(IpfsCommand),
    /// Moderate reader comments; open or close them per article.
    #[command(subcommand)]
    Comments(comments::CommentsCommand),
    /// Email subscribers: list, count, export, import, add, unsubscribe, remove, notify.
    #[command(subcommand)]
    Subscribers(subscribers::SubscribersCommand),
    /// Outgoing mail: test the settings, see the outbox, deliver now.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// API tokens for /api/v1: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(tokens::TokenCommand),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add an account; prints a generated password unless --password-stdin is given.
    Add {
        /// Login name, also used in author URLs.
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_enum, default_value = "author")]
        role: Role,
        /// Name shown in bylines (default: the username).
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (a locked-out admin without mail); ends the account's sessions and
    /// lockout. Prints a generated password unless --password-stdin is given.
    Password {
        /// Username or email address.
        username: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CategoryCommand {
    /// Add a category.
    Add {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List categories with their number of published articles.
    List,
}

#[derive(Debug, Subcommand)]
enum PostCommand {
    /// Create an article from a Markdown file (a draft unless --publish or --schedule).
    New {
        #[arg(long)]
        title: String,
        /// Category name or slug (must exist).
        #[arg(long)]
        category: Option<String>,
        /// Markdown body; `-` reads standard input.
        #[arg(long)]
        file: PathBuf,
        /// Comma-separated tags.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        excerpt: Option<String>,
        /// Author's username or display name.
        #[arg(long, default_value = "admin")]
        author: String,
        /// Create a standing page (About, Contact) instead of an article.
        #[arg(long)]
        page: bool,
        /// Publish at once.
        #[arg(long, conflicts_with = "schedule")]
        publish: bool,
        /// Publish at this time (RFC 3339, or `YYYY-MM-DD HH:MM` in UTC).
        #[arg(long)]
        schedule: Option<String>,
    },
    /// Replace an article's body (and optionally title); the previous version is kept as a revision.
    Edit {
        slug: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        title: Option<String>,
    },
    /// List articles of every status.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Publish a draft or scheduled article now.
    Publish { slug: String },
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
        /// without it media keep their original URLs (listed at the end).
        #[arg(long)]
        uploads: Option<PathBuf>,
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
enum IpfsCommand {
    /// Each article's current bundle CID and its pin state per target.
    Status,
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Count jobs per state.
    Status,
}

/// Entry point: parses arguments, runs the command, prints errors without a backtrace.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = if matches!(cli.command, Command::Serve { .. }) { "info,sqlx=warn" } else { "warn" };
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
    let db = connect(&config, &data_dir).await?;
    // Other commands (`mail test`, `export car`…) run with the settings saved in the admin, as the
    // server's jobs do; `serve` lays them over the file's itself, which its pages follow.
    let config = match &cli.command {
        Command::Serve { .. } => config,
        _ => crate::settings::service::effective(&db, &config).await.context("reading the saved settings")?,
    };
    let limits = ContentLimits { max_article_bytes: config.content.max_article_bytes };
    match cli.command {
        Command::Serve { no_jobs, .. } => {
            seed(&db, limits).await?;
            app::serve::serve(config, db, data_dir, !no_jobs).await
        }
        Command::Init => {
            seed(&db, limits).await?;
            write_default_config(&data_dir)?;
            println!("Data folder ready: {}", data_dir.display());
            Ok(())
        }
        Command::Config => Ok(()),
        Command::User(UserCommand::Add { username, email, role, display_name, password_stdin }) => {
            let password = new_password(password_stdin)?;
            let display_name = display_name.unwrap_or_else(|| username.clone());
            let new = NewUser {
                username: &username,
                email: &email,
                display_name: &display_name,
                role,
                password: Some(&password),
            };
            let user = accounts::create_user(&db, &new).await?;
            println!("Created {} {:?} ({})", user.role, user.username, user.email);
            if !password_stdin {
                println!("Password (shown once): {password}");
            }
            Ok(())
        }
        Command::User(UserCommand::Password { username, password_stdin }) => {
            let password = new_password(password_stdin)?;
            let user = accounts::auth::set_password(&db, &username, &password).await?;
            println!("New password set for {:?}; its sessions have ended", user.username);
            if !password_stdin {
                println!("Password (shown once): {password}");
            }
            Ok(())
        }
        Command::Category(CategoryCommand::Add { name, description }) => {
            let category = service::add_category(&db, &name, &description).await?;
            println!("Created category {:?} (/category/{})", category.name, category.slug);
            Ok(())
        }
        Command::Category(CategoryCommand::List) => {
            for (category, count) in queries::categories_with_counts(&db).await? {
                println!("{:<30} {:<30} {count}", category.name, category.slug);
            }
            Ok(())
        }
        Command::Post(command) => post(&db, limits, command).await,
        Command::Import(ImportCommand::Markdown { dir, author }) => {
            migrate::import_markdown(&db, limits, &dir, &author).await
        }
        Command::Import(ImportCommand::Wordpress { file, uploads }) => {
            migrate::import_wordpress(&db, limits, &data_dir, &file, uploads.as_deref()).await
        }
        Command::Cid { .. } => Ok(()),
        Command::Export(ExportCommand::Wordpress { out }) => migrate::export_wordpress(&db, &config, &out).await,
        Command::Export(ExportCommand::Car { out }) => export_car(&db, &config, &data_dir, &out).await,
        Command::Export(ExportCommand::Static { out, base_url, jobs }) => {
            // A connection per task at most: the export reads the site in a few bulk queries.
            let db = Db::connect(&database_url(&config, &data_dir), jobs.clamp(1, 16) as u32).await?;
            migrate::export_static(db, config, data_dir, &out, base_url, jobs, app::router::router).await
        }
        Command::Ipfs(IpfsCommand::Status) => {
            for (slug, target, cid, state, error) in ipfs::queries::pin_states(&db).await? {
                println!("{slug:<40} {target:<16} {state:<10} {cid} {}", error.unwrap_or_default());
            }
            println!(
                "{} bundled article(s), {} block(s)",
                ipfs::queries::published_bundles(&db).await?.len(),
                ipfs::queries::count_blocks(&db).await?
            );
            Ok(())
        }
        Command::Jobs(JobsCommand::Status) => {
            for (state, count) in jobs::counts(&db).await? {
                println!("{state:<10} {count}");
            }
            Ok(())
        }
        Command::Comments(command) => comments::run(&db, command).await,
        Command::Token(command) => tokens::run(&db, command).await,
        Command::Subscribers(command) => subscribers::run(&db, &config, command).await,
        Command::Mail(command) => {
            let (mailer, _) = crate::subscriptions::contexts(Arc::new(config.clone()), &data_dir)?;
            mail::run(&db, &mailer, &config.site.title, command).await
        }
    }
}

async fn post(db: &Db, limits: ContentLimits, command: PostCommand) -> anyhow::Result<()> {
    match command {
        PostCommand::New { title, category, file, tags, slug, excerpt, author, page, publish, schedule } => {
            let body_md = read_body(&file, limits)?;
            let publish = match (publish, schedule) {
                (true, _) => Publish::Now,
                (false, Some(when)) => Publish::At(
                    import::parse_time(&when)
                        .with_context(|| format!("--schedule: {when:?} is not a time (expected e.g. 2026-12-01T09:00:00Z or \"2026-12-01 09:00\")"))?,
                ),
                (false, None) => Publish::Draft,
            };
            let kind = if page { ArticleKind::Page } else { ArticleKind::Post };
            let draft =
                Draft { kind, title, slug, excerpt, body_md, author, category, tags, featured_image: None, publish };
            let saved = service::create(db, limits, draft, Terms::MustExist).await?;
            let article = service::find(db, saved.slug()).await?;
            println!("{} {} ({})", article.summary.status.as_str(), article.summary.slug, article.summary.title);
            Ok(())
        }
        PostCommand::Edit { slug, file, title } => {
            let current = service::find(db, &slug).await?;
            let body_md = read_body(&file, limits)?;
            let s = current.summary;
            let publish = match s.status {
                crate::content::model::Status::Draft | crate::content::model::Status::Trashed => Publish::Draft,
                crate::content::model::Status::Scheduled => Publish::At(s.scheduled_at.unwrap_or_else(store::now)),
                crate::content::model::Status::Published => Publish::At(s.published_at.unwrap_or_else(store::now)),
            };
            let draft = Draft {
                kind: s.kind,
                title: title.unwrap_or(s.title),
                slug: Some(s.slug),
                excerpt: Some(s.excerpt),
                body_md,
                author: s.author.username,
                category: s.category.map(|c| c.slug),
                tags: current.tags.into_iter().map(|t| t.name).collect(),
                featured_image: current.featured_image,
                publish,
            };
            let saved = service::upsert(db, limits, draft, Terms::MustExist).await?;
            println!("updated {}", saved.slug());
            Ok(())
        }
        PostCommand::List { limit } => {
            for a in queries::list_all(db, limit.clamp(1, 10_000)).await? {
                let when = a.published_at.or(a.scheduled_at).map(theme::rfc3339).unwrap_or_else(|| "-".into());
                let category = a.category.map(|c| c.name).unwrap_or_default();
                println!("{:<10} {:<20} {:<22} {:<20} {}", a.status.as_str(), when, category, a.slug, a.title);
            }
            Ok(())
        }
        PostCommand::Publish { slug } => {
            service::publish_now(db, &slug).await?;
            println!("published {slug}");
            Ok(())
        }
    }
}

/// A password read from standard input (`--password-stdin`), or a generated one.
fn new_password(from_stdin: bool) -> anyhow::Result<String> {
    if !from_stdin {
        return Ok(accounts::generate_password());
    }
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading the password from standard input")?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

fn read_body(path: &Path, limits: ContentLimits) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    let limit = limits.max_article_bytes as u64 + 1;
    if path == Path::new("-") {
        std::io::stdin().take(limit).read_to_end(&mut bytes).context("reading standard input")?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("--file {}", path.display()))?
            .take(limit)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {}", path.display()))?;
    }
    if bytes.len() > limits.max_article_bytes {
        bail!("--file {}: larger than content.max_article_bytes ({} bytes)", path.display(), limits.max_article_bytes);
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "--file {}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
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

/// Bundles every published article that lacks a current bundle, rebuilds the snapshot and
/// writes it as a CAR file.
async fn export_car(db: &Db, config: &Config, data_dir: &Path, out: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let publishing = app::jobs::publishing(config, data_dir)?;
    let ids = queries::published_ids(db).await?;
    for (n, id) in ids.iter().enumerate() {
        ipfs::service::bundle_article(db, &publishing, *id).await?;
        if (n + 1) % 1000 == 0 {
            eprintln!("bundled {}/{}", n + 1, ids.len());
        }
    }
    let root = ipfs::service::build_snapshot(db, config, &publishing.templates).await?;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let blocks = ipfs::service::DbBlocks::new(db.clone());
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
