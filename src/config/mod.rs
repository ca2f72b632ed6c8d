//! Typed configuration, read once at start-up.
//!
//! Precedence, lowest first: built-in defaults, `<data>/openvoice.toml`, `OPENVOICE_*`
//! environment variables (`OPENVOICE_SITE_TITLE` sets `site.title`), command-line flags.
//! Every leaf key of [`Config`] has an environment variable; its value is parsed as the type of
//! the key, and any invalid value is reported with the key, the value and what was expected.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

pub mod accounts;
pub mod activitypub;
pub mod analytics;
pub mod comments;
pub mod ipfs;
pub mod mail;
pub mod market;
pub mod media;
pub mod subscriptions;

/// The whole configuration. Field docs are shown by `openvoice config`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: String,
    /// `sqlite://…` or `postgres://…`; empty means the embedded SQLite file in the data folder.
    pub database_url: String,
    pub site: SiteConfig,
    pub http: HttpConfig,
    pub content: ContentConfig,
    pub jobs: JobsConfig,
    /// Price widgets and polling (`config::market`).
    pub market: market::MarketConfig,
    /// Reader comments: threads, moderation rules, spam defences (`config::comments`).
    pub comments: comments::CommentsConfig,
    /// IPFS gateways shown on articles and pinning targets (`config::ipfs`).
    pub ipfs: ipfs::IpfsConfig,
    /// Outgoing mail: `.eml` files or SMTP, the outbox's batches, retries and bounces (`config::mail`).
    pub mail: mail::MailConfig,
    /// "Subscribe to Blog via Email": article mail, digests, confirmation links (`config::subscriptions`).
    pub subscriptions: subscriptions::SubscriptionsConfig,
    /// Admin sessions, login throttling and password resets (`config::accounts`).
    pub accounts: accounts::AccountsConfig,
    /// The media library's upload and decoding limits (`config::media`).
    pub media: media::MediaConfig,
    /// Private page-view counts (`config::analytics`).
    pub analytics: analytics::AnalyticsConfig,
    /// The site actor the fediverse follows (`config::activitypub`).
    pub activitypub: activitypub::ActivityPubConfig,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    pub title: String,
    pub tagline: String,
    /// Public URL used in canonical links and feeds; empty means `http://<listen>`.
    pub base_url: String,
    /// BCP 47 language tag for `<html lang>` and feeds.
    pub language: String,
    /// IANA time zone (`Europe/Berlin`) in which pages show dates and times; feeds use UTC.
    pub time_zone: String,
    /// Sidebar widgets shown, by slot name: `site-token`, `market-prices`, `subscribe`.
    pub widgets: Vec<String>,
}

/// The sidebar slots the built-in theme fills (`site.widgets`).
pub const WIDGETS: [&str; 3] = ["site-token", "market-prices", "subscribe"];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// A request taking longer is answered with 503.
    pub request_timeout_secs: u64,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// Requests handled at once; excess ones get 503 with `Retry-After` instead of queueing.
    pub max_concurrency: usize,
    /// Rendered pages kept in memory per node.
    pub page_cache_entries: usize,
    /// How long a cached article page may keep showing out-of-date links to its neighbours
    /// after another article is published, edited or taken down (its own changes and its
    /// comments show at once). Longer keeps more pages cached on a busy site.
    pub other_articles_lag_secs: u64,
    /// The site is served over HTTPS by a TLS-terminating proxy in front of it: session
    /// cookies get `Secure` and every response `Strict-Transport-Security`.
    pub behind_tls: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContentConfig {
    /// Articles per listing page.
    pub per_page: u32,
    /// Largest accepted Markdown body of one article, in bytes.
    pub max_article_bytes: usize,
    /// Searches one client may make at once, then `search_per_minute`: each search ranks up to
    /// 500 articles, the dearest page a reader can ask for.
    pub search_burst: u32,
    pub search_per_minute: u32,
    /// oEmbed endpoints by provider (`YouTube`, `Vimeo`, `X`, `Mastodon`): the server asks them
    /// for the title and author of an embedded link, shown on its click-to-load placeholder.
    /// Empty by default: then the site asks nobody.
    pub oembed_endpoints: BTreeMap<String, String>,
}

/// The providers whose links are shown as click-to-load embeds (`content::embeds`), by the names
/// `content.oembed_endpoints` is keyed by.
pub const EMBED_PROVIDERS: [&str; 4] = ["YouTube", "Vimeo", "X", "Mastodon"];

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// How often an idle worker looks for due jobs.
    pub poll_interval_ms: u64,
    /// How long a claimed job stays leased before another node may retry it.
    pub lease_secs: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            database_url: String::new(),
            site: SiteConfig::default(),
            http: HttpConfig::default(),
            content: ContentConfig::default(),
            jobs: JobsConfig::default(),
            market: Default::default(),
            comments: Default::default(),
            ipfs: Default::default(),
            mail: Default::default(),
            subscriptions: Default::default(),
            accounts: Default::default(),
            media: Default::default(),
            analytics: Default::default(),
            activitypub: Default::default(),
        }
    }
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            title: "OpenVoice".into(),
            tagline: "Independent news, published everywhere".into(),
            base_url: String::new(),
            language: "en".into(),
            time_zone: "UTC".into(),
            widgets: WIDGETS.map(String::from).to_vec(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            request_timeout_secs: 30,
            max_body_bytes: 2 * 1024 * 1024,
            max_concurrency: 1024,
            page_cache_entries: 2048,
            other_articles_lag_secs: 60,
            behind_tls: false,
        }
    }
}

impl Default for ContentConfig {
    fn default() -> Self {
        ContentConfig {
            per_page: 10,
            max_article_bytes: 1024 * 1024,
            search_burst: 20,
            search_per_minute: 60,
            oembed_endpoints: BTreeMap::new(),
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig { poll_interval_ms: 1000, lease_secs: 300 }
    }
}

/// Values given on the command line (clap already folded in their own env variables).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database_url: Option<String>,
}

impl Config {
    /// Loads defaults ← `<data>/openvoice.toml` ← `OPENVOICE_*` env ← flags, then validates.
    pub fn load(data_dir: &Path, overrides: &Overrides) -> anyhow::Result<Config> {
        let path = data_dir.join("openvoice.toml");
        let file_text = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        };
        let env: BTreeMap<String, String> = std::env::vars().filter(|(k, _)| k.starts_with("OPENVOICE_")).collect();
        Config::from_sources(file_text.as_deref(), &env, overrides)
            .with_context(|| format!("invalid configuration (file {})", path.display()))
    }

    /// The pure part of [`Config::load`], testable without files or process environment.
    pub fn from_sources(
        file_text: Option<&str>,
        env: &BTreeMap<String, String>,
        overrides: &Overrides,
    ) -> anyhow::Result<Config> {
        let defaults = toml::Value::try_from(Config::default()).context("serialising defaults")?;
        let mut merged = defaults.clone();
        if let Some(text) = file_text {
            let file: toml::Value = toml::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
            merge(&mut merged, file);
        }
        for (key, default) in leaves(&defaults) {
            let var = env_name(&key);
            let Some(raw) = env.get(&var) else { continue };
            let value = parse_like(default, raw).map_err(|expected| {
                anyhow::anyhow!("{var} (key `{key}`): invalid value {raw:?}, expected {expected}")
            })?;
            set_leaf(&mut merged, &key, value);
        }
        if let Some(listen) = &overrides.listen {
            set_leaf(&mut merged, "listen", toml::Value::String(listen.clone()));
        }
        if let Some(url) = &overrides.database_url {
            set_leaf(&mut merged, "database_url", toml::Value::String(url.clone()));
        }
        let config: Config = serde_path_to_error::deserialize(merged)
            .map_err(|err| anyhow::anyhow!("key `{}`: {}", err.path(), err.inner()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every key, naming the first bad one.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.listen.parse::<SocketAddr>().is_err() {
            bail!("key `listen`: invalid value {:?}, expected an address like 127.0.0.1:8080", self.listen);
        }
        let url = &self.database_url;
        if !(url.is_empty()
            || url.starts_with("sqlite:")
            || url.starts_with("postgres:")
            || url.starts_with("postgresql:"))
        {
            bail!("key `database_url`: invalid value {:?}, expected sqlite://… or postgres://…", mask_url(url));
        }
        let base = &self.site.base_url;
        if !(base.is_empty() || base.starts_with("http://") || base.starts_with("https://")) {
            bail!("key `site.base_url`: invalid value {base:?}, expected an http:// or https:// URL");
        }
        self.site.validate()?;
        check_range("content.per_page", self.content.per_page as u64, 1, 100)?;
        check_range("content.max_article_bytes", self.content.max_article_bytes as u64, 1024, 64 << 20)?;
        check_range("content.search_burst", self.content.search_burst, 1, 1_000_000_000)?;
        check_range("content.search_per_minute", self.content.search_per_minute, 1, 1_000_000_000)?;
        for (provider, endpoint) in &self.content.oembed_endpoints {
            if !EMBED_PROVIDERS.contains(&provider.as_str()) {
                let known = EMBED_PROVIDERS.join(", ");
                bail!("key `content.oembed_endpoints.{provider}`: unknown provider, expected one of {known}");
            }
            let url = reqwest::Url::parse(endpoint).ok().filter(|u| matches!(u.scheme(), "http" | "https"));
            if url.is_none() {
                bail!("key `content.oembed_endpoints.{provider}`: invalid value {endpoint:?}, expected an http(s) URL");
            }
        }
        check_range("http.max_body_bytes", self.http.max_body_bytes as u64, 1024, 1 << 30)?;
        check_range("http.max_concurrency", self.http.max_concurrency as u64, 1, 1_000_000)?;
        check_range("http.other_articles_lag_secs", self.http.other_articles_lag_secs, 0, 3600)?;
        check_range("http.request_timeout_secs", self.http.request_timeout_secs, 1, 3600)?;
        check_range("jobs.poll_interval_ms", self.jobs.poll_interval_ms, 10, 3_600_000)?;
        check_range("jobs.lease_secs", self.jobs.lease_secs.max(0) as u64, 5, 86_400)?;
        self.market.validate()?;
        self.comments.validate()?;
        self.ipfs.validate()?;
        self.mail.validate()?;
        self.subscriptions.validate()?;
        self.accounts.validate()?;
        self.media.validate()?;
        self.analytics.validate()?;
        self.activitypub.validate()?;
        Ok(())
    }

    pub fn listen_addr(&self) -> SocketAddr {
        // Validated in `validate`.
        self.listen.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    /// The public base URL without a trailing slash.
    pub fn base_url(&self) -> String {
        if self.site.base_url.is_empty() {
            format!("http://{}", self.listen)
        } else {
            self.site.base_url.trim_end_matches('/').to_string()
        }
    }

    /// The effective configuration as TOML, with secrets masked.
    pub fn to_masked_toml(&self) -> String {
        let mut shown = self.clone();
        shown.database_url = mask_url(&shown.database_url);
        shown.market = shown.market.masked();
        shown.ipfs = shown.ipfs.masked();
        shown.mail = shown.mail.masked();
        toml::to_string(&shown).unwrap_or_default()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &mask_url(&self.database_url))
            .field("site", &self.site)
            .field("http", &self.http)
            .field("content", &self.content)
            .field("jobs", &self.jobs)
            .field("market", &self.market)
            .field("comments", &self.comments)
            .field("ipfs", &self.ipfs)
            .field("mail", &self.mail)
            .field("subscriptions", &self.subscriptions)
            .field("accounts", &self.accounts)
            .field("media", &self.media)
            .field("analytics", &self.analytics)
            .field("activitypub", &self.activitypub)
            .finish()
    }
}

/// Hides the password in `scheme://user:password@host/…`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let Some((userinfo, host)) = rest.split_once('@') else { return url.to_string() };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:****@{host}"),
        None => url.to_string(),
    }
}

/// The data folder: `--data`, then `OPENVOICE_DATA`, then `./openvoice-data`.
pub fn ensure_data_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating data folder {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

impl SiteConfig {
    fn validate(&self) -> anyhow::Result<()> {
        for (key, value, max) in [("site.title", &self.title, 200), ("site.tagline", &self.tagline, 300)] {
            if value.chars().count() > max || value.chars().any(char::is_control) {
                bail!("key `{key}`: invalid value {value:?}, expected at most {max} characters on one line");
            }
        }
        if self.title.trim().is_empty() {
            bail!("key `site.title`: empty, expected the site's name");
        }
        // BCP 47, loosely: a 2–3 letter language, then 1–8 character subtags (`en`, `pt-BR`, `zh-Hant-TW`).
        let mut parts = self.language.split('-');
        let primary_ok =
            parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()));
        if !primary_ok || !parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric())) {
            bail!(
                "key `site.language`: invalid value {:?}, expected a language tag such as en, de or pt-BR",
                self.language
            );
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            bail!(
                "key `site.time_zone`: unknown time zone {:?}, expected an IANA name such as UTC, Europe/Berlin or America/New_York",
                self.time_zone
            );
        }
        for widget in &self.widgets {
            if !WIDGETS.contains(&widget.as_str()) {
                bail!("key `site.widgets`: unknown widget {widget:?}, expected some of {}", WIDGETS.join(", "));
            }
        }
        Ok(())
    }
}

/// `base` with `overrides` (dotted keys, as in `site.title`) set, validated: how the settings
/// saved in the admin are laid over the configuration file.
pub fn with_overrides<'a>(
    base: &Config,
    overrides: impl IntoIterator<Item = (&'a str, &'a toml::Value)>,
) -> anyhow::Result<Config> {
    let mut merged = toml::Value::try_from(base).context("serialising the configuration")?;
    for (key, value) in overrides {
        set_leaf(&mut merged, key, value.clone());
    }
    let config: Config = serde_path_to_error::deserialize(merged)
        .map_err(|err| anyhow::anyhow!("key `{}`: {}", err.path(), err.inner()))?;
    config.validate()?;
    Ok(config)
}

/// `value` of `key` must lie in `min..=max`; the error names the key, the value and the range,
/// as every configuration and settings check says it.
pub fn check_range<T: PartialOrd + std::fmt::Display>(key: &str, value: T, min: T, max: T) -> anyhow::Result<()> {
    if value < min || value > max {
        bail!("key `{key}`: invalid value {value}, expected a number from {min} to {max}");
    }
    Ok(())
}

fn env_name(key: &str) -> String {
    format!("OPENVOICE_{}", key.replace('.', "_").to_uppercase())
}

fn leaves(value: &toml::Value) -> Vec<(String, &toml::Value)> {
    fn walk<'a>(prefix: &str, value: &'a toml::Value, out: &mut Vec<(String, &'a toml::Value)>) {
        match value {
            toml::Value::Table(table) => {
                for (k, v) in table {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            _ => out.push((prefix.to_string(), value)),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

fn parse_like(default: &toml::Value, raw: &str) -> Result<toml::Value, &'static str> {
    match default {
        toml::Value::Integer(_) => raw.trim().parse().map(toml::Value::Integer).map_err(|_| "a whole number"),
        toml::Value::Boolean(_) => raw.trim().parse().map(toml::Value::Boolean).map_err(|_| "true or false"),
        toml::Value::Float(_) => raw.trim().parse().map(toml::Value::Float).map_err(|_| "a number"),
        // Lists (`market.coins`) are comma-separated in the environment.
        toml::Value::Array(_) => Ok(toml::Value::Array(
            raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| toml::Value::String(s.into())).collect(),
        )),
        _ => Ok(toml::Value::String(raw.to_string())),
    }
}

fn set_leaf(root: &mut toml::Value, key: &str, value: toml::Value) {
    let mut node = root;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let toml::Value::Table(table) = node else { return };
        if parts.peek().is_none() {
            table.insert(part.to_string(), value);
            return;
        }
        node = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
    }
}

fn merge(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(base), toml::Value::Table(over)) => {
            for (k, v) in over {
                match base.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: Option<&str>, env: &[(&str, &str)]) -> anyhow::Result<Config> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_sources(file, &env, &Overrides::default())
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        let file = "[site]\ntitle = \"From file\"\ntagline = \"File tagline\"\n";
        let env = [("OPENVOICE_SITE_TITLE", "From env")];
        let config = load(Some(file), &env).unwrap();
        assert_eq!(config.site.title, "From env");
        assert_eq!(config.site.tagline, "File tagline");
        assert_eq!(config.content.per_page, 10);

        let overrides = Overrides { listen: Some("127.0.0.1:9999".into()), database_url: None };
        let env =
            [("OPENVOICE_LISTEN", "127.0.0.1:7777")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let config = Config::from_sources(None, &env, &overrides).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9999");
    }

    #[test]
    fn invalid_values_name_the_key_value_and_expectation() {
        let err = load(None, &[("OPENVOICE_CONTENT_PER_PAGE", "ten")]).unwrap_err().to_string();
        assert!(err.contains("content.per_page") && err.contains("\"ten\"") && err.contains("whole number"), "{err}");

        let err = load(Some("[content]\nper_page = 0\n"), &[]).unwrap_err().to_string();
        assert!(err.contains("content.per_page") && err.contains("from 1 to 100"), "{err}");

        let err = load(Some("[content.oembed_endpoints]\nYoutube = \"https://www.youtube.com/oembed\"\n"), &[]);
        let err = err.unwrap_err().to_string();
        assert!(err.contains("content.oembed_endpoints.Youtube") && err.contains("YouTube, Vimeo"), "{err}");
        let err = load(Some("[content.oembed_endpoints]\nVimeo = \"ftp://vimeo.com\"\n"), &[]).unwrap_err().to_string();
        assert!(err.contains("content.oembed_endpoints.Vimeo") && err.contains("http(s) URL"), "{err}");

        let err = load(Some("[http]\nmax_body_bytes = \"big\"\n"), &[]).unwrap_err().to_string();
        assert!(err.contains("http.max_body_bytes"), "{err}");

        let err = load(Some("[site]\ncolour = \"red\"\n"), &[]).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");

        let err = load(Some("listen = \"nowhere\"\n"), &[]).unwrap_err().to_string();
        assert!(err.contains("`listen`") && err.contains("nowhere"), "{err}");
    }

    #[test]
    fn secrets_are_masked() {
        let overrides = Overrides { listen: None, database_url: Some("postgres://ov:s3cret@db/site".into()) };
        let config = Config::from_sources(None, &BTreeMap::new(), &overrides).unwrap();
        let shown = config.to_masked_toml();
        assert!(!shown.contains("s3cret") && shown.contains("ov:****@db"), "{shown}");
        assert!(!format!("{config:?}").contains("s3cret"));
    }
}
