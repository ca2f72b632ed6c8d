//! Who follows the site actor, and who may not: the desk's and the CLI's view of the followers,
//! the likes and boosts, and blocks of an instance (`mastodon.example`) or an actor (its URL, or
//! `@user@host` when that actor is known). No HTTP, no SQL: `queries::followers` holds it.
//!
//! A block removes the followers it covers in the same transaction; the inbox refuses what a
//! blocked instance or actor sends (`queries::followers::is_blocked`).

use crate::activitypub::queries::followers::{Block, ListedFollower};
use crate::activitypub::queries::{actors, followers};
use crate::store::{self, Db, DbError};

/// Longest block target kept.
pub const MAX_TARGET_CHARS: usize = 255;

/// The numbers at the top of the desk's screen and of `openvoice fediverse status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overview {
    pub followers: i64,
    /// Distinct instances the followers are on.
    pub instances: i64,
    pub likes: i64,
    pub boosts: i64,
    pub blocks: i64,
    /// Instances whose deliveries fail (since their last success).
    pub failing_instances: i64,
}

/// What a block names, once read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A whole instance, by its lowercased host (`mastodon.example`, with `:port` if any).
    Instance(String),
    /// One actor, by its id (a URL).
    Actor(String),
}

impl Target {
    /// What `ap_blocks.target` holds for it.
    pub fn as_str(&self) -> &str {
        match self {
            Target::Instance(host) | Target::Actor(host) => host,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The target typed is not a host, an actor URL or a known handle; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// `unblock` of something not blocked.
    #[error("{0} is not blocked")]
    NotBlocked(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A block done: the target as stored, whether it was new, and how many followers it removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub target: Target,
    pub new: bool,
    pub removed_followers: u64,
}

pub async fn overview(db: &Db) -> Result<Overview, DbError> {
    let (likes, boosts) = followers::reaction_totals(db).await?;
    Ok(Overview {
        followers: followers::count(db).await?,
        instances: followers::instances_count(db).await?,
        likes,
        boosts,
        blocks: followers::blocks(db).await?.len() as i64,
        failing_instances: followers::failing_instances(db).await?,
    })
}

/// A page of followers, newest first.
pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<Vec<ListedFollower>, DbError> {
    followers::page(db, limit.max(1), offset.max(0)).await
}

/// Every block, newest first.
pub async fn blocks(db: &Db) -> Result<Vec<Block>, DbError> {
    followers::blocks(db).await
}

/// Blocks an instance or an actor (`input` as typed: a host, an actor URL, or `@user@host`) and
/// removes its followers, in one transaction.
pub async fn block(db: &Db, input: &str, now: i64) -> Result<Blocked, BlockError> {
    let target = resolve(db, input).await?;
    let mut tx = db.begin().await?;
    let (new, removed_followers) = followers::block(&mut tx, target.as_str(), now).await?;
    if new {
        let detail = format!("{} ({removed_followers} follower(s) removed)", target.as_str());
        store::record_activity(&mut tx, "activitypub.blocked", None, &detail).await?;
    }
    tx.commit().await.map_err(DbError::from)?;
    tracing::info!(block.target = target.as_str(), removed_followers, "Blocked {}", target.as_str());
    Ok(Blocked { target, new, removed_followers })
}

/// Lifts a block, named as `block` takes it or as the list shows it.
pub async fn unblock(db: &Db, input: &str) -> Result<Target, BlockError> {
    let target = resolve(db, input).await?;
    let mut tx = db.begin().await?;
    if !followers::unblock(&mut tx, target.as_str()).await? {
        return Err(BlockError::NotBlocked(target.as_str().to_string()));
    }
    store::record_activity(&mut tx, "activitypub.unblocked", None, target.as_str()).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(target)
}

/// What `input` names; a handle is looked up among the actors already fetched.
pub async fn resolve(db: &Db, input: &str) -> Result<Target, BlockError> {
    match parse(input)? {
        Parsed::Target(target) => Ok(target),
        Parsed::Handle(handle) => match actors::by_handle(db, &handle).await? {
            Some(actor) => Ok(Target::Actor(actor.actor_id)),
            None => Err(BlockError::Invalid(format!(
                "@{handle} is not an actor this site has seen: block its actor URL or its instance instead"
            ))),
        },
    }
}

/// What `input` reads as, before a handle is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parsed {
    Target(Target),
    /// `user@host`, without the leading `@`.
    Handle(String),
}

fn parse(input: &str) -> Result<Parsed, BlockError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(BlockError::Invalid("Type an instance (mastodon.example), an actor URL or @user@host.".into()));
    }
    if input.chars().count() > MAX_TARGET_CHARS {
        return Err(BlockError::Invalid(format!("At most {MAX_TARGET_CHARS} characters.")));
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(BlockError::Invalid(format!("{input:?} has spaces in it.")));
    }
    let lower = input.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if !is_host(authority) {
            return Err(BlockError::Invalid(format!("{input:?} is not a URL with a host name.")));
        }
        if path.is_empty() {
            // `https://mastodon.example/` names the instance.
            return Ok(Parsed::Target(Target::Instance(authority.to_string())));
        }
        if input.chars().any(|c| "<>\"'`\\".contains(c)) {
            return Err(BlockError::Invalid(format!("{input:?} is not a valid URL.")));
        }
        return Ok(Parsed::Target(Target::Actor(input.to_string())));
    }
    if input.contains("://") {
        return Err(BlockError::Invalid(format!("{input:?}: only http(s) actor URLs can be blocked.")));
    }
    let handle = lower.strip_prefix('@').unwrap_or(&lower);
    if let Some((user, host)) = handle.split_once('@') {
        let user_ok =
            !user.is_empty() && user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
        if user_ok && is_host(host) {
            return Ok(Parsed::Handle(handle.to_string()));
        }
        return Err(BlockError::Invalid(format!("{input:?} is not a handle like @user@mastodon.example.")));
    }
    if is_host(&lower) {
        return Ok(Parsed::Target(Target::Instance(lower)));
    }
    Err(BlockError::Invalid(format!("{input:?} is not an instance (mastodon.example), an actor URL or @user@host.")))
}

/// A DNS host name with at least two labels (`mastodon.example`), optionally with `:port`.
fn is_host(authority: &str) -> bool {
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()));
    let labels: Vec<&str> = host.split('.').collect();
    port_ok
        && labels.len() >= 2
        && host.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(input: &str) -> Result<Parsed, String> {
        parse(input).map_err(|e| e.to_string())
    }

    #[test]
    fn targets_are_hosts_actor_urls_or_handles() {
        let instance = |h: &str| Ok(Parsed::Target(Target::Instance(h.into())));
        assert_eq!(target(" Mastodon.Example "), instance("mastodon.example"));
        assert_eq!(target("https://mastodon.example/"), instance("mastodon.example"));
        assert_eq!(target("social.example:8443"), instance("social.example:8443"));
        assert_eq!(
            target("https://mastodon.example/users/Bob"),
            Ok(Parsed::Target(Target::Actor("https://mastodon.example/users/Bob".into())))
        );
        assert_eq!(target("@Bob@Mastodon.example"), Ok(Parsed::Handle("bob@mastodon.example".into())));
        assert_eq!(target("bob@mastodon.example"), Ok(Parsed::Handle("bob@mastodon.example".into())));
        for bad in
            ["", "   ", "localhost", "not a host", "ftp://x.example/a", "-a.example", "a..example", "@@x.example"]
        {
            assert!(target(bad).is_err(), "{bad:?} is refused");
        }
        assert!(target(&format!("{}.example", "a".repeat(250))).is_err(), "too long");
    }
}
