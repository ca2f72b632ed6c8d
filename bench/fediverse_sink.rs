//! `bench/fediverse.sh`'s remote instances: one axum server on `0.0.0.0:PORT`, which every
//! loopback address 127.x.y.z reaches. It fetches the site actor's public key once, at start,
//! from ACTOR_URL, and verifies every POST's HTTP signature with it (`activitypub::signatures`,
//! the inbox's own checks: covered headers, date, digest, RSA), as a receiving instance does:
//! a verified POST is answered 202 and counted, any other 401 and counted apart.
//! `GET /stats` answers `<verified> <first ms> <last ms> <rejected>` (Unix milliseconds of the
//! first and last verified request; 0 before any), `POST /reset` starts over.
//!
//!     cargo run --release --example fediverse_sink -- PORT ACTOR_URL

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;
use openvoice::activitypub::signatures::{self, Incoming};

struct Sink {
    public_key_pem: String,
    verified: AtomicU64,
    rejected: AtomicU64,
    first_ms: AtomicU64,
    last_ms: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Sink {
    /// Whether the POST carries a valid signature by the site's key, for the URL it was sent to.
    async fn verifies(&self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> bool {
        let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default();
        let url = format!("http://{host}{}", uri.path_and_query().map_or("/", |p| p.as_str()));
        let incoming = Incoming { method, url: &url, headers, body };
        let now = (now_ms() / 1000) as i64;
        match signatures::claim(&incoming, now) {
            Ok(claimed) => signatures::verify(&claimed, &self.public_key_pem).await.is_ok(),
            Err(_) => false,
        }
    }
}

async fn answer(
    State(sink): State<Arc<Sink>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    match (&method, uri.path()) {
        (&Method::GET, "/stats") => {
            let [verified, first, last, rejected] =
                [&sink.verified, &sink.first_ms, &sink.last_ms, &sink.rejected].map(|n| n.load(Ordering::SeqCst));
            (StatusCode::OK, format!("{verified} {first} {last} {rejected}\n"))
        }
        (&Method::POST, "/reset") => {
            for n in [&sink.verified, &sink.first_ms, &sink.last_ms, &sink.rejected] {
                n.store(0, Ordering::SeqCst);
            }
            (StatusCode::OK, String::new())
        }
        (&Method::POST, _) if sink.verifies(&method, &uri, &headers, &body).await => {
            let now = now_ms();
            let _ = sink.first_ms.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
            sink.last_ms.fetch_max(now, Ordering::SeqCst);
            sink.verified.fetch_add(1, Ordering::SeqCst);
            (StatusCode::ACCEPTED, String::new())
        }
        _ => {
            sink.rejected.fetch_add(1, Ordering::SeqCst);
            (StatusCode::UNAUTHORIZED, String::new())
        }
    }
}

/// The actor's `publicKey.publicKeyPem`, fetched as an instance fetches it.
async fn public_key_pem(actor_url: &str) -> anyhow::Result<String> {
    let actor: serde_json::Value = reqwest::Client::new()
        .get(actor_url)
        .header("accept", "application/activity+json")
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    actor["publicKey"]["publicKeyPem"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{actor_url} has no publicKey.publicKeyPem"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(actor_url)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: fediverse_sink PORT ACTOR_URL");
    };
    let sink = Sink {
        public_key_pem: public_key_pem(&actor_url).await.context("fetching the actor's key")?,
        verified: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        first_ms: AtomicU64::new(0),
        last_ms: AtomicU64::new(0),
    };
    let app = Router::new().fallback(answer).with_state(Arc::new(sink));
    let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{port}")).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
