//! IPFS background jobs: bundling a published article and rebuilding the site snapshot (the
//! jobs content's writes set off: `content::jobs`), pinning, and putting the site's IPNS record
//! into a Kubo node.

use serde::{Deserialize, Serialize};

use crate::content::jobs::{BuildBundle, BuildSnapshot};
use crate::ipfs::service::Publishing;
use crate::ipfs::{pin, queries, service};
use crate::jobs::BackgroundJob;
use crate::store::{self, Db};

impl BackgroundJob for BuildBundle {
    const NAME: &'static str = "ipfs.bundle";
    type Context = Publishing;

    async fn run(&self, db: &Db, publishing: &Publishing) -> anyhow::Result<()> {
        service::bundle_article(db, publishing, self.article_id).await?;
        Ok(())
    }
}

impl BackgroundJob for BuildSnapshot {
    const NAME: &'static str = "ipfs.snapshot";
    type Context = Publishing;

    async fn run(&self, db: &Db, publishing: &Publishing) -> anyhow::Result<()> {
        let root = service::build_snapshot(db, &publishing.config, &publishing.templates).await?;
        tracing::info!(cid = %root, "Rebuilt the site snapshot");
        Ok(())
    }
}

/// Pins one bundle at one target; retried with the worker's back-off until it succeeds.
#[derive(Debug, Serialize, Deserialize)]
pub struct PinBundle {
    pub article_id: i64,
    pub root_cid: String,
    pub target: String,
}

impl BackgroundJob for PinBundle {
    const NAME: &'static str = "ipfs.pin";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = Publishing;

    async fn run(&self, db: &Db, publishing: &Publishing) -> anyhow::Result<()> {
        let root = openvoice_ipfs::parse_cid(&self.root_cid)?;
        let name = crate::content::queries::reading::slug_of(db, self.article_id).await?.unwrap_or_default();
        let outcome = pin::pin(db, publishing, &self.target, &root, &name).await;
        let (state, error) = match &outcome {
            Ok(state) => (state.as_str(), None),
            Err(err) => ("retrying", Some(format!("{err:#}"))),
        };
        let mut conn = db.pool.acquire().await?;
        queries::set_pin_state(
            &mut conn,
            self.article_id,
            &self.target,
            &self.root_cid,
            state,
            error.as_deref(),
            store::now(),
        )
        .await?;
        outcome.map(|_| ())
    }
}

/// Puts the site's current IPNS record into the Kubo node of `ipfs.kubo_rpc_url`, which then
/// answers for the name and republishes it; queued with each new record, retried with the
/// worker's back-off. Coalesced: the newest record is the one sent.
#[derive(Debug, Serialize, Deserialize)]
pub struct PublishIpnsRecord;

impl BackgroundJob for PublishIpnsRecord {
    const NAME: &'static str = "ipfs.ipns";
    const MAX_ATTEMPTS: i64 = 12;
    type Context = Publishing;

    async fn run(&self, db: &Db, publishing: &Publishing) -> anyhow::Result<()> {
        let Some((name, record)) = service::current_ipns_record(db, &publishing.config).await? else { return Ok(()) };
        pin::put_ipns_record(publishing, &name, record).await?;
        tracing::info!(ipns = %name, "Put the IPNS record into Kubo");
        Ok(())
    }
}
