//! Site settings changed in the admin (`/admin/settings`): stored as overrides of configuration
//! keys in `site_settings`, so every node sees them, and checked by the configuration's own rules.
//!
//! [`Live`] holds this node's effective configuration, reloaded whenever the content epoch moves
//! (saving bumps it): the site's title, tagline, language, time zone and widgets apply to the
//! next page rendered. [`run_worker`] runs the job worker with mail, price and pinning contexts
//! built from the saved settings, and rebuilds them when those change.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::jobs::{self, Registry, WorkerConfig};
use crate::store::Db;
use crate::theme::Templates;

pub mod queries;
pub mod service;

/// This node's effective configuration and the content epoch it was read at.
pub struct Live {
    current: RwLock<(Option<i64>, Arc<Config>)>,
}

impl Live {
    pub fn new(base: &Config) -> Live {
        Live { current: RwLock::new((None, Arc::new(base.clone()))) }
    }

    /// The configuration with the saved settings laid over it.
    pub fn config(&self) -> Arc<Config> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// Reloads the saved settings unless they were read at `epoch` already.
    pub async fn follow(&self, db: &Db, base: &Config, templates: &Templates, epoch: i64) {
        if self.current.read().unwrap_or_else(|e| e.into_inner()).0 == Some(epoch) {
            return;
        }
        match service::effective(db, base).await {
            Ok(config) => {
                if let Ok(zone) = config.site.time_zone.parse() {
                    templates.set_time_zone(zone);
                }
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = (Some(epoch), Arc::new(config));
            }
            Err(err) => tracing::warn!(error = %err, "Could not read the saved settings"),
        }
    }
}

/// Runs the job worker with the registry `build` makes from `base` and the saved settings. Every
/// `check_every` it looks for changed settings; then it lets the job in hand finish and starts
/// again with contexts built from the new ones (mail transport, price coins, pinning targets).
/// A registry that cannot be built is logged, and the worker waits for the next change.
pub async fn run_worker<B>(
    db: Db,
    base: Config,
    build: B,
    worker: WorkerConfig,
    check_every: Duration,
    shutdown: CancellationToken,
) where
    B: Fn(&Config) -> anyhow::Result<Registry>,
{
    let mut saved = service::overrides(&db).await.unwrap_or_default();
    loop {
        let config = service::lay_over(&base, &saved);
        let stop = shutdown.child_token();
        let mut running = match build(&config) {
            Ok(registry) => Some(tokio::spawn(jobs::run_worker(db.clone(), registry, worker.clone(), stop.clone()))),
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "The job worker cannot start with these settings");
                None
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => {
                    if let Some(running) = running.take() {
                        let _ = running.await;
                    }
                    return;
                }
                _ = tokio::time::sleep(check_every) => {}
            }
            match service::overrides(&db).await {
                Ok(now) if now != saved => {
                    saved = now;
                    break;
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "Could not read the saved settings"),
            }
        }
        tracing::info!("The settings changed; the job worker restarts with them");
        stop.cancel();
        if let Some(running) = running {
            let _ = running.await;
        }
    }
}
