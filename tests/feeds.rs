//! Feeds, sitemap and robots.txt, parsed by independent parsers (feed-rs for the feeds, quick-xml for the sitemaps).

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
    // An index of sitemap files (the protocol's `sitemapindex`), each a `urlset`.
    let (status, index) = site.fetch("/sitemap.xml").await;
    assert_eq!(status, 200);
    let (root, files) = root_and_locs(&index);
    assert_eq!(root, "sitemapindex", "{index}");
    assert_eq!(files, [format!("{}/sitemap/pages.xml", site.base), format!("{}/sitemap/posts-1.xml", site.base)]);
    let mut xml = String::new();
    for file in &files {
        let (status, body) = site.fetch(file.strip_prefix(&site.base).unwrap()).await;
        assert_eq!(status, 200, "{file}");
        assert_eq!(root_and_locs(&body).0, "urlset", "{body}");
        xml.push_str(&body);
    }
    assert_eq!(site.fetch("/sitemap/posts-2.xml").await.0, 404, "no second file for 7 posts");
    assert_eq!(site.fetch("/sitemap/posts-0.xml").await.0, 404);
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

/// The root element's name and the text of every `<loc>`, as quick-xml reads them.
fn root_and_locs(xml: &str) -> (String, Vec<String>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut root, mut locs, mut in_loc) = (None, Vec::new(), false);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(start) => {
                let name = String::from_utf8(start.local_name().as_ref().to_vec()).unwrap();
                in_loc = name == "loc";
                root.get_or_insert(name);
            }
            Event::Text(text) if in_loc => {
                let raw = String::from_utf8(text.into_inner().to_vec()).unwrap();
                locs.push(quick_xml::escape::unescape(&raw).unwrap().into_owned());
            }
            Event::End(_) => in_loc = false,
            Event::Eof => break,
            _ => {}
        }
    }
    (root.unwrap_or_default(), locs)
}
