//! `openvoice comments …`: the moderation queue and the per-article switch.

use anyhow::bail;
use clap::Subcommand;

use crate::comments::model::{ArticleSettings, CommentStatus};
use crate::comments::service::{self, CommentError};
use crate::comments::{queries, routes};
use crate::store::{Db, DbError};
use crate::theme;

#[derive(Debug, Subcommand)]
pub enum CommentsCommand {
    /// List comments, newest first (the moderation queue: `--status pending`).
    List {
        /// pending, approved, spam or trash; all statuses when omitted.
        #[arg(long, value_enum)]
        status: Option<CommentStatus>,
        /// Only the comments on this article (slug).
        #[arg(long)]
        article: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Publish comments (ids, e.g. `approve 12 13 14`).
    Approve {
        #[arg(required = true, num_args = 1..)]
        ids: Vec<i64>,
    },
    /// Send comments back to the moderation queue.
    Unapprove {
        #[arg(required = true, num_args = 1..)]
        ids: Vec<i64>,
    },
    /// Mark comments as spam.
    Spam {
        #[arg(required = true, num_args = 1..)]
        ids: Vec<i64>,
    },
    /// Move comments to the trash (replies to them are refused).
    Trash {
        #[arg(required = true, num_args = 1..)]
        ids: Vec<i64>,
    },
    /// Open an article's comments, optionally closing them N days after publication.
    Open {
        slug: String,
        /// 0 = never close; default: the site's `comments.close_after_days`.
        #[arg(long)]
        close_after_days: Option<i64>,
    },
    /// Close an article's comments.
    Close { slug: String },
}

pub async fn run(db: &Db, command: CommentsCommand) -> anyhow::Result<()> {
    match command {
        CommentsCommand::List { status, article, limit } => {
            let article_id = match &article {
                Some(slug) => match queries::settings_by_slug(db, slug).await {
                    Ok((id, _)) => Some(id),
                    Err(DbError::NotFound) => bail!("--article: no article {slug:?}"),
                    Err(err) => return Err(err.into()),
                },
                None => None,
            };
            let comments = queries::for_moderation(
                db,
                queries::ModerationFilter { status, article_id, published_articles_only: false },
                limit.clamp(1, 10_000),
                0,
            )
            .await?;
            if comments.is_empty() {
                println!("No comments.");
            }
            for c in comments {
                let text: String =
                    routes::plain_text(&c.comment.content_html).split_whitespace().collect::<Vec<_>>().join(" ");
                let excerpt: String = text.chars().take(70).collect();
                println!(
                    "{:<7} {:<9} {:<20} {:<28} {} <{}>{}\n        {excerpt}",
                    c.comment.id,
                    c.comment.status.as_str(),
                    theme::rfc3339(c.comment.created_at),
                    c.article_slug,
                    c.comment.author_name,
                    c.remote_actor.as_deref().unwrap_or(&c.author_email),
                    c.comment.parent_id.map(|p| format!(" (reply to {p})")).unwrap_or_default(),
                );
            }
            Ok(())
        }
        CommentsCommand::Approve { ids } => moderate(db, &ids, CommentStatus::Approved).await,
        CommentsCommand::Unapprove { ids } => moderate(db, &ids, CommentStatus::Pending).await,
        CommentsCommand::Spam { ids } => moderate(db, &ids, CommentStatus::Spam).await,
        CommentsCommand::Trash { ids } => moderate(db, &ids, CommentStatus::Trash).await,
        CommentsCommand::Open { slug, close_after_days } => {
            if close_after_days.is_some_and(|d| !(0..=36_500).contains(&d)) {
                bail!("--close-after-days: expected a number of days from 0 to 36500");
            }
            let settings = ArticleSettings { open: true, close_after_days };
            service::set_article_settings(db, &slug, settings).await.map_err(explain)?;
            println!("comments open on {slug}");
            Ok(())
        }
        CommentsCommand::Close { slug } => {
            let settings = ArticleSettings { open: false, close_after_days: None };
            service::set_article_settings(db, &slug, settings).await.map_err(explain)?;
            println!("comments closed on {slug}");
            Ok(())
        }
    }
}

async fn moderate(db: &Db, ids: &[i64], status: CommentStatus) -> anyhow::Result<()> {
    let changed = service::set_status(db, ids, status).await.map_err(explain)?;
    let unchanged = ids.len() - changed.len();
    println!(
        "{} comment(s) now {}{}",
        changed.len(),
        status.as_str(),
        if unchanged > 0 { format!(" ({unchanged} already were)") } else { String::new() }
    );
    Ok(())
}

fn explain(err: CommentError) -> anyhow::Error {
    match err {
        CommentError::Invalid(errors) => {
            anyhow::anyhow!("{}", errors.into_iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; "))
        }
        other => anyhow::anyhow!(other),
    }
}
