//! The smallest axum server answering the same bytes as `openvoice serve`, from memory: what the
//! framework itself costs. `bench/pages.sh` measures it side by side with nginx and OpenVoice.
//!
//!     cargo run --release --example bare_axum -- ADDR PATH=FILE=CONTENT-TYPE...

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

type Pages = Arc<HashMap<String, (String, Bytes)>>;

async fn serve(State(pages): State<Pages>, uri: Uri) -> Response {
    match pages.get(uri.path()) {
        Some((content_type, body)) => ([(header::CONTENT_TYPE, content_type.clone())], body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().ok_or_else(|| anyhow::anyhow!("usage: bare_axum ADDR PATH=FILE=CONTENT-TYPE..."))?;
    let mut pages = HashMap::new();
    for arg in args {
        let mut parts = arg.splitn(3, '=');
        let (Some(path), Some(file), Some(content_type)) = (parts.next(), parts.next(), parts.next()) else {
            anyhow::bail!("{arg:?}: expected PATH=FILE=CONTENT-TYPE");
        };
        pages.insert(path.to_string(), (content_type.to_string(), Bytes::from(std::fs::read(file)?)));
    }
    let app = Router::new().fallback(serve).with_state(Arc::new(pages));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
