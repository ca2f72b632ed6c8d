//! One node: the HTTP server, the follower that keeps its page cache on the current content
//! epoch, and (unless `--no-jobs`) the job worker, until SIGINT or SIGTERM.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::config::Config;
use crate::http::{self, AppState};
use crate::jobs::WorkerConfig;
use crate::store::{ContentChange, Db};

/// Serves the site on `config.listen` until a shutdown signal; in-flight requests and the job in
/// hand finish first.
pub async fn serve(config: Config, db: Db, data_dir: PathBuf, run_jobs: bool) -> anyhow::Result<()> {
    let addr = config.listen_addr();
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    let shutdown = CancellationToken::new();
    let state = AppState::new(config.clone(), db.clone(), data_dir);
    state.pages.advance(db.content_epoch().await?, &[ContentChange::Everything]);
    // The file's configuration with the settings saved in the admin; pages follow later changes
    // through `state.settings`, the job worker through `settings::run_worker`.
    let config = crate::settings::service::effective(&db, &config).await.context("reading the saved settings")?;

    let mut background = tokio::task::JoinSet::new();
    background.spawn(http::follow_content_epoch(state.clone(), shutdown.clone()));
    let analytics = &state.config.analytics;
    background.spawn(crate::analytics::service::run_flusher(
        db.clone(),
        state.page_views.clone(),
        Duration::from_secs(analytics.flush_secs as u64),
        analytics.keep_days,
        shutdown.clone(),
    ));
    if run_jobs {
        let worker = WorkerConfig {
            node_id: format!("{}-{:08x}", std::process::id(), rand::random::<u32>()),
            poll_interval: Duration::from_millis(config.jobs.poll_interval_ms),
            lease_secs: config.jobs.lease_secs,
        };
        let data_dir = state.data_dir.clone();
        let build = move |config: &Config| super::jobs::registry(config, &data_dir);
        // A configuration that cannot make the worker's contexts stops the start.
        build(&config)?;
        // The worker is rebuilt when the settings saved in the admin change (mail, prices, pinning).
        let settings_check = Duration::from_secs(5);
        let base = state.config.clone();
        background.spawn(crate::settings::run_worker(
            db.clone(),
            base,
            build,
            worker,
            settings_check,
            shutdown.clone(),
        ));
    }
    super::jobs::ensure_recurring(&db, &config).await?;
    tokio::spawn(cancel_on_signal(shutdown.clone()));

    info!("OpenVoice is serving {} at http://{}", config.site.title, listener.local_addr()?);
    http::serve(listener, super::router::router(state), shutdown.clone()).await.context("serving HTTP")?;
    shutdown.cancel();
    while background.join_next().await.is_some() {}
    info!("Shut down cleanly");
    Ok(())
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    info!("Shutdown requested; finishing in-flight requests and jobs");
    shutdown.cancel();
}
