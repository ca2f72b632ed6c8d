//! The `[market]` section of the configuration and its start-up checks.
//!
//! Every key has an environment variable like any other (`OPENVOICE_MARKET_ENABLED=false`);
//! `market.coins` is a list, given in the file as a TOML array or in the environment as a
//! comma-separated list (`OPENVOICE_MARKET_COINS=bitcoin,monero`).

use super::check_range;
use std::fmt;

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// Names of the providers this build knows, as used in `market.provider`,
/// `market.fallback_provider` and `market.token_price_source`.
pub const PROVIDERS: [&str; 2] = ["coingecko", "coincap"];

/// At most this many coins: they all go into one request URL.
pub const MAX_COINS: usize = 50;

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// The price widgets, `/prices`, `/api/prices` and the background polling; false turns all off.
    pub enabled: bool,
    /// CoinGecko ids of the coins in "Latest Market Prices", in display order.
    pub coins: Vec<String>,
    /// Seconds between polls. One poll is one request for all coins; CoinGecko's free tier
    /// allows about 30 calls a minute and 10,000 a month (a poll every 300 s is ~8,600).
    pub poll_interval_secs: i64,
    /// A price not refreshed for this long (at the last poll) is shown as stale.
    pub stale_after_secs: i64,
    /// The provider asked first: `coingecko` or `coincap`.
    pub provider: String,
    /// The provider asked for whatever the first could not give; empty for none.
    pub fallback_provider: String,
    /// CoinGecko API root; only URLs below it are requested.
    pub coingecko_base_url: String,
    /// Secret: sent in `coingecko_api_key_header` when not empty.
    pub coingecko_api_key: String,
    /// `x-cg-demo-api-key` for a demo key, `x-cg-pro-api-key` (with the pro base URL) for a paid one.
    pub coingecko_api_key_header: String,
    /// CoinCap API root; only URLs below it are requested.
    pub coincap_base_url: String,
    /// Secret: sent as `Authorization: Bearer …` when not empty (CoinCap v3 requires one).
    pub coincap_api_key: String,
    /// The site's own token, shown in the `site-token` widget.
    pub token_name: String,
    pub token_symbol: String,
    /// Path of the token's logo under the theme's `static/`; empty for a lettered badge.
    pub token_logo: String,
    /// `fixed` (the owner's `token_fixed_price`) or a provider name (`coingecko`, `coincap`)
    /// that is asked for `token_coin_id` at each poll.
    pub token_price_source: String,
    /// The token's id at `token_price_source`; unused for `fixed`.
    pub token_coin_id: String,
    /// USD price shown when `token_price_source = "fixed"`; 0 shows "$0.00".
    pub token_fixed_price: f64,
}

impl Default for MarketConfig {
    fn default() -> Self {
        MarketConfig {
            enabled: true,
            coins: [
                "bitcoin",
                "ethereum",
                "neo",
                "waves",
                "monero",
                "nano",
                "ark",
                "pirate-chain",
                "dogecoin",
                "litecoin",
                "cardano",
            ]
            .map(String::from)
            .to_vec(),
            poll_interval_secs: 300,
            stale_after_secs: 1800,
            provider: "coingecko".into(),
            fallback_provider: "coincap".into(),
            coingecko_base_url: "https://api.coingecko.com/api/v3".into(),
            coingecko_api_key: String::new(),
            coingecko_api_key_header: "x-cg-demo-api-key".into(),
            coincap_base_url: "https://rest.coincap.io/v3".into(),
            coincap_api_key: String::new(),
            token_name: "OpenVoiceCoin".into(),
            token_symbol: "OPENVC".into(),
            token_logo: "coins/openvoicecoin.svg".into(),
            token_price_source: "fixed".into(),
            token_coin_id: String::new(),
            token_fixed_price: 0.0,
        }
    }
}

/// Where the site token's price comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    /// Set by the owner.
    Fixed(f64),
    /// Polled from the named provider under this id.
    Provider { provider: &'static str, coin: CoinId },
}

impl MarketConfig {
    /// Checks every key, naming the first bad one. Runs at start-up, also when `enabled` is
    /// false, so a mistake shows before someone turns the widgets on.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.coins.len() > MAX_COINS {
            bail!("key `market.coins`: {} coins, expected at most {MAX_COINS}", self.coins.len());
        }
        for (n, id) in self.coins.iter().enumerate() {
            if let Err(why) = CoinId::parse(id) {
                bail!("key `market.coins`: invalid coin id {id:?} (item {}): {why}", n + 1);
            }
            if self.coins[..n].contains(id) {
                bail!("key `market.coins`: coin id {id:?} is listed twice");
            }
        }
        check_range("market.poll_interval_secs", self.poll_interval_secs, 30, 86_400)?;
        check_range("market.stale_after_secs", self.stale_after_secs, 60, 30 * 86_400)?;
        if self.stale_after_secs < self.poll_interval_secs {
            bail!(
                "key `market.stale_after_secs`: {} is shorter than market.poll_interval_secs ({}), so every price would show as stale between polls",
                self.stale_after_secs,
                self.poll_interval_secs
            );
        }
        if provider_name(&self.provider).is_none() {
            bail!(
                "key `market.provider`: unknown provider {:?}, expected one of {}",
                self.provider,
                PROVIDERS.join(", ")
            );
        }
        if !self.fallback_provider.is_empty() {
            if provider_name(&self.fallback_provider).is_none() {
                bail!(
                    "key `market.fallback_provider`: unknown provider {:?}, expected one of {} or empty",
                    self.fallback_provider,
                    PROVIDERS.join(", ")
                );
            }
            if self.fallback_provider == self.provider {
                bail!("key `market.fallback_provider`: {:?} is already market.provider", self.fallback_provider);
            }
        }
        check_base_url("market.coingecko_base_url", &self.coingecko_base_url)?;
        check_base_url("market.coincap_base_url", &self.coincap_base_url)?;
        if reqwest::header::HeaderName::from_bytes(self.coingecko_api_key_header.as_bytes()).is_err() {
            bail!(
                "key `market.coingecko_api_key_header`: invalid value {:?}, expected an HTTP header name",
                self.coingecko_api_key_header
            );
        }
        for (key, secret) in
            [("market.coingecko_api_key", &self.coingecko_api_key), ("market.coincap_api_key", &self.coincap_api_key)]
        {
            if reqwest::header::HeaderValue::from_str(secret).is_err() {
                bail!("key `{key}`: the value is not a valid HTTP header value (control characters?)");
            }
        }
        check_text("market.token_name", &self.token_name, 1, 60)?;
        check_text("market.token_symbol", &self.token_symbol, 1, 12)?;
        if !self.token_logo.is_empty() && !is_static_path(&self.token_logo) {
            bail!(
                "key `market.token_logo`: invalid value {:?}, expected a path under the theme's static/ folder such as coins/openvoicecoin.svg, or empty",
                self.token_logo
            );
        }
        if !(self.token_fixed_price.is_finite() && (0.0..=1e9).contains(&self.token_fixed_price)) {
            bail!(
                "key `market.token_fixed_price`: invalid value {}, expected a number from 0 to 1e9",
                self.token_fixed_price
            );
        }
        match self.token_price_source.as_str() {
            "fixed" => {}
            source => {
                if provider_name(source).is_none() {
                    bail!(
                        "key `market.token_price_source`: unknown source {source:?}, expected fixed or one of {}",
                        PROVIDERS.join(", ")
                    );
                }
                if source != self.provider && source != self.fallback_provider {
                    bail!("key `market.token_price_source`: provider {source:?} is neither market.provider nor market.fallback_provider");
                }
                if let Err(why) = CoinId::parse(&self.token_coin_id) {
                    bail!(
                        "key `market.token_coin_id`: invalid coin id {:?} for token_price_source {source:?}: {why}",
                        self.token_coin_id
                    );
                }
            }
        }
        Ok(())
    }

    /// The configured coins. Call after [`MarketConfig::validate`]; invalid ids are skipped.
    pub fn coin_ids(&self) -> Vec<CoinId> {
        self.coins.iter().filter_map(|id| CoinId::parse(id).ok()).collect()
    }

    /// Where the token's price comes from (after validation).
    pub fn token_source(&self) -> TokenSource {
        match (provider_name(&self.token_price_source), CoinId::parse(&self.token_coin_id)) {
            (Some(provider), Ok(coin)) => TokenSource::Provider { provider, coin },
            _ => TokenSource::Fixed(self.token_fixed_price),
        }
    }

    /// A copy with the API keys replaced by `****`, for `openvoice config` and `Debug`.
    pub fn masked(&self) -> MarketConfig {
        let mut shown = self.clone();
        for secret in [&mut shown.coingecko_api_key, &mut shown.coincap_api_key] {
            if !secret.is_empty() {
                *secret = "****".into();
            }
        }
        shown
    }
}

impl std::fmt::Debug for MarketConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = self.masked();
        f.debug_struct("MarketConfig")
            .field("enabled", &shown.enabled)
            .field("coins", &shown.coins)
            .field("poll_interval_secs", &shown.poll_interval_secs)
            .field("stale_after_secs", &shown.stale_after_secs)
            .field("provider", &shown.provider)
            .field("fallback_provider", &shown.fallback_provider)
            .field("coingecko_base_url", &shown.coingecko_base_url)
            .field("coingecko_api_key", &shown.coingecko_api_key)
            .field("coingecko_api_key_header", &shown.coingecko_api_key_header)
            .field("coincap_base_url", &shown.coincap_base_url)
            .field("coincap_api_key", &shown.coincap_api_key)
            .field("token_name", &shown.token_name)
            .field("token_symbol", &shown.token_symbol)
            .field("token_logo", &shown.token_logo)
            .field("token_price_source", &shown.token_price_source)
            .field("token_coin_id", &shown.token_coin_id)
            .field("token_fixed_price", &shown.token_fixed_price)
            .finish()
    }
}

/// The canonical `'static` name of a known provider.
pub fn provider_name(name: &str) -> Option<&'static str> {
    PROVIDERS.into_iter().find(|known| *known == name)
}

fn check_text(key: &str, value: &str, min: usize, max: usize) -> anyhow::Result<()> {
    let n = value.chars().count();
    if n < min || n > max || value.chars().any(char::is_control) {
        bail!("key `{key}`: invalid value {value:?}, expected {min} to {max} printable characters");
    }
    Ok(())
}

fn check_base_url(key: &str, value: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(value);
    let ok = parsed.as_ref().is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host_str().is_some()
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none()
    });
    if !ok {
        bail!("key `{key}`: invalid value {value:?}, expected an http:// or https:// URL without query, fragment or credentials");
    }
    Ok(())
}

/// `coins/logo.svg`: lowercase-ish path segments, no `..`, an image extension.
fn is_static_path(path: &str) -> bool {
    let segments_ok = path.split('/').all(|segment| {
        !segment.is_empty()
            && !segment.starts_with('.')
            && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    });
    let image = [".svg", ".png", ".webp", ".jpg"].iter().any(|ext| path.ends_with(ext));
    segments_ok && image && path.len() <= 200
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_name_the_eleven_coins() {
        let config = MarketConfig::default();
        config.validate().unwrap();
        assert_eq!(config.coin_ids().len(), 11);
        assert_eq!(config.token_source(), TokenSource::Fixed(0.0));
    }

    #[test]
    fn errors_name_the_key() {
        let check = |edit: &dyn Fn(&mut MarketConfig), key: &str| {
            let mut config = MarketConfig::default();
            edit(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{err}");
        };
        check(&|c| c.coins.push("Bit Coin".into()), "market.coins");
        check(&|c| c.coins.push("bitcoin".into()), "market.coins");
        check(&|c| c.provider = "coinbase".into(), "market.provider");
        check(&|c| c.fallback_provider = "kraken".into(), "market.fallback_provider");
        check(&|c| c.fallback_provider = "coingecko".into(), "market.fallback_provider");
        check(&|c| c.token_price_source = "oracle".into(), "market.token_price_source");
        check(&|c| c.token_price_source = "coingecko".into(), "market.token_coin_id");
        check(&|c| c.coingecko_base_url = "ftp://example.org".into(), "market.coingecko_base_url");
        check(&|c| c.coincap_base_url = "https://user:pw@example.org".into(), "market.coincap_base_url");
        check(&|c| c.token_logo = "../secret.svg".into(), "market.token_logo");
        check(&|c| c.token_fixed_price = -1.0, "market.token_fixed_price");
        check(&|c| c.poll_interval_secs = 1, "market.poll_interval_secs");
        check(&|c| c.stale_after_secs = 120, "market.stale_after_secs");
    }

    #[test]
    fn api_keys_are_masked() {
        let config = MarketConfig { coingecko_api_key: "CG-s3cret".into(), ..MarketConfig::default() };
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(config.masked().coingecko_api_key, "****");
        assert_eq!(config.masked().coincap_api_key, "");
    }
}

/// A CoinGecko-style coin id: lowercase ASCII letters, digits and `-`, 1 to 64 characters.
/// Safe to put in a URL path or query as is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CoinId(String);

impl CoinId {
    pub fn parse(raw: &str) -> Result<CoinId, &'static str> {
        if raw.is_empty() || raw.len() > 64 {
            return Err("expected 1 to 64 characters");
        }
        if !raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err("expected lowercase letters, digits and '-'");
        }
        if raw.starts_with('-') || raw.ends_with('-') {
            return Err("expected a letter or digit at each end");
        }
        Ok(CoinId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CoinId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
