//! `openvoice post …` and `openvoice category …`: articles and categories from the command line.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;

use crate::content::model::ArticleKind;
use crate::content::service::{self, ContentLimits, Draft, Publish, Terms};
use crate::content::{import, queries};
use crate::store::{self, Db};
use crate::theme;

#[derive(Debug, Subcommand)]
pub enum PostCommand {
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
pub enum CategoryCommand {
    /// Add a category.
    Add {
        name: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List categories with their number of published articles.
    List,
}

pub async fn run(db: &Db, limits: ContentLimits, command: PostCommand) -> anyhow::Result<()> {
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
            let draft = Draft {
                kind,
                title,
                slug,
                excerpt,
                body_md,
                author,
                category,
                further_categories: Vec::new(),
                tags,
                featured_image: None,
                publish,
                sticky: false,
            };
            let saved = service::drafts::create(db, limits, draft, Terms::MustExist).await?;
            let article = service::reading::find(db, saved.slug()).await?;
            println!("{} {} ({})", article.summary.status.as_str(), article.summary.slug, article.summary.title);
            Ok(())
        }
        PostCommand::Edit { slug, file, title } => {
            let current = service::reading::find(db, &slug).await?;
            let body_md = read_body(&file, limits)?;
            let further_categories = current.further_categories().map(|c| c.slug.clone()).collect();
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
                further_categories,
                category: s.category.map(|c| c.slug),
                tags: current.tags.into_iter().map(|t| t.name).collect(),
                featured_image: current.featured_image,
                publish,
                sticky: s.sticky,
            };
            let saved = service::drafts::upsert(db, limits, draft, Terms::MustExist).await?;
            println!("updated {}", saved.slug());
            Ok(())
        }
        PostCommand::List { limit } => {
            for a in queries::reading::list_all(db, limit.clamp(1, 10_000)).await? {
                let when = a.published_at.or(a.scheduled_at).map(theme::rfc3339).unwrap_or_else(|| "-".into());
                let category = a.category.map(|c| c.name).unwrap_or_default();
                println!("{:<10} {:<20} {:<22} {:<20} {}", a.status.as_str(), when, category, a.slug, a.title);
            }
            Ok(())
        }
        PostCommand::Publish { slug } => {
            service::write::publish_now(db, &slug).await?;
            println!("published {slug}");
            Ok(())
        }
    }
}

pub async fn categories(db: &Db, command: CategoryCommand) -> anyhow::Result<()> {
    match command {
        CategoryCommand::Add { name, description } => {
            let category = service::drafts::add_category(db, &name, &description).await?;
            println!("Created category {:?} (/category/{})", category.name, category.slug);
            Ok(())
        }
        CategoryCommand::List => {
            for (category, count) in queries::terms::categories_with_counts(db).await? {
                println!("{:<30} {:<30} {count}", category.name, category.slug);
            }
            Ok(())
        }
    }
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
