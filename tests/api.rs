//! The JSON API (`/api/v1`) over real HTTP, on every backend: token authentication and roles,
//! CRUD round trips, pagination and filters, the one error body, what anonymous callers may not
//! see, the media library, the tokens screen.

#[macro_use]
mod common;

use common::{Backend, TestSite};
use openvoice::accounts::{self, api_tokens, NewUser, Role};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ARTICLE: &str = "parliament-approves-coastal-drone-patrols";
const RELAXED: &str =
    "[comments]\nmin_seconds = 0\nflood_seconds = 0\nrate_limit_burst = 100000\nrate_limit_per_minute = 100000\n";

/// A user with `role` and a token of that role.
async fn user_with_token(site: &TestSite, username: &str, role: Role) -> String {
    let email = format!("{username}@example.org");
    let new = NewUser { username, email: &email, display_name: username, role, password: None };
    accounts::create_user(&site.db, &new).await.expect("user");
    api_tokens::create(&site.db, username, "tests", None).await.expect("token").1
}

async fn admin_token(site: &TestSite) -> String {
    api_tokens::create(&site.db, "admin", "tests", None).await.expect("token").1
}

/// Sends a request to `/api/v1{path}` with an optional token and JSON body.
async fn call(
    site: &TestSite,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = site.client.request(method, format!("{}/api/v1{path}", site.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"))
    };
    (status, value)
}

async fn get(site: &TestSite, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    call(site, Method::GET, path, token, None).await
}

/// Asserts the API's error body and returns its `field`.
fn error_field(status: StatusCode, body: &Value, expected: StatusCode, code: &str) -> Option<String> {
    assert_eq!(status, expected, "{body}");
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(error.get("field").is_some(), "field is always present: {body}");
    error["field"].as_str().map(str::to_string)
}

fn slugs(listing: &Value) -> Vec<String> {
    listing["items"].as_array().expect("items").iter().map(|a| a["slug"].as_str().unwrap().to_string()).collect()
}

on_each_backend!(tokens_authenticate_and_roles_limit_what_they_may_do);
async fn tokens_authenticate_and_roles_limit_what_they_may_do(backend: Backend) {
    let site = TestSite::start(backend).await;
    let contributor = user_with_token(&site, "cora", Role::Contributor).await;
    let editor = user_with_token(&site, "edda", Role::Editor).await;

    // The CLI prints a token once; list never shows it; revoke ends it.
    assert!(common::stdout(&site.cli(&["token", "list", "--user", "admin"])).contains("No tokens."));
    let out = site.cli(&["token", "create", "--user", "admin", "--name", "script"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let stdout = common::stdout(&out);
    let admin = stdout.lines().find_map(|l| l.strip_prefix("Token (shown once): ")).expect("token line").to_string();
    assert!(admin.starts_with("ov_") && admin.len() == 46, "{admin}");
    let (status, _) = get(&site, "/subscribers", Some(&admin)).await;
    assert_eq!(status, 200);
    let listed = common::stdout(&site.cli(&["token", "list"]));
    assert!(listed.contains("script") && !listed.contains(&admin), "{listed}");

    // No token, a malformed header, an unknown token: 401 with a Bearer challenge.
    for header in [None, Some("Basic YWRtaW46YWRtaW4="), Some("Bearer ov_not-a-token"), Some("Bearer")] {
        let mut request = site.client.get(format!("{}/api/v1/subscribers", site.base));
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{header:?}");
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // An invalid token is refused even where anonymous readers are welcome.
    let (status, _) = get(&site, "/articles", Some("ov_0000000000000000000000000000000000000000000")).await;
    assert_eq!(status, 401);

    let id: i64 = stdout.split_whitespace().find_map(|w| w.strip_prefix('#')?.parse().ok()).expect("token id");
    let out = site.cli(&["token", "revoke", &id.to_string()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let (status, _) = get(&site, "/subscribers", Some(&admin)).await;
    assert_eq!(status, 401, "a revoked token is refused");
    assert!(!site.cli(&["token", "revoke", &id.to_string()]).status.success(), "revoking twice fails");

    // A token cannot have more rights than its user.
    let err = api_tokens::create(&site.db, "cora", "too much", Some(Role::Editor)).await.unwrap_err();
    assert!(err.to_string().contains("role"), "{err}");
    // A token may have fewer: an editor's contributor token cannot moderate.
    let weak = api_tokens::create(&site.db, "edda", "weak", Some(Role::Contributor)).await.unwrap().1;
    let (status, _) = get(&site, "/subscribers", Some(&weak)).await;
    assert_eq!(status, 403);

    // Contributors may write drafts, not publish, manage terms, moderate or see subscribers;
    // a refusal changes nothing.
    let (status, body) = call(
        &site,
        Method::POST,
        "/articles",
        Some(&contributor),
        Some(json!({"title": "Contributor scoop", "body": "Text.", "status": "published"})),
    )
    .await;
    assert_eq!(error_field(status, &body, StatusCode::FORBIDDEN, "forbidden"), None);
    let (_, found) = get(&site, "/articles?search=scoop&status=draft", Some(&editor)).await;
    assert_eq!(found["total_items"], 0, "nothing was written: {found}");
    let (_, found) = get(&site, "/articles?search=scoop", Some(&editor)).await;
    assert_eq!(found["total_items"], 0, "nothing was written: {found}");

    let (_, categories) = get(&site, "/categories", None).await;
    let category_id = categories["items"][0]["id"].as_i64().unwrap();
    let (status, _) =
        call(&site, Method::DELETE, &format!("/categories/{category_id}"), Some(&contributor), None).await;
    assert_eq!(status, 403);
    let (status, _) =
        call(&site, Method::POST, "/categories", Some(&contributor), Some(json!({"name": "Gossip"}))).await;
    assert_eq!(status, 403);
    let (_, after) = get(&site, "/categories?per_page=100", None).await;
    assert_eq!(after["total_items"], categories["total_items"], "no category was added or removed");
    let (status, _) = get(&site, "/subscribers", Some(&contributor)).await;
    assert_eq!(status, 403);
    let (status, _) = get(&site, "/comments?status=pending", Some(&contributor)).await;
    assert_eq!(status, 403);

    // A contributor's draft: theirs to edit, not to publish; not an editor's business to hide.
    let (status, draft) = call(
        &site,
        Method::POST,
        "/articles",
        Some(&contributor),
        Some(json!({"title": "Harbour notes", "body": "Draft text."})),
    )
    .await;
    assert_eq!(status, 201, "{draft}");
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["author"]["username"], "cora");
    let id = draft["id"].as_i64().unwrap();
    let (status, _) = call(&site, Method::POST, &format!("/articles/{id}/publish"), Some(&contributor), None).await;
    assert_eq!(status, 403);
    let (_, still) = get(&site, &format!("/articles/{id}"), Some(&editor)).await;
    assert_eq!(still["status"], "draft");
    // Someone else's draft is not theirs to read; an editor's published article is.
    let (status, _) = get(&site, &format!("/articles/{id}"), Some(&weak)).await;
    assert_eq!(status, 403);
    let (status, _) = call(&site, Method::POST, &format!("/articles/{id}/publish"), Some(&editor), None).await;
    assert_eq!(status, 200);
    site.finish().await;
}

on_each_backend!(articles_categories_and_tags_round_trip);
async fn articles_categories_and_tags_round_trip(backend: Backend) {
    let site = TestSite::start(backend).await;
    let token = admin_token(&site).await;
    let token = Some(token.as_str());

    let (status, category) = call(
        &site,
        Method::POST,
        "/categories",
        token,
        Some(json!({"name": "Science Desk", "description": "Labs and fieldwork"})),
    )
    .await;
    assert_eq!(status, 201, "{category}");
    assert_eq!(category["slug"], "science-desk");
    let category_id = category["id"].as_i64().unwrap();
    let (status, category) =
        call(&site, Method::PATCH, &format!("/categories/{category_id}"), token, Some(json!({"description": "Labs"})))
            .await;
    assert_eq!(status, 200, "{category}");
    assert_eq!((category["name"].as_str(), category["description"].as_str()), (Some("Science Desk"), Some("Labs")));

    let (status, created) = call(
        &site,
        Method::POST,
        "/articles",
        token,
        Some(json!({
            "title": "Glacier Survey Finds Faster Melt",
            "body": "The **survey** measured forty glaciers.",
            "category_id": category_id,
            "tags": ["glaciers", "climate"],
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let slug = created["slug"].as_str().unwrap().to_string();
    assert_eq!(slug, "glacier-survey-finds-faster-melt");
    assert_eq!(created["status"], "draft");
    assert!(created["body_html"].as_str().unwrap().contains("<strong>survey</strong>"), "{created}");
    assert_eq!(created["category"]["id"], category_id);

    // Readable by id and slug with the token; a draft does not exist for anonymous readers.
    let (_, by_slug) = get(&site, &format!("/articles/{slug}"), token).await;
    assert_eq!(by_slug["id"], id);
    let (status, body) = get(&site, &format!("/articles/{id}"), None).await;
    error_field(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (_, public) = get(&site, "/articles?per_page=100", None).await;
    assert!(!slugs(&public).contains(&slug));

    let (status, patched) = call(
        &site,
        Method::PATCH,
        &format!("/articles/{id}"),
        token,
        Some(json!({"title": "Glacier Survey Finds Much Faster Melt", "tags": ["glaciers", "ice"]})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["title"], "Glacier Survey Finds Much Faster Melt");
    assert_eq!(patched["body"], "The **survey** measured forty glaciers.", "untouched fields are kept");
    let tags: Vec<&str> = patched["tags"].as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap()).collect();
    assert_eq!(tags, ["glaciers", "ice"]);
    // The draft's new tag is the desk's business until the article is published.
    let (_, tag_list) = get(&site, "/tags?per_page=100", token).await;
    assert!(slugs(&tag_list).contains(&"ice".to_string()), "{tag_list}");
    let (_, tag_list) = get(&site, "/tags?per_page=100", None).await;
    assert!(!slugs(&tag_list).contains(&"ice".to_string()), "a draft's tag is not public: {tag_list}");

    // Publish: anonymous readers and the site see it; unpublish and trash hide it again.
    let (status, published) = call(&site, Method::POST, &format!("/articles/{id}/publish"), token, None).await;
    assert_eq!((status, published["status"].as_str()), (StatusCode::OK, Some("published")));
    let (status, _) = get(&site, &format!("/articles/{slug}"), None).await;
    assert_eq!(status, 200);
    let (_, tag_list) = get(&site, "/tags?per_page=100", None).await;
    assert!(slugs(&tag_list).contains(&"ice".to_string()), "{tag_list}");
    site.settle().await;
    assert_eq!(site.fetch(&format!("/article/{slug}")).await.0, 200);
    let (_, unpublished) = call(&site, Method::POST, &format!("/articles/{id}/unpublish"), token, None).await;
    assert_eq!(unpublished["status"], "draft");
    assert_eq!(get(&site, &format!("/articles/{slug}"), None).await.0, 404);
    let (status, trashed) = call(&site, Method::DELETE, &format!("/articles/{id}"), token, None).await;
    assert_eq!((status, trashed["status"].as_str()), (StatusCode::OK, Some("trashed")));
    let (_, trash) = get(&site, "/articles?status=trashed", token).await;
    assert_eq!(slugs(&trash), [slug.as_str()]);
    let (status, restored) = call(&site, Method::POST, &format!("/articles/{id}/restore"), token, None).await;
    assert_eq!((status, restored["status"].as_str()), (StatusCode::OK, Some("draft")));
    let (status, body) = call(&site, Method::POST, &format!("/articles/{id}/restore"), token, None).await;
    assert_eq!(error_field(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid").as_deref(), Some("status"));

    let (status, _) = call(&site, Method::DELETE, &format!("/categories/{category_id}"), token, None).await;
    assert_eq!(status, 204);
    let (_, categories) = get(&site, "/categories?per_page=100", None).await;
    assert!(!slugs(&categories).contains(&"science-desk".to_string()));
    let (status, body) = call(&site, Method::DELETE, "/articles/999999", token, None).await;
    error_field(status, &body, StatusCode::NOT_FOUND, "not_found");
    site.finish().await;
}

on_each_backend!(lists_paginate_and_filter);
async fn lists_paginate_and_filter(backend: Backend) {
    let site = TestSite::start(backend).await;
    let (_, all) = get(&site, "/articles?per_page=100", None).await;
    let total = all["total_items"].as_i64().unwrap();
    assert!(total >= 7, "{all}");
    assert!(all["items"].as_array().unwrap().iter().all(|a| a["status"] == "published"));

    let (_, first) = get(&site, "/articles?per_page=3", None).await;
    let (_, second) = get(&site, "/articles?per_page=3&page=2", None).await;
    assert_eq!((first["page"].as_i64(), first["per_page"].as_i64()), (Some(1), Some(3)));
    assert_eq!(first["total_pages"].as_i64().unwrap(), (total + 2) / 3);
    assert_eq!(slugs(&first).len(), 3);
    let mut both = slugs(&first);
    both.extend(slugs(&second));
    assert_eq!(both, slugs(&all)[..both.len()], "pages follow each other");
    let (status, past) = get(&site, "/articles?page=500", None).await;
    assert_eq!((status, past["items"].as_array().unwrap().len()), (StatusCode::OK, 0));

    let (_, category) = get(&site, "/articles?category=defence-security", None).await;
    assert!(slugs(&category).contains(&ARTICLE.to_string()));
    assert!(category["items"].as_array().unwrap().iter().all(|a| a["category"]["slug"] == "defence-security"));
    let (_, by_author) = get(&site, "/articles?author=mara-lindqvist", None).await;
    assert!(!slugs(&by_author).is_empty());
    assert!(by_author["items"].as_array().unwrap().iter().all(|a| a["author"]["username"] == "mara-lindqvist"));
    let (_, tagged) = get(&site, "/articles?tag=drones&category=defence-security", None).await;
    assert_eq!(slugs(&tagged), [ARTICLE]);
    let (_, found) = get(&site, "/articles?search=drone%20patrols", None).await;
    assert_eq!(slugs(&found), [ARTICLE]);

    for (query, field) in [
        ("per_page=101", "per_page"),
        ("per_page=0", "per_page"),
        ("page=0", "page"),
        ("per_page=abc", "per_page"),
        ("status=secret", "status"),
        ("category=no-such-section", "category"),
        ("tag=no-such-tag", "tag"),
        ("search=a%00b", "search"),
    ] {
        let (status, body) = get(&site, &format!("/articles?{query}"), None).await;
        assert_eq!(
            error_field(status, &body, StatusCode::BAD_REQUEST, "invalid_parameter").as_deref(),
            Some(field),
            "{query}"
        );
    }
    let (_, tags) = get(&site, "/tags?per_page=2&page=2", None).await;
    assert_eq!((tags["page"].as_i64(), tags["items"].as_array().unwrap().len()), (Some(2), 2));
    site.finish().await;
}

on_each_backend!(bad_requests_get_one_error_shape_naming_the_field);
async fn bad_requests_get_one_error_shape_naming_the_field(backend: Backend) {
    let site = TestSite::start(backend).await;
    let token = admin_token(&site).await;
    let post_raw = |body: Vec<u8>, content_type: Option<&'static str>| {
        let mut request = site.client.post(format!("{}/api/v1/articles", site.base)).bearer_auth(&token).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let content_type = response.headers()["content-type"].to_str().unwrap().to_string();
            assert!(content_type.starts_with("application/json"), "{status}: {content_type}");
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let json = Some("application/json");
    for (body, field) in [
        (r#"{"title": 5}"#, "title"),
        (r#"{"body": "no title"}"#, "title"),
        (r#"{"title": "T", "tags": ["ok", 7]}"#, "tags[1]"),
        (r#"{"title": "T", "status": "live"}"#, "status"),
        (r#"{"title": "T", "category_id": "news"}"#, "category_id"),
        (r#"{"title": "T", "colour": "red"}"#, "colour"),
        (r#"{"title": "T\u0000"}"#, "title"),
        (r#"{"title": "   "}"#, "title"),
        (r#"{"title": "T", "slug": "Not A Slug"}"#, "slug"),
        (r#"{"title": "T", "status": "scheduled"}"#, "publish_at"),
    ] {
        let (status, error) = post_raw(body.into(), json).await;
        assert_eq!(
            error_field(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "invalid").as_deref(),
            Some(field),
            "{body}"
        );
    }
    let (status, error) = post_raw(br#"{"title": "T""#.to_vec(), json).await;
    error_field(status, &error, StatusCode::BAD_REQUEST, "malformed_json");
    let (status, error) = post_raw(b"title=T".to_vec(), Some("application/x-www-form-urlencoded")).await;
    error_field(status, &error, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    let (status, error) = post_raw(br#"{"title": "T"}"#.to_vec(), None).await;
    error_field(status, &error, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    // Over the API's 1 MiB limit, and over the site-wide limit (answered before routing).
    for size in [1024 * 1024 + 10, 3 * 1024 * 1024] {
        let huge = format!(r#"{{"title": "T", "body": "{}"}}"#, "a".repeat(size));
        let (status, error) = post_raw(huge.into_bytes(), json).await;
        error_field(status, &error, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    }
    // Nothing above was saved.
    let (_, drafts) = get(&site, "/articles?status=draft", Some(&token)).await;
    assert_eq!(drafts["total_items"], 0, "{drafts}");

    let (status, error) = get(&site, "/no-such-endpoint", None).await;
    error_field(status, &error, StatusCode::NOT_FOUND, "not_found");
    let (status, error) = call(&site, Method::PUT, "/articles", Some(&token), None).await;
    error_field(status, &error, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    let (status, error) = get(&site, "/articles/not%20a%20slug", None).await;
    error_field(status, &error, StatusCode::NOT_FOUND, "not_found");
    let (status, error) =
        call(&site, Method::PATCH, "/comments/abc", Some(&token), Some(json!({"status": "spam"}))).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["error"]["code"], "bad_request");
    site.finish().await;
}

on_each_backend!(anonymous_callers_see_no_drafts_pending_comments_or_emails);
async fn anonymous_callers_see_no_drafts_pending_comments_or_emails(backend: Backend) {
    let site = TestSite::start_with(backend, RELAXED).await;
    let editor = user_with_token(&site, "edda", Role::Editor).await;
    let author = user_with_token(&site, "otto", Role::Author).await;

    // A reader comments through the site's form; it waits for moderation.
    let response =
        common::post_comment(&site, ARTICLE, "Wren", "wren.secret@example.net", "Good to see the patrols.").await;
    assert_eq!(response.status(), 303);

    let (_, pending) = get(&site, "/comments?status=pending", Some(&editor)).await;
    assert_eq!(pending["total_items"], 1, "{pending}");
    let comment = &pending["items"][0];
    assert_eq!(comment["author_email"], "wren.secret@example.net");
    let id = comment["id"].as_i64().unwrap();
    let (status, error) = get(&site, "/comments?status=pending", None).await;
    error_field(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, public) = get(&site, "/comments", None).await;
    assert_eq!(public["total_items"], 0, "a pending comment is not public: {public}");

    let (status, moderated) =
        call(&site, Method::PATCH, &format!("/comments/{id}"), Some(&editor), Some(json!({"status": "approved"})))
            .await;
    assert_eq!((status, moderated["changed"].as_bool()), (StatusCode::OK, Some(true)), "{moderated}");
    for token in [None, Some(author.as_str())] {
        let mut request =
            site.client.get(format!("{}/api/v1/comments?article_id={}", site.base, comment["article_id"]));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(text.contains("Good to see the patrols."), "{text}");
        assert!(!text.contains("wren.secret"), "no email for {token:?}: {text}");
    }
    let (status, _) = call(&site, Method::DELETE, &format!("/comments/{id}"), Some(&author), None).await;
    assert_eq!(status, 403);
    let (status, _) = call(&site, Method::DELETE, &format!("/comments/{id}"), Some(&editor), None).await;
    assert_eq!(status, 204);
    let (_, public) = get(&site, "/comments", None).await;
    assert_eq!(public["total_items"], 0, "{public}");
    let (status, body) =
        call(&site, Method::PATCH, "/comments/987654", Some(&editor), Some(json!({"status": "spam"}))).await;
    error_field(status, &body, StatusCode::NOT_FOUND, "not_found");

    // Subscribers: editors only.
    let address = openvoice::subscriptions::model::Address::parse("reader@example.com").unwrap();
    openvoice::subscriptions::service::add_confirmed(
        &site.db,
        &address,
        openvoice::subscriptions::model::Frequency::Instant,
        openvoice::store::now(),
    )
    .await
    .unwrap();
    let (status, _) = get(&site, "/subscribers", None).await;
    assert_eq!(status, 401);
    let (status, _) = get(&site, "/subscribers", Some(&author)).await;
    assert_eq!(status, 403);
    let (_, subscribers) = get(&site, "/subscribers?status=confirmed", Some(&editor)).await;
    assert_eq!(subscribers["items"][0]["email"], "reader@example.com", "{subscribers}");
    let (_, none) = get(&site, "/subscribers?status=pending", Some(&editor)).await;
    assert_eq!(none["total_items"], 0);

    // Drafts: not listed, not readable, not even by status, without a token.
    let (status, draft) =
        call(&site, Method::POST, "/articles", Some(&author), Some(json!({"title": "Embargoed story"}))).await;
    assert_eq!(status, 201);
    let (status, error) = get(&site, "/articles?status=draft", None).await;
    error_field(status, &error, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, listed) = get(&site, "/articles?per_page=100&search=embargoed", None).await;
    assert_eq!(listed["total_items"], 0);
    assert_eq!(get(&site, &format!("/articles/{}", draft["id"]), None).await.0, 404);
    assert_eq!(get(&site, "/articles/embargoed-story", None).await.0, 404);
    let (_, own) = get(&site, "/articles?status=draft", Some(&author)).await;
    assert_eq!(slugs(&own), ["embargoed-story"]);
    site.finish().await;
}

#[tokio::test]
async fn the_openapi_document_is_served_and_lists_every_endpoint() {
    let site = TestSite::start(common::Backend::Sqlite).await;
    let response = site.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let link = &doc["paths"]["/api/v1/comments"]["get"]["responses"]["200"]["links"]["ModerateFirst"];
    assert_eq!(link["operationId"], "moderate_comment", "links are spelt as OpenAPI says: {link}");
    for path in [
        "/api/v1/articles",
        "/api/v1/articles/{id}",
        "/api/v1/articles/{id}/publish",
        "/api/v1/articles/{id}/unpublish",
        "/api/v1/articles/{id}/restore",
        "/api/v1/categories",
        "/api/v1/categories/{id}",
        "/api/v1/tags",
        "/api/v1/tags/{id}",
        "/api/v1/comments",
        "/api/v1/comments/{id}",
        "/api/v1/subscribers",
        "/api/v1/media",
        "/api/v1/media/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from {}", doc["paths"]);
    }
    let upload = &doc["paths"]["/api/v1/media"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"];
    let form = doc["components"]["schemas"][upload["$ref"].as_str().unwrap().rsplit('/').next().unwrap()].clone();
    assert_eq!(form["properties"]["file"]["format"], "binary", "{form}");
    assert_eq!(form["required"], json!(["file"]), "{form}");
    site.finish().await;
}

/// Authentication comes before validation: an anonymous client sending an empty body to any
/// endpoint that takes one is told to authenticate, not which field its body lacks. The list of
/// endpoints is the OpenAPI document's, so a new one is covered when it is documented.
#[tokio::test]
async fn an_anonymous_body_is_refused_as_unauthenticated_before_it_is_read() {
    let site = TestSite::start(common::Backend::Sqlite).await;
    let doc: Value = site.get("/api/v1/openapi.json").await.json().await.unwrap();
    let mut checked = Vec::new();
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            if operation.get("requestBody").is_none() {
                continue;
            }
            let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).unwrap();
            let path = path.strip_prefix("/api/v1").expect("under /api/v1").replace("{id}", "1");
            let (status, body) = call(&site, method.clone(), &path, None, Some(json!({}))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}: {body}");
            assert_eq!(body["error"]["code"], "unauthorized", "{method} {path}: {body}");
            checked.push(format!("{method} {path}"));
        }
    }
    for expected in ["POST /articles", "PATCH /articles/1", "POST /media", "PATCH /comments/1"] {
        assert!(checked.iter().any(|c| c == expected), "{expected} not among {checked:?}");
    }
    site.finish().await;
}

on_each_backend!(the_admin_tokens_screen_shows_a_token_once_and_revokes_it);
async fn the_admin_tokens_screen_shows_a_token_once_and_revokes_it(backend: Backend) {
    use common::desk::{input_value, Desk};
    let site = TestSite::start(backend).await;
    let author = Desk::sign_in(&site, Role::Author).await;
    let page = author.get(&site, "/admin/tokens").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("No tokens yet") && !html.contains(">editor<"), "roles above the user's are not offered");

    // Bad input re-renders the form with the message at the field and nothing created.
    for (fields, message) in
        [([("name", "cron"), ("role", "editor")], "above"), ([("name", "  "), ("role", "author")], "characters")]
    {
        let response = author.post_form(&site, "/admin/tokens", &fields).await;
        assert_eq!(response.status(), 422);
        let html = response.text().await.unwrap();
        assert!(html.contains("field-error") && html.contains(message), "{message}: {html}");
    }
    assert!(api_tokens::list(&site.db, Some(&author.username)).await.unwrap().is_empty());
    let forged = author
        .client
        .post(format!("{}/admin/tokens", site.base))
        .form(&[("csrf", "forged"), ("name", "x"), ("role", "author")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    let response = author.post_form(&site, "/admin/tokens", &[("name", "cron job"), ("role", "contributor")]).await;
    assert_eq!(response.status(), 200);
    let secret = input_value(&response.text().await.unwrap(), "new_token");
    assert!(secret.starts_with("ov_"), "the new token is shown: {secret:?}");
    assert_eq!(get(&site, "/articles?status=draft", Some(&secret)).await.0, 200);
    let (status, _) =
        call(&site, Method::POST, "/articles", Some(&secret), Some(json!({"title": "T", "status": "published"}))).await;
    assert_eq!(status, 403, "a contributor token cannot publish, though its author could");
    let html = author.get(&site, "/admin/tokens").await.text().await.unwrap();
    assert!(html.contains("cron job") && !html.contains(&secret), "listed, never shown again");

    // Only its owner (or an admin) may revoke it.
    let id = api_tokens::list(&site.db, Some(&author.username)).await.unwrap()[0].id;
    let editor = Desk::sign_in(&site, Role::Editor).await;
    let response = editor.post_form(&site, &format!("/admin/tokens/{id}/revoke"), &[]).await;
    assert_eq!(response.status(), 404);
    assert_eq!(get(&site, "/articles?status=draft", Some(&secret)).await.0, 200);
    let admin = Desk::sign_in(&site, Role::Admin).await;
    let html = admin.get(&site, "/admin/tokens").await.text().await.unwrap();
    assert!(html.contains(&author.username), "admins see everyone's tokens");
    let response = author.post_form(&site, &format!("/admin/tokens/{id}/revoke"), &[]).await;
    assert_eq!(response.status(), 303);
    assert_eq!(get(&site, "/articles?status=draft", Some(&secret)).await.0, 401);
    site.finish().await;
}

on_each_backend!(the_media_library_is_listed_for_authors_and_up);
async fn the_media_library_is_listed_for_authors_and_up(backend: Backend) {
    let site = TestSite::start(backend).await;
    let author = user_with_token(&site, "otto", Role::Author).await;
    let contributor = user_with_token(&site, "cora", Role::Contributor).await;
    let item = common::upload_image(&site, "otto").await;

    assert_eq!(get(&site, "/media", None).await.0, 401);
    assert_eq!(get(&site, "/media", Some(&contributor)).await.0, 403);
    let (status, listing) = get(&site, "/media?per_page=10", Some(&author)).await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing["total_items"], 1);
    let entry = &listing["items"][0];
    assert_eq!((entry["id"].as_i64(), entry["alt_text"].as_str()), (Some(item.id), Some("The harbour")));
    assert_eq!((entry["width"].as_i64(), entry["height"].as_i64()), (Some(1200), Some(800)));
    assert!(!entry["sizes"].as_array().unwrap().is_empty(), "responsive copies are listed: {entry}");
    let url = entry["url"].as_str().unwrap();
    assert_eq!(site.fetch(url).await.0, 200, "{url} is served");
    let (_, one) = get(&site, &format!("/media/{}", item.id), Some(&author)).await;
    assert_eq!(one["url"], entry["url"]);
    let (status, body) = get(&site, "/media/987654", Some(&author)).await;
    error_field(status, &body, StatusCode::NOT_FOUND, "not_found");
    site.finish().await;
}

on_each_backend!(each_role_is_refused_exactly_what_it_may_not_do);
/// Every endpoint that needs a capability, for every role: refused (403) below the role that
/// has it, and not refused from it up.
async fn each_role_is_refused_exactly_what_it_may_not_do(backend: Backend) {
    let site = TestSite::start(backend).await;
    let roles = [Role::Contributor, Role::Author, Role::Editor, Role::Admin];
    let mut tokens = Vec::new();
    for role in roles {
        tokens.push((role, user_with_token(&site, &format!("matrix-{}", role.as_str()), role).await));
    }
    // Someone else's published article (a demo article by Mara Lindqvist).
    let (_, theirs) = get(&site, &format!("/articles/{ARTICLE}"), None).await;
    let theirs = theirs["id"].as_i64().unwrap();
    let matrix: Vec<(Method, String, Option<Value>, Role)> = vec![
        (Method::GET, "/articles?status=draft".into(), None, Role::Contributor),
        (Method::POST, "/articles".into(), Some(json!({"title": "Matrix draft"})), Role::Contributor),
        (Method::POST, "/articles".into(), Some(json!({"title": "Matrix", "status": "published"})), Role::Author),
        (Method::GET, "/media".into(), None, Role::Author),
        (Method::PATCH, format!("/articles/{theirs}"), Some(json!({"excerpt": "Edited."})), Role::Editor),
        (Method::POST, format!("/articles/{theirs}/publish"), None, Role::Editor),
        (Method::POST, "/categories".into(), Some(json!({"name": "Matrix"})), Role::Editor),
        (Method::PATCH, "/categories/1".into(), Some(json!({"description": "Edited."})), Role::Editor),
        (Method::DELETE, "/categories/987654".into(), None, Role::Editor),
        (Method::GET, "/comments?status=pending".into(), None, Role::Editor),
        (Method::PATCH, "/comments/987654".into(), Some(json!({"status": "spam"})), Role::Editor),
        (Method::DELETE, "/comments/987654".into(), None, Role::Editor),
        (Method::GET, "/subscribers".into(), None, Role::Editor),
        (Method::PATCH, "/media/987654".into(), Some(json!({"alt_text": "Boats."})), Role::Author),
        (Method::DELETE, "/media/987654".into(), None, Role::Author),
        (Method::PATCH, "/tags/987654".into(), Some(json!({"name": "Matrix"})), Role::Editor),
        (Method::DELETE, "/tags/987654".into(), None, Role::Editor),
        // Last: it trashes the article.
        (Method::DELETE, format!("/articles/{theirs}"), None, Role::Editor),
    ];
    for (method, path, body, least) in matrix {
        for (role, token) in &tokens {
            let (status, answer) = call(&site, method.clone(), &path, Some(token), body.clone()).await;
            if *role < least {
                assert_eq!(status, 403, "{method} {path} as {role:?}: {answer}");
            } else {
                assert!(status != 403 && status != 401, "{method} {path} as {role:?}: {status} {answer}");
            }
        }
    }
    // Uploads are multipart; a text file is refused (415) once the role may upload.
    for (role, token) in &tokens {
        let (status, answer) = upload(&site, Some(token), "notes.txt", b"not an image".to_vec(), None).await;
        let expected = if *role < Role::Author { StatusCode::FORBIDDEN } else { StatusCode::UNSUPPORTED_MEDIA_TYPE };
        assert_eq!(status, expected, "POST /media as {role:?}: {answer}");
    }
    site.finish().await;
}

/// Sends `POST /api/v1/media` as `multipart/form-data` with a `file` part (and `alt`).
async fn upload(
    site: &TestSite,
    token: Option<&str>,
    name: &str,
    bytes: Vec<u8>,
    alt: Option<&str>,
) -> (StatusCode, Value) {
    use reqwest::multipart::{Form, Part};
    let mut form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    if let Some(alt) = alt {
        form = form.text("alt", alt.to_string());
    }
    let mut request = site.client.post(format!("{}/api/v1/media", site.base)).multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("upload");
    (response.status(), response.json().await.expect("JSON answer"))
}

/// A PNG of `width`×`height` pixels of noise, which compresses badly: a large file from a small image.
fn noise_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let pixels = image::RgbaImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        image::Rgba(state.to_le_bytes())
    });
    let mut png = Vec::new();
    pixels.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).expect("encoding a PNG");
    png
}

on_each_backend!(images_are_uploaded_described_and_deleted_through_the_api);
async fn images_are_uploaded_described_and_deleted_through_the_api(backend: Backend) {
    // Above the site-wide body limit (2 MiB): uploads have their own.
    let site = TestSite::start_with(backend, "[media]\nmax_upload_bytes = 3000000\n").await;
    let author = user_with_token(&site, "otto", Role::Author).await;
    let other = user_with_token(&site, "ada", Role::Author).await;
    let editor = user_with_token(&site, "edda", Role::Editor).await;
    let contributor = user_with_token(&site, "cora", Role::Contributor).await;

    let png = noise_png(800, 700);
    assert!(png.len() > 2 * 1024 * 1024 && png.len() < 3_000_000, "{} bytes", png.len());
    let (status, item) = upload(&site, Some(&author), "Harbour at dawn.png", png.clone(), Some("Boats")).await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    assert_eq!((item["width"].as_i64(), item["height"].as_i64()), (Some(800), Some(700)));
    assert_eq!((item["alt_text"].as_str(), item["uploader"].as_str()), (Some("Boats"), Some("otto")));
    assert_eq!(item["content_type"], "image/png");
    assert!(!item["sizes"].as_array().unwrap().is_empty(), "responsive copies: {item}");
    let id = item["id"].as_i64().unwrap();
    let url = item["url"].as_str().unwrap().to_string();
    let served = site.get(&url).await;
    assert_eq!(served.status(), 200, "{url}");
    let bytes = served.bytes().await.unwrap();
    assert_eq!(image::load_from_memory(&bytes).expect("a served image").width(), 800);
    let (_, one) = get(&site, &format!("/media/{id}"), Some(&author)).await;
    assert_eq!(one["url"], url.as_str());

    // The same image again is the same entry.
    let (status, again) = upload(&site, Some(&other), "copy.png", png, None).await;
    assert_eq!((status, again["id"].as_i64()), (StatusCode::OK, Some(id)), "{again}");

    // Refusals name the field; none stores anything.
    let (status, body) = upload(&site, Some(&author), "photo.png", b"just some text".to_vec(), None).await;
    assert_eq!(
        error_field(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").as_deref(),
        Some("file")
    );
    let small = noise_png(40, 30);
    let (status, body) = upload(&site, Some(&author), "cut.png", small[..small.len() / 2].to_vec(), None).await;
    assert_eq!(error_field(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid").as_deref(), Some("file"));
    let (status, body) = upload(&site, Some(&author), "big.png", vec![0; 3_100_000], None).await;
    assert_eq!(error_field(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").as_deref(), Some("file"));
    let (status, body) = upload(&site, Some(&author), "a.png", small.clone(), Some(&"x".repeat(501))).await;
    assert_eq!(error_field(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid").as_deref(), Some("alt"));
    let (status, body) = call(&site, Method::POST, "/media", Some(&author), Some(json!({"file": "x"}))).await;
    assert_eq!(
        error_field(status, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").as_deref(),
        Some("file")
    );
    let (status, body) = upload(&site, Some(&contributor), "a.png", small.clone(), None).await;
    error_field(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = upload(&site, None, "a.png", small, None).await;
    error_field(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    let (_, listing) = get(&site, "/media", Some(&author)).await;
    assert_eq!(listing["total_items"], 1, "{listing}");

    // Alt text and delete: one's own uploads; an editor's any.
    let alt = |token: String, text: &'static str| {
        let site = &site;
        async move {
            call(site, Method::PATCH, &format!("/media/{id}"), Some(&token), Some(json!({"alt_text": text}))).await
        }
    };
    let (status, body) = alt(other.clone(), "Mine now").await;
    error_field(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, body) = alt(author.clone(), "Fishing boats at dawn").await;
    assert_eq!((status, body["alt_text"].as_str()), (StatusCode::OK, Some("Fishing boats at dawn")), "{body}");
    assert!(body["markdown"].as_str().unwrap().starts_with("![Fishing boats at dawn]("), "{body}");
    let (status, body) = alt(editor.clone(), "Boats in the harbour").await;
    assert_eq!((status, body["alt_text"].as_str()), (StatusCode::OK, Some("Boats in the harbour")), "{body}");
    let (status, body) = alt(author.clone(), "two\nlines").await;
    assert_eq!(error_field(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid").as_deref(), Some("alt_text"));
    let (_, one) = get(&site, &format!("/media/{id}"), Some(&author)).await;
    assert_eq!(one["alt_text"], "Boats in the harbour", "a refused edit changes nothing");

    let (status, body) = call(&site, Method::DELETE, &format!("/media/{id}"), Some(&other), None).await;
    error_field(status, &body, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = call(&site, Method::DELETE, &format!("/media/{id}"), Some(&author), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = get(&site, &format!("/media/{id}"), Some(&author)).await;
    error_field(status, &body, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(site.fetch(&url).await.0, 404, "its files are gone");
    let (status, body) = call(&site, Method::DELETE, &format!("/media/{id}"), Some(&editor), None).await;
    error_field(status, &body, StatusCode::NOT_FOUND, "not_found");
    site.finish().await;
}

on_each_backend!(tags_are_renamed_merged_and_deleted_by_editors);
async fn tags_are_renamed_merged_and_deleted_by_editors(backend: Backend) {
    let site = TestSite::start(backend).await;
    let editor = user_with_token(&site, "edda", Role::Editor).await;
    let author = user_with_token(&site, "otto", Role::Author).await;
    let (status, article) = call(
        &site,
        Method::POST,
        "/articles",
        Some(&author),
        Some(json!({"title": "Ferry timetable", "tags": ["Harbour", "harbor-news", "Ports"]})),
    )
    .await;
    assert_eq!(status, 201, "{article}");
    let article_id = article["id"].as_i64().unwrap();
    let tag_ids = || async {
        let (_, tags) = get(&site, "/tags?per_page=100", Some(&editor)).await;
        tags["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["slug"].as_str().unwrap().to_string(), t["id"].as_i64().unwrap()))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let article_tags = || async {
        let (_, article) = get(&site, &format!("/articles/{article_id}"), Some(&editor)).await;
        article["tags"].as_array().unwrap().iter().map(|t| t["slug"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let ids = tag_ids().await;
    let (harbour, harbor, ports) = (ids["harbour"], ids["harbor-news"], ids["ports"]);

    // Refused below editor, or without a token, and nothing changes.
    for (token, expected) in [(None, StatusCode::UNAUTHORIZED), (Some(author.as_str()), StatusCode::FORBIDDEN)] {
        let path = format!("/tags/{harbour}");
        let (status, _) = call(&site, Method::PATCH, &path, token, Some(json!({"name": "Seized"}))).await;
        assert_eq!(status, expected);
        let (status, _) = call(&site, Method::DELETE, &path, token, None).await;
        assert_eq!(status, expected);
    }
    assert_eq!(tag_ids().await, ids);

    let (status, renamed) = call(
        &site,
        Method::PATCH,
        &format!("/tags/{harbour}"),
        Some(&editor),
        Some(json!({"name": "Harbours", "slug": "harbours"})),
    )
    .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(
        (renamed["id"].as_i64(), renamed["name"].as_str(), renamed["slug"].as_str(), renamed["articles"].as_i64()),
        (Some(harbour), Some("Harbours"), Some("harbours"), Some(1))
    );
    // A new name alone keeps the slug.
    let (_, renamed) =
        call(&site, Method::PATCH, &format!("/tags/{harbour}"), Some(&editor), Some(json!({"name": "Harbour life"})))
            .await;
    assert_eq!((renamed["name"].as_str(), renamed["slug"].as_str()), (Some("Harbour life"), Some("harbours")));
    for (body, field) in [
        (json!({"slug": "ports"}), "slug"),
        (json!({"slug": "Not A Slug"}), "slug"),
        (json!({"name": "  "}), "name"),
        // The document's 80-character limit counts what is sent, trailing spaces too.
        (json!({"name": format!("{}   ", "n".repeat(78))}), "name"),
        (json!({"colour": "red"}), "colour"),
    ] {
        let (status, error) =
            call(&site, Method::PATCH, &format!("/tags/{harbour}"), Some(&editor), Some(body.clone())).await;
        assert_eq!(
            error_field(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "invalid").as_deref(),
            Some(field),
            "{body}"
        );
    }
    // serde would read a struct from an array of its fields; the API takes objects only.
    let (status, error) =
        call(&site, Method::PATCH, &format!("/tags/{harbour}"), Some(&editor), Some(json!(["Seized", null]))).await;
    error_field(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let (status, error) = call(&site, Method::PATCH, "/tags/987654", Some(&editor), Some(json!({"name": "X"}))).await;
    error_field(status, &error, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(article_tags().await, ["harbours", "harbor-news", "ports"]);

    // Merge: the article keeps one tag for both.
    let (status, error) =
        call(&site, Method::DELETE, &format!("/tags/{harbor}?into={harbor}"), Some(&editor), None).await;
    assert_eq!(error_field(status, &error, StatusCode::UNPROCESSABLE_ENTITY, "invalid").as_deref(), Some("into"));
    let (status, error) = call(&site, Method::DELETE, &format!("/tags/{harbor}?into=abc"), Some(&editor), None).await;
    assert_eq!(error_field(status, &error, StatusCode::BAD_REQUEST, "invalid_parameter").as_deref(), Some("into"));
    let (status, _) = call(&site, Method::DELETE, &format!("/tags/{harbor}?into={harbour}"), Some(&editor), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut tags = article_tags().await;
    tags.sort();
    assert_eq!(tags, ["harbours", "ports"]);
    assert!(!tag_ids().await.contains_key("harbor-news"));

    // Delete: the article loses the tag.
    let (status, _) = call(&site, Method::DELETE, &format!("/tags/{ports}"), Some(&editor), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(article_tags().await, ["harbours"]);
    let (status, error) = call(&site, Method::DELETE, &format!("/tags/{ports}"), Some(&editor), None).await;
    error_field(status, &error, StatusCode::NOT_FOUND, "not_found");
    site.finish().await;
}

on_each_backend!(an_article_filed_under_several_sections_is_in_each_and_a_sticky_one_leads);
/// A newsroom files a story under a primary section and further ones, and pins a lead story:
/// through the API, and as readers see it (each section's archive and feed, the article's
/// labels, the lead block on the home page and the sections' first pages), and it follows
/// changes. Unknown or too many sections are refused at the field, and nothing changes.
async fn an_article_filed_under_several_sections_is_in_each_and_a_sticky_one_leads(backend: Backend) {
    let site = TestSite::start(backend).await;
    let token = admin_token(&site).await;
    let (_, categories) = get(&site, "/categories?per_page=100", None).await;
    let id_of = |name: &str| {
        let found = categories["items"].as_array().unwrap().iter().find(|c| c["name"] == name);
        found.unwrap_or_else(|| panic!("{name}: {categories}"))["id"].as_i64().unwrap()
    };
    let (economy, climate, culture) = (id_of("Economy"), id_of("Climate"), id_of("Culture"));
    let new = json!({
        "title": "Harbour levy funds the flood barrier", "body": "The council voted.",
        "category_id": economy, "further_category_ids": [climate, culture], "sticky": true, "status": "published",
    });
    let (status, created) = call(&site, Method::POST, "/articles", Some(&token), Some(new)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (id, slug) = (created["id"].as_i64().unwrap(), created["slug"].as_str().unwrap().to_string());
    let names: Vec<&str> =
        created["categories"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Economy", "Climate", "Culture"], "the primary first");
    assert_eq!(created["sticky"], true);

    let listed = |path: &'static str| {
        let site = &site;
        async move {
            site.settle().await;
            let html = site.fetch(path).await.1;
            (common::desk::texts_of(&html, ".lead-stories .card-title"), common::desk::texts_of(&html, ".card-title"))
        }
    };
    let title = "Harbour levy funds the flood barrier".to_string();
    for path in ["/category/economy", "/category/climate", "/category/culture", "/"] {
        let (leads, cards) = listed(path).await;
        assert_eq!(leads, std::slice::from_ref(&title), "{path} leads with it");
        assert_eq!(cards.iter().filter(|t| **t == title).count(), 1, "{path} shows it once: {cards:?}");
    }
    assert!(listed("/category/technology").await.1.iter().all(|t| *t != title));
    let page = site.fetch(&format!("/article/{slug}")).await.1;
    assert_eq!(common::desk::texts_of(&page, "article header .label"), ["Economy", "Climate", "Culture"]);
    assert!(site.fetch("/category/culture/feed").await.1.contains(&title), "the section's feed");

    // Refused at the field: an unknown section, too many; nothing changes.
    for (further, field) in
        [(json!([999_999]), "further_category_ids"), (json!((1..=11).collect::<Vec<i64>>()), "further_category_ids")]
    {
        let (status, body) = call(
            &site,
            Method::PATCH,
            &format!("/articles/{id}"),
            Some(&token),
            Some(json!({ "further_category_ids": further })),
        )
        .await;
        assert_eq!(error_field(status, &body, StatusCode::UNPROCESSABLE_ENTITY, "invalid").as_deref(), Some(field));
    }
    assert_eq!(get(&site, &format!("/articles/{id}"), Some(&token)).await.1["categories"].as_array().unwrap().len(), 3);

    // Filed under fewer sections and no longer pinned: the pages follow.
    let patch = json!({ "further_category_ids": [climate], "sticky": false });
    let (status, changed) = call(&site, Method::PATCH, &format!("/articles/{id}"), Some(&token), Some(patch)).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert!(listed("/category/culture").await.1.iter().all(|t| *t != title), "gone from Culture");
    let (leads, cards) = listed("/category/climate").await;
    assert!(leads.is_empty() && cards.contains(&title), "still in Climate, not leading: {leads:?}");
    assert!(listed("/").await.0.is_empty(), "no lead story on the home page");
    site.finish().await;
}
