//! Price providers: the interface the poll uses, and the one guarded way they reach the network.
//!
//! Every request goes through [`HttpFetch`]: to a URL built from a configured base URL and a
//! validated coin id (never from user input), without following redirects, with a 5 s timeout
//! for the whole exchange and a 1 MiB cap on the body, read as a stream and abandoned at the cap.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::config::market::CoinId;
use crate::config::market::MarketConfig;
use crate::http::outbound::{self, BodyError};
use crate::market::model::{Observation, PricePoint, Rejection};
use crate::market::{coincap, coingecko};

/// Longest a request may take, connection to last byte.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Largest response body read; a larger one is abandoned and the response rejected.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The longest `Retry-After` honoured; a larger one is clamped to this.
pub const MAX_RETRY_AFTER_SECS: i64 = 86_400;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A source of coin prices. Implementations turn one API's responses into checked values;
/// tests may substitute their own.
pub trait PriceProvider: Send + Sync {
    /// The name used in the configuration and stored as a price's source.
    fn name(&self) -> &'static str;

    /// Current USD prices and 24 h changes of `coins`, in one request. Coins the response
    /// lacks or gives unusable values for are listed in [`Prices::rejected`]; an error means the
    /// response as a whole was unusable.
    fn prices<'a>(&'a self, coins: &'a [CoinId]) -> BoxFuture<'a, Result<Prices, ProviderError>>;

    /// USD prices of `coin` over the last `days` days, oldest first; bad points are dropped.
    fn history<'a>(&'a self, coin: &'a CoinId, days: u32) -> BoxFuture<'a, Result<Vec<PricePoint>, ProviderError>>;
}

/// What one price request gave.
#[derive(Debug, Default)]
pub struct Prices {
    pub observations: Vec<Observation>,
    pub rejected: Vec<Rejection>,
}

/// Why a whole response could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// 429 Too Many Requests, with the wait the provider asked for.
    #[error("rate limited (HTTP 429{})", retry_note(*.retry_after))]
    RateLimited { retry_after: Option<i64> },
    #[error("server error (HTTP {status}{})", retry_note(*.retry_after))]
    Server { status: u16, retry_after: Option<i64> },
    /// Any other non-success status, redirects included (they are never followed).
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    #[error("no complete response within {} s", TIMEOUT.as_secs())]
    Timeout,
    #[error("response larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error("malformed response: {0}")]
    Malformed(String),
    #[error("request failed: {0}")]
    Transport(String),
}

fn retry_note(retry_after: Option<i64>) -> String {
    retry_after.map(|secs| format!(", retry after {secs} s")).unwrap_or_default()
}

impl ProviderError {
    /// The wait the provider asked for with `Retry-After`, in seconds.
    pub fn retry_after(&self) -> Option<i64> {
        match self {
            ProviderError::RateLimited { retry_after } | ProviderError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub fn is_rate_limit(&self) -> bool {
        matches!(self, ProviderError::RateLimited { .. })
    }
}

/// The outbound HTTP client shared by the providers.
#[derive(Clone)]
pub struct HttpFetch {
    client: reqwest::Client,
}

impl HttpFetch {
    pub fn new() -> anyhow::Result<HttpFetch> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("OpenVoice/", env!("CARGO_PKG_VERSION"), " (price widgets)"))
            .build()?;
        Ok(HttpFetch { client })
    }

    /// GETs `url` and parses the body as JSON, within the time and size limits.
    pub async fn get_json(&self, url: Url, headers: HeaderMap) -> Result<serde_json::Value, ProviderError> {
        let response = self
            .client
            .get(url)
            .headers(headers)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ProviderError::RateLimited { retry_after: retry_after(response.headers()) });
        }
        if status.is_server_error() {
            return Err(ProviderError::Server {
                status: status.as_u16(),
                retry_after: retry_after(response.headers()),
            });
        }
        if !status.is_success() {
            return Err(ProviderError::Status(status.as_u16()));
        }
        let body = outbound::read_capped(response, MAX_BODY_BYTES).await.map_err(|err| match err {
            BodyError::TooLarge(_) => ProviderError::TooLarge,
            BodyError::Transport(err) => transport_error(err),
        })?;
        serde_json::from_slice(&body).map_err(|err| ProviderError::Malformed(err.to_string()))
    }
}

fn transport_error(err: reqwest::Error) -> ProviderError {
    if err.is_timeout() {
        return ProviderError::Timeout;
    }
    // reqwest's own message omits the cause ("connection refused", "unexpected EOF").
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ProviderError::Transport(message)
}

/// `Retry-After` as seconds from now: delta-seconds or an HTTP date, clamped to a day.
fn retry_after(headers: &HeaderMap) -> Option<i64> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs = match text.parse::<i64>() {
        Ok(secs) => secs,
        Err(_) => {
            let at = httpdate::parse_http_date(text).ok()?;
            match at.duration_since(std::time::SystemTime::now()) {
                Ok(wait) => wait.as_secs() as i64,
                Err(_) => 0,
            }
        }
    };
    Some(secs.clamp(0, MAX_RETRY_AFTER_SECS))
}

/// `base` with `segments` appended to its path.
pub fn endpoint(base: &str, segments: &[&str]) -> Result<Url, ProviderError> {
    let mut url = Url::parse(base).map_err(|err| ProviderError::Transport(format!("base URL {base:?}: {err}")))?;
    url.path_segments_mut()
        .map_err(|()| ProviderError::Transport(format!("base URL {base:?} cannot take a path")))?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The configured providers, the first one asked first.
#[derive(Clone)]
pub struct Providers {
    pub primary: Arc<dyn PriceProvider>,
    pub fallback: Option<Arc<dyn PriceProvider>>,
}

impl Providers {
    /// Builds the providers named by `market.provider` and `market.fallback_provider`.
    pub fn from_config(config: &MarketConfig) -> anyhow::Result<Providers> {
        let http = HttpFetch::new()?;
        let build = |name: &str| -> anyhow::Result<Arc<dyn PriceProvider>> {
            match name {
                "coingecko" => Ok(Arc::new(coingecko::CoinGecko::new(http.clone(), config)?)),
                "coincap" => Ok(Arc::new(coincap::CoinCap::new(http.clone(), config)?)),
                other => anyhow::bail!("unknown price provider {other:?}"),
            }
        };
        let primary = build(&config.provider)?;
        let fallback = match config.fallback_provider.as_str() {
            "" => None,
            name => Some(build(name)?),
        };
        Ok(Providers { primary, fallback })
    }

    /// Primary first, then the fallback.
    pub fn in_order(&self) -> impl Iterator<Item = &Arc<dyn PriceProvider>> {
        std::iter::once(&self.primary).chain(self.fallback.as_ref())
    }
}

/// A JSON number, or a string holding one (CoinCap sends numbers as strings).
pub fn number(value: &serde_json::Value) -> Option<f64> {
    match value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(120));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("99999999"));
        assert_eq!(retry_after(&headers), Some(MAX_RETRY_AFTER_SECS));
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(600));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let secs = retry_after(&headers).unwrap();
        assert!((595..=600).contains(&secs), "{secs}");
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn endpoints_stay_below_the_base_url() {
        let url = endpoint("https://api.coingecko.com/api/v3/", &["simple", "price"]).unwrap();
        assert_eq!(url.as_str(), "https://api.coingecko.com/api/v3/simple/price");
        let url = endpoint("http://127.0.0.1:9/v3", &["coins", "pirate-chain", "market_chart"]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9/v3/coins/pirate-chain/market_chart");
    }
}
