//! `GET /admin/analytics?days=7|30|90&path=/article/…`: views per day as a bar chart (drawn as
//! SVG by the template), the top pages and referring sites, and per day the subscriptions and
//! comments that came in; with `path`, one page's views (the articles list links each article's).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;
use serde::Deserialize;

use crate::accounts::desk::render;
use crate::accounts::session::SignedIn;
use crate::accounts::Capability;
use crate::http::{AppError, AppState};

pub fn admin_router() -> Router<AppState> {
    Router::new().route("/admin/analytics", get(analytics))
}

#[derive(Debug, Default, Deserialize)]
struct Params {
    days: Option<i64>,
    path: Option<String>,
}

async fn analytics(
    State(state): State<AppState>,
    signed_in: SignedIn,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ViewAnalytics)?;
    let Ok(Query(params)) = params else {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, "days: a number of days (7, 30 or 90)"));
    };
    let days = params.days.unwrap_or(30);
    if ![7, 30, 90].contains(&days) {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, "days: 7, 30 or 90"));
    }
    let path = params.path.filter(|p| p.starts_with('/') && p.len() <= 2048);
    let report = super::service::report(&state.db, days, path.as_deref()).await?;
    let ctx = context! {
        report, days, path,
        enabled => state.config.analytics.enabled,
        ranges => [7, 30, 90],
    };
    Ok(render(&state, &signed_in, "admin/analytics.html", ctx))
}
