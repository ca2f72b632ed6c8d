//! The JSON API's routes, merged from the capabilities' `api` modules, and its OpenAPI 3.1
//! document at `/api/v1/openapi.json`, assembled by utoipa from the handlers' `#[utoipa::path]`
//! annotations and the types they take and return, so it cannot drift from the routes.

use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::api::{ErrorBody, BEARER, MAX_BODY_BYTES, PREFIX};
use crate::config::media::MediaConfig;
use crate::http::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenVoice API",
        version = "1",
        description = "Articles, categories, tags, comments, subscribers and media. Send `Authorization: Bearer ov_…` \
            (tokens are created with `openvoice token create` or at /admin/tokens); anonymous callers may read \
            published articles, categories, tags and approved comments. Lists take `page` and `per_page` (≤ 100) \
            and answer `{items, page, per_page, total_items, total_pages}`. Every error is \
            `{\"error\": {\"code\", \"message\", \"field\"}}`."
    ),
    modifiers(&BearerScheme),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(BEARER, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The API's routes and their document, as one router to merge into the site's.
pub fn router() -> Router<AppState> {
    let (routes, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            PREFIX,
            OpenApiRouter::new()
                .merge(crate::content::api::router())
                .merge(crate::comments::api::router())
                .merge(crate::subscriptions::api::router())
                .merge(crate::media::api::router()),
        )
        .split_for_parts();
    // Served by `upload_router`, outside the site-wide body limit; described here with the rest.
    doc.merge(uploads().into_openapi());
    let document = match serde_json::to_value(&doc).and_then(|mut value| {
        camel_case_links(&mut value);
        serde_json::to_vec(&value)
    }) {
        Ok(json) => Bytes::from(json),
        Err(err) => {
            tracing::error!(error = %err, "Serialising the OpenAPI document failed");
            Bytes::from_static(b"{}")
        }
    };
    routes
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let document = document.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], document) }
            }),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The API's uploads (`POST /api/v1/media`), with their own body limit (`media.max_upload_bytes`
/// and the form around it), to merge outside the site-wide limit; [`router`] documents them.
pub fn upload_router(media: &MediaConfig) -> Router<AppState> {
    uploads().split_for_parts().0.layer(DefaultBodyLimit::max(media.upload_body_limit()))
}

fn uploads() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().nest(PREFIX, crate::media::api::upload_routes())
}

/// utoipa 5.5 writes the fields of response links in snake_case (`operation_id`); OpenAPI spells
/// them in camelCase, and schemathesis follows links only when they are spelt right.
fn camel_case_links(doc: &mut serde_json::Value) {
    let Some(paths) = doc.get_mut("paths").and_then(serde_json::Value::as_object_mut) else { return };
    let links = paths
        .values_mut()
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|operations| operations.values_mut())
        .filter_map(|operation| operation.get_mut("responses").and_then(serde_json::Value::as_object_mut))
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links").and_then(serde_json::Value::as_object_mut))
        .flat_map(|links| links.values_mut())
        .filter_map(serde_json::Value::as_object_mut);
    for link in links {
        for (snake, camel) in
            [("operation_id", "operationId"), ("operation_ref", "operationRef"), ("request_body", "requestBody")]
        {
            if let Some(value) = link.remove(snake) {
                link.insert(camel.into(), value);
            }
        }
    }
}
