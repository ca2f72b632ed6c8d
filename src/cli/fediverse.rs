//! `openvoice fediverse …`: the site actor's followers, reactions and blocks, as the desk's
//! Fediverse screen shows them (`activitypub::followers`).

use anyhow::bail;
use clap::Subcommand;

use crate::activitypub::followers::{self, BlockError};
use crate::activitypub::service;
use crate::config::Config;
use crate::store::{self, Db};
use crate::theme;

#[derive(Debug, Subcommand)]
pub enum FediverseCommand {
    /// The actor's handle, followers, instances, likes, boosts, blocks, and the instances whose
    /// deliveries fail.
    Status,
    /// List followers, newest first.
    Followers {
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Block an instance (`mastodon.example`), an actor URL, or `@user@host` (an actor this site
    /// has seen); its followers are removed at once.
    Block { target: String },
    /// Lift a block (as `blocks` lists it, or as `block` took it).
    Unblock { target: String },
    /// List blocks, newest first.
    Blocks,
}

pub async fn run(db: &Db, config: &Config, command: FediverseCommand) -> anyhow::Result<()> {
    match command {
        FediverseCommand::Status => {
            let o = followers::overview(db).await?;
            println!("handle     @{}@{}", config.activitypub.username, service::host(config));
            println!("actor      {}", service::Urls::new(config).actor());
            println!("followers  {}", o.followers);
            println!("instances  {}", o.instances);
            println!("likes      {}", o.likes);
            println!("boosts     {}", o.boosts);
            println!("blocks     {}", o.blocks);
            println!("failing    {} instance(s) failing deliveries", o.failing_instances);
            Ok(())
        }
        FediverseCommand::Followers { limit } => {
            if limit < 1 {
                bail!("--limit {limit}: expected at least 1");
            }
            let listed = followers::list(db, limit.min(1_000_000), 0).await?;
            if listed.is_empty() {
                println!("No followers.");
            }
            for f in listed {
                let who = match (&f.handle, &f.name) {
                    (Some(handle), Some(name)) if name != handle => format!("@{handle} ({name})"),
                    (Some(handle), _) => format!("@{handle}"),
                    _ => String::new(),
                };
                println!("{:<20} {:<24} {} {who}", theme::rfc3339(f.followed_at), f.host, f.actor_id);
            }
            Ok(())
        }
        FediverseCommand::Block { target } => match followers::block(db, &target, store::now()).await {
            Ok(done) if done.new => {
                println!("Blocked {}; {} follower(s) removed", done.target.as_str(), done.removed_followers);
                Ok(())
            }
            Ok(done) => {
                println!(
                    "{} was already blocked; {} follower(s) removed",
                    done.target.as_str(),
                    done.removed_followers
                );
                Ok(())
            }
            Err(err) => Err(refused("block", &target, err)),
        },
        FediverseCommand::Unblock { target } => match followers::unblock(db, &target).await {
            Ok(done) => {
                println!("Unblocked {}", done.as_str());
                Ok(())
            }
            Err(err) => Err(refused("unblock", &target, err)),
        },
        FediverseCommand::Blocks => {
            let blocks = followers::blocks(db).await?;
            if blocks.is_empty() {
                println!("Nothing is blocked.");
            }
            for b in blocks {
                println!("{:<20} {}", theme::rfc3339(b.created_at), b.target);
            }
            Ok(())
        }
    }
}

/// The error for a refused TARGET, naming the argument.
fn refused(command: &str, target: &str, err: BlockError) -> anyhow::Error {
    match err {
        BlockError::Db(err) => anyhow::Error::new(err).context(format!("fediverse {command} {target}")),
        other => anyhow::anyhow!("fediverse {command}: TARGET {target:?}: {other}"),
    }
}
