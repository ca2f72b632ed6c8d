//! The market's web side: the sidebar widgets' context (memoised per content epoch), `/prices`
//! and `/api/prices`. Everything here reads the database only; the network is the poll job's.

use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use crate::config::market::CoinId;
use crate::http::{self, cached, html_page, AppError, AppState};
use crate::market::model::{self, format_change, format_usd, Direction, PricePoint, Quote};
use crate::market::service::{self, CoinSnapshot, Snapshot, TokenSnapshot};
use crate::theme;

/// Days of history in a sidebar sparkline.
pub const SPARKLINE_DAYS: u32 = 7;
/// Vertices in a sparkline and in a `/prices` chart.
const SPARKLINE_POINTS: usize = 28;
const CHART_POINTS: usize = 180;

pub fn router() -> Router<AppState> {
    Router::new().route("/prices", get(prices_page)).route("/api/prices", get(prices_api))
}

/// The `market` value the `site-token` and `market-prices` slots show; undefined when the
/// widgets are off. It carries the widgets' HTML, rendered once per epoch from
/// `market/sidebar-token.html` and `market/sidebar-prices.html` (`token_html`, `prices_html`),
/// and the data they were rendered from, for themes that lay the widgets out themselves.
/// Never fails: a database error shows "Prices unavailable".
pub async fn sidebar(state: &AppState) -> Value {
    // The saved settings' coins and token (`settings::Live`), not only the file's.
    let live = state.settings.config();
    let config = &live.market;
    if !config.enabled {
        return Value::UNDEFINED;
    }
    let epoch = state.pages.epoch();
    if let Some(value) = state.market.get(epoch) {
        return value;
    }
    match service::snapshot(&state.db, config, SPARKLINE_DAYS).await {
        Ok(snapshot) => {
            let value = render_widgets(state, widgets_context(state, &snapshot));
            state.market.put(epoch, value.clone());
            value
        }
        Err(err) => {
            tracing::warn!(error = %err, "Could not read market prices; the widgets say they are unavailable");
            let empty = Snapshot { coins: Vec::new(), token: unknown_token(state), as_of: None };
            render_widgets(state, widgets_context(state, &empty))
        }
    }
}

/// Adds the rendered widgets to their data. Rendered by the template engine (so escaped like any
/// page), then marked safe to be placed in each page as is.
fn render_widgets(state: &AppState, data: Value) -> Value {
    let render = |template: &str| {
        let html = state.templates.render(template, context! { market => data.clone() }).unwrap_or_else(|err| {
            tracing::error!(error = %err, "Rendering {template} failed; the widget is left out");
            String::new()
        });
        Value::from_safe_string(html)
    };
    context! {
        prices_html => render("market/sidebar-prices.html"),
        token_html => render("market/sidebar-token.html"),
        ..data
    }
}

fn unknown_token(state: &AppState) -> TokenSnapshot {
    // The saved settings' coins and token (`settings::Live`), not only the file's.
    let live = state.settings.config();
    let config = &live.market;
    TokenSnapshot {
        name: config.token_name.clone(),
        symbol: config.token_symbol.clone(),
        source: config.token_price_source.clone(),
        usd: None,
        quote: None,
    }
}

/// One coin as a template sees it.
#[derive(Debug, Serialize)]
struct CoinView {
    id: String,
    name: String,
    symbol: String,
    /// `/static/…` path of the bundled logo, if there is one.
    logo: Option<String>,
    /// Lettered badge for coins without a logo.
    badge: String,
    hue: u8,
    price: String,
    /// `+4.09%`; `None` when the provider gave no change.
    change: Option<String>,
    direction: Direction,
    stale: bool,
    source: String,
    observed: String,
    observed_iso: String,
    /// SVG `points` of the 7-day sparkline (empty with under two points).
    spark: String,
    /// What the sparkline shows, in words.
    spark_label: String,
}

fn coin_view(state: &AppState, coin: &CoinSnapshot, quote: &Quote, points: usize, width: f64, height: f64) -> CoinView {
    let (change, direction) = match quote.change_24h.map(format_change) {
        Some((text, direction)) => (Some(text), direction),
        None => (None, Direction::Flat),
    };
    let history = model::downsample(&coin.history, points);
    CoinView {
        id: coin.id.to_string(),
        name: coin.label.name.clone(),
        symbol: coin.label.symbol.clone(),
        logo: logo(state, &coin.id),
        badge: coin.label.symbol.chars().next().unwrap_or('?').to_string(),
        hue: hue(coin.id.as_str()),
        price: format_usd(quote.usd),
        change,
        direction,
        stale: quote.stale,
        source: provider_label(&quote.source).into(),
        observed: clock(quote.observed_at),
        observed_iso: theme::rfc3339(quote.observed_at),
        spark: model::polyline(&history, width, height, 1.5),
        spark_label: trend_words(&coin.history, SPARKLINE_DAYS),
    }
}

fn widgets_context(state: &AppState, snapshot: &Snapshot) -> Value {
    let coins: Vec<CoinView> = snapshot
        .coins
        .iter()
        .filter_map(|coin| coin.quote.as_ref().map(|quote| coin_view(state, coin, quote, SPARKLINE_POINTS, 60.0, 20.0)))
        .collect();
    context! {
        any_stale => coins.iter().any(|c| c.stale),
        coins => coins,
        as_of => snapshot.as_of.map(clock),
        as_of_iso => snapshot.as_of.map(theme::rfc3339),
        token => token_view(state, &snapshot.token),
    }
}

fn token_view(state: &AppState, token: &TokenSnapshot) -> Value {
    // The saved settings' coins and token (`settings::Live`), not only the file's.
    let live = state.settings.config();
    let config = &live.market;
    let logo = match config.token_logo.as_str() {
        "" => None,
        path => state.templates.static_file(path).map(|_| format!("/static/{path}")),
    };
    let (note, stale) = match (&token.quote, token.source.as_str()) {
        (_, "fixed") => ("Price set by this site".to_string(), false),
        (Some(quote), _) => {
            let mut note = format!("Via {}, as of {}", provider_label(&quote.source), clock(quote.observed_at));
            if quote.stale {
                note.push_str(" (stale)");
            }
            (note, quote.stale)
        }
        (None, _) => ("No market price yet".to_string(), false),
    };
    context! {
        name => token.name,
        symbol => token.symbol,
        logo => logo,
        badge => token.symbol.chars().next().unwrap_or('?').to_string(),
        hue => hue(&token.symbol.to_ascii_lowercase()),
        price => format_usd(token.usd.unwrap_or(0.0)),
        known => token.usd.is_some(),
        note => note,
        stale => stale,
    }
}

/// `/static/coins/<id>.svg` when the theme has that logo.
fn logo(state: &AppState, id: &CoinId) -> Option<String> {
    let path = format!("coins/{id}.svg");
    state.templates.static_file(&path).map(|_| format!("/static/{path}"))
}

/// A stable badge colour (one of eight) for coins without a logo.
fn hue(id: &str) -> u8 {
    (id.bytes().fold(0u32, |acc, b| acc.wrapping_mul(31).wrapping_add(u32::from(b))) % 8) as u8
}

fn provider_label(name: &str) -> &str {
    match name {
        "coingecko" => "CoinGecko",
        "coincap" => "CoinCap",
        other => other,
    }
}

/// `14:05 UTC`
fn clock(ts: i64) -> String {
    DateTime::<Utc>::from_timestamp(ts, 0).map(|d| d.format("%H:%M UTC").to_string()).unwrap_or_default()
}

/// "7-day trend: up 3.21%" (or "not enough history").
fn trend_words(history: &[PricePoint], days: u32) -> String {
    match (history.first(), history.last()) {
        (Some(first), Some(last)) if history.len() >= 2 && first.usd > 0.0 => {
            let (text, direction) = format_change((last.usd / first.usd - 1.0) * 100.0);
            let word = match direction {
                Direction::Up => "up",
                Direction::Down => "down",
                Direction::Flat => "flat",
            };
            format!("{days}-day trend: {word} {}", text.trim_start_matches(['+', '\u{2212}']))
        }
        _ => format!("{days}-day trend: not enough history yet"),
    }
}

#[derive(Debug, Deserialize)]
struct ChartQuery {
    days: Option<String>,
}

async fn prices_page(
    State(state): State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    params: Result<Query<ChartQuery>, QueryRejection>,
) -> Result<Response, AppError> {
    if !state.settings.config().market.enabled {
        return Err(AppError::NotFound);
    }
    let days = match params {
        Ok(Query(ChartQuery { days: None })) => 7,
        Ok(Query(ChartQuery { days: Some(days) })) if days == "7" => 7,
        Ok(Query(ChartQuery { days: Some(days) })) if days == "30" => 30,
        Ok(Query(ChartQuery { days: Some(other) })) => {
            let message = format!("expected 7 or 30, got {other:?}");
            return Err(AppError::BadRequest { field: "days", message });
        }
        Err(err) => return Err(AppError::BadRequest { field: "query", message: err.body_text() }),
    };
    let key = uri.path_and_query().map_or("/prices".to_string(), |pq| pq.as_str().to_string());
    Ok(cached(&state, &key, &headers, || async {
        let snapshot = service::snapshot(&state.db, &state.settings.config().market, days).await?;
        let coins: Vec<Value> = snapshot
            .coins
            .iter()
            .filter_map(|coin| {
                let quote = coin.quote.as_ref()?;
                let view = coin_view(&state, coin, quote, CHART_POINTS, 600.0, 160.0);
                let (low, high) =
                    coin.history.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.usd), hi.max(p.usd)));
                let has_chart = !view.spark.is_empty();
                Some(context! {
                    chart_label => trend_words(&coin.history, days),
                    low => has_chart.then(|| format_usd(low)),
                    high => has_chart.then(|| format_usd(high)),
                    from => coin.history.first().map(|p| p.at),
                    to => coin.history.last().map(|p| p.at),
                    ..Value::from_serialize(&view)
                })
            })
            .collect();
        let base = crate::content::chrome::base_context(&state, &key, sidebar(&state).await).await?;
        let ctx = context! { ..base, ..context! {
            chart_days => days,
            chart_coins => coins,
            as_of => snapshot.as_of.map(clock),
            as_of_iso => snapshot.as_of.map(theme::rfc3339),
            stale_after_minutes => state.settings.config().market.stale_after_secs / 60,
        }};
        html_page(&state, "prices.html", ctx, snapshot.as_of)
    })
    .await)
}

/// One coin in `/api/prices`.
#[derive(Debug, Serialize)]
struct ApiCoin {
    id: String,
    name: String,
    symbol: String,
    /// USD price; `null` while no good value has been observed.
    usd: Option<f64>,
    /// 24 h change in percent; `null` when the provider gave none.
    change_24h: Option<f64>,
    stale: Option<bool>,
    /// Provider the value came from.
    source: Option<String>,
    /// When it was fetched (RFC 3339).
    observed_at: Option<String>,
    /// The provider's own time for the price, when it gives one.
    provider_updated_at: Option<String>,
}

async fn prices_api(State(state): State<AppState>, uri: OriginalUri, headers: HeaderMap) -> Result<Response, AppError> {
    if !state.settings.config().market.enabled {
        return Err(AppError::NotFound);
    }
    let key = uri.path().to_string();
    Ok(cached(&state, &key, &headers, || async {
        let snapshot = service::snapshot(&state.db, &state.settings.config().market, 0).await?;
        let rfc3339 = |ts: i64| theme::rfc3339(ts);
        let coins: Vec<ApiCoin> = snapshot
            .coins
            .iter()
            .map(|coin| {
                let quote = coin.quote.as_ref();
                ApiCoin {
                    id: coin.id.to_string(),
                    name: coin.label.name.clone(),
                    symbol: coin.label.symbol.clone(),
                    usd: quote.map(|q| q.usd),
                    change_24h: quote.and_then(|q| q.change_24h),
                    stale: quote.map(|q| q.stale),
                    source: quote.map(|q| q.source.clone()),
                    observed_at: quote.map(|q| rfc3339(q.observed_at)),
                    provider_updated_at: quote.and_then(|q| q.provider_updated_at).map(rfc3339),
                }
            })
            .collect();
        let token = &snapshot.token;
        let body = serde_json::json!({
            "as_of": snapshot.as_of.map(rfc3339),
            "stale_after_secs": state.settings.config().market.stale_after_secs,
            "coins": coins,
            "token": {
                "name": token.name,
                "symbol": token.symbol,
                "usd": token.usd,
                "source": token.source,
                "stale": token.quote.as_ref().map(|q| q.stale),
                "observed_at": token.quote.as_ref().map(|q| rfc3339(q.observed_at)),
            },
        });
        let bytes = serde_json::to_vec_pretty(&body).map_err(|e| AppError::Internal(e.into()))?;
        Ok(http::page(StatusCode::OK, "application/json", bytes.into(), snapshot.as_of))
    })
    .await)
}
