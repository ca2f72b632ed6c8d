//! `openvoice export static OUT_DIR`: the public site as files any static server can serve.
//!
//! Every file is what the server answers for its path, rendered with the template global
//! `static_export` set: the theme then leaves out what needs the server (the comment form and
//! reply links, the subscribe form, the search box, the links to this site's IPFS gateway).
//! Articles and listings come from `static_pages` (one read of the site, the server's own
//! rendering functions); everything else from the real router (`app::router` through
//! `tower`'s `oneshot`).
//!
//! The crawl starts from what the database lists (the categories, home, feeds, sitemap,
//! robots.txt, every static asset, old URLs that redirect) and from the links of the pages
//! `static_pages` wrote, and follows each internal `href`/`src` of every HTML page, so tags,
//! authors, comment pages and avatars, uploads and media come along, and a link that leads
//! nowhere is reported. `/x/y` is written as `x/y/index.html` unless its last segment has an
//! extension; a redirect as a page that forwards.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::config::Config;
use crate::content::queries;
use crate::http::AppState;
use crate::migrate::static_pages::Snapshot;
use crate::store::{ContentChange, Db};

/// What an export wrote.
#[derive(Debug, Default)]
pub struct StaticReport {
    /// HTML pages written.
    pub pages: usize,
    /// Other files (feeds, sitemap, assets, media).
    pub files: usize,
    /// Redirects written as pages that forward (an old URL, `/ipfs/site`).
    pub redirects: usize,
    pub bytes: u64,
    /// Internal links the router does not answer with a page: (link, status, first page linking it).
    pub broken: Vec<(String, u16, String)>,
}

/// Where the crawl starts besides the home page.
const SEEDS: [&str; 6] = ["/feed", "/feed/atom", "/feed.json", "/sitemap.xml", "/robots.txt", "/comments/feed"];
/// A path no route answers: its page is written as `404.html`, which static servers show for
/// missing files (Netlify, GitHub Pages, `error_page 404 /404.html;` in nginx).
const NOT_FOUND_PROBE: &str = "/404.html";

/// The state pages are rendered with for a static copy: its own (no page cache: each page is
/// rendered once), so a running server's cache is untouched; the template global
/// `static_export` set; the settings saved in the desk laid over `config`, as the server does.
pub async fn export_state(db: Db, mut config: Config, data_dir: PathBuf) -> anyhow::Result<AppState> {
    config.http.page_cache_entries = 0;
    let mut state = AppState::new(config, db, data_dir);
    let Some(app) = Arc::get_mut(&mut state.0) else { anyhow::bail!("the site state is shared") };
    app.templates.add_global("static_export", true);
    let epoch = state.db.content_epoch().await?;
    state.settings.follow(&state.db, &state.config, &state.templates, epoch).await;
    state.pages.advance(epoch, &[ContentChange::Everything]);
    Ok(state)
}

/// Exports the site `state` (from [`export_state`]) serves into `out` (created; it must be empty if it exists), with
/// `concurrency` requests at once. Pages the snapshot does not render are fetched from `router`,
/// the site's whole router over the same state. `progress(done, known)` follows the crawl.
pub async fn export(
    state: AppState,
    router: axum::Router,
    out: &Path,
    concurrency: usize,
    progress: impl Fn(u64, u64),
) -> anyhow::Result<StaticReport> {
    if std::fs::read_dir(out).is_ok_and(|mut entries| entries.next().is_some()) {
        anyhow::bail!("{} is not empty: export into a new or empty folder", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let base_url = state.config.base_url();

    let mut crawl = Crawl::default();
    // Articles and listings come from one read of the site (`static_pages`); the crawl fetches
    // the rest through the router, following their links.
    let snapshot = Arc::new(Snapshot::read(&state).await?);
    let per_page = state.config.content.per_page;
    for path in snapshot.paths(per_page) {
        crawl.seen.insert(path);
    }
    crawl.add("/", "");
    crawl.add(NOT_FOUND_PROBE, "");
    for seed in SEEDS {
        crawl.add(seed, "");
    }
    let posts = queries::reading::count_published(&state.db, crate::content::model::ListFilter::All).await?;
    for file in crate::content::feeds::sitemap_files(posts) {
        crawl.add(&file, "");
    }
    // Old URLs (an imported site's permalinks, former slugs) keep working as forwarding pages,
    // where what they lead to is part of the copy: unless the old URL is the new one with a
    // slash at the end (`/about/` → `/about`), which a static server answers with the same file.
    // WordPress's `/?p=12` cannot be a file: a static server answers it with the home page.
    for (old, new) in crate::content::queries::reading::all_redirects(&state.db).await? {
        let is_file = !old.contains('?');
        if is_file && crawl.seen.contains(&new) && !crawl.seen.contains(old.trim_end_matches('/')) {
            crawl.add(&old, "");
        }
    }
    for (slug, kind, _) in queries::reading::published_index(&state.db).await? {
        let path = if kind == "page" { format!("/{slug}") } else { format!("/article/{slug}") };
        crawl.add(&path, "");
    }
    for (category, count) in queries::terms::categories_with_counts(&state.db).await? {
        if count > 0 {
            crawl.add(&format!("/category/{}", category.slug), "");
        }
    }
    for asset in state.templates.static_paths() {
        crawl.add(&format!("/static/{asset}"), "");
    }

    let mut report = StaticReport::default();
    let mut done = 0u64;
    let mut chunks = snapshot.chunks(per_page).into_iter();
    let mut running = JoinSet::new();
    loop {
        while running.len() < concurrency.max(1) {
            let Some(chunk) = chunks.next() else { break };
            let (state, snapshot, out) = (state.clone(), snapshot.clone(), out.to_path_buf());
            running.spawn(async move {
                let rendered = snapshot.render(&state, &chunk).await?;
                let mut written = Vec::with_capacity(rendered.pages.len());
                for page in rendered.pages {
                    write(&out, &page.path, &page.body)?;
                    written.push((page.body.len() as u64, links_in(&page.body), page.path));
                }
                anyhow::Ok((written, rendered.left))
            });
        }
        let Some(joined) = running.join_next().await else { break };
        let (written, left) = joined.context("an export task failed")??;
        for (bytes, links, path) in written {
            report.pages += 1;
            report.bytes += bytes;
            done += 1;
            for link in links.iter().filter_map(|l| internal_path(l, &base_url)) {
                crawl.add(&link, &path);
            }
        }
        crawl.queue.extend(left);
        progress(done, crawl.seen.len() as u64);
    }

    let mut running = JoinSet::new();
    loop {
        while running.len() < concurrency.max(1) {
            let Some(path) = crawl.queue.pop_front() else { break };
            let router = router.clone();
            let out = out.to_path_buf();
            running.spawn(async move { fetch_and_write(router, &out, path).await });
        }
        let Some(joined) = running.join_next().await else { break };
        let fetched = joined.context("an export task failed")??;
        done += 1;
        match fetched.outcome {
            Outcome::Page { bytes, links } => {
                report.pages += 1;
                report.bytes += bytes;
                for link in links.iter().filter_map(|l| internal_path(l, &base_url)) {
                    crawl.add(&link, &fetched.path);
                }
            }
            Outcome::File { bytes } => {
                report.files += 1;
                report.bytes += bytes;
            }
            Outcome::Redirect { to } => {
                report.redirects += 1;
                if let Some(to) = internal_path(&to, &base_url) {
                    crawl.add(&to, &fetched.path);
                }
            }
            Outcome::Missing { status } => {
                let from = crawl.referrers.get(&fetched.path).cloned().unwrap_or_default();
                // Seeds without a page (no comments, say) are simply not part of this site.
                if !from.is_empty() {
                    report.broken.push((fetched.path, status, from));
                }
            }
        }
        progress(done, crawl.seen.len() as u64);
    }
    report.broken.sort();
    Ok(report)
}

/// Paths found so far, in the order they are fetched.
#[derive(Default)]
struct Crawl {
    seen: HashSet<String>,
    queue: VecDeque<String>,
    /// The first page linking each path; empty for seeds.
    referrers: HashMap<String, String>,
}

impl Crawl {
    fn add(&mut self, path: &str, from: &str) {
        if file_for(path).is_some() && self.seen.insert(path.to_string()) {
            self.queue.push_back(path.to_string());
            if !from.is_empty() {
                self.referrers.insert(path.to_string(), from.to_string());
            }
        }
    }
}

struct Fetched {
    path: String,
    outcome: Outcome,
}

enum Outcome {
    Page { bytes: u64, links: Vec<String> },
    File { bytes: u64 },
    Redirect { to: String },
    Missing { status: u16 },
}

async fn fetch_and_write(router: axum::Router, out: &Path, path: String) -> anyhow::Result<Fetched> {
    let request = Request::get(&path).body(Body::empty()).context("building a request")?;
    let response = router.oneshot(request).await.context("routing")?;
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.context("reading a response")?;
    let is_probe = path == NOT_FOUND_PROBE && status == StatusCode::NOT_FOUND;
    let outcome = match (status, location) {
        (StatusCode::OK, _) => {
            let is_html = content_type.starts_with("text/html");
            write(out, &path, &body)?;
            if is_html {
                Outcome::Page { bytes: body.len() as u64, links: links_in(&body) }
            } else {
                Outcome::File { bytes: body.len() as u64 }
            }
        }
        _ if is_probe => {
            write(out, &path, &body)?;
            Outcome::File { bytes: body.len() as u64 }
        }
        (status, Some(to)) if status.is_redirection() => {
            write(out, &path, redirect_page(&to).as_bytes())?;
            Outcome::Redirect { to }
        }
        (status, _) => Outcome::Missing { status: status.as_u16() },
    };
    Ok(Fetched { path, outcome })
}

/// Writes with blocking calls on the export's own runtime: `tokio::fs` would hand every call to
/// another thread, and those hand-offs cost more than the small writes themselves.
fn write(out: &Path, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let file = out.join(file_for(path).context("an unsafe path")?);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&file, bytes).with_context(|| format!("writing {}", file.display()))
}

/// A page that forwards to `to`, for a path the server answers with a redirect.
fn redirect_page(to: &str) -> String {
    let to = to.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    format!(
        "<!doctype html>\n<meta charset=\"utf-8\">\n<title>Moved</title>\n<link rel=\"canonical\" href=\"{to}\">\n\
         <meta http-equiv=\"refresh\" content=\"0; url={to}\">\n<p>This page has moved to <a href=\"{to}\">{to}</a>.</p>\n"
    )
}

/// The file that serves `path` (already without query and fragment), relative to the output
/// folder: `/` → `index.html`, `/a/b` → `a/b/index.html`, `/a/b.css` → `a/b.css`. `None` for a
/// path that would leave the folder.
pub fn file_for(path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
    let mut file = PathBuf::new();
    let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
    for segment in &segments {
        if *segment == "." || *segment == ".." || segment.contains('\\') || segment.contains('\0') {
            return None;
        }
        file.push(segment);
    }
    let has_extension = !decoded.ends_with('/') && segments.last().is_some_and(|s| s.contains('.'));
    if !has_extension {
        file.push("index.html");
    }
    Some(file)
}

/// The site path a link points at, when it is on this site: `/x` or `<base_url>/x`, without
/// query and fragment.
pub fn internal_path(link: &str, base_url: &str) -> Option<String> {
    let link = link.trim();
    let path = match link.strip_prefix(base_url) {
        Some(rest) if rest.is_empty() || rest.starts_with(['/', '?', '#']) => rest,
        _ if link.starts_with('/') && !link.starts_with("//") => link,
        _ => return None,
    };
    let path = path.split(['#', '?']).next().unwrap_or("");
    Some(if path.is_empty() { "/".to_string() } else { path.to_string() })
}

/// The values of every `href`, `src` and `srcset` attribute in an HTML page (the first URL of
/// each `srcset` candidate), entities decoded. Our pages are serialised by the template engine
/// and ammonia, which always quote attributes with `"`.
pub fn links_in(html: &[u8]) -> Vec<String> {
    let mut links = Vec::new();
    for attr in [&b" href=\""[..], b" src=\"", b" srcset=\""] {
        for start in memchr::memmem::find_iter(html, attr) {
            let value_start = start + attr.len();
            let Some(len) = memchr::memchr(b'"', &html[value_start..]) else { continue };
            let Ok(value) = std::str::from_utf8(&html[value_start..value_start + len]) else { continue };
            let value = value.replace("&amp;", "&");
            if attr == b" srcset=\"" {
                links.extend(value.split(',').filter_map(|c| c.split_whitespace().next()).map(str::to_string));
            } else {
                links.push(value);
            }
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_files_inside_the_folder() {
        assert_eq!(file_for("/"), Some(PathBuf::from("index.html")));
        assert_eq!(file_for("/article/x"), Some(PathBuf::from("article/x/index.html")));
        assert_eq!(file_for("/category/x/page/2/"), Some(PathBuf::from("category/x/page/2/index.html")));
        assert_eq!(file_for("/static/style.css"), Some(PathBuf::from("static/style.css")));
        assert_eq!(file_for("/static/uploads/a%20b.jpg"), Some(PathBuf::from("static/uploads/a b.jpg")));
        assert_eq!(file_for("/static/../../etc/passwd"), None);
        assert_eq!(file_for("/x/%2e%2e/y"), None);
    }

    #[test]
    fn internal_links_are_site_paths() {
        let base = "https://news.example";
        assert_eq!(internal_path("/a?page=2#c", base).as_deref(), Some("/a"));
        assert_eq!(internal_path("https://news.example/feed", base).as_deref(), Some("/feed"));
        assert_eq!(internal_path("https://news.example", base).as_deref(), Some("/"));
        assert_eq!(internal_path("https://news.example.evil/x", base), None);
        assert_eq!(internal_path("//cdn.example/x", base), None);
        assert_eq!(internal_path("mailto:a@b", base), None);
        assert_eq!(internal_path("#comments", base), None);
        let html = br#"<a class="x" href="/a?x=1&amp;y=2">a</a><img src="/i.png" srcset="/s.png 1x, /l.png 2x">"#;
        assert_eq!(links_in(html), vec!["/a?x=1&y=2", "/i.png", "/s.png", "/l.png"]);
    }
}
