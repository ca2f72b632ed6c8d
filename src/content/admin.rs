//! The admin desk's content screens: the article list, the editor (live preview, autosave,
//! status buttons), revisions with their diff, categories and tags. Every decision is the
//! service's (`content::service`, which checks the role); these handlers turn forms into calls
//! and answers into pages.

use std::collections::BTreeMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDateTime, TimeZone};
use chrono_tz::Tz;
use minijinja::{context, Value};
use serde::Deserialize;

use crate::accounts::session::{AdminForm, SignedIn};
use crate::accounts::Capability;
use crate::content::model::{AdminFilter, Article, ArticleKind, Status};
use crate::content::service::{
    self, Actor, ArticleEdit, CategoryEdit, ContentError, ContentLimits, StatusChange, Transition, Version,
};
use crate::http::{AppError, AppState};

/// Articles per page of the admin list.
const PER_PAGE: u32 = 20;

pub fn admin_router() -> Router<AppState> {
    Router::new()
        .route("/admin/articles", get(list))
        .route("/admin/articles/new", get(new_article).post(create))
        .route("/admin/articles/{id}", get(edit).post(update))
        .route("/admin/articles/{id}/status", post(change_status))
        .route("/admin/articles/{id}/autosave", post(autosave))
        .route("/admin/articles/new/autosave", post(autosave_new))
        .route("/admin/articles/{id}/revisions", get(revisions))
        .route("/admin/articles/{id}/revisions/{rev}/restore", post(restore))
        .route("/admin/preview", post(preview))
        .route("/admin/categories", get(categories).post(create_category))
        .route("/admin/categories/{id}", get(edit_category).post(update_category))
        .route("/admin/categories/{id}/delete", post(delete_category))
        .route("/admin/tags", get(tags))
        .route("/admin/tags/{id}", post(rename_tag))
        .route("/admin/tags/{id}/delete", post(delete_tag))
}

fn actor(signed_in: &SignedIn) -> Actor {
    Actor { user_id: signed_in.user.id, role: signed_in.role }
}

fn limits(state: &AppState) -> ContentLimits {
    ContentLimits { max_article_bytes: state.config.content.max_article_bytes }
}

/// Field → message, as the templates show them next to each field.
fn field_errors(errors: &[ContentError]) -> BTreeMap<&'static str, String> {
    let mut map = BTreeMap::new();
    for err in errors {
        let message = match err {
            ContentError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        map.entry(err.field().unwrap_or("form")).or_insert(message);
    }
    map
}

/// The confirmation a redirect's `?done=` asks the next page to show (base.html's `notice`).
fn done_message(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "saved" => "Saved.",
        "published" => "Published.",
        "scheduled" => "Scheduled.",
        "unpublished" | "draft" => "Unpublished: it is a draft again.",
        "trashed" => "Moved to the trash.",
        "restored" => "Restored.",
        "deleted" => "Deleted.",
        "renamed" => "Renamed.",
        "merged" => "Merged.",
        _ => return None,
    })
}

/// A rendered page with `status`, unless rendering itself failed (that answer keeps its 500).
fn with_status(mut page: Response, status: StatusCode) -> Response {
    if page.status() == StatusCode::OK {
        *page.status_mut() = status;
    }
    page
}

fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

// --- the article list -----------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct ListParams {
    status: Option<String>,
    category: Option<String>,
    author: Option<String>,
    q: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    signed_in: SignedIn,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::WriteDrafts)?;
    let Ok(Query(params)) = params else {
        return Err(AppError::refused(StatusCode::BAD_REQUEST, "The list's filters are malformed."));
    };
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let status = match nonempty(&params.status) {
        None => None,
        Some(s) => match Status::parse(&s) {
            Some(status) => Some(status),
            None => return Err(AppError::refused(StatusCode::BAD_REQUEST, format!("status: unknown status {s:?}"))),
        },
    };
    let category_id = match nonempty(&params.category).map(|c| c.parse::<i64>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return Err(AppError::refused(StatusCode::BAD_REQUEST, "category: expected a category id")),
    };
    let author = nonempty(&params.author);
    let author_id = match &author {
        None => None,
        Some(name) => match crate::accounts::find_by_username(&state.db, name).await {
            Ok(user) => Some(user.id),
            // No such author: an empty list, like any filter that matches nothing.
            Err(crate::store::DbError::NotFound) => Some(-1),
            Err(err) => return Err(err.into()),
        },
    };
    let page = crate::http::parse_page(params.page.as_deref())?;
    let search = nonempty(&params.q);
    let filter = AdminFilter { status, category_id, author_id, search: search.clone(), tag_id: None };
    let listing = service::editor::admin_list(&state.db, &actor(&signed_in), filter, page, PER_PAGE).await?;
    let categories = service::terms::category_entries(&state.db).await?;
    let ctx = context! {
        listing => listing,
        categories => categories,
        statuses => ["draft", "scheduled", "published", "trashed"],
        filter => context! {
            status => status.map(Status::as_str),
            category => category_id,
            author => author,
            q => search,
        },
        notice => done_message(params.done.as_deref()),
        can_edit_others => signed_in.role.can(Capability::EditOthers),
        can_publish => signed_in.role.can(Capability::PublishOwn),
        can_view_analytics => signed_in.role.can(Capability::ViewAnalytics),
    };
    Ok(crate::accounts::desk::render(&state, &signed_in, "admin/articles/list.html", ctx))
}

// --- the editor -----------------------------------------------------------------------------

/// The editor form as posted. Every field defaults to empty, so a missing one is a message at
/// that field rather than a rejected request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArticleForm {
    title: String,
    slug: String,
    excerpt: String,
    body: String,
    category: String,
    tags: String,
    featured_image: String,
    publish_at: String,
    kind: String,
    /// `1` when ticked: a lead story.
    sticky: String,
    /// Which button: `save`, `publish`, `schedule`, `unpublish` or `trash`.
    action: String,
    /// The further categories ticked, as `also_in_<id>` fields (a form repeats no names that a
    /// struct could hold), and any other field, ignored.
    #[serde(flatten)]
    ticked: BTreeMap<String, String>,
}

/// The editor's checkbox for filing an article under a further category.
const ALSO_IN: &str = "also_in_";

impl ArticleForm {
    fn of(article: &Article, zone: Tz) -> ArticleForm {
        ArticleForm {
            title: article.summary.title.clone(),
            slug: article.summary.slug.clone(),
            excerpt: article.summary.excerpt.clone(),
            body: article.body_md.clone(),
            category: article.summary.category.as_ref().map(|c| c.id.to_string()).unwrap_or_default(),
            tags: article.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
            featured_image: article.featured_image.clone().unwrap_or_default(),
            publish_at: article.summary.scheduled_at.map(|at| datetime_local(at, zone)).unwrap_or_default(),
            kind: article.summary.kind.as_str().to_string(),
            sticky: if article.summary.sticky { "1".into() } else { String::new() },
            action: String::new(),
            ticked: article.further_categories().map(|c| (format!("{ALSO_IN}{}", c.id), "1".to_string())).collect(),
        }
    }

    /// The further categories ticked.
    fn further_category_ids(&self) -> Vec<i64> {
        self.ticked.keys().filter_map(|key| key.strip_prefix(ALSO_IN)?.parse().ok()).collect()
    }

    /// What the confirmation after a successful save says (`?done=`).
    fn done(&self) -> &'static str {
        match self.action.as_str() {
            "publish" => "published",
            "schedule" => "scheduled",
            "unpublish" => "unpublished",
            _ => "saved",
        }
    }

    fn values(&self) -> Value {
        context! {
            title => self.title, slug => self.slug, excerpt => self.excerpt, body => self.body,
            category => self.category, tags => self.tags, featured_image => self.featured_image,
            publish_at => self.publish_at, kind => self.kind,
            further => self.further_category_ids(), sticky => !self.sticky.is_empty(),
        }
    }

    /// The edit and the transition the form asks for, or the messages of its faulty fields.
    fn parse(&self, limits: ContentLimits, zone: Tz) -> Result<(ArticleEdit, Transition), Vec<ContentError>> {
        let mut errors = Vec::new();
        let category_id = match self.category.trim() {
            "" => None,
            id => match id.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(invalid("category", "choose a category from the list"));
                    None
                }
            },
        };
        let edit = ArticleEdit {
            title: self.title.clone(),
            slug: self.slug.clone(),
            excerpt: self.excerpt.clone(),
            body_md: self.body.replace("\r\n", "\n"),
            category_id,
            further_category_ids: self.further_category_ids(),
            tags: self.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect(),
            featured_image: self.featured_image.clone(),
            sticky: !self.sticky.is_empty(),
        };
        errors.extend(service::editor::check_edit(limits, &edit));
        let transition = match self.action.as_str() {
            "" | "save" => Transition::Keep,
            "publish" => Transition::Publish,
            "unpublish" => Transition::Draft,
            "schedule" => match parse_local_time(&self.publish_at, zone) {
                Some(at) if at > crate::store::now() => Transition::Schedule(at),
                Some(_) => {
                    errors.push(invalid("publish_at", "must be in the future"));
                    Transition::Keep
                }
                None => {
                    errors.push(invalid("publish_at", format!("give the date and time to publish at ({zone})")));
                    Transition::Keep
                }
            },
            other => {
                errors.push(invalid("action", format!("unknown action {other:?}")));
                Transition::Keep
            }
        };
        if errors.is_empty() {
            Ok((edit, transition))
        } else {
            Err(errors)
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> ContentError {
    ContentError::Invalid { field, message: message.into() }
}

/// The site's time zone (`site.time_zone`, changeable in the settings): "Publish at" is in it.
fn site_zone(state: &AppState) -> Tz {
    state.settings.config().site.time_zone.parse().unwrap_or(Tz::UTC)
}

/// `<input type="datetime-local">` sends `2026-12-01T09:00`, a wall-clock time in `zone`; an
/// RFC 3339 time carries its own offset.
fn parse_local_time(text: &str, zone: Tz) -> Option<i64> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp());
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    // A time a clock change skips is no instant; one it repeats is taken the first time.
    zone.from_local_datetime(&naive).earliest().map(|at| at.timestamp())
}

fn datetime_local(ts: i64, zone: Tz) -> String {
    DateTime::from_timestamp(ts, 0)
        .map(|t| t.with_timezone(&zone).format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// What one rendering of the editor shows.
#[derive(Default)]
struct EditorView<'a> {
    article: Option<&'a Article>,
    errors: &'a [ContentError],
    notice: Option<&'static str>,
    /// The form holds the writer's autosave rather than the saved text.
    autosave_loaded: bool,
}

async fn render_editor(
    state: &AppState,
    signed_in: &SignedIn,
    form: &ArticleForm,
    view: EditorView<'_>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let EditorView { article, errors, notice, autosave_loaded } = view;
    let categories = service::terms::category_entries(&state.db).await?;
    let me = actor(signed_in);
    let own = article.is_none_or(|a| a.summary.author.username == signed_in.user.username);
    let can_publish = signed_in.role.can(if own { Capability::PublishOwn } else { Capability::EditOthers });
    let autosave = match article {
        Some(a) => match service::editor::pending_autosave(&state.db, &me, a).await {
            Ok(found) => found,
            Err(err) => return Err(err.into()),
        },
        None => None,
    };
    let ctx = context! {
        article => article,
        form => form.values(),
        errors => field_errors(errors),
        categories => categories,
        can_publish => can_publish,
        can_view_analytics => signed_in.role.can(Capability::ViewAnalytics),
        can_upload => signed_in.role.can(Capability::UploadMedia),
        autosave => autosave,
        autosave_loaded => autosave_loaded,
        time_zone => site_zone(state).name(),
        notice => notice,
    };
    Ok(with_status(crate::accounts::desk::render(state, signed_in, "admin/articles/edit.html", ctx), status))
}

async fn new_article(State(state): State<AppState>, signed_in: SignedIn) -> Result<Response, AppError> {
    signed_in.require(Capability::WriteDrafts)?;
    let form = ArticleForm { kind: "post".into(), ..ArticleForm::default() };
    render_editor(&state, &signed_in, &form, EditorView::default(), StatusCode::OK).await
}

async fn create(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<ArticleForm>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::WriteDrafts)?;
    let limits = limits(&state);
    let kind = ArticleKind::parse(&form.kind).unwrap_or(ArticleKind::Post);
    let saved = match form.parse(limits, site_zone(&state)) {
        Ok((edit, transition)) => {
            service::editor::create_article(&state.db, limits, &actor(&signed_in), kind, &edit, transition)
                .await
                .map_err(|e| vec![e])
        }
        Err(errors) => Err(errors),
    };
    match saved {
        Ok(saved) => Ok(see_other(&format!("/admin/articles/{}?done={}", saved_id(&saved), form.done()))),
        Err(errors) => rejected(&state, &signed_in, None, &form, errors).await,
    }
}

fn saved_id(saved: &service::Saved) -> i64 {
    match saved {
        service::Saved::Created { id, .. } | service::Saved::Updated { id, .. } => *id,
    }
}

/// A form the service or its checks refused: re-rendered with the input and the messages
/// (400), or the plain refusal page when the role does not allow it (403).
async fn rejected(
    state: &AppState,
    signed_in: &SignedIn,
    article: Option<&Article>,
    form: &ArticleForm,
    errors: Vec<ContentError>,
) -> Result<Response, AppError> {
    let mut errors = errors;
    if let Some(pos) = errors.iter().position(|e| e.field().is_none()) {
        return Err(errors.swap_remove(pos).into());
    }
    render_editor(
        state,
        signed_in,
        form,
        EditorView { article, errors: &errors, ..Default::default() },
        StatusCode::BAD_REQUEST,
    )
    .await
}

#[derive(Debug, Default, Deserialize)]
struct EditParams {
    done: Option<String>,
    autosave: Option<String>,
}

async fn edit(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    params: Result<Query<EditParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(params) = params.unwrap_or_default();
    let me = actor(&signed_in);
    let article = service::editor::article_for_edit(&state.db, &me, id).await?;
    let mut form = ArticleForm::of(&article, site_zone(&state));
    let mut autosave_loaded = false;
    if params.autosave.is_some() {
        match service::editor::pending_autosave(&state.db, &me, &article).await {
            Ok(Some(saved)) => {
                form.title = saved.title;
                form.excerpt = saved.excerpt;
                form.body = saved.body_md;
                autosave_loaded = true;
            }
            Ok(None) => {}
            Err(err) => return Err(err.into()),
        }
    }
    let notice = done_message(params.done.as_deref());
    let view = EditorView { article: Some(&article), errors: &[], notice, autosave_loaded };
    render_editor(&state, &signed_in, &form, view, StatusCode::OK).await
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<ArticleForm>,
) -> Result<Response, AppError> {
    let me = actor(&signed_in);
    let article = service::editor::article_for_edit(&state.db, &me, id).await?;
    if form.action == "trash" {
        return match service::write::change_status(&state.db, &me, id, StatusChange::Trash).await {
            Ok(_) => Ok(see_other("/admin/articles?done=trashed")),
            Err(err) => Err(err.into()),
        };
    }
    let limits = limits(&state);
    let saved = match form.parse(limits, site_zone(&state)) {
        Ok((edit, transition)) => {
            service::editor::update_article(&state.db, limits, &me, id, &edit, transition).await.map_err(|e| vec![e])
        }
        Err(errors) => Err(errors),
    };
    match saved {
        Ok(_) => Ok(see_other(&format!("/admin/articles/{id}?done={}", form.done()))),
        Err(errors) => rejected(&state, &signed_in, Some(&article), &form, errors).await,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StatusForm {
    /// `publish`, `unpublish`, `trash` or `restore`.
    action: String,
    /// Where to go afterwards: the list's URL with its filters.
    back: String,
}

async fn change_status(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<StatusForm>,
) -> Result<Response, AppError> {
    let change = match form.action.as_str() {
        "publish" => StatusChange::Publish,
        "unpublish" => StatusChange::Unpublish,
        "trash" => StatusChange::Trash,
        "restore" => StatusChange::Restore,
        other => return Err(AppError::refused(StatusCode::BAD_REQUEST, format!("action: unknown action {other:?}"))),
    };
    match service::write::change_status(&state.db, &actor(&signed_in), id, change).await {
        Ok(status) => {
            // Only a path of the admin list: never an open redirect.
            let back = if form.back.starts_with("/admin/articles") && !form.back.contains("//") {
                form.back.as_str()
            } else {
                "/admin/articles"
            };
            let sep = if back.contains('?') { '&' } else { '?' };
            Ok(see_other(&format!("{back}{sep}done={}", status.as_str())))
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AutosaveForm {
    title: String,
    excerpt: String,
    body: String,
}

/// The editor's script calls this every ~15 s while someone types; it answers JSON.
async fn autosave(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<AutosaveForm>,
) -> Response {
    let body = form.body.replace("\r\n", "\n");
    match service::editor::autosave(
        &state.db,
        limits(&state),
        &actor(&signed_in),
        id,
        &form.title,
        &form.excerpt,
        &body,
    )
    .await
    {
        Ok(saved) => Json(serde_json::json!({ "saved_at": saved.saved_at })).into_response(),
        Err(err) => json_failure(err),
    }
}

/// The first autosave of an article never saved makes it a draft (WordPress's auto-draft); the
/// script then goes on with that article's URLs. A draft without a title is not made yet.
async fn autosave_new(State(state): State<AppState>, AdminForm(signed_in, form): AdminForm<ArticleForm>) -> Response {
    let limits = limits(&state);
    // Whatever button state the form is in, an autosave only ever writes a draft.
    let form = ArticleForm { action: String::new(), ..form };
    let kind = ArticleKind::parse(&form.kind).unwrap_or(ArticleKind::Post);
    let saved = match form.parse(limits, site_zone(&state)) {
        Ok((edit, _)) => {
            service::editor::create_article(&state.db, limits, &actor(&signed_in), kind, &edit, Transition::Keep).await
        }
        Err(errors) => Err(errors.into_iter().next().unwrap_or_else(|| invalid("form", "cannot be saved"))),
    };
    match saved {
        Ok(saved) => {
            let id = saved_id(&saved);
            Json(serde_json::json!({
                "id": id,
                "url": format!("/admin/articles/{id}"),
                "autosave_url": format!("/admin/articles/{id}/autosave"),
                "saved_at": crate::store::now(),
            }))
            .into_response()
        }
        Err(err) => json_failure(err),
    }
}

/// The script's endpoints answer errors as JSON: `{"error": {"field", "message"}}`.
fn json_failure(err: ContentError) -> Response {
    let status = match &err {
        ContentError::Db(_) => return AppError::from(err).into_response(),
        ContentError::NotFound(_) => StatusCode::NOT_FOUND,
        ContentError::Forbidden(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = match &err {
        ContentError::Invalid { message, .. } => message.clone(),
        other => other.to_string(),
    };
    (status, Json(serde_json::json!({ "error": { "field": err.field(), "message": message } }))).into_response()
}

/// The live preview: Markdown in (the request body), the sanitised HTML the site would show
/// out. The script sends the session's CSRF secret in `X-CSRF-Token`.
async fn preview(
    State(state): State<AppState>,
    signed_in: SignedIn,
    headers: HeaderMap,
    body: String,
) -> Result<Response, AppError> {
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    signed_in.check_csrf(token)?;
    signed_in.require(Capability::WriteDrafts)?;
    match service::editor::preview(limits(&state), &body.replace("\r\n", "\n")) {
        Ok(html) => Ok(([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()),
        Err(err) => Ok((StatusCode::PAYLOAD_TOO_LARGE, err.to_string()).into_response()),
    }
}

// --- revisions ------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct DiffParams {
    from: Option<String>,
    to: Option<String>,
    done: Option<String>,
}

fn parse_version(text: Option<&str>) -> Option<Version> {
    match text? {
        "current" => Some(Version::Current),
        id => id.parse().ok().map(Version::Revision),
    }
}

async fn revisions(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
    params: Result<Query<DiffParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let Query(params) = params.unwrap_or_default();
    let me = actor(&signed_in);
    let (article, revisions) = service::revisions::revisions(&state.db, &me, id).await?;
    // By default, the newest revision against the article as it is.
    let from = parse_version(params.from.as_deref()).or(revisions.first().map(|r| Version::Revision(r.id)));
    let to = parse_version(params.to.as_deref()).unwrap_or(Version::Current);
    let diff = match from {
        Some(from) => match service::revisions::diff(&state.db, &me, id, from, to).await {
            Ok(lines) => Some(lines),
            Err(err) => return Err(err.into()),
        },
        None => None,
    };
    let label = |v: Option<Version>| match v {
        Some(Version::Revision(r)) => r.to_string(),
        Some(Version::Current) => "current".to_string(),
        None => String::new(),
    };
    let ctx = context! {
        article => article,
        revisions => revisions,
        diff => diff,
        from => label(from),
        to => label(Some(to)),
        notice => done_message(params.done.as_deref()),
    };
    Ok(crate::accounts::desk::render(&state, &signed_in, "admin/articles/revisions.html", ctx))
}

#[derive(Debug, Default, Deserialize)]
struct Empty {}

async fn restore(
    State(state): State<AppState>,
    Path((id, rev)): Path<(i64, i64)>,
    AdminForm(signed_in, _): AdminForm<Empty>,
) -> Result<Response, AppError> {
    match service::revisions::restore_revision(&state.db, &actor(&signed_in), id, rev).await {
        Ok(()) => Ok(see_other(&format!("/admin/articles/{id}/revisions?done=restored"))),
        Err(err) => Err(err.into()),
    }
}

// --- categories -----------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CategoryForm {
    name: String,
    slug: String,
    description: String,
    parent: String,
}

impl CategoryForm {
    fn parse(&self) -> Result<CategoryEdit, Vec<ContentError>> {
        let parent_id = match self.parent.trim() {
            "" => None,
            id => match id.parse::<i64>() {
                Ok(id) => Some(id),
                Err(_) => return Err(vec![invalid("parent", "choose a category from the list")]),
            },
        };
        let edit = CategoryEdit {
            name: self.name.clone(),
            slug: self.slug.clone(),
            description: self.description.clone(),
            parent_id,
        };
        match service::terms::check_category_edit(&edit) {
            errors if errors.is_empty() => Ok(edit),
            errors => Err(errors),
        }
    }

    fn values(&self) -> Value {
        context! { name => self.name, slug => self.slug, description => self.description, parent => self.parent }
    }
}

#[derive(Debug, Default, Deserialize)]
struct DoneParams {
    done: Option<String>,
}

async fn render_categories(
    state: &AppState,
    signed_in: &SignedIn,
    editing: Option<i64>,
    form: &CategoryForm,
    errors: &[ContentError],
    done: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let categories = service::terms::category_entries(&state.db).await?;
    let ctx = context! {
        categories => categories,
        editing => editing,
        form => form.values(),
        errors => field_errors(errors),
        notice => done_message(done.as_deref()),
    };
    Ok(with_status(crate::accounts::desk::render(state, signed_in, "admin/categories.html", ctx), status))
}

async fn categories(
    State(state): State<AppState>,
    signed_in: SignedIn,
    params: Result<Query<DoneParams>, QueryRejection>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageTerms)?;
    let Query(params) = params.unwrap_or_default();
    render_categories(&state, &signed_in, None, &CategoryForm::default(), &[], params.done, StatusCode::OK).await
}

async fn edit_category(
    State(state): State<AppState>,
    signed_in: SignedIn,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageTerms)?;
    let found = match service::terms::category_entries(&state.db).await {
        Ok(all) => all.into_iter().find(|c| c.category.id == id),
        Err(err) => return Err(err.into()),
    };
    let Some(entry) = found else { return Err(AppError::refused(StatusCode::NOT_FOUND, "There is no such category.")) };
    let form = CategoryForm {
        name: entry.category.name,
        slug: entry.category.slug,
        description: entry.category.description,
        parent: entry.parent_id.map(|p| p.to_string()).unwrap_or_default(),
    };
    render_categories(&state, &signed_in, Some(id), &form, &[], None, StatusCode::OK).await
}

async fn save_category(
    state: &AppState,
    signed_in: &SignedIn,
    id: Option<i64>,
    form: &CategoryForm,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageTerms)?;
    let saved = match form.parse() {
        Ok(edit) => service::terms::save_category(&state.db, &actor(signed_in), id, &edit).await.map_err(|e| vec![e]),
        Err(errors) => Err(errors),
    };
    match saved {
        Ok(_) => Ok(see_other("/admin/categories?done=saved")),
        Err(mut errors) => {
            if let Some(pos) = errors.iter().position(|e| e.field().is_none()) {
                return Err(errors.swap_remove(pos).into());
            }
            render_categories(state, signed_in, id, form, &errors, None, StatusCode::BAD_REQUEST).await
        }
    }
}

async fn create_category(
    State(state): State<AppState>,
    AdminForm(signed_in, form): AdminForm<CategoryForm>,
) -> Result<Response, AppError> {
    save_category(&state, &signed_in, None, &form).await
}

async fn update_category(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<CategoryForm>,
) -> Result<Response, AppError> {
    save_category(&state, &signed_in, Some(id), &form).await
}

async fn delete_category(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, _): AdminForm<Empty>,
) -> Result<Response, AppError> {
    match service::terms::delete_category(&state.db, &actor(&signed_in), id).await {
        Ok(()) => Ok(see_other("/admin/categories?done=deleted")),
        Err(err) => Err(err.into()),
    }
}

// --- tags -----------------------------------------------------------------------------------

async fn tags(
    State(state): State<AppState>,
    signed_in: SignedIn,
    params: Result<Query<DoneParams>, QueryRejection>,
) -> Result<Response, AppError> {
    signed_in.require(Capability::ManageTerms)?;
    let Query(params) = params.unwrap_or_default();
    render_tags(&state, &signed_in, None, &[], params.done, StatusCode::OK).await
}

async fn render_tags(
    state: &AppState,
    signed_in: &SignedIn,
    failed: Option<(i64, &TagForm)>,
    errors: &[ContentError],
    done: Option<String>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let tags = service::terms::tag_entries(&state.db).await?;
    let ctx = context! {
        tags => tags,
        failed_id => failed.map(|(id, _)| id),
        form => failed.map(|(_, f)| context! { name => f.name, slug => f.slug }),
        errors => field_errors(errors),
        notice => done_message(done.as_deref()),
    };
    Ok(with_status(crate::accounts::desk::render(state, signed_in, "admin/tags.html", ctx), status))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TagForm {
    name: String,
    slug: String,
}

async fn rename_tag(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<TagForm>,
) -> Result<Response, AppError> {
    match service::terms::rename_tag(&state.db, &actor(&signed_in), id, &form.name, &form.slug).await {
        Ok(()) => Ok(see_other("/admin/tags?done=renamed")),
        Err(err @ ContentError::Invalid { .. }) => {
            render_tags(&state, &signed_in, Some((id, &form)), &[err], None, StatusCode::BAD_REQUEST).await
        }
        Err(err) => Err(err.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DeleteTagForm {
    /// Empty: delete; a tag id: merge into that tag.
    into: String,
}

async fn delete_tag(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    AdminForm(signed_in, form): AdminForm<DeleteTagForm>,
) -> Result<Response, AppError> {
    let into = match form.into.trim() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(into) => Some(into),
            Err(_) => return Err(AppError::refused(StatusCode::BAD_REQUEST, "into: choose a tag from the list")),
        },
    };
    match service::terms::delete_tag(&state.db, &actor(&signed_in), id, into).await {
        Ok(()) => Ok(see_other(if into.is_some() { "/admin/tags?done=merged" } else { "/admin/tags?done=deleted" })),
        Err(err) => Err(err.into()),
    }
}
