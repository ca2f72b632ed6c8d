//! Reader comments over real HTTP, on every backend: the form, moderation, threads, spam
//! defences, bad input, privacy, feeds; a kill -9 in the middle of a burst. A reader commenting
//! in Chromium is one of tests/journeys.rs.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::node::Node;
use common::{free_port, Backend, TestSite};
use scraper::{Html, Selector};

const ARTICLE: &str = "parliament-approves-coastal-drone-patrols";
const OTHER: &str = "brennholm-cooperative-bank-profit";
/// Defences that would get in the way of most tests are relaxed; tests of them set their own.
const RELAXED: &str =
    "[comments]\nmin_seconds = 0\nflood_seconds = 0\nrate_limit_burst = 100000\nrate_limit_per_minute = 100000\n";

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).expect("selector")).collect()
}

fn text_of(doc: &Html, css: &str) -> String {
    select(doc, css).first().map(|e| e.text().collect::<String>()).unwrap_or_default()
}

/// A browser-like client: keeps cookies, does not follow redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn page(client: &reqwest::Client, site: &TestSite, path: &str) -> (u16, String) {
    let response = client.get(format!("{}{path}", site.base)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn form_token(client: &reqwest::Client, site: &TestSite, slug: &str) -> String {
    let (status, html) = page(client, site, &format!("/article/{slug}")).await;
    assert_eq!(status, 200);
    let doc = Html::parse_document(&html);
    select(&doc, "#commentform input[name=token]")[0].value().attr("value").unwrap().to_string()
}

/// Posts the comment form with a fresh token (unless `fields` has one).
async fn post(client: &reqwest::Client, site: &TestSite, slug: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut form: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if !fields.iter().any(|(k, _)| *k == "token") {
        form.push(("token".into(), form_token(client, site, slug).await));
    }
    client.post(format!("{}/article/{slug}/comments", site.base)).form(&form).send().await.unwrap()
}

fn fields<'a>(author: &'a str, email: &'a str, comment: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![("author", author), ("email", email), ("url", ""), ("comment", comment)]
}

/// The comment id from a 303's Location (`…#comment-ID`).
fn accepted_id(response: &reqwest::Response) -> i64 {
    assert_eq!(response.status(), 303, "expected 303 See Other");
    let location = response.headers()["location"].to_str().unwrap();
    location.rsplit("#comment-").next().unwrap().parse().unwrap_or_else(|_| panic!("location {location}"))
}

fn cli_ok(site: &TestSite, args: &[&str]) -> String {
    let out = site.cli(args);
    assert!(out.status.success(), "{args:?}: {}", common::stderr(&out));
    common::stdout(&out)
}

on_each_backend!(a_first_comment_waits_for_moderation_and_then_its_author_is_trusted);
async fn a_first_comment_waits_for_moderation_and_then_its_author_is_trusted(backend: Backend) {
    let site = TestSite::start_with(backend, RELAXED).await;
    let reader = browser();
    let (_, html) = page(&reader, &site, &format!("/article/{ARTICLE}")).await;
    let doc = Html::parse_document(&html);
    assert!(text_of(&doc, "#reply-title").contains("Leave a Comment"));
    let notes = text_of(&doc, ".comment-notes");
    assert_eq!(
        notes.split_whitespace().collect::<Vec<_>>().join(" "),
        "Your email address will not be published. Required fields are marked *"
    );
    for field in [
        "textarea[name=comment][required]",
        "input[name=author][required]",
        "input[name=email][required]",
        "input[name=url]",
        "input[name=save][type=checkbox]",
        "input[name=ov_trap]",
        "input[name=parent]",
    ] {
        assert_eq!(select(&doc, &format!("#commentform {field}")).len(), 1, "{backend:?}: {field}");
    }
    assert!(text_of(&doc, "label[for=save]")
        .contains("Save my name, email, and website in this browser for the next time I comment."));
    assert!(!select(&doc, "label[for=author] .required").is_empty(), "Name*");

    let response =
        post(&reader, &site, ARTICLE, &fields("Ann Reader", "ann@example.org", "First thoughts on the patrols.")).await;
    let first = accepted_id(&response);
    assert_eq!(response.headers()["location"], format!("/article/{ARTICLE}#comment-{first}"));
    let (status, own) = page(&reader, &site, &format!("/article/{ARTICLE}")).await;
    assert_eq!(status, 200);
    let doc = Html::parse_document(&own);
    let mine = text_of(&doc, &format!("#comment-{first}"));
    assert!(
        mine.contains("First thoughts") && mine.contains("Your comment is awaiting moderation."),
        "{backend:?}: {mine}"
    );
    let (_, anonymous) = site.fetch(&format!("/article/{ARTICLE}")).await;
    assert!(!anonymous.contains("First thoughts"), "pending comments are not public");

    let queue = cli_ok(&site, &["comments", "list", "--status", "pending"]);
    assert!(
        queue.contains(&first.to_string()) && queue.contains("First thoughts") && queue.contains("ann@example.org"),
        "{queue}"
    );
    assert!(cli_ok(&site, &["comments", "approve", &first.to_string()]).contains("1 comment(s) now approved"));
    site.settle().await;
    let (_, anonymous) = site.fetch(&format!("/article/{ARTICLE}")).await;
    let doc = Html::parse_document(&anonymous);
    assert!(text_of(&doc, &format!("#comment-{first}")).contains("First thoughts"), "{backend:?}: approved is public");
    assert!(!anonymous.contains("awaiting moderation"));

    // A known author (same name and email, another browser) is published at once.
    let other_browser = browser();
    let second = accepted_id(
        &post(&other_browser, &site, ARTICLE, &fields("Ann Reader", "ANN@example.org", "And a second thought.")).await,
    );
    // No settling: a write through this node shows on its very next page (the cached one
    // above is not served again).
    let (_, anonymous) = site.fetch(&format!("/article/{ARTICLE}")).await;
    assert!(anonymous.contains("And a second thought."), "{backend:?}: published at once");

    // A reply nests under its parent; a stranger's reply waits.
    let mut reply = fields("Bo", "bo@example.org", "A reply to Ann.");
    let first_text = first.to_string();
    reply.push(("parent", &first_text));
    let reply_id = accepted_id(&post(&reader, &site, ARTICLE, &reply).await);
    cli_ok(&site, &["comments", "approve", &reply_id.to_string()]);
    site.settle().await;
    let (_, html) = site.fetch(&format!("/article/{ARTICLE}")).await;
    let doc = Html::parse_document(&html);
    assert_eq!(
        select(&doc, &format!("#comment-{first} > ol.children > li#comment-{reply_id}")).len(),
        1,
        "{backend:?}: threaded"
    );
    assert_eq!(select(&doc, ".comment-list > li").len(), 2, "two top-level comments");
    assert!(text_of(&doc, ".comments-title").contains("3 comments"));
    let reply_link =
        select(&doc, &format!("#comment-{second} .comment-reply-link"))[0].value().attr("href").unwrap().to_string();
    assert_eq!(reply_link, format!("/article/{ARTICLE}/reply/{second}#respond"));
    // Without JavaScript, the reply page carries the parent.
    let (status, html) = site.fetch(reply_link.split('#').next().unwrap()).await;
    assert_eq!(status, 200);
    let doc = Html::parse_document(&html);
    assert!(text_of(&doc, "#reply-title").contains("Reply to Ann Reader"));
    assert_eq!(select(&doc, "#comment_parent")[0].value().attr("value"), Some(second.to_string().as_str()));

    // Counts on listings.
    let (_, home) = site.fetch("/").await;
    let doc = Html::parse_document(&home);
    let counts: Vec<String> = select(&doc, ".card .comment-count").iter().map(|e| e.text().collect()).collect();
    assert_eq!(counts, ["3 comments"], "{backend:?}");
    site.finish().await;
}

on_each_backend!(bad_input_gets_precise_answers_and_keeps_what_was_typed);
async fn bad_input_gets_precise_answers_and_keeps_what_was_typed(backend: Backend) {
    let site = TestSite::start_with(backend, RELAXED).await;
    let reader = browser();
    let long_name = "N".repeat(246);
    let response = post(
        &reader,
        &site,
        ARTICLE,
        &[
            ("author", &long_name),
            ("email", "not-an-email"),
            ("url", "javascript:alert(1)"),
            ("comment", "Keep <this> text & all"),
        ],
    )
    .await;
    assert_eq!(response.status(), 422, "{backend:?}");
    assert_eq!(response.headers()["cache-control"], "private, no-store");
    let doc = Html::parse_document(&response.text().await.unwrap());
    assert_eq!(select(&doc, "#comment")[0].text().collect::<String>(), "Keep <this> text & all", "the comment is kept");
    assert_eq!(select(&doc, "#author")[0].value().attr("value"), Some(long_name.as_str()));
    assert_eq!(select(&doc, "#email")[0].value().attr("value"), Some("not-an-email"));
    assert!(text_of(&doc, "#author-error").contains("at most 245"));
    assert!(text_of(&doc, "#email-error").contains("valid email"));
    assert!(text_of(&doc, "#url-error").contains("website"));
    assert!(select(&doc, "#comment-error").is_empty());

    let response = post(&reader, &site, ARTICLE, &[("author", ""), ("email", ""), ("comment", "")]).await;
    assert_eq!(response.status(), 422);
    let doc = Html::parse_document(&response.text().await.unwrap());
    for id in ["#author-error", "#email-error", "#comment-error"] {
        assert!(!text_of(&doc, id).is_empty(), "{id}");
    }
    let too_long = "x".repeat(65_526);
    let response = post(&reader, &site, ARTICLE, &fields("Ann", "ann@example.org", &too_long)).await;
    assert_eq!(response.status(), 422);
    assert!(response.text().await.unwrap().contains("at most 65525 characters"));

    let url = format!("{}/article/{ARTICLE}/comments", site.base);
    let raw = |body: Vec<u8>, content_type: &'static str| {
        let client = reader.clone();
        let url = url.clone();
        async move { client.post(url).header("content-type", content_type).body(body).send().await.unwrap() }
    };
    let response = raw(b"author=Ann&comment=%FF%FEbad".to_vec(), "application/x-www-form-urlencoded").await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("`comment` is not valid UTF-8"));
    assert_eq!(raw(b"{}".to_vec(), "application/json").await.status(), 415);
    assert_eq!(raw(vec![b'a'; 3 * 1024 * 1024], "application/x-www-form-urlencoded").await.status(), 413);
    assert_eq!(raw(b"parent=abc".to_vec(), "application/x-www-form-urlencoded").await.status(), 400);
    let unknown = reader
        .post(format!("{}/article/no-such-article/comments", site.base))
        .form(&[("author", "A")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // Replies: to another article's comment, to a trashed one, to one that never existed.
    let elsewhere = accepted_id(&post(&reader, &site, OTHER, &fields("Cy", "cy@example.org", "On the bank.")).await);
    let trashed = accepted_id(&post(&reader, &site, ARTICLE, &fields("Cy", "cy@example.org", "Soon gone.")).await);
    cli_ok(&site, &["comments", "approve", &elsewhere.to_string(), &trashed.to_string()]);
    cli_ok(&site, &["comments", "trash", &trashed.to_string()]);
    for (parent, status) in [(elsewhere, 400), (trashed, 410), (999_999, 404)] {
        let parent = parent.to_string();
        let mut reply = fields("Di", "di@example.org", "My reply, kept.");
        reply.push(("parent", &parent));
        let response = post(&reader, &site, ARTICLE, &reply).await;
        assert_eq!(response.status(), status, "{backend:?}: reply to {parent}");
        assert!(response.text().await.unwrap().contains("My reply, kept."));
    }
    let out = site.cli(&["comments", "approve", "424242"]);
    assert!(!out.status.success() && common::stderr(&out).contains("no comment with id 424242"));
    site.finish().await;
}

on_each_backend!(spam_defences_refuse_bots_floods_duplicates_and_forgeries);
async fn spam_defences_refuse_bots_floods_duplicates_and_forgeries(backend: Backend) {
    let site = TestSite::start_with(
        backend,
        "[comments]\nmin_seconds = 2\nflood_seconds = 15\nrate_limit_burst = 7\nrate_limit_per_minute = 1\n",
    )
    .await;
    let reader = browser();
    let token = form_token(&reader, &site, ARTICLE).await;
    let mut form = fields("Eve", "eve@example.org", "Posted at once.");
    form.push(("token", &token));
    let response = post(&reader, &site, ARTICLE, &form).await;
    assert_eq!(response.status(), 422, "{backend:?}: too fast");
    let html = response.text().await.unwrap();
    assert!(html.contains("quicker than a person types") && html.contains("Posted at once."));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let first = post(&reader, &site, ARTICLE, &form).await;
    assert_eq!(first.status(), 303, "{backend:?}: the same form two seconds later");

    // Flood: the same email (or address) within 15 s.
    let forged = format!("{}.{}", token.rsplit_once('.').unwrap().0, "00".repeat(16));
    let mut again = fields("Eve", "eve@example.org", "Another thought.");
    again.push(("token", &token));
    let response = post(&reader, &site, ARTICLE, &again).await;
    assert_eq!(response.status(), 429, "{backend:?}: flood");
    assert!(response.headers().contains_key("retry-after"));
    assert!(response.text().await.unwrap().contains("You are posting comments too quickly. Slow down."));
    // Duplicate (checked before flood, as WordPress does).
    let response = post(&reader, &site, ARTICLE, &form).await;
    assert_eq!(response.status(), 409);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("Duplicate comment detected; it looks as though you\u{2019}ve already said that!"));
    // Honeypot and forged token.
    let mut bot = fields("Bot", "bot@example.org", "Buy now");
    bot.push(("token", &token));
    bot.push(("ov_trap", "http://spam.example"));
    assert_eq!(post(&reader, &site, ARTICLE, &bot).await.status(), 400);
    let mut forgery = fields("Bot", "bot@example.org", "Buy now");
    forgery.push(("token", &forged));
    let response = post(&reader, &site, ARTICLE, &forgery).await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("The form was not valid"));
    // CSRF: a form posted from another site's page.
    let cross = reader
        .post(format!("{}/article/{ARTICLE}/comments", site.base))
        .header("origin", "https://evil.example")
        .form(&[("author", "X"), ("email", "x@example.org"), ("comment", "x"), ("token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    // The per-address bucket (7 at once) is empty by now.
    let response = post(&reader, &site, ARTICLE, &fields("Fay", "fay@example.org", "Hello")).await;
    assert_eq!(response.status(), 429, "{backend:?}: rate limit");
    let (pending,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM comments").fetch_one(&site.db.pool).await.unwrap();
    assert_eq!(pending, 1, "only the one good comment was stored");
    site.finish().await;
}

on_each_backend!(moderation_rules_hold_links_and_keys_and_send_disallowed_words_to_spam);
async fn moderation_rules_hold_links_and_keys_and_send_disallowed_words_to_spam(backend: Backend) {
    let config = format!("{RELAXED}moderation_keys = [\"casino\"]\ndisallowed_keys = \"viagra, pills\"\n");
    let site = TestSite::start_with(backend, &config).await;
    let reader = browser();
    let first = accepted_id(&post(&reader, &site, ARTICLE, &fields("Gil", "gil@example.org", "Hello there.")).await);
    cli_ok(&site, &["comments", "approve", &first.to_string()]);
    let cases = [
        ("Known author, plain text.", "approved"),
        ("Two links: http://a.example and https://b.example", "pending"),
        ("One link is fine: https://a.example", "approved"),
        ("Visit my CASINO", "pending"),
        ("Cheap Viagra here", "spam"),
    ];
    for (text, expected) in cases {
        let id = accepted_id(&post(&reader, &site, ARTICLE, &fields("Gil", "gil@example.org", text)).await);
        let listed = cli_ok(&site, &["comments", "list", "--status", expected, "--article", ARTICLE]);
        assert!(
            listed.lines().any(|l| l.starts_with(&id.to_string())),
            "{backend:?}: {text:?} should be {expected}: {listed}"
        );
    }
    let (_, own) = page(&reader, &site, &format!("/article/{ARTICLE}")).await;
    assert!(own.contains("Visit my CASINO") && !own.contains("Cheap Viagra"), "spam is shown to nobody");
    site.finish().await;
}

on_each_backend!(comment_text_keeps_paragraphs_links_and_only_the_allowed_tags);
async fn comment_text_keeps_paragraphs_links_and_only_the_allowed_tags(backend: Backend) {
    let site = TestSite::start_with(backend, &format!("{RELAXED}require_previous_approval = false\n")).await;
    let reader = browser();
    let text = "First line\nsecond line\n\nNew paragraph with <b>bold</b>, <em>em</em>, <code>x</code> and https://example.org/page.\n\n<script>alert('x')</script><img src=x onerror=alert(1)><a href=\"javascript:alert(2)\">js</a><h1>Big</h1><blockquote>quoted</blockquote>";
    let id = accepted_id(&post(&reader, &site, ARTICLE, &fields("Hal", "hal@example.org", text)).await);
    site.settle().await;
    let (_, html) = site.fetch(&format!("/article/{ARTICLE}")).await;
    let doc = Html::parse_document(&html);
    let content = select(&doc, &format!("#comment-{id} .comment-content"))[0].inner_html();
    assert!(content.contains("<p>First line<br>\nsecond line</p>"), "{content}");
    assert!(content.contains("<b>bold</b>") && content.contains("<em>em</em>") && content.contains("<code>x</code>"));
    assert!(content.contains("<blockquote>quoted</blockquote>"));
    assert!(
        content.contains(
            r#"<a href="https://example.org/page" rel="nofollow ugc noopener">https://example.org/page</a>."#
        ),
        "{content}"
    );
    for gone in ["<script", "alert", "<img", "onerror", "javascript:", "<h1"] {
        assert!(!content.contains(gone), "{gone}: {content}");
    }
    site.finish().await;
}

on_each_backend!(the_email_address_appears_nowhere_public);
async fn the_email_address_appears_nowhere_public(backend: Backend) {
    let site = TestSite::start_with(backend, RELAXED).await;
    let reader = browser();
    let mut form = fields("Ida Private", "ida.secret-mailbox@example.net", "Approved comment with a website.");
    form[2] = ("url", "https://ida.example");
    let approved = accepted_id(&post(&reader, &site, ARTICLE, &form).await);
    cli_ok(&site, &["comments", "approve", &approved.to_string()]);
    let other = browser();
    accepted_id(
        &post(
            &other,
            &site,
            ARTICLE,
            &fields("Ida Private", "ida.secret-mailbox@example.net", "A reply, approved at once."),
        )
        .await,
    );
    accepted_id(
        &post(&other, &site, OTHER, &fields("Jo", "jo.secret-mailbox@example.net", "Pending elsewhere.")).await,
    );
    site.settle().await;
    let (_, html) = site.fetch(&format!("/article/{ARTICLE}")).await;
    let doc = Html::parse_document(&html);
    let avatar = select(&doc, &format!("#comment-{approved} img.avatar"))[0].value().attr("src").unwrap().to_string();
    assert!(html.contains("Approved comment with a website.") && html.contains("A reply, approved at once."));
    let paths = [
        format!("/article/{ARTICLE}"),
        format!("/article/{OTHER}"),
        format!("/article/{ARTICLE}/comments/feed"),
        "/comments/feed".to_string(),
        "/".to_string(),
        "/category/defence-security".to_string(),
        "/feed".to_string(),
        "/feed/atom".to_string(),
        "/feed.json".to_string(),
        "/sitemap.xml".to_string(),
        "/sitemap/posts-1.xml".to_string(),
        "/search?q=approved".to_string(),
        avatar.clone(),
    ];
    for path in &paths {
        let (status, body) = site.fetch(path).await;
        assert_eq!(status, 200, "{backend:?} {path}");
        for secret in ["secret-mailbox", "example.net", "%40example"] {
            assert!(!body.contains(secret), "{backend:?}: {path} shows {secret}");
        }
    }
    // The commenter's own page (cookies) shows their pending comment but not to others,
    // and the JSON-LD carries the comment without the email.
    let ld = select(&doc, "script[type='application/ld+json']");
    let comments: serde_json::Value = serde_json::from_str(&ld[1].text().collect::<String>()).unwrap();
    assert_eq!(comments["comment"][0]["@type"], "Comment");
    assert_eq!(comments["comment"][0]["author"]["name"], "Ida Private");
    assert_eq!(comments["comment"][0]["author"]["url"], "https://ida.example");
    assert_eq!(comments["commentCount"], 2);
    let svg = site.get(&avatar).await;
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));
    assert_eq!(site.fetch("/comments/avatar/..%2Fsecret.svg").await.0, 404);
    // IPFS: the whole-site CAR (every article bundle and the snapshot) holds no email.
    let car = site.dir.path().join("site.car");
    cli_ok(&site, &["export", "car", "--out", car.to_str().unwrap()]);
    let bytes = std::fs::read(&car).unwrap();
    assert!(bytes.len() > 1000);
    for secret in [&b"secret-mailbox"[..], b"example.net"] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret), "{backend:?}: the CAR holds an email");
    }
    site.finish().await;
}

on_each_backend!(comment_feeds_parse_and_list_approved_comments);
async fn comment_feeds_parse_and_list_approved_comments(backend: Backend) {
    let site = TestSite::start_with(backend, &format!("{RELAXED}require_previous_approval = false\n")).await;
    let reader = browser();
    let a = accepted_id(
        &post(&reader, &site, ARTICLE, &fields("Kim", "kim@example.org", "On drones & 3 < 4 coasts.")).await,
    );
    let b = accepted_id(&post(&reader, &site, OTHER, &fields("Lu", "lu@example.org", "On banks.")).await);
    site.settle().await;
    for (path, n) in [("/comments/feed".to_string(), 2), (format!("/article/{ARTICLE}/comments/feed"), 1)] {
        let response = site.get(&path).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/rss+xml"));
        let bytes = response.bytes().await.unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{backend:?} {path}: {e}"));
        assert_eq!(feed.entries.len(), n, "{path}");
        let newest = &feed.entries[0];
        let expected = if n == 2 {
            format!("{}/article/{OTHER}#comment-{b}", site.base)
        } else {
            format!("{}/article/{ARTICLE}#comment-{a}", site.base)
        };
        assert_eq!(newest.links[0].href, expected);
        assert!(newest.title.as_ref().unwrap().content.starts_with("Comment on "));
    }
    let bytes = site.get(&format!("/article/{ARTICLE}/comments/feed")).await.bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&bytes[..]).unwrap();
    let body = feed.entries[0].content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default();
    assert!(body.contains("On drones &amp; 3 &lt; 4 coasts."), "{body}");
    assert_eq!(site.fetch("/article/no-such/comments/feed").await.0, 404);
    site.finish().await;
}

on_each_backend!(replies_nest_ten_levels_deep_by_default_as_on_wordpress);
async fn replies_nest_ten_levels_deep_by_default_as_on_wordpress(backend: Backend) {
    let config = format!("{RELAXED}require_previous_approval = false\n");
    let site = TestSite::start_with(backend, &config).await;
    let reader = browser();
    let mut ids: Vec<String> = Vec::new();
    for level in 1..=11 {
        let text = format!("Level {level} says hello");
        let mut reply = fields("Mo", "mo@example.org", &text);
        let parent = ids.last().cloned().unwrap_or_default();
        if !parent.is_empty() {
            reply.push(("parent", &parent));
        }
        ids.push(accepted_id(&post(&reader, &site, ARTICLE, &reply).await).to_string());
    }
    site.settle().await;
    let (_, html) = page(&browser(), &site, &format!("/article/{ARTICLE}")).await;
    let doc = Html::parse_document(&html);
    let nested = format!("#comment-{}{}", ids[0], " > ol.children > li".repeat(9));
    let tenth: Vec<String> =
        select(&doc, &nested).iter().filter_map(|li| li.value().attr("id").map(str::to_string)).collect();
    assert_eq!(
        tenth,
        [format!("comment-{}", ids[9]), format!("comment-{}", ids[10])],
        "{backend:?}: the 11th joins the 10th level"
    );
    assert!(!select(&doc, &format!("#comment-{} .comment-reply-link", ids[8])).is_empty(), "Reply at level 9");
    assert!(select(&doc, &format!("#comment-{} .comment-reply-link", ids[9])).is_empty(), "no Reply at level 10");
    site.finish().await;
}

on_each_backend!(threads_paginate_nest_to_the_configured_depth_and_close);
async fn threads_paginate_nest_to_the_configured_depth_and_close(backend: Backend) {
    let config = format!("{RELAXED}require_previous_approval = false\nper_page = 2\nthread_depth = 2\n");
    let site = TestSite::start_with(backend, &config).await;
    let reader = browser();
    let mut top = Vec::new();
    for n in 0..3 {
        top.push(accepted_id(
            &post(&reader, &site, ARTICLE, &fields("Mo", "mo@example.org", &format!("Top-level {n}"))).await,
        ));
    }
    let parent = top[0].to_string();
    let mut reply = fields("Mo", "mo@example.org", "Depth two");
    reply.push(("parent", &parent));
    let depth2 = accepted_id(&post(&reader, &site, ARTICLE, &reply).await).to_string();
    let mut deeper = fields("Mo", "mo@example.org", "Depth three joins depth two");
    deeper.push(("parent", &depth2));
    let response = post(&reader, &site, ARTICLE, &deeper).await;
    accepted_id(&response);
    site.settle().await;
    let anonymous = browser();
    let (_, html) = page(&anonymous, &site, &format!("/article/{ARTICLE}")).await;
    let doc = Html::parse_document(&html);
    assert_eq!(select(&doc, ".comment-list > li").len(), 2, "{backend:?}: two threads per page");
    assert_eq!(select(&doc, &format!("#comment-{} > ol.children > li", top[0])).len(), 2, "depth 3 shown at depth 2");
    assert!(
        select(&doc, &format!("#comment-{depth2} .comment-reply-link")).is_empty(),
        "no Reply at the deepest level"
    );
    let next = select(&doc, ".comment-navigation a[rel=next]")[0].value().attr("href").unwrap().to_string();
    assert_eq!(next, format!("/article/{ARTICLE}/comments/page/2#comments"));
    let (status, html) = page(&anonymous, &site, next.split('#').next().unwrap()).await;
    assert_eq!(status, 200);
    assert!(html.contains("Top-level 2") && !html.contains("Top-level 0"));
    assert_eq!(page(&anonymous, &site, &format!("/article/{ARTICLE}/comments/page/3")).await.0, 404);
    // The newest thread's permalink points at its page.
    let last = post(&reader, &site, ARTICLE, &fields("Mo", "mo@example.org", "Top-level 3")).await;
    assert!(last.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&format!("/article/{ARTICLE}/comments/page/2#comment-")));

    cli_ok(&site, &["comments", "close", ARTICLE]);
    site.settle().await;
    let (_, html) = page(&anonymous, &site, &format!("/article/{ARTICLE}")).await;
    assert!(html.contains("Comments are closed.") && !html.contains("id=\"commentform\""), "{backend:?}");
    let response = post(&reader, &site, OTHER, &fields("Mo", "mo@example.org", "Elsewhere is open")).await;
    assert_eq!(response.status(), 303);
    let closed = reader
        .post(format!("{}/article/{ARTICLE}/comments", site.base))
        .form(&[("author", "Mo"), ("email", "mo@example.org"), ("comment", "Too late, but kept"), ("token", "1.1.00")])
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 403);
    assert!(closed.text().await.unwrap().contains("Too late, but kept"));
    cli_ok(&site, &["comments", "open", ARTICLE]);
    site.settle().await;
    let (_, html) = page(&anonymous, &site, &format!("/article/{ARTICLE}")).await;
    assert!(html.contains("id=\"commentform\""));
    site.finish().await;

    // close_after_days: the demo articles were published before "now".
    let site = TestSite::start_with(backend, &format!("{RELAXED}close_after_days = 1\n")).await;
    let (_, feed) = site.fetch("/feed.json").await;
    let feed: serde_json::Value = serde_json::from_str(&feed).unwrap();
    let oldest = feed["items"].as_array().unwrap().last().unwrap()["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (_, html) = site.fetch(&format!("/article/{oldest}")).await;
    assert!(html.contains("Comments are closed."), "{backend:?}: the oldest demo article is older than a day");
    site.finish().await;
}

#[tokio::test]
async fn cached_pages_get_a_fresh_form_token_and_still_answer_304() {
    let site = TestSite::start_with(Backend::Sqlite, RELAXED).await;
    let path = format!("/article/{ARTICLE}");
    let first = site.get(&path).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    let a = first.text().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b = site.fetch(&path).await.1;
    let token = |html: &str| {
        let doc = Html::parse_document(html);
        select(&doc, "input[name=token]")[0].value().attr("value").unwrap().to_string()
    };
    assert_ne!(token(&a), token(&b), "each view gets a token issued at its own time");
    assert!(!a.contains("__OVTOKEN_"));
    let again = site.client.get(format!("{}{path}", site.base)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    site.finish().await;
}

/// A server that lets one client post as fast as it can.
fn start_server(dir: &std::path::Path, port: u16) -> Node {
    let env = [
        ("OPENVOICE_COMMENTS_MIN_SECONDS", "0"),
        ("OPENVOICE_COMMENTS_FLOOD_SECONDS", "0"),
        ("OPENVOICE_COMMENTS_RATE_LIMIT_BURST", "1000000"),
        ("OPENVOICE_COMMENTS_RATE_LIMIT_PER_MINUTE", "1000000"),
        ("OPENVOICE_MARKET_ENABLED", "false"),
    ];
    Node::start(dir, None, port, &env)
}

#[tokio::test]
async fn kill_dash_nine_mid_burst_loses_no_acknowledged_comment() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start_server(dir.path(), port);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    server.wait_healthy().await;
    let html = client.get(format!("{base}/article/{ARTICLE}")).send().await.unwrap().text().await.unwrap();
    let doc = Html::parse_document(&html);
    let token = select(&doc, "input[name=token]")[0].value().attr("value").unwrap().to_string();

    let (acks_tx, mut acks_rx) = tokio::sync::mpsc::unbounded_channel::<(String, i64)>();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..32 {
        let (client, base, token, acks) = (client.clone(), base.clone(), token.clone(), acks_tx.clone());
        tasks.spawn(async move {
            for n in 0..200 {
                let text = format!("Burst comment {worker}-{n}");
                let email = format!("burst{worker}x{n}@example.org");
                let form = [("author", "Burst"), ("email", &email), ("comment", &text), ("token", &token)];
                let url = format!("{base}/article/{ARTICLE}/comments");
                let Ok(response) = client.post(url).form(&form).send().await else { return };
                if response.status() != 303 {
                    return;
                }
                let location = response.headers()["location"].to_str().unwrap().to_string();
                let id: i64 = location.rsplit("#comment-").next().unwrap().parse().unwrap();
                let _ = acks.send((text, id));
            }
        });
    }
    drop(acks_tx);
    let mut acked: HashMap<String, i64> = HashMap::new();
    while let Some((text, id)) = acks_rx.recv().await {
        acked.insert(text, id);
        if acked.len() == 300 {
            server.kill(); // SIGKILL: no shutdown, no flush.
            break;
        }
    }
    while let Some((text, id)) = acks_rx.recv().await {
        acked.insert(text, id);
    }
    while tasks.join_next().await.is_some() {}
    assert!(acked.len() >= 300, "the burst was acknowledged before the kill");

    let mut server = start_server(dir.path(), port);
    server.wait_healthy().await;
    let url = openvoice::store::sqlite_url_for(dir.path());
    let db = openvoice::store::Db::connect(&url, 2).await.unwrap();
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, content FROM comments").fetch_all(&db.pool).await.unwrap();
    let mut stored: HashMap<String, Vec<i64>> = HashMap::new();
    for (id, content) in rows {
        stored.entry(content).or_default().push(id);
    }
    for (text, id) in &acked {
        assert_eq!(
            stored.get(text).map(Vec::as_slice),
            Some(&[*id][..]),
            "acknowledged {text:?} must exist exactly once"
        );
    }
    assert!(stored.values().all(|ids| ids.len() == 1), "no comment stored twice");
    eprintln!("{} acknowledged before kill -9, {} stored", acked.len(), stored.len());
    db.pool.close().await;
    server.kill();
}
