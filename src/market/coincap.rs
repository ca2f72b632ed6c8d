//! CoinCap (<https://docs.coincap.io>): the fallback provider. Its asset ids are the same slugs as
//! CoinGecko's for the common coins, and it answers every coin in one request.
//!
//! - Prices: `GET {base}/assets?ids=a,b` → `{"data": [{"id": "bitcoin", "symbol": "BTC",
//!   "priceUsd": "91234.12", "changePercent24Hr": "1.84", …}], "timestamp": unix_ms}`; numbers
//!   come as strings.
//! - History: `GET {base}/assets/{id}/history?interval=h1&start=ms&end=ms`
//!   → `{"data": [{"priceUsd": "…", "time": unix_ms, "date": "…"}], "timestamp": unix_ms}`.
//!
//! v3 (`https://rest.coincap.io/v3`) wants an API key, sent as `Authorization: Bearer …`.

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::Value;

use crate::config::market::CoinId;
use crate::config::market::MarketConfig;
use crate::market::model::{check_observation, Observation, PricePoint, Rejection};
use crate::market::provider::{endpoint, number, BoxFuture, HttpFetch, PriceProvider, Prices, ProviderError};

pub struct CoinCap {
    http: HttpFetch,
    base_url: String,
    headers: HeaderMap,
}

impl CoinCap {
    pub fn new(http: HttpFetch, config: &MarketConfig) -> anyhow::Result<CoinCap> {
        let mut headers = HeaderMap::new();
        if !config.coincap_api_key.is_empty() {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", config.coincap_api_key))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        Ok(CoinCap { http, base_url: config.coincap_base_url.clone(), headers })
    }
}

impl PriceProvider for CoinCap {
    fn name(&self) -> &'static str {
        "coincap"
    }

    fn prices<'a>(&'a self, coins: &'a [CoinId]) -> BoxFuture<'a, Result<Prices, ProviderError>> {
        Box::pin(async move {
            if coins.is_empty() {
                return Ok(Prices::default());
            }
            let mut url = endpoint(&self.base_url, &["assets"])?;
            let ids: Vec<&str> = coins.iter().map(CoinId::as_str).collect();
            url.set_query(Some(&format!("ids={}", ids.join(","))));
            let body = self.http.get_json(url, self.headers.clone()).await?;
            parse_assets(&body, coins)
        })
    }

    fn history<'a>(&'a self, coin: &'a CoinId, days: u32) -> BoxFuture<'a, Result<Vec<PricePoint>, ProviderError>> {
        Box::pin(async move {
            let end_ms = crate::store::now() * 1000;
            let start_ms = end_ms - i64::from(days) * 86_400_000;
            let interval = if days <= 31 { "h1" } else { "d1" };
            let mut url = endpoint(&self.base_url, &["assets", coin.as_str(), "history"])?;
            url.set_query(Some(&format!("interval={interval}&start={start_ms}&end={end_ms}")));
            let body = self.http.get_json(url, self.headers.clone()).await?;
            parse_history(&body)
        })
    }
}

/// Reads an `assets` response; each requested coin is used or rejected on its own.
pub fn parse_assets(body: &Value, coins: &[CoinId]) -> Result<Prices, ProviderError> {
    let Some(data) = body.get("data").and_then(Value::as_array) else {
        return Err(ProviderError::Malformed("expected {\"data\": [asset, …]}".into()));
    };
    let fetched_at = body.get("timestamp").and_then(Value::as_i64).map(|ms| ms / 1000).filter(|t| *t > 0);
    let mut prices = Prices::default();
    for coin in coins {
        let reject = |reason: String| Rejection { coin: coin.clone(), reason };
        let Some(asset) = data.iter().find(|a| a.get("id").and_then(Value::as_str) == Some(coin.as_str())) else {
            prices.rejected.push(reject("missing from the response".into()));
            continue;
        };
        let Some(usd) = asset.get("priceUsd").and_then(number) else {
            prices.rejected.push(reject("no numeric priceUsd".into()));
            continue;
        };
        let change_24h = match asset.get("changePercent24Hr") {
            None | Some(Value::Null) => None,
            Some(value) => match number(value) {
                Some(change) => Some(change),
                None => {
                    prices.rejected.push(reject("changePercent24Hr is not a number".into()));
                    continue;
                }
            },
        };
        if let Err(reason) = check_observation(usd, change_24h) {
            prices.rejected.push(reject(reason));
            continue;
        }
        prices.observations.push(Observation {
            coin: coin.clone(),
            usd,
            change_24h,
            provider_stale: false,
            provider_updated_at: fetched_at,
        });
    }
    Ok(prices)
}

/// Reads a `history` response into checked points, oldest first.
pub fn parse_history(body: &Value) -> Result<Vec<PricePoint>, ProviderError> {
    let Some(data) = body.get("data").and_then(Value::as_array) else {
        return Err(ProviderError::Malformed("expected {\"data\": [{\"priceUsd\", \"time\"}, …]}".into()));
    };
    let mut points: Vec<PricePoint> = data
        .iter()
        .filter_map(|row| {
            let usd = row.get("priceUsd").and_then(number)?;
            let at_ms = row.get("time").and_then(Value::as_i64)?;
            check_observation(usd, None).ok()?;
            (at_ms > 0).then_some(PricePoint { at: at_ms / 1000, usd })
        })
        .collect();
    points.sort_by_key(|p| p.at);
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_numbers_are_read_and_checked() {
        let body = serde_json::json!({
            "timestamp": 1795696800000u64,
            "data": [
                {"id": "bitcoin", "priceUsd": "91234.1200", "changePercent24Hr": "-0.5"},
                {"id": "ethereum", "priceUsd": "NaN", "changePercent24Hr": "1"},
                {"id": "neo", "priceUsd": "5.12", "changePercent24Hr": null},
            ]
        });
        let coins: Vec<CoinId> =
            ["bitcoin", "ethereum", "neo", "waves"].iter().map(|c| CoinId::parse(c).unwrap()).collect();
        let prices = parse_assets(&body, &coins).unwrap();
        assert_eq!(prices.observations.len(), 2);
        assert_eq!(prices.observations[0].usd, 91234.12);
        assert_eq!(prices.observations[0].change_24h, Some(-0.5));
        assert_eq!(prices.observations[0].provider_updated_at, Some(1795696800));
        assert_eq!(prices.observations[1].change_24h, None);
        assert!(prices.rejected[0].reason.contains("finite"), "{:?}", prices.rejected);
        assert!(prices.rejected[1].reason.contains("missing"));
    }
}
