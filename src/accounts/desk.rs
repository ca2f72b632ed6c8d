//! The desk's frame: every `/admin` screen renders through [`render`], so each gets the same
//! layout, the signed-in user, the CSRF secret for its forms and the navigation filtered by
//! role. The security headers of `/admin` responses (strict CSP, no-store, noindex, DENY
//! framing) are added by `http::security` for every response under `/admin`, rendered here or
//! not.

use axum::extract::{OptionalFromRequestParts, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minijinja::{context, Value};
use serde::Serialize;

use crate::accounts::session::SignedIn;
use crate::accounts::Capability;
use crate::http::error::ErrorPage;
use crate::http::{site_context, AppState};

/// One entry of the admin navigation; shown to roles with `capability` (everyone if `None`).
struct NavItem {
    section: &'static str,
    label: &'static str,
    href: &'static str,
    capability: Option<Capability>,
}

/// The navigation, in order. Screens that other modules add appear here with the capability
/// their routes require.
const NAV: &[NavItem] = &[
    NavItem { section: "dashboard", label: "Dashboard", href: "/admin", capability: None },
    NavItem {
        section: "articles",
        label: "Articles",
        href: "/admin/articles",
        capability: Some(Capability::WriteDrafts),
    },
    NavItem { section: "media", label: "Media", href: "/admin/media", capability: Some(Capability::UploadMedia) },
    NavItem {
        section: "categories",
        label: "Categories",
        href: "/admin/categories",
        capability: Some(Capability::ManageTerms),
    },
    NavItem { section: "tags", label: "Tags", href: "/admin/tags", capability: Some(Capability::ManageTerms) },
    NavItem {
        section: "comments",
        label: "Comments",
        href: "/admin/comments",
        capability: Some(Capability::ModerateComments),
    },
    NavItem {
        section: "analytics",
        label: "Analytics",
        href: "/admin/analytics",
        capability: Some(Capability::ViewAnalytics),
    },
    NavItem {
        section: "subscribers",
        label: "Subscribers",
        href: "/admin/subscribers",
        capability: Some(Capability::ManageSubscribers),
    },
    NavItem {
        section: "fediverse",
        label: "Fediverse",
        href: "/admin/fediverse",
        capability: Some(Capability::ManageFediverse),
    },
    NavItem { section: "users", label: "Users", href: "/admin/users", capability: Some(Capability::ManageUsers) },
    NavItem {
        section: "settings",
        label: "Settings",
        href: "/admin/settings",
        capability: Some(Capability::ManageSettings),
    },
    NavItem {
        section: "tokens",
        label: "API tokens",
        href: "/admin/tokens",
        capability: Some(Capability::WriteDrafts),
    },
];

#[derive(Serialize)]
struct NavLink {
    label: &'static str,
    href: &'static str,
    active: bool,
}

/// The section a template belongs to: `admin/users/edit.html` and `admin/users.html` → `users`.
fn section_of(template: &str) -> &str {
    let rest = template.strip_prefix("admin/").unwrap_or(template);
    rest.split(['/', '.', '_']).next().unwrap_or(rest)
}

/// Renders `template` (under `theme/templates/admin/`, extending `admin/base.html`) for the
/// signed-in user, with `ctx` plus `site`, `me` (user and role), `csrf` and `nav`. The nav
/// entry whose section matches `ctx.section`, or else the template's folder or name, is
/// marked active.
pub fn render(state: &AppState, signed_in: &SignedIn, template: &str, ctx: Value) -> Response {
    let section = ctx
        .get_attr("section")
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| section_of(template).to_string());
    let nav: Vec<NavLink> = NAV
        .iter()
        .filter(|item| item.capability.is_none_or(|cap| signed_in.role.can(cap)))
        .map(|item| NavLink { label: item.label, href: item.href, active: item.section == section })
        .collect();
    let me = context! {
        id => signed_in.user.id,
        username => signed_in.user.username,
        display_name => signed_in.user.display_name,
        email => signed_in.user.email,
        role => signed_in.role.as_str(),
    };
    let frame = context! { me => me, csrf => signed_in.csrf, nav => nav };
    html(state, template, context! { ..frame, ..ctx })
}

/// Wraps every desk route: an error page a desk handler answers (`Err(AppError)`, marked
/// [`ErrorPage`]) is shown to a signed-in user inside the desk's frame, with its navigation,
/// instead of in the public theme. The session is looked up once here; the handler's
/// `SignedIn` extractor reuses it.
pub async fn errors_in_frame(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let signed_in = match <SignedIn as OptionalFromRequestParts<AppState>>::from_request_parts(&mut parts, &state).await
    {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let Some(signed_in) = signed_in else { return response };
    match response.extensions_mut().remove::<ErrorPage>() {
        Some(ErrorPage(message)) => {
            let mut page = render(&state, &signed_in, "admin/message.html", context! { message => message });
            if page.status().is_success() {
                *page.status_mut() = response.status();
            }
            page
        }
        None => response,
    }
}

/// Renders an admin template for someone not signed in (login, password reset).
pub fn render_bare(state: &AppState, template: &str, ctx: Value) -> Response {
    html(state, template, ctx)
}

fn html(state: &AppState, template: &str, ctx: Value) -> Response {
    let ctx = context! { ..ctx, ..context! { site => site_context(state) } };
    match state.templates.render(template, ctx) {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), template, "Rendering an admin page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.").into_response()
        }
    }
}
