//! The trustless gateway for the site's own content (IPFS HTTP Gateway specs, path gateway):
//! `GET`/`HEAD /ipfs/{cid}[/path]` answering CARs, raw blocks, files (with `Range`) and
//! directories (their `index.html`); `/ipfs/site`, the current whole-site snapshot; and
//! `/ipns/{name}[/path]` for the site's own IPNS name (the snapshot, or the signed record).
//!
//! Only blocks in the site's own store are served: an unknown CID is a 404, not a fetch, and no
//! IPNS name but the site's is resolved.

use std::io::{self, Write};

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::{context, Value};
use openvoice_ipfs::node::{decode_node, Node};
use openvoice_ipfs::walk::{self, WalkError};
use openvoice_ipfs::{car, Cid, Scope};
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use crate::http::{AppError, AppState};
use crate::ipfs::queries;
use crate::ipfs::service::{self, DbBlocks};

const IMMUTABLE: &str = "public, max-age=29030400, immutable";
const CAR_TYPE: &str = "application/vnd.ipld.car; version=1";
const RAW_TYPE: &str = "application/vnd.ipld.raw";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ipfs/site", get(site_snapshot))
        .route("/ipfs/{cid}", get(root_only))
        .route("/ipfs/{cid}/", get(root_only))
        .route("/ipfs/{cid}/{*path}", get(with_path))
        .route("/ipns/{name}", get(ipns_root))
        .route("/ipns/{name}/", get(ipns_root))
        .route("/ipns/{name}/{*path}", get(ipns_with_path))
}

/// The IPFS links an article page shows, or `None` before its first bundle exists.
pub async fn article_links(state: &AppState, article_id: i64, slug: &str) -> Result<Option<Value>, AppError> {
    let current = queries::current_bundle(&state.db, article_id).await?;
    Ok(current.map(|(cid, _, _)| links_to(state, &cid, slug)))
}

/// [`article_links`] for the bundle `cid` of the article `slug`.
pub fn links_to(state: &AppState, cid: &str, slug: &str) -> Value {
    let gateways: Vec<Value> = state
        .config
        .ipfs
        .gateways
        .iter()
        .map(|g| {
            let name = g.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
            context! { name => name, url => format!("{}/ipfs/{cid}/", g.trim_end_matches('/')) }
        })
        .collect();
    context! {
        cid => cid,
        ipfs_url => format!("ipfs://{cid}"),
        car_url => format!("/ipfs/{cid}?format=car&filename={slug}.car"),
        local_url => format!("/ipfs/{cid}/"),
        gateways => gateways,
    }
}

#[derive(Debug, Deserialize)]
pub struct GatewayQuery {
    format: Option<String>,
    #[serde(rename = "dag-scope")]
    dag_scope: Option<String>,
    filename: Option<String>,
}

type GatewayParams = Result<Query<GatewayQuery>, QueryRejection>;

async fn site_snapshot(State(state): State<AppState>) -> Response {
    match queries::site_root(&state.db).await {
        Ok(Some(root)) => Redirect::to(&format!("/ipfs/{root}/")).into_response(),
        Ok(None) => gateway_error(StatusCode::NOT_FOUND, "no site snapshot has been built yet"),
        Err(err) => AppError::from(err).into_response(),
    }
}

async fn root_only(
    State(state): State<AppState>,
    Path(cid): Path<String>,
    headers: HeaderMap,
    params: GatewayParams,
) -> Response {
    gateway(state, cid, String::new(), headers, params).await
}

async fn with_path(
    State(state): State<AppState>,
    Path((cid, path)): Path<(String, String)>,
    headers: HeaderMap,
    params: GatewayParams,
) -> Response {
    gateway(state, cid, path, headers, params).await
}

const IPNS_RECORD_TYPE: &str = "application/vnd.ipfs.ipns-record";

async fn ipns_root(
    State(state): State<AppState>,
    Path(name): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
    params: GatewayParams,
) -> Response {
    // The snapshot's relative links need the directory's URL to end with a slash.
    let bare = !uri.path().ends_with('/');
    ipns_gateway(state, name, None, bare, headers, params).await
}

async fn ipns_with_path(
    State(state): State<AppState>,
    Path((name, path)): Path<(String, String)>,
    headers: HeaderMap,
    params: GatewayParams,
) -> Response {
    ipns_gateway(state, name, Some(path), false, headers, params).await
}

/// `/ipns/{name}`: for this site's name only (no other resolving), the latest site snapshot as
/// `/ipfs/` serves it but cacheable only for the record's TTL, or the signed record itself
/// (`?format=ipns-record` or `Accept: application/vnd.ipfs.ipns-record`).
async fn ipns_gateway(
    state: AppState,
    name: String,
    path: Option<String>,
    bare: bool,
    headers: HeaderMap,
    params: GatewayParams,
) -> Response {
    let (ours, record) = match service::current_ipns_record(&state.db, &state.config).await {
        Ok(Some(current)) => current,
        Ok(None) => return gateway_error(StatusCode::NOT_FOUND, "no site snapshot has been built yet"),
        Err(err) => return AppError::Internal(err.context("signing the IPNS record")).into_response(),
    };
    if name != ours {
        return gateway_error(
            StatusCode::NOT_FOUND,
            format!("{name} is not this site's IPNS name; this site resolves only its own, /ipns/{ours}"),
        );
    }
    let cache_control = format!("public, max-age={}", state.config.ipfs.ipns_ttl_secs);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = params.as_ref().ok().and_then(|Query(q)| q.format.as_deref());
    if format == Some("ipns-record") || (format.is_none() && accept.contains(IPNS_RECORD_TYPE)) {
        let disposition = format!("attachment; filename=\"{ours}.ipns-record\"");
        return (
            [
                (header::CONTENT_TYPE, IPNS_RECORD_TYPE.to_string()),
                (header::CACHE_CONTROL, cache_control),
                (header::CONTENT_DISPOSITION, disposition),
            ],
            record,
        )
            .into_response();
    }
    if bare && format.is_none() {
        return Redirect::permanent(&format!("/ipns/{ours}/")).into_response();
    }
    let root = match queries::site_root(&state.db).await {
        Ok(Some(root)) => root,
        Ok(None) => return gateway_error(StatusCode::NOT_FOUND, "no site snapshot has been built yet"),
        Err(err) => return AppError::from(err).into_response(),
    };
    let path = path.unwrap_or_default();
    let mut response = gateway(state, root, path.clone(), headers, params).await;
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&cache_control) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("/ipns/{ours}/{path}")) {
        h.insert("x-ipfs-path", v);
    }
    response
}

enum Wanted {
    Car(Scope),
    Raw,
    Content,
}

/// A gateway answer that is not content: plain text saying what is wrong.
fn gateway_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], message.into()).into_response()
}

async fn gateway(
    state: AppState,
    cid_text: String,
    path: String,
    headers: HeaderMap,
    params: GatewayParams,
) -> Response {
    let query = match params {
        Ok(Query(query)) => query,
        Err(err) => return gateway_error(StatusCode::BAD_REQUEST, err.body_text()),
    };
    let root = match openvoice_ipfs::parse_cid(&cid_text) {
        Ok(cid) => cid,
        Err(err) => return gateway_error(StatusCode::BAD_REQUEST, format!("invalid CID {cid_text:?}: {err}")),
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let wanted = match query.format.as_deref() {
        Some("car") => Wanted::Car(Scope::All),
        Some("raw") => Wanted::Raw,
        Some(other) => {
            return gateway_error(
                StatusCode::BAD_REQUEST,
                format!("unsupported format {other:?}: use car or raw, or none for the content"),
            )
        }
        None if accept.contains("application/vnd.ipld.car") => Wanted::Car(Scope::All),
        None if accept.contains("application/vnd.ipld.raw") => Wanted::Raw,
        None => Wanted::Content,
    };
    let wanted = match (wanted, query.dag_scope.as_deref()) {
        (Wanted::Car(_), Some("all") | None) => Wanted::Car(Scope::All),
        (Wanted::Car(_), Some("entity")) => Wanted::Car(Scope::Entity),
        (Wanted::Car(_), Some("block")) => Wanted::Car(Scope::Block),
        (Wanted::Car(_), Some(other)) => {
            return gateway_error(
                StatusCode::BAD_REQUEST,
                format!("unsupported dag-scope {other:?}: use all, entity or block"),
            )
        }
        (wanted, _) => wanted,
    };
    match queries::get_block(&state.db, &root.to_string()).await {
        Ok(Some(_)) => {}
        Ok(None) => return gateway_error(StatusCode::NOT_FOUND, format!("{root} is not on this site")),
        Err(err) => return AppError::from(err).into_response(),
    }
    let content_path = if path.is_empty() { format!("/ipfs/{root}") } else { format!("/ipfs/{root}/{path}") };
    let blocks = DbBlocks::new(state.db.clone());
    let result = match wanted {
        Wanted::Car(scope) => car_response(blocks, root, path, scope, query.filename.as_deref()).await,
        Wanted::Raw => raw_response(blocks, root, path).await,
        Wanted::Content => content_response(blocks, root, path, &headers).await,
    };
    match result {
        Ok((etag, mut response)) => {
            if let Some(tag) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
                if response.status() == StatusCode::OK && tag.split(',').any(|t| t.trim() == etag) {
                    response = StatusCode::NOT_MODIFIED.into_response();
                }
            }
            let h = response.headers_mut();
            let set = |h: &mut HeaderMap, name: &'static str, value: &str| {
                if let Ok(v) = HeaderValue::from_str(value) {
                    h.insert(name, v);
                }
            };
            set(h, "etag", &etag);
            set(h, "x-ipfs-path", &content_path);
            set(h, "x-ipfs-roots", &root.to_string());
            set(h, "cache-control", IMMUTABLE);
            response
        }
        Err(err) => walk_error_response(err),
    }
}

fn walk_error_response(err: WalkError) -> Response {
    match err {
        WalkError::NotFound { .. } | WalkError::Missing(_) => gateway_error(StatusCode::NOT_FOUND, err.to_string()),
        WalkError::NotADirectory { .. } | WalkError::NotAFile(_) | WalkError::UnsafeName { .. } => {
            gateway_error(StatusCode::BAD_REQUEST, err.to_string())
        }
        other => AppError::Internal(anyhow::anyhow!("gateway walk: {other}")).into_response(),
    }
}

/// Runs a blocking walk on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, WalkError> + Send + 'static,
) -> Result<T, WalkError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|join| Err(WalkError::Io(io::Error::other(join.to_string()))))
}

async fn car_response(
    blocks: DbBlocks,
    root: Cid,
    path: String,
    scope: Scope,
    filename: Option<&str>,
) -> Result<(String, Response), WalkError> {
    let filename = match filename {
        Some(name) if is_safe_filename(name) => name.to_string(),
        Some(name) => {
            return Ok((
                String::new(),
                gateway_error(
                    StatusCode::BAD_REQUEST,
                    format!("filename {name:?}: use letters, digits, '.', '-' and '_' only"),
                ),
            ))
        }
        None => format!("{root}.car"),
    };
    let (resolved_tx, resolved_rx) = oneshot::channel();
    let (writer, body) = channel_body();
    tokio::task::spawn_blocking(move || {
        let (resolved, iter) = match walk::blocks_for_path(&blocks, &root, &path, scope) {
            Ok(found) => found,
            Err(err) => {
                let _ = resolved_tx.send(Err(err));
                return;
            }
        };
        let _ = resolved_tx.send(Ok(resolved.cid));
        let Ok(mut car) = car::CarWriter::new(&root, writer) else { return };
        for block in iter {
            // A failure mid-stream can only cut the response short; the reader's verification
            // then fails, which is the honest outcome.
            let Ok(block) = block else { return };
            if car.write_block(&block.cid, &block.data).is_err() {
                return;
            }
        }
        let _ = car.finish();
    });
    let target =
        resolved_rx.await.unwrap_or_else(|_| Err(WalkError::Io(io::Error::other("gateway walk ended early"))))?;
    let scope_name = match scope {
        Scope::All => "all",
        Scope::Entity => "entity",
        Scope::Block => "block",
    };
    let etag = format!("\"{target}.car.{scope_name}\"");
    let response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, CAR_TYPE.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        body,
    )
        .into_response();
    Ok((etag, response))
}

async fn raw_response(blocks: DbBlocks, root: Cid, path: String) -> Result<(String, Response), WalkError> {
    let (cid, data) = blocking(move || {
        let cid = if path.is_empty() { root } else { walk::resolve_path(&blocks, &root, &path)?.cid };
        let data = openvoice_ipfs::walk::BlockSource::get(&blocks, &cid)
            .map_err(|e| WalkError::Source { cid, source: Box::new(e) })?
            .ok_or(WalkError::Missing(cid))?;
        Ok((cid, data))
    })
    .await?;
    let response = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, RAW_TYPE.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{cid}.bin\"")),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        data,
    )
        .into_response();
    Ok((format!("\"{cid}.raw\""), response))
}

async fn content_response(
    blocks: DbBlocks,
    root: Cid,
    path: String,
    headers: &HeaderMap,
) -> Result<(String, Response), WalkError> {
    // Resolve the path; a directory serves its index.html.
    let lookup = blocks.clone();
    let (file, name) = blocking(move || {
        let target = if path.is_empty() { root } else { walk::resolve_path(&lookup, &root, &path)?.cid };
        let data = openvoice_ipfs::walk::BlockSource::get(&lookup, &target)
            .map_err(|e| WalkError::Source { cid: target, source: Box::new(e) })?
            .ok_or(WalkError::Missing(target))?;
        let is_directory = matches!(
            decode_node(&target, &data).map_err(|e| WalkError::Decode { cid: target, source: Box::new(e) })?,
            Node::Directory(_) | Node::HamtShard(_)
        );
        if is_directory {
            let index = walk::resolve_path(&lookup, &target, "index.html")?.cid;
            return Ok((index, "index.html".to_string()));
        }
        Ok((target, path.rsplit('/').next().unwrap_or_default().to_string()))
    })
    .await?;
    let sizer = blocks.clone();
    let (size, head) = blocking(move || {
        let size = walk::file_size(&sizer, &file)?;
        let mut head = Vec::new();
        walk::read_range(&sizer, &file, 0..512, &mut head)?;
        Ok((size, head))
    })
    .await?;
    let content_type = content_type_of(&name, &head);
    let etag = format!("\"{file}\"");
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(spec) => match parse_range(spec, size) {
            Some(range) => Some(range),
            None => {
                let response = (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                    "the requested range is not satisfiable",
                )
                    .into_response();
                return Ok((etag, response));
            }
        },
    };
    let (status, wanted) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.clone()),
        None => (StatusCode::OK, 0..size),
    };
    let (writer, body) = channel_body();
    let reader_range = wanted.clone();
    tokio::task::spawn_blocking(move || {
        let mut writer = writer;
        let _ = walk::read_range(&blocks, &file, reader_range, &mut writer);
        let _ = writer.flush();
    });
    let mut response = (status, [(header::CONTENT_TYPE, content_type)], body).into_response();
    let h = response.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(wanted.end - wanted.start));
    if range.is_some() {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", wanted.start, wanted.end.saturating_sub(1)))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok((etag, response))
}

/// One `bytes=` range (`a-b`, `a-`, `-n`) within `size`; multiple ranges are not supported.
fn parse_range(spec: &str, size: u64) -> Option<std::ops::Range<u64>> {
    let spec = spec.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (size.saturating_sub(n), size)
        }
        (start, "") => (start.parse().ok()?, size),
        (start, end) => (start.parse().ok()?, end.parse::<u64>().ok()?.saturating_add(1).min(size)),
    };
    (start < end && start < size).then_some(start..end)
}

fn is_safe_filename(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !name.starts_with('.')
}

/// The content type from the name's extension, else sniffed from the first bytes.
fn content_type_of(name: &str, head: &[u8]) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("md") => "text/markdown; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("xml") => "application/xml",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("pdf") => "application/pdf",
        Some("car") => CAR_TYPE,
        _ if head.starts_with(b"\x89PNG") => "image/png",
        _ if head.starts_with(b"\xff\xd8\xff") => "image/jpeg",
        _ if head.starts_with(b"GIF8") => "image/gif",
        _ if head.starts_with(b"%PDF") => "application/pdf",
        _ if std::str::from_utf8(head).is_ok() => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A `Write` that feeds a streaming response body from a blocking thread, 64 KiB at a time.
struct ChannelWriter {
    buffer: Vec<u8>,
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
}

const CHUNK: usize = 64 * 1024;

fn channel_body() -> (ChannelWriter, Body) {
    let (sender, mut receiver) = mpsc::channel(8);
    // The receiver answers `None` for as long as it is asked once the writer is gone. A body may
    // be polled again after its end (tower-http's compression does), and a stream such as
    // `unfold` panics then, which cut every compressed download off at its first byte.
    let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    (ChannelWriter { buffer: Vec::with_capacity(CHUNK), sender }, Body::from_stream(stream))
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK)));
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Drop for ChannelWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Some(90..100));
        assert_eq!(parse_range("bytes=-5", 100), Some(95..100));
        assert_eq!(parse_range("bytes=95-200", 100), Some(95..100));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type_of("index.html", b""), "text/html; charset=utf-8");
        assert_eq!(content_type_of("noext", b"\x89PNG\r\n"), "image/png");
        assert_eq!(content_type_of("noext", &[0xff, 0x00, 0xfe]), "application/octet-stream");
    }
}
