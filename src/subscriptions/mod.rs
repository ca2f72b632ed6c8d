//! "Subscribe to Blog via Email": double opt-in subscriptions, per-category and digest
//! preferences, one-click unsubscribe, and exactly one mail per subscriber per article.
//!
//! Readers subscribe with the sidebar widget (`POST /subscribe`); the answer is the same
//! whether or not the address is known, and the confirmation mail carries a signed, expiring
//! link. Only confirmed addresses that are not on the suppression list (`mail`) receive
//! articles. When an article is first published, `content::service` queues
//! `content::jobs::NotifySubscribers` in its transaction (unique per article); the job records the
//! article's one mailing decision and queues every instant subscriber's mail with a single
//! `INSERT … SELECT` into the outbox, keyed (topic, subscriber), so neither a second run nor a
//! crash can queue a mail twice. Mails are composed at delivery time (`compose`), a batch at a
//! time. Daily and weekly digests are queued the same way by [`jobs::QueueDigests`].
//!
//! # Layout
//! - `config`: the `[subscriptions]` section.
//! - `model`: addresses (checked, IDNA), statuses, frequencies, subscribers.
//! - `tokens`: the signed confirmation and manage/unsubscribe links.
//! - `service`: subscribe, confirm, preferences, unsubscribe, fan-outs, digests, import/export;
//!   every write is one transaction.
//! - `compose`: outbox rows → messages (the `mail::Compose` implementation).
//! - `queries`: the SQL.
//! - `csv`: the CSV format of `openvoice subscribers import|export`.
//! - `routes`: the widget's POST, the confirm, manage and unsubscribe pages, RFC 8058 one-click.
//! - `jobs`: running `content::jobs::NotifySubscribers`, and `QueueDigests`.
//! - `cli`: `openvoice subscribers …`.

pub mod admin;
pub mod api;
pub mod compose;
pub mod csv;
pub mod jobs;
pub mod model;
pub mod queries;
pub mod routes;
pub mod service;
pub mod tokens;

use std::path::Path;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::config::Config;
use crate::mail::{Compose, Mailer};
use crate::store::{Db, DbError};
use crate::theme::Templates;
use tokens::Keys;

/// What the subscription jobs and the mail composer need: settings, the theme (mail
/// templates) and the link keys.
pub struct Subscriptions {
    pub config: Arc<Config>,
    pub templates: Arc<Templates>,
    keys: OnceCell<Keys>,
}

impl Subscriptions {
    pub fn new(config: Arc<Config>, templates: Arc<Templates>) -> Subscriptions {
        Subscriptions { config, templates, keys: OnceCell::new() }
    }

    pub async fn keys(&self, db: &Db) -> Result<&Keys, DbError> {
        self.keys.get_or_try_init(|| Keys::load(db)).await
    }
}

/// The subscription context and a mailer that composes subscription mail: what `serve`, the
/// CLI and tests put in a job context.
pub fn contexts(config: Arc<Config>, data_dir: &Path) -> anyhow::Result<(Arc<Mailer>, Arc<Subscriptions>)> {
    let templates = Arc::new(Templates::new(data_dir));
    let subscriptions = Arc::new(Subscriptions::new(config.clone(), templates));
    let composer: Arc<dyn Compose> = subscriptions.clone();
    let mailer = Mailer::new(&config, data_dir, Some(composer))?;
    Ok((Arc::new(mailer), subscriptions))
}
