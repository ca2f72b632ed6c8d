//! Machine-readable views: RSS 2.0, Atom, JSON Feed 1.1 (site-wide and per category),
//! sitemap.xml and robots.txt. Pages (About, …) are never in feeds.

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::{context, Value};

use crate::config::Config;
use crate::content::model::{Article, Category, ListFilter};
use crate::content::queries;
use crate::http::page_cache::CachedPage;
use crate::http::{cached, page, AppError, AppState};
use crate::theme::{self, Templates};

const FEED_ITEMS: i64 = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/feed", get(rss))
        .route("/feed/atom", get(atom))
        .route("/feed.json", get(json_feed))
        .route("/category/{slug}/feed", get(category_rss))
        .route("/sitemap.xml", get(sitemap_index))
        .route("/sitemap/{file}", get(sitemap_file))
        .route("/robots.txt", get(robots))
}

#[derive(Clone, Copy)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

async fn rss(State(state): State<AppState>, uri: OriginalUri, headers: HeaderMap) -> Response {
    feed(state, uri, headers, None, Format::Rss).await
}

async fn atom(State(state): State<AppState>, uri: OriginalUri, headers: HeaderMap) -> Response {
    feed(state, uri, headers, None, Format::Atom).await
}

async fn json_feed(State(state): State<AppState>, uri: OriginalUri, headers: HeaderMap) -> Response {
    feed(state, uri, headers, None, Format::Json).await
}

async fn category_rss(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    feed(state, uri, headers, Some(slug), Format::Rss).await
}

async fn feed(
    state: AppState,
    uri: OriginalUri,
    headers: HeaderMap,
    category_slug: Option<String>,
    format: Format,
) -> Response {
    let key = uri.path().to_string();
    cached(&state, &key, &headers, || async {
        let category = match &category_slug {
            Some(slug) => Some(queries::terms::category_by_slug(&state.db, slug).await?),
            None => None,
        };
        let articles =
            queries::reading::latest_with_bodies(&state.db, category.as_ref().map(|c| c.id), FEED_ITEMS).await?;
        // The saved settings' title, tagline and language.
        render_feed(&state.settings.config(), &state.templates, &articles, category.as_ref(), uri.path(), format)
    })
    .await
}

/// Renders a feed of `articles`; also used for the feed inside the IPFS site snapshot.
pub fn render_feed(
    config: &Config,
    templates: &Templates,
    articles: &[Article],
    category: Option<&Category>,
    self_path: &str,
    format: Format,
) -> Result<CachedPage, AppError> {
    let base = config.base_url();
    let updated = articles.iter().map(|a| a.summary.updated_at).max();
    let title = match category {
        Some(c) => format!("{} — {}", config.site.title, c.name),
        None => config.site.title.clone(),
    };
    let home = match category {
        Some(c) => format!("{base}/category/{}", c.slug),
        None => format!("{base}/"),
    };
    if let Format::Json = format {
        let items: Vec<serde_json::Value> = articles
            .iter()
            .map(|a| {
                let url = format!("{base}/article/{}", a.summary.slug);
                serde_json::json!({
                    "id": url,
                    "url": url,
                    "title": a.summary.title,
                    "summary": a.summary.excerpt,
                    "content_html": a.body_html,
                    "date_published": a.summary.published_at.map(theme::rfc3339),
                    "date_modified": theme::rfc3339(a.summary.updated_at),
                    "authors": [{ "name": a.summary.author.display_name, "url": format!("{base}/author/{}", a.summary.author.username) }],
                    "tags": a.tags.iter().map(|t| t.name.clone()).chain(a.summary.category.iter().map(|c| c.name.clone())).collect::<Vec<_>>(),
                })
            })
            .collect();
        let body = serde_json::json!({
            "version": "https://jsonfeed.org/version/1.1",
            "title": title,
            "home_page_url": home,
            "feed_url": format!("{base}{self_path}"),
            "description": config.site.tagline,
            "language": config.site.language,
            "items": items,
        });
        return Ok(page(StatusCode::OK, "application/feed+json", body.to_string().into(), updated));
    }
    let (template, content_type) = match format {
        Format::Atom => ("feed.atom.xml", "application/atom+xml; charset=utf-8"),
        _ => ("feed.rss.xml", "application/rss+xml; charset=utf-8"),
    };
    let ctx = context! {
        site => theme::site_values(config),
        title => title,
        home => home,
        self_url => format!("{base}{self_path}"),
        updated => updated.unwrap_or(0),
        articles => articles,
    };
    let xml = templates
        .render(template, ctx)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering {template}: {e:#}")))?;
    Ok(page(StatusCode::OK, content_type, xml.into(), updated))
}

/// URLs in one sitemap file (the protocol allows 50,000): a file costs the same to render at
/// any size of archive.
pub const SITEMAP_URLS_PER_FILE: i64 = 10_000;

/// The files `/sitemap.xml` names: `pages.xml` (home, categories, standing pages), then the
/// posts, oldest first, `SITEMAP_URLS_PER_FILE` to a file, so that every file but the last
/// stays the same as the site grows.
pub fn sitemap_files(posts: i64) -> Vec<String> {
    let files = (posts + SITEMAP_URLS_PER_FILE - 1) / SITEMAP_URLS_PER_FILE;
    std::iter::once("/sitemap/pages.xml".to_string())
        .chain((1..=files).map(|n| format!("/sitemap/posts-{n}.xml")))
        .collect()
}

/// `/sitemap.xml`: the sitemap index.
async fn sitemap_index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    cached(&state, "/sitemap.xml", &headers, || async {
        let posts = super::chrome::listing_total(&state, "/", ListFilter::All).await?;
        let base = state.config.base_url();
        let files: Vec<String> = sitemap_files(posts).iter().map(|path| format!("{base}{path}")).collect();
        xml(&state, "sitemap_index.xml", context! { files => files })
    })
    .await
}

/// `/sitemap/pages.xml` and `/sitemap/posts-N.xml`.
async fn sitemap_file(State(state): State<AppState>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let key = format!("/sitemap/{file}");
    cached(&state, &key, &headers, || async {
        let base = state.config.base_url();
        let urls: Vec<Value> = if file == "pages.xml" {
            let newest = queries::reading::newest_update(&state.db).await?;
            let mut urls = vec![context! { loc => format!("{base}/"), lastmod => newest }];
            for (slug, updated) in queries::reading::published_pages_index(&state.db).await? {
                urls.push(context! { loc => format!("{base}/{slug}"), lastmod => updated });
            }
            for (category, count) in queries::terms::categories_with_counts(&state.db).await? {
                if count > 0 {
                    urls.push(context! { loc => format!("{base}/category/{}", category.slug) });
                }
            }
            urls
        } else {
            let n = file
                .strip_prefix("posts-")
                .and_then(|rest| rest.strip_suffix(".xml"))
                .and_then(|n| n.parse::<i64>().ok())
                .filter(|n| *n >= 1)
                .ok_or(AppError::NotFound)?;
            let skip = (n - 1).saturating_mul(SITEMAP_URLS_PER_FILE);
            let posts = queries::reading::published_posts_index(&state.db, SITEMAP_URLS_PER_FILE, skip).await?;
            if posts.is_empty() {
                return Err(AppError::NotFound);
            }
            posts
                .into_iter()
                .map(|(slug, updated)| context! { loc => format!("{base}/article/{slug}"), lastmod => updated })
                .collect()
        };
        xml(&state, "sitemap.xml", context! { urls => urls })
    })
    .await
}

fn xml(state: &AppState, template: &str, ctx: Value) -> Result<CachedPage, AppError> {
    let xml = state
        .templates
        .render(template, ctx)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering {template}: {e:#}")))?;
    Ok(page(StatusCode::OK, "application/xml; charset=utf-8", xml.into(), None))
}

async fn robots(State(state): State<AppState>, headers: HeaderMap) -> Response {
    cached(&state, "/robots.txt", &headers, || async {
        let body = format!(
            "User-agent: *\nDisallow: /admin\nDisallow: /search\n\nSitemap: {}/sitemap.xml\n",
            state.config.base_url()
        );
        Ok(page(StatusCode::OK, "text/plain; charset=utf-8", body.into(), None))
    })
    .await
}
