//! Publishing articles as IPFS objects: building bundles and the site snapshot, storing their
//! blocks, and reading them back for the gateway and exports.

use std::sync::Arc;

use anyhow::Context;
use openvoice_ipfs::walk::BlockSource;
use openvoice_ipfs::Cid;

use crate::config::Config;
use crate::content::feeds::{render_feed, Format};
use crate::content::jobs::BuildSnapshot;
use crate::content::model::{ArticleKind, Status};
use crate::content::{queries as content_queries, service as content};
use crate::ipfs::bundle::{self, BundleContext, BundledFile, SnapshotEntry};
use crate::ipfs::ipns::SiteKey;
use crate::ipfs::jobs::{PinBundle, PublishIpnsRecord};
use crate::ipfs::queries;
use crate::jobs;
use crate::store::{self, ContentChange, Db, DbError};
use crate::theme::Templates;

/// What the publishing jobs need: the site's settings, its theme and an HTTP client for pinning.
pub struct Publishing {
    pub config: Arc<Config>,
    pub templates: Arc<Templates>,
    /// Outbound client for pinning targets: no redirects, a timeout per request.
    pub http: reqwest::Client,
}

impl Publishing {
    pub fn new(config: Arc<Config>, templates: Arc<Templates>) -> anyhow::Result<Publishing> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(config.ipfs.pin_timeout_secs))
            .build()
            .context("building the pinning HTTP client")?;
        Ok(Publishing { config, templates, http })
    }
}

/// Builds and stores the bundle of a published article, unless its current version is already
/// bundled. Returns the current bundle root, or `None` for an unpublished article.
pub async fn bundle_article(db: &Db, publishing: &Publishing, article_id: i64) -> anyhow::Result<Option<Cid>> {
    let Some(slug) = content_queries::reading::slug_of(db, article_id).await? else { return Ok(None) };
    let article = content::reading::find(db, &slug).await?;
    if article.summary.status != Status::Published {
        return Ok(None);
    }
    let current = queries::current_bundle(db, article_id).await?;
    let config = &publishing.config;
    let path = match article.summary.kind {
        ArticleKind::Post => format!("/article/{slug}"),
        ArticleKind::Page => format!("/{slug}"),
    };
    let mut files = Vec::new();
    for (cid, name) in bundle::library_files(&article) {
        // An image deleted from the library stays a link to where it was.
        if let Some(file) = crate::media::service::file(db, &cid).await? {
            files.push(BundledFile { cid, name, bytes: file.bytes });
        }
    }
    let build = |previous: Option<String>| {
        let ctx = BundleContext {
            templates: &publishing.templates,
            site_title: &config.site.title,
            language: &config.site.language,
            canonical: format!("{}{path}", config.base_url()),
            previous,
            files: &files,
        };
        bundle::build_article_bundle(&article, &ctx)
    };
    // Unchanged if built after the article's last change (times are whole seconds, so only a
    // strictly later build proves it), or if rebuilding it with the same predecessor gives its CID.
    if let Some((root, previous, built_at)) = &current {
        if *built_at > article.summary.updated_at {
            return Ok(Some(openvoice_ipfs::parse_cid(root)?));
        }
        let same = build(previous.clone())?;
        if same.root.to_string() == *root {
            return Ok(Some(same.root));
        }
    }
    let previous = current.map(|(root, _, _)| root);
    let built = build(previous.clone())?;
    let root = built.root.to_string();
    let now = store::now();
    let mut tx = db.begin().await?;
    queries::put_blocks(&mut tx, &built.blocks, now).await?;
    queries::insert_bundle(&mut tx, article_id, &root, built.dag_size as i64, previous.as_deref(), now).await?;
    for target in config.ipfs.pin_targets() {
        let job = PinBundle { article_id, root_cid: root.clone(), target: target.to_string() };
        jobs::enqueue(&mut tx, &job, now, Some(&format!("pin:{article_id}:{target}"))).await?;
        queries::set_pin_state(&mut tx, article_id, target, &root, "queued", None, now).await?;
    }
    // Coalesced: a burst of publications rebuilds the snapshot once.
    jobs::enqueue(&mut tx, &BuildSnapshot, now + 2, Some("ipfs.snapshot")).await?;
    store::record_activity(&mut tx, "ipfs.bundled", Some(article_id), &root).await?;
    store::bump_content_epoch(&mut tx, &[ContentChange::AroundArticle(article_id)]).await?;
    tx.commit().await?;
    tracing::info!(article.id = article_id, cid = %root, "Bundled article {slug}");
    Ok(Some(built.root))
}

/// Rebuilds the whole-site snapshot from the stored bundles; only its directory nodes, index
/// page and feed are new blocks. Returns the snapshot root.
pub async fn build_snapshot(db: &Db, config: &Config, templates: &Templates) -> anyhow::Result<Cid> {
    let mut entries = Vec::new();
    for (slug, title, root, dag_size) in queries::published_bundles(db).await? {
        entries.push(SnapshotEntry {
            slug,
            title,
            root: openvoice_ipfs::parse_cid(&root)?,
            dag_size: dag_size.max(0) as u64,
        });
    }
    let latest = content_queries::reading::latest_with_bodies(db, None, 20).await?;
    let feed =
        render_feed(config, templates, &latest, None, "/feed", Format::Rss).map_err(|e| anyhow::anyhow!("{e}"))?;
    let feed_xml = String::from_utf8_lossy(&feed.body).into_owned();
    let built = bundle::build_site_snapshot(&entries, templates, &config.site.title, &feed_xml)?;
    let key = site_key(db).await?;
    let now = chrono::Utc::now();
    let root = built.root.to_string();
    let mut tx = db.begin().await?;
    queries::put_blocks(&mut tx, &built.blocks, now.timestamp()).await?;
    queries::set_site_root(&mut tx, &root, now.timestamp()).await?;
    sign_ipns_record(&mut tx, &key, &root, config, now).await?;
    tx.commit().await?;
    Ok(built.root)
}

/// The site secret holding the IPNS key (hex of its libp2p protobuf form).
const IPNS_KEY: &str = "ipns-key";
/// How long an IPNS record is valid (Kubo's default); it is signed anew with half of it left.
const RECORD_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(48);

/// The site's IPNS key, created by the first node that asks.
pub async fn site_key(db: &Db) -> anyhow::Result<SiteKey> {
    let stored = store::site_secret(db, IPNS_KEY, &hex::encode(SiteKey::generate().to_protobuf())).await?;
    let bytes = hex::decode(stored).context("the stored IPNS key is not hex")?;
    SiteKey::from_protobuf(&bytes).context("the stored IPNS key")
}

/// Makes the key in `protobuf` (libp2p's format, as `ipfs key export` writes it) the site's,
/// and signs the current snapshot with it: the site's name becomes the key's.
pub async fn import_site_key(db: &Db, config: &Config, protobuf: &[u8]) -> anyhow::Result<SiteKey> {
    let key = SiteKey::from_protobuf(protobuf)?;
    store::replace_site_secret(db, IPNS_KEY, &hex::encode(key.to_protobuf())).await?;
    current_ipns_record(db, config).await?;
    Ok(key)
}

/// Signs a record naming the snapshot `root` with the next sequence number.
async fn sign_ipns_record(
    conn: &mut sqlx::AnyConnection,
    key: &SiteKey,
    root: &str,
    config: &Config,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbError> {
    let sequence = queries::next_ipns_sequence(conn).await?;
    let ttl = std::time::Duration::from_secs(config.ipfs.ipns_ttl_secs);
    let record = key.sign(&format!("/ipfs/{root}"), sequence.max(0) as u64, now + RECORD_LIFETIME, ttl);
    queries::set_ipns_record(conn, &key.name(), record.valid_until.timestamp(), &record.bytes).await?;
    if !config.ipfs.kubo_rpc_url.is_empty() {
        jobs::enqueue(conn, &PublishIpnsRecord, now.timestamp(), Some("ipfs.ipns")).await?;
    }
    Ok(())
}

/// The site's IPNS name and the record naming its current snapshot, signed anew first when it
/// has less than half its lifetime left or another key signed it. `None` before the first
/// snapshot.
pub async fn current_ipns_record(db: &Db, config: &Config) -> anyhow::Result<Option<(String, Vec<u8>)>> {
    let key = site_key(db).await?;
    let name = key.name();
    let now = chrono::Utc::now();
    if let Some((signed_by, _, valid_until, record)) = queries::ipns_record(db).await? {
        if signed_by == name && valid_until - now.timestamp() > RECORD_LIFETIME.num_seconds() / 2 {
            return Ok(Some((name, record)));
        }
    }
    let Some(root) = queries::site_root(db).await? else { return Ok(None) };
    let mut tx = db.begin().await?;
    sign_ipns_record(&mut tx, &key, &root, config, now).await?;
    tx.commit().await?;
    Ok(queries::ipns_record(db).await?.map(|(_, _, _, record)| (name, record)))
}

/// The block store as the `openvoice-ipfs` walks see it. Its `get` blocks on the database, so use
/// it only on a blocking thread (`tokio::task::spawn_blocking`), never on an async worker.
#[derive(Clone)]
pub struct DbBlocks {
    db: Db,
    runtime: tokio::runtime::Handle,
}

impl DbBlocks {
    /// Must be called inside the Tokio runtime.
    pub fn new(db: Db) -> DbBlocks {
        DbBlocks { db, runtime: tokio::runtime::Handle::current() }
    }
}

impl BlockSource for DbBlocks {
    type Error = DbError;

    fn get(&self, cid: &Cid) -> Result<Option<Vec<u8>>, DbError> {
        self.runtime.block_on(queries::get_block(&self.db, &cid.to_string()))
    }
}
