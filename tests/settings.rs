//! The settings screen over real HTTP, on SQLite and PostgreSQL: saved settings reach the public
//! pages without a restart; invalid values are refused at their field with nothing saved;
//! secrets are never shown back; only admins get in; the job worker is rebuilt with new settings.

#[macro_use]
mod common;

use std::time::Duration;

use common::desk::{texts_of, Desk};
use common::{Backend, TestSite};
use openvoice::accounts::Role;
use reqwest::StatusCode;

async fn saved_rows(site: &TestSite) -> Vec<(String, String)> {
    sqlx::query_as("SELECT key, value FROM site_settings ORDER BY key").fetch_all(&site.db.pool).await.unwrap()
}

/// The date the home page shows for its newest article.
async fn first_date(site: &TestSite) -> String {
    let (status, html) = site.fetch("/").await;
    assert_eq!(status, 200);
    texts_of(&html, "main time").into_iter().next().expect("an article date")
}

fn date_in(ts: i64, zone: &str) -> String {
    let zone: chrono_tz::Tz = zone.parse().unwrap();
    chrono::DateTime::from_timestamp(ts, 0).unwrap().with_timezone(&zone).format("%-d %B %Y").to_string()
}

on_each_backend!(saved_settings_reach_the_public_pages_without_a_restart);
async fn saved_settings_reach_the_public_pages_without_a_restart(backend: Backend) {
    let site = TestSite::start(backend).await;
    let admin = Desk::sign_in(&site, Role::Admin).await;
    let page = admin.get(&site, "/admin/settings").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert_eq!(common::desk::input_value(&html, "site.title"), site.config.site.title);

    let response = admin
        .post_form(
            &site,
            "/admin/settings",
            &[("site.title", "The Harbour Gazette"), ("site.tagline", "News from the quay"), ("site.language", "de")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    site.settle().await;
    let (_, home) = site.fetch("/").await;
    assert!(home.contains("<title>The Harbour Gazette — News from the quay</title>"), "{home}");
    assert!(home.contains("<html lang=\"de\">"));
    let slug: String =
        sqlx::query_scalar("SELECT slug FROM articles WHERE status = 'published' AND kind = 'post' LIMIT 1")
            .fetch_one(&site.db.pool)
            .await
            .unwrap();
    let (_, article) = site.fetch(&format!("/article/{slug}")).await;
    assert!(article.contains("\"inLanguage\":\"de\""), "JSON-LD follows: {article}");
    let (_, feed) = site.fetch("/feed").await;
    assert!(feed.contains("<title>The Harbour Gazette</title>"), "{feed}");
    let (_, comments_feed) = site.fetch("/comments/feed").await;
    assert!(comments_feed.contains("Comments for The Harbour Gazette"), "{comments_feed}");

    // The site token widget shows the saved name.
    let response = admin.post_form(&site, "/admin/settings", &[("market.token_name", "HarbourCoin")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    site.settle().await;
    let (_, home) = site.fetch("/").await;
    assert!(home.contains("HarbourCoin"), "{home}");

    // Widgets: the subscribe form goes when its box is unticked (the form sends an empty value
    // alongside the boxes).
    assert!(home.contains("widget-subscribe"));
    let response = admin
        .post_form(
            &site,
            "/admin/settings",
            &[("site.widgets", ""), ("site.widgets", "site-token"), ("site.widgets", "market-prices")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    site.settle().await;
    let (_, home) = site.fetch("/").await;
    assert!(!home.contains("widget-subscribe"), "subscribe widget turned off");
    assert!(home.contains("The Harbour Gazette"), "other settings kept");

    // Time zone: the dates on the pages move with it.
    let newest: i64 =
        sqlx::query_scalar("SELECT MAX(published_at) FROM articles WHERE status = 'published' AND kind = 'post'")
            .fetch_one(&site.db.pool)
            .await
            .unwrap();
    for zone in ["Pacific/Kiritimati", "Etc/GMT+12"] {
        let response = admin.post_form(&site, "/admin/settings", &[("site.time_zone", zone)]).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        site.settle().await;
        assert_eq!(first_date(&site).await, date_in(newest, zone), "{zone}");
    }

    // Saving the file's value again forgets the override.
    let response = admin.post_form(&site, "/admin/settings", &[("site.language", "en")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let keys: Vec<String> = saved_rows(&site).await.into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["market.token_name", "site.tagline", "site.time_zone", "site.title", "site.widgets"]);
    site.finish().await;
}

on_each_backend!(invalid_values_are_refused_at_their_field_and_nothing_is_saved);
async fn invalid_values_are_refused_at_their_field_and_nothing_is_saved(backend: Backend) {
    let site = TestSite::start(backend).await;
    let admin = Desk::sign_in(&site, Role::Admin).await;
    let cases: [(&str, &str, &str); 5] = [
        ("site.time_zone", "Mars/Olympus_Mons", "unknown time zone"),
        ("market.coins", "bitcoin, Bit Coin", "invalid coin id"),
        ("mail.smtp_port", "70000", "65535"),
        ("mail.from", "not an email", "expected an address"),
        ("site.language", "english please", "language tag"),
    ];
    for (key, value, expected) in cases {
        let response =
            admin.post_form(&site, "/admin/settings", &[("site.title", "Should not be saved"), (key, value)]).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{key}");
        let html = response.text().await.unwrap();
        let message = texts_of(&html, &format!("[id=\"{key}-error\"]"));
        assert_eq!(message.len(), 1, "one message at {key}: {html}");
        assert!(message[0].contains(expected), "{key}: {message:?}");
        assert_eq!(common::desk::input_value(&html, key), {
            if key == "market.coins" {
                String::new() // a textarea, not an input
            } else {
                value.to_string()
            }
        });
        assert_eq!(common::desk::input_value(&html, "site.title"), "Should not be saved", "input kept");
    }
    // All at once: a message at each field.
    let all: Vec<(&str, &str)> = cases.iter().map(|(k, v, _)| (*k, *v)).collect();
    let response = admin.post_form(&site, "/admin/settings", &all).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert_eq!(texts_of(&html, ".field-error").len(), cases.len(), "{html}");

    assert!(saved_rows(&site).await.is_empty(), "nothing saved");
    site.settle().await;
    let (_, home) = site.fetch("/").await;
    assert!(!home.contains("Should not be saved"));
    site.finish().await;
}

on_each_backend!(secrets_are_kept_when_blank_and_never_shown_and_only_admins_get_in);
async fn secrets_are_kept_when_blank_and_never_shown_and_only_admins_get_in(backend: Backend) {
    let site = TestSite::start(backend).await;
    let admin = Desk::sign_in(&site, Role::Admin).await;
    let secret = "s3cret-Passw0rd";
    let fields = [
        ("mail.transport", "smtp"),
        ("mail.smtp_host", "smtp.example.org"),
        ("mail.smtp_port", "2525"),
        ("mail.smtp_tls", "tls"),
        ("mail.smtp_username", "desk"),
        ("mail.smtp_password", secret),
    ];
    let response = admin.post_form(&site, "/admin/settings", &fields).await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        texts_of(&response.text().await.unwrap(), ".notice, .field-error")
    );
    let html = admin.get(&site, "/admin/settings").await.text().await.unwrap();
    assert!(!html.contains(secret), "the password is not shown back");
    assert_eq!(common::desk::input_value(&html, "mail.smtp_port"), "2525");
    // Saved again with the password left blank: kept.
    let response =
        admin.post_form(&site, "/admin/settings", &[("mail.smtp_host", "127.0.0.1"), ("mail.smtp_password", "")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let rows = saved_rows(&site).await;
    let password = rows.iter().find(|(k, _)| k == "mail.smtp_password").map(|(_, v)| v.as_str());
    assert_eq!(password, Some(format!("\"{secret}\"").as_str()));
    // The effective configuration a restarted node would run with.
    let effective = openvoice::settings::service::effective(&site.db, &site.config).await.unwrap();
    assert_eq!(effective.mail.smtp_host, "127.0.0.1");
    assert_eq!(effective.mail.port(), 2525);
    assert_eq!(effective.mail.smtp_password, secret);
    // The command line runs with them too, as the server's jobs do.
    let out = site.cli(&["mail", "test", "you@example.org"]);
    let printed = common::stdout(&out);
    assert!(printed.contains("via smtp://127.0.0.1:2525 (TLS, AUTH)"), "{printed}");
    // And the activity log names the keys, never the values.
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM activity WHERE kind = 'settings.save'")
        .fetch_all(&site.db.pool)
        .await
        .unwrap();
    assert!(details.iter().any(|d| d.contains("mail.smtp_password")));
    assert!(details.iter().all(|d| !d.contains(secret)));

    for role in [Role::Editor, Role::Author, Role::Contributor] {
        let desk = Desk::sign_in(&site, role).await;
        assert_eq!(desk.get(&site, "/admin/settings").await.status(), StatusCode::FORBIDDEN, "{role:?}");
        let response = desk.post_form(&site, "/admin/settings", &[("site.title", "Taken over")]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{role:?}");
    }
    let anonymous =
        site.client.post(format!("{}/admin/settings", site.base)).form(&[("site.title", "x")]).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    assert!(saved_rows(&site).await.iter().all(|(k, _)| k.starts_with("mail.")));
    site.finish().await;
}

/// The SMTP host of the next context the worker was built with.
async fn next_build(builds: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> String {
    let wait = tokio::time::timeout(Duration::from_secs(10), builds.recv());
    wait.await.expect("the worker was (re)built in time").expect("a host")
}

on_each_backend!(the_job_worker_is_rebuilt_with_changed_settings);
async fn the_job_worker_is_rebuilt_with_changed_settings(backend: Backend) {
    let site = TestSite::start(backend).await;
    let admin = Desk::sign_in(&site, Role::Admin).await;
    // The worker's context records the SMTP host it was built for.
    let (built, mut builds) = tokio::sync::mpsc::unbounded_channel::<String>();
    let build = move |config: &openvoice::config::Config| {
        built.send(config.mail.smtp_host.clone()).unwrap();
        Ok(openvoice::jobs::Registry::default())
    };
    let worker = openvoice::jobs::WorkerConfig {
        node_id: "settings-test".into(),
        poll_interval: Duration::from_millis(50),
        lease_secs: 60,
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(openvoice::settings::run_worker(
        site.db.clone(),
        (*site.config).clone(),
        build,
        worker,
        Duration::from_millis(100),
        shutdown.clone(),
    ));
    assert_eq!(next_build(&mut builds).await, "localhost");
    let response = admin.post_form(&site, "/admin/settings", &[("mail.smtp_host", "relay.example.org")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(next_build(&mut builds).await, "relay.example.org");
    shutdown.cancel();
    running.await.unwrap();
    site.finish().await;
}
