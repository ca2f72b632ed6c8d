//! Content's background jobs, and the jobs content's writes set off for other capabilities.
//!
//! An article that becomes published is bundled for IPFS ([`BuildBundle`], then
//! [`BuildSnapshot`]) and, the first time, mailed to its subscribers ([`NotifySubscribers`]);
//! an article that is published, edited while published, or stops being published is told to
//! the fediverse ([`Federate`]). Content owns these payloads, queued in the transaction that
//! writes; the capability that does the work implements `BackgroundJob` for them (`ipfs::jobs`,
//! `subscriptions::jobs`, `activitypub::jobs`), so content depends on none of them.

use serde::{Deserialize, Serialize};

use crate::content::service;
use crate::jobs::{self, BackgroundJob};
use crate::store::{Db, DbResult};

/// Publishes a scheduled article when it is due.
#[derive(Debug, Serialize, Deserialize)]
pub struct PublishScheduled {
    pub article_id: i64,
}

impl BackgroundJob for PublishScheduled {
    const NAME: &'static str = "content.publish_scheduled";
    type Context = ();

    async fn run(&self, db: &Db, _: &()) -> anyhow::Result<()> {
        let changed = service::write::publish_scheduled(db, self.article_id).await?;
        tracing::info!(article.id = self.article_id, changed, "Scheduled article due");
        Ok(())
    }
}

/// Builds (or confirms) the bundle of an article's current published version.
#[derive(Debug, Serialize, Deserialize)]
pub struct BuildBundle {
    pub article_id: i64,
}

/// Rebuilds the whole-site snapshot (`/ipfs/site`).
#[derive(Debug, Serialize, Deserialize)]
pub struct BuildSnapshot;

/// Queues the mail about a newly published article for its subscribers. Queued by
/// `content::service` in the transaction that publishes the article, with the unique key
/// `notify:<id>` and `jobs::ensure`, so later edits (or publishing it again) queue nothing;
/// the fan-out itself records one decision per article, so a second run does nothing either.
#[derive(Debug, Serialize, Deserialize)]
pub struct NotifySubscribers {
    pub article_id: i64,
    /// When the article went live here: an article dated long before (an import) mails nobody.
    pub queued_at: i64,
}

/// The notification job of `article_id`, to be queued with `jobs::ensure_many` in the
/// transaction where the article becomes published: its unique key makes it one per article,
/// so later edits (or publishing it again) queue nothing.
pub fn notification(article_id: i64, now: i64) -> DbResult<jobs::NewJob> {
    jobs::NewJob::new(&NotifySubscribers { article_id, queued_at: now }, now, Some(format!("notify:{article_id}")))
}

/// Tells the site's ActivityPub followers of an article's change (a `Create`, `Update` or
/// `Delete`, decided by the job from what was sent before). Queued with the key
/// `federate:<id>`, replacing, by every write that leaves the article published and every one
/// that stops it being published.
#[derive(Debug, Serialize, Deserialize)]
pub struct Federate {
    pub article_id: i64,
    /// When the write happened: an article published long before (an import) is not sent.
    pub queued_at: i64,
}

/// The `Federate` job of `article_id`, to be queued with `jobs::enqueue_many` (replacing) in
/// the transaction of the write.
pub fn federation(article_id: i64, now: i64) -> DbResult<jobs::NewJob> {
    jobs::NewJob::new(&Federate { article_id, queued_at: now }, now, Some(format!("federate:{article_id}")))
}
