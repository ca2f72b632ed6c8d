//! Sending activities to followers: what an article's change becomes (`Create`, `Update`,
//! `Delete`), and the signed POSTs that carry it to every follower's inbox.
//!
//! # How an article reaches the fediverse
//! Every write that leaves an article published, or stops it being published (unpublish,
//! trash), queues content's `Federate` job (key `federate:<id>`, so a burst of edits sends one
//! activity). [`federate`] compares the article with its `ap_articles` row: published and never
//! sent (or deleted since) is a `Create`, published with another version than the one sent (a
//! hash of the `Article` object, `version_of`) an `Update`, no longer published after being
//! sent a `Delete` of a `Tombstone` with the id it was sent with; anything else sends nothing.
//! An article published more than a day before its job was queued (an import, the demo seed)
//! and never sent is not sent, and nothing is recorded, so
//! its later edits are not sent either. The activity is stored once in `ap_activities`, and
//! [`send`] queues `DeliverActivity` jobs of at most [`INBOXES_PER_JOB`] inboxes each in the same
//! transaction, for every distinct inbox of a follower not blocked by actor or host (a shared
//! inbox once for all its instance's followers).
//!
//! # Delivery, retries and giving up
//! [`deliver`] POSTs one job's inboxes, `activitypub.delivery_concurrency` at once and at most
//! `activitypub.deliveries_per_second` a second on this node (each costs a signature), each signed
//! (`signing`), with a 10 s timeout, through one HTTP client that keeps connections per host and
//! resolves names through `http::outbound::checked_address` (private addresses refused unless
//! `activitypub.allow_private_addresses`). A 2xx is delivered, and clears the host's
//! `ap_instances` row; a 4xx other than 429 gives that inbox up (logged); a 5xx, a 429, a timeout
//! or a connection error fails: the host is noted in `ap_instances` (`failing_since` from its
//! first failure since the last success), and the failed inboxes go into one retry job,
//! `attempt + 1`, after 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h ([`retry_after`]).
//! A host failing for longer than `activitypub.give_up_after_hours` (a week by default) is not
//! tried any more and its inboxes are dropped, with an `info` log naming it; its next success
//! (an activity queued later) clears it. The job itself succeeds once it has handled its
//! failures: the job table's own retries are for a node that crashed mid-job.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::stream::{self, StreamExt};
use reqwest::Url;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use tracing::{info, warn};

use crate::activitypub::jobs::DeliverActivity;
use crate::activitypub::queries::deliveries::{self as queries, Federated};
use crate::activitypub::queries::followers;
use crate::activitypub::service::{self, context, Urls, PUBLIC};
use crate::activitypub::{remote, signing};
use crate::config::Config;
use crate::content::model::{ArticleKind, Status};
use crate::content::service::{reading, ContentError};
use crate::http::outbound;
use crate::jobs;
use crate::store::{self, Db, DbError, DbResult};

/// Inboxes per `DeliverActivity` job: a job is one node's work for a few seconds, and a
/// fan-out to many instances spreads over every node's worker.
pub const INBOXES_PER_JOB: usize = 100;
/// How long before its job an article may have been published and still be sent the first
/// time (as subscriptions' `notify_window_hours`): older ones are back catalogue.
pub const FRESH_SECS: i64 = 24 * 3600;
/// A delivery that has not answered in this long has failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the ActivityPub jobs run with: the configuration they read and the one HTTP client.
pub struct Delivery {
    pub config: Arc<Config>,
    client: reqwest::Client,
    /// When the next delivery may start: deliveries are paced to
    /// `activitypub.deliveries_per_second` across every job this node runs.
    next_start: tokio::sync::Mutex<tokio::time::Instant>,
}

impl Delivery {
    pub fn new(config: Arc<Config>) -> anyhow::Result<Delivery> {
        let resolver =
            Arc::new(CheckedResolver { allow_private_addresses: config.activitypub.allow_private_addresses });
        let client = reqwest::Client::builder()
            .user_agent(concat!("OpenVoice/", env!("CARGO_PKG_VERSION"), " (ActivityPub)"))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(60))
            .dns_resolver(resolver)
            .build()?;
        Ok(Delivery { config, client, next_start: tokio::sync::Mutex::new(tokio::time::Instant::now()) })
    }

    /// Waits for this delivery's turn (see `next_start`).
    async fn pace(&self) {
        let interval = Duration::from_secs(1) / self.config.activitypub.deliveries_per_second.max(1);
        let start = {
            let mut next = self.next_start.lock().await;
            let start = (*next).max(tokio::time::Instant::now());
            *next = start + interval;
            start
        };
        tokio::time::sleep_until(start).await;
    }

    fn give_up_after_secs(&self) -> i64 {
        i64::from(self.config.activitypub.give_up_after_hours) * 3600
    }
}

/// Names resolved through `http::outbound::checked_address`: a name that resolves to a
/// private address is refused (unless allowed), and the connection goes to the address checked.
struct CheckedResolver {
    allow_private_addresses: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = self.allow_private_addresses;
        Box::pin(async move {
            // The connector puts the URL's port on the address.
            let address = outbound::checked_address(name.as_str(), 0, allow).await?;
            let addresses: reqwest::dns::Addrs = Box::new(std::iter::once(address));
            Ok(addresses)
        })
    }
}

/// When the retry of a delivery that failed `attempt + 1` times runs, in seconds from now.
pub fn retry_after(attempt: u32) -> i64 {
    const SCHEDULE: [i64; 5] = [60, 5 * 60, 30 * 60, 2 * 3600, 6 * 3600];
    SCHEDULE.get(attempt as usize).copied().unwrap_or(12 * 3600)
}

/// What `federate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Federation {
    /// An activity of this type went to this many inboxes.
    Sent { kind: &'static str, inboxes: usize },
    /// Nothing to send, for this reason.
    Nothing(&'static str),
}

/// Tells followers of article `article_id`'s change, if the fediverse has not heard of it yet
/// (see the module's doc). `queued_at` is when the job was queued.
pub async fn federate(db: &Db, config: &Config, article_id: i64, queued_at: i64) -> anyhow::Result<Federation> {
    let article = match reading::find_by_id(db, article_id).await {
        Ok(article) => Some(article),
        Err(ContentError::NotFound(_)) => None,
        Err(err) => return Err(err.into()),
    };
    let published =
        article.as_ref().filter(|a| a.summary.status == Status::Published && a.summary.kind == ArticleKind::Post);
    let urls = Urls::new(config);
    let now = store::now();
    let mut tx = db.begin().await?;
    let sent = queries::federated(&mut tx, article_id).await?;
    let live = sent.as_ref().filter(|s| s.deleted_at.is_none());
    let (kind, activity, record) = match (published, live) {
        (Some(article), None) => {
            let published_at = article.summary.published_at.unwrap_or(queued_at);
            if published_at < queued_at - FRESH_SECS {
                return Ok(Federation::Nothing("published long before (back catalogue)"));
            }
            let object = service::article_object(config, article);
            let version = version_of(&object);
            let object_id = object["id"].as_str().unwrap_or_default().to_string();
            let mut activity = service::create(config, format!("{object_id}#create-{version:x}"), object);
            activity["@context"] = context();
            ("Create", activity, Federated { object_id, sent_version: version, deleted_at: None })
        }
        (Some(article), Some(sent)) => {
            let mut object = service::article_object(config, article);
            // The object keeps the id it was sent with (a new slug moves only its `url`).
            object["id"] = json!(sent.object_id);
            let version = version_of(&object);
            if version == sent.sent_version {
                return Ok(Federation::Nothing("this version was sent"));
            }
            let activity = json!({
                "@context": context(),
                "id": format!("{}#update-{version:x}", sent.object_id),
                "type": "Update",
                "actor": urls.actor(),
                "published": object["updated"],
                "to": [PUBLIC],
                "cc": [urls.followers()],
                "object": object,
            });
            ("Update", activity, Federated { sent_version: version, ..sent.clone() })
        }
        (None, Some(sent)) => {
            let activity = json!({
                "@context": context(),
                "id": format!("{}#delete", sent.object_id),
                "type": "Delete",
                "actor": urls.actor(),
                "to": [PUBLIC],
                "cc": [urls.followers()],
                "object": { "id": sent.object_id, "type": "Tombstone" },
            });
            ("Delete", activity, Federated { deleted_at: Some(now), ..sent.clone() })
        }
        (None, None) => return Ok(Federation::Nothing("not published, and not sent")),
    };
    let inboxes = queries::follower_inboxes(&mut tx).await?;
    let n_inboxes = inboxes.len();
    send(&mut tx, &activity, inboxes, now).await?;
    queries::save_federated(&mut tx, article_id, &record).await?;
    tx.commit().await?;
    Ok(Federation::Sent { kind, inboxes: n_inboxes })
}

/// The version of an `Article` object as `ap_articles.sent_version` keeps it: 63 bits of the
/// SHA-256 of its JSON. Not its `updated_at`, which two saves in one second share: an edit
/// made within the second of the last send would never be sent.
fn version_of(object: &Value) -> i64 {
    let hash = Sha256::digest(object.to_string().as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    (u64::from_be_bytes(first) >> 1) as i64
}

/// Sends `activity` (which has an `id`) to `inboxes` from the caller's transaction: stores it
/// once and queues its `DeliverActivity` jobs, [`INBOXES_PER_JOB`] inboxes each, due at `now`.
/// The caller chooses the inboxes (and leaves out blocked ones); duplicates are sent once.
pub async fn send(conn: &mut AnyConnection, activity: &Value, inboxes: Vec<String>, now: i64) -> DbResult<()> {
    let Some(activity_id) = activity["id"].as_str() else {
        return Err(DbError::Encode(serde::de::Error::custom("an activity to send has no id")));
    };
    let body = serde_json::to_string(activity)?;
    let row = queries::insert_activity(&mut *conn, activity_id, &body, now).await?;
    let mut seen = HashSet::new();
    let inboxes: Vec<String> = inboxes.into_iter().filter(|inbox| seen.insert(inbox.clone())).collect();
    let batches: Vec<jobs::NewJob> = inboxes
        .chunks(INBOXES_PER_JOB)
        .map(|chunk| {
            let job = DeliverActivity { activity: row, inboxes: chunk.to_vec(), attempt: 0 };
            jobs::NewJob::new(&job, now, None)
        })
        .collect::<DbResult<_>>()?;
    jobs::enqueue_many(conn, batches).await
}

/// How one POST went.
enum Outcome {
    Delivered,
    /// Refused for good (a 4xx but 429): the status.
    Refused(u16),
    /// Worth trying again (a 5xx, a 429, a timeout, no connection): why.
    Failed(String),
}

/// What a `DeliverActivity` run did, for its log line.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub delivered: usize,
    pub refused: usize,
    pub retried: usize,
    /// Inboxes dropped because their host has failed for too long.
    pub given_up: usize,
}

/// Runs one `DeliverActivity` job (see the module's doc).
pub async fn deliver(db: &Db, delivery: &Delivery, job: &DeliverActivity) -> anyhow::Result<Delivered> {
    let mut report = Delivered::default();
    let Some(body) = queries::activity_body(db, job.activity).await? else {
        warn!(activity = job.activity, "The activity to deliver is gone");
        return Ok(report);
    };
    let key = service::actor_key(db).await?;
    let key_id = Urls::new(&delivery.config).key_id();
    let now = store::now();
    let give_up_before = now - delivery.give_up_after_secs();

    // Keyed as followers and blocks are: the host, with its port unless it is the scheme's.
    let hosts: Vec<String> = job.inboxes.iter().map(|inbox| remote::host_of(inbox).unwrap_or_default()).collect();
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let unique_hosts: Vec<&str> = hosts.iter().copied().collect::<HashSet<_>>().into_iter().collect();
    let failing = queries::failing_since(db, &unique_hosts).await?;
    // An instance blocked since the job was queued gets nothing either.
    let blocked: HashSet<String> = followers::blocks(db).await?.into_iter().map(|block| block.target).collect();
    // Indexes into `job.inboxes` (owned arguments keep the stream's future `Send`).
    let mut to_try: Vec<usize> = Vec::with_capacity(job.inboxes.len());
    for (i, (inbox, host)) in job.inboxes.iter().zip(&hosts).enumerate() {
        if blocked.contains(*host) {
            info!(host = %host, inbox = %inbox, "Not delivering to {host}: it is blocked");
            report.given_up += 1;
            continue;
        }
        match failing.get(*host) {
            Some(&since) if since < give_up_before => {
                info!(host = %host, inbox = %inbox, "Not delivering to {host}: it has failed every delivery since {since}");
                report.given_up += 1;
            }
            _ => to_try.push(i),
        }
    }

    let concurrency = delivery.config.activitypub.delivery_concurrency.max(1) as usize;
    let started = Instant::now();
    let (key, key_id, body) = (&key.signing, key_id.as_str(), body.as_str());
    let results: Vec<(usize, Outcome)> = stream::iter(to_try)
        .map(|i| async move { (i, post(delivery, key, key_id, &job.inboxes[i], body).await) })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let outcomes = results.into_iter().map(|(i, outcome)| (job.inboxes[i].as_str(), hosts[i], outcome));

    let mut succeeded: HashSet<&str> = HashSet::new();
    let mut failures: HashMap<&str, String> = HashMap::new();
    let mut retry: Vec<(String, &str)> = Vec::new();
    for (inbox, host, outcome) in outcomes {
        match outcome {
            Outcome::Delivered => {
                report.delivered += 1;
                succeeded.insert(host);
            }
            Outcome::Refused(status) => {
                info!(inbox = %inbox, status, "{inbox} refused the activity with {status}; not retried");
                report.refused += 1;
                succeeded.insert(host);
            }
            Outcome::Failed(error) => {
                warn!(inbox = %inbox, error = %error, "Delivery to {inbox} failed");
                failures.insert(host, error);
                retry.push((inbox.to_string(), host));
            }
        }
    }
    // A host that answered is up, even if one of its inboxes failed.
    let recovered: Vec<&str> =
        succeeded.iter().copied().filter(|h| failing.contains_key(*h) && !failures.contains_key(h)).collect();
    queries::clear_failures(db, &recovered).await?;
    let noted: Vec<(&str, &str)> = failures.iter().map(|(host, error)| (*host, error.as_str())).collect();
    queries::note_failures(db, &noted, now).await?;

    let mut again = Vec::new();
    for (inbox, host) in retry {
        let since = failing.get(host).copied().unwrap_or(now);
        if since < give_up_before {
            info!(host = %host, inbox = %inbox, "Giving up delivering to {host}: it has failed every delivery since {since}");
            report.given_up += 1;
        } else {
            again.push(inbox);
        }
    }
    report.retried = again.len();
    if !again.is_empty() {
        let retry = DeliverActivity { activity: job.activity, inboxes: again, attempt: job.attempt + 1 };
        let mut conn = db.pool.acquire().await?;
        jobs::enqueue(&mut conn, &retry, now + retry_after(job.attempt), None).await?;
    }
    info!(
        activity = job.activity,
        delivered = report.delivered,
        refused = report.refused,
        retried = report.retried,
        given_up = report.given_up,
        "Delivered activity {} to {} inboxes in {} ms",
        job.activity,
        report.delivered,
        started.elapsed().as_millis()
    );
    Ok(report)
}

/// One signed POST of `body` to `inbox`.
async fn post(
    delivery: &Delivery,
    key: &aws_lc_rs::signature::RsaKeyPair,
    key_id: &str,
    inbox: &str,
    body: &str,
) -> Outcome {
    if let Some(refused) = literal_address_refused(inbox, delivery.config.activitypub.allow_private_addresses) {
        return Outcome::Failed(refused);
    }
    delivery.pace().await;
    let signed = match signing::sign_post(key, key_id, inbox, body.as_bytes(), SystemTime::now()) {
        Ok(signed) => signed,
        Err(err) => {
            warn!(inbox = %inbox, "Cannot deliver to {inbox}: {err}");
            return Outcome::Refused(0);
        }
    };
    let request = delivery
        .client
        .post(inbox)
        .header("date", signed.date)
        .header("digest", signed.digest)
        .header("content-type", signed.content_type)
        .header("signature", signed.signature)
        .header("accept", "application/activity+json")
        .body(body.to_string());
    match request.send().await {
        Ok(response) => {
            let status = response.status();
            // Read the (small) answer, so the connection goes back to the pool.
            let _ = response.bytes().await;
            match status.as_u16() {
                200..=299 => Outcome::Delivered,
                429 => Outcome::Failed("429 Too Many Requests".into()),
                code @ 400..=499 => Outcome::Refused(code),
                code => Outcome::Failed(format!("answered {code}")),
            }
        }
        Err(err) if err.is_timeout() => Outcome::Failed(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
        Err(err) => Outcome::Failed(format!("{:#}", anyhow::Error::from(err))),
    }
}

/// Why an inbox URL naming an IP address may not be connected to: a name is checked by the
/// client's resolver, a literal address never reaches it.
fn literal_address_refused(inbox: &str, allow_private_addresses: bool) -> Option<String> {
    let url = Url::parse(inbox).ok()?;
    let ip: IpAddr = url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()?;
    let refused = !allow_private_addresses && !outbound::is_public(ip);
    refused.then(|| format!("{ip} is a private, loopback or link-local address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_twice_a_day() {
        let schedule: Vec<i64> = (0..8).map(retry_after).collect();
        assert_eq!(schedule, [60, 300, 1800, 7200, 21600, 43200, 43200, 43200]);
    }

    #[test]
    fn literal_private_addresses_are_refused() {
        assert!(literal_address_refused("http://127.0.0.1:1/inbox", false).is_some());
        assert!(literal_address_refused("https://[::1]:8443/inbox", false).is_some());
        assert!(literal_address_refused("http://127.0.0.1:1/inbox", true).is_none());
        assert!(literal_address_refused("https://social.example/inbox", false).is_none());
    }
}
