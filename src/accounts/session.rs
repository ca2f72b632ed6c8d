//! The admin desk's request guards: [`SignedIn`] (a valid session) and [`AdminForm`] (a
//! signed-in form POST whose hidden `csrf` field matches the session's secret).

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use serde::de::DeserializeOwned;

use crate::accounts::{auth, Capability, Role, User};
use crate::http::forms::{self, parse_form};
use crate::http::{AppError, AppState};

/// The session cookie: a random id; the database keeps its hash.
pub const COOKIE: &str = "ov_session";

/// Someone signed in to the admin desk. Extracting it from a request without a valid session
/// redirects GET and HEAD to the login page (coming back afterwards) and refuses anything else
/// with 403.
#[derive(Clone)]
pub struct SignedIn {
    pub user: User,
    pub role: Role,
    /// The session's CSRF secret: every admin form carries it in a hidden `csrf` field.
    pub csrf: String,
    /// The cookie value, so the session can be ended or kept apart from the user's others.
    pub(crate) token: String,
}

impl SignedIn {
    /// A 403 unless the role has `capability`.
    pub fn require(&self, capability: Capability) -> Result<(), AppError> {
        if self.role.can(capability) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("You are not allowed to {}.", capability.describe())))
        }
    }

    /// A 403 unless `token` is this session's CSRF secret.
    pub fn check_csrf(&self, token: &str) -> Result<(), AppError> {
        if !token.is_empty() && auth::same_secret(token, &self.csrf) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "This form has expired or did not come from this site. Go back, reload the page and try again.".into(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if let Some(signed_in) = parts.extensions.get::<SignedIn>() {
            return Ok(signed_in.clone());
        }
        let session = match forms::cookie(&parts.headers, COOKIE) {
            Some(token) => match auth::session(&state.db, &state.config.accounts, token).await {
                Ok(session) => session.map(|s| (token.to_string(), s)),
                Err(err) => return Err(AppError::from(err).into_response()),
            },
            None => None,
        };
        let Some((token, session)) = session else {
            return Err(if parts.method == Method::GET || parts.method == Method::HEAD {
                let next = parts.uri.path_and_query().map_or("/admin", |pq| pq.as_str());
                Redirect::to(&login_url(next)).into_response()
            } else {
                let ctx = context! { message => "You are not signed in, or your session has expired. Log in again." };
                (StatusCode::FORBIDDEN, crate::accounts::desk::render_bare(state, "admin/message.html", ctx))
                    .into_response()
            });
        };
        // An unknown role (a row edited by hand) gets the least rights.
        let role = Role::parse(&session.user.role).unwrap_or(Role::Contributor);
        let signed_in = SignedIn { user: session.user, role, csrf: session.csrf, token };
        // A role that must use a second factor sees only the Security screen (and can log out)
        // until its member has set one up.
        let exempt = parts.uri.path().starts_with("/admin/security") || parts.uri.path() == "/admin/logout";
        if !exempt && super::security::required_for(state, &signed_in) {
            match super::two_factor::is_enabled(&state.db, signed_in.user.id).await {
                Ok(true) => {}
                Ok(false) if parts.method == Method::GET || parts.method == Method::HEAD => {
                    return Err(Redirect::to("/admin/security").into_response());
                }
                Ok(false) => {
                    let message =
                        "Your role must sign in with a second factor: set it up on the Security screen first.";
                    return Err(AppError::Forbidden(message.into()).into_response());
                }
                Err(err) => return Err(AppError::from(err).into_response()),
            }
        }
        parts.extensions.insert(signed_in.clone());
        Ok(signed_in)
    }
}

/// `Option<SignedIn>`: `None` without a valid session, for pages that serve both.
impl OptionalFromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Response> {
        match <SignedIn as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(signed_in) => Ok(Some(signed_in)),
            Err(response) if response.status().is_server_error() => Err(response),
            Err(_) => Ok(None),
        }
    }
}

/// `/admin/login?next=<path>`.
pub fn login_url(next: &str) -> String {
    let mut url = reqwest::Url::parse("http://localhost/admin/login").expect("a valid URL");
    url.query_pairs_mut().append_pair("next", next);
    format!("{}?{}", url.path(), url.query().unwrap_or(""))
}

/// A signed-in admin form POST (`application/x-www-form-urlencoded`) with a valid `csrf`
/// field, decoded into `T`. Without a session: 403; wrong or missing `csrf`: 403; a body that
/// is not a form: 415; text that is not UTF-8: 400; a field of the wrong type or missing: 422
/// naming the field.
pub struct AdminForm<T>(pub SignedIn, pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for AdminForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let signed_in = <SignedIn as FromRequestParts<AppState>>::from_request_parts(&mut parts, state).await?;
        if !forms::is_urlencoded(&parts.headers) {
            return Err(AppError::refused(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "This form is sent as an HTML form (application/x-www-form-urlencoded).",
            )
            .into_response());
        }
        let bytes = axum::body::to_bytes(body, state.config.http.max_body_bytes)
            .await
            .map_err(|_| AppError::refused(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large to be accepted."))
            .map_err(IntoResponse::into_response)?;
        let fields = parse_form(&bytes)
            .map_err(|message| AppError::refused(StatusCode::BAD_REQUEST, message).into_response())?;
        let csrf = fields.iter().find(|(name, _)| name == "csrf").map_or("", |(_, value)| value.as_str());
        signed_in.check_csrf(csrf).map_err(IntoResponse::into_response)?;
        let request = Request::from_parts(parts, Body::from(bytes));
        match Form::<T>::from_request(request, state).await {
            Ok(Form(value)) => Ok(AdminForm(signed_in, value)),
            Err(rejection) => {
                Err(AppError::refused(StatusCode::UNPROCESSABLE_ENTITY, rejection.body_text()).into_response())
            }
        }
    }
}

/// The `Set-Cookie` value for a new session (`Secure` when served over TLS). Without
/// `max_age_secs` the browser forgets it when it closes ("Remember me" unticked).
pub fn session_cookie(token: &str, max_age_secs: Option<i64>, secure: bool) -> String {
    let max_age = max_age_secs.map(|secs| format!("; Max-Age={secs}")).unwrap_or_default();
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax{max_age}{secure}")
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie(secure: bool) -> String {
    session_cookie("", Some(0), secure)
}

/// Adds `Set-Cookie` to a response.
pub fn with_cookie(mut response: Response, value: &str) -> Response {
    if let Ok(value) = value.parse() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
