//! What readers and editors do, in headless Chromium with the browser's own headers, against
//! `openvoice serve` as an operator runs it (its job worker and mail delivery included), on each
//! backend. The journeys are in `tests/browser/journeys.mjs`; this side builds the site, plays
//! the reader's mailbox (the real SMTP server's mail) and the reader's mail provider (one-click
//! unsubscribe), and fails on any panic in the server's log.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::market_apis::FakeApis;
use common::node::Node;
use common::smtp::SmtpPeer;
use common::{cli_at, free_port, fresh_database_url, postgres_url, skip_or_fail, stderr, stdout, Backend};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const EDITOR: &str = "journey-editor";
const PASSWORD: &str = "a long enough editor password";
/// An article whose content is wider than a phone: an unbroken title, a long link, a table of
/// many columns and a long line of code; and, as an imported WordPress post has them, a video
/// embedded by its bare link and a figure floated beside the text.
const WIDE_TITLE: &str = "Supercalifragilisticexpialidociousharbourauthorityannouncementsfortheentireweek";
const WIDE_BODY: &str = "Read the whole report at \
https://council.example.org/documents/2026/harbour-authority/annual-report-with-appendices-and-tables.pdf\n\n\
https://www.youtube.com/watch?v=dQw4w9WgXcQ\n\n\
<figure class=\"wp-caption alignleft\"><figcaption>Tide tables, north quay</figcaption></figure>\n\n\
| Quarter | Arrivals | Departures | Cargo tonnes | Passengers | Fuel sold | Pilots | Tugs | Berths | Notes |\n\
|---|---|---|---|---|---|---|---|---|---|\n\
| First | 1,204 | 1,198 | 2,340,000 | 310,000 | 12,000,000 | 44 | 12 | 31 | Winter storms closed the outer harbour |\n\
| Second | 1,530 | 1,527 | 2,910,000 | 402,000 | 14,500,000 | 46 | 12 | 31 | Dredging of the northern channel |\n\n\
```\nharbour-authority --report annual --format pdf --include appendices,tables,charts,maps --output /srv/reports/2026\n```\n";

fn browser_ready() -> Option<String> {
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules/playwright-core");
    let verifier = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ipfs-js/node_modules");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = std::process::Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if modules.exists() && verifier.exists() && Path::new(&chromium).exists() && node {
        return Some(chromium);
    }
    skip_or_fail("browser journeys (need node, /usr/bin/chromium and `npm ci` in tests/browser and tests/ipfs-js)");
    None
}

#[tokio::test]
async fn readers_and_editors_journeys_in_chromium_on_sqlite() {
    journeys(Backend::Sqlite).await;
}

#[tokio::test]
async fn readers_and_editors_journeys_in_chromium_on_postgres() {
    if postgres_url().is_none() {
        skip_or_fail("the browser journeys on PostgreSQL (set OPENVOICE_TEST_POSTGRES_URL)");
        return;
    }
    journeys(Backend::Postgres).await;
}

async fn journeys(backend: Backend) {
    let Some(chromium) = browser_ready() else { return };
    let Some(peer) = SmtpPeer::start() else { return };
    let started = Instant::now();
    let apis = FakeApis::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(backend, dir.path()).await;
    let settings = format!(
        "[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\n\
         poll_interval_secs = 1\nretry_base_secs = 1\n\n\
         [jobs]\npoll_interval_ms = 100\n\n\
         [comments]\nmin_seconds = 0\n\n\
         [market]\ncoingecko_base_url = \"{}\"\ncoincap_base_url = \"{}\"\n",
        peer.port,
        apis.coingecko_url(),
        apis.coincap_url()
    );
    common::write_file(dir.path(), "openvoice.toml", &settings);
    let cli = |args: &[&str], stdin: Option<&str>| {
        let out = cli_at(dir.path(), &url, args, stdin);
        assert!(out.status.success(), "openvoice {args:?}: {}{}", stdout(&out), stderr(&out));
        stdout(&out)
    };
    cli(&["init"], None);
    cli(
        &["user", "add", EDITOR, "--email", "editor@example.org", "--role", "editor", "--password-stdin"],
        Some(PASSWORD),
    );
    let body = common::write_file(dir.path(), "wide.md", WIDE_BODY);
    let published = cli(
        &[
            "post",
            "new",
            "--title",
            WIDE_TITLE,
            "--category",
            "Economy",
            "--tags",
            "Harbour,Annual reports",
            "--file",
            body.to_str().unwrap(),
            "--publish",
        ],
        None,
    );
    let slug = published.strip_prefix("published ").and_then(|rest| rest.split_whitespace().next());
    let wide = format!("/article/{}", slug.expect("the new slug"));
    let png = dir.path().join("harbour.png");
    image::RgbImage::from_fn(320, 200, |x, y| image::Rgb([20 + (y / 2) as u8, 40 + (x / 4) as u8, 90]))
        .save(&png)
        .unwrap();

    let mut node = Node::start(dir.path(), Some(&url), free_port(), &[]);
    node.wait_healthy().await;
    let work = dir.path().join("browser");
    std::fs::create_dir(&work).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut browser = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/journeys.mjs"))
        .args([&node.base, EDITOR, PASSWORD, &wide])
        .arg(&png)
        .arg(root.join("tests/ipfs-js/verify-car.mjs"))
        .arg(&work)
        .env("CHROMIUM", &chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("running node");
    let mut answers = browser.stdin.take().unwrap();
    let mut lines = BufReader::new(browser.stdout.take().unwrap()).lines();
    let mut journeys = Vec::new();
    let conversation = async {
        while let Some(line) = lines.next_line().await.expect("the browser's output") {
            if let Some(question) = line.strip_prefix("ASK ") {
                let answer = answer(&peer, serde_json::from_str(question).expect("a JSON question")).await;
                answers.write_all(format!("{answer}\n").as_bytes()).await.unwrap();
            } else if let Some(journey) = line.strip_prefix("JOURNEY ") {
                eprintln!("{backend:?}: journey {journey}");
                journeys.push(journey.to_string());
            } else {
                eprintln!("browser: {line}");
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(240), conversation).await.expect("the journeys finished in time");
    let status = browser.wait().await.unwrap();
    if !status.success() {
        let log = node.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        eprintln!("the server's last log lines:\n{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
    }
    assert!(status.success(), "a journey failed (its FAIL line is above); done: {journeys:?}");
    let all = ["reading", "wordpress", "ipfs", "subscription", "editor", "ipfs-offline", "unsubscribe", "comment"];
    let ran = |name: &str| journeys.iter().any(|j| j.starts_with(&format!("{name} ")));
    assert!(all.into_iter().all(ran), "every journey ran: {journeys:?}");
    eprintln!("{backend:?}: journeys {journeys:?} in {:.1}s", started.elapsed().as_secs_f64());

    let (status, log) = node.stop();
    assert!(status.success(), "{log}");
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    common::drop_database(&url).await;
}

#[tokio::test]
async fn passkeys_in_chromium_on_sqlite() {
    passkeys(Backend::Sqlite).await;
}

#[tokio::test]
async fn passkeys_in_chromium_on_postgres() {
    if postgres_url().is_none() {
        skip_or_fail("passkeys in Chromium on PostgreSQL (set OPENVOICE_TEST_POSTGRES_URL)");
        return;
    }
    passkeys(Backend::Postgres).await;
}

/// Passkeys added and used in Chromium with its virtual authenticator, against `serve` at
/// `http://localhost:PORT` (browsers give passkeys to domain names only); the journey is
/// `tests/browser/passkeys.mjs`.
async fn passkeys(backend: Backend) {
    let Some(chromium) = browser_ready() else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(backend, dir.path()).await;
    let init = cli_at(dir.path(), &url, &["init"], None);
    assert!(init.status.success(), "{}", stderr(&init));
    let add = ["user", "add", EDITOR, "--email", "editor@example.org", "--role", "editor", "--password-stdin"];
    let added = cli_at(dir.path(), &url, &add, Some(PASSWORD));
    assert!(added.status.success(), "{}", stderr(&added));
    let port = free_port();
    let base = format!("http://localhost:{port}");
    let mut node = Node::start(dir.path(), Some(&url), port, &[("OPENVOICE_SITE_BASE_URL", &base)]);
    node.wait_healthy().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/passkeys.mjs");
    let run = tokio::process::Command::new("node")
        .arg(script)
        .args([&base, EDITOR, PASSWORD])
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run).await.expect("in time").expect("running node");
    let (printed, problems) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let (status, log) = node.stop();
    assert!(out.status.success(), "{printed}{problems}\nthe server's log:\n{log}");
    assert!(printed.contains("JOURNEY passkeys ok"), "{printed}");
    assert!(status.success(), "{log}");
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
    common::drop_database(&url).await;
}

/// Waits for mail to `to` matching `wanted`, the newest first.
async fn mail_to(peer: &SmtpPeer, to: &str, wanted: impl Fn(&mail_parser::Message) -> bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = peer.to(to).into_iter().rev().find(|m| wanted(&m.parsed())) {
            return found.raw;
        }
        assert!(Instant::now() < deadline, "no such mail to {to} after 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What the reader's mailbox and mail provider answer the browser.
async fn answer(peer: &SmtpPeer, question: Value) -> Value {
    let to = question["to"].as_str().expect("to");
    match question["ask"].as_str() {
        // The first link in the newest mail that has one under `path`: what the reader clicks.
        Some("link") => {
            let path = question["path"].as_str().expect("path");
            let has_link = |text: &str| {
                text.split_whitespace().find(|w| w.starts_with("http") && w.contains(path)).map(str::to_string)
            };
            let raw = mail_to(peer, to, |m| m.body_text(0).is_some_and(|t| has_link(&t).is_some())).await;
            let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let link = has_link(&message.body_text(0).unwrap()).unwrap();
            json!({ "url": link.trim_end_matches(['.', ',', ')', '>']) })
        }
        // A mail provider's one-click unsubscribe (RFC 8058) for the mail whose subject has `subject`.
        Some("one-click-unsubscribe") => {
            let subject = question["subject"].as_str().expect("subject");
            let raw = mail_to(peer, to, |m| m.subject().is_some_and(|s| s.contains(subject))).await;
            let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
            let header = message.header_raw("List-Unsubscribe").expect("List-Unsubscribe");
            assert_eq!(message.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));
            let url =
                header.split(['<', '>']).find(|part| part.starts_with("http")).expect("an https link").to_string();
            let response = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("List-Unsubscribe=One-Click")
                .send()
                .await
                .unwrap();
            json!({ "status": response.status().as_u16() })
        }
        other => panic!("the browser asked {other:?}"),
    }
}
