//! `/api/v1/articles`, `/categories`, `/tags`: the content service over JSON.
//!
//! Anonymous callers read published articles, categories and tags; writes need a token whose role
//! allows them, checked by the service exactly as for the admin desk (`service::Actor`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{ApiError, ApiJson, ApiQuery, Caller, ErrorBody, Paged, Paging, TokenCaller};
use crate::content::model::{
    AdminFilter, Article, ArticleKind, ArticleSummary, Category, CategoryEntry, Status, TagEntry,
};
use crate::content::service::{
    self, Actor, ArticleEdit, CategoryEdit, ContentError, ContentLimits, StatusChange, Transition,
};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_articles, create_article))
        .routes(routes!(get_article, update_article, delete_article))
        .routes(routes!(publish_article))
        .routes(routes!(unpublish_article))
        .routes(routes!(restore_article))
        .routes(routes!(list_categories, create_category))
        .routes(routes!(update_category, delete_category))
        .routes(routes!(list_tags))
        .routes(routes!(update_tag, delete_tag))
}

impl From<ContentError> for ApiError {
    fn from(err: ContentError) -> Self {
        match err {
            ContentError::NotFound(what) => ApiError::not_found(format!("Not found: {what}.")),
            ContentError::Invalid { field, message } => ApiError::invalid(field, message),
            ContentError::TooLarge { field, .. } => ApiError::invalid(field, err.to_string()),
            ContentError::Forbidden(message) => ApiError::forbidden(message),
            ContentError::Db(db) => db.into(),
        }
    }
}

impl Caller {
    /// The service's view of a token's user; anonymous callers get 401.
    fn actor(&self) -> Result<Actor, ApiError> {
        match self {
            Caller::Anonymous => Err(ApiError::unauthorized("This needs an API token.")),
            Caller::Token(user) => Ok(Actor { user_id: user.user_id, role: user.role }),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuthorOut {
    username: String,
    display_name: String,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryRef {
    id: i64,
    slug: String,
    name: String,
}

impl From<Category> for CategoryRef {
    fn from(c: Category) -> Self {
        CategoryRef { id: c.id, slug: c.slug, name: c.name }
    }
}

/// An article in a list.
#[derive(Serialize, ToSchema)]
pub struct ArticleOut {
    id: i64,
    /// `post` or `page`.
    kind: String,
    slug: String,
    title: String,
    excerpt: String,
    /// `draft`, `scheduled`, `published` or `trashed`.
    status: String,
    reading_minutes: i64,
    /// Unix seconds.
    published_at: Option<i64>,
    scheduled_at: Option<i64>,
    updated_at: i64,
    author: AuthorOut,
    /// The primary category.
    category: Option<CategoryRef>,
    /// A lead story, pinned above the newest posts.
    sticky: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TagOut {
    slug: String,
    name: String,
}

/// A whole article.
#[derive(Serialize, ToSchema)]
pub struct ArticleFull {
    #[serde(flatten)]
    summary: ArticleOut,
    /// The Markdown source.
    body: String,
    /// The rendered, sanitised HTML.
    body_html: String,
    featured_image: Option<String>,
    tags: Vec<TagOut>,
    /// Every category it is filed under, the primary one first.
    categories: Vec<CategoryRef>,
}

impl From<ArticleSummary> for ArticleOut {
    fn from(a: ArticleSummary) -> Self {
        ArticleOut {
            id: a.id,
            kind: a.kind.as_str().into(),
            slug: a.slug,
            title: a.title,
            excerpt: a.excerpt,
            status: a.status.as_str().into(),
            reading_minutes: a.reading_minutes,
            published_at: a.published_at,
            scheduled_at: a.scheduled_at,
            updated_at: a.updated_at,
            author: AuthorOut { username: a.author.username, display_name: a.author.display_name },
            category: a.category.map(CategoryRef::from),
            sticky: a.sticky,
        }
    }
}

impl From<Article> for ArticleFull {
    fn from(a: Article) -> Self {
        ArticleFull {
            summary: a.summary.into(),
            body: a.body_md,
            body_html: a.body_html,
            featured_image: a.featured_image,
            tags: a.tags.into_iter().map(|t| TagOut { slug: t.slug, name: t.name }).collect(),
            categories: a.categories.into_iter().map(CategoryRef::from).collect(),
        }
    }
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    Draft,
    Scheduled,
    Published,
    Trashed,
}

impl From<StatusFilter> for Status {
    fn from(s: StatusFilter) -> Self {
        match s {
            StatusFilter::Draft => Status::Draft,
            StatusFilter::Scheduled => Status::Scheduled,
            StatusFilter::Published => Status::Published,
            StatusFilter::Trashed => Status::Trashed,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArticleQuery {
    /// Any status but `published` needs a token; without one only published articles are listed.
    #[param(inline)]
    status: Option<StatusFilter>,
    /// Category slug.
    category: Option<String>,
    /// Tag slug.
    tag: Option<String>,
    /// Author's username.
    author: Option<String>,
    /// Words the title must contain.
    search: Option<String>,
    #[param(minimum = 1, maximum = 100000)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
}

/// List articles, most recently changed first.
#[utoipa::path(get, path = "/articles", tag = "articles", params(ArticleQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Paged<ArticleOut>), (status = "4XX", body = ErrorBody)))]
async fn list_articles(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ArticleQuery>,
) -> Result<Json<Paged<ArticleOut>>, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let status = query.status.map(Status::from);
    // An empty filter is no filter (`?category=` from a form left blank).
    let given = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
    let mut filter = AdminFilter { status, search: given(query.search), ..Default::default() };
    if let Some(slug) = given(query.category) {
        filter.category_id = Some(
            service::terms::category_id_by_slug(&state.db, &slug)
                .await?
                .ok_or_else(|| ApiError::bad_parameter("category", format!("no category with slug {slug:?}")))?,
        );
    }
    if let Some(slug) = given(query.tag) {
        filter.tag_id = Some(
            service::terms::tag_id_by_slug(&state.db, &slug)
                .await?
                .ok_or_else(|| ApiError::bad_parameter("tag", format!("no tag with slug {slug:?}")))?,
        );
    }
    if let Some(username) = given(query.author) {
        filter.author_id = Some(match crate::accounts::find_by_username(&state.db, &username).await {
            Ok(user) => user.id,
            Err(crate::store::DbError::NotFound) => {
                return Err(ApiError::bad_parameter("author", format!("no user named {username:?}")))
            }
            Err(err) => return Err(err.into()),
        });
    }
    let listing = match (&caller, status) {
        (Caller::Anonymous, None | Some(Status::Published)) => {
            service::reading::public_list(&state.db, filter, paging.page, paging.per_page).await?
        }
        (Caller::Anonymous, Some(_)) => {
            return Err(ApiError::unauthorized("Only published articles can be listed without a token."))
        }
        (Caller::Token(_), _) => {
            service::editor::admin_list(&state.db, &caller.actor()?, filter, paging.page, paging.per_page).await?
        }
    };
    let items = listing.items.into_iter().map(ArticleOut::from).collect();
    Ok(Json(Paged::new(items, paging, listing.total_items)))
}

/// An article the caller may read: any published one, or (with a token) one they may edit.
async fn readable(state: &AppState, caller: &Caller, key: &str) -> Result<Article, ApiError> {
    let by_id = match key.parse::<i64>() {
        Ok(id) => match service::reading::find_by_id(&state.db, id).await {
            Ok(article) => Some(article),
            Err(ContentError::NotFound(_)) => None,
            Err(err) => return Err(err.into()),
        },
        Err(_) => None,
    };
    let article = match by_id {
        Some(article) => article,
        None if service::validate_slug(key).is_ok() => service::reading::find(&state.db, key).await?,
        None => return Err(ApiError::not_found(format!("Not found: {key:?}."))),
    };
    if article.summary.status == Status::Published {
        return Ok(article);
    }
    match caller {
        // Drafts do not exist for readers.
        Caller::Anonymous => Err(ApiError::not_found(format!("Not found: {key:?}."))),
        Caller::Token(_) => {
            Ok(service::editor::article_for_edit(&state.db, &caller.actor()?, article.summary.id).await?)
        }
    }
}

/// One article, by id or slug.
#[utoipa::path(get, path = "/articles/{id}", tag = "articles",
    params(("id" = String, Path, description = "The article's id, or its slug")),
    security((), ("bearer" = [])),
    responses((status = 200, body = ArticleFull), (status = "4XX", body = ErrorBody)))]
async fn get_article(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Json<ArticleFull>, ApiError> {
    Ok(Json(readable(&state, &caller, &key).await?.into()))
}

#[derive(Deserialize, Clone, Copy, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    #[default]
    Post,
    Page,
}

/// Where a new article starts.
#[derive(Deserialize, Clone, Copy, Default, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InitialStatus {
    #[default]
    Draft,
    Published,
    /// Published by the server at `publish_at`.
    Scheduled,
}

/// The latest Unix time accepted (the end of year 9999).
const MAX_TIME: i64 = 253_402_300_799;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewArticle {
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    title: String,
    /// Markdown.
    #[serde(default)]
    body: String,
    /// Derived from the title when absent or empty.
    #[schema(max_length = 200, pattern = r"^([a-z0-9]+(-[a-z0-9]+)*)?$")]
    slug: Option<String>,
    /// Derived from the body when absent.
    #[schema(max_length = 1000)]
    excerpt: Option<String>,
    /// An existing category's id: the primary one.
    category_id: Option<i64>,
    /// Existing categories' ids it is filed under as well.
    #[serde(default)]
    #[schema(max_items = 10)]
    further_category_ids: Vec<i64>,
    /// Tag names (a tag is created when new).
    #[serde(default)]
    #[schema(max_items = 30)]
    tags: Vec<String>,
    /// A site path (`/media/…`) or an http(s) URL.
    featured_image: Option<String>,
    /// A lead story, pinned above the newest posts.
    #[serde(default)]
    sticky: bool,
    #[serde(default)]
    kind: Kind,
    #[serde(default)]
    status: InitialStatus,
    /// Unix seconds; required when `status` is `scheduled`.
    #[schema(minimum = 0, maximum = 253402300799_i64)]
    publish_at: Option<i64>,
}

fn transition(status: InitialStatus, publish_at: Option<i64>) -> Result<Transition, ApiError> {
    match (status, publish_at) {
        (InitialStatus::Draft, _) => Ok(Transition::Keep),
        (InitialStatus::Published, _) => Ok(Transition::Publish),
        (InitialStatus::Scheduled, Some(at)) if (0..=MAX_TIME).contains(&at) => Ok(Transition::Schedule(at)),
        (InitialStatus::Scheduled, Some(_)) => Err(ApiError::invalid("publish_at", "must be from 0 to 253402300799")),
        (InitialStatus::Scheduled, None) => Err(ApiError::invalid("publish_at", "is required to schedule")),
    }
}

fn limits(state: &AppState) -> ContentLimits {
    ContentLimits { max_article_bytes: state.config.content.max_article_bytes }
}

/// Create an article (contributors and up; publishing needs author or up).
#[utoipa::path(post, path = "/articles", tag = "articles", request_body = NewArticle,
    security(("bearer" = [])),
    responses((status = 201, body = ArticleFull), (status = "4XX", body = ErrorBody)))]
async fn create_article(
    State(state): State<AppState>,
    caller: TokenCaller,
    ApiJson(new): ApiJson<NewArticle>,
) -> Result<Response, ApiError> {
    let actor = caller.actor()?;
    let transition = transition(new.status, new.publish_at)?;
    let kind = match new.kind {
        Kind::Post => ArticleKind::Post,
        Kind::Page => ArticleKind::Page,
    };
    let edit = ArticleEdit {
        title: new.title,
        slug: new.slug.unwrap_or_default(),
        excerpt: new.excerpt.unwrap_or_default(),
        body_md: new.body,
        category_id: new.category_id,
        further_category_ids: new.further_category_ids,
        tags: new.tags,
        featured_image: new.featured_image.unwrap_or_default(),
        sticky: new.sticky,
    };
    let saved = service::editor::create_article(&state.db, limits(&state), &actor, kind, &edit, transition).await?;
    let article = service::reading::find(&state.db, saved.slug()).await?;
    Ok((StatusCode::CREATED, Json(ArticleFull::from(article))).into_response())
}

/// Fields to change; absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticlePatch {
    #[schema(min_length = 1, max_length = 300, pattern = r"\S")]
    title: Option<String>,
    body: Option<String>,
    #[schema(max_length = 200, pattern = r"^([a-z0-9]+(-[a-z0-9]+)*)?$")]
    slug: Option<String>,
    #[schema(max_length = 1000)]
    excerpt: Option<String>,
    /// `null` removes the category.
    #[serde(default, deserialize_with = "crate::api::extract::present")]
    category_id: Option<Option<i64>>,
    #[schema(max_items = 10)]
    further_category_ids: Option<Vec<i64>>,
    #[schema(max_items = 30)]
    tags: Option<Vec<String>>,
    featured_image: Option<String>,
    sticky: Option<bool>,
}

/// Change an article's text, slug or terms (the previous text is kept as a revision).
#[utoipa::path(patch, path = "/articles/{id}", tag = "articles", request_body = ArticlePatch,
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ArticleFull), (status = "4XX", body = ErrorBody)))]
async fn update_article(
    State(state): State<AppState>,
    caller: TokenCaller,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<ArticlePatch>,
) -> Result<Json<ArticleFull>, ApiError> {
    let actor = caller.actor()?;
    let current = service::editor::article_for_edit(&state.db, &actor, id).await?;
    let further_category_ids = current.further_categories().map(|c| c.id).collect();
    let edit = ArticleEdit {
        title: patch.title.unwrap_or(current.summary.title),
        slug: patch.slug.unwrap_or(current.summary.slug),
        excerpt: patch.excerpt.unwrap_or(current.summary.excerpt),
        body_md: patch.body.unwrap_or(current.body_md),
        category_id: patch.category_id.unwrap_or(current.summary.category.as_ref().map(|c| c.id)),
        further_category_ids: patch.further_category_ids.unwrap_or(further_category_ids),
        tags: patch.tags.unwrap_or_else(|| current.tags.into_iter().map(|t| t.name).collect()),
        featured_image: patch.featured_image.or(current.featured_image).unwrap_or_default(),
        sticky: patch.sticky.unwrap_or(current.summary.sticky),
    };
    service::editor::update_article(&state.db, limits(&state), &actor, id, &edit, Transition::Keep).await?;
    Ok(Json(service::editor::article_for_edit(&state.db, &actor, id).await?.into()))
}

async fn change(
    state: &AppState,
    caller: &Caller,
    id: i64,
    change: StatusChange,
) -> Result<Json<ArticleFull>, ApiError> {
    let actor = caller.actor()?;
    service::write::change_status(&state.db, &actor, id, change).await?;
    Ok(Json(service::editor::article_for_edit(&state.db, &actor, id).await?.into()))
}

/// Publish an article now (its author if author or up; editors any).
#[utoipa::path(post, path = "/articles/{id}/publish", tag = "articles", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ArticleFull), (status = "4XX", body = ErrorBody)))]
async fn publish_article(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ArticleFull>, ApiError> {
    change(&state, &caller, id, StatusChange::Publish).await
}

/// Make an article a draft again.
#[utoipa::path(post, path = "/articles/{id}/unpublish", tag = "articles", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ArticleFull), (status = "4XX", body = ErrorBody)))]
async fn unpublish_article(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ArticleFull>, ApiError> {
    change(&state, &caller, id, StatusChange::Unpublish).await
}

/// Take an article out of the trash, as a draft.
#[utoipa::path(post, path = "/articles/{id}/restore", tag = "articles", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ArticleFull), (status = "4XX", body = ErrorBody)))]
async fn restore_article(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ArticleFull>, ApiError> {
    change(&state, &caller, id, StatusChange::Restore).await
}

/// Move an article to the trash (`POST /articles/{id}/restore` takes it out).
#[utoipa::path(delete, path = "/articles/{id}", tag = "articles", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = ArticleFull), (status = "4XX", body = ErrorBody)))]
async fn delete_article(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ArticleFull>, ApiError> {
    change(&state, &caller, id, StatusChange::Trash).await
}

#[derive(Serialize, ToSchema)]
pub struct CategoryOut {
    id: i64,
    slug: String,
    name: String,
    description: String,
    parent_id: Option<i64>,
}

impl From<CategoryEntry> for CategoryOut {
    fn from(e: CategoryEntry) -> Self {
        CategoryOut {
            id: e.category.id,
            slug: e.category.slug,
            name: e.category.name,
            description: e.category.description,
            parent_id: e.parent_id,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(minimum = 1, maximum = 100000)]
    page: Option<u32>,
    #[param(minimum = 1, maximum = 100)]
    per_page: Option<u32>,
}

/// One page of an in-memory list (categories and tags are few).
fn page_of<T, U: From<T>>(all: Vec<T>, paging: Paging) -> Paged<U> {
    let total = all.len() as i64;
    let items = all.into_iter().skip(paging.offset() as usize).take(paging.per_page as usize).map(U::from).collect();
    Paged::new(items, paging, total)
}

/// List categories by name.
#[utoipa::path(get, path = "/categories", tag = "categories", params(PageQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Paged<CategoryOut>), (status = "4XX", body = ErrorBody)))]
async fn list_categories(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<CategoryOut>>, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    Ok(Json(page_of(service::terms::category_entries(&state.db).await?, paging)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryIn {
    /// Must contain a letter or digit.
    #[schema(min_length = 1, max_length = 80, pattern = "[A-Za-z0-9]")]
    name: String,
    /// Derived from the name when absent or empty.
    #[schema(max_length = 200, pattern = r"^([a-z0-9]+(-[a-z0-9]+)*)?$")]
    slug: Option<String>,
    #[schema(max_length = 2000)]
    description: Option<String>,
    parent_id: Option<i64>,
}

/// Create a category (editors and up).
#[utoipa::path(post, path = "/categories", tag = "categories", request_body = CategoryIn,
    security(("bearer" = [])),
    responses((status = 201, body = CategoryOut), (status = "4XX", body = ErrorBody)))]
async fn create_category(
    State(state): State<AppState>,
    caller: TokenCaller,
    ApiJson(new): ApiJson<CategoryIn>,
) -> Result<Response, ApiError> {
    let actor = caller.actor()?;
    let edit = CategoryEdit {
        name: new.name,
        slug: new.slug.unwrap_or_default(),
        description: new.description.unwrap_or_default(),
        parent_id: new.parent_id,
    };
    let saved = service::terms::save_category(&state.db, &actor, None, &edit).await?;
    Ok((StatusCode::CREATED, Json(CategoryOut::from(saved))).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryPatch {
    #[schema(min_length = 1, max_length = 80, pattern = "[A-Za-z0-9]")]
    name: Option<String>,
    #[schema(max_length = 200, pattern = r"^([a-z0-9]+(-[a-z0-9]+)*)?$")]
    slug: Option<String>,
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// `null` makes it a top-level category.
    #[serde(default, deserialize_with = "crate::api::extract::present")]
    parent_id: Option<Option<i64>>,
}

/// Change a category (editors and up).
#[utoipa::path(patch, path = "/categories/{id}", tag = "categories", request_body = CategoryPatch,
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = CategoryOut), (status = "4XX", body = ErrorBody)))]
async fn update_category(
    State(state): State<AppState>,
    caller: TokenCaller,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<CategoryPatch>,
) -> Result<Json<CategoryOut>, ApiError> {
    let actor = caller.actor()?;
    // Refused before the lookup, so a 404 never tells a caller without the right what exists.
    caller.require(crate::accounts::Capability::ManageTerms)?;
    let current = service::terms::category_entries(&state.db)
        .await?
        .into_iter()
        .find(|e| e.category.id == id)
        .ok_or_else(|| ApiError::not_found(format!("No category with id {id}.")))?;
    let edit = CategoryEdit {
        name: patch.name.unwrap_or(current.category.name),
        slug: patch.slug.unwrap_or(current.category.slug),
        description: patch.description.unwrap_or(current.category.description),
        parent_id: patch.parent_id.unwrap_or(current.parent_id),
    };
    Ok(Json(service::terms::save_category(&state.db, &actor, Some(id), &edit).await?.into()))
}

/// Delete a category: its articles become uncategorised (editors and up).
#[utoipa::path(delete, path = "/categories/{id}", tag = "categories", params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_category(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    service::terms::delete_category(&state.db, &caller.actor()?, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct TagCount {
    id: i64,
    slug: String,
    name: String,
    /// Articles with this tag: published ones for anonymous callers, any status with a token.
    articles: i64,
}

impl From<TagEntry> for TagCount {
    fn from(t: TagEntry) -> Self {
        TagCount { id: t.id, slug: t.slug, name: t.name, articles: t.articles }
    }
}

/// List tags by name.
#[utoipa::path(get, path = "/tags", tag = "tags", params(PageQuery),
    security((), ("bearer" = [])),
    responses((status = 200, body = Paged<TagCount>), (status = "4XX", body = ErrorBody)))]
async fn list_tags(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Paged<TagCount>>, ApiError> {
    let paging = Paging::new(query.page, query.per_page)?;
    let tags = match caller {
        Caller::Anonymous => service::terms::public_tag_entries(&state.db).await?,
        Caller::Token(_) => service::terms::tag_entries(&state.db).await?,
    };
    Ok(Json(page_of(tags, paging)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TagPatch {
    /// Must contain a letter or digit.
    #[schema(min_length = 1, max_length = 80, pattern = r"\S")]
    name: Option<String>,
    /// Empty derives it from the name; another tag's slug is refused (merge the two instead).
    #[schema(max_length = 200, pattern = r"^([a-z0-9]+(-[a-z0-9]+)*)?$")]
    slug: Option<String>,
}

/// Rename a tag (editors and up); absent fields keep their value.
#[utoipa::path(patch, path = "/tags/{id}", tag = "tags", request_body = TagPatch,
    params(("id" = i64, Path)),
    security(("bearer" = [])),
    responses((status = 200, body = TagCount), (status = "4XX", body = ErrorBody)))]
async fn update_tag(
    State(state): State<AppState>,
    caller: TokenCaller,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<TagPatch>,
) -> Result<Json<TagCount>, ApiError> {
    let actor = caller.actor()?;
    // Refused before the lookup, so a 404 never tells a caller without the right what exists.
    caller.require(crate::accounts::Capability::ManageTerms)?;
    let current = tag_by_id(&state, id).await?;
    let name = patch.name.unwrap_or(current.name);
    let slug = patch.slug.unwrap_or(current.slug);
    service::terms::rename_tag(&state.db, &actor, id, &name, &slug).await?;
    Ok(Json(tag_by_id(&state, id).await?.into()))
}

async fn tag_by_id(state: &AppState, id: i64) -> Result<TagEntry, ApiError> {
    service::terms::tag_entries(&state.db)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::not_found(format!("No tag with id {id}.")))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagDeleteQuery {
    /// Merge into this tag: its articles get that tag instead.
    into: Option<i64>,
}

/// Delete a tag, or merge it into another with `?into=` (editors and up).
#[utoipa::path(delete, path = "/tags/{id}", tag = "tags", params(("id" = i64, Path), TagDeleteQuery),
    security(("bearer" = [])),
    responses((status = 204), (status = "4XX", body = ErrorBody)))]
async fn delete_tag(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiQuery(query): ApiQuery<TagDeleteQuery>,
) -> Result<StatusCode, ApiError> {
    service::terms::delete_tag(&state.db, &caller.actor()?, id, query.into).await?;
    Ok(StatusCode::NO_CONTENT)
}
