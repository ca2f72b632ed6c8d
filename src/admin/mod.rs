//! The desk's site-wide screens: the dashboard (counts, activity, queues and charts across
//! every capability) and the settings screen (`settings`).
//!
//! Each capability serves its own desk screens (`content::admin`, `comments::admin`, …) through
//! the frame in `accounts::desk`.

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;

use crate::accounts::desk::render;
use crate::accounts::session::SignedIn;
use crate::accounts::Capability;
use crate::http::{AppError, AppState};

pub mod dashboard;
pub mod queries;
pub mod settings;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin", get(dashboard)).merge(settings::admin_router())
}

async fn dashboard(signed_in: SignedIn, State(state): State<AppState>) -> Result<Response, AppError> {
    let dash = dashboard::load(&state.db).await?;
    // Who logged in and how the queues stand is for editors and admins, as in WordPress.
    let operations = signed_in.role.can(Capability::EditOthers);
    Ok(render(&state, &signed_in, "admin/dashboard.html", context! { dash => dash, operations => operations }))
}
