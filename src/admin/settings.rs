//! `/admin/settings`: the site's settings screen (capability `ManageSettings`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::accounts::session::{AdminForm, SignedIn};
use crate::accounts::Capability;
use crate::config::{Config, WIDGETS};
use crate::http::{AppError, AppState};
use crate::settings::service::{self, FieldErrors, Kind, SettingsError};

pub fn admin_router() -> Router<AppState> {
    Router::new().route("/admin/settings", get(show).post(save))
}

#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Serialize)]
struct FieldView {
    key: &'static str,
    /// The field's id in the page (`site.title` → `site-title`).
    id: String,
    label: &'static str,
    kind: &'static str,
    help: &'static str,
    value: String,
    choices: Vec<&'static str>,
    /// For secrets: whether one is saved (it is never shown).
    is_set: bool,
    /// For widgets: which are on.
    checked: Vec<String>,
}

#[derive(Serialize)]
struct SectionView {
    title: &'static str,
    applies_at_once: bool,
    fields: Vec<FieldView>,
}

/// The form: values from `config`, or the submitted text where there is some.
fn sections(config: &Config, submitted: Option<&[(String, String)]>) -> Vec<SectionView> {
    service::SECTIONS
        .iter()
        .map(|section| SectionView {
            title: section.title,
            applies_at_once: section.applies_at_once,
            fields: section
                .fields
                .iter()
                .map(|field| {
                    // What was submitted for this field, if anything.
                    let texts: Option<Vec<&str>> = submitted
                        .map(|form| form.iter().filter(|(k, _)| k == field.key).map(|(_, v)| v.as_str()).collect())
                        .filter(|texts: &Vec<&str>| !texts.is_empty());
                    let value = match (&texts, field.kind) {
                        (_, Kind::Secret) => String::new(),
                        (Some(texts), _) => texts.last().copied().unwrap_or("").to_string(),
                        (None, _) => service::form_value(config, field),
                    };
                    let checked = match texts {
                        Some(texts) if field.kind == Kind::Widgets => texts.iter().map(|t| t.to_string()).collect(),
                        _ => config.site.widgets.clone(),
                    };
                    FieldView {
                        key: field.key,
                        id: field.key.replace(['.', '_'], "-"),
                        label: field.label,
                        kind: match field.kind {
                            Kind::Text | Kind::Number | Kind::Port => "text",
                            Kind::Choice(_) => "choice",
                            Kind::List => "list",
                            Kind::Secret => "secret",
                            Kind::Widgets => "widgets",
                        },
                        help: field.help,
                        value,
                        choices: match field.kind {
                            Kind::Choice(choices) => choices.to_vec(),
                            Kind::Widgets => WIDGETS.to_vec(),
                            _ => Vec::new(),
                        },
                        is_set: field.kind == Kind::Secret && service::secret_is_set(config, field.key),
                        checked,
                    }
                })
                .collect(),
        })
        .collect()
}

fn page(
    state: &AppState,
    signed_in: &SignedIn,
    submitted: Option<&[(String, String)]>,
    errors: &FieldErrors,
    notice: Option<&str>,
) -> Response {
    let config = state.settings.config();
    let ctx = context! {
        sections => sections(&config, submitted),
        errors => errors,
        notice => notice,
    };
    crate::accounts::desk::render(state, signed_in, "admin/settings.html", ctx)
}

async fn show(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Query(query): Query<NoticeQuery>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageSettings)?;
    let notice = query.notice.as_deref().filter(|n| *n == "saved").map(|_| "The settings were saved.");
    Ok(page(&state, &signed_in, None, &FieldErrors::new(), notice))
}

async fn save(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageSettings)?;
    match service::save(&state.db, &state.config, &form).await {
        Ok(_) => {
            // This node applies them at once; the others within a poll of the content epoch.
            if let Ok(epoch) = state.db.content_epoch().await {
                state.settings.follow(&state.db, &state.config, &state.templates, epoch).await;
            }
            Ok(Redirect::to("/admin/settings?notice=saved").into_response())
        }
        Err(SettingsError::Invalid(errors)) => {
            let mut response = page(&state, &signed_in, Some(&form), &errors, None);
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(SettingsError::Db(err)) => Err(err.into()),
    }
}
