//! Market decisions: one poll (providers → per-coin checks → one transaction), and the
//! snapshots that pages and the API read. Nothing here runs on the request path except
//! [`snapshot`], which only reads the database.

use std::collections::{BTreeMap, HashMap};

use tracing::{info, warn};

use crate::config::market::CoinId;
use crate::config::market::{MarketConfig, TokenSource};
use crate::market::model::{self, bucket, CoinLabel, Observation, PricePoint, Quote, Rejection};
use crate::market::provider::{PriceProvider, ProviderError, Providers};
use crate::market::queries;
use crate::store::{self, ContentChange, Db, DbResult};

/// Most history requests one poll makes (CoinGecko's free tier allows about 30 calls a minute).
pub const HISTORY_REQUESTS_PER_POLL: usize = 10;

/// A coin's history is fetched again after this long; in between, each poll's own observation
/// extends it. With the default eleven coins that is 11 calls a day.
pub const HISTORY_REFRESH_SECS: i64 = 86_400;

/// Days of history fetched: the longest chart.
pub const HISTORY_DAYS: u32 = 30;

/// The longest back-off after repeated failures (a `Retry-After` may ask for more).
pub const MAX_BACKOFF_SECS: i64 = 3600;

/// What the poll job needs: the settings and the providers built from them.
pub struct Polling {
    pub config: MarketConfig,
    pub providers: Providers,
}

impl Polling {
    pub fn from_config(config: &MarketConfig) -> anyhow::Result<Polling> {
        Ok(Polling { config: config.clone(), providers: Providers::from_config(config)? })
    }
}

/// What one poll did, for logs and tests.
#[derive(Debug, Default)]
pub struct PollReport {
    /// Coins whose value was stored, with the provider it came from.
    pub stored: Vec<(CoinId, &'static str)>,
    /// Coins a provider answered badly for; their last good value was kept.
    pub rejected: Vec<(&'static str, Rejection)>,
    /// Providers whose response was unusable, with the reason.
    pub failed: Vec<(&'static str, String)>,
    /// Providers not asked because they are backing off (after 429/5xx, or per `Retry-After`).
    pub skipped: Vec<&'static str>,
    /// Coins whose history was fetched.
    pub history: Vec<CoinId>,
    /// Quotes whose stale mark changed.
    pub stale_changed: u64,
    /// Whether the content epoch was bumped (something shown changed).
    pub epoch_bumped: bool,
}

/// Polls the providers once and stores what they gave.
///
/// All configured coins go to the primary provider in one request; whatever it could not give
/// (failed response, missing or bad coins) goes to the fallback. Every value is checked per coin;
/// a rejected coin keeps its last good value. Providers that failed back off (exponentially, at
/// least as long as their `Retry-After`), in state shared by every node. The stale marks are
/// recomputed and old history pruned. All writes happen in one transaction, which bumps the
/// content epoch when anything shown changed, so every node's page cache picks up the new prices.
/// Safe to run twice: it only overwrites values.
pub async fn poll(db: &Db, polling: &Polling, now: i64) -> anyhow::Result<PollReport> {
    let config = &polling.config;
    let coins = config.coin_ids();
    let token = config.token_source();
    let states: HashMap<String, queries::ProviderState> =
        queries::provider_states(db).await?.into_iter().map(|s| (s.name.clone(), s)).collect();
    let blocked: Vec<&'static str> = polling
        .providers
        .in_order()
        .map(|p| p.name())
        .filter(|name| states.get(*name).is_some_and(|s| s.blocked_until > now))
        .collect();

    let mut report = PollReport::default();
    let mut got: BTreeMap<CoinId, (Observation, &'static str)> = BTreeMap::new();
    // Per provider: `None` after a success, the error after a failure (a failure wins).
    let mut outcomes: BTreeMap<&'static str, Option<ProviderError>> = BTreeMap::new();

    for provider in polling.providers.in_order() {
        let name = provider.name();
        let mut ask: Vec<CoinId> = coins.iter().filter(|c| !got.contains_key(*c)).cloned().collect();
        if let TokenSource::Provider { provider: source, coin } = &token {
            if *source == name && !got.contains_key(coin) && !ask.contains(coin) {
                ask.push(coin.clone());
            }
        }
        if ask.is_empty() {
            continue;
        }
        if blocked.contains(&name) {
            info!(provider = name, "Price provider is backing off; not asked this time");
            report.skipped.push(name);
            continue;
        }
        match provider.prices(&ask).await {
            Ok(prices) => {
                for rejection in prices.rejected {
                    warn!(provider = name, coin = %rejection.coin, reason = %rejection.reason, "Rejected a price; keeping the last good value");
                    report.rejected.push((name, rejection));
                }
                for observation in prices.observations {
                    got.entry(observation.coin.clone()).or_insert((observation, name));
                }
                outcomes.entry(name).or_insert(None);
            }
            Err(err) => {
                warn!(provider = name, error = %err, "Price request failed");
                report.failed.push((name, err.to_string()));
                outcomes.insert(name, Some(err));
            }
        }
    }

    let histories = fetch_due_histories(db, polling, &coins, now, &blocked, &mut outcomes, &mut report).await?;

    let mut tx = db.begin().await?;
    for (coin, points, source) in &histories {
        queries::upsert_points(&mut tx, coin.as_str(), &hourly(points)).await?;
        queries::mark_history_synced(&mut tx, coin.as_str(), now, source).await?;
    }
    for (coin, (observation, source)) in &got {
        queries::upsert_quote(&mut tx, observation, source, now).await?;
        queries::upsert_points(&mut tx, coin.as_str(), &[PricePoint { at: bucket(now), usd: observation.usd }]).await?;
        report.stored.push((coin.clone(), source));
    }
    for (name, outcome) in &outcomes {
        match outcome {
            None => queries::record_provider_success(&mut tx, name, now).await?,
            Some(err) => {
                let failures = states.get(*name).map_or(0, |s| s.failures) + 1;
                let until = blocked_until(now, failures, err, config.poll_interval_secs);
                queries::record_provider_failure(&mut tx, name, failures, until, &err.to_string()).await?;
            }
        }
    }
    report.stale_changed = queries::refresh_stale_flags(&mut tx, now - config.stale_after_secs).await?;
    queries::prune_points(&mut tx, now - model::HISTORY_KEEP_SECS).await?;
    report.epoch_bumped = !got.is_empty() || !histories.is_empty() || report.stale_changed > 0;
    if report.epoch_bumped {
        store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// Fetches the history of coins not synced for a day, from the first provider that is neither
/// backing off nor failed in this poll; stops at the first error.
async fn fetch_due_histories(
    db: &Db,
    polling: &Polling,
    coins: &[CoinId],
    now: i64,
    blocked: &[&'static str],
    outcomes: &mut BTreeMap<&'static str, Option<ProviderError>>,
    report: &mut PollReport,
) -> anyhow::Result<Vec<(CoinId, Vec<PricePoint>, &'static str)>> {
    let synced: HashMap<String, i64> = queries::history_synced(db).await?.into_iter().collect();
    // Never-fetched coins first (a coin just added to the list), then the longest unsynced.
    let mut due: Vec<(Option<i64>, &CoinId)> = coins
        .iter()
        .map(|c| (synced.get(c.as_str()).copied(), c))
        .filter(|(at, _)| at.is_none_or(|at| at <= now - HISTORY_REFRESH_SECS))
        .collect();
    due.sort_by_key(|(at, _)| *at);
    let due: Vec<&CoinId> = due.into_iter().map(|(_, c)| c).take(HISTORY_REQUESTS_PER_POLL).collect();
    let usable = |p: &&std::sync::Arc<dyn PriceProvider>| {
        !blocked.contains(&p.name()) && !matches!(outcomes.get(p.name()), Some(Some(_)))
    };
    let Some(provider) = polling.providers.in_order().find(usable).cloned() else { return Ok(Vec::new()) };
    let mut histories = Vec::new();
    for coin in due {
        match provider.history(coin, HISTORY_DAYS).await {
            Ok(points) => {
                report.history.push(coin.clone());
                histories.push((coin.clone(), points, provider.name()));
            }
            // The provider does not know this coin: nothing to chart, and nothing wrong with the provider.
            Err(ProviderError::Status(404)) => {
                warn!(provider = provider.name(), coin = %coin, "The provider has no history for this coin");
                histories.push((coin.clone(), Vec::new(), provider.name()));
            }
            Err(err) => {
                warn!(provider = provider.name(), coin = %coin, error = %err, "Price history request failed");
                report.failed.push((provider.name(), format!("history of {coin}: {err}")));
                outcomes.insert(provider.name(), Some(err));
                break;
            }
        }
    }
    for (_, _, name) in &histories {
        outcomes.entry(name).or_insert(None);
    }
    Ok(histories)
}

/// When a provider that has now failed `failures` times in a row may be asked again: skip
/// 0, 1, 3, 7… poll intervals (at most an hour), and never before its `Retry-After` (at least a
/// minute after a 429 without one).
pub fn blocked_until(now: i64, failures: i64, err: &ProviderError, poll_interval_secs: i64) -> i64 {
    let doublings = (failures - 1).clamp(0, 20) as u32;
    let backoff = (poll_interval_secs.saturating_mul((1i64 << doublings) - 1)).min(MAX_BACKOFF_SECS);
    let asked = err.retry_after().unwrap_or(if err.is_rate_limit() { 60 } else { 0 });
    now + backoff.max(asked)
}

/// One point per hour bucket, the last one seen in it.
fn hourly(points: &[PricePoint]) -> Vec<PricePoint> {
    let mut buckets: BTreeMap<i64, f64> = BTreeMap::new();
    for p in points {
        buckets.insert(bucket(p.at), p.usd);
    }
    buckets.into_iter().map(|(at, usd)| PricePoint { at, usd }).collect()
}

/// What the widgets, `/prices` and `/api/prices` show, read from the database only.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The configured coins in order, with or without a stored value.
    pub coins: Vec<CoinSnapshot>,
    pub token: TokenSnapshot,
    /// The newest observation among the coins shown; `None` with no data at all.
    pub as_of: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct CoinSnapshot {
    pub id: CoinId,
    pub label: CoinLabel,
    pub quote: Option<Quote>,
    /// Hourly history, oldest first, over the requested days up to `as_of`.
    pub history: Vec<PricePoint>,
}

#[derive(Debug, Clone)]
pub struct TokenSnapshot {
    pub name: String,
    pub symbol: String,
    /// `fixed` or the provider name.
    pub source: String,
    /// The owner's price, or the polled value; `None` while a polled price is unknown.
    pub usd: Option<f64>,
    pub quote: Option<Quote>,
}

/// Reads the stored prices (and `history_days` of history; 0 for none). The history window ends
/// at the newest observation, not at the clock, so the same database gives the same page.
pub async fn snapshot(db: &Db, config: &MarketConfig, history_days: u32) -> DbResult<Snapshot> {
    let mut quotes: HashMap<String, Quote> =
        queries::quotes(db).await?.into_iter().map(|q| (q.coin_id.clone(), q)).collect();
    let coin_ids = config.coin_ids();
    let as_of = coin_ids.iter().filter_map(|c| quotes.get(c.as_str())).map(|q| q.observed_at).max();
    let mut history: HashMap<String, Vec<PricePoint>> = HashMap::new();
    if let (Some(end), true) = (as_of, history_days > 0) {
        for (coin, point) in queries::points_since(db, end - i64::from(history_days) * 86_400).await? {
            if point.at <= end {
                history.entry(coin).or_default().push(point);
            }
        }
    }
    let token = match config.token_source() {
        TokenSource::Fixed(usd) => TokenSnapshot {
            name: config.token_name.clone(),
            symbol: config.token_symbol.clone(),
            source: "fixed".into(),
            usd: Some(usd),
            quote: None,
        },
        TokenSource::Provider { provider, coin } => {
            let quote = quotes.get(coin.as_str()).cloned();
            TokenSnapshot {
                name: config.token_name.clone(),
                symbol: config.token_symbol.clone(),
                source: provider.into(),
                usd: quote.as_ref().map(|q| q.usd),
                quote,
            }
        }
    };
    let coins = coin_ids
        .into_iter()
        .map(|id| CoinSnapshot {
            label: model::label(&id),
            quote: quotes.remove(id.as_str()),
            history: history.remove(id.as_str()).unwrap_or_default(),
            id,
        })
        .collect();
    Ok(Snapshot { coins, token, as_of })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_and_honours_retry_after() {
        let server = ProviderError::Server { status: 500, retry_after: None };
        assert_eq!(blocked_until(1000, 1, &server, 300), 1000);
        assert_eq!(blocked_until(1000, 2, &server, 300), 1300);
        assert_eq!(blocked_until(1000, 3, &server, 300), 1900);
        assert_eq!(blocked_until(1000, 30, &server, 300), 1000 + MAX_BACKOFF_SECS);
        let limited = ProviderError::RateLimited { retry_after: Some(120) };
        assert_eq!(blocked_until(1000, 1, &limited, 300), 1120);
        let limited = ProviderError::RateLimited { retry_after: None };
        assert_eq!(blocked_until(1000, 1, &limited, 300), 1060);
        let limited = ProviderError::RateLimited { retry_after: Some(7200) };
        assert_eq!(blocked_until(1000, 9, &limited, 300), 8200);
    }

    #[test]
    fn history_keeps_the_last_point_of_each_hour() {
        let points =
            [PricePoint { at: 3600, usd: 1.0 }, PricePoint { at: 3700, usd: 2.0 }, PricePoint { at: 7300, usd: 3.0 }];
        assert_eq!(hourly(&points), vec![PricePoint { at: 3600, usd: 2.0 }, PricePoint { at: 7200, usd: 3.0 }]);
    }
}
