//! `bench/fediverse.sh`'s remote instances: one axum server on `0.0.0.0:PORT`, which every
//! loopback address 127.x.y.z reaches, answering each POST with 202 and counting those that
//! carry a `Signature` header. `GET /stats` answers `<count> <first ms> <last ms>` (Unix
//! milliseconds of the first and last signed request; 0 before any), `POST /reset` starts over.
//!
//!     cargo run --release --example fediverse_sink -- PORT

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::Router;

#[derive(Default)]
struct Counts {
    signed: AtomicU64,
    first_ms: AtomicU64,
    last_ms: AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

async fn answer(
    State(counts): State<Arc<Counts>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> (StatusCode, String) {
    match (method, uri.path()) {
        (Method::GET, "/stats") => {
            let (n, first, last) = (
                counts.signed.load(Ordering::SeqCst),
                counts.first_ms.load(Ordering::SeqCst),
                counts.last_ms.load(Ordering::SeqCst),
            );
            (StatusCode::OK, format!("{n} {first} {last}\n"))
        }
        (Method::POST, "/reset") => {
            counts.signed.store(0, Ordering::SeqCst);
            counts.first_ms.store(0, Ordering::SeqCst);
            counts.last_ms.store(0, Ordering::SeqCst);
            (StatusCode::OK, String::new())
        }
        (Method::POST, _) if headers.contains_key("signature") => {
            let now = now_ms();
            let _ = counts.first_ms.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
            counts.last_ms.fetch_max(now, Ordering::SeqCst);
            counts.signed.fetch_add(1, Ordering::SeqCst);
            (StatusCode::ACCEPTED, String::new())
        }
        _ => (StatusCode::UNAUTHORIZED, String::new()),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let port = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: fediverse_sink PORT"))?;
    let app = Router::new().fallback(answer).with_state(Arc::new(Counts::default()));
    let listener = tokio::net::TcpListener::bind(format!("0.0.0.0:{port}")).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
