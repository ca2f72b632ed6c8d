//! Operations: load shedding, two nodes on one PostgreSQL database, graceful shutdown.

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
