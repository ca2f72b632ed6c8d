//! Comment feeds (RSS 2.0): `/comments/feed` site-wide and `/article/{slug}/comments/feed`.
//! Approved comments only, newest first; never an email address.

use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;

use crate::comments::queries;
use crate::http::{cached, page, site_context, AppError, AppState};

const FEED_ITEMS: i64 = 30;

pub fn router() -> Router<AppState> {
    Router::new().route("/comments/feed", get(site_feed)).route("/article/{slug}/comments/feed", get(article_feed))
}

async fn site_feed(State(state): State<AppState>, headers: HeaderMap) -> Response {
    cached(&state, "/comments/feed", &headers, || async {
        let title = format!("Comments for {}", state.settings.config().site.title);
        let home = format!("{}/", state.config.base_url());
        render(&state, None, title, home, "/comments/feed").await
    })
    .await
}

async fn article_feed(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: OriginalUri,
    headers: HeaderMap,
) -> Response {
    let key = uri.path().to_string();
    cached(&state, &key, &headers, || async {
        let target = queries::target(&state.db, &slug).await?;
        let title = format!("Comments on: {}", target.title);
        let home = format!("{}/article/{}", state.config.base_url(), target.slug);
        render(&state, Some(target.id), title, home, uri.path()).await
    })
    .await
}

async fn render(
    state: &AppState,
    article_id: Option<i64>,
    title: String,
    home: String,
    self_path: &str,
) -> Result<crate::http::page_cache::CachedPage, AppError> {
    let rows = queries::latest_approved(&state.db, article_id, FEED_ITEMS).await?;
    let updated = rows.iter().map(|(c, _, _)| c.created_at).max();
    let items: Vec<minijinja::Value> = rows
        .into_iter()
        .map(|(comment, slug, article_title)| {
            context! {
                title => format!("Comment on {article_title} by {}", comment.author_name),
                link => format!("{}/article/{slug}#comment-{}", state.config.base_url(), comment.id),
                comment => comment,
            }
        })
        .collect();
    let ctx = context! {
        site => site_context(state),
        title => title,
        home => home,
        self_url => format!("{}{self_path}", state.config.base_url()),
        updated => updated.unwrap_or(0),
        items => items,
    };
    let xml = state
        .templates
        .render("comments.rss.xml", ctx)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("rendering comments.rss.xml: {e:#}")))?;
    Ok(page(StatusCode::OK, "application/rss+xml; charset=utf-8", xml.into(), updated))
}
