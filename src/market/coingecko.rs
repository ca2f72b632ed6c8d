//! CoinGecko (<https://docs.coingecko.com/reference/simple-price>): the default provider.
//!
//! - Prices: `GET {base}/simple/price?ids=a,b&vs_currencies=usd&include_24hr_change=true&include_last_updated_at=true`
//!   → `{"bitcoin": {"usd": 91234.12, "usd_24h_change": 1.84, "last_updated_at": 1795696782}, …}`.
//!   A `null` `usd_24h_change` is CoinGecko's sign of a stale price.
//! - History: `GET {base}/coins/{id}/market_chart?vs_currency=usd&days=N`
//!   → `{"prices": [[unix_ms, price], …], "market_caps": […], "total_volumes": […]}` (hourly for 2–90 days).

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::config::market::CoinId;
use crate::config::market::MarketConfig;
use crate::market::model::{check_observation, Observation, PricePoint, Rejection};
use crate::market::provider::{endpoint, BoxFuture, HttpFetch, PriceProvider, Prices, ProviderError};

pub struct CoinGecko {
    http: HttpFetch,
    base_url: String,
    /// The API key header, when a key is configured.
    headers: HeaderMap,
}

impl CoinGecko {
    pub fn new(http: HttpFetch, config: &MarketConfig) -> anyhow::Result<CoinGecko> {
        let mut headers = HeaderMap::new();
        if !config.coingecko_api_key.is_empty() {
            let name = HeaderName::from_bytes(config.coingecko_api_key_header.as_bytes())?;
            let mut value = HeaderValue::from_str(&config.coingecko_api_key)?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(CoinGecko { http, base_url: config.coingecko_base_url.clone(), headers })
    }
}

impl PriceProvider for CoinGecko {
    fn name(&self) -> &'static str {
        "coingecko"
    }

    fn prices<'a>(&'a self, coins: &'a [CoinId]) -> BoxFuture<'a, Result<Prices, ProviderError>> {
        Box::pin(async move {
            if coins.is_empty() {
                return Ok(Prices::default());
            }
            let mut url = endpoint(&self.base_url, &["simple", "price"])?;
            // Coin ids are [a-z0-9-] only, so the list needs no escaping; the commas stay
            // literal as in CoinGecko's documentation.
            let ids: Vec<&str> = coins.iter().map(CoinId::as_str).collect();
            url.set_query(Some(&format!(
                "ids={}&vs_currencies=usd&include_24hr_change=true&include_last_updated_at=true",
                ids.join(",")
            )));
            let body = self.http.get_json(url, self.headers.clone()).await?;
            parse_simple_price(&body, coins)
        })
    }

    fn history<'a>(&'a self, coin: &'a CoinId, days: u32) -> BoxFuture<'a, Result<Vec<PricePoint>, ProviderError>> {
        Box::pin(async move {
            let mut url = endpoint(&self.base_url, &["coins", coin.as_str(), "market_chart"])?;
            url.set_query(Some(&format!("vs_currency=usd&days={days}")));
            let body = self.http.get_json(url, self.headers.clone()).await?;
            parse_market_chart(&body)
        })
    }
}

/// Reads a `simple/price` response; each requested coin is used or rejected on its own.
pub fn parse_simple_price(body: &Value, coins: &[CoinId]) -> Result<Prices, ProviderError> {
    let Some(by_id) = body.as_object() else {
        return Err(ProviderError::Malformed("expected a JSON object keyed by coin id".into()));
    };
    let mut prices = Prices::default();
    for coin in coins {
        let reject = |reason: String| Rejection { coin: coin.clone(), reason };
        let Some(entry) = by_id.get(coin.as_str()) else {
            prices.rejected.push(reject("missing from the response".into()));
            continue;
        };
        let Some(usd) = entry.get("usd").and_then(Value::as_f64) else {
            prices.rejected.push(reject(format!("no numeric usd price in {}", abbreviate(entry))));
            continue;
        };
        let (change_24h, provider_stale) = match entry.get("usd_24h_change") {
            Some(Value::Number(n)) => (n.as_f64(), false),
            Some(Value::Null) | None => (None, true),
            Some(other) => {
                prices.rejected.push(reject(format!("usd_24h_change {} is not a number", abbreviate(other))));
                continue;
            }
        };
        if let Err(reason) = check_observation(usd, change_24h) {
            prices.rejected.push(reject(reason));
            continue;
        }
        let provider_updated_at = entry.get("last_updated_at").and_then(Value::as_i64).filter(|t| *t > 0);
        prices.observations.push(Observation {
            coin: coin.clone(),
            usd,
            change_24h,
            provider_stale,
            provider_updated_at,
        });
    }
    Ok(prices)
}

/// Reads a `market_chart` response into checked points, oldest first.
pub fn parse_market_chart(body: &Value) -> Result<Vec<PricePoint>, ProviderError> {
    let Some(pairs) = body.get("prices").and_then(Value::as_array) else {
        return Err(ProviderError::Malformed("expected {\"prices\": [[ms, price], …]}".into()));
    };
    let mut points: Vec<PricePoint> = pairs
        .iter()
        .filter_map(|pair| {
            let at_ms = pair.get(0)?.as_f64()?;
            let usd = pair.get(1)?.as_f64()?;
            check_observation(usd, None).ok()?;
            (at_ms.is_finite() && at_ms > 0.0).then(|| PricePoint { at: (at_ms / 1000.0) as i64, usd })
        })
        .collect();
    points.sort_by_key(|p| p.at);
    Ok(points)
}

/// A short rendering of a JSON value for log messages.
fn abbreviate(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<CoinId> {
        list.iter().map(|id| CoinId::parse(id).unwrap()).collect()
    }

    #[test]
    fn each_coin_is_used_or_rejected_on_its_own() {
        let body = serde_json::json!({
            "bitcoin": {"usd": 91234.12, "usd_24h_change": 1.84, "last_updated_at": 1795696782},
            "ethereum": {"usd": -5.0, "usd_24h_change": 1.0},
            "neo": {"usd": "NaN", "usd_24h_change": 1.0},
            "waves": {"usd": 0.98, "usd_24h_change": null},
            "monero": {"usd": 1e15, "usd_24h_change": 0.5},
            "nano": {"usd": 0.87, "usd_24h_change": "up"},
        });
        let prices =
            parse_simple_price(&body, &ids(&["bitcoin", "ethereum", "neo", "waves", "monero", "nano", "ark"])).unwrap();
        let used: Vec<&str> = prices.observations.iter().map(|o| o.coin.as_str()).collect();
        assert_eq!(used, ["bitcoin", "waves"]);
        assert_eq!(prices.observations[0].provider_updated_at, Some(1795696782));
        assert!(!prices.observations[0].provider_stale);
        assert!(prices.observations[1].provider_stale && prices.observations[1].change_24h.is_none());
        let rejected: Vec<&str> = prices.rejected.iter().map(|r| r.coin.as_str()).collect();
        assert_eq!(rejected, ["ethereum", "neo", "monero", "nano", "ark"]);
        assert!(prices.rejected[4].reason.contains("missing"));
    }

    #[test]
    fn a_response_that_is_not_an_object_is_malformed() {
        assert!(matches!(
            parse_simple_price(&serde_json::json!([1, 2]), &ids(&["bitcoin"])),
            Err(ProviderError::Malformed(_))
        ));
        assert!(matches!(parse_market_chart(&serde_json::json!({"error": "x"})), Err(ProviderError::Malformed(_))));
    }

    #[test]
    fn market_chart_points_are_checked_and_sorted() {
        let body = serde_json::json!({"prices": [[1795600000000u64, 2.0], [1795596400000u64, 1.0], [1795603600000u64, -1.0], ["x", 3.0]]});
        let points = parse_market_chart(&body).unwrap();
        assert_eq!(points, vec![PricePoint { at: 1795596400, usd: 1.0 }, PricePoint { at: 1795600000, usd: 2.0 }]);
    }
}
