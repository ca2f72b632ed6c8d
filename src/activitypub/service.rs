//! The documents the fediverse reads, and the actor's key. Everything here is a pure function
//! of content's types and the configuration, except [`actor_key`], which reads (and the first
//! time makes) the key.

use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};

use crate::config::Config;
use crate::content::model::Article;
use crate::store::{self, Db};

/// The `@context` of every document: ActivityStreams, the security vocabulary of `publicKey`,
/// and `Hashtag`, which ActivityStreams lacks: without it a JSON-LD reader (Fedify) drops an
/// article's tags, as Mastodon's own context knows.
pub fn context() -> Value {
    json!(["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1", { "Hashtag": "as:Hashtag" }])
}
/// The audience of everything the site publishes.
pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
/// Create activities in an outbox page.
pub const OUTBOX_PAGE_SIZE: u32 = 20;

/// The site secret holding the actor's private key (PKCS#8 PEM).
const ACTOR_KEY: &str = "activitypub-actor-key";
/// Mastodon verifies RSA-SHA256 signatures; 2048 bits is what it makes for its own actors.
const KEY_BITS: usize = 2048;

/// The actor's key pair, parsed: what deliveries sign with.
pub struct ActorKey {
    /// The private key, ready to sign with (AWS-LC's; see `signing::sign_post`).
    pub signing: aws_lc_rs::signature::RsaKeyPair,
    /// SPKI PEM, as the actor document publishes it.
    pub public_pem: String,
}

/// The actor's key pair. It is made by the first node that asks and kept as a site secret, so
/// it never changes; each process parses a stored key once and keeps it (keyed by the stored
/// PEM, so two sites in one process — tests — each get their own), which leaves one small
/// query per call.
pub async fn actor_key(db: &Db) -> anyhow::Result<Arc<ActorKey>> {
    static PARSED: Mutex<Vec<(String, Arc<ActorKey>)>> = Mutex::new(Vec::new());
    let private_pem = match store::find_site_secret(db, ACTOR_KEY).await? {
        Some(pem) => pem,
        None => {
            // A second or so of work: off the async threads, and only when there is none yet.
            let fresh = tokio::task::spawn_blocking(new_private_key_pem).await.context("making the actor key")??;
            store::site_secret(db, ACTOR_KEY, &fresh).await?
        }
    };
    let known = |parsed: &Vec<(String, Arc<ActorKey>)>| {
        parsed.iter().find(|(pem, _)| *pem == private_pem).map(|(_, key)| key.clone())
    };
    if let Some(key) = known(&PARSED.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(key);
    }
    let private = RsaPrivateKey::from_pkcs8_pem(&private_pem).context("the stored ActivityPub actor key")?;
    let public_pem =
        RsaPublicKey::from(&private).to_public_key_pem(LineEnding::LF).context("encoding the actor's public key")?;
    let der = private.to_pkcs8_der().context("encoding the actor key")?;
    let signing = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
        .map_err(|e| anyhow::anyhow!("the stored ActivityPub actor key: {e}"))?;
    let key = Arc::new(ActorKey { signing, public_pem });
    let mut parsed = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(key) = known(&parsed) {
        return Ok(key);
    }
    parsed.push((private_pem, key.clone()));
    Ok(key)
}

/// The actor's public key as SPKI PEM (see [`actor_key`]).
pub async fn actor_public_key_pem(db: &Db) -> anyhow::Result<String> {
    Ok(actor_key(db).await?.public_pem.clone())
}

fn new_private_key_pem() -> anyhow::Result<String> {
    let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS).context("making an RSA key")?;
    Ok(key.to_pkcs8_pem(LineEnding::LF).context("encoding the actor key")?.to_string())
}

/// The site's URLs in the fediverse, all under `site.base_url`.
pub struct Urls {
    base: String,
}

impl Urls {
    pub fn new(config: &Config) -> Urls {
        Urls { base: config.base_url() }
    }
    pub fn actor(&self) -> String {
        format!("{}/activitypub/actor", self.base)
    }
    pub fn outbox(&self) -> String {
        format!("{}/activitypub/outbox", self.base)
    }
    pub fn followers(&self) -> String {
        format!("{}/activitypub/followers", self.base)
    }
    /// The `keyId` of the site's signatures: the actor's `publicKey.id`.
    pub fn key_id(&self) -> String {
        format!("{}#main-key", self.actor())
    }
    fn absolute(&self, path: &str) -> String {
        match path.starts_with('/') {
            true => format!("{}{path}", self.base),
            false => path.to_string(),
        }
    }
}

/// The host readers put after the `@`: `site.base_url`'s host, with its port unless it is the
/// scheme's default.
pub fn host(config: &Config) -> String {
    let base = config.base_url();
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base.as_str()));
    let authority = rest.split('/').next().unwrap_or(rest).to_ascii_lowercase();
    let default_port = if scheme.eq_ignore_ascii_case("https") { ":443" } else { ":80" };
    authority.strip_suffix(default_port).map(str::to_string).unwrap_or(authority)
}

/// The site actor: a `Service` named as the site is, with its public key.
pub fn actor(config: &Config, public_key_pem: &str) -> Value {
    let urls = Urls::new(config);
    let id = urls.actor();
    json!({
        "@context": context(),
        "id": id,
        "type": "Service",
        "preferredUsername": config.activitypub.username,
        "name": config.site.title,
        "summary": escape(&config.site.tagline),
        "url": format!("{}/", urls.base),
        "inbox": format!("{}/activitypub/inbox", urls.base),
        "endpoints": { "sharedInbox": format!("{}/activitypub/inbox", urls.base) },
        "outbox": urls.outbox(),
        "followers": urls.followers(),
        "featured": format!("{}/activitypub/featured", urls.base),
        "manuallyApprovesFollowers": false,
        "discoverable": true,
        "publicKey": { "id": format!("{id}#main-key"), "owner": id, "publicKeyPem": public_key_pem },
    })
}

/// What a WebFinger `resource` names.
#[derive(Debug, PartialEq, Eq)]
pub enum Resource {
    /// The site actor, by `acct:` or by its URL.
    Actor,
    /// Well-formed, but nobody here.
    Unknown,
}

/// Why a WebFinger `resource` is refused as malformed.
#[derive(Debug, thiserror::Error)]
#[error("resource {0:?} is neither acct:user@host nor an http(s) URL")]
pub struct MalformedResource(pub String);

/// Reads a WebFinger `resource`: `acct:user@host` (case-insensitive, as Mastodon compares) or
/// the actor's URL.
pub fn resource(config: &Config, resource: &str) -> Result<Resource, MalformedResource> {
    let malformed = || MalformedResource(resource.to_string());
    if resource.starts_with("https://") || resource.starts_with("http://") {
        let is_actor = resource == Urls::new(config).actor();
        return Ok(if is_actor { Resource::Actor } else { Resource::Unknown });
    }
    let Some(acct) = resource.strip_prefix("acct:") else { return Err(malformed()) };
    let acct = acct.strip_prefix('@').unwrap_or(acct);
    let Some((user, host_part)) = acct.split_once('@') else { return Err(malformed()) };
    if user.is_empty() || host_part.is_empty() || host_part.contains('@') || acct.contains(char::is_whitespace) {
        return Err(malformed());
    }
    let ours = user.eq_ignore_ascii_case(&config.activitypub.username) && host_part.eq_ignore_ascii_case(&host(config));
    Ok(if ours { Resource::Actor } else { Resource::Unknown })
}

/// The JRD that points WebFinger clients at the actor.
pub fn webfinger(config: &Config) -> Value {
    let urls = Urls::new(config);
    let profile = format!("{}/", urls.base);
    json!({
        "subject": format!("acct:{}@{}", config.activitypub.username, host(config)),
        "aliases": [urls.actor(), profile],
        "links": [
            { "rel": "self", "type": "application/activity+json", "href": urls.actor() },
            { "rel": "http://webfinger.net/rel/profile-page", "type": "text/html", "href": profile },
        ],
    })
}

/// NodeInfo's discovery document.
pub fn nodeinfo_links(config: &Config) -> Value {
    json!({ "links": [{
        "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
        "href": format!("{}/nodeinfo/2.1", config.base_url()),
    }] })
}

/// NodeInfo 2.1: what software this is, and its `local_posts` published posts.
pub fn nodeinfo(config: &Config, local_posts: i64) -> Value {
    json!({
        "version": "2.1",
        "software": { "name": "openvoice", "version": env!("CARGO_PKG_VERSION") },
        "protocols": ["activitypub"],
        "services": { "inbound": [], "outbound": [] },
        "openRegistrations": false,
        "usage": { "users": { "total": 1, "activeMonth": 1, "activeHalfyear": 1 }, "localPosts": local_posts },
        "metadata": { "nodeName": config.site.title },
    })
}

/// A published article as an ActivityStreams `Article`, its id the article's URL.
pub fn article(config: &Config, article: &Article) -> Value {
    let mut object = article_object(config, article);
    object["@context"] = context();
    object
}

pub fn article_object(config: &Config, article: &Article) -> Value {
    let urls = Urls::new(config);
    let summary = &article.summary;
    let url = urls.absolute(&summary.kind.path(&summary.slug));
    let tags: Vec<Value> = article
        .tags
        .iter()
        .map(|tag| {
            let name: String = tag.name.split_whitespace().collect();
            json!({ "type": "Hashtag", "href": urls.absolute(&format!("/tag/{}", tag.slug)), "name": format!("#{name}") })
        })
        .collect();
    let attachment: Vec<Value> = article
        .featured_image
        .iter()
        .map(|image| {
            let mut attachment = json!({ "type": "Image", "url": urls.absolute(image), "name": summary.title });
            if let Some(media_type) = image_media_type(image) {
                attachment["mediaType"] = json!(media_type);
            }
            attachment
        })
        .collect();
    json!({
        "id": url,
        "type": "Article",
        "name": summary.title,
        "summary": escape(&summary.excerpt),
        "content": article.body_html,
        "mediaType": "text/html",
        "url": url,
        "published": summary.published_at.and_then(time),
        "updated": time(summary.updated_at),
        "attributedTo": urls.actor(),
        "to": [PUBLIC],
        "cc": [urls.followers()],
        "tag": tags,
        "attachment": attachment,
    })
}

/// The `Create` `id` of an `Article` `object`, public and to the followers, without `@context`
/// (an outbox page's items share the page's).
pub fn create(config: &Config, id: String, object: Value) -> Value {
    let urls = Urls::new(config);
    json!({
        "id": id,
        "type": "Create",
        "actor": urls.actor(),
        "published": object["published"],
        "to": [PUBLIC],
        "cc": [urls.followers()],
        "object": object,
    })
}

/// The outbox: how many posts it holds, and where its pages are.
pub fn outbox(config: &Config, total: i64) -> Value {
    let urls = Urls::new(config);
    let pages = (total.max(0) as u64).div_ceil(OUTBOX_PAGE_SIZE as u64).max(1);
    json!({
        "@context": context(),
        "id": urls.outbox(),
        "type": "OrderedCollection",
        "totalItems": total,
        "first": format!("{}?page=1", urls.outbox()),
        "last": format!("{}?page={pages}", urls.outbox()),
    })
}

/// Page `page` of the outbox: a `Create` of each of `articles`, newest first.
pub fn outbox_page(config: &Config, page: u32, total_pages: u32, articles: &[Article]) -> Value {
    let urls = Urls::new(config);
    let items: Vec<Value> = articles
        .iter()
        .map(|article| {
            let object = article_object(config, article);
            let id = format!("{}#create", object["id"].as_str().unwrap_or_default());
            create(config, id, object)
        })
        .collect();
    let mut page_json = json!({
        "@context": context(),
        "id": format!("{}?page={page}", urls.outbox()),
        "type": "OrderedCollectionPage",
        "partOf": urls.outbox(),
        "orderedItems": items,
    });
    if page > 1 {
        page_json["prev"] = json!(format!("{}?page={}", urls.outbox(), page - 1));
    }
    if page < total_pages {
        page_json["next"] = json!(format!("{}?page={}", urls.outbox(), page + 1));
    }
    page_json
}

/// A collection at `path` that tells how many it holds and lists none: the followers (who they
/// are is the newsroom's to know, as Mastodon hides a list on request), the featured posts.
pub fn counted_collection(config: &Config, path: &str, total: i64) -> Value {
    json!({
        "@context": context(),
        "id": format!("{}{path}", config.base_url()),
        "type": "OrderedCollection",
        "totalItems": total,
        "orderedItems": [],
    })
}

/// The media type of an image named `path`, by its extension (what the media library stores).
fn image_media_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    match extension.as_str() {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "gif" => Some("image/gif"),
        "webp" => Some("image/webp"),
        "avif" => Some("image/avif"),
        _ => None,
    }
}

fn time(unix: i64) -> Option<String> {
    DateTime::from_timestamp(unix, 0).map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Plain text as the HTML ActivityStreams `summary` holds.
fn escape(text: &str) -> String {
    minijinja::HtmlEscape(text).to_string()
}
