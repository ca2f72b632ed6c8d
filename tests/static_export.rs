//! `openvoice export static`, on every backend: a site with paginated category and tag archives,
//! threaded and pending comments, an uploaded file and drafts is exported, then crawled from
//! `index.html` as a static server would serve it: every internal link resolves to a file, the
//! feeds parse, every published article is there, drafts are not, old URLs forward, no page
//! has a form that needs the server, and every page is what the router renders for its path.

#[macro_use]
mod common;

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use common::{stderr, stdout, write_file, Backend, TestSite};
use openvoice::content::queries;
use openvoice::content::service::ContentLimits;
use openvoice::migrate::static_site;
use openvoice::migrate::wordpress::{self, Media, Uploads};
use scraper::{Html, Selector};
use tower::ServiceExt;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wordpress").join(name)
}

/// The file a static server answers `path` with: `x/` → `x/index.html`; `x` → the file `x`, or
/// the folder `x`'s `index.html`.
fn served_file(root: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().expect("UTF-8 path");
    let relative = decoded.trim_start_matches('/');
    let candidate = root.join(relative);
    if !decoded.ends_with('/') && candidate.is_file() {
        return Some(candidate);
    }
    let index = candidate.join("index.html");
    index.is_file().then_some(index)
}

/// The site path of an internal link (`/x` or `<base>/x`), without query and fragment.
fn internal(link: &str, base: &str) -> Option<String> {
    let rest = match link.strip_prefix(base) {
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?', '#']) => rest,
        _ if link.starts_with('/') && !link.starts_with("//") => link,
        _ => return None,
    };
    let path = rest.split(['?', '#']).next().unwrap_or("");
    Some(if path.is_empty() { "/".into() } else { path.into() })
}

struct Crawled {
    /// Every internal path linked from a page, each resolved to a file.
    visited: BTreeSet<String>,
    /// The text of every HTML page reached, by path.
    pages: Vec<(String, String)>,
}

/// Crawls the export from `/` like a visitor of a static server, following every `href` and
/// `src`; panics on a link without a file.
fn crawl(root: &Path, base: &str) -> Crawled {
    let linked = Selector::parse("[href], [src]").unwrap();
    let mut visited = BTreeSet::from(["/".to_string()]);
    let mut queue = VecDeque::from([("/".to_string(), "(start)".to_string())]);
    let mut pages = Vec::new();
    while let Some((path, from)) = queue.pop_front() {
        let file = served_file(root, &path).unwrap_or_else(|| panic!("{path} (linked from {from}) has no file"));
        let bytes = std::fs::read(&file).expect("reading an exported file");
        if !bytes.get(..15).is_some_and(|start| start.eq_ignore_ascii_case(b"<!doctype html>")) {
            continue;
        }
        let text = String::from_utf8(bytes).expect("UTF-8 page");
        let doc = Html::parse_document(&text);
        for element in doc.select(&linked) {
            for attr in ["href", "src"] {
                let Some(link) = element.value().attr(attr).and_then(|l| internal(l, base)) else { continue };
                if visited.insert(link.clone()) {
                    queue.push_back((link, path.clone()));
                }
            }
        }
        pages.push((path, text));
    }
    Crawled { visited, pages }
}

fn markdown(title: &str, day: u32, extra: &str) -> String {
    format!(
        "---\ntitle: \"{title}\"\ndate: 2026-10-{day:02}T08:00:00Z\ncategories: [\"Long Reads\"]\ntags: [\"Series\"]\n\
         author: \"Site Admin\"\n{extra}---\n\nPart of the series, with [the harbour](/static/uploads/2020/01/harbour.gif).\n"
    )
}

on_each_backend!(the_static_copy_is_complete_and_every_link_resolves);
async fn the_static_copy_is_complete_and_every_link_resolves(backend: Backend) {
    let site = TestSite::start_with(backend, "[content]\nper_page = 2\n").await;
    // Comments (approved, pending, threaded), an uploaded file, a page, a draft.
    let uploads = Uploads { from: fixture("uploads"), to: site.dir.path().join("theme/static/uploads") };
    let limits = ContentLimits { max_article_bytes: 1 << 20 };
    wordpress::import_file(
        &site.db,
        limits,
        &fixture("awkward.xml"),
        Media { uploads: Some(&uploads), fetching: None },
        |_| {},
    )
    .await
    .expect("WXR import");
    // Five articles in one category and tag: three archive pages of two; and a draft.
    let corpus = site.dir.path().join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    for n in 1..=5 {
        write_file(&corpus, &format!("part-{n}.md"), &markdown(&format!("Series part {n}"), n, ""));
    }
    write_file(
        &corpus,
        "unfinished.md",
        &markdown("Unfinished series part", 9, "draft: true\nslug: unfinished-part\n"),
    );
    let output = site.cli(&["import", "markdown", corpus.to_str().unwrap()]);
    assert!(output.status.success(), "{backend:?}: {}", stderr(&output));

    let out = site.dir.path().join("public");
    let output = site.cli(&["export", "static", out.to_str().unwrap(), "--base-url", &site.base]);
    assert!(output.status.success(), "{backend:?}: {}", stderr(&output));
    assert!(stdout(&output).contains("Wrote"), "{}", stdout(&output));
    assert!(!stderr(&output).contains("lead nowhere"), "{backend:?}: {}", stderr(&output));

    let crawled = crawl(&out, &site.base);

    // Every published article is reachable from the home page, every page (linked from
    // the sitemap, maybe nowhere else) is there; drafts are absent.
    for (slug, kind, _) in queries::reading::published_index(&site.db).await.unwrap() {
        if kind == "page" {
            assert!(served_file(&out, &format!("/{slug}")).is_some(), "{backend:?}: page {slug} missing");
        } else {
            assert!(crawled.visited.contains(&format!("/article/{slug}")), "{backend:?}: {slug} not reachable");
        }
    }
    for draft in ["a-draft-about-quays", "unfinished-part"] {
        assert!(served_file(&out, &format!("/article/{draft}")).is_none(), "{draft}");
        assert!(crawled.pages.iter().all(|(_, html)| !html.contains(draft)), "{draft} is mentioned");
    }

    // Archives with all their pages, in the path form a static server can answer.
    for path in ["/category/long-reads/page/2", "/category/long-reads/page/3", "/tag/series/page/3", "/page/2"] {
        assert!(crawled.visited.contains(path), "{backend:?}: {path} not reached");
    }
    assert!(!crawled.visited.contains("/category/long-reads/page/4"));

    // Approved comments are shown, pending ones are not; their avatars are files.
    let (_, fish) = crawled.pages.iter().find(|(p, _)| p == "/article/fish-and-chips").expect("fish page");
    assert!(fish.contains("Lovely <em>chips</em>") && fish.contains("A reply — with Unicode ✓"), "{fish}");
    assert!(!fish.contains("Waiting for a moderator"), "pending comment shown");
    assert!(crawled.visited.iter().any(|p| p.starts_with("/comments/avatar/")), "avatars");

    // The uploaded file is copied byte for byte.
    let upload = served_file(&out, "/static/uploads/2020/01/harbour.gif").expect("upload");
    assert_eq!(std::fs::read(upload).unwrap(), std::fs::read(fixture("uploads/2020/01/harbour.gif")).unwrap());

    // Nothing that needs the server: no forms (comments, subscribe, search), no reply links,
    // no links to this site's IPFS gateway. The live pages do have the forms.
    let forms = Selector::parse("form, a.comment-reply-link, a.download-ipfs").unwrap();
    for (path, html) in &crawled.pages {
        assert!(Html::parse_document(html).select(&forms).next().is_none(), "{backend:?}: {path} has a form");
    }
    let (_, live) = site.fetch("/article/parliament-approves-coastal-drone-patrols").await;
    assert!(live.contains("id=\"commentform\"") && live.contains("action=\"/subscribe\""), "live forms");

    // Feeds parse, and are the bytes the server sends.
    for path in
        ["/feed", "/feed/atom", "/feed.json", "/category/long-reads/feed", "/article/fish-and-chips/comments/feed"]
    {
        let file = served_file(&out, path).unwrap_or_else(|| panic!("{path}"));
        let bytes = std::fs::read(file).unwrap();
        let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(!feed.entries.is_empty(), "{path}");
        let live = site.get(path).await.bytes().await.unwrap();
        assert_eq!(bytes, live.to_vec(), "{backend:?}: {path} differs from the server's");
    }
    // The sitemap index and the files it names are all in the copy.
    let index = std::fs::read_to_string(served_file(&out, "/sitemap.xml").unwrap()).unwrap();
    assert!(index.contains(&format!("{}/sitemap/posts-1.xml", site.base)), "{index}");
    let sitemap = std::fs::read_to_string(served_file(&out, "/sitemap/posts-1.xml").unwrap()).unwrap();
    assert!(sitemap.contains(&format!("{}/article/fish-and-chips", site.base)), "{sitemap}");
    assert!(served_file(&out, "/sitemap/pages.xml").is_some());
    assert!(served_file(&out, "/robots.txt").is_some() && out.join("404.html").is_file());
    assert!(crawled.visited.contains("/static/style.css"));

    // The imported site's old permalinks forward to the articles they became; WordPress's
    // `/?p=ID` cannot be a file, and a static server answers it with the home page.
    let redirects = openvoice::content::queries::reading::all_redirects(&site.db).await.unwrap();
    let published: Vec<String> = queries::reading::published_index(&site.db)
        .await
        .unwrap()
        .into_iter()
        .map(|(slug, kind, _)| if kind == "page" { format!("/{slug}") } else { format!("/article/{slug}") })
        .collect();
    let mut forwarded = 0;
    let same_file = |old: &str, new: &str| old.trim_end_matches('/') == new || old.contains('?');
    for (old, new) in redirects.iter().filter(|(old, new)| published.contains(new) && !same_file(old, new)) {
        let file = served_file(&out, old).unwrap_or_else(|| panic!("{backend:?}: no page at the old URL {old}"));
        let html = std::fs::read_to_string(file).unwrap();
        assert!(html.contains(&format!("url={new}\"")), "{backend:?}: {old} does not forward to {new}: {html}");
        forwarded += 1;
    }
    assert!(forwarded >= 3, "{backend:?}: {forwarded} old URLs forwarded of {redirects:?}");

    // Every page is the bytes the router renders for its path in a static copy, the
    // articles and listings rendered in bulk from one read of the site included.
    let mut config = (*site.config).clone();
    config.site.base_url = site.base.clone();
    let state = static_site::export_state(site.db.clone(), config, site.dir.path().to_path_buf()).await.unwrap();
    let router = openvoice::app::router::router(state);
    let mut compared = 0;
    for (path, html) in &crawled.pages {
        let request = axum::http::Request::get(path.as_str()).body(axum::body::Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200, "{backend:?}: {path}");
        let rendered = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert!(rendered == html.as_bytes(), "{backend:?}: {path} differs from what the router renders");
        compared += 1;
    }
    assert!(compared >= 20, "{backend:?}: only {compared} pages");

    // A second export refuses to mix with the first.
    let again = site.cli(&["export", "static", out.to_str().unwrap()]);
    assert!(!again.status.success() && stderr(&again).contains("not empty"), "{}", stderr(&again));
    site.finish().await;
}
