//! Remote actors: fetched to verify their signatures and to deliver to them, kept in
//! `ap_actors`, and fetched again when a signature fails with the kept key (keys rotate).
//!
//! A fetch names a URL a stranger gave (a signature's `keyId`), so it is bounded: http(s) only,
//! public addresses only unless `activitypub.allow_private_addresses` (the connection goes to
//! the address that was checked), no redirects, 5 s, 256 KiB. The document must be the actor the
//! URL names, on the URL's host, and its key must be its own. Fetches are signed by the site
//! actor, as instances in Mastodon's secure mode (authorized fetch) require.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::Url;
use serde_json::Value;

use super::queries::actors::{self, RemoteActor};
use super::service::{self, ActorKey, Urls};
use super::signing;
use crate::config::Config;
use crate::http::outbound;
use crate::store::{self, Db, DbError};

const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BYTES: usize = 256 * 1024;
/// A kept key is fetched again on a failed signature only if it is older than this, so a
/// stream of forged requests does not make the server fetch for each.
const REFETCH_AFTER_SECS: i64 = 60;

/// Why a remote actor could not be had.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("fetching {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("the document at {url} is not a usable actor: {message}")]
    Document { url: String, message: String },
    #[error("the site's own key: {0}")]
    Key(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The owner of the key `key_id`: kept, or fetched (and kept) when not. `refetch` fetches it
/// again even when kept, if the kept copy is older than a minute; answers `None` then if it is
/// not.
pub async fn actor_for_key(
    db: &Db,
    config: &Config,
    key_id: &str,
    refetch: bool,
) -> Result<Option<RemoteActor>, RemoteError> {
    let kept = actors::by_key_id(db, key_id).await?;
    let now = store::now();
    match kept {
        Some(actor) if !refetch => return Ok(Some(actor)),
        Some(actor) if actor.fetched_at > now - REFETCH_AFTER_SECS => return Ok(None),
        _ => {}
    }
    // The key's URL without its fragment is the actor (Mastodon, Fedify) or a key document
    // naming its owner.
    let document_url = key_id.split('#').next().unwrap_or(key_id);
    let fetcher = Fetcher::new(db, config).await?;
    let mut document = fetcher.json(document_url).await?;
    if document.get("inbox").is_none() {
        if let Some(owner) = document.get("owner").and_then(Value::as_str).map(str::to_string) {
            same_host(&owner, key_id)?;
            document = fetcher.json(&owner).await?;
        }
    }
    let actor = parse_actor(&document, key_id, now)
        .map_err(|message| RemoteError::Document { url: document_url.to_string(), message })?;
    actors::save(db, &actor).await?;
    Ok(Some(actor))
}

fn same_host(a: &str, b: &str) -> Result<(), RemoteError> {
    if host_of(a).is_some() && host_of(a) == host_of(b) {
        return Ok(());
    }
    Err(RemoteError::Document { url: a.to_string(), message: format!("not on the host of {b}") })
}

/// The lowercased host (with its port, if any) of `url`.
pub fn host_of(url: &str) -> Option<String> {
    let url = Url::parse(url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Reads an actor document that must hold the key `key_id`.
pub fn parse_actor(document: &Value, key_id: &str, now: i64) -> Result<RemoteActor, String> {
    let text = |value: &Value, field: &str| value.get(field).and_then(Value::as_str).map(str::to_string);
    let actor_id = text(document, "id").ok_or("no id")?;
    if host_of(&actor_id).is_none() || host_of(&actor_id) != host_of(key_id) {
        return Err(format!("its id {actor_id} is not on the host of the key {key_id}"));
    }
    let inbox = text(document, "inbox").ok_or("no inbox")?;
    let keys: Vec<&Value> = match document.get("publicKey") {
        Some(Value::Array(keys)) => keys.iter().collect(),
        Some(key) => vec![key],
        None => vec![],
    };
    let key = keys.into_iter().find(|key| text(key, "id").as_deref() == Some(key_id)).ok_or("no such publicKey")?;
    if text(key, "owner").is_some_and(|owner| owner != actor_id) {
        return Err("its key belongs to another actor".into());
    }
    let public_key_pem = text(key, "publicKeyPem").ok_or("a publicKey without publicKeyPem")?;
    let shared_inbox = document.get("endpoints").and_then(|e| text(e, "sharedInbox"));
    for url in std::iter::once(&inbox).chain(shared_inbox.as_ref()) {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(format!("inbox {url:?} is not an http(s) URL"));
        }
    }
    let username = text(document, "preferredUsername").unwrap_or_default();
    let host = host_of(&actor_id).unwrap_or_default();
    let handle = if username.is_empty() { actor_id.clone() } else { format!("{username}@{host}") };
    let name = text(document, "name").filter(|n| !n.trim().is_empty()).unwrap_or_else(|| handle.clone());
    let profile_url = match document.get("url") {
        Some(Value::String(url)) => Some(url.clone()),
        Some(Value::Object(link)) => link.get("href").and_then(Value::as_str).map(str::to_string),
        Some(Value::Array(links)) => links.iter().find_map(|l| match l {
            Value::String(url) => Some(url.clone()),
            other => other.get("href").and_then(Value::as_str).map(str::to_string),
        }),
        _ => None,
    }
    .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
    .unwrap_or_else(|| actor_id.clone());
    Ok(RemoteActor {
        actor_id,
        key_id: key_id.to_string(),
        public_key_pem,
        inbox,
        shared_inbox,
        handle: truncate(handle, 255),
        name: truncate(name, 255),
        profile_url,
        fetched_at: now,
    })
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Fetches ActivityPub documents within the module's limits, each GET signed by the site actor.
struct Fetcher {
    key: Arc<ActorKey>,
    key_id: String,
    allow_private_addresses: bool,
}

impl Fetcher {
    async fn new(db: &Db, config: &Config) -> Result<Fetcher, RemoteError> {
        let key = service::actor_key(db).await.map_err(|err| RemoteError::Key(format!("{err:#}")))?;
        let key_id = Urls::new(config).key_id();
        Ok(Fetcher { key, key_id, allow_private_addresses: config.activitypub.allow_private_addresses })
    }

    async fn json(&self, url: &str) -> Result<Value, RemoteError> {
        let fail = |message: String| RemoteError::Fetch { url: url.to_string(), message };
        let parsed = Url::parse(url).map_err(|err| fail(format!("not a URL: {err}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(fail("only http and https are fetched".into()));
        }
        let host = parsed.host_str().ok_or_else(|| fail("no host".into()))?.to_string();
        let port = parsed.port_or_known_default().unwrap_or(80);
        let address = outbound::checked_address(&host, port, self.allow_private_addresses).await.map_err(fail)?;
        let (date, signature) = signing::sign_get(&self.key.signing, &self.key_id, url, SystemTime::now())
            .map_err(|e| fail(e.to_string()))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .resolve(host.trim_start_matches('[').trim_end_matches(']'), address)
            .build()
            .map_err(|err| fail(err.to_string()))?;
        let response = client
            .get(parsed)
            .header(
                reqwest::header::ACCEPT,
                "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
            )
            .header(reqwest::header::USER_AGENT, concat!("OpenVoice/", env!("CARGO_PKG_VERSION")))
            .header(reqwest::header::DATE, date)
            .header("signature", signature)
            .send()
            .await
            .map_err(|err| fail(err.to_string()))?;
        if !response.status().is_success() {
            return Err(fail(format!("the server answered {}", response.status())));
        }
        let body = outbound::read_capped(response, MAX_BYTES).await.map_err(|err| fail(err.to_string()))?;
        serde_json::from_slice(&body).map_err(|err| fail(format!("not JSON: {err}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mastodon_actor() -> Value {
        json!({
            "id": "https://social.example/users/alice",
            "type": "Person",
            "preferredUsername": "alice",
            "name": "Alice",
            "inbox": "https://social.example/users/alice/inbox",
            "endpoints": { "sharedInbox": "https://social.example/inbox" },
            "url": "https://social.example/@alice",
            "publicKey": {
                "id": "https://social.example/users/alice#main-key",
                "owner": "https://social.example/users/alice",
                "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----\n"
            }
        })
    }

    #[test]
    fn an_actor_document_gives_its_key_inboxes_and_names() {
        let actor = parse_actor(&mastodon_actor(), "https://social.example/users/alice#main-key", 7).unwrap();
        assert_eq!(actor.actor_id, "https://social.example/users/alice");
        assert_eq!(actor.shared_inbox.as_deref(), Some("https://social.example/inbox"));
        assert_eq!(actor.handle, "alice@social.example");
        assert_eq!(actor.name, "Alice");
        assert_eq!(actor.profile_url, "https://social.example/@alice");
    }

    #[test]
    fn a_key_on_another_host_or_of_another_owner_is_refused() {
        let err = parse_actor(&mastodon_actor(), "https://evil.example/users/alice#main-key", 7).unwrap_err();
        assert!(err.contains("not on the host"), "{err}");
        let mut other_owner = mastodon_actor();
        other_owner["publicKey"]["owner"] = json!("https://social.example/users/bob");
        let err = parse_actor(&other_owner, "https://social.example/users/alice#main-key", 7).unwrap_err();
        assert!(err.contains("another actor"), "{err}");
        let err = parse_actor(&mastodon_actor(), "https://social.example/users/alice#other-key", 7).unwrap_err();
        assert!(err.contains("no such publicKey"), "{err}");
    }
}
