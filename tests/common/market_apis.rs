//! CoinGecko and CoinCap replayed on 127.0.0.1: their response formats (CoinGecko's from the
//! fixtures in `tests/fixtures/coingecko/`) and, on demand, their failure modes: 429 with
//! `Retry-After`, 500, a slow answer, a truncated body, oversize bodies, malformed JSON, a
//! redirect to another host, a partial coin list and bad values.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SIMPLE_PRICE: &str = include_str!("../fixtures/coingecko/simple_price.json");
const MARKET_CHART: &str = include_str!("../fixtures/coingecko/market_chart_bitcoin_7d.json");
/// CoinCap's prices in these tests: CoinGecko's times this, so the source shows in the values.
pub const COINCAP_FACTOR: f64 = 1.01;

// ---- The fake provider APIs ---------------------------------------------------------------

/// How the fake answers one provider's requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Mode {
    #[default]
    Ok,
    /// Prices for these coins only.
    Partial(Vec<&'static str>),
    /// bitcoin negative, ethereum "NaN", neo absurd, monero missing, waves with a null 24 h change.
    BadValues,
    RateLimited(u32),
    ServerError,
    /// Answers after 7 s.
    Slow,
    /// Announces the full length, sends half, closes.
    TruncatedBody,
    /// 2 MiB without Content-Length.
    OversizeStreamed,
    /// Content-Length: 2 MiB.
    OversizeDeclared,
    MalformedJson,
    /// 302 to another host.
    RedirectElsewhere,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Default)]
struct FakeState {
    coingecko: Mode,
    coincap: Mode,
    requests: Vec<Request>,
}

#[derive(Clone)]
pub struct FakeApis {
    addr: SocketAddr,
    state: Arc<Mutex<FakeState>>,
}

impl FakeApis {
    pub async fn start() -> FakeApis {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let apis = FakeApis { addr: listener.local_addr().unwrap(), state: Arc::default() };
        let server = apis.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(server.clone().handle(stream));
            }
        });
        apis
    }

    pub fn set(&self, coingecko: Mode, coincap: Mode) {
        let mut state = self.state.lock().unwrap();
        state.coingecko = coingecko;
        state.coincap = coincap;
    }

    /// Requests whose path starts with `prefix`, oldest first.
    pub fn requests(&self, prefix: &str) -> Vec<Request> {
        self.state.lock().unwrap().requests.iter().filter(|r| r.path.starts_with(prefix)).cloned().collect()
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    pub fn coingecko_url(&self) -> String {
        format!("http://{}/coingecko/api/v3", self.addr)
    }

    pub fn coincap_url(&self) -> String {
        format!("http://{}/coincap/v3", self.addr)
    }

    async fn handle(self, mut stream: TcpStream) {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.split("\r\n");
        let target = lines.next().and_then(|l| l.split(' ').nth(1)).unwrap_or("/").to_string();
        let (path, query) =
            target.split_once('?').map_or((target.clone(), String::new()), |(p, q)| (p.into(), q.into()));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let mode = {
            let mut state = self.state.lock().unwrap();
            state.requests.push(Request { path: path.clone(), query: query.clone(), headers });
            if path.starts_with("/coingecko/") {
                state.coingecko.clone()
            } else if path.starts_with("/coincap/") {
                state.coincap.clone()
            } else {
                Mode::Ok
            }
        };
        let Some(body) = route(&path, &query, &mode) else {
            let _ = stream.write_all(&response("404 Not Found", "{\"error\":\"coin not found\"}", "")).await;
            return;
        };
        let _ = self.respond(&mut stream, &mode, body).await;
    }

    async fn respond(&self, stream: &mut TcpStream, mode: &Mode, body: String) -> std::io::Result<()> {
        match mode {
            Mode::Ok | Mode::Partial(_) | Mode::BadValues => stream.write_all(&response("200 OK", &body, "")).await,
            Mode::RateLimited(secs) => {
                let body = "{\"status\":{\"error_code\":429,\"error_message\":\"You've exceeded the Rate Limit.\"}}";
                stream.write_all(&response("429 Too Many Requests", body, &format!("Retry-After: {secs}\r\n"))).await
            }
            Mode::ServerError => stream.write_all(&response("500 Internal Server Error", "upstream failed", "")).await,
            Mode::Slow => {
                tokio::time::sleep(Duration::from_secs(7)).await;
                stream.write_all(&response("200 OK", &body, "")).await
            }
            Mode::TruncatedBody => {
                let full = response("200 OK", &body, "");
                stream.write_all(&full[..full.len() - body.len() / 2]).await?;
                stream.shutdown().await
            }
            Mode::OversizeStreamed | Mode::OversizeDeclared => {
                let size = 2 << 20;
                let length = if *mode == Mode::OversizeDeclared {
                    format!("Content-Length: {}\r\n", size + 10)
                } else {
                    String::new()
                };
                let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n{{\"pad\": \"");
                stream.write_all(head.as_bytes()).await?;
                let chunk = vec![b'x'; 64 << 10];
                for _ in 0..size / chunk.len() {
                    stream.write_all(&chunk).await?;
                }
                stream.write_all(b"\"}").await
            }
            Mode::MalformedJson => stream.write_all(&response("200 OK", "{\"bitcoin\": {\"usd\": 9", "")).await,
            Mode::RedirectElsewhere => {
                let location = format!("Location: http://localhost:{}/stolen\r\n", self.addr.port());
                stream.write_all(&response("302 Found", "", &location)).await
            }
        }
    }
}

pub fn response(status: &str, body: &str, extra_headers: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn now_ms() -> i64 {
    openvoice::store::now() * 1000
}

/// The body for a request, in the provider's format; `None` for 404.
pub fn route(path: &str, query: &str, mode: &Mode) -> Option<String> {
    let fixture: serde_json::Value = serde_json::from_str(SIMPLE_PRICE).unwrap();
    let param = |name: &str| {
        query.split('&').find_map(|pair| pair.strip_prefix(name).and_then(|v| v.strip_prefix('='))).unwrap_or("")
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["coingecko", "api", "v3", "simple", "price"] => {
            assert_eq!(param("vs_currencies"), "usd");
            assert_eq!(param("include_24hr_change"), "true");
            let mut out = serde_json::Map::new();
            for id in param("ids").split(',') {
                if let Mode::Partial(keep) = mode {
                    if !keep.contains(&id) {
                        continue;
                    }
                }
                if let Some(entry) = fixture.get(id) {
                    out.insert(id.to_string(), entry.clone());
                }
            }
            if *mode == Mode::BadValues {
                out.insert(
                    "bitcoin".into(),
                    serde_json::json!({"usd": -5.0, "usd_24h_change": 1.0, "last_updated_at": 1}),
                );
                out.insert("ethereum".into(), serde_json::json!({"usd": "NaN", "usd_24h_change": 1.0}));
                out.insert("neo".into(), serde_json::json!({"usd": 4.2e12, "usd_24h_change": 1.0}));
                out.remove("monero");
                out.insert(
                    "waves".into(),
                    serde_json::json!({"usd": 0.95, "usd_24h_change": null, "last_updated_at": 1795690000}),
                );
            }
            Some(serde_json::Value::Object(out).to_string())
        }
        ["coingecko", "api", "v3", "coins", id, "market_chart"] => {
            assert_eq!(param("vs_currency"), "usd");
            let usd = fixture.get(*id)?.get("usd")?.as_f64()?;
            let points = chart_points(usd);
            let prices: Vec<serde_json::Value> = points.iter().map(|(t, p)| serde_json::json!([t, p])).collect();
            Some(serde_json::json!({ "prices": prices, "market_caps": [], "total_volumes": [] }).to_string())
        }
        ["coincap", "v3", "assets"] => {
            let data: Vec<serde_json::Value> = param("ids")
                .split(',')
                .filter_map(|id| {
                    let entry = fixture.get(id)?;
                    Some(serde_json::json!({
                        "id": id,
                        "rank": "1",
                        "symbol": id.to_uppercase(),
                        "name": id,
                        "priceUsd": format!("{:.10}", entry["usd"].as_f64()? * COINCAP_FACTOR),
                        "changePercent24Hr": format!("{:.10}", entry["usd_24h_change"].as_f64().unwrap_or(0.0)),
                        "vwap24Hr": "0",
                    }))
                })
                .collect();
            Some(serde_json::json!({ "data": data, "timestamp": now_ms() }).to_string())
        }
        ["coincap", "v3", "assets", id, "history"] => {
            assert_eq!(param("interval"), "h1");
            let usd = fixture.get(*id)?.get("usd")?.as_f64()? * COINCAP_FACTOR;
            let data: Vec<serde_json::Value> = chart_points(usd)
                .iter()
                .map(|(t, p)| serde_json::json!({ "priceUsd": format!("{p:.10}"), "time": t, "date": "" }))
                .collect();
            Some(serde_json::json!({ "data": data, "timestamp": now_ms() }).to_string())
        }
        ["stolen"] => Some("{}".into()),
        _ => None,
    }
}

/// The bitcoin market_chart fixture moved to end now and scaled to end at `usd`.
pub fn chart_points(usd: f64) -> Vec<(i64, f64)> {
    let chart: serde_json::Value = serde_json::from_str(MARKET_CHART).unwrap();
    let prices = chart["prices"].as_array().unwrap();
    let last = prices.last().unwrap();
    let shift = now_ms() - last[0].as_i64().unwrap();
    let scale = usd / last[1].as_f64().unwrap();
    prices.iter().map(|p| (p[0].as_i64().unwrap() + shift, p[1].as_f64().unwrap() * scale)).collect()
}
