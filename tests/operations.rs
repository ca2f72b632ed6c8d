//! Operations: load shedding, two nodes on one PostgreSQL database, graceful shutdown.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::node::Node;
use common::{cli_at, fresh_database_url, postgres_url, skip_or_fail, stdout, Backend, TestSite};

#[tokio::test]
async fn excess_load_is_shed_with_503_and_retry_after() {
    let site = TestSite::start_with(Backend::Sqlite, "[http]\nmax_concurrency = 1\n").await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..64 {
        let client = site.client.clone();
        // Distinct searches so no answer comes from the page cache.
        let url = format!("{}/search?q=coast+{n}", site.base);
        tasks.spawn(async move {
            let response = client.get(url).send().await.unwrap();
            (response.status().as_u16(), response.headers().get("retry-after").is_some())
        });
    }
    let (mut ok, mut shed) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            (200, _) => ok += 1,
            (503, true) => shed += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(ok >= 1 && shed >= 1, "ok {ok}, shed {shed}");
    site.finish().await;
}

/// A node polling for jobs every 100 ms, as a test waits for scheduled work.
fn node(dir: &std::path::Path, database_url: &str) -> Node {
    Node::start(dir, Some(database_url), 0, &[("OPENVOICE_JOBS_POLL_INTERVAL_MS", "100")])
}

async fn status_of(client: &reqwest::Client, url: String) -> u16 {
    client.get(url).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

#[tokio::test]
async fn two_nodes_on_one_postgres_behave_as_one_site() {
    if postgres_url().is_none() {
        skip_or_fail("the two-node PostgreSQL test (set OPENVOICE_TEST_POSTGRES_URL)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(Backend::Postgres, dir.path()).await;
    let init = cli_at(dir.path(), &url, &["init"], None);
    assert!(init.status.success());
    let (mut a, mut b) = (node(dir.path(), &url), node(dir.path(), &url));
    let client = reqwest::Client::new();
    a.wait_healthy().await;
    b.wait_healthy().await;
    // Warm both nodes' page caches.
    for node in [&a, &b] {
        let home = client.get(format!("{}/", node.base)).send().await.unwrap().text().await.unwrap();
        assert!(!home.contains("Node Test"));
    }

    // Ten articles due in two seconds: whichever node claims each job publishes it, once.
    let body = common::write_file(dir.path(), "b.md", "Published by whichever node claims the job.");
    let when = chrono::Utc::now() + chrono::Duration::seconds(2);
    let when = when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for n in 0..10 {
        let out = cli_at(
            dir.path(),
            &url,
            &[
                "post",
                "new",
                "--title",
                &format!("Node Test {n}"),
                "--category",
                "Economy",
                "--file",
                body.to_str().unwrap(),
                "--schedule",
                &when,
            ],
            None,
        );
        assert!(stdout(&out).starts_with("scheduled"), "{}", common::stderr(&out));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut live = 0;
        for node in [&a, &b] {
            for n in 0..10 {
                if status_of(&client, format!("{}/article/node-test-{n}", node.base)).await == 200 {
                    live += 1;
                }
            }
        }
        if live == 20 {
            break;
        }
        assert!(Instant::now() < deadline, "only {live}/20 article pages live across both nodes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Each node's cached home page has followed the other's writes.
    for node in [&a, &b] {
        let home = client.get(format!("{}/", node.base)).send().await.unwrap().text().await.unwrap();
        assert!(home.contains("Node Test"), "{}", node.base);
    }

    let db = openvoice::store::Db::connect(&url, 2).await.unwrap();
    let published: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT a.id, (SELECT COUNT(*) FROM activity v WHERE v.kind = 'article.published' AND v.subject_id = a.id) \
         FROM articles a WHERE a.slug LIKE 'node-test-%'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(published.len(), 10);
    assert!(published.iter().all(|(_, n)| *n == 1), "each scheduled job ran exactly once: {published:?}");
    let jobs: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, attempts FROM jobs WHERE kind = 'content.publish_scheduled'")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert!(jobs.iter().all(|(state, attempts)| state == "done" && *attempts == 1), "{jobs:?}");
    let lockers: i64 =
        sqlx::query_scalar("SELECT COUNT(DISTINCT locked_by) FROM jobs WHERE kind = 'content.publish_scheduled'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    eprintln!("jobs were run by {lockers} node(s)");
    db.pool.close().await;

    for node in [a, b] {
        let (status, log) = node.stop();
        assert!(status.success(), "graceful exit on SIGTERM: {log}");
        assert!(log.contains("Shut down cleanly"), "{log}");
    }
    common::drop_database(&url).await;
}

#[tokio::test]
async fn serve_on_a_fresh_folder_seeds_once_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("site");
    let url = openvoice::store::sqlite_url_for(&data);
    std::fs::create_dir_all(&data).unwrap();
    let client = reqwest::Client::new();
    let mut first = node(&data, &url);
    first.wait_healthy().await;
    assert_eq!(
        status_of(&client, format!("{}/article/parliament-approves-coastal-drone-patrols", first.base)).await,
        200
    );
    let (status, printed) = first.stop();
    assert!(status.success());
    assert!(printed.contains("password: "), "the first start prints the admin password: {printed}");
    let journal: String = {
        let db = openvoice::store::Db::connect(&url, 1).await.unwrap();
        let mode = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&db.pool).await.unwrap();
        db.pool.close().await;
        mode
    };
    assert_eq!(journal.to_lowercase(), "wal");
    let mut second = node(&data, &url);
    second.wait_healthy().await;
    let (status, log) = second.stop();
    assert!(status.success());
    assert!(!log.contains("password"), "a second start seeds nothing and prints no password");
}

on_each_backend!(a_backup_taken_during_a_comment_burst_restores_every_acknowledged_comment);
/// `openvoice backup` while readers comment without pause: the copy holds every comment the site
/// acknowledged before the backup began, the site answers during it, a damaged copy is refused
/// before anything is replaced, and so is a restore under a running site.
async fn a_backup_taken_during_a_comment_burst_restores_every_acknowledged_comment(backend: Backend) {
    let config =
        "[comments]\nmin_seconds = 0\nflood_seconds = 0\nrate_limit_burst = 100000\nrate_limit_per_minute = 100000\n";
    let site = TestSite::start_with(backend, config).await;
    let slug = "parliament-approves-coastal-drone-patrols";
    let backups = tempfile::tempdir().unwrap();
    let out = backups.path().join("site.backup");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let acknowledged_so_far = std::sync::atomic::AtomicUsize::new(0);
    let burst = async {
        let mut acknowledged = Vec::new();
        let mut n = 0;
        while !stop.load(std::sync::atomic::Ordering::Acquire) {
            let text = format!("Burst comment number {n}.");
            let response = common::post_comment(&site, slug, "Burst Reader", "burst@example.org", &text).await;
            assert_eq!(response.status(), 303, "{text}");
            acknowledged.push((text, Instant::now()));
            acknowledged_so_far.fetch_add(1, std::sync::atomic::Ordering::Release);
            n += 1;
        }
        acknowledged
    };
    let backup = async {
        while acknowledged_so_far.load(std::sync::atomic::Ordering::Acquire) < 5 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (dir, url, out) = (site.dir.path().to_path_buf(), site.database_url.clone(), out.clone());
        let started = Instant::now();
        let output = tokio::task::spawn_blocking(move || cli_at(&dir, &url, &["backup", out.to_str().unwrap()], None))
            .await
            .unwrap();
        let finished = Instant::now();
        stop.store(true, std::sync::atomic::Ordering::Release);
        assert!(output.status.success(), "{}", common::stderr(&output));
        assert!(stdout(&output).contains("restore with: openvoice restore"), "{}", stdout(&output));
        (started, finished)
    };
    let (acknowledged, (started, finished)) = tokio::join!(burst, backup);
    let before: Vec<&String> = acknowledged.iter().filter(|(_, at)| *at < started).map(|(text, _)| text).collect();
    let during = acknowledged.iter().filter(|(_, at)| (started..finished).contains(at)).count();
    assert!(before.len() >= 5, "{backend:?}");
    assert!(during >= 1, "{backend:?}: the site acknowledged no comment while the backup ran");

    // The checksum file is what `sha256sum -c` checks.
    let check = std::process::Command::new("sha256sum")
        .arg("-c")
        .arg("site.backup.sha256")
        .current_dir(backups.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    assert!(!site.cli(&["backup", out.to_str().unwrap()]).status.success(), "a backup never overwrites");

    let marker = "Written after the backup.";
    assert_eq!(common::post_comment(&site, slug, "Late Reader", "late@example.org", marker).await.status(), 303);

    // A damaged copy: refused, and nothing replaced.
    let damaged = backups.path().join("damaged.backup");
    let mut bytes = std::fs::read(&out).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&damaged, bytes).unwrap();
    std::fs::copy(backups.path().join("site.backup.sha256"), backups.path().join("damaged.backup.sha256")).unwrap();
    let refused = site.cli(&["restore", damaged.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(common::stderr(&refused).contains("does not match its checksum"), "{}", common::stderr(&refused));
    assert!(site_comments(&site.db).await.iter().any(|t| t == marker), "{backend:?}: nothing was replaced");

    // Not under a running site.
    let mut node = Node::start(site.dir.path(), Some(&site.database_url), 0, &[]);
    node.wait_healthy().await;
    let refused = site.cli(&["restore", out.to_str().unwrap()]);
    assert!(common::stderr(&refused).contains("the site is running"), "{}", common::stderr(&refused));
    node.kill();
    assert!(site_comments(&site.db).await.iter().any(|t| t == marker), "{backend:?}: nothing was replaced");

    let restored = site.cli(&["restore", out.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", common::stderr(&restored));
    let db = openvoice::store::Db::connect(&site.database_url, 1).await.unwrap();
    let comments = site_comments(&db).await;
    for text in &before {
        assert!(comments.contains(text), "{backend:?}: {text} was acknowledged before the backup and is missing");
    }
    assert!(!comments.iter().any(|t| t == marker), "{backend:?}: the database is the backup's");
    db.pool.close().await;
    if backend == Backend::Sqlite {
        // The replaced database is kept: what was written after the backup is not lost.
        let kept = std::fs::read_dir(site.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let name = p.to_string_lossy();
                name.contains(".before-restore-") && !name.ends_with("-shm") && !name.ends_with("-wal")
            })
            .expect("the replaced database");
        let kept = openvoice::store::Db::connect(&format!("sqlite://{}", kept.display()), 1).await.unwrap();
        assert!(site_comments(&kept).await.iter().any(|t| t == marker));
        kept.pool.close().await;
    }
    site.finish().await;
}

async fn site_comments(db: &openvoice::store::Db) -> Vec<String> {
    sqlx::query_scalar("SELECT content FROM comments").fetch_all(&db.pool).await.unwrap()
}

on_each_backend!(two_nodes_share_each_public_rate_limit);
/// The comment form, the subscribe form and search allow a client `burst` requests across all
/// nodes, not `burst` on each.
async fn two_nodes_share_each_public_rate_limit(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(backend, dir.path()).await;
    assert!(cli_at(dir.path(), &url, &["init"], None).status.success());
    let env = [
        ("OPENVOICE_CONTENT_SEARCH_BURST", "2"),
        ("OPENVOICE_CONTENT_SEARCH_PER_MINUTE", "1"),
        ("OPENVOICE_COMMENTS_RATE_LIMIT_BURST", "2"),
        ("OPENVOICE_COMMENTS_RATE_LIMIT_PER_MINUTE", "1"),
        ("OPENVOICE_COMMENTS_MIN_SECONDS", "0"),
        ("OPENVOICE_COMMENTS_FLOOD_SECONDS", "0"),
        ("OPENVOICE_SUBSCRIPTIONS_RATE_LIMIT_BURST", "2"),
        ("OPENVOICE_SUBSCRIPTIONS_RATE_LIMIT_PER_MINUTE", "1"),
    ];
    let (mut a, mut b) = (Node::start(dir.path(), Some(&url), 0, &env), Node::start(dir.path(), Some(&url), 0, &env));
    a.wait_healthy().await;
    b.wait_healthy().await;
    let client = reqwest::Client::new();

    let search = |node: &Node, words: &str| format!("{}/search?q={words}", node.base);
    assert_eq!(status_of(&client, search(&a, "harbour")).await, 200);
    assert_eq!(status_of(&client, search(&a, "council")).await, 200);
    assert_eq!(status_of(&client, search(&b, "bridge")).await, 429, "{backend:?}: search on the other node");

    let slug = "parliament-approves-coastal-drone-patrols";
    for n in 0..2 {
        let response = common::post_comment_to(&a.base, slug, "Ann", "ann@example.org", &format!("Point {n}.")).await;
        assert_eq!(response.status(), 303);
    }
    let refused = common::post_comment_to(&b.base, slug, "Ann", "ann@example.org", "Point 2.").await;
    assert_eq!(refused.status(), 429, "{backend:?}: a comment on the other node");
    assert!(refused.headers().contains_key("retry-after"));

    let subscribe = |node: &Node, n: u32| {
        client
            .post(format!("{}/subscribe", node.base))
            .header("origin", &node.base)
            .form(&[("email", format!("reader{n}@example.org"))])
            .send()
    };
    for n in 0..2 {
        assert_eq!(subscribe(&a, n).await.unwrap().status(), 200);
    }
    assert_eq!(subscribe(&b, 2).await.unwrap().status(), 429, "{backend:?}: subscribing on the other node");

    // The database holds keyed hashes of addresses, not the addresses.
    let db = openvoice::store::Db::connect(&url, 1).await.unwrap();
    let clients: Vec<String> = sqlx::query_scalar("SELECT client FROM rate_buckets").fetch_all(&db.pool).await.unwrap();
    assert!(!clients.is_empty() && clients.iter().all(|c| !c.contains("127.0.0.1")), "{clients:?}");
    db.pool.close().await;
    for node in [a, b] {
        let (status, log) = node.stop();
        assert!(status.success(), "{log}");
    }
    common::drop_database(&url).await;
}
