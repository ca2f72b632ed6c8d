//! Feeds, sitemap and robots.txt, parsed by independent parsers (feed-rs, roxmltree via scraper-free checks).

#[macro_use]
mod common;

use common::{Backend, TestSite};

on_each_backend!(rss_atom_and_json_feed_parse_and_list_the_latest_articles);
async fn rss_atom_and_json_feed_parse_and_list_the_latest_articles(backend: Backend) {
    let site = TestSite::start(backend).await;
    for (path, content_type) in [
        ("/feed", "application/rss+xml"),
        ("/feed/atom", "application/atom+xml"),
        ("/feed.json", "application/feed+json"),
    ] {
        let response = site.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with(content_type), "{path}");
        let bytes = response.bytes().await.unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{backend:?} {path}: {e}"));
        assert_eq!(feed.title.as_ref().map(|t| t.content.as_str()), Some("OpenVoice"));
        assert_eq!(feed.entries.len(), 7, "{path}: the seven demo articles, not the About page");
        let first = &feed.entries[0];
        assert!(first.title.as_ref().unwrap().content.contains("Cooperative Bank"), "{path}: newest first");
        assert_eq!(first.links[0].href, format!("{}/article/brennholm-cooperative-bank-profit", site.base));
        assert!(first.published.is_some(), "{path}: dates");
        assert!(!first.authors.is_empty(), "{path}: author");
        let content = first.content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default();
        assert!(content.contains("<p>"), "{path}: full HTML content");
        assert!(feed.entries.iter().all(|e| !e.links[0].href.ends_with("/about")));
    }
    site.finish().await;
}

on_each_backend!(category_feed_holds_only_that_category);
async fn category_feed_holds_only_that_category(backend: Backend) {
    let site = TestSite::start(backend).await;
    let bytes = site.get("/category/defence-security/feed").await.bytes().await.unwrap();
    let feed = feed_rs::parser::parse(&bytes[..]).expect("category RSS parses");
    assert!(feed.title.unwrap().content.contains("Defence & Security"));
    assert_eq!(feed.entries.len(), 2);
    assert!(feed.entries.iter().all(|e| e.categories.iter().any(|c| c.term == "Defence & Security")));
    assert_eq!(site.fetch("/category/nope/feed").await.0, 404);
    site.finish().await;
}

#[tokio::test]
async fn feeds_escape_titles_that_look_like_markup() {
    let site = TestSite::start(common::Backend::Sqlite).await;
    let file = common::write_file(site.dir.path(), "b.md", "Body & more <em>text</em>.");
    let out = site.cli(&[
        "post",
        "new",
        "--title",
        "Tom & Jerry </title><x>",
        "--category",
        "Culture",
        "--file",
        file.to_str().unwrap(),
        "--publish",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.settle().await;
    for path in ["/feed", "/feed/atom", "/feed.json"] {
        let bytes = site.get(path).await.bytes().await.unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(feed.entries[0].title.as_ref().unwrap().content, "Tom & Jerry </title><x>", "{path}");
    }
    site.finish().await;
}

on_each_backend!(sitemap_and_robots);
async fn sitemap_and_robots(backend: Backend) {
    let site = TestSite::start(backend).await;
    let (status, xml) = site.fetch("/sitemap.xml").await;
    assert_eq!(status, 200);
    let locs: Vec<&str> = xml.split("<loc>").skip(1).filter_map(|s| s.split("</loc>").next()).collect();
    assert!(locs.contains(&format!("{}/", site.base).as_str()));
    assert!(locs.contains(&format!("{}/about", site.base).as_str()));
    assert!(locs.contains(&format!("{}/article/parliament-approves-coastal-drone-patrols", site.base).as_str()));
    assert!(locs.contains(&format!("{}/category/defence-security", site.base).as_str()));
    assert_eq!(locs.len(), 1 + 8 + 5, "home, 7 articles + About, 5 categories: {locs:?}");
    let (status, robots) = site.fetch("/robots.txt").await;
    assert_eq!(status, 200);
    assert!(robots.contains(&format!("Sitemap: {}/sitemap.xml", site.base)));
    site.finish().await;
}
