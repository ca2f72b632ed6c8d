//! What the inbox does with an activity whose signature was verified: follows, likes and
//! boosts, replies, deletions. No HTTP here; `routes::inbox` verifies and answers.
//!
//! Every activity must be the signer's own (`actor` is the key's owner), so nobody can follow,
//! like or reply in another's name. What is not understood is accepted and dropped, as the
//! fediverse expects (`Outcome::Ignored`).

use serde_json::{json, Value};

use super::delivery;
use super::queries::actors::RemoteActor;
use super::queries::{actors, followers, reactions};
use super::remote::host_of;
use super::service::{context, Urls};
use crate::comments::model::RemoteReply;
use crate::comments::service::{self as comments, CommentError};
use crate::config::Config;
use crate::content::service::reading;
use crate::store::{self, Db, DbError};

/// What an activity did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A follow, accepted (an `Accept` is on its way).
    Followed,
    Unfollowed,
    /// A like or boost counted, or taken back.
    Reacted,
    Unreacted,
    /// A reply, now a comment in this state (`pending`, `approved`, `spam`).
    Commented(&'static str),
    CommentDeleted,
    /// The actor deleted itself: its follow, reactions and kept document are gone.
    ActorDeleted,
    /// Accepted and dropped, with why.
    Ignored(&'static str),
}

/// Why an activity is refused.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// 422: the field at fault.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 429: the actor is replying too fast; retry after this many seconds.
    #[error("too many replies; retry in {0} s")]
    Later(u64),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for InboxError {
    fn from(err: sqlx::Error) -> Self {
        InboxError::Db(err.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> InboxError {
    InboxError::Invalid { field, message: message.into() }
}

/// An `id`, whether given as a string or as an object with one.
fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(id) => Some(id),
        Value::Object(object) => object.get("id").and_then(Value::as_str),
        _ => None,
    }
}

fn type_of(value: &Value) -> Option<&str> {
    value.get("type").and_then(Value::as_str)
}

/// Handles `activity`, sent and signed by `signer`.
pub async fn receive(db: &Db, config: &Config, signer: &RemoteActor, activity: &Value) -> Result<Outcome, InboxError> {
    let kind = type_of(activity).ok_or_else(|| invalid("type", "an activity needs a type"))?;
    let actor = activity.get("actor").and_then(id_of).ok_or_else(|| invalid("actor", "an activity needs an actor"))?;
    if actor != signer.actor_id {
        return Err(InboxError::Forbidden(format!("actor {actor} is not the signer {}", signer.actor_id)));
    }
    let host = host_of(actor).unwrap_or_default();
    let mut conn = db.pool.acquire().await.map_err(DbError::from)?;
    if followers::is_blocked(&mut conn, actor, &host).await? {
        return Err(InboxError::Forbidden(format!("{actor} is blocked here")));
    }
    drop(conn);
    let activity_id = activity.get("id").and_then(Value::as_str).unwrap_or_default();
    let object = activity.get("object").unwrap_or(&Value::Null);
    match kind {
        "Follow" => follow(db, config, signer, activity_id, object).await,
        "Undo" => undo(db, signer, object).await,
        "Like" | "Announce" => react(db, config, signer, kind, activity_id, object).await,
        "Create" => reply(db, config, signer, object).await,
        "Delete" => delete(db, signer, object).await,
        _ => Ok(Outcome::Ignored("not an activity this site acts on")),
    }
}

async fn follow(
    db: &Db,
    config: &Config,
    signer: &RemoteActor,
    follow_id: &str,
    object: &Value,
) -> Result<Outcome, InboxError> {
    let urls = Urls::new(config);
    if id_of(object) != Some(urls.actor().as_str()) {
        return Ok(Outcome::Ignored("a follow of someone else"));
    }
    if follow_id.is_empty() {
        return Err(invalid("id", "a Follow needs an id, which its Accept names"));
    }
    let now = store::now();
    let follower = followers::Follower {
        actor_id: signer.actor_id.clone(),
        host: host_of(&signer.actor_id).unwrap_or_default(),
        inbox: signer.shared_inbox.clone().unwrap_or_else(|| signer.inbox.clone()),
        follow_id: follow_id.to_string(),
        followed_at: now,
    };
    let accept = json!({
        "@context": context(),
        "id": format!("{}#accepts/{:016x}", urls.actor(), rand::random::<u64>()),
        "type": "Accept",
        "actor": urls.actor(),
        "object": { "id": follow_id, "type": "Follow", "actor": signer.actor_id, "object": urls.actor() },
    });
    let mut tx = db.begin().await?;
    followers::add(&mut tx, &follower).await?;
    // The Accept goes to the follower's own inbox: it is addressed to that actor alone.
    delivery::send(&mut tx, &accept, vec![signer.inbox.clone()], now).await?;
    store::record_activity(&mut tx, "activitypub.followed", None, &signer.handle).await?;
    tx.commit().await?;
    Ok(Outcome::Followed)
}

async fn undo(db: &Db, signer: &RemoteActor, object: &Value) -> Result<Outcome, InboxError> {
    let undone = id_of(object).ok_or_else(|| invalid("object", "an Undo names the activity it undoes"))?;
    let mut tx = db.begin().await?;
    // Mastodon sends the undone activity whole; some send only its id, which is then looked for
    // among follows and reactions.
    let outcome = match type_of(object) {
        Some("Follow") => {
            followers::remove(&mut tx, &signer.actor_id, Some(undone)).await?;
            Outcome::Unfollowed
        }
        Some("Like" | "Announce") => {
            reactions::remove(&mut tx, undone, &signer.actor_id).await?;
            Outcome::Unreacted
        }
        _ if followers::remove(&mut tx, &signer.actor_id, Some(undone)).await? => Outcome::Unfollowed,
        _ if reactions::remove(&mut tx, undone, &signer.actor_id).await? => Outcome::Unreacted,
        _ => Outcome::Ignored("an Undo of nothing kept here"),
    };
    tx.commit().await?;
    Ok(outcome)
}

async fn react(
    db: &Db,
    config: &Config,
    signer: &RemoteActor,
    kind: &str,
    activity_id: &str,
    object: &Value,
) -> Result<Outcome, InboxError> {
    let Some(slug) = id_of(object).and_then(|url| article_slug(config, url)) else {
        return Ok(Outcome::Ignored("a like or boost of something not ours"));
    };
    if activity_id.is_empty() {
        return Err(invalid("id", "a Like or Announce needs an id, which its Undo names"));
    }
    let article = match reading::find_public(db, &slug).await {
        Ok(article) => article,
        Err(_) => return Ok(Outcome::Ignored("a like or boost of no published article")),
    };
    let kind = if kind == "Like" { "like" } else { "announce" };
    let mut tx = db.begin().await?;
    reactions::add(&mut tx, activity_id, kind, article.summary.id, &signer.actor_id, store::now()).await?;
    tx.commit().await?;
    Ok(Outcome::Reacted)
}

/// A `Create` of a `Note` replying to one of our articles (or to a comment under it) becomes a
/// comment, moderated as the form's are.
async fn reply(db: &Db, config: &Config, signer: &RemoteActor, object: &Value) -> Result<Outcome, InboxError> {
    if type_of(object) != Some("Note") {
        return Ok(Outcome::Ignored("a Create of something other than a Note"));
    }
    let Some(in_reply_to) = object.get("inReplyTo").and_then(id_of) else {
        return Ok(Outcome::Ignored("a post that replies to nothing here"));
    };
    // A reply to one of our articles, to a comment under it, or to a reply from the fediverse
    // that is a comment here.
    let (slug, parent_id) = match article_slug(config, in_reply_to) {
        Some(slug) => (slug, comment_id(in_reply_to)),
        None => match comments::remote_comment(db, in_reply_to).await? {
            Some((parent, article_id, _)) => match reading::find_by_id(db, article_id).await {
                Ok(article) => (article.summary.slug, Some(parent)),
                Err(_) => return Ok(Outcome::Ignored("a reply under no article")),
            },
            None => return Ok(Outcome::Ignored("a post that replies to nothing here")),
        },
    };
    let note_id = id_of(object).ok_or_else(|| invalid("object.id", "a Note needs an id"))?;
    if host_of(note_id) != host_of(&signer.actor_id) {
        return Err(InboxError::Forbidden(format!("note {note_id} is not on its author's host")));
    }
    if object.get("attributedTo").and_then(id_of).is_some_and(|author| author != signer.actor_id) {
        return Err(InboxError::Forbidden("the note is attributed to someone else".into()));
    }
    let content = object.get("content").and_then(Value::as_str).unwrap_or_default();
    let published_at = object
        .get("published")
        .and_then(Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp());
    let reply = RemoteReply {
        slug,
        parent_id,
        remote_id: note_id.to_string(),
        remote_actor: signer.actor_id.clone(),
        author_name: signer.name.clone(),
        author_url: signer.profile_url.clone(),
        content_html: content.to_string(),
        published_at,
    };
    match comments::submit_remote(db, &config.comments, reply).await {
        Ok(submitted) => Ok(Outcome::Commented(submitted.status.as_str())),
        Err(CommentError::NoArticle) => Ok(Outcome::Ignored("a reply to no published article")),
        Err(CommentError::Flood { retry_after }) => Err(InboxError::Later(retry_after)),
        Err(CommentError::Invalid(fields)) => {
            let (field, message) = fields.into_iter().next().unwrap_or(("comment", "refused".into()));
            Err(invalid(if field == "comment" { "object.content" } else { "object.id" }, message))
        }
        Err(CommentError::Db(err)) => Err(InboxError::Db(err)),
        Err(other) => Err(invalid("object.inReplyTo", other.to_string())),
    }
}

async fn delete(db: &Db, signer: &RemoteActor, object: &Value) -> Result<Outcome, InboxError> {
    let deleted = id_of(object).ok_or_else(|| invalid("object", "a Delete names what it deletes"))?;
    if deleted == signer.actor_id {
        let mut tx = db.begin().await?;
        followers::remove(&mut tx, &signer.actor_id, None).await?;
        reactions::remove_all_of(&mut tx, &signer.actor_id).await?;
        actors::delete(&mut tx, &signer.actor_id).await?;
        tx.commit().await?;
        return Ok(Outcome::ActorDeleted);
    }
    let removed = comments::delete_remote(db, deleted, &signer.actor_id).await.map_err(|err| match err {
        CommentError::Db(err) => InboxError::Db(err),
        other => invalid("object", other.to_string()),
    })?;
    Ok(if removed { Outcome::CommentDeleted } else { Outcome::Ignored("a Delete of nothing kept here") })
}

/// The slug of the post at `url`, if `url` is one of ours (`<base>/article/<slug>`, with or
/// without a fragment or a trailing slash).
fn article_slug(config: &Config, url: &str) -> Option<String> {
    let path = url.strip_prefix(&config.base_url())?;
    let slug = path.strip_prefix("/article/")?;
    let slug = slug.split(['#', '?']).next()?.trim_end_matches('/');
    let valid = !slug.is_empty() && slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    valid.then(|| slug.to_string())
}

/// The comment a reply answers, when it names one: `…#comment-<id>`.
fn comment_id(url: &str) -> Option<i64> {
    url.rsplit_once("#comment-")?.1.parse().ok()
}
