//! Public pages over real HTTP, on every backend.

#[macro_use]
mod common;

use std::io::Read;

use common::{Backend, TestSite};
use scraper::{Html, Selector};

const DEFENCE_ARTICLE: &str = "parliament-approves-coastal-drone-patrols";

fn select<'a>(doc: &'a Html, css: &str) -> Vec<scraper::ElementRef<'a>> {
    doc.select(&Selector::parse(css).expect("selector")).collect()
}

fn text_of(doc: &Html, css: &str) -> String {
    select(doc, css).first().map(|e| e.text().collect::<String>()).unwrap_or_default().trim().to_string()
}

on_each_backend!(article_page_has_everything_a_reader_and_a_crawler_need);
async fn article_page_has_everything_a_reader_and_a_crawler_need(backend: Backend) {
    let site = TestSite::start(backend).await;
    let (status, html) = site.fetch(&format!("/article/{DEFENCE_ARTICLE}")).await;
    assert_eq!(status, 200, "{backend:?}");
    let doc = Html::parse_document(&html);
    assert_eq!(text_of(&doc, "article .label"), "Defence & Security");
    assert_eq!(text_of(&doc, "article h1"), "Parliament Approves Coastal Drone Patrols After Year-Long Review");
    let byline = text_of(&doc, ".byline");
    assert!(
        byline.contains("Mara Lindqvist") && byline.contains("min read") && byline.contains("November 2026"),
        "{byline}"
    );
    // Markdown extensions rendered and sanitised.
    assert!(!select(&doc, "article .body table").is_empty() || !select(&doc, "article .body p").is_empty());
    assert!(!select(&doc, ".tags a[rel=tag]").is_empty());
    assert!(!select(&doc, ".post-nav a").is_empty(), "previous/next links");
    assert_eq!(select(&doc, "section#comments").len(), 1, "comments slot");
    assert_eq!(select(&doc, ".widget-search").len(), 1, "sidebar");
    // Metadata.
    let canonical = select(&doc, "link[rel=canonical]")[0].value().attr("href").unwrap().to_string();
    assert_eq!(canonical, format!("{}/article/{DEFENCE_ARTICLE}", site.base));
    let og_type = select(&doc, "meta[property='og:type']")[0].value().attr("content").unwrap();
    assert_eq!(og_type, "article");
    assert_eq!(select(&doc, "meta[property='og:title']").len(), 1);
    assert_eq!(select(&doc, "meta[name='twitter:card']").len(), 1);
    let json_ld = text_of(&doc, "script[type='application/ld+json']");
    let ld: serde_json::Value = serde_json::from_str(&json_ld).expect("JSON-LD parses");
    assert_eq!(ld["@type"], "NewsArticle");
    assert_eq!(ld["headline"], "Parliament Approves Coastal Drone Patrols After Year-Long Review");
    assert_eq!(ld["author"][0]["name"], "Mara Lindqvist");
    assert_eq!(ld["articleSection"], "Defence & Security");
    assert!(ld["datePublished"].as_str().unwrap().starts_with("2026-11-"));
    site.finish().await;
}

on_each_backend!(markdown_extensions_render_and_scripts_do_not);
async fn markdown_extensions_render_and_scripts_do_not(backend: Backend) {
    let site = TestSite::start(backend).await;
    let body = "Intro with a note[^n].\n\n| A | B |\n|---|---|\n| 1 | 2 |\n\n~~old~~ new\n\n- [x] done\n- [ ] todo\n\n[^n]: The note.\n\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n";
    let file = common::write_file(site.dir.path(), "body.md", body);
    let out = site.cli(&[
        "post",
        "new",
        "--title",
        "<b>Bold</b> & \"quoted\"",
        "--category",
        "Technology",
        "--file",
        file.to_str().unwrap(),
        "--tags",
        "tests,markdown",
        "--publish",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let stdout = common::stdout(&out);
    let slug = stdout.split_whitespace().nth(1).expect("the CLI prints the status and slug");
    site.settle().await;
    let (status, html) = site.fetch(&format!("/article/{slug}")).await;
    assert_eq!(status, 200);
    let doc = Html::parse_document(&html);
    // The title is text, escaped by the template engine.
    assert_eq!(text_of(&doc, "article h1"), "<b>Bold</b> & \"quoted\"");
    assert!(select(&doc, "article h1 b").is_empty());
    assert_eq!(select(&doc, ".body table").len(), 1);
    assert_eq!(select(&doc, ".body del").len(), 1);
    assert_eq!(select(&doc, ".body input[type=checkbox]").len(), 2);
    assert_eq!(select(&doc, ".body .footnote-definition").len(), 1);
    assert!(select(&doc, ".body script").is_empty());
    assert!(!html.contains("alert('x')") && !html.contains("onerror"), "sanitised");
    site.finish().await;
}

on_each_backend!(the_text_before_more_is_the_excerpt_of_listings_feeds_and_the_meta_description);
async fn the_text_before_more_is_the_excerpt_of_listings_feeds_and_the_meta_description(backend: Backend) {
    let site = TestSite::start(backend).await;
    let body = "<p>Gulls took the <em>whole</em> catch.</p>\n\n<!--more-->\n\nZebulon the quaymaster replied.\n";
    let file = common::write_file(site.dir.path(), "body.md", body);
    let out = site.cli(&["post", "new", "--title", "Gulls", "--file", file.to_str().unwrap(), "--publish"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let slug = common::stdout(&out).split_whitespace().nth(1).expect("the CLI prints the status and slug").to_string();
    site.settle().await;

    let (_, html) = site.fetch(&format!("/article/{slug}")).await;
    let doc = Html::parse_document(&html);
    let description = select(&doc, "meta[name=description]")[0].value().attr("content").unwrap().to_string();
    assert_eq!(description, "Gulls took the whole catch.");
    assert!(text_of(&doc, "article .body").contains("Zebulon the quaymaster replied."), "the article shows it all");

    let (_, home) = site.fetch("/").await;
    assert!(home.contains("Gulls took the whole catch.") && !home.contains("Zebulon"), "{home}");
    let (_, feed) = site.fetch("/feed").await;
    assert!(feed.contains("<description>Gulls took the whole catch.</description>"), "{feed}");
    site.finish().await;
}

on_each_backend!(an_article_split_by_nextpage_is_shown_page_by_page_and_feeds_keep_it_whole);
async fn an_article_split_by_nextpage_is_shown_page_by_page_and_feeds_keep_it_whole(backend: Backend) {
    let site = TestSite::start(backend).await;
    let body =
        "Part one, the quay.\n\n<!--nextpage-->\n\nPart two, the nets.\n\n<!--nextpage-->\n\nPart three, the gulls.\n";
    let file = common::write_file(site.dir.path(), "body.md", body);
    let out = site.cli(&["post", "new", "--title", "In parts", "--file", file.to_str().unwrap(), "--publish"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let slug = common::stdout(&out).split_whitespace().nth(1).expect("the CLI prints the status and slug").to_string();
    site.settle().await;
    let first = format!("/article/{slug}");
    let second = format!("/article/{slug}/page/2");
    let third = format!("/article/{slug}/page/3");

    let parts = ["Part one, the quay.", "Part two, the nets.", "Part three, the gulls."];
    for (n, (path, prev, next)) in
        [(&first, None, Some(&second)), (&second, Some(&first), Some(&third)), (&third, Some(&second), None)]
            .into_iter()
            .enumerate()
    {
        let (status, html) = site.fetch(path).await;
        assert_eq!(status, 200, "{path}");
        let doc = Html::parse_document(&html);
        let body = text_of(&doc, "article .body");
        for (i, part) in parts.iter().enumerate() {
            assert_eq!(body.contains(part), i == n, "{path}: {part} in {body}");
        }
        let href = |css: &str| select(&doc, css).first().and_then(|e| e.value().attr("href")).map(str::to_string);
        assert_eq!(href("link[rel=prev]").as_ref(), prev, "{path}");
        assert_eq!(href("link[rel=next]").as_ref(), next, "{path}");
        assert_eq!(href(".article-pages a[rel=prev]").as_ref(), prev, "{path}");
        assert_eq!(href(".article-pages a[rel=next]").as_ref(), next, "{path}");
        let numbers: String = text_of(&doc, ".article-pages").split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(numbers, "Page 1 2 3");
        assert_eq!(text_of(&doc, ".article-pages [aria-current=page]"), (n + 1).to_string());
    }
    assert_eq!(site.fetch(&format!("/article/{slug}/page/4")).await.0, 404);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = client.get(format!("{}/article/{slug}/page/1", site.base)).send().await.unwrap();
    assert_eq!(response.status(), 301);
    assert_eq!(response.headers()["location"], first.as_str());

    // The feed carries the whole text.
    let (_, feed) = site.fetch("/feed").await;
    assert!(parts.iter().all(|part| feed.contains(part)), "{feed}");
    site.finish().await;
}

on_each_backend!(a_bare_provider_link_is_a_click_to_load_embed_that_asks_the_provider_nothing);
async fn a_bare_provider_link_is_a_click_to_load_embed_that_asks_the_provider_nothing(backend: Backend) {
    let site = TestSite::start(backend).await;
    let youtube = "https://www.youtube.com/watch?v=dQw4w9WgXcQ";
    let mastodon = "https://mastodon.social/@Gargron/109";
    let tweet = "https://x.com/nasa/status/1234567890";
    let body =
        format!("Before.\n\n{youtube}\n\n{mastodon}\n\n{tweet}\n\nSee https://vimeo.com/76979871 in a sentence.\n");
    let file = common::write_file(site.dir.path(), "body.md", &body);
    let out = site.cli(&["post", "new", "--title", "Embeds", "--file", file.to_str().unwrap(), "--publish"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let slug = common::stdout(&out).split_whitespace().nth(1).expect("the CLI prints the status and slug").to_string();
    site.settle().await;

    let (_, html) = site.fetch(&format!("/article/{slug}")).await;
    let doc = Html::parse_document(&html);
    let links: Vec<&str> =
        select(&doc, "article .body .embed[data-player] > a").iter().filter_map(|a| a.value().attr("href")).collect();
    assert_eq!(links, [youtube, mastodon, tweet], "each bare link is a plain link inside its placeholder");
    assert!(text_of(&doc, "article .body").contains("See https://vimeo.com/76979871 in a sentence."));
    assert_eq!(select(&doc, "iframe").len(), 0);
    // Nothing on the page makes the browser ask another site for anything before a click.
    for element in select(&doc, "[src], [srcset]") {
        for attribute in ["src", "srcset"] {
            let Some(value) = element.value().attr(attribute) else { continue };
            let own = value.starts_with('/') && !value.starts_with("//") || value.starts_with(&site.base);
            assert!(own, "{attribute}={value:?} on <{}>", element.value().name());
        }
    }
    assert_eq!(select(&doc, "script[src='/static/embeds.js']").len(), 1);
    // The only frames the page may load are the players'.
    let policy =
        select(&doc, "meta[http-equiv=Content-Security-Policy]")[0].value().attr("content").unwrap().to_string();
    assert_eq!(
        policy,
        "frame-src https://mastodon.social https://platform.twitter.com https://www.youtube-nocookie.com"
    );
    assert_eq!(site.fetch("/static/embeds.js").await.0, 200);

    // Without embeds, no script; feeds keep the bare links.
    let (_, other) = site.fetch(&format!("/article/{DEFENCE_ARTICLE}")).await;
    assert!(!other.contains("embeds.js"));
    let (_, feed) = site.fetch("/feed").await;
    assert!(feed.contains(youtube) && !feed.contains("data-player"), "{feed}");
    site.finish().await;
}

/// A local stand-in for providers' oEmbed endpoints (oembed.com's JSON): YouTube's answers
/// with a title and author, Vimeo's fails; counts what it is asked.
async fn oembed_provider() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let app = axum::Router::new()
        .route(
            "/youtube/oembed",
            axum::routing::get(move |query: axum::extract::Query<std::collections::HashMap<String, String>>| {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    assert_eq!(query.get("format").map(String::as_str), Some("json"));
                    assert!(query.get("url").is_some_and(|u| u.starts_with("https://www.youtube.com/watch")));
                    axum::Json(serde_json::json!({
                        "type": "video", "version": "1.0", "title": "Harbour <b>tides</b> explained",
                        "author_name": "Port Authority", "provider_name": "YouTube",
                        "html": "<iframe src=\"https://www.youtube.com/embed/x\"></iframe>",
                        "thumbnail_url": "https://i.ytimg.com/vi/x/hqdefault.jpg",
                    }))
                }
            }),
        )
        .route("/vimeo/oembed", axum::routing::get(|| async { (axum::http::StatusCode::BAD_GATEWAY, "down") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, asked)
}

on_each_backend!(a_configured_oembed_endpoint_titles_the_placeholder_and_is_asked_once);
/// With `content.oembed_endpoints`, the server asks the provider for the post's title and author
/// and shows them on the placeholder (escaped); the reader's page still names no other site,
/// and the answer is kept, so a page rendered again asks nothing. A provider that fails leaves
/// its placeholder as it was.
async fn a_configured_oembed_endpoint_titles_the_placeholder_and_is_asked_once(backend: Backend) {
    let (provider, asked) = oembed_provider().await;
    let config = format!(
        "[content.oembed_endpoints]\nYouTube = \"{provider}/youtube/oembed\"\nVimeo = \"{provider}/vimeo/oembed\"\n"
    );
    let site = TestSite::start_with(backend, &config).await;
    let body = "Watch:\n\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ\n\nhttps://vimeo.com/76979871\n";
    let file = common::write_file(site.dir.path(), "body.md", body);
    let out = site.cli(&["post", "new", "--title", "Tides", "--file", file.to_str().unwrap(), "--publish"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.settle().await;

    let (_, html) = site.fetch("/article/tides").await;
    let doc = Html::parse_document(&html);
    assert_eq!(text_of(&doc, ".embed-youtube .embed-title"), "Harbour <b>tides</b> explained", "as text");
    assert_eq!(text_of(&doc, ".embed-youtube .embed-author"), "Port Authority");
    assert!(select(&doc, ".embed-vimeo .embed-title").is_empty(), "the failed provider: no title");
    assert_eq!(select(&doc, ".embed-vimeo[data-player]").len(), 1, "and still a placeholder");
    assert_eq!(select(&doc, "iframe").len() + select(&doc, "img[src*='ytimg']").len(), 0, "no player, no thumbnail");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);

    // Rendered again (the cache dropped by an edit): the kept answer, nobody asked.
    let out = site.cli(&["post", "edit", "tides", "--file", file.to_str().unwrap(), "--title", "Tides again"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.settle().await;
    let (_, html) = site.fetch("/article/tides").await;
    assert!(html.contains("Tides again") && html.contains("Port Authority"), "{html}");
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1, "kept for a week");
    site.finish().await;
}

on_each_backend!(listings_archives_and_pagination);
async fn listings_archives_and_pagination(backend: Backend) {
    let site = TestSite::start_with(backend, "[content]\nper_page = 3\n").await;
    let (status, html) = site.fetch("/").await;
    assert_eq!(status, 200);
    let doc = Html::parse_document(&html);
    let titles: Vec<String> = select(&doc, ".card-title a").iter().map(|e| e.text().collect()).collect();
    assert_eq!(titles.len(), 3);
    // Newest first: the demo's latest article is dated 24 November.
    assert!(titles[0].contains("Cooperative"), "{titles:?}");
    assert_eq!(select(&doc, ".pagination a[rel=next]")[0].value().attr("href"), Some("/page/2"));
    let (status, page3) = site.fetch("/page/3").await;
    assert_eq!(status, 200);
    let page3 = Html::parse_document(&page3);
    assert_eq!(select(&page3, ".card").len(), 1, "7 demo articles over pages of 3");
    assert_eq!(select(&page3, ".pagination a[rel=prev]")[0].value().attr("href"), Some("/page/2"));
    let (_, page2) = site.fetch("/page/2").await;
    assert_eq!(select(&Html::parse_document(&page2), ".pagination a[rel=prev]")[0].value().attr("href"), Some("/"));
    assert_eq!(site.fetch("/page/4").await.0, 404);
    // The older `?page=n` form, and `/page/1`, move permanently to the one URL of the page.
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (from, to) in [
        ("/?page=3", "/page/3"),
        ("/?page=1", "/"),
        ("/page/1", "/"),
        ("/category/defence-security?page=2", "/category/defence-security/page/2"),
        ("/tag/drones/page/1", "/tag/drones"),
    ] {
        let response = no_redirects.get(format!("{}{from}", site.base)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 301, "{from}");
        assert_eq!(response.headers()["location"], to, "{from}");
    }

    let (status, html) = site.fetch("/category/defence-security").await;
    assert_eq!(status, 200);
    let doc = Html::parse_document(&html);
    assert_eq!(text_of(&doc, ".archive-header h1"), "Defence & Security");
    let labels: Vec<String> = select(&doc, ".card .label").iter().map(|e| e.text().collect()).collect();
    assert!(labels.len() >= 2 && labels.iter().all(|l| l == "Defence & Security"), "{labels:?}");

    let (status, html) = site.fetch("/tag/drones").await;
    assert_eq!(status, 200);
    assert!(html.contains(DEFENCE_ARTICLE));

    let (status, html) = site.fetch("/author/mara-lindqvist").await;
    assert_eq!(status, 200);
    assert!(html.contains("Mara Lindqvist"));

    let (status, html) = site.fetch("/about").await;
    assert_eq!(status, 200);
    assert!(Html::parse_document(&html).select(&Selector::parse("article h1").unwrap()).next().is_some());
    // Pages are not articles and not listed.
    assert_eq!(site.fetch("/article/about").await.0, 404);
    for page in 1..=3 {
        assert!(!site.fetch(&format!("/page/{page}")).await.1.contains("/article/about"));
    }
    site.finish().await;
}

on_each_backend!(search_ranks_and_highlights);
async fn search_ranks_and_highlights(backend: Backend) {
    let site = TestSite::start(backend).await;
    let (status, html) = site.fetch("/search?q=drone+patrols").await;
    assert_eq!(status, 200);
    let doc = Html::parse_document(&html);
    let first = select(&doc, ".card-title a")[0].value().attr("href").unwrap().to_string();
    assert_eq!(first, format!("/article/{DEFENCE_ARTICLE}"), "{backend:?}: title matches rank first");
    assert!(!select(&doc, ".snippet mark").is_empty(), "highlighted snippet");
    // Operators and quotes are taken literally, never a syntax error.
    for q in ["%22unbalanced", "a+OR+NOT", "*", "%3Cscript%3E", "NEAR(x"] {
        assert_eq!(site.fetch(&format!("/search?q={q}")).await.0, 200, "{q}");
    }
    let (_, html) = site.fetch("/search?q=zzzznotaword").await;
    assert!(html.contains("Nothing matched"));
    assert_eq!(site.fetch(&format!("/search?q={}", "a".repeat(201))).await.0, 400);
    site.finish().await;
}

#[tokio::test]
async fn bad_requests_get_precise_answers() {
    let site = TestSite::start(common::Backend::Sqlite).await;
    for (path, status, needle) in [
        ("/?page=abc", 400, "page"),
        ("/?page=-1", 400, "page"),
        ("/?page=0", 400, "page"),
        ("/?page=99999999999", 400, "page"),
        ("/category/defence-security?page=x", 400, "page"),
        ("/page/x", 400, "page"),
        ("/tag/drones/page/0", 400, "page"),
        ("/no/such/route", 404, "does not exist"),
        ("/article/no-such-article", 404, "does not exist"),
        ("/category/no-such-category", 404, "does not exist"),
        ("/static/../Cargo.toml", 404, ""),
    ] {
        let (got, html) = site.fetch(path).await;
        assert_eq!(got, status, "{path}");
        assert!(html.contains(needle), "{path}: {html}");
        assert!(html.contains("<html"), "{path}: themed error page");
    }
    site.finish().await;
}

#[tokio::test]
async fn conditional_requests_and_compression() {
    let site = TestSite::start(common::Backend::Sqlite).await;
    let path = format!("/article/{DEFENCE_ARTICLE}");
    let response = site.get(&path).await;
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let last_modified = response.headers()["last-modified"].to_str().unwrap().to_string();
    assert!(response.headers()["cache-control"].to_str().unwrap().contains("must-revalidate"));
    assert!(response.headers().contains_key("x-request-id"));

    // Answered from the page cache before the rest of the stack, with the same headers.
    let hit = site.get(&path).await;
    for name in ["etag", "last-modified", "cache-control", "vary", "x-content-type-options", "referrer-policy"] {
        assert_eq!(hit.headers().get(name), response.headers().get(name), "{name}");
    }
    assert_ne!(hit.headers()["x-request-id"], response.headers()["x-request-id"], "an id per request");
    let again = site.client.get(format!("{}{path}", site.base)).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let since = site
        .client
        .get(format!("{}{path}", site.base))
        .header("if-modified-since", &last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(since.status(), 304);
    let other =
        site.client.get(format!("{}{path}", site.base)).header("if-none-match", "\"nope\"").send().await.unwrap();
    assert_eq!(other.status(), 200);

    // Test clients decompress as browsers do, which hides the header; this one shows it.
    let raw = reqwest::Client::builder().no_gzip().no_brotli().build().unwrap();
    for encoding in ["gzip", "br"] {
        let compressed =
            raw.get(format!("{}{path}", site.base)).header("accept-encoding", encoding).send().await.unwrap();
        assert_eq!(compressed.headers()["content-encoding"], encoding);
    }
    assert_eq!(site.fetch("/healthz").await, (200, "ok".to_string()));
    let oversize =
        site.client.post(format!("{}/search", site.base)).body(vec![b'x'; 3 * 1024 * 1024]).send().await.unwrap();
    assert_eq!(oversize.status(), 413, "bodies over http.max_body_bytes are refused");
    site.finish().await;
}

#[tokio::test]
async fn a_cached_page_is_sent_compressed_as_the_browser_asks() {
    let site = TestSite::start(common::Backend::Sqlite).await;
    let url = format!("{}/category/defence-security", site.base);
    // Test clients decompress as browsers do, which hides the coding; this one shows it.
    let raw = reqwest::Client::builder().no_gzip().no_brotli().build().unwrap();
    let plain = raw.get(&url).send().await.unwrap();
    assert!(!plain.headers().contains_key("content-encoding"));
    let plain_etag = plain.headers()["etag"].to_str().unwrap().to_string();
    let plain = plain.bytes().await.unwrap();
    for (accept, coding) in [("gzip, deflate, br, zstd", "br"), ("br;q=0, gzip", "gzip")] {
        let response = raw.get(&url).header("accept-encoding", accept).send().await.unwrap();
        assert_eq!(response.headers()["content-encoding"], coding, "{accept}");
        assert_eq!(response.headers()["vary"], "accept-encoding");
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        assert_ne!(etag, plain_etag, "each coding has its own validator");
        let body = response.bytes().await.unwrap();
        let mut decoded = Vec::new();
        match coding {
            "br" => brotli::Decompressor::new(&body[..], 4096).read_to_end(&mut decoded).unwrap(),
            _ => flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut decoded).unwrap(),
        };
        assert_eq!(decoded, plain, "{coding} decodes to the page");
        let again =
            raw.get(&url).header("accept-encoding", accept).header("if-none-match", &etag).send().await.unwrap();
        assert_eq!(again.status(), 304, "{coding}");
    }
    site.finish().await;
}

#[tokio::test]
async fn an_article_page_is_sent_compressed_with_a_form_token_issued_that_second() {
    let site = TestSite::start_with(common::Backend::Sqlite, "[comments]\nmin_seconds = 0\nflood_seconds = 0\n").await;
    let url = format!("{}/article/{DEFENCE_ARTICLE}", site.base);
    let raw =
        reqwest::Client::builder().no_gzip().no_brotli().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (n, (accept, coding)) in [("gzip, deflate, br, zstd", "br"), ("gzip", "gzip")].into_iter().enumerate() {
        let asked = chrono::Utc::now().timestamp();
        let response = raw.get(&url).header("accept-encoding", accept).send().await.unwrap();
        let answered = chrono::Utc::now().timestamp();
        assert_eq!(response.headers()["content-encoding"], coding, "{accept}");
        let body = response.bytes().await.unwrap();
        let mut decoded = Vec::new();
        match coding {
            "br" => brotli::Decompressor::new(&body[..], 4096).read_to_end(&mut decoded).unwrap(),
            _ => flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut decoded).unwrap(),
        };
        let html = String::from_utf8(decoded).unwrap();
        let doc = Html::parse_document(&html);
        let token = select(&doc, "#commentform input[name=token]")[0].value().attr("value").unwrap().to_string();
        let issued: i64 = token.split('.').next().unwrap().parse().unwrap_or_else(|_| panic!("token {token:?}"));
        assert!((asked..=answered).contains(&issued), "{coding}: token of {issued}, asked at {asked}");
        // The form accepts the token.
        let email = format!("reader{n}@example.org");
        let form = [
            ("author", "Reader"),
            ("email", &email),
            ("url", ""),
            ("comment", &format!("Read it in {coding}.")),
            ("token", &token),
        ];
        let posted = raw.post(format!("{url}/comments")).form(&form).send().await.unwrap();
        assert_eq!(posted.status(), 303, "{coding}");
        // The next request comes a second later: the page's copy must carry that second's token.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    site.finish().await;
}

#[tokio::test]
async fn theme_templates_can_be_overridden_from_the_data_folder() {
    let site = TestSite::start(common::Backend::Sqlite).await;
    let theme = site.dir.path().join("theme");
    std::fs::create_dir_all(theme.join("widgets")).unwrap();
    std::fs::write(theme.join("widgets/subscribe.html"), "<section class=\"widget\" id=\"my-widget\">Mine</section>")
        .unwrap();
    std::fs::create_dir_all(theme.join("static")).unwrap();
    std::fs::write(theme.join("static/style.css"), "body{color:red}").unwrap();
    // Templates are loaded on first use, so a new site picks the override up.
    let state = openvoice::theme::Templates::new(site.dir.path());
    assert_eq!(state.static_file("style.css").unwrap(), b"body{color:red}");
    assert!(state.static_file("../openvoice.toml").is_none());
    let (_, html) = site.fetch(&format!("/article/{DEFENCE_ARTICLE}")).await;
    assert!(html.contains("id=\"my-widget\""), "sidebar slot filled by the theme override");
    let (_, css) = site.fetch("/static/style.css").await;
    assert_eq!(css, "body{color:red}");
    site.finish().await;
}

on_each_backend!(every_page_of_a_listing_shows_the_next_posts_in_order);
/// Later pages are read from the listing's oldest end, and pages deep in a long listing from
/// where they start, as remembered until an article changes. Walking every page of home, a
/// category, a tag and an author must still give each published post once, newest first, as
/// SQL orders them: before and after a post is published on top of them.
async fn every_page_of_a_listing_shows_the_next_posts_in_order(backend: Backend) {
    use openvoice::content::service::reading::DEEP_PAGES;
    let site = TestSite::start_with(backend, "[content]\nper_page = 1\n").await;
    // Enough posts for pages deep in each listing; dates shared in threes, so that the order
    // among posts published in the same second (by id) counts too.
    let deep = DEEP_PAGES as usize * 2 + 10;
    let post = |i: usize, date: &str| {
        format!(
            "---\ntitle: \"Deep {i}\"\nslug: \"deep-{i}\"\ndate: {date}\ncategories: [\"Defence & Security\"]\n\
             tags: [\"Drones\"]\nauthor: \"Deep Writer\"\n---\nPost {i}.\n"
        )
    };
    let import = |name: &str, files: Vec<(String, String)>| {
        let dir = site.dir.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        let output = site.cli(&["import", "markdown", dir.to_str().unwrap()]);
        assert!(output.status.success(), "{}", common::stderr(&output));
    };
    import(
        "deep",
        (0..deep)
            .map(|i| (format!("{i:03}.md"), post(i, &format!("2020-01-{:02}T10:00:00Z", 1 + i / 3 % 28))))
            .collect(),
    );
    let author: String = sqlx::query_scalar("SELECT username FROM users WHERE display_name = 'Deep Writer'")
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    let posts = "FROM articles a WHERE a.kind = 'post' AND a.status = 'published'";
    let order = "ORDER BY a.published_at DESC, a.id DESC";
    let in_category = " AND a.category_id = (SELECT id FROM categories WHERE slug = 'defence-security')";
    let in_tag =
        " AND a.id IN (SELECT article_id FROM article_tags WHERE tag_id = (SELECT id FROM tags WHERE slug = 'drones'))";
    let by_author = format!(" AND a.author_id = (SELECT id FROM users WHERE username = '{author}')");
    let author_path = format!("/author/{author}");
    let listings =
        [("/", ""), ("/category/defence-security", in_category), ("/tag/drones", in_tag), (&author_path, &by_author)];
    for round in ["before", "after a new post"] {
        if round != "before" {
            import("newest", vec![("new.md".into(), post(deep, "2021-06-01T10:00:00Z"))]);
        }
        site.settle().await;
        for (listing, condition) in listings {
            let sql = format!("SELECT a.slug {posts}{condition} {order}");
            let expected: Vec<String> = sqlx::query_scalar(&sql).fetch_all(&site.db.pool).await.unwrap();
            assert!(expected.len() >= deep, "{listing}");
            let mut shown = Vec::new();
            for page in 1..=expected.len() {
                let path = match page {
                    1 => listing.to_string(),
                    n => format!("{}/page/{n}", listing.trim_end_matches('/')),
                };
                let (status, html) = site.fetch(&path).await;
                assert_eq!(status, 200, "{path}");
                let doc = Html::parse_document(&html);
                for link in select(&doc, ".card-title a") {
                    shown.push(link.value().attr("href").unwrap().trim_start_matches("/article/").to_string());
                }
            }
            assert_eq!(shown, expected, "{backend:?} {listing}, {round}");
        }
    }
    site.finish().await;
}

on_each_backend!(searching_too_quickly_is_refused_with_a_retry_after);
async fn searching_too_quickly_is_refused_with_a_retry_after(backend: Backend) {
    let site = TestSite::start_with(backend, "[content]\nsearch_burst = 2\nsearch_per_minute = 1\n").await;
    for _ in 0..2 {
        assert_eq!(site.fetch("/search?q=harbour").await.0, 200);
    }
    let refused = site.get("/search?q=council").await;
    assert_eq!(refused.status().as_u16(), 429);
    assert_eq!(site.get("/search?q=harbour").await.status().as_u16(), 429, "a search in the page cache too");
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let html = refused.text().await.unwrap();
    assert!(html.contains("searching too quickly") && html.contains("class=\"masthead\""), "a themed page: {html}");
    // Other pages are not limited.
    assert_eq!(site.fetch("/").await.0, 200);
    site.finish().await;
}

on_each_backend!(a_published_article_appears_after_the_page_was_cached);
async fn a_published_article_appears_after_the_page_was_cached(backend: Backend) {
    // The demo's 7 posts fill one page of 7: a second page exists only once the listing's
    // total (counted once per content epoch) has seen the new post.
    let site = TestSite::start_with(backend, "[content]\nper_page = 7\n").await;
    let (_, before) = site.fetch("/").await;
    assert!(!before.contains("Fresh News"));
    assert_eq!(site.fetch("/page/2").await.0, 404);
    let file = common::write_file(site.dir.path(), "fresh.md", "Fresh body.");
    let out = site.cli(&[
        "post",
        "new",
        "--title",
        "Fresh News",
        "--category",
        "Economy",
        "--file",
        file.to_str().unwrap(),
        "--publish",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.settle().await;
    let (_, after) = site.fetch("/").await;
    assert!(after.contains("Fresh News"), "{backend:?}: cache follows the content epoch");
    assert!(after.contains("Page 1 of 2"), "{backend:?}: the total follows the content epoch");
    assert_eq!(site.fetch("/page/2").await.0, 200, "{backend:?}");
    site.finish().await;
}

on_each_backend!(the_category_navigation_follows_new_posts);
async fn the_category_navigation_follows_new_posts(backend: Backend) {
    let site = TestSite::start(backend).await;
    // The sidebar's count of a category, as a page rendered now shows it.
    let technology_count = |html: &str| -> String {
        let doc = Html::parse_document(html);
        let item = select(&doc, ".widget-categories li")
            .into_iter()
            .find(|li| li.text().collect::<String>().contains("Technology"))
            .map(|li| li.text().collect::<String>())
            .unwrap_or_default();
        item.rsplit('(').next().unwrap_or("").trim_end_matches(')').to_string()
    };
    // Rendered once (and the navigation memoised for this content epoch).
    let (_, before) = site.fetch("/").await;
    let before: u32 = technology_count(&before).parse().unwrap_or(0);
    let file = common::write_file(site.dir.path(), "new.md", "A new post.\n");
    let out = site.cli(&[
        "post",
        "new",
        "--title",
        "Counted",
        "--category",
        "Technology",
        "--file",
        file.to_str().unwrap(),
        "--publish",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.settle().await;
    // A page not rendered before, so only the navigation memo could be stale.
    let (_, after) = site.fetch("/category/technology").await;
    assert_eq!(technology_count(&after), (before + 1).to_string(), "{backend:?}");
    site.finish().await;
}

on_each_backend!(a_write_drops_only_the_cached_pages_that_show_it);
/// A comment approved on one article, or another article published, must not re-render every
/// article page. To see which pages were re-rendered, a title is changed in the database behind
/// the cache's back (no content epoch bump): a page still cached shows the old one.
async fn a_write_drops_only_the_cached_pages_that_show_it(backend: Backend) {
    let config = "[comments]\nmin_seconds = 0\n\n[http]\nother_articles_lag_secs = 2\n";
    let site = TestSite::start_with(backend, config).await;
    let commented = format!("/article/{DEFENCE_ARTICLE}");
    let watched = "/article/selvik-port-ends-paper-manifests";
    for path in ["/", commented.as_str(), watched] {
        assert_eq!(site.fetch(path).await.0, 200, "{path}");
    }
    sqlx::query(
        "UPDATE articles SET title = 'Retitled Behind The Cache' WHERE slug = 'selvik-port-ends-paper-manifests'",
    )
    .execute(&site.db.pool)
    .await
    .unwrap();

    // A first comment is held; approving it changes its article's page and the listings (which
    // count comments), not the watched article's page, nor which posts listings hold: their
    // totals and page starts are kept.
    let listings_epoch = site.state.pages.listings_epoch();
    let response = common::post_comment(&site, DEFENCE_ARTICLE, "Ann Reader", "ann@example.org", "Fair point.").await;
    assert_eq!(response.status(), 303);
    let id = response.headers()["location"].to_str().unwrap().rsplit("#comment-").next().unwrap().to_string();
    let out = site.cli(&["comments", "approve", &id]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.settle().await;
    assert!(site.fetch(&commented).await.1.contains("Fair point."), "{backend:?}: the approved comment shows at once");
    assert!(site.fetch("/").await.1.contains("Retitled Behind The Cache"), "{backend:?}: the home page was rendered");
    assert!(!site.fetch(watched).await.1.contains("Retitled"), "{backend:?}: another article's page stays cached");
    assert_eq!(site.state.pages.listings_epoch(), listings_epoch, "{backend:?}: listings kept");

    // A new post shows at once on listings and its own page; other article pages (their
    // neighbour links, the sidebar's counts) follow within `other_articles_lag_secs`.
    let file = common::write_file(site.dir.path(), "fresh.md", "Fresh body.");
    let out = site.cli(
        &["post", "new", "--title", "Fresh Edition", "--category", "Economy", "--file"]
            .into_iter()
            .chain([file.to_str().unwrap(), "--publish"])
            .collect::<Vec<_>>(),
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.settle().await;
    assert!(site.state.pages.listings_epoch() > listings_epoch, "{backend:?}: listings known anew");
    let published = std::time::Instant::now();
    assert!(site.fetch("/").await.1.contains("Fresh Edition"), "{backend:?}");
    assert!(!site.fetch(watched).await.1.contains("Retitled"), "{backend:?}: within the lag, still cached");
    tokio::time::sleep(std::time::Duration::from_secs(2).saturating_sub(published.elapsed())).await;
    assert!(site.fetch(watched).await.1.contains("Retitled"), "{backend:?}: rendered again after the lag");
    site.finish().await;
}

// ActivityPub, the read side (issue 17): WebFinger, the actor, NodeInfo, articles as objects.

const ACTIVITY_JSON: &str = "application/activity+json";
const LD_JSON: &str = "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";

/// `site.base` without its scheme: the host of the site's `acct:` names.
fn host_of(site: &TestSite) -> String {
    site.base.trim_start_matches("http://").to_string()
}

/// GET `path` with `accept`: status, the response's headers and its body.
async fn get_accepting(site: &TestSite, path: &str, accept: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let response = site.client.get(format!("{}{path}", site.base)).header("accept", accept).send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.unwrap())
}

async fn activity(site: &TestSite, path: &str) -> serde_json::Value {
    let (status, headers, body) = get_accepting(site, path, ACTIVITY_JSON).await;
    assert_eq!(status, 200, "{path}: {body}");
    assert_eq!(headers["content-type"], ACTIVITY_JSON, "{path}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

fn draft(
    title: &str,
    tags: &[&str],
    publish: openvoice::content::service::Publish,
) -> openvoice::content::service::Draft {
    openvoice::content::service::Draft {
        kind: openvoice::content::model::ArticleKind::Post,
        title: title.into(),
        slug: None,
        excerpt: Some("What it is about.".into()),
        body_md: "The **news** itself.".into(),
        author: "admin".into(),
        category: Some("Economy".into()),
        further_categories: Vec::new(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        featured_image: None,
        publish,
        sticky: false,
    }
}

async fn save(site: &TestSite, draft: openvoice::content::service::Draft) -> String {
    use openvoice::content::service::{drafts, ContentLimits, Terms};
    let limits = ContentLimits { max_article_bytes: 1 << 20 };
    let saved = drafts::create(&site.db, limits, draft, Terms::CreateMissing).await.expect("saving");
    site.settle().await;
    saved.slug().to_string()
}

on_each_backend!(webfinger_finds_the_site_actor_and_nobody_else);
async fn webfinger_finds_the_site_actor_and_nobody_else(backend: Backend) {
    let site = TestSite::start(backend).await;
    let host = host_of(&site);
    let actor_url = format!("{}/activitypub/actor", site.base);
    for resource in [format!("acct:news@{host}"), format!("acct:NEWS@{}", host.to_uppercase()), actor_url.clone()] {
        let response =
            site.client.get(format!("{}/.well-known/webfinger", site.base)).query(&[("resource", &resource)]);
        let response = response.send().await.unwrap();
        assert_eq!(response.status(), 200, "{resource}");
        assert_eq!(response.headers()["content-type"], "application/jrd+json");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        let jrd: serde_json::Value = response.json().await.unwrap();
        assert_eq!(jrd["subject"], format!("acct:news@{host}"));
        let links = jrd["links"].as_array().unwrap();
        let self_link = links.iter().find(|l| l["rel"] == "self").expect("a self link");
        assert_eq!(self_link["type"], ACTIVITY_JSON);
        assert_eq!(self_link["href"], actor_url);
        let profile = links.iter().find(|l| l["rel"] == "http://webfinger.net/rel/profile-page").expect("profile");
        assert_eq!(profile["href"], format!("{}/", site.base));
    }
    // The round trip: the self link is the actor.
    let actor = activity(&site, "/activitypub/actor").await;
    assert_eq!(actor["id"], actor_url);
    assert_eq!(actor["type"], "Service");
    assert_eq!(actor["preferredUsername"], "news");
    assert_eq!(actor["name"], site.config.site.title);
    let context = actor["@context"].as_array().unwrap();
    assert!(context.contains(&"https://www.w3.org/ns/activitystreams".into()), "{context:?}");
    assert!(context.contains(&"https://w3id.org/security/v1".into()), "{context:?}");
    for (field, path) in
        [("inbox", "inbox"), ("outbox", "outbox"), ("followers", "followers"), ("featured", "featured")]
    {
        assert_eq!(actor[field], format!("{}/activitypub/{path}", site.base), "{field}");
    }
    assert_eq!(actor["publicKey"]["owner"], actor_url);
    assert_eq!(actor["publicKey"]["id"], format!("{actor_url}#main-key"));

    let refused = [
        ("", 400),
        ("?resource=", 400),
        ("?resource=news", 400),
        ("?resource=news%40elsewhere.example", 400),
        ("?resource=acct%3Anews", 400),
        ("?resource=acct%3A%40", 400),
        ("?resource=acct%3Anews%40a%40b", 400),
        ("?resource=mailto%3Anews%40elsewhere.example", 400),
        ("?resource=acct%3Anobody%40HOST", 404),
        ("?resource=acct%3Anews%40elsewhere.example", 404),
        ("?resource=https%3A%2F%2Felsewhere.example%2Factivitypub%2Factor", 404),
    ];
    for (query, expected) in refused {
        let query = query.replace("HOST", &host);
        let response = site.get(&format!("/.well-known/webfinger{query}")).await;
        assert_eq!(response.status(), expected, "{query}");
        assert_eq!(response.headers()["access-control-allow-origin"], "*", "{query}");
    }
    site.finish().await;
}

on_each_backend!(the_actor_key_is_an_rsa_key_made_once);
async fn the_actor_key_is_an_rsa_key_made_once(backend: Backend) {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let site = TestSite::start(backend).await;
    let served = activity(&site, "/activitypub/actor").await["publicKey"]["publicKeyPem"].as_str().unwrap().to_string();
    let key = rsa::RsaPublicKey::from_public_key_pem(&served).expect("an RSA public key");
    assert_eq!(key.size() * 8, 2048);
    let again = activity(&site, "/activitypub/actor").await;
    assert_eq!(again["publicKey"]["publicKeyPem"], served, "the same key on every request");
    // As a restarted node reads it: a new connection to the same database.
    let db = openvoice::store::Db::connect(&site.database_url, 1).await.unwrap();
    let reread = openvoice::activitypub::service::actor_public_key_pem(&db).await.unwrap();
    assert_eq!(reread, served, "the key is kept in the database");
    db.pool.close().await;
    site.finish().await;
}

on_each_backend!(an_article_is_an_activitypub_object_and_a_page_at_one_url);
async fn an_article_is_an_activitypub_object_and_a_page_at_one_url(backend: Backend) {
    use openvoice::content::service::Publish;
    let site = TestSite::start(backend).await;
    let mut with_image = draft("Harbour Tolls Rise", &["Tollbooths", "Public Money"], Publish::Now);
    with_image.featured_image = Some("/static/uploads/2026/12/harbour.jpg".into());
    let slug = save(&site, with_image).await;
    let path = format!("/article/{slug}");
    let url = format!("{}{path}", site.base);
    let is_html = |headers: &reqwest::header::HeaderMap, body: &str| {
        headers["content-type"].to_str().unwrap().starts_with("text/html") && body.contains("<html")
    };
    let check_object = |accept: &str, (status, headers, body): (u16, reqwest::header::HeaderMap, String)| {
        assert_eq!(status, 200, "{accept}: {body}");
        assert_eq!(headers["content-type"], ACTIVITY_JSON, "{accept}");
        assert!(headers["vary"].to_str().unwrap().contains("accept"), "{accept}");
        let object: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{accept}: {e}: {body}"));
        assert_eq!(object["type"], "Article");
        assert_eq!(object["id"], url);
        assert_eq!(object["url"], url);
        assert_eq!(object["name"], "Harbour Tolls Rise");
        assert_eq!(object["summary"], "What it is about.");
        assert!(object["content"].as_str().unwrap().contains("<strong>news</strong>"), "{body}");
        assert_eq!(object["attributedTo"], format!("{}/activitypub/actor", site.base));
        assert_eq!(object["to"][0], "https://www.w3.org/ns/activitystreams#Public");
        assert_eq!(object["cc"][0], format!("{}/activitypub/followers", site.base));
        assert!(object["published"].as_str().unwrap().ends_with('Z'), "{body}");
        assert_eq!(object["attachment"][0]["type"], "Image");
        assert_eq!(object["attachment"][0]["mediaType"], "image/jpeg");
        assert_eq!(object["attachment"][0]["url"], format!("{}/static/uploads/2026/12/harbour.jpg", site.base));
        let tags: Vec<(&str, &str, &str)> = object["tag"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["type"].as_str().unwrap(), t["name"].as_str().unwrap(), t["href"].as_str().unwrap()))
            .collect();
        let (tollbooths, public_money) =
            (format!("{}/tag/tollbooths", site.base), format!("{}/tag/public-money", site.base));
        assert!(tags.contains(&("Hashtag", "#Tollbooths", tollbooths.as_str())), "{tags:?}");
        assert!(tags.contains(&("Hashtag", "#PublicMoney", public_money.as_str())), "{tags:?}");
    };

    // A browser first, so its HTML is cached; then each ActivityPub form; then the browser again.
    let (status, headers, body) = get_accepting(&site, &path, BROWSER).await;
    assert_eq!(status, 200);
    assert!(is_html(&headers, &body), "{headers:?}");
    assert_eq!(headers["vary"], "accept, accept-encoding");
    for accept in [ACTIVITY_JSON, LD_JSON] {
        check_object(accept, get_accepting(&site, &path, accept).await);
        let (status, headers, body) = get_accepting(&site, &path, BROWSER).await;
        assert_eq!(status, 200);
        assert!(is_html(&headers, &body), "the browser still gets the page after {accept}");
    }

    // An ActivityPub client first on a page not yet cached; then a browser; then the client.
    let other = format!("/article/{DEFENCE_ARTICLE}");
    let (_, headers, body) = get_accepting(&site, &other, LD_JSON).await;
    assert_eq!(headers["content-type"], ACTIVITY_JSON, "{body}");
    for accept in [BROWSER, "*/*", "text/html"] {
        let (status, headers, body) = get_accepting(&site, &other, accept).await;
        assert_eq!(status, 200);
        assert!(is_html(&headers, &body), "{accept} gets the page, not the JSON asked for before");
    }
    let (_, headers, body) = get_accepting(&site, &other, ACTIVITY_JSON).await;
    assert_eq!(headers["content-type"], ACTIVITY_JSON, "the JSON, not the page cached since: {body}");
    // Mastodon's search asks for HTML too, below ActivityPub; a tie is a browser's.
    let mastodon_search = format!("{ACTIVITY_JSON}, {LD_JSON}, text/html;q=0.1");
    let (_, headers, _) = get_accepting(&site, &other, &mastodon_search).await;
    assert_eq!(headers["content-type"], ACTIVITY_JSON);
    let (_, headers, _) = get_accepting(&site, &other, &format!("text/html, {ACTIVITY_JSON}")).await;
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    // `ld+json` without the ActivityStreams profile is not asking for ActivityPub.
    let (_, headers, _) = get_accepting(&site, &other, "application/ld+json").await;
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));

    // Drafts and unknown articles are not there for ActivityPub clients either.
    let hidden = save(&site, draft("Not Yet Out", &[], Publish::Draft)).await;
    for path in [format!("/article/{hidden}"), "/article/no-such-article".to_string()] {
        let (status, _, _) = get_accepting(&site, &path, ACTIVITY_JSON).await;
        assert_eq!(status, 404, "{path}");
    }
    site.finish().await;
}

on_each_backend!(the_outbox_and_nodeinfo_count_published_posts_only);
async fn the_outbox_and_nodeinfo_count_published_posts_only(backend: Backend) {
    use openvoice::content::model::ListFilter;
    use openvoice::content::service::{reading, Publish};
    let site = TestSite::start(backend).await;
    let published = reading::count(&site.db, ListFilter::All).await.unwrap();
    assert!(published > 0, "the demo has posts");
    save(&site, draft("Still a Draft", &[], Publish::Draft)).await;
    let newest = save(&site, draft("Fresh Off the Press", &[], Publish::Now)).await;
    let published = published + 1;

    let outbox = activity(&site, "/activitypub/outbox").await;
    assert_eq!(outbox["type"], "OrderedCollection");
    assert_eq!(outbox["totalItems"], published, "published posts only, no drafts");
    assert_eq!(outbox["first"], format!("{}/activitypub/outbox?page=1", site.base));
    let first = activity(&site, "/activitypub/outbox?page=1").await;
    assert_eq!(first["type"], "OrderedCollectionPage");
    let items = first["orderedItems"].as_array().unwrap();
    assert_eq!(items.len() as i64, published.min(20));
    assert!(items.iter().all(|i| i["type"] == "Create" && i["object"]["type"] == "Article"));
    assert_eq!(items[0]["object"]["id"], format!("{}/article/{newest}", site.base), "newest first");
    assert!(items.iter().all(|i| i["object"]["name"] != "Still a Draft"));
    let pages = (published + 19) / 20;
    assert_eq!(outbox["last"], format!("{}/activitypub/outbox?page={pages}", site.base));
    let mut seen = items.len() as i64;
    for page in 2..=pages {
        let items = activity(&site, &format!("/activitypub/outbox?page={page}")).await["orderedItems"].clone();
        seen += items.as_array().unwrap().len() as i64;
    }
    assert_eq!(seen, published, "the pages hold every published post");
    let past_the_end = format!("page={}", pages + 1);
    for (query, expected) in [("page=0", 400), ("page=two", 400), ("page=-1", 400), (past_the_end.as_str(), 404)] {
        let (status, _, _) = get_accepting(&site, &format!("/activitypub/outbox?{query}"), ACTIVITY_JSON).await;
        assert_eq!(status, expected, "{query}");
    }
    let followers = activity(&site, "/activitypub/followers").await;
    assert_eq!(followers["totalItems"], 0);

    let links: serde_json::Value = site.get("/.well-known/nodeinfo").await.json().await.unwrap();
    assert_eq!(links["links"][0]["rel"], "http://nodeinfo.diaspora.software/ns/schema/2.1");
    assert_eq!(links["links"][0]["href"], format!("{}/nodeinfo/2.1", site.base));
    let nodeinfo: serde_json::Value = site.get("/nodeinfo/2.1").await.json().await.unwrap();
    assert_eq!(nodeinfo["software"]["name"], "openvoice");
    assert_eq!(nodeinfo["software"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(nodeinfo["protocols"], serde_json::json!(["activitypub"]));
    assert_eq!(nodeinfo["usage"]["localPosts"], published);
    site.finish().await;
}

on_each_backend!(the_actor_is_named_by_the_configuration);
async fn the_actor_is_named_by_the_configuration(backend: Backend) {
    let config = "[site]\nbase_url = \"https://News.Example:443/\"\n[activitypub]\nusername = \"desk\"\n";
    let site = TestSite::start_with(backend, config).await;
    let webfinger = |resource: &str| {
        let request = site.client.get(format!("{}/.well-known/webfinger", site.base)).query(&[("resource", resource)]);
        async move { request.send().await.unwrap() }
    };
    // The scheme's default port is no part of the host; hosts compare case-insensitively.
    let found = webfinger("acct:desk@news.example").await;
    assert_eq!(found.status(), 200);
    let jrd: serde_json::Value = found.json().await.unwrap();
    assert_eq!(jrd["subject"], "acct:desk@news.example");
    assert_eq!(jrd["links"][0]["href"], "https://News.Example:443/activitypub/actor", "URLs are base_url as given");
    assert_eq!(webfinger("acct:news@news.example").await.status(), 404, "the default name is not the actor's");
    assert_eq!(webfinger("acct:desk@news.example:443").await.status(), 404);
    let actor = activity(&site, "/activitypub/actor").await;
    assert_eq!(actor["preferredUsername"], "desk");
    site.finish().await;

    // A name Mastodon would not take stops the start, naming the key.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("openvoice.toml"), "[activitypub]\nusername = \"The Desk\"\n").unwrap();
    let overrides = openvoice::config::Overrides::default();
    let err = openvoice::config::Config::load(dir.path(), &overrides).expect_err("an invalid username");
    assert!(format!("{err:#}").contains("activitypub.username"), "{err:#}");
}
