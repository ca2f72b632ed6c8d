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
use crate::ipfs::bundle::{self, BundleContext, SnapshotEntry};
use crate::ipfs::jobs::PinBundle;
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
    let build = |previous: Option<String>| {
        let ctx = BundleContext {
            templates: &publishing.templates,
            site_title: &config.site.title,
            language: &config.site.language,
            canonical: format!("{}{path}", config.base_url()),
            previous,
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
    let now = store::now();
    let mut tx = db.begin().await?;
    queries::put_blocks(&mut tx, &built.blocks, now).await?;
    queries::set_site_root(&mut tx, &built.root.to_string(), now).await?;
    tx.commit().await?;
    Ok(built.root)
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
