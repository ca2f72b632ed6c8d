//! "Subscribe to Blog via Email" and the mail outbox, end to end: the widget, double opt-in,
//! article mail, one-click unsubscribe, digests, CSV lists, retries and bounces, and a kill -9
//! in the middle of a fan-out — against a real SMTP server on 127.0.0.1 (`tests/smtp/server.py`,
//! aiosmtpd), with the received MIME parsed by mail-parser.

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::node::Node;
use common::smtp::SmtpPeer;
use common::{cli_at, free_port, fresh_database_url, stderr, stdout, Backend, TestSite};
use mail_parser::{MessageParser, MimeHeaders};
use openvoice::content::model::ArticleKind;
use openvoice::content::service::{self, ContentLimits, Draft, Publish, Terms};
use openvoice::mail::service::Report;
use openvoice::store;
use openvoice::subscriptions::model::{Address, Frequency};
use openvoice::subscriptions::service as subscriptions;

const LIMITS: ContentLimits = ContentLimits { max_article_bytes: 1 << 20 };

// ---- Helpers -------------------------------------------------------------------------------

/// Site settings sending to `peer`, with extra `[mail]` and `[subscriptions]` keys.
fn smtp_toml(peer: &SmtpPeer, mail: &str, subscriptions: &str) -> String {
    format!(
        "[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\n\
         smtp_timeout_secs = 5\nlease_secs = 10\nretry_base_secs = 1\n{mail}\n\n[subscriptions]\nconfirm_resend_secs = 2\n{subscriptions}\n",
        peer.port
    )
}

/// Delivers every due mail through the site's mailer.
async fn deliver(site: &TestSite) -> Report {
    let (mailer, _) = openvoice::subscriptions::contexts(site.config.clone(), site.dir.path()).expect("mail settings");
    openvoice::mail::service::deliver(&site.db, &mailer, Duration::from_secs(60)).await.unwrap()
}

fn draft(title: &str, category: &str, publish: Publish) -> Draft {
    Draft {
        kind: ArticleKind::Post,
        title: title.into(),
        slug: None,
        excerpt: Some(format!("What happened with {title}, in brief.")),
        body_md: format!("The whole story of **{title}**.\n\n[More](/about)\n"),
        author: "admin".into(),
        category: Some(category.into()),
        further_categories: Vec::new(),
        tags: vec![],
        featured_image: None,
        publish,
        sticky: false,
    }
}

/// Publishes an article now and runs the jobs that follows (its notification among them).
async fn publish(site: &TestSite, title: &str, category: &str) -> (i64, String) {
    let saved = service::drafts::create(&site.db, LIMITS, draft(title, category, Publish::Now), Terms::MustExist)
        .await
        .unwrap();
    let article = service::reading::find(&site.db, saved.slug()).await.unwrap();
    site.run_due_jobs().await;
    (article.summary.id, article.summary.slug)
}

async fn confirmed(site: &TestSite, email: &str, frequency: Frequency) {
    let address = Address::parse(email).unwrap();
    subscriptions::add_confirmed(&site.db, &address, frequency, store::now()).await.unwrap();
}

/// POSTs a URL-encoded form to `url` (a path or a whole URL), from this site's own page.
async fn post_form(site: &TestSite, url: &str, body: &str) -> (u16, String) {
    let url = if url.starts_with("http") { url.to_string() } else { format!("{}{url}", site.base) };
    let response = site
        .client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", &site.base)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// The first `http…` URL in `text` containing `path`.
fn link(text: &str, path: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains(path) && w.starts_with("http"))
        .unwrap_or_else(|| panic!("no link to {path} in:\n{text}"))
        .trim_end_matches(['.', ',', ')', '>'])
        .to_string()
}

fn form_value(html: &str, name: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(&format!("input[name='{name}']")).unwrap();
    doc.select(&selector).next().and_then(|e| e.value().attr("value")).unwrap_or_default().to_string()
}

fn main_text(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("main").unwrap();
    doc.select(&selector).next().map(|e| e.text().collect::<String>()).unwrap_or_default()
}

async fn scalar(site: &TestSite, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&site.db.pool).await.unwrap()
}

async fn outbox_states(site: &TestSite, topic: &str) -> Vec<(String, i64)> {
    openvoice::subscriptions::queries::topic_counts(&site.db, topic).await.unwrap()
}

// ---- Tests ---------------------------------------------------------------------------------

on_each_backend!(double_opt_in_article_mail_and_one_click_unsubscribe_end_to_end);
async fn double_opt_in_article_mail_and_one_click_unsubscribe_end_to_end(backend: Backend) {
    let Some(peer) = SmtpPeer::start() else { return };
    let site = TestSite::start_with(backend, &smtp_toml(&peer, "", "")).await;
    site.run_due_jobs().await;
    let reader = format!("reader.{}@example.org", backend as u8);

    // The widget is on every page, the same for everyone.
    let (_, home) = site.fetch("/").await;
    assert!(home.contains("Subscribe to Blog via Email") && home.contains("action=\"/subscribe\""), "{backend:?}");
    let (_, article) = site.fetch("/article/parliament-approves-coastal-drone-patrols").await;
    assert!(article.contains("widget-subscribe"));

    // Subscribing: the answer never tells whether the address is known.
    let (status, first) = post_form(&site, "/subscribe", &format!("email={}", reader.to_uppercase())).await;
    assert_eq!(status, 200, "{first}");
    assert!(first.contains("Check your inbox"));
    let (status, again) = post_form(&site, "/subscribe", &format!("email={reader}")).await;
    assert_eq!((status, main_text(&again)), (200, main_text(&first)), "a repeat looks the same");
    let (_, stranger) = post_form(&site, "/subscribe", "email=someone.else%40example.org").await;
    assert_eq!(main_text(&stranger), main_text(&first), "a new address looks the same");
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM subscribers WHERE status = 'pending'").await, 2);

    // One confirmation mail (the repeat was throttled), multipart, with every header.
    let report = deliver(&site).await;
    assert_eq!(report.sent, 2, "{report:?}");
    let mails = peer.to(&reader);
    assert_eq!(mails.len(), 1, "one confirmation mail per address");
    let mail = mails[0].parsed();
    assert_eq!(mail.subject(), Some("Confirm your subscription to OpenVoice"));
    assert_eq!(mail.to().unwrap().first().unwrap().address(), Some(reader.as_str()));
    assert_eq!(mail.from().unwrap().first().unwrap().address(), Some("noreply@localhost"));
    assert!(mail.message_id().unwrap().starts_with("ov."), "{:?}", mail.message_id());
    assert!((mail.date().unwrap().to_timestamp() - store::now()).abs() < 60);
    assert!(mail.content_type().unwrap().subtype() == Some("alternative"));
    assert_eq!(mail.text_part(0).unwrap().content_type().unwrap().subtype(), Some("plain"));
    assert_eq!(mail.html_part(0).unwrap().content_type().unwrap().subtype(), Some("html"));
    let text = mail.body_text(0).unwrap().to_string();
    let confirm_url = link(&text, "/subscriptions/confirm?token=");
    assert!(mail.body_html(0).unwrap().contains(&confirm_url));
    assert!(mail.header_raw("List-Unsubscribe").unwrap().contains("mailto:noreply@localhost?subject=unsubscribe"));

    // The link shows a button (a link scanner confirms nobody); the button confirms.
    let (status, page) = site.fetch(&confirm_url.replace(&site.base, "")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Confirm my subscription") && page.contains(&reader));
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM subscribers WHERE status = 'confirmed'").await, 0);
    let (status, page) =
        post_form(&site, "/subscriptions/confirm", &format!("token={}", form_value(&page, "token"))).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("You are subscribed"));

    // Publishing mails the article once; later edits mail nothing.
    let (article_id, slug) = publish(&site, "Harbour Cranes Return to Ålesund", "Economy").await;
    assert_eq!(outbox_states(&site, &format!("article:{article_id}")).await, vec![("queued".to_string(), 1)]);
    deliver(&site).await;
    let mails = peer.to(&reader);
    assert_eq!(mails.len(), 2);
    let mail = mails[1].parsed();
    assert_eq!(mail.subject(), Some("[OpenVoice] Harbour Cranes Return to Ålesund"));
    let raw_subject = mail.header_raw("Subject").unwrap();
    assert!(raw_subject.is_ascii() && raw_subject.contains("=?utf-8?"), "RFC 2047: {raw_subject}");
    let text = mail.body_text(0).unwrap().to_string();
    let html = mail.body_html(0).unwrap().to_string();
    let article_url = format!("{}/article/{slug}", site.base);
    for part in [&text, &html] {
        assert!(part.contains("Harbour Cranes Return to Ålesund") && part.contains(&article_url), "{part}");
        assert!(part.contains("What happened with Harbour Cranes Return to Ålesund, in brief."));
        assert!(part.contains("/subscriptions/unsubscribe?token=") && part.contains("/subscriptions/manage?token="));
    }
    let unsubscribe = mail.header_raw("List-Unsubscribe").unwrap().to_string();
    let unsubscribe_url = unsubscribe.split(['<', '>']).find(|p| p.starts_with("http")).unwrap().to_string();
    assert!(unsubscribe.contains(&format!("<{unsubscribe_url}>")) && unsubscribe.contains("<mailto:"));
    assert_eq!(mail.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));
    let saved = service::reading::find(&site.db, &slug).await.unwrap();
    let mut edit =
        draft("Harbour Cranes Return to Ålesund", "Economy", Publish::At(saved.summary.published_at.unwrap()));
    edit.slug = Some(slug.clone());
    edit.body_md = "Updated.".into();
    service::drafts::upsert(&site.db, LIMITS, edit, Terms::MustExist).await.unwrap();
    site.run_due_jobs().await;
    assert_eq!(deliver(&site).await.sent, 0, "an edit mails nobody");

    // The manage page, from the mail: a daily digest of Economy only.
    let manage_url = link(&text, "/subscriptions/manage?token=");
    let (status, page) = site.fetch(&manage_url.replace(&site.base, "")).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your subscription") && page.contains("Economy"));
    let economy = scalar(&site, "SELECT id FROM categories WHERE slug = 'economy'").await;
    let token = form_value(&page, "token");
    let body = format!("token={token}&frequency=daily&scope=some&category={economy}");
    let (status, page) = post_form(&site, "/subscriptions/manage", &body).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Your choices are saved"));
    let subscriber = subscriptions::list(&site.db, None, "", 10, 0).await.unwrap();
    let me = subscriber.iter().find(|s| s.email == reader).unwrap();
    assert_eq!((me.frequency, me.categories.clone()), (Frequency::Daily, Some(vec![economy])));
    let body = format!("token={token}&frequency=instant&scope=all");
    assert_eq!(post_form(&site, "/subscriptions/manage", &body).await.0, 200);

    // RFC 8058: a POST with no cookie, no Origin and no CSRF token unsubscribes.
    let response = reqwest::Client::new()
        .post(&unsubscribe_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["cache-control"].to_str().unwrap().contains("no-store"));
    assert!(response.text().await.unwrap().contains("You are unsubscribed"));
    assert_eq!(
        scalar(
            &site,
            &format!("SELECT COUNT(*) FROM mail_suppressions WHERE email = '{reader}' AND reason = 'unsubscribed'")
        )
        .await,
        1
    );
    let (status, page) = site.fetch(&unsubscribe_url.replace(&site.base, "")).await;
    assert_eq!(status, 200);
    assert!(page.contains("already unsubscribed"), "the link shows a page");

    // Unsubscribed: the next article does not reach them.
    let (second, _) = publish(&site, "Ferry Timetable Changes", "Economy").await;
    assert_eq!(outbox_states(&site, &format!("article:{second}")).await, vec![]);
    deliver(&site).await;
    assert_eq!(peer.to(&reader).len(), 2);

    // Subscribing again needs a confirmation; then articles flow again.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(post_form(&site, "/subscribe", &format!("email={reader}")).await.0, 200);
    deliver(&site).await;
    let mails = peer.to(&reader);
    assert_eq!(mails.len(), 3);
    let confirm_url = link(&mails[2].parsed().body_text(0).unwrap(), "/subscriptions/confirm?token=");
    let token = confirm_url.split("token=").nth(1).unwrap();
    assert_eq!(post_form(&site, "/subscriptions/confirm", &format!("token={token}")).await.0, 200);
    assert_eq!(scalar(&site, &format!("SELECT COUNT(*) FROM mail_suppressions WHERE email = '{reader}'")).await, 0);
    publish(&site, "Bridge Reopens", "Climate").await;
    deliver(&site).await;
    assert_eq!(peer.to(&reader).len(), 4);
    site.finish().await;
}

on_each_backend!(bad_input_gets_clear_answers_and_loses_nothing);
async fn bad_input_gets_clear_answers_and_loses_nothing(backend: Backend) {
    let site =
        TestSite::start_with(backend, "[subscriptions]\nrate_limit_burst = 8\nconfirm_max_age_hours = 1\n").await;

    let (status, page) = site.fetch("/subscribe").await;
    assert!(status == 200 && page.contains("action=\"/subscribe\""), "a page of its own too");
    let (status, page) = post_form(&site, "/subscribe", "email=reader.example.org").await;
    assert_eq!(status, 422);
    assert!(page.contains("missing an @") && page.contains("value=\"reader.example.org\""), "{page}");
    let (status, page) = post_form(&site, "/subscribe", "email=r%C3%A9ader%40example.org").await;
    assert_eq!(status, 422);
    assert!(page.contains("non-ASCII"), "{page}");

    // An internationalised domain is fine, stored in its ASCII form.
    let (status, _) = post_form(&site, "/subscribe", "email=leser%40b%C3%BCcher.de").await;
    assert_eq!(status, 200);
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM subscribers WHERE email = 'leser@xn--bcher-kva.de'").await, 1);

    // Oversize, wrong type, cross-site, honeypot.
    let big = format!("email={}", "a".repeat(20_000));
    assert_eq!(post_form(&site, "/subscribe", &big).await.0, 413);
    let response = site
        .client
        .post(format!("{}/subscribe", site.base))
        .json(&serde_json::json!({"email": "a@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let response = site
        .client
        .post(format!("{}/subscribe", site.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body("email=victim%40example.org")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let (status, page) = post_form(&site, "/subscribe", "email=bot%40example.org&ov_trap=http%3A%2F%2Fspam").await;
    assert_eq!(status, 200);
    assert!(page.contains("Check your inbox"));
    assert_eq!(
        scalar(&site, "SELECT COUNT(*) FROM subscribers WHERE email LIKE '%victim%' OR email LIKE 'bot@%'").await,
        0
    );

    // A flood from one address is refused with Retry-After (the burst of 8 is used up).
    let mut last = (0, String::new());
    for n in 0..4 {
        last = post_form(&site, "/subscribe", &format!("email=flood{n}%40example.org")).await;
    }
    assert_eq!(last.0, 429, "{}", last.1);
    assert!(last.1.contains("Too many subscription requests"));

    // Forged and expired links.
    for path in [
        "/subscriptions/confirm?token=1.2.abc",
        "/subscriptions/manage?token=1.00",
        "/subscriptions/unsubscribe?token=",
    ] {
        let (status, page) = site.fetch(path).await;
        assert_eq!(status, 400, "{path}");
        assert!(page.contains("This link is not valid"), "{page}");
    }
    let response = site
        .client
        .post(format!("{}/subscriptions/unsubscribe?token=9.00000000000000000000000000000000", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let id = scalar(&site, "SELECT id FROM subscribers WHERE email = 'leser@xn--bcher-kva.de'").await;
    let secret: String = sqlx::query_scalar("SELECT value FROM site_secrets WHERE name = 'subscriptions'")
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    let keys = openvoice::subscriptions::tokens::Keys::from_secret(secret.as_bytes());
    let old = keys.confirm_token(id, "leser@xn--bcher-kva.de", store::now() - 3601);
    let (status, page) = site.fetch(&format!("/subscriptions/confirm?token={old}")).await;
    assert_eq!(status, 410);
    assert!(page.contains("expired"));
    let (status, _) = post_form(&site, "/subscriptions/confirm", &format!("token={old}")).await;
    assert_eq!(status, 410);
    let fresh = keys.confirm_token(id, "leser@xn--bcher-kva.de", store::now());
    assert_eq!(site.fetch(&format!("/subscriptions/confirm?token={fresh}")).await.0, 200);
    let other = keys.confirm_token(id, "someone@example.org", store::now());
    assert_eq!(site.fetch(&format!("/subscriptions/confirm?token={other}")).await.0, 400, "bound to the address");
    site.finish().await;
}

on_each_backend!(temporary_failures_are_retried_and_permanent_ones_bounce);
async fn temporary_failures_are_retried_and_permanent_ones_bounce(backend: Backend) {
    let Some(peer) = SmtpPeer::start() else { return };
    let site = TestSite::start_with(backend, &smtp_toml(&peer, "max_attempts = 4\nbounce_threshold = 1", "")).await;
    site.run_due_jobs().await;
    let tag = backend as u8;
    let ok = format!("ok{tag}@example.org");
    let t421 = format!("t421-2-a{tag}@example.org");
    let t451 = format!("t451-1-b{tag}@example.org");
    let p550 = format!("p550-c{tag}@example.org");
    let never = format!("t451-9-d{tag}@example.org");
    for email in [&ok, &t421, &t451, &p550, &never] {
        confirmed(&site, email, Frequency::Instant).await;
    }
    let (id, _) = publish(&site, "Storm Warning Lifted", "Climate").await;
    let topic = format!("article:{id}");

    let before_first = store::now();
    let first = deliver(&site).await;
    assert_eq!((first.sent, first.retried, first.failed, first.suppressed), (1, 3, 1, 1), "{first:?}");
    let (state, attempts, error): (String, i64, String) =
        sqlx::query_as(&format!("SELECT state, attempts, last_error FROM outbox WHERE recipient = '{p550}'"))
            .fetch_one(&site.db.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("failed", 1));
    assert!(error.contains("550"), "{error}");
    let reason: String = sqlx::query_scalar(&format!("SELECT reason FROM mail_suppressions WHERE email = '{p550}'"))
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    assert_eq!(reason, "bounced");
    // Retries wait for their time. (Asked of the rows, not of a second run at once: times are
    // whole seconds, so a run just after a second boundary would already find them due.)
    let too_soon = scalar(
        &site,
        &format!("SELECT COUNT(*) FROM outbox WHERE topic = '{topic}' AND state = 'queued' AND next_attempt_at <= {before_first}"),
    )
    .await;
    let waiting = scalar(
        &site,
        &format!("SELECT COUNT(*) FROM outbox WHERE topic = '{topic}' AND state = 'queued' AND attempts = 1"),
    )
    .await;
    assert_eq!((too_soon, waiting), (0, 3), "the three retries wait for their time");

    // Backoff: 1 s after the first failure, 2 s after the second, 4 s after the third.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = deliver(&site).await;
    assert_eq!((second.sent, second.retried), (1, 2), "{second:?}");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let third = deliver(&site).await;
    assert_eq!((third.sent, third.retried), (1, 1), "{third:?}");
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let fourth = deliver(&site).await;
    assert_eq!((fourth.sent, fourth.failed), (0, 1), "out of attempts: {fourth:?}");
    for (email, n) in [(&ok, 1), (&t421, 1), (&t451, 1), (&p550, 0), (&never, 0)] {
        assert_eq!(peer.to(email).len(), n, "{email}");
    }
    assert_eq!(outbox_states(&site, &topic).await, vec![("failed".to_string(), 2), ("sent".to_string(), 3)]);
    let (never_state, never_error): (String, String) =
        sqlx::query_as(&format!("SELECT state, last_error FROM outbox WHERE recipient = '{never}'"))
            .fetch_one(&site.db.pool)
            .await
            .unwrap();
    assert_eq!(never_state, "failed");
    assert!(never_error.contains("gave up after 4 attempts") && never_error.contains("451"), "{never_error}");

    // The bounced address is mailed no more; a temporary failure is not a bounce.
    let (next, _) = publish(&site, "Storm Warning Issued Again", "Climate").await;
    assert_eq!(outbox_states(&site, &format!("article:{next}")).await, vec![("queued".to_string(), 4)]);
    let listed = stdout(&site.cli(&["subscribers", "list"]));
    assert!(listed.contains(&format!("{p550} (suppressed: bounced)")), "{listed}");

    // A server that cannot be reached: the batch stops, nothing is lost or counted as a bounce.
    let mut config = (*site.config).clone();
    config.mail.smtp_port = free_port();
    let (mailer, _) = openvoice::subscriptions::contexts(Arc::new(config), site.dir.path()).unwrap();
    let report = openvoice::mail::service::deliver(&site.db, &mailer, Duration::from_secs(30)).await.unwrap();
    assert!(report.stopped && report.sent == 0 && report.failed == 0 && report.retried >= 1, "{report:?}");
    let queued = outbox_states(&site, &format!("article:{next}")).await;
    assert_eq!(queued, vec![("queued".to_string(), 4)]);
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM mail_bounces").await, 1);

    // The daily clean-up deletes finished rows only.
    let pruned = openvoice::mail::queries::prune(&site.db, store::now() + 1, 3).await.unwrap();
    assert_eq!(pruned, 3, "in chunks");
    assert_eq!(openvoice::mail::queries::prune(&site.db, store::now() + 1, 100).await.unwrap(), 2);
    assert_eq!(outbox_states(&site, &topic).await, vec![]);
    assert_eq!(outbox_states(&site, &format!("article:{next}")).await, vec![("queued".to_string(), 4)]);
    site.finish().await;
}

on_each_backend!(csv_lists_import_all_or_nothing_and_never_bring_back_suppressed_addresses);
async fn csv_lists_import_all_or_nothing_and_never_bring_back_suppressed_addresses(backend: Backend) {
    let site = TestSite::start(backend).await;
    let dir = site.dir.path();
    let bad = common::write_file(
        dir,
        "bad.csv",
        "email,frequency,categories\nann@example.org,daily,economy\nnot-an-address,,\nbob@example.org,hourly,\ncy@example.org,,nowhere\nann@example.org,,\n",
    );
    let out = site.cli(&["subscribers", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let errors = stderr(&out);
    for expected in [
        "line 3:",
        "missing an @",
        "line 4: frequency \"hourly\"",
        "line 5: unknown category \"nowhere\"",
        "line 6: ann@example.org is already on line 2",
        "4 error(s); nothing was imported",
    ] {
        assert!(errors.contains(expected), "{expected} in {errors}");
    }
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM subscribers").await, 0, "nothing half-imported");

    let good = common::write_file(
        dir,
        "good.csv",
        "\u{feff}Email,Frequency,Categories\r\nann@example.org,daily,economy climate\r\n\"Bob <x>\",,\r\n",
    );
    let out = site.cli(&["subscribers", "import", good.to_str().unwrap()]);
    assert!(!out.status.success(), "a quoted display name is not an address");
    let good = common::write_file(
        dir,
        "good.csv",
        "\u{feff}Email,Frequency,Categories\r\nann@example.org,daily,economy climate\r\nBob@Example.org,,\r\ncy@bücher.de,weekly,\r\n",
    );
    let out = site.cli(&["subscribers", "import", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Imported 3 subscriber(s); 0 already subscribed, 0 suppressed"), "{}", stdout(&out));
    let out = site.cli(&["subscribers", "import", good.to_str().unwrap()]);
    assert!(stdout(&out).contains("Imported 0 subscriber(s); 3 already subscribed"), "{}", stdout(&out));

    // Unsubscribed and removed: a re-import does not bring the address back.
    let out = site.cli(&["subscribers", "unsubscribe", "bob@example.org"]);
    assert!(stdout(&out).contains("unsubscribed and suppressed"), "{}", stderr(&out));
    let out = site.cli(&["subscribers", "remove", "bob@example.org"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = site.cli(&["subscribers", "import", good.to_str().unwrap()]);
    assert!(stdout(&out).contains("Imported 0 subscriber(s); 2 already subscribed, 1 suppressed"), "{}", stdout(&out));
    let out = site.cli(&["subscribers", "add", "bob@example.org", "--confirmed"]);
    assert!(!out.status.success() && stderr(&out).contains("suppressed"), "{}", stderr(&out));

    // Export, and the same list read back.
    let exported = stdout(&site.cli(&["subscribers", "export"]));
    assert!(
        exported.starts_with("email,status,frequency,categories,suppressed,created_at,confirmed_at\n"),
        "{exported}"
    );
    assert!(exported.contains("ann@example.org,confirmed,daily,climate economy,"), "{exported}");
    assert!(exported.contains("cy@xn--bcher-kva.de,confirmed,weekly,,"), "{exported}");
    let count = stdout(&site.cli(&["subscribers", "count"]));
    assert!(count.contains("total 2"), "{count}");
    let reimport = common::write_file(dir, "export.csv", &exported);
    let out = site.cli(&["subscribers", "import", reimport.to_str().unwrap()]);
    assert!(stdout(&out).contains("Imported 0 subscriber(s); 2 already subscribed"), "{}", stdout(&out));

    // --pending asks for confirmation instead of trusting the list.
    let pending = common::write_file(dir, "pending.csv", "email\ndee@example.org\n");
    let out = site.cli(&["subscribers", "import", "--pending", pending.to_str().unwrap()]);
    assert!(stdout(&out).contains("1 confirmation mail(s) queued"), "{}", stdout(&out));
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM outbox WHERE kind = 'subscriptions.confirm'").await, 1);
    site.finish().await;
}

on_each_backend!(imports_mail_nobody_and_digests_collect_their_period);
async fn imports_mail_nobody_and_digests_collect_their_period(backend: Backend) {
    let site = TestSite::start(backend).await;
    site.run_due_jobs().await;
    confirmed(&site, "now@example.org", Frequency::Instant).await;
    confirmed(&site, "daily@example.org", Frequency::Daily).await;
    confirmed(&site, "weekly@example.org", Frequency::Weekly).await;
    let (mailer, subs) = openvoice::subscriptions::contexts(site.config.clone(), site.dir.path()).unwrap();
    let climate = scalar(&site, "SELECT id FROM categories WHERE slug = 'climate'").await;
    sqlx::query("UPDATE subscribers SET all_categories = 0 WHERE email = 'weekly@example.org'")
        .execute(&site.db.pool)
        .await
        .unwrap();
    sqlx::query(&format!("INSERT INTO subscriber_categories (subscriber_id, category_id) SELECT id, {climate} FROM subscribers WHERE email = 'weekly@example.org'"))
        .execute(&site.db.pool)
        .await
        .unwrap();

    // The demo articles and an imported old one are back-catalogue: nobody is mailed.
    let old = store::now() - 30 * 86_400;
    service::drafts::create(&site.db, LIMITS, draft("From The Archive", "Economy", Publish::At(old)), Terms::MustExist)
        .await
        .unwrap();
    site.run_due_jobs().await;
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM outbox").await, 0);
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM article_mailings WHERE state = 'skipped'").await, 8);
    let out = site.cli(&["subscribers", "notify", "from-the-archive"]);
    assert!(stdout(&out).contains("was mailed before"), "{}", stdout(&out));
    let out = site.cli(&["subscribers", "notify", "from-the-archive", "--force"]);
    assert!(stdout(&out).contains("Queued 1 mail(s)"), "{}", stdout(&out));

    // Two fresh articles: instant mail at once, digests later.
    let (economy_id, _) = publish(&site, "Budget Passes", "Economy").await;
    let (climate_id, _) = publish(&site, "Glacier Survey", "Climate").await;
    assert_eq!(scalar(&site, "SELECT COUNT(*) FROM outbox WHERE kind = 'subscriptions.article'").await, 3);
    let mailed_at =
        scalar(&site, &format!("SELECT created_at FROM article_mailings WHERE article_id = {economy_id}")).await;
    let config = &subs.config.subscriptions;
    // A day later the daily digest is due; within a week, the weekly one.
    let (day, week) = (mailed_at + 86_400, mailed_at + 7 * 86_400);
    let queued = subscriptions::queue_digests(&site.db, config, day).await.unwrap();
    assert!(queued[0].0.starts_with("digest:daily:") && queued[0].1 == 1, "{queued:?}");
    subscriptions::queue_digests(&site.db, config, week).await.unwrap();
    let digests = scalar(&site, "SELECT COUNT(*) FROM outbox WHERE kind = 'subscriptions.digest'").await;
    assert_eq!(digests, 2, "one daily, one weekly");
    for at in [day, week] {
        let again = subscriptions::queue_digests(&site.db, config, at).await.unwrap();
        assert!(again.iter().all(|(_, n)| *n == 0), "once per period: {again:?}");
    }

    openvoice::mail::service::deliver(&site.db, &mailer, Duration::from_secs(30)).await.unwrap();
    let files: Vec<String> = std::fs::read_dir(site.dir.path().join("outbox"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(files.len(), 5, "3 article mails and 2 digests, as .eml files");
    let parse = |raw: &String| MessageParser::default().parse(raw.as_bytes()).unwrap().into_owned();
    let digest_to = |to: &str| {
        files.iter().map(parse).find(|m| {
            m.to().unwrap().first().unwrap().address() == Some(to) && m.subject().unwrap().contains("new article")
        })
    };
    let daily = digest_to("daily@example.org").expect("daily digest");
    // The forced archive article counts as mailed today, so it is in the digest too.
    assert_eq!(daily.subject(), Some("[OpenVoice] 3 new articles this day"));
    let text = daily.body_text(0).unwrap().to_string();
    assert!(
        text.contains("Budget Passes") && text.contains("Glacier Survey") && text.contains("From The Archive"),
        "{text}"
    );
    let weekly = digest_to("weekly@example.org").expect("weekly digest");
    assert_eq!(weekly.subject(), Some("[OpenVoice] 1 new article this week"));
    let text = weekly.body_text(0).unwrap().to_string();
    assert!(text.contains("Glacier Survey") && !text.contains("Budget Passes"), "only Climate: {text}");
    assert!(weekly.header_raw("List-Unsubscribe").is_some());
    let _ = climate_id;
    site.finish().await;
}

#[tokio::test]
async fn mail_test_and_config_check_the_settings() {
    let site = TestSite::start(Backend::Sqlite).await;
    let out = site.cli(&["mail", "test", "you@example.org"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Accepted: written to"), "{}", stdout(&out));
    let files: Vec<_> = std::fs::read_dir(site.dir.path().join("outbox")).unwrap().collect();
    assert_eq!(files.len(), 1, "the embedded default writes .eml files");
    let out = site.cli(&["mail", "test", "you@@example.org"]);
    assert!(!out.status.success() && stderr(&out).contains("more than one @"), "{}", stderr(&out));

    common::write_file(
        site.dir.path(),
        "openvoice.toml",
        "[mail]\ntransport = \"smtp\"\nsmtp_username = \"news\"\nsmtp_password = \"s3cret-pass\"\n",
    );
    let shown = stdout(&site.cli(&["config"]));
    assert!(shown.contains("smtp_password = \"****\"") && !shown.contains("s3cret-pass"), "{shown}");
    common::write_file(site.dir.path(), "openvoice.toml", "[mail]\nsmtp_tls = \"sometimes\"\n");
    let out = site.cli(&["config"]);
    assert!(stderr(&out).contains("mail.smtp_tls"), "{}", stderr(&out));
    common::write_file(site.dir.path(), "openvoice.toml", "[subscriptions]\ndigest_weekday = \"someday\"\n");
    assert!(stderr(&site.cli(&["config"])).contains("subscriptions.digest_weekday"));

    if let Some(peer) = SmtpPeer::start() {
        let toml = format!(
            "[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\n",
            peer.port
        );
        common::write_file(site.dir.path(), "openvoice.toml", &toml);
        let out = site.cli(&["mail", "test", "you@example.org"]);
        assert!(stdout(&out).contains("Accepted: 250"), "{}{}", stdout(&out), stderr(&out));
        let received = peer.to("you@example.org");
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].parsed().subject(), Some("Test mail from OpenVoice"));
        let out = site.cli(&["mail", "test", "p550-x@example.org"]);
        assert!(!out.status.success() && stderr(&out).contains("550"), "{}", stderr(&out));
        let toml = format!(
            "[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\n",
            free_port()
        );
        common::write_file(site.dir.path(), "openvoice.toml", &toml);
        let out = site.cli(&["mail", "test", "you@example.org"]);
        assert!(!out.status.success() && stderr(&out).contains("connection"), "{}", stderr(&out));
    }
    site.finish().await;
}

// ---- kill -9 in the middle of a fan-out ----------------------------------------------------

const CRASH_SUBSCRIBERS: usize = 10_000;
const CRASH_BATCH: usize = 100;

on_each_backend!(a_kill_9_during_a_fan_out_loses_no_mail_and_resends_at_most_the_batch_in_flight);
/// `openvoice serve` as a child process, logging into a file.
async fn a_kill_9_during_a_fan_out_loses_no_mail_and_resends_at_most_the_batch_in_flight(backend: Backend) {
    let Some(peer) = SmtpPeer::start() else { return };
    kill_9_during_a_fan_out(backend, &peer).await;
}

async fn kill_9_during_a_fan_out(backend: Backend, peer: &SmtpPeer) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(backend, dir.path()).await;
    let settings = format!(
        "[mail]\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nsmtp_tls = \"none\"\n\
         smtp_timeout_secs = 4\nlease_secs = 5\nbatch_size = {CRASH_BATCH}\npoll_interval_secs = 1\n\n\
         [jobs]\npoll_interval_ms = 100\nlease_secs = 5\n",
        peer.port
    );
    common::write_file(dir.path(), "openvoice.toml", &settings);
    assert!(cli_at(dir.path(), &url, &["init"], None).status.success());
    let mut csv = String::from("email\n");
    for n in 0..CRASH_SUBSCRIBERS {
        csv.push_str(&format!("reader{n}@example.org\n"));
    }
    let list = common::write_file(dir.path(), "list.csv", &csv);
    let out = cli_at(dir.path(), &url, &["subscribers", "import", list.to_str().unwrap()], None);
    assert!(stdout(&out).contains(&format!("Imported {CRASH_SUBSCRIBERS} subscriber(s)")), "{}", stderr(&out));

    let mut node = Node::start(dir.path(), Some(&url), 0, &[]);
    node.wait_healthy().await;
    let body = common::write_file(dir.path(), "body.md", "Everyone must get this exactly once.");
    let out = cli_at(
        dir.path(),
        &url,
        &[
            "post",
            "new",
            "--title",
            "Crash Test Edition",
            "--category",
            "Economy",
            "--file",
            body.to_str().unwrap(),
            "--publish",
        ],
        None,
    );
    assert!(stdout(&out).starts_with("published"), "{}", stderr(&out));

    // Kill -9 while the mail is going out, in the middle of a batch (batches start at multiples
    // of its size): its sent half is not marked yet.
    let deadline = Instant::now() + Duration::from_secs(120);
    while peer.count() < CRASH_SUBSCRIBERS / 5 + CRASH_BATCH / 2 {
        assert!(Instant::now() < deadline, "only {} mails after 120 s", peer.count());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    node.kill();
    let at_kill = peer.count();
    eprintln!("{backend:?}: killed the node after {at_kill} mails");
    assert!(at_kill < CRASH_SUBSCRIBERS, "the fan-out had finished before the kill");

    // A new node finishes the job once the dead node's leases expire.
    let mut node = Node::start(dir.path(), Some(&url), 0, &[]);
    node.wait_healthy().await;
    let started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let db = store::Db::connect(&url, 1).await.unwrap();
        let sent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE state = 'sent'").fetch_one(&db.pool).await.unwrap();
        db.pool.close().await;
        if sent as usize == CRASH_SUBSCRIBERS {
            break;
        }
        assert!(Instant::now() < deadline, "only {sent} mails marked sent after the restart");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("the second node finished in {:.1}s", started.elapsed().as_secs_f64());
    drop(node);

    let mut per_recipient = std::collections::HashMap::new();
    for message in peer.messages() {
        *per_recipient.entry(message.rcpt).or_insert(0usize) += 1;
    }
    let total: usize = per_recipient.values().sum();
    let duplicates = total - per_recipient.len();
    eprintln!("{backend:?}: {total} mails for {} subscribers: {duplicates} sent twice", per_recipient.len());
    assert_eq!(per_recipient.len(), CRASH_SUBSCRIBERS, "every subscriber got the article");
    assert!(per_recipient.values().all(|n| *n <= 2), "nobody got it three times");
    assert!(duplicates <= CRASH_BATCH, "{duplicates} duplicates: more than the batch in flight ({CRASH_BATCH})");
    let db = store::Db::connect(&url, 1).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(&db.pool).await.unwrap();
    assert_eq!(rows as usize, CRASH_SUBSCRIBERS, "one outbox row per subscriber");
    db.pool.close().await;
    common::drop_database(&url).await;
}

on_each_backend!(editors_manage_subscribers_from_the_desk);
/// The Subscribers screen: import a pasted CSV (one bad line imports nothing) or a chosen file,
/// find an address, export, unsubscribe (suppressed), delete with their data; below editor,
/// refused.
async fn editors_manage_subscribers_from_the_desk(backend: Backend) {
    use common::desk::{texts_of, Desk};
    use openvoice::accounts::Role;
    let site = TestSite::start(backend).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;
    let shown = |html: &str| texts_of(html, ".subscriber-email");

    let bad = "email,frequency\nann@example.org,weekly\nnot-an-address,daily\n";
    let refused = editor.post_form(&site, "/admin/subscribers/import", &[("csv", bad)]).await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(texts_of(&html, ".import-errors li").iter().any(|e| e.contains("line 3")), "{html}");
    assert!(shown(&html).is_empty(), "nothing imported");

    let good = "email,frequency\nann@example.org,weekly\nbob_smith@example.org,instant\n";
    let imported = editor.post_form(&site, "/admin/subscribers/import", &[("csv", good)]).await;
    assert_eq!(imported.status(), 200);
    let html = imported.text().await.unwrap();
    assert!(html.contains("2 added"), "{html}");
    assert_eq!(shown(&html), ["ann@example.org", "bob_smith@example.org"]);

    let found = editor.get(&site, "/admin/subscribers?q=ANN").await.text().await.unwrap();
    assert_eq!(shown(&found), ["ann@example.org"]);
    // `_` and `%` are letters to look for, not patterns.
    assert_eq!(
        shown(&editor.get(&site, "/admin/subscribers?q=b_s").await.text().await.unwrap()),
        ["bob_smith@example.org"]
    );
    assert!(shown(&editor.get(&site, "/admin/subscribers?q=a%25n").await.text().await.unwrap()).is_empty());

    // A file chosen in the form, as a spreadsheet saves Mailchimp's export: a byte-order mark,
    // CRLF, its `Email Address` header. Not UTF-8, or too large: refused, saying why.
    let upload = |bytes: Vec<u8>| {
        let file = reqwest::multipart::Part::bytes(bytes).file_name("list.csv").mime_str("text/csv").unwrap();
        let form = reqwest::multipart::Form::new().text("csrf", editor.csrf.clone()).part("file", file);
        editor.client.post(format!("{}/admin/subscribers/import", site.base)).multipart(form).send()
    };
    let refused = upload(b"Email Address\r\nzo\xe9@example.org\r\n".to_vec()).await.unwrap();
    assert_eq!(refused.status(), 422);
    let why = texts_of(&refused.text().await.unwrap(), ".import-errors li");
    assert!(why[0].starts_with("file:") && why[0].contains("not UTF-8"), "{why:?}");
    let too_large = upload(vec![b'a'; 9 << 20]).await.unwrap();
    assert_eq!(too_large.status(), 413);
    assert!(texts_of(&too_large.text().await.unwrap(), ".import-errors li")[0].contains("larger than 8 MiB"));
    let file = "\u{feff}Email Address,First Name\r\ncleo@example.org,Cleo\r\n".as_bytes().to_vec();
    let imported = upload(file).await.unwrap();
    assert_eq!(imported.status(), 200);
    assert!(shown(&imported.text().await.unwrap()).contains(&"cleo@example.org".to_string()));

    let csv = editor.get(&site, "/admin/subscribers.csv").await;
    assert!(csv.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let csv = csv.text().await.unwrap();
    assert!(csv.contains("ann@example.org") && csv.contains("bob_smith@example.org"), "{csv}");

    let id_of = |email: &'static str| {
        let pool = site.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT id FROM subscribers WHERE email = $1")
                .bind(email)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let bob = id_of("bob_smith@example.org").await;
    let response = editor.post_form(&site, &format!("/admin/subscribers/{bob}/unsubscribe"), &[]).await;
    assert_eq!(response.status(), 303);
    let html = editor.get(&site, "/admin/subscribers?status=unsubscribed").await.text().await.unwrap();
    assert_eq!(shown(&html), ["bob_smith@example.org"]);
    assert!(html.contains("suppressed: unsubscribed"), "{html}");

    let ann = id_of("ann@example.org").await;
    let author = Desk::sign_in(&site, Role::Author).await;
    let response = author.post_form(&site, &format!("/admin/subscribers/{ann}/delete"), &[]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(author.get(&site, "/admin/subscribers.csv").await.status(), 403);
    let response = editor.post_form(&site, &format!("/admin/subscribers/{ann}/delete"), &[]).await;
    assert_eq!(response.status(), 303);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscribers WHERE email = 'ann@example.org'")
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "deleted");
    assert_eq!(editor.post_form(&site, &format!("/admin/subscribers/{ann}/delete"), &[]).await.status(), 404);
    site.finish().await;
}
