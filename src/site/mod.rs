//! The reader's pages: home, articles, standing pages, category/tag/author archives, search.
//!
//! Each is composed from several capabilities: content's articles and listings, the comment
//! thread and form (`comments::routes`), the IPFS links (`ipfs::routes`), the price widgets in
//! the sidebar (`market::routes`) and the media library's image sizes, inside content's page
//! chrome (`content::chrome`). `export static` renders through the same functions
//! (`article_html`, `listing_html`).

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, OriginalUri, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use futures_util::future::BoxFuture;
use minijinja::{context, Value};
use serde::Deserialize;

use crate::comments;
use crate::comments::model::Counted;
use crate::content::chrome::{base_context, listing_page_start, listing_total, page_path};
use crate::content::model::{Article, ArticleKind, ArticleSummary, Category, ListFilter, Neighbours, Page, Tag};
use crate::content::{embeds, markdown, queries, service};
use crate::http::page_cache::CachedPage;
use crate::http::{self, cached, html_page, parse_page, AppError, AppState};
use crate::theme;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/page/{page}", get(home))
        .route("/article/{slug}", get(article))
        .route("/article/{slug}/page/{page}", get(article_part))
        .route("/category/{slug}", get(category))
        .route("/category/{slug}/page/{page}", get(category))
        .route("/tag/{slug}", get(tag))
        .route("/tag/{slug}/page/{page}", get(tag))
        .route("/author/{slug}", get(author))
        .route("/author/{slug}/page/{page}", get(author))
        .route("/search", get(search))
        .route("/{slug}", get(standing_page))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page: Option<String>,
    q: Option<String>,
}

type ListParams = Result<Query<ListQuery>, QueryRejection>;

fn list_query(params: ListParams) -> Result<(u32, Option<String>), AppError> {
    let Query(query) = params.map_err(|e| AppError::BadRequest { field: "query", message: e.body_text() })?;
    Ok((parse_page(query.page.as_deref())?, query.q))
}

/// The captures of a listing's URL: `/page/{page}`, `/category/{slug}/page/{page}`, …
#[derive(Debug, Deserialize)]
pub struct ListPath {
    slug: Option<String>,
    page: Option<String>,
}

/// The page a listing shows. Pages live in the path (`/category/x/page/2`), so every archive
/// page is a file of a static copy; `?page=2`, the older form, and `/page/1` answer with a 301
/// to the one URL of that page.
fn listing_page(uri: &OriginalUri, in_path: Option<&str>, params: ListParams) -> Result<u32, Response> {
    let fail = |err: AppError| err.into_response();
    let Query(query) = params.map_err(|e| fail(AppError::BadRequest { field: "query", message: e.body_text() }))?;
    let path = uri.path();
    let listing = match in_path {
        Some(_) => path.rsplit_once("/page/").map_or(path, |(listing, _)| listing),
        None => path,
    };
    let listing = if listing.is_empty() { "/" } else { listing };
    if let Some(raw) = query.page.as_deref() {
        let page = parse_page(Some(raw)).map_err(fail)?;
        return Err(moved(page_path(listing, page)));
    }
    match parse_page(in_path).map_err(fail)? {
        1 if in_path.is_some() => Err(moved(listing.to_string())),
        page => Ok(page),
    }
}

/// 301, the redirect every client and crawler knows (axum's `Redirect::permanent` is a 308).
fn moved(to: String) -> Response {
    (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]).into_response()
}

fn cache_key(uri: &OriginalUri) -> String {
    uri.path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_else(|| uri.path().to_string())
}

async fn home(
    State(state): State<AppState>,
    list_path: Option<Path<ListPath>>,
    uri: OriginalUri,
    headers: HeaderMap,
    params: ListParams,
) -> Response {
    let page = match listing_page(&uri, list_path.as_ref().and_then(|p| p.page.as_deref()), params) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let key = cache_key(&uri);
    cached(&state, &key, &headers, || async {
        let archive = Archive::home();
        let listing = list_page(&state, &archive, page).await?;
        listing_html(&state, &archive, listing).await
    })
    .await
}

/// Page `page` of what `archive` lists, with comment counts.
async fn list_page(state: &AppState, archive: &Archive, page: u32) -> Result<Page<Counted<ArticleSummary>>, AppError> {
    let total = listing_total(state, &archive.path, archive.filter).await?;
    let per_page = state.config.content.per_page;
    let start = listing_page_start(state, &archive.path, archive.filter, total, page, per_page).await?;
    let listing = service::reading::list_page(&state.db, archive.filter, total, page, per_page, start).await?;
    Ok(comments::service::with_counts(&state.db, listing).await?)
}

/// A page of a listing (home or an archive): the one rendering the server and `export static`
/// share.
pub(crate) async fn listing_html(
    state: &AppState,
    archive: &Archive,
    listing: Page<Counted<ArticleSummary>>,
) -> Result<CachedPage, AppError> {
    let last_modified = listing.items.iter().map(|a| a.item.updated_at).max();
    let base = base_context(state, &page_path(&archive.path, listing.page), sidebar(state).await).await?;
    let template = if archive.filter == ListFilter::All { "home.html" } else { "archive.html" };
    let leads = match listing.page {
        1 => service::reading::lead_stories(&state.db, archive.filter).await?,
        _ => Vec::new(),
    };
    let lead_ids: Vec<i64> = leads.iter().map(|a| a.id).collect();
    let ctx = context! { ..base, ..context! {
        listing => listing, leads => leads, lead_ids => lead_ids,
        heading => archive.heading.clone(), archive_path => archive.path.clone(),
    } };
    html_page(state, template, ctx, last_modified)
}

async fn article(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    if http::wants_activity_json(&headers) {
        return crate::activitypub::routes::article(&state, &slug).await;
    }
    let key = cache_key(&uri);
    // Cached for anonymous readers; rendered afresh for a reader with comment cookies.
    comments::routes::article_page(&state, &key, &headers, |view| post_page(&state, &slug, view)).await
}

/// `/article/{slug}/page/{page}`: a further page of a post split by `<!--nextpage-->`. Its
/// first page is the post's own URL, where `/page/1` answers with a 301.
async fn article_part(
    State(state): State<AppState>,
    Path((slug, page)): Path<(String, String)>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let page = match parse_page(Some(&page)) {
        Ok(1) => return moved(ArticleKind::Post.path(&slug)),
        Ok(page) => page as usize,
        Err(err) => return err.into_response(),
    };
    let key = cache_key(&uri);
    comments::routes::article_page(&state, &key, &headers, |view| post_part(&state, &slug, page, view)).await
}

/// A published post with its comments as `view` shows them (also comment pages and replies):
/// the `comments::routes::PostPage` the comment routes render with.
pub fn post_page<'a>(
    state: &'a AppState,
    slug: &'a str,
    view: comments::routes::View,
) -> BoxFuture<'a, Result<CachedPage, AppError>> {
    post_part(state, slug, 1, view)
}

/// Page `page` of a published post (see [`post_page`]).
fn post_part<'a>(
    state: &'a AppState,
    slug: &'a str,
    page: usize,
    view: comments::routes::View,
) -> BoxFuture<'a, Result<CachedPage, AppError>> {
    Box::pin(async move {
        let article = service::reading::find_public(&state.db, slug).await?;
        if article.summary.kind != ArticleKind::Post {
            return Err(AppError::NotFound);
        }
        render_article(state, article, &view, page).await
    })
}

async fn standing_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let key = cache_key(&uri);
    cached(&state, &key, &headers, || async {
        let article = service::reading::find_public(&state.db, &slug).await?;
        if article.summary.kind != ArticleKind::Page {
            return Err(AppError::NotFound);
        }
        render_article(&state, article, &comments::routes::View::default(), 1).await
    })
    .await
}

async fn render_article(
    state: &AppState,
    article: Article,
    comments_view: &comments::routes::View,
    page: usize,
) -> Result<CachedPage, AppError> {
    let extras = ArticleExtras {
        page,
        neighbours: queries::reading::neighbours(&state.db, &article.summary).await?,
        comments: comments::routes::context(state, &article, comments_view).await?,
        ipfs: crate::ipfs::routes::article_links(state, article.summary.id, &article.summary.slug).await?,
        featured_srcset: crate::media::service::srcset_for_url(&state.db, article.featured_image.as_deref()).await?,
    };
    article_html(state, article, extras).await
}

/// What an article page shows besides the article itself: read per page by the server, for the
/// whole site at once by `export static`.
pub(crate) struct ArticleExtras {
    /// Which page of a post split by `<!--nextpage-->` (1 for its own URL, and for every
    /// standing page, which shows its whole text).
    pub page: usize,
    pub neighbours: Neighbours,
    /// The `comments` value (`comments::routes::context`) and when its newest comment changed.
    pub comments: (Value, Option<i64>),
    pub ipfs: Option<Value>,
    pub featured_srcset: Option<String>,
}

/// An article or standing page: the one rendering the server and `export static` share.
pub(crate) async fn article_html(
    state: &AppState,
    article: Article,
    extras: ArticleExtras,
) -> Result<CachedPage, AppError> {
    let article_id = article.summary.id;
    let ArticleExtras { page, neighbours, comments: (comments, comments_changed), ipfs, featured_srcset } = extras;
    let article_path = article.summary.kind.path(&article.summary.slug);
    let page_of = |page: usize| if page == 1 { article_path.clone() } else { format!("{article_path}/page/{page}") };
    let pages = match article.summary.kind {
        ArticleKind::Post => markdown::pages_of(&article.body_html),
        ArticleKind::Page => vec![article.body_html.clone()],
    };
    let Some(body_html) = pages.get(page.wrapping_sub(1)) else { return Err(AppError::NotFound) };
    let no_cards = HashMap::new();
    let (body_html, frame_sources) = match embeds::placeholders(body_html, &no_cards) {
        Some(with_embeds) => {
            let endpoints = &state.config.content.oembed_endpoints;
            let cards = crate::content::oembed::cards(&state.db, endpoints, &with_embeds.links).await?;
            let with_embeds = match cards.is_empty() {
                true => with_embeds,
                false => embeds::placeholders(body_html, &cards).unwrap_or(with_embeds),
            };
            (with_embeds.html, Some(with_embeds.player_origins.join(" ")))
        }
        None => (body_html.clone(), None),
    };
    let page_paths: Vec<String> = if pages.len() > 1 { (1..=pages.len()).map(page_of).collect() } else { Vec::new() };
    let path = page_of(page);
    let template = if article.summary.kind == ArticleKind::Page { "page.html" } else { "article.html" };
    let base = base_context(state, &path, sidebar(state).await).await?;
    let canonical = format!("{}{}", state.config.base_url(), article_path);
    let image = lead_image(state, &article);
    let json_ld = json_ld(state, &article, &canonical, image.as_deref());
    let last_modified = Some(article.summary.updated_at.max(comments_changed.unwrap_or(0)));
    let body_html = crate::media::service::with_image_sizes(&state.db, &body_html).await?;
    let ctx = context! { ..base, ..context! {
        comments => comments,
        ipfs => ipfs,
        featured_srcset => featured_srcset,
        image => image,
        frame_sources => frame_sources,
        body_html => Value::from_safe_string(body_html),
        article => article,
        page => page,
        page_paths => page_paths,
        neighbours => neighbours,
        json_ld => Value::from_safe_string(json_ld),
    }};
    Ok(html_page(state, template, ctx, last_modified)?.of_article(article_id))
}

/// The image that stands for the article in link previews and search results: its featured
/// image, else the first image in its text; absolute, as OpenGraph and schema.org want it.
fn lead_image(state: &AppState, article: &Article) -> Option<String> {
    let first_in_text = || {
        let (_, rest) = article.body_html.split_once("<img ")?;
        let (_, src) = rest.split_once("src=\"")?;
        src.split('"').next().map(str::to_string)
    };
    let url = article.featured_image.clone().filter(|u| !u.is_empty()).or_else(first_in_text)?;
    match url.starts_with('/') && !url.starts_with("//") {
        true => Some(format!("{}{url}", state.config.base_url())),
        false => Some(url).filter(|u| u.starts_with("https://") || u.starts_with("http://")),
    }
}

/// JSON-LD `NewsArticle`, safe to embed in a `<script>` element.
fn json_ld(state: &AppState, article: &Article, canonical: &str, image: Option<&str>) -> String {
    let base = state.config.base_url();
    // Title and language as the admin's settings have them.
    let site = state.settings.config();
    let s = &article.summary;
    let published = s.published_at.map(theme::rfc3339);
    let value = serde_json::json!({
        "@context": "https://schema.org",
        "@type": if s.kind == ArticleKind::Post { "NewsArticle" } else { "WebPage" },
        "headline": s.title,
        "description": s.excerpt,
        "datePublished": published,
        "dateModified": theme::rfc3339(s.updated_at),
        "author": [{ "@type": "Person", "name": s.author.display_name, "url": format!("{base}/author/{}", s.author.username) }],
        "publisher": { "@type": "Organization", "name": site.site.title, "url": base },
        "mainEntityOfPage": { "@type": "WebPage", "@id": canonical },
        "articleSection": s.category.as_ref().map(|c| c.name.clone()),
        "keywords": article.tags.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "image": image,
        "inLanguage": site.site.language,
    });
    // `<`, `>` and `&` escaped as \u00XX keep the JSON valid and the script element unbreakable.
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// What a listing shows: home, or the archive of a category, tag or author.
pub(crate) struct Archive {
    pub filter: ListFilter,
    pub heading: Value,
    /// Its first page's path; later pages add `/page/n`.
    pub path: String,
}

impl Archive {
    pub fn home() -> Archive {
        Archive { filter: ListFilter::All, heading: Value::UNDEFINED, path: "/".into() }
    }

    pub fn category(category: &Category) -> Archive {
        let path = format!("/category/{}", category.slug);
        let heading = context! { kind => "Category", name => category.name, description => category.description, feed => format!("{path}/feed") };
        Archive { filter: ListFilter::Category(category.id), heading, path }
    }

    pub fn tag(id: i64, tag: &Tag) -> Archive {
        let path = format!("/tag/{}", tag.slug);
        Archive { filter: ListFilter::Tag(id), heading: context! { kind => "Tag", name => tag.name }, path }
    }

    pub fn author(id: i64, username: &str, display_name: &str) -> Archive {
        let path = format!("/author/{username}");
        Archive { filter: ListFilter::Author(id), heading: context! { kind => "Author", name => display_name }, path }
    }
}

/// Serves an archive from the cache, resolving what it lists (`resolve`) only on a miss.
async fn serve_archive<F, Fut>(
    state: AppState,
    list_path: &ListPath,
    uri: OriginalUri,
    headers: HeaderMap,
    params: ListParams,
    resolve: F,
) -> Response
where
    F: FnOnce(AppState) -> Fut,
    Fut: std::future::Future<Output = Result<Archive, AppError>>,
{
    let page = match listing_page(&uri, list_path.page.as_deref(), params) {
        Ok(page) => page,
        Err(response) => return response,
    };
    let key = cache_key(&uri);
    cached(&state, &key, &headers, || async {
        let archive = resolve(state.clone()).await?;
        let listing = list_page(&state, &archive, page).await?;
        listing_html(&state, &archive, listing).await
    })
    .await
}

async fn category(
    State(state): State<AppState>,
    Path(list_path): Path<ListPath>,
    uri: OriginalUri,
    headers: HeaderMap,
    params: ListParams,
) -> Response {
    let slug = list_path.slug.clone().unwrap_or_default();
    serve_archive(state, &list_path, uri, headers, params, |state| async move {
        Ok(Archive::category(&queries::terms::category_by_slug(&state.db, &slug).await?))
    })
    .await
}

async fn tag(
    State(state): State<AppState>,
    Path(list_path): Path<ListPath>,
    uri: OriginalUri,
    headers: HeaderMap,
    params: ListParams,
) -> Response {
    let slug = list_path.slug.clone().unwrap_or_default();
    serve_archive(state, &list_path, uri, headers, params, |state| async move {
        let (id, tag) = queries::terms::tag_by_slug(&state.db, &slug).await?;
        Ok(Archive::tag(id, &tag))
    })
    .await
}

async fn author(
    State(state): State<AppState>,
    Path(list_path): Path<ListPath>,
    uri: OriginalUri,
    headers: HeaderMap,
    params: ListParams,
) -> Response {
    let username = list_path.slug.clone().unwrap_or_default();
    serve_archive(state, &list_path, uri, headers, params, |state| async move {
        let user = crate::accounts::find_by_username(&state.db, &username).await?;
        Ok(Archive::author(user.id, &user.username, &user.display_name))
    })
    .await
}

async fn search(
    State(state): State<AppState>,
    uri: OriginalUri,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    params: ListParams,
) -> Result<Response, AppError> {
    let ip = http::forms::client_ip(&state.config.comments.client_ip_header, &headers, peer.as_deref());
    if let Err(retry_after) = state.search_limiter.take(&state.db, ip).await {
        let message = "You are searching too quickly. Wait a moment, then try again.";
        let mut response = AppError::refused(StatusCode::TOO_MANY_REQUESTS, message).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, retry_after.into());
        return Ok(response);
    }
    let (page, query) = list_query(params)?;
    let query = query.unwrap_or_default();
    if query.chars().count() > 200 {
        return Err(AppError::BadRequest { field: "q", message: "a search is at most 200 characters".into() });
    }
    let key = cache_key(&uri);
    Ok(cached(&state, &key, &headers, || async {
        let results = service::reading::search(&state.db, &query, page, state.config.content.per_page).await?;
        let base = base_context(&state, "/search", sidebar(&state).await).await?;
        let hits: Vec<Value> = results
            .items
            .iter()
            .map(
                |hit| context! { article => hit.article, snippet => Value::from_safe_string(hit.snippet_html.clone()) },
            )
            .collect();
        // Only the newest matches are ranked: past that many, say "500+".
        let capped = results.total_items >= service::reading::SEARCH_CANDIDATES;
        let ctx =
            context! { ..base, ..context! { query => query, results => results, hits => hits, capped => capped } };
        // Served only through this handler, which rate-limits each client first.
        Ok(html_page(&state, "search.html", ctx, None)?.checked_per_request())
    })
    .await)
}

/// The sidebar's price widgets.
async fn sidebar(state: &AppState) -> Value {
    crate::market::routes::sidebar(state).await
}
