//! What the market widgets add to rendering an article page, measured in process.
//!
//!     cargo run --release --example widgets_render [-- PAIRS [RENDERS_PER_BATCH]]
//!
//! The demo site on a fresh SQLite file, with prices for the eleven default coins and 7 days of
//! hourly history stored by `market::service::poll` (from an in-process provider, so no network),
//! is served by two routers with the page cache off (every request renders): one with the widgets
//! on, one with `market.enabled = false`. Batches of renders of the same article page alternate
//! between the two, so load from other processes falls on both alike; the median of the
//! differences between paired batches is the widgets' cost. `bench/widgets.sh` measures the
//! same over HTTP with wrk.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use openvoice::config::market::CoinId;
use openvoice::config::{Config, Overrides};
use openvoice::content::service::ContentLimits;
use openvoice::http::AppState;
use openvoice::market::model::{Observation, PricePoint};
use openvoice::market::provider::{BoxFuture, PriceProvider, Prices, ProviderError, Providers};
use openvoice::market::service::{self, Polling};
use openvoice::store::{self, Db};
use tower::ServiceExt;

const ARTICLE: &str = "/article/parliament-approves-coastal-drone-patrols";

/// Deterministic prices and a 7-day hourly random walk for every coin.
struct Synthetic;

impl PriceProvider for Synthetic {
    fn name(&self) -> &'static str {
        "coingecko"
    }

    fn prices<'a>(&'a self, coins: &'a [CoinId]) -> BoxFuture<'a, Result<Prices, ProviderError>> {
        Box::pin(async move {
            let observations = coins
                .iter()
                .enumerate()
                .map(|(i, coin)| Observation {
                    coin: coin.clone(),
                    usd: 0.15 * 7f64.powi(i as i32 % 7),
                    change_24h: Some(i as f64 - 5.3),
                    provider_stale: false,
                    provider_updated_at: Some(store::now()),
                })
                .collect();
            Ok(Prices { observations, rejected: Vec::new() })
        })
    }

    fn history<'a>(&'a self, coin: &'a CoinId, days: u32) -> BoxFuture<'a, Result<Vec<PricePoint>, ProviderError>> {
        Box::pin(async move {
            let mut seed = coin.as_str().bytes().fold(7u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(b)));
            let mut usd = 100.0;
            let hours = i64::from(days) * 24;
            Ok((0..hours)
                .map(|h| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    usd *= 1.0 + ((seed >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.02;
                    PricePoint { at: store::now() - (hours - h) * 3600, usd }
                })
                .collect())
        })
    }
}

async fn render(router: &axum::Router) -> usize {
    let request = Request::get(ARTICLE).body(Body::empty()).expect("request");
    let response = router.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), 200);
    axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body").len()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let batches: usize = args.next().map_or(Ok(400), |a| a.parse())?;
    let per_batch: usize = args.next().map_or(Ok(10), |a| a.parse())?;

    let dir = tempfile::tempdir()?;
    let db = Db::connect(&store::sqlite_url_for(dir.path()), 8).await?;
    openvoice::demo::seed_if_empty(&db, ContentLimits { max_article_bytes: 1 << 20 }).await?;
    let base = Config::from_sources(None, &Default::default(), &Overrides::default())?;
    let polling =
        Polling { config: base.market.clone(), providers: Providers { primary: Arc::new(Synthetic), fallback: None } };
    // Ten histories per poll: the second poll, a day later, fetches the eleventh first.
    service::poll(&db, &polling, store::now() - service::HISTORY_REFRESH_SECS).await?;
    let report = service::poll(&db, &polling, store::now()).await?;
    println!("stored {} prices; the last poll fetched {} histories", report.stored.len(), report.history.len());

    let mut routers = Vec::new();
    for enabled in [true, false] {
        let mut config = base.clone();
        config.market.enabled = enabled;
        config.http.page_cache_entries = 0;
        let state = AppState::new(config, db.clone(), dir.path().to_path_buf());
        state.pages.advance(db.content_epoch().await?, &[openvoice::store::ContentChange::Everything]);
        routers.push(openvoice::app::router::router(state));
    }
    let bytes_on = render(&routers[0]).await;
    let bytes_off = render(&routers[1]).await;
    for router in &routers {
        for _ in 0..per_batch {
            render(router).await;
        }
    }

    // Pairs of batches, in alternating order; the median of the per-pair differences is robust
    // to drift in the machine's load.
    let (mut on, mut off, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for pair in 0..batches {
        let mut times = [0.0; 2];
        let order = if pair % 2 == 0 { [0, 1] } else { [1, 0] };
        for side in order {
            let started = Instant::now();
            for _ in 0..per_batch {
                render(&routers[side]).await;
            }
            times[side] = started.elapsed().as_secs_f64() * 1e6 / per_batch as f64;
        }
        on.push(times[0]);
        off.push(times[1]);
        added.push(times[0] - times[1]);
    }
    let (on, off, added) = (median(&mut on), median(&mut off), median(&mut added));
    println!("article page, page cache off, {batches} alternating pairs of batches of {per_batch} renders (medians):");
    println!("  widgets off: {off:8.1} µs per render, {bytes_off} bytes");
    println!("  widgets on:  {on:8.1} µs per render, {bytes_on} bytes");
    println!("  added:       {added:+8.1} µs per render ({:+.1}% of the render without them)", added / off * 100.0);
    Ok(())
}
