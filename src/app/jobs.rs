//! The job registry: every background job's kind with the context it runs with, built from the
//! configuration (and rebuilt when the settings saved in the desk change), and the recurring
//! jobs every node makes sure exist.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use crate::activitypub::delivery::Delivery;
use crate::activitypub::jobs::DeliverActivity;
use crate::config::Config;
use crate::content::jobs::{BuildBundle, BuildSnapshot, Federate, NotifySubscribers, PublishScheduled};
use crate::ipfs::jobs::{PinBundle, PublishIpnsRecord};
use crate::ipfs::service::Publishing;
use crate::jobs::Registry;
use crate::mail::jobs::{DeliverMail, PruneOutbox};
use crate::market::jobs::PollPrices;
use crate::market::service::Polling;
use crate::store::Db;
use crate::subscriptions::jobs::QueueDigests;
use crate::theme::Templates;

/// Every job kind, with contexts made from `config`: what a `serve` node's worker runs.
pub fn registry(config: &Config, data_dir: &Path) -> anyhow::Result<Registry> {
    let (mailer, subscriptions) = crate::subscriptions::contexts(Arc::new(config.clone()), data_dir)?;
    let publishing = Arc::new(publishing(config, data_dir)?);
    let polling = Arc::new(Polling::from_config(&config.market)?);
    let delivery = Arc::new(Delivery::new(Arc::new(config.clone())).context("the ActivityPub HTTP client")?);
    tracing::info!("Mail goes to {}", mailer.transport.describe());
    Ok(Registry::default()
        .with::<PublishScheduled>(Arc::new(()))
        .with::<BuildBundle>(publishing.clone())
        .with::<BuildSnapshot>(publishing.clone())
        .with::<PinBundle>(publishing.clone())
        .with::<PublishIpnsRecord>(publishing)
        .with::<PollPrices>(polling)
        .with::<DeliverMail>(mailer.clone())
        .with::<PruneOutbox>(mailer)
        .with::<NotifySubscribers>(subscriptions.clone())
        .with::<QueueDigests>(subscriptions)
        .with::<Federate>(delivery.clone())
        .with::<DeliverActivity>(delivery))
}

/// What the IPFS jobs and `openvoice export car` bundle and pin with.
pub fn publishing(config: &Config, data_dir: &Path) -> anyhow::Result<Publishing> {
    Publishing::new(Arc::new(config.clone()), Arc::new(Templates::new(data_dir)))
}

/// Makes sure the recurring jobs exist (price poll, mail delivery and clean-up, digests); every
/// node does this at start.
pub async fn ensure_recurring(db: &Db, config: &Config) -> anyhow::Result<()> {
    crate::market::jobs::register(db, &config.market).await.context("registering the price poll")?;
    crate::mail::jobs::register(db).await.context("registering mail delivery")?;
    crate::subscriptions::jobs::register(db).await.context("registering the digests")?;
    Ok(())
}
