//! Market prices over real HTTP, on every backend.
//!
//! A local server speaks CoinGecko's and CoinCap's response formats (CoinGecko's from the
//! fixtures in `tests/fixtures/coingecko/`) and, on demand, their failure modes: 429 with
//! `Retry-After`, 500, a slow answer, a truncated body, oversize bodies, malformed JSON, a redirect
//! to another host, a partial coin list and bad values. The poll job runs through `jobs::run_one`
//! (or `service::poll` where the report is checked); pages are parsed as HTML.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::market_apis::{FakeApis, Mode, COINCAP_FACTOR};
use common::{Backend, TestSite};
use openvoice::config::{Config, Overrides};
use openvoice::jobs::{self, Registry, WorkerConfig};
use openvoice::market::jobs::PollPrices;
use openvoice::market::service::{self, PollReport, Polling};
use openvoice::store;
use scraper::{ElementRef, Html, Selector};

const DEFAULT_COINS: [&str; 11] =
    ["bitcoin", "ethereum", "neo", "waves", "monero", "nano", "ark", "pirate-chain", "dogecoin", "litecoin", "cardano"];
const ARTICLE: &str = "/article/parliament-approves-coastal-drone-patrols";

// ---- A site wired to the fake APIs --------------------------------------------------------

struct MarketSite {
    site: TestSite,
    apis: FakeApis,
    registry: Registry,
    polling: Arc<Polling>,
}

impl MarketSite {
    /// A site whose providers are the fake APIs, with extra `[market]` keys.
    async fn start(backend: common::Backend, market_toml: &str) -> MarketSite {
        let apis = FakeApis::start().await;
        let toml = format!(
            "[market]\ncoingecko_base_url = \"{}\"\ncoincap_base_url = \"{}\"\ncoingecko_api_key = \"CG-test-key\"\n{market_toml}",
            apis.coingecko_url(),
            apis.coincap_url()
        );
        MarketSite::with_toml(backend, apis, &toml).await
    }

    async fn with_toml(backend: common::Backend, apis: FakeApis, toml: &str) -> MarketSite {
        let site = TestSite::start_with(backend, toml).await;
        let config = Config::load(site.dir.path(), &Overrides::default()).expect("config");
        openvoice::market::jobs::register(&site.db, &config.market).await.expect("registering the poll");
        let polling = Arc::new(Polling::from_config(&config.market).expect("providers"));
        let registry = Registry::default().with::<PollPrices>(polling.clone());
        MarketSite { site, apis, registry, polling }
    }

    /// Runs the poll job now through the worker; it must stay queued for its next run.
    async fn run_poll_job(&self) {
        sqlx::query("UPDATE jobs SET run_at = 0 WHERE kind = 'market.poll'").execute(&self.site.db.pool).await.unwrap();
        let worker = WorkerConfig { node_id: "test".into(), poll_interval: Duration::from_millis(50), lease_secs: 60 };
        assert!(jobs::run_one(&self.site.db, &self.registry, &worker).await.unwrap(), "the poll job was due");
        let (state, attempts, run_at): (String, i64, i64) =
            sqlx::query_as("SELECT state, attempts, run_at FROM jobs WHERE kind = 'market.poll'")
                .fetch_one(&self.site.db.pool)
                .await
                .unwrap();
        assert_eq!((state.as_str(), attempts), ("queued", 0), "a poll never fails for a provider's sake");
        let next = run_at - store::now();
        assert!((295..=300).contains(&next), "next poll in the configured 300 s, not {next}");
    }

    /// Polls directly, for the report.
    async fn poll(&self) -> PollReport {
        service::poll(&self.site.db, &self.polling, store::now()).await.expect("poll")
    }

    /// Lets every provider be asked again, as if their back-off had expired.
    async fn unblock(&self) {
        sqlx::query("UPDATE market_providers SET blocked_until = 0").execute(&self.site.db.pool).await.unwrap();
    }

    /// GETs a page after the epoch follower has seen the latest writes.
    async fn page(&self, path: &str) -> Html {
        self.site.settle().await;
        let (status, html) = self.site.fetch(path).await;
        assert_eq!(status, 200, "{path}");
        Html::parse_document(&html)
    }

    async fn api(&self) -> serde_json::Value {
        self.site.settle().await;
        let response = self.site.get("/api/prices").await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        response.json().await.unwrap()
    }

    async fn finish(self) {
        self.site.finish().await;
    }
}

// ---- Reading the widgets ------------------------------------------------------------------

fn select<'a>(root: ElementRef<'a>, css: &str) -> Vec<ElementRef<'a>> {
    root.select(&Selector::parse(css).unwrap()).collect()
}

fn text(element: ElementRef) -> String {
    element.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn first_text(root: ElementRef, css: &str) -> String {
    select(root, css).first().map(|e| text(*e)).unwrap_or_default()
}

/// One row of "Latest Market Prices" as a reader sees it.
#[derive(Debug)]
struct Row {
    id: String,
    name: String,
    symbol: String,
    price: String,
    /// Visible change text without the arrow, e.g. "+1.84%".
    change: String,
    /// `up`, `down`, `flat` or `none` (the colour class).
    direction: String,
    arrow: String,
    stale: bool,
    logo: Option<String>,
    badge: Option<String>,
    spark_points: usize,
    spark_label: String,
}

fn widget(doc: &Html) -> ElementRef<'_> {
    let found = select(doc.root_element(), "aside section.widget-market");
    assert_eq!(found.len(), 1, "one market widget in the sidebar");
    found[0]
}

fn market_rows(doc: &Html) -> Vec<Row> {
    select(widget(doc), "li.coin")
        .into_iter()
        .map(|li| {
            let change_el = select(li, ".coin-change")[0];
            let direction = change_el.value().classes().find(|c| *c != "coin-change").unwrap_or("").to_string();
            let arrow = select(change_el, "[aria-hidden=true]").first().map(|e| text(*e)).unwrap_or_default();
            let visible: String = change_el
                .children()
                .filter_map(|node| node.value().as_text().map(|t| t.to_string()))
                .collect::<String>()
                .trim()
                .to_string();
            let spark = select(li, "svg.spark polyline");
            Row {
                id: li.value().attr("data-coin").unwrap().to_string(),
                name: first_text(li, ".coin-name"),
                symbol: first_text(li, ".coin-symbol"),
                price: first_text(li, ".coin-price"),
                change: visible,
                direction,
                arrow,
                stale: li.value().has_class("is-stale", scraper::CaseSensitivity::CaseSensitive)
                    && first_text(li, ".stale-label") == "stale",
                logo: select(li, "img.coin-logo").first().and_then(|e| e.value().attr("src")).map(String::from),
                badge: select(li, ".coin-badge").first().map(|e| text(*e)),
                spark_points: spark
                    .first()
                    .and_then(|e| e.value().attr("points"))
                    .map_or(0, |p| p.split_whitespace().count()),
                spark_label: select(li, "svg.spark")
                    .first()
                    .and_then(|e| e.value().attr("aria-label"))
                    .unwrap_or("")
                    .into(),
            }
        })
        .collect()
}

fn row<'a>(rows: &'a [Row], id: &str) -> &'a Row {
    rows.iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no row for {id} in {rows:#?}"))
}

fn unavailable(doc: &Html) -> bool {
    first_text(widget(doc), ".market-unavailable") == "Prices unavailable" && select(widget(doc), "li.coin").is_empty()
}

/// `HH:MM UTC` of the newest stored observation.
async fn as_of_text(site: &TestSite) -> String {
    let at: i64 =
        sqlx::query_scalar("SELECT MAX(observed_at) FROM market_quotes").fetch_one(&site.db.pool).await.unwrap();
    chrono::DateTime::from_timestamp(at, 0).unwrap().format("%H:%M UTC").to_string()
}

async fn stored(site: &TestSite, coin: &str) -> (f64, String, i64) {
    sqlx::query_as("SELECT usd, source, observed_at FROM market_quotes WHERE coin_id = $1")
        .bind(coin)
        .fetch_one(&site.db.pool)
        .await
        .unwrap()
}

// ---- Tests ----------------------------------------------------------------------------------

on_each_backend!(a_fresh_install_without_network_says_prices_unavailable_and_works);
async fn a_fresh_install_without_network_says_prices_unavailable_and_works(backend: Backend) {
    // Nothing listens on port 9 here: every request is refused, as on a machine offline.
    let apis = FakeApis::start().await;
    let toml =
        "[market]\ncoingecko_base_url = \"http://127.0.0.1:9/api/v3\"\ncoincap_base_url = \"http://127.0.0.1:9/v3\"\n";
    let market = MarketSite::with_toml(backend, apis, toml).await;
    let started = Instant::now();
    let doc = market.page(ARTICLE).await;
    assert!(started.elapsed() < Duration::from_secs(2), "no network on the request path");
    assert!(unavailable(&doc), "{backend:?}");
    let token = select(doc.root_element(), "aside section.widget-token")[0];
    assert_eq!(first_text(token, ".coin-name"), "OpenVoiceCoin");
    assert_eq!(first_text(token, ".coin-symbol"), "OPENVC");
    assert_eq!(first_text(token, ".coin-price"), "$0.00");
    assert_eq!(select(token, "img.coin-logo")[0].value().attr("src"), Some("/static/coins/openvoicecoin.svg"));

    market.run_poll_job().await;
    let report = market.poll().await;
    assert!(report.stored.is_empty());
    assert_eq!(report.skipped.len() + report.failed.len(), 2, "{report:?}");
    assert!(unavailable(&market.page(ARTICLE).await));
    assert!(unavailable(&market.page("/").await));
    let doc = market.page("/prices").await;
    assert_eq!(first_text(doc.root_element(), "main .market-unavailable"), "Prices unavailable");
    let api = market.api().await;
    assert_eq!(api["as_of"], serde_json::Value::Null);
    assert_eq!(api["coins"].as_array().unwrap().len(), 11);
    assert_eq!(api["coins"][0]["usd"], serde_json::Value::Null);
    assert_eq!(api["token"]["usd"], 0.0);
    market.finish().await;
}

on_each_backend!(a_poll_fetches_every_coin_in_one_request_and_the_widgets_show_them);
async fn a_poll_fetches_every_coin_in_one_request_and_the_widgets_show_them(backend: Backend) {
    let market = MarketSite::start(backend, "").await;
    // Cached before the poll: the poll's epoch bump must replace it.
    assert!(unavailable(&market.page(ARTICLE).await));

    market.run_poll_job().await;
    let price_requests = market.apis.requests("/coingecko/api/v3/simple/price");
    assert_eq!(price_requests.len(), 1, "all coins in one request");
    let ids: Vec<&str> =
        price_requests[0].query.split('&').find_map(|p| p.strip_prefix("ids=")).unwrap().split(',').collect();
    assert_eq!(ids, DEFAULT_COINS);
    assert!(
        price_requests[0].headers.contains(&("x-cg-demo-api-key".into(), "CG-test-key".into())),
        "the API key goes in its header"
    );
    assert_eq!(market.apis.requests("/coingecko/api/v3/coins/").len(), service::HISTORY_REQUESTS_PER_POLL);
    assert!(market.apis.requests("/coincap").is_empty(), "the fallback is not asked when the first provider answers");

    let doc = market.page(ARTICLE).await;
    let rows = market_rows(&doc);
    assert_eq!(rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), DEFAULT_COINS, "{backend:?}");
    let bitcoin = row(&rows, "bitcoin");
    assert_eq!((bitcoin.name.as_str(), bitcoin.symbol.as_str()), ("Bitcoin", "BTC"));
    assert_eq!(bitcoin.price, "$91,234.12");
    assert_eq!((bitcoin.change.as_str(), bitcoin.direction.as_str(), bitcoin.arrow.as_str()), ("+1.84%", "up", "▲"));
    assert_eq!(bitcoin.logo.as_deref(), Some("/static/coins/bitcoin.svg"));
    assert!(!bitcoin.stale);
    assert!(bitcoin.spark_points >= 25, "a 7-day sparkline from the market chart: {bitcoin:?}");
    assert!(bitcoin.spark_label.starts_with("7-day trend: up"), "{}", bitcoin.spark_label);
    let waves = row(&rows, "waves");
    assert_eq!(
        (waves.price.as_str(), waves.change.as_str(), waves.direction.as_str()),
        ("$0.9871", "\u{2212}0.42%", "down")
    );
    assert_eq!(waves.arrow, "▼");
    assert_eq!(row(&rows, "ethereum").price, "$3,021.55");
    assert_eq!(row(&rows, "dogecoin").price, "$0.1523");
    assert_eq!(row(&rows, "pirate-chain").name, "Pirate Chain");
    assert_eq!(row(&rows, "pirate-chain").symbol, "ARRR");
    // The eleventh coin's history comes at the next poll; its sparkline has the poll's point only.
    assert_eq!(row(&rows, "cardano").spark_points, 0);
    let heading = first_text(widget(&doc), "h2 .visually-hidden");
    assert_eq!(heading, "(US dollars, change over 24 hours)", "what the numbers are is said in words");
    let as_of = first_text(widget(&doc), ".market-asof time");
    assert_eq!(as_of, as_of_text(&market.site).await);
    assert!(first_text(widget(&doc), ".market-asof").starts_with("as of "));

    // The logo is bundled and served; no coin logo is hotlinked.
    let logo = market.site.get("/static/coins/bitcoin.svg").await;
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    for img in select(doc.root_element(), "aside img") {
        assert!(img.value().attr("src").unwrap().starts_with("/static/"), "{:?}", img.value());
    }
    let token = select(doc.root_element(), "aside section.widget-token")[0];
    assert_eq!(first_text(token, ".coin-price"), "$0.00");
    assert_eq!(first_text(token, ".token-note"), "Price set by this site");

    market.apis.clear();
    market.run_poll_job().await;
    assert_eq!(market.apis.requests("/coingecko/api/v3/coins/cardano/market_chart").len(), 1);
    assert_eq!(market.apis.requests("/coingecko/api/v3/coins/").len(), 1, "history is refreshed once a day");
    assert!(row(&market_rows(&market.page(ARTICLE).await), "cardano").spark_points >= 25);

    // The same values on the home page, /prices and /api/prices.
    assert_eq!(row(&market_rows(&market.page("/").await), "bitcoin").price, "$91,234.12");
    for path in ["/prices", "/prices?days=30"] {
        let doc = market.page(path).await;
        let cards = select(doc.root_element(), "main section.price-card");
        assert_eq!(cards.len(), 11, "{path}");
        assert_eq!(first_text(cards[0], ".coin-price"), "$91,234.12");
        let points = select(cards[0], "figure.chart polyline")[0].value().attr("points").unwrap();
        assert!(points.split_whitespace().count() >= 100, "{path}: {points}");
        assert!(first_text(cards[0], "figcaption").contains("high $"), "{path}");
    }
    assert_eq!(market.site.fetch("/prices?days=9").await.0, 400);
    let api = market.api().await;
    let coins = api["coins"].as_array().unwrap();
    assert_eq!(coins[0]["id"], "bitcoin");
    assert_eq!(coins[0]["usd"], 91234.12);
    assert_eq!(coins[0]["change_24h"], 1.8412376512034);
    assert_eq!(coins[0]["source"], "coingecko");
    assert_eq!(coins[0]["stale"], false);
    assert_eq!(coins[0]["provider_updated_at"], "2026-11-26T12:39:42Z");
    assert!(coins[0]["observed_at"].as_str().unwrap().ends_with('Z'));
    assert!(api["as_of"].is_string());
    market.finish().await;
}

on_each_backend!(a_rate_limit_backs_off_for_its_retry_after_while_the_fallback_answers);
async fn a_rate_limit_backs_off_for_its_retry_after_while_the_fallback_answers(backend: Backend) {
    let market = MarketSite::start(backend, "").await;
    market.apis.set(Mode::RateLimited(120), Mode::Ok);
    let report = market.poll().await;
    assert!(
        report.failed.iter().any(|(p, e)| *p == "coingecko" && e.contains("429") && e.contains("120")),
        "{report:?}"
    );
    assert_eq!(report.stored.len(), 11);
    assert!(report.stored.iter().all(|(_, source)| *source == "coincap"), "{report:?}");
    let (blocked_until, failures): (i64, i64) =
        sqlx::query_as("SELECT blocked_until, failures FROM market_providers WHERE name = 'coingecko'")
            .fetch_one(&market.site.db.pool)
            .await
            .unwrap();
    assert!((blocked_until - store::now() - 120).abs() <= 2, "Retry-After honoured: {blocked_until}");
    assert_eq!(failures, 1);
    let bitcoin_via_coincap = openvoice::market::model::format_usd(91234.12 * COINCAP_FACTOR);
    assert_eq!(row(&market_rows(&market.page(ARTICLE).await), "bitcoin").price, bitcoin_via_coincap);
    assert_eq!(market.api().await["coins"][0]["source"], "coincap");

    // Within the Retry-After nobody asks CoinGecko, even though it would answer now.
    market.apis.set(Mode::Ok, Mode::Ok);
    market.apis.clear();
    market.run_poll_job().await;
    assert!(market.apis.requests("/coingecko").is_empty(), "CoinGecko was asked before its Retry-After");
    assert_eq!(market.apis.requests("/coincap/v3/assets").len(), 2, "prices and the history the poll still needed");

    // Once it has passed, CoinGecko is the source again.
    market.unblock().await;
    market.apis.clear();
    let report = market.poll().await;
    assert!(report.stored.iter().all(|(_, source)| *source == "coingecko"), "{report:?}");
    assert!(market.apis.requests("/coincap").is_empty());
    assert_eq!(row(&market_rows(&market.page(ARTICLE).await), "bitcoin").price, "$91,234.12");
    market.finish().await;
}

on_each_backend!(failed_responses_keep_the_last_good_values);
async fn failed_responses_keep_the_last_good_values(backend: Backend) {
    let market = MarketSite::start(backend, "fallback_provider = \"\"\n").await;
    market.poll().await;
    let before = stored(&market.site, "bitcoin").await;
    let cases = [
        (Mode::ServerError, "HTTP 500"),
        (Mode::RateLimited(30), "HTTP 429"),
        (Mode::Slow, "no complete response within 5 s"),
        (Mode::TruncatedBody, "request failed"),
        (Mode::OversizeStreamed, "larger than 1048576 bytes"),
        (Mode::OversizeDeclared, "larger than 1048576 bytes"),
        (Mode::MalformedJson, "malformed response"),
        (Mode::RedirectElsewhere, "unexpected HTTP status 302"),
    ];
    for (mode, expected) in cases {
        market.unblock().await;
        market.apis.set(mode.clone(), Mode::Ok);
        let started = Instant::now();
        let report = market.poll().await;
        assert!(started.elapsed() < Duration::from_secs(7), "{mode:?} took {:?}", started.elapsed());
        assert_eq!(report.failed.len(), 1, "{mode:?}: {report:?}");
        assert!(report.failed[0].1.contains(expected), "{mode:?}: {}", report.failed[0].1);
        assert!(report.stored.is_empty() && !report.epoch_bumped, "{mode:?}: {report:?}");
        assert_eq!(stored(&market.site, "bitcoin").await, before, "{mode:?}: the last good value is kept");
    }
    assert!(market.apis.requests("/stolen").is_empty(), "redirects are not followed");
    let rows = market_rows(&market.page(ARTICLE).await);
    assert_eq!(row(&rows, "bitcoin").price, "$91,234.12");
    assert!(rows.iter().all(|r| !r.stale), "recent values are not stale yet");

    // The job itself never fails because a provider did.
    market.unblock().await;
    market.apis.set(Mode::ServerError, Mode::Ok);
    market.run_poll_job().await;
    market.finish().await;
}

on_each_backend!(bad_values_and_missing_coins_are_rejected_per_coin);
async fn bad_values_and_missing_coins_are_rejected_per_coin(backend: Backend) {
    let market = MarketSite::start(backend, "").await;
    market.poll().await;

    // CoinGecko sends bad values for three coins, a stale one, and leaves one out; CoinCap is down.
    market.apis.set(Mode::BadValues, Mode::ServerError);
    let report = market.poll().await;
    let mut rejected: Vec<&str> = report.rejected.iter().map(|(_, r)| r.coin.as_str()).collect();
    rejected.sort();
    assert_eq!(rejected, ["bitcoin", "ethereum", "monero", "neo"], "{report:?}");
    assert!(report.rejected.iter().any(|(_, r)| r.reason.contains("missing")));
    assert!(report.rejected.iter().any(|(_, r)| r.reason.contains("not positive")));
    assert!(report.rejected.iter().any(|(_, r)| r.reason.contains("absurd")));
    assert!(report.rejected.iter().any(|(_, r)| r.reason.contains("no numeric usd")));
    let doc = market.page(ARTICLE).await;
    let rows = market_rows(&doc);
    assert_eq!(row(&rows, "bitcoin").price, "$91,234.12", "the last good value is kept");
    assert_eq!(row(&rows, "neo").price, "$5.12");
    assert_eq!(row(&rows, "monero").price, "$385.21");
    // A null 24 h change is CoinGecko's stale signal: the new price is shown, marked stale.
    let waves = row(&rows, "waves");
    assert_eq!((waves.price.as_str(), waves.change.as_str(), waves.direction.as_str()), ("$0.9500", "—", "none"));
    assert!(waves.stale, "{waves:?}");
    assert_eq!(rows.iter().filter(|r| r.stale).count(), 1);
    assert!(first_text(widget(&doc), ".market-asof").contains("stale prices marked"));

    // A partial list: the missing coins keep their values; with CoinCap up they come from it.
    market.unblock().await;
    market.apis.set(Mode::Partial(vec!["bitcoin", "ethereum", "neo", "waves", "nano"]), Mode::Ok);
    market.apis.clear();
    let report = market.poll().await;
    assert_eq!(report.stored.len(), 11, "{report:?}");
    let from_coincap: Vec<&str> =
        report.stored.iter().filter(|(_, s)| *s == "coincap").map(|(c, _)| c.as_str()).collect();
    assert_eq!(from_coincap.len(), 6, "{from_coincap:?}");
    let asked = &market.apis.requests("/coincap/v3/assets")[0].query;
    assert_eq!(asked, "ids=monero,ark,pirate-chain,dogecoin,litecoin,cardano", "only the missing coins");
    assert_eq!(stored(&market.site, "monero").await.1, "coincap");
    assert_eq!(stored(&market.site, "bitcoin").await.1, "coingecko");
    market.finish().await;
}

on_each_backend!(prices_older_than_the_stale_age_are_marked_at_the_next_poll);
async fn prices_older_than_the_stale_age_are_marked_at_the_next_poll(backend: Backend) {
    let market = MarketSite::start(backend, "stale_after_secs = 1800\n").await;
    market.poll().await;
    assert!(market_rows(&market.page(ARTICLE).await).iter().all(|r| !r.stale));

    // Time passes without a successful poll.
    sqlx::query("UPDATE market_quotes SET observed_at = observed_at - 1801")
        .execute(&market.site.db.pool)
        .await
        .unwrap();
    market.apis.set(Mode::ServerError, Mode::ServerError);
    let report = market.poll().await;
    assert_eq!(report.stale_changed, 11);
    assert!(report.epoch_bumped, "stale marks change the page, so caches are invalidated");
    let doc = market.page(ARTICLE).await;
    let rows = market_rows(&doc);
    assert_eq!(rows.len(), 11, "stale prices are still shown");
    assert!(rows.iter().all(|r| r.stale), "{rows:#?}");
    assert_eq!(row(&rows, "bitcoin").price, "$91,234.12");
    assert!(first_text(widget(&doc), ".market-asof").contains("stale prices marked"));
    assert_eq!(market.api().await["coins"][0]["stale"], true);
    let prices = market.page("/prices").await;
    let card = select(prices.root_element(), "section.price-card")[0];
    assert_eq!(first_text(card, ".stale-label"), "stale");

    // A fresh value clears the mark.
    market.unblock().await;
    market.apis.set(Mode::Ok, Mode::Ok);
    market.poll().await;
    assert!(market_rows(&market.page(ARTICLE).await).iter().all(|r| !r.stale));
    market.finish().await;
}

on_each_backend!(the_token_can_be_priced_by_a_provider_and_unknown_coins_get_a_badge);
async fn the_token_can_be_priced_by_a_provider_and_unknown_coins_get_a_badge(backend: Backend) {
    let toml = "coins = [\"bitcoin\", \"solana\"]\ntoken_price_source = \"coingecko\"\ntoken_coin_id = \"litecoin\"\ntoken_logo = \"\"\n";
    let market = MarketSite::start(backend, toml).await;
    let doc = market.page(ARTICLE).await;
    let token = select(doc.root_element(), "aside section.widget-token")[0];
    assert_eq!(first_text(token, ".coin-price"), "$0.00", "unknown yet");
    assert_eq!(first_text(token, ".token-note"), "No market price yet");
    assert_eq!(first_text(token, ".coin-badge"), "O", "a lettered badge without a logo");

    market.poll().await;
    let query = &market.apis.requests("/coingecko/api/v3/simple/price")[0].query;
    assert!(query.starts_with("ids=bitcoin,solana,litecoin&"), "{query}");
    let doc = market.page(ARTICLE).await;
    let token = select(doc.root_element(), "aside section.widget-token")[0];
    assert_eq!(first_text(token, ".coin-price"), "$86.44");
    assert!(first_text(token, ".token-note").starts_with("Via CoinGecko, as of "));
    let rows = market_rows(&doc);
    assert_eq!(rows.len(), 1, "solana is not in the fixture, so it has no row yet");
    assert_eq!(row(&rows, "bitcoin").price, "$91,234.12");
    assert_eq!(market.api().await["token"]["usd"], 86.44);
    market.finish().await;

    let market = MarketSite::start(backend, "coins = [\"my-coin\"]\ntoken_fixed_price = 1.5\n").await;
    sqlx::query("INSERT INTO market_quotes (coin_id, usd, change_24h, provider_stale, stale, source, observed_at) VALUES ('my-coin', 0.5, 0.0, 0, 0, 'coingecko', $1)")
        .bind(store::now())
        .execute(&market.site.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE site_state SET value = value + 1 WHERE key = 'content_epoch'")
        .execute(&market.site.db.pool)
        .await
        .unwrap();
    let doc = market.page(ARTICLE).await;
    let my_coin = &market_rows(&doc)[0];
    assert_eq!((my_coin.name.as_str(), my_coin.symbol.as_str()), ("My Coin", "MYCO"));
    assert_eq!((my_coin.logo.as_deref(), my_coin.badge.as_deref()), (None, Some("M")));
    assert_eq!((my_coin.change.as_str(), my_coin.direction.as_str()), ("0.00%", "flat"));
    let token = select(doc.root_element(), "aside section.widget-token")[0];
    assert_eq!(first_text(token, ".coin-price"), "$1.50");
    market.finish().await;
}

on_each_backend!(the_widgets_can_be_switched_off);
async fn the_widgets_can_be_switched_off(backend: Backend) {
    let market = MarketSite::start(backend, "enabled = false\n").await;
    let (status, html) = market.site.fetch(ARTICLE).await;
    assert_eq!(status, 200);
    let doc = Html::parse_document(&html);
    assert!(select(doc.root_element(), ".widget-market, .widget-token").is_empty());
    assert_eq!(market.site.fetch("/prices").await.0, 404);
    assert_eq!(market.site.fetch("/api/prices").await.0, 404);
    let polls: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE kind = 'market.poll'")
        .fetch_one(&market.site.db.pool)
        .await
        .unwrap();
    assert_eq!(polls, 0, "nothing polls");
    market.finish().await;
}

#[test]
fn invalid_market_settings_stop_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let run = |vars: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_openvoice"));
        command.arg("--data").arg(dir.path()).arg("config");
        for (k, v) in vars {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    for (var, value, key) in [
        ("OPENVOICE_MARKET_COINS", "bitcoin,Not A Coin", "market.coins"),
        ("OPENVOICE_MARKET_PROVIDER", "coinbase", "market.provider"),
        ("OPENVOICE_MARKET_FALLBACK_PROVIDER", "kraken", "market.fallback_provider"),
        ("OPENVOICE_MARKET_TOKEN_PRICE_SOURCE", "oracle", "market.token_price_source"),
        ("OPENVOICE_MARKET_COINGECKO_BASE_URL", "file:///etc/passwd", "market.coingecko_base_url"),
    ] {
        let out = run(&[(var, value)]);
        let stderr = common::stderr(&out);
        assert!(!out.status.success(), "{var}={value} was accepted");
        assert!(stderr.contains(&format!("`{key}`")), "{var}: {stderr}");
    }
    let out = run(&[("OPENVOICE_MARKET_COINS", "monero, nano"), ("OPENVOICE_MARKET_COINGECKO_API_KEY", "CG-s3cret")]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let shown = common::stdout(&out);
    assert!(shown.contains("coins = [\"monero\", \"nano\"]"), "{shown}");
    assert!(shown.contains("coingecko_api_key = \"****\"") && !shown.contains("s3cret"), "{shown}");
}
