//! The web side of comments: the form's POST, reply pages and later pages of a thread, the
//! article-page hook (`article_page`, `context`), identicons.
//!
//! Article pages stay in the page cache for anonymous readers. The cached bytes hold a
//! placeholder where the form token goes, and each response gets a fresh token there (the token
//! carries the time the form was served, so "too fast" means too fast after *this* page view).
//! A reader with one of our cookies (their pending comments, or saved details) gets a page
//! rendered for them, marked `private, no-store`.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, OriginalUri, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::future::BoxFuture;
use minijinja::{context, Value};
use serde::{Deserialize, Serialize};

use crate::comments::guard::{Keys, TokenError};
use crate::comments::model::{CommentForm, CommentStatus, PublicComment, Thread, ThreadNode};
use crate::comments::service::{self, CommentError, Submission, DUPLICATE_MESSAGE};
use crate::comments::{avatar, feeds, queries};
use crate::config::comments::CommentsConfig;
use crate::content::model::{Article, ArticleKind};
use crate::http::forms::{self, parse_form, status_page};
use crate::http::page_cache::{CachedPage, PerSecond};
use crate::http::{self, encoding, AppError, AppState};
use crate::store::{self, DbError};
use crate::theme;

/// The cookie listing the comments this browser wrote (signed ids; no personal data).
const OWN_COOKIE: &str = "ov_comments";
/// The cookie with the commenter's name, email and website: only when they tick "Save my name…".
const SAVED_COOKIE: &str = "ov_commenter";
/// How long a browser keeps seeing its pending comments.
const OWN_COOKIE_MAX_AGE: u32 = 14 * 86_400;
/// WordPress keeps the commenter's details a year.
const SAVED_COOKIE_MAX_AGE: u32 = 365 * 86_400;
/// Pending comments a browser remembers.
const MAX_OWN: usize = 20;
/// Prefix of the placeholder for the form token: `__OVTOKEN_<article id>__`.
const TOKEN_MARK: &[u8] = b"__OVTOKEN_";

/// Renders a published post with its comments as a [`View`] shows them: `site::post_page`,
/// handed to [`router`] by `app`, so comments need not know the reader's pages.
pub type PostPage = for<'a> fn(&'a AppState, &'a str, View) -> BoxFuture<'a, Result<CachedPage, AppError>>;

pub fn router(post_page: PostPage) -> Router<AppState> {
    Router::new()
        .route(
            "/article/{slug}/comments",
            post(move |state: State<AppState>, slug: Path<String>, request: Request| {
                submit(state, slug, request, post_page)
            }),
        )
        .route(
            "/article/{slug}/comments/page/{page}",
            get(move |state: State<AppState>, path: Path<(String, String)>, uri: OriginalUri, headers: HeaderMap| {
                comment_page(state, path, uri, headers, post_page)
            }),
        )
        .route(
            "/article/{slug}/reply/{id}",
            get(move |state: State<AppState>, path: Path<(String, String)>, headers: HeaderMap| {
                reply_page(state, path, headers, post_page)
            }),
        )
        .route("/comments/avatar/{file}", get(avatar_image))
        .merge(feeds::router())
}

/// How one reader sees an article's comments.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// Page of the thread (1 when 0).
    pub page: u32,
    /// This browser's comments (from its cookie); the pending ones among them are shown.
    pub own: Vec<i64>,
    /// Saved name, email and website, to fill the form in.
    pub saved: Option<Saved>,
    /// A submission being shown back with its errors.
    pub form: Option<FormState>,
    /// The comment the form replies to (reply pages).
    pub reply_to: Option<i64>,
}

impl View {
    /// Whether the page differs from what an anonymous reader sees (and so must not be cached).
    pub fn is_personal(&self) -> bool {
        !self.own.is_empty() || self.saved.is_some() || self.form.is_some() || self.reply_to.is_some()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub author: String,
    pub email: String,
    pub url: String,
}

/// A submission shown back: everything typed, a message per faulty field, one for the form.
#[derive(Debug, Clone)]
pub struct FormState {
    pub values: CommentForm,
    pub errors: Vec<(&'static str, String)>,
    pub message: Option<String>,
}

/// Serves an article page: from the page cache for anonymous readers, rendered afresh for a
/// reader with comment cookies; either way with a form token issued this second.
pub async fn article_page<F, Fut>(state: &AppState, key: &str, headers: &HeaderMap, render: F) -> Response
where
    F: FnOnce(View) -> Fut,
    Fut: Future<Output = Result<CachedPage, AppError>>,
{
    let view = view_from_cookies(state, headers).await;
    if view.is_personal() {
        return match render(view).await {
            Ok(page) => personal(state, page, StatusCode::OK).await,
            Err(err) => err.into_response(),
        };
    }
    let rendered = || async {
        let page = render(view).await?;
        if find_placeholder(&page.body).is_none() {
            return Ok(page);
        }
        let keys = form_keys(state).await;
        Ok(page.varying_by_second(PerSecond::new(move |body, now| with_form_token(body, keys.as_ref(), now))))
    };
    match http::cached_page(state, key, rendered).await {
        Ok(page) => http::respond(&page.at(store::now()), headers, encoding::negotiate(headers)),
        Err(err) => err.into_response(),
    }
}

/// The `comments` value of the article template (thread, form, JSON-LD), and when the
/// newest approved comment was approved.
pub async fn context(state: &AppState, article: &Article, view: &View) -> Result<(Value, Option<i64>), AppError> {
    if !shows_comments(state, article) {
        return Ok((Value::UNDEFINED, None));
    }
    let target = queries::target(&state.db, &article.summary.slug).await?;
    let visible = queries::visible(&state.db, target.id, &view.own).await?;
    thread_context(state, &target, visible, view)
}

/// Whether `article`'s page has a comments section.
pub fn shows_comments(state: &AppState, article: &Article) -> bool {
    article.summary.kind == ArticleKind::Post && state.config.comments.enabled
}

/// [`context`] from what it reads: the article as a comment target and its `visible` comments
/// (`queries::visible`). `export static` reads those for every article at once.
pub fn thread_context(
    state: &AppState,
    target: &queries::TargetRow,
    visible: Vec<PublicComment>,
    view: &View,
) -> Result<(Value, Option<i64>), AppError> {
    let config = &state.config.comments;
    let slug = &target.slug;
    let open = service::is_open(config, target, store::now());
    let page = view.page.max(1);
    let thread = service::thread(config, visible, page, open)?;
    let reply_to = match view.reply_to {
        Some(id) => match find(&thread.comments, id) {
            Some(node) if node.can_reply => Some(context! { id => id, author_name => node.comment.author_name }),
            _ => return Err(AppError::NotFound),
        },
        None => None,
    };
    let (values, errors, message) = match &view.form {
        Some(form) => (form.values.clone(), form.errors.clone(), form.message.clone()),
        None => {
            let mut values = CommentForm::default();
            if let Some(saved) = &view.saved {
                values = CommentForm {
                    author: saved.author.clone(),
                    email: saved.email.clone(),
                    url: saved.url.clone(),
                    save: true,
                    ..values
                };
            }
            (values, Vec::new(), None)
        }
    };
    let parent = view.reply_to.or(values.parent);
    let errors: std::collections::BTreeMap<&str, String> = errors.into_iter().collect();
    let base_path = format!("/article/{slug}");
    let page_url = |n: u32| {
        if n <= 1 {
            format!("{base_path}#comments")
        } else {
            format!("{base_path}/comments/page/{n}#comments")
        }
    };
    let canonical = format!("{}{base_path}", state.config.base_url());
    let last_changed = thread.last_changed;
    let value = context! {
        open => open,
        thread => thread,
        action => format!("{base_path}/comments"),
        reply_base => format!("{base_path}/reply"),
        feed => format!("{base_path}/comments/feed"),
        prev_page => (page > 1).then(|| page_url(page - 1)),
        next_page => (page < thread.total_pages).then(|| page_url(page + 1)),
        form => context! {
            values => values,
            parent => parent,
            errors => errors,
            message => message,
            reply_to => reply_to,
            token => format!("__OVTOKEN_{}__", target.id),
        },
        limits => context! {
            author => service::MAX_NAME_CHARS,
            email => service::MAX_EMAIL_CHARS,
            url => service::MAX_URL_CHARS,
            comment => service::MAX_COMMENT_CHARS,
        },
        json_ld => Value::from_safe_string(json_ld(&canonical, &thread)),
    };
    Ok((value, last_changed))
}

fn find(nodes: &[ThreadNode], id: i64) -> Option<&ThreadNode> {
    nodes.iter().find_map(|n| if n.comment.id == id { Some(n) } else { find(&n.replies, id) })
}

/// JSON-LD `Comment` entries for the approved comments on this page, safe inside `<script>`.
fn json_ld(canonical: &str, thread: &Thread) -> String {
    fn walk(nodes: &[ThreadNode], canonical: &str, out: &mut Vec<serde_json::Value>) {
        for node in nodes {
            let c = &node.comment;
            if c.status == CommentStatus::Approved {
                let mut author = serde_json::json!({ "@type": "Person", "name": c.author_name });
                if !c.author_url.is_empty() {
                    author["url"] = c.author_url.clone().into();
                }
                let mut entry = serde_json::json!({
                    "@type": "Comment",
                    "@id": format!("{canonical}#comment-{}", c.id),
                    "url": format!("{canonical}#comment-{}", c.id),
                    "author": author,
                    "dateCreated": theme::rfc3339(c.created_at),
                    "text": plain_text(&c.content_html),
                });
                if let Some(parent) = c.parent_id {
                    entry["parentItem"] = serde_json::json!({ "@id": format!("{canonical}#comment-{parent}") });
                }
                out.push(entry);
            }
            walk(&node.replies, canonical, out);
        }
    }
    let mut comments = Vec::new();
    walk(&thread.comments, canonical, &mut comments);
    let value = serde_json::json!({
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "@id": canonical,
        "url": canonical,
        "commentCount": thread.approved_count,
        "comment": comments,
    });
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// Sanitised comment HTML as plain text.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// Reads this browser's comment cookies; anything unsigned or malformed is ignored.
async fn view_from_cookies(state: &AppState, headers: &HeaderMap) -> View {
    let own_cookie = forms::cookie(headers, OWN_COOKIE);
    let saved_cookie = forms::cookie(headers, SAVED_COOKIE);
    if own_cookie.is_none() && saved_cookie.is_none() {
        return View::default();
    }
    let keys = match Keys::of(state).await {
        Ok(keys) => keys,
        Err(err) => {
            tracing::warn!(error = %err, "Could not read the comment keys");
            return View::default();
        }
    };
    let own = own_cookie
        .and_then(|c| keys.open_cookie(OWN_COOKIE, c))
        .map(|ids| ids.split('.').filter_map(|id| id.parse().ok()).collect())
        .unwrap_or_default();
    let saved = saved_cookie
        .and_then(|c| keys.open_cookie(SAVED_COOKIE, c))
        .and_then(|json| serde_json::from_str::<Saved>(&json).ok());
    View { own, saved, ..View::default() }
}

/// A page rendered for one reader, with a form token issued now: never stored by shared caches.
async fn personal(state: &AppState, page: CachedPage, status: StatusCode) -> Response {
    let body = with_form_token(&page.body, form_keys(state).await.as_ref(), store::now());
    (status, [(header::CONTENT_TYPE, page.content_type), (header::CACHE_CONTROL, "private, no-store")], body)
        .into_response()
}

/// The keys form tokens are signed with; `None` (and forms that will be refused) if the
/// database cannot be read.
async fn form_keys(state: &AppState) -> Option<Keys> {
    Keys::of(state).await.map_err(|err| tracing::warn!(error = %err, "Could not read the comment keys")).ok()
}

/// `body` with its form-token placeholder replaced by a token issued at `now`.
fn with_form_token(body: &Bytes, keys: Option<&Keys>, now: i64) -> Bytes {
    let Some((start, end, article_id)) = find_placeholder(body) else {
        return body.clone();
    };
    let token = keys.map(|keys| keys.form_token(article_id, now)).unwrap_or_default();
    let mut stamped = Vec::with_capacity(body.len() + token.len());
    stamped.extend_from_slice(&body[..start]);
    stamped.extend_from_slice(token.as_bytes());
    stamped.extend_from_slice(&body[end..]);
    stamped.into()
}

/// The placeholder `__OVTOKEN_<id>__`: its byte range and the article id. The form sits near
/// the end of the page, so the search runs backwards.
fn find_placeholder(bytes: &Bytes) -> Option<(usize, usize, i64)> {
    let start = memchr::memmem::rfind(bytes, TOKEN_MARK)?;
    let digits_start = start + TOKEN_MARK.len();
    let digits = bytes[digits_start..].iter().take_while(|b| b.is_ascii_digit()).count();
    let end = digits_start + digits;
    if digits == 0 || digits > 18 || !bytes[end..].starts_with(b"__") {
        return None;
    }
    let id = std::str::from_utf8(&bytes[digits_start..end]).ok()?.parse().ok()?;
    Some((start, end + 2, id))
}

/// `GET /article/{slug}/comments/page/{n}`: later pages of a long thread.
async fn comment_page(
    State(state): State<AppState>,
    Path((slug, page)): Path<(String, String)>,
    uri: OriginalUri,
    headers: HeaderMap,
    post_page: PostPage,
) -> Result<Response, AppError> {
    let page = match page.parse::<u32>() {
        Ok(n) if (1..=100_000).contains(&n) => n,
        _ => {
            let message = format!("expected a page number from 1 to 100000, got {page:?}");
            return Err(AppError::BadRequest { field: "page", message });
        }
    };
    let key = uri.path().to_string();
    Ok(article_page(&state, &key, &headers, |mut view| {
        view.page = page;
        post_page(&state, &slug, view)
    })
    .await)
}

/// `GET /article/{slug}/reply/{id}`: the article with the form replying to comment `id`, for
/// readers without JavaScript (with it, the form moves under the comment instead).
async fn reply_page(
    State(state): State<AppState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    post_page: PostPage,
) -> Result<Response, AppError> {
    let id = id.parse::<i64>().map_err(|_| AppError::NotFound)?;
    let mut view = view_from_cookies(&state, &headers).await;
    view.page = reply_target_page(&state, &slug, id).await?;
    view.reply_to = Some(id);
    let page = post_page(&state, &slug, view).await?;
    let mut response = personal(&state, page, StatusCode::OK).await;
    response.headers_mut().insert("x-robots-tag", HeaderValue::from_static("noindex"));
    Ok(response)
}

/// The thread page showing comment `id` of the article `slug`.
async fn reply_target_page(state: &AppState, slug: &str, id: i64) -> Result<u32, AppError> {
    let target = queries::target(&state.db, slug).await?;
    let parent = queries::parent(&state.db, id).await?;
    if parent.article_id != target.id || parent.status != CommentStatus::Approved.as_str() {
        return Err(AppError::NotFound);
    }
    let root = parent.thread_id.unwrap_or(parent.id);
    let before = queries::threads_before(&state.db, target.id, root).await?;
    Ok((before / state.config.comments.per_page.max(1) as i64) as u32 + 1)
}

/// `GET /comments/avatar/{name}.svg`: the identicon for a keyed email hash.
async fn avatar_image(Path(file): Path<String>) -> Response {
    match file.strip_suffix(".svg").filter(|name| avatar::is_name(name)) {
        Some(name) => (
            [(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=31536000, immutable")],
            avatar::identicon_svg(name),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such avatar").into_response(),
    }
}

/// `POST /article/{slug}/comments`: the "Leave a Comment" form.
async fn submit(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    request: Request,
    post_page: PostPage,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let config = &state.config.comments;
    let ip = client_ip(config, headers, parts.extensions.get::<ConnectInfo<SocketAddr>>());
    if let Err(retry_after) = state.comment_guard.limiter.take(&state.db, ip).await {
        let mut response = status_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "You are posting comments too quickly. Slow down, and try again in a minute.",
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        return response;
    }
    let is_form = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        t.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    if !is_form {
        return status_page(
            &state,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Comments are sent as an HTML form (application/x-www-form-urlencoded).",
        );
    }
    let bytes = match axum::body::to_bytes(body, state.config.http.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return status_page(&state, StatusCode::PAYLOAD_TOO_LARGE, "The comment is too large to be accepted.")
        }
    };
    let fields = match parse_form(&bytes) {
        Ok(fields) => fields,
        Err(message) => return status_page(&state, StatusCode::BAD_REQUEST, &message),
    };
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    let parent = match field("parent").trim() {
        "" | "0" => None,
        text => match text.parse::<i64>() {
            Ok(id) if id > 0 => Some(id),
            _ => return status_page(&state, StatusCode::BAD_REQUEST, "The field `parent` must be a comment number."),
        },
    };
    let form = CommentForm {
        author: field("author"),
        email: field("email"),
        url: field("url"),
        comment: field("comment"),
        parent,
        save: !field("save").is_empty(),
    };
    let target = match queries::target(&state.db, &slug).await {
        Ok(target) => target,
        Err(DbError::NotFound) => return AppError::NotFound.into_response(),
        Err(err) => return AppError::from(err).into_response(),
    };
    if !same_origin(&state, headers) {
        return status_page(&state, StatusCode::FORBIDDEN, "Comments can only be sent from this site's own pages.");
    }
    let keys = match Keys::of(&state).await {
        Ok(keys) => keys,
        Err(err) => return AppError::from(err).into_response(),
    };
    let mut view = view_from_cookies(&state, headers).await;
    let submission = Submission {
        form: form.clone(),
        token: field("token"),
        honeypot: field("ov_trap"),
        ip,
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string(),
        own: view.own.clone(),
    };
    let accepted = match service::submit(&state.db, config, &keys, &target, submission, store::now()).await {
        Ok(accepted) => accepted,
        Err(err) => return refused(&state, &slug, view, form, err, post_page).await,
    };

    let location = if accepted.page <= 1 {
        format!("/article/{slug}#comment-{}", accepted.id)
    } else {
        format!("/article/{slug}/comments/page/{}#comment-{}", accepted.page, accepted.id)
    };
    view.own.push(accepted.id);
    let skip = view.own.len().saturating_sub(MAX_OWN);
    let own: Vec<String> = view.own[skip..].iter().map(i64::to_string).collect();
    let secure = if state.config.base_url().starts_with("https://") { "; Secure" } else { "" };
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    let own_cookie = format!(
        "{OWN_COOKIE}={}; Path=/; Max-Age={OWN_COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax{secure}",
        keys.sign_cookie(OWN_COOKIE, &own.join("."))
    );
    let saved_cookie = if form.save {
        let saved =
            Saved { author: form.author.trim().into(), email: form.email.trim().into(), url: form.url.trim().into() };
        let json = serde_json::to_string(&saved).unwrap_or_default();
        Some(format!(
            "{SAVED_COOKIE}={}; Path=/; Max-Age={SAVED_COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax{secure}",
            keys.sign_cookie(SAVED_COOKIE, &json)
        ))
    } else if forms::cookie(headers, SAVED_COOKIE).is_some() {
        // Unticked: forget what was saved, as WordPress does.
        Some(format!("{SAVED_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}"))
    } else {
        None
    };
    for value in std::iter::once(own_cookie).chain(saved_cookie) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The article page again, with the form as the reader filled it in and what was wrong.
async fn refused(
    state: &AppState,
    slug: &str,
    mut view: View,
    mut form: CommentForm,
    err: CommentError,
    post_page: PostPage,
) -> Response {
    let mut retry_after = None;
    let (status, errors, message) = match err {
        CommentError::Invalid(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            "Your comment could not be posted yet: please correct the fields marked below.",
        ),
        CommentError::Closed => (StatusCode::FORBIDDEN, vec![], "Sorry, comments are closed for this item."),
        CommentError::Honeypot => (StatusCode::BAD_REQUEST, vec![], "Your comment could not be accepted."),
        CommentError::Token(TokenError::Forged) => {
            (StatusCode::BAD_REQUEST, vec![], "The form was not valid. Please check your comment and send it again.")
        }
        CommentError::Token(TokenError::TooFast) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![],
            "That was quicker than a person types. Please check your comment and send it again.",
        ),
        CommentError::Token(TokenError::Expired) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec![],
            "The form had expired. Please check your comment and send it again.",
        ),
        CommentError::ParentNotFound => {
            form.parent = None;
            (StatusCode::NOT_FOUND, vec![], "The comment you replied to does not exist.")
        }
        CommentError::ParentElsewhere => {
            form.parent = None;
            (StatusCode::BAD_REQUEST, vec![], "The comment you replied to belongs to another article.")
        }
        CommentError::ParentGone => {
            form.parent = None;
            (StatusCode::GONE, vec![], "The comment you replied to has been deleted.")
        }
        CommentError::Flood { retry_after: wait } => {
            retry_after = Some(wait);
            (StatusCode::TOO_MANY_REQUESTS, vec![], "You are posting comments too quickly. Slow down.")
        }
        CommentError::Duplicate => (StatusCode::CONFLICT, vec![], DUPLICATE_MESSAGE),
        // Only remote replies name an article by slug alone; the form's route found it first.
        CommentError::NoArticle => return AppError::NotFound.into_response(),
        CommentError::Db(err) => return AppError::from(err).into_response(),
    };
    view.form = Some(FormState { values: form, errors, message: Some(message.to_string()) });
    let mut response = match post_page(state, slug, view).await {
        Ok(page) => personal(state, page, status).await,
        Err(err) => return err.into_response(),
    };
    if let Some(wait) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    response
}

/// The client's address: from `comments.client_ip_header` when a trusted proxy sets it (the
/// last entry, which that proxy added), else the TCP peer.
fn client_ip(config: &CommentsConfig, headers: &HeaderMap, peer: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    forms::client_ip(&config.client_ip_header, headers, peer)
}

/// CSRF defence: a browser names the page a form was posted from (`Origin`, `Sec-Fetch-Site`);
/// it must be this site. Clients that send neither (no browser) are judged by the form token.
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    forms::same_origin(&state.config.base_url(), headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_placeholder_is_found_from_the_end() {
        let page = Bytes::from_static(b"<p>__OVTOKEN_x</p><input value=\"__OVTOKEN_42__\">");
        let (start, end, id) = find_placeholder(&page).unwrap();
        assert_eq!((&page[start..end], id), (&b"__OVTOKEN_42__"[..], 42));
        assert!(find_placeholder(&Bytes::from_static(b"no token")).is_none());
    }
}
