//! The admin desk's content screens over real HTTP, signed in with a cookie, on SQLite and
//! PostgreSQL: writing, publishing, unpublishing, trashing and restoring through the forms and
//! seeing it on the public site; role rules; revisions; autosave; bad input.

#[macro_use]
mod common;

use common::desk::{input_value, texts_of, Desk};
use common::{Backend, TestSite};
use openvoice::accounts::Role;
use openvoice::content::model::Status;
use openvoice::content::{queries, service};
use reqwest::header::LOCATION;
use reqwest::StatusCode;

/// The article id in a `303 /admin/articles/{id}?…` answer.
fn saved_id(response: &reqwest::Response) -> i64 {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a save answers 303");
    let location = response.headers()[LOCATION].to_str().unwrap();
    let rest = location.strip_prefix("/admin/articles/").unwrap_or_else(|| panic!("redirect to {location}"));
    rest.split('?').next().unwrap().parse().unwrap()
}

async fn status_of(site: &TestSite, id: i64) -> Status {
    queries::reading::find_by_id(&site.db, id).await.expect("article").summary.status
}

async fn count_articles(site: &TestSite) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM articles").fetch_one(&site.db.pool).await.unwrap()
}

/// An article form with the usual fields; `extra` overrides or adds.
fn article_form<'a>(title: &'a str, body: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![("title", title), ("body", body), ("excerpt", ""), ("tags", ""), ("action", "save")];
    for (name, value) in extra {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    form
}

async fn public_status(site: &TestSite, path: &str) -> (u16, String) {
    site.settle().await;
    site.fetch(path).await
}

on_each_backend!(write_publish_unpublish_trash_restore_through_the_forms);
async fn write_publish_unpublish_trash_restore_through_the_forms(backend: Backend) {
    let site = TestSite::start(backend).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;

    let page = editor.get(&site, "/admin/articles/new").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert_eq!(input_value(&html, "csrf"), editor.csrf, "the editor form carries the CSRF secret");
    let category_id = queries::terms::category_by_slug(&site.db, "technology").await.expect("a demo category").id;
    let category = category_id.to_string();

    // A draft: saved, not public.
    let body = "The harbour **reopened** today.\n\nShips queued since dawn.";
    let form = article_form(
        "Harbour reopens",
        body,
        &[("tags", "ports, Shipping"), ("category", &category), ("slug", "harbour-reopens")],
    );
    let id = saved_id(&editor.post_form(&site, "/admin/articles/new", &form).await);
    let article = queries::reading::find_by_id(&site.db, id).await.unwrap();
    assert_eq!(article.summary.status, Status::Draft);
    assert_eq!(article.summary.category.as_ref().map(|c| c.id), Some(category_id));
    let mut tags: Vec<&str> = article.tags.iter().map(|t| t.slug.as_str()).collect();
    tags.sort();
    assert_eq!(tags, ["ports", "shipping"]);
    assert_eq!(public_status(&site, "/article/harbour-reopens").await.0, 404, "a draft is not public");
    let list = editor.get(&site, "/admin/articles?status=draft").await.text().await.unwrap();
    assert!(texts_of(&list, "a.article-title").contains(&"Harbour reopens".to_string()), "{list}");

    // Published from the editor: on the article page and in the feed.
    let tags = ("tags", "ports, Shipping");
    let form = article_form("Harbour reopens", body, &[("category", &category), tags, ("action", "publish")]);
    assert_eq!(saved_id(&editor.post_form(&site, &format!("/admin/articles/{id}"), &form).await), id);
    let (status, html) = public_status(&site, "/article/harbour-reopens").await;
    assert_eq!(status, 200);
    assert!(html.contains("Harbour reopens") && html.contains("<strong>reopened</strong>"), "{html}");
    assert!(site.fetch("/feed").await.1.contains("Harbour reopens"), "in the feed");
    assert!(site.fetch("/tag/ports").await.1.contains("Harbour reopens"), "in its tags' archives");

    // An edit of the published article changes the live text and keeps a revision.
    let edited = "The harbour reopened today after the storm.";
    let form = article_form("Harbour reopens", edited, &[("category", &category), tags]);
    saved_id(&editor.post_form(&site, &format!("/admin/articles/{id}"), &form).await);
    assert_eq!(status_of(&site, id).await, Status::Published, "Update keeps it published");
    assert!(public_status(&site, "/article/harbour-reopens").await.1.contains("after the storm"));
    assert!(queries::revisions::count_revisions(&site.db, id).await.unwrap() >= 2);

    // Unpublished: gone from the site and the feed.
    let form = article_form("Harbour reopens", edited, &[tags, ("action", "unpublish")]);
    saved_id(&editor.post_form(&site, &format!("/admin/articles/{id}"), &form).await);
    assert_eq!(status_of(&site, id).await, Status::Draft);
    assert_eq!(public_status(&site, "/article/harbour-reopens").await.0, 404);
    assert!(!site.fetch("/feed").await.1.contains("Harbour reopens"));
    assert!(!site.fetch("/tag/ports").await.1.contains("Harbour reopens"), "gone from its tags' archives");

    // Published again from the list, then trashed: gone from pages, feeds, search, sitemap.
    let list_action = |action: &'static str| [("action", action), ("back", "/admin/articles?status=published")];
    let response = editor.post_form(&site, &format!("/admin/articles/{id}/status"), &list_action("publish")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/admin/articles?status=published&done=published");
    assert_eq!(public_status(&site, "/article/harbour-reopens").await.0, 200);
    assert!(site.fetch("/sitemap/posts-1.xml").await.1.contains("harbour-reopens"));
    assert!(site.fetch("/tag/shipping").await.1.contains("Harbour reopens"), "back in its tags' archives");
    let response = editor.post_form(&site, &format!("/admin/articles/{id}/status"), &list_action("trash")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&site, id).await, Status::Trashed);
    assert_eq!(public_status(&site, "/article/harbour-reopens").await.0, 404);
    assert!(!site.fetch("/feed").await.1.contains("Harbour reopens"));
    assert!(!site.fetch("/sitemap/posts-1.xml").await.1.contains("harbour-reopens"));
    assert!(!site.fetch("/search?q=harbour").await.1.contains("Harbour reopens"));
    assert!(!site.fetch("/category/technology").await.1.contains("Harbour reopens"));
    assert!(!site.fetch("/tag/shipping").await.1.contains("Harbour reopens"));
    let list = editor.get(&site, "/admin/articles").await.text().await.unwrap();
    assert!(!texts_of(&list, "a.article-title").contains(&"Harbour reopens".to_string()), "not in the list");
    let trash = editor.get(&site, "/admin/articles?status=trashed").await.text().await.unwrap();
    assert!(texts_of(&trash, "a.article-title").contains(&"Harbour reopens".to_string()), "in the trash");

    // In the trash it cannot be edited: restore first.
    let form = article_form("Harbour reopens", "Edited in the trash.", &[]);
    let response = editor.post_form(&site, &format!("/admin/articles/{id}"), &form).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(texts_of(&response.text().await.unwrap(), "#status-error")[0].contains("restore"));
    assert_eq!(status_of(&site, id).await, Status::Trashed);

    // Restored: a draft again, still not public.
    let response = editor.post_form(&site, &format!("/admin/articles/{id}/status"), &list_action("restore")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&site, id).await, Status::Draft);
    assert_eq!(public_status(&site, "/article/harbour-reopens").await.0, 404);

    // Scheduled for later from the editor: the job publishes it at that time.
    let form = article_form("Harbour reopens", edited, &[("action", "schedule"), ("publish_at", "2099-01-01T09:00")]);
    saved_id(&editor.post_form(&site, &format!("/admin/articles/{id}"), &form).await);
    let article = queries::reading::find_by_id(&site.db, id).await.unwrap();
    assert_eq!(article.summary.status, Status::Scheduled);
    assert_eq!(article.summary.scheduled_at, Some(4070941200));
    site.finish().await;
}

on_each_backend!(roles_decide_who_may_do_what);
async fn roles_decide_who_may_do_what(backend: Backend) {
    let site = TestSite::start(backend).await;
    let contributor = Desk::sign_in(&site, Role::Contributor).await;
    let author = Desk::sign_in(&site, Role::Author).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;

    // A contributor writes drafts…
    let draft = saved_id(
        &contributor.post_form(&site, "/admin/articles/new", &article_form("Contributed", "Text.", &[])).await,
    );
    // …but cannot publish or schedule them: 403, and nothing changed.
    let before = queries::reading::find_by_id(&site.db, draft).await.unwrap();
    let form = article_form("Contributed, changed", "Other text.", &[("action", "publish")]);
    let response = contributor.post_form(&site, &format!("/admin/articles/{draft}"), &form).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let after = queries::reading::find_by_id(&site.db, draft).await.unwrap();
    assert_eq!((after.summary.status, after.summary.title.as_str()), (Status::Draft, "Contributed"));
    assert_eq!(after.summary.updated_at, before.summary.updated_at);
    let response =
        contributor.post_form(&site, &format!("/admin/articles/{draft}/status"), &[("action", "publish")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = contributor
        .post_form(&site, "/admin/articles/new", &article_form("Sneaky", "Text.", &[("action", "publish")]))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response =
        contributor.post_form(&site, &format!("/admin/articles/{draft}/status"), &[("action", "trash")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&site, draft).await, Status::Draft);
    // The editor form offers a contributor no Publish button.
    let html = contributor.get(&site, &format!("/admin/articles/{draft}")).await.text().await.unwrap();
    assert!(!html.contains(r#"value="publish""#), "{html}");

    // An author publishes their own article, but not someone else's.
    let own = saved_id(
        &author
            .post_form(&site, "/admin/articles/new", &article_form("Authored", "Text.", &[("action", "publish")]))
            .await,
    );
    assert_eq!(status_of(&site, own).await, Status::Published);
    let response = author.post_form(&site, &format!("/admin/articles/{draft}/status"), &[("action", "publish")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(author.get(&site, &format!("/admin/articles/{draft}")).await.status(), StatusCode::FORBIDDEN);
    let response =
        author.post_form(&site, &format!("/admin/articles/{draft}"), &article_form("Hijacked", "Text.", &[])).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(queries::reading::find_by_id(&site.db, draft).await.unwrap().summary.title, "Contributed");
    // Lists show a contributor or author their own articles only.
    let list = author.get(&site, "/admin/articles").await.text().await.unwrap();
    let titles = texts_of(&list, "a.article-title");
    assert!(titles.contains(&"Authored".to_string()) && !titles.contains(&"Contributed".to_string()), "{titles:?}");
    // Categories and tags are for editors.
    assert_eq!(author.get(&site, "/admin/categories").await.status(), StatusCode::FORBIDDEN);
    let response = author.post_form(&site, "/admin/categories", &[("name", "Mine")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(author.get(&site, "/admin/tags").await.status(), StatusCode::FORBIDDEN);

    // An editor publishes anyone's article; then its contributor may no longer edit it.
    let response = editor.post_form(&site, &format!("/admin/articles/{draft}/status"), &[("action", "publish")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(status_of(&site, draft).await, Status::Published);
    let response = contributor
        .post_form(&site, &format!("/admin/articles/{draft}"), &article_form("Contributed", "Changed live.", &[]))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(queries::reading::find_by_id(&site.db, draft).await.unwrap().body_md, "Text.");
    let list = editor.get(&site, "/admin/articles").await.text().await.unwrap();
    let titles = texts_of(&list, "a.article-title");
    assert!(titles.contains(&"Authored".to_string()) && titles.contains(&"Contributed".to_string()));

    // Without a session: pages go to the login, forms are refused.
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = anonymous.get(format!("{}/admin/articles", site.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = anonymous
        .post(format!("{}/admin/articles/{draft}/status", site.base))
        .form(&[("action", "trash")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A form without the session's CSRF secret is refused.
    let response = editor
        .client
        .post(format!("{}/admin/articles/{draft}/status", site.base))
        .form(&[("csrf", "forged"), ("action", "trash")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(status_of(&site, draft).await, Status::Published);
    site.finish().await;
}

on_each_backend!(revisions_diff_and_restore);
async fn revisions_diff_and_restore(backend: Backend) {
    let site = TestSite::start(backend).await;
    let author = Desk::sign_in(&site, Role::Author).await;
    let first = "First line.\nKept line.\nOld ending.";
    let excerpt = [("excerpt", "Fixed excerpt.")];
    let form = article_form("Versions", first, &excerpt);
    let id = saved_id(&author.post_form(&site, "/admin/articles/new", &form).await);
    let second = "First line.\nKept line.\nNew ending.";
    let form = article_form("Versions", second, &excerpt);
    saved_id(&author.post_form(&site, &format!("/admin/articles/{id}"), &form).await);

    let html = author.get(&site, &format!("/admin/articles/{id}/revisions")).await.text().await.unwrap();
    assert_eq!(texts_of(&html, "tr.diff-delete pre"), ["Old ending."], "{html}");
    assert_eq!(texts_of(&html, "tr.diff-insert pre"), ["New ending."]);
    assert!(texts_of(&html, "tr.diff-equal pre").contains(&"Kept line.".to_string()));
    let (_, revisions) = service::revisions::revisions(&site.db, &actor(&site, &author).await, id).await.unwrap();
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0].body_md, first);

    // Restoring makes the old text current and keeps the replaced one as a revision.
    let rev = revisions[0].id;
    let response = author.post_form(&site, &format!("/admin/articles/{id}/revisions/{rev}/restore"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(queries::reading::find_by_id(&site.db, id).await.unwrap().body_md, first);
    let revisions = queries::revisions::revisions(&site.db, id).await.unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0].body_md, second, "the replaced text is the newest revision");

    // Another author may not read or restore them.
    let other = Desk::sign_in(&site, Role::Author).await;
    assert_eq!(other.get(&site, &format!("/admin/articles/{id}/revisions")).await.status(), StatusCode::FORBIDDEN);
    let response = other.post_form(&site, &format!("/admin/articles/{id}/revisions/{rev}/restore"), &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    site.finish().await;
}

async fn actor(site: &TestSite, desk: &Desk) -> service::Actor {
    let user = openvoice::accounts::find_by_username(&site.db, &desk.username).await.unwrap();
    service::Actor { user_id: user.id, role: Role::parse(&user.role).unwrap() }
}

on_each_backend!(autosave_never_touches_the_published_text);
async fn autosave_never_touches_the_published_text(backend: Backend) {
    let site = TestSite::start(backend).await;
    let author = Desk::sign_in(&site, Role::Author).await;
    let form = article_form("Live story", "The live text.", &[("action", "publish"), ("slug", "live-story")]);
    let id = saved_id(&author.post_form(&site, "/admin/articles/new", &form).await);
    let epoch = site.db.content_epoch().await.unwrap();

    let response = author
        .post_form(
            &site,
            &format!("/admin/articles/{id}/autosave"),
            &[("title", "Live story"), ("excerpt", ""), ("body", "Half-written new text.")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let json: serde_json::Value = response.json().await.unwrap();
    assert!(json["saved_at"].as_i64().is_some(), "{json}");

    let (status, html) = public_status(&site, "/article/live-story").await;
    assert_eq!(status, 200);
    assert!(html.contains("The live text.") && !html.contains("Half-written"), "{html}");
    let article = queries::reading::find_by_id(&site.db, id).await.unwrap();
    assert_eq!((article.summary.status, article.body_md.as_str()), (Status::Published, "The live text."));
    assert_eq!(site.db.content_epoch().await.unwrap(), epoch, "no page changed");

    // The editor offers the autosave, and loads it on request.
    let html = author.get(&site, &format!("/admin/articles/{id}")).await.text().await.unwrap();
    assert!(html.contains(&format!("/admin/articles/{id}?autosave=1")), "{html}");
    assert_eq!(texts_of(&html, "textarea#body"), ["The live text."]);
    let html = author.get(&site, &format!("/admin/articles/{id}?autosave=1")).await.text().await.unwrap();
    assert_eq!(texts_of(&html, "textarea#body"), ["Half-written new text."]);

    // Someone else's article cannot be autosaved; nor by a session without the CSRF secret.
    let other = Desk::sign_in(&site, Role::Author).await;
    let response = other.post_form(&site, &format!("/admin/articles/{id}/autosave"), &[("body", "Defaced.")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // Saving for real drops the autosave.
    let form = article_form("Live story", "Half-written new text, finished.", &[]);
    saved_id(&author.post_form(&site, &format!("/admin/articles/{id}"), &form).await);
    let html = author.get(&site, &format!("/admin/articles/{id}")).await.text().await.unwrap();
    assert!(!html.contains("?autosave=1"), "no stale autosave offered");
    site.finish().await;
}

on_each_backend!(bad_input_is_shown_at_each_field_and_nothing_is_saved);
async fn bad_input_is_shown_at_each_field_and_nothing_is_saved(backend: Backend) {
    let site = TestSite::start(backend).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;
    let before = count_articles(&site).await;

    let form = article_form(
        "   ",
        "Body the writer typed & kept.",
        &[
            ("slug", "Not A Slug"),
            ("featured_image", "javascript:alert(1)"),
            ("category", "abc"),
            ("action", "schedule"),
        ],
    );
    let response = editor.post_form(&site, "/admin/articles/new", &form).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    for field in ["title", "slug", "featured_image", "category", "publish_at"] {
        assert_eq!(texts_of(&html, &format!("#{field}-error")).len(), 1, "a message at {field}: {html}");
    }
    assert_eq!(texts_of(&html, "textarea#body"), ["Body the writer typed & kept."], "input kept");
    assert_eq!(input_value(&html, "slug"), "Not A Slug");
    assert_eq!(count_articles(&site).await, before, "nothing saved");

    // A slug another article has: the message is at the slug, the article unchanged.
    let taken = queries::reading::list_all(&site.db, 1).await.unwrap().remove(0).slug;
    let id = saved_id(&editor.post_form(&site, "/admin/articles/new", &article_form("Fine", "Fine.", &[])).await);
    let form = article_form("Fine, edited", "Edited.", &[("slug", &taken)]);
    let response = editor.post_form(&site, &format!("/admin/articles/{id}"), &form).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert!(texts_of(&html, "#slug-error")[0].contains("already used"), "{html}");
    assert_eq!(input_value(&html, "title"), "Fine, edited");
    assert_eq!(queries::reading::find_by_id(&site.db, id).await.unwrap().summary.title, "Fine");

    // A body over the limit is refused at the body field.
    let huge = "x".repeat(site.config.content.max_article_bytes + 1);
    let response = editor.post_form(&site, "/admin/articles/new", &article_form("Huge", &huge, &[])).await;
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(count_articles(&site).await, before + 1);

    // Unknown ids and garbage paths are 4xx, never 500.
    assert_eq!(editor.get(&site, "/admin/articles/999999").await.status(), StatusCode::NOT_FOUND);
    assert!(editor.get(&site, "/admin/articles/abc").await.status().is_client_error());
    let response = editor.post_form(&site, "/admin/articles/999999/status", &[("action", "trash")]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = editor.post_form(&site, &format!("/admin/articles/{id}/status"), &[("action", "explode")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    site.finish().await;
}

on_each_backend!(live_preview_renders_like_the_site_and_needs_the_csrf_header);
async fn live_preview_renders_like_the_site_and_needs_the_csrf_header(backend: Backend) {
    let site = TestSite::start(backend).await;
    let author = Desk::sign_in(&site, Role::Author).await;
    let url = format!("{}/admin/preview", site.base);
    let markdown = "# Hello\n\n*world* <script>alert(1)</script>";
    let response = author.client.post(&url).body(markdown).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "no CSRF header");
    let response = author.client.post(&url).header("x-csrf-token", &author.csrf).body(markdown).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Hello</h1>") && html.contains("<em>world</em>"), "{html}");
    assert!(!html.contains("<script"), "sanitised as the site does: {html}");
    assert_eq!(html, openvoice::content::markdown::render(markdown).html);
    site.finish().await;
}

on_each_backend!(categories_and_tags_are_managed);
async fn categories_and_tags_are_managed(backend: Backend) {
    let site = TestSite::start(backend).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;

    let response = editor
        .post_form(&site, "/admin/categories", &[("name", "Harbours"), ("slug", ""), ("description", "Ports.")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let parent = queries::terms::category_by_slug(&site.db, "harbours").await.unwrap();
    let response =
        editor.post_form(&site, "/admin/categories", &[("name", "Docks"), ("parent", &parent.id.to_string())]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let child = queries::terms::category_by_slug(&site.db, "docks").await.unwrap();
    // A category cannot become its own descendant's child.
    let response = editor
        .post_form(
            &site,
            &format!("/admin/categories/{}", parent.id),
            &[("name", "Harbours"), ("parent", &child.id.to_string())],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert_eq!(texts_of(&html, "#parent-error").len(), 1, "{html}");
    // A duplicate: a message at the field, the input kept.
    let response = editor.post_form(&site, "/admin/categories", &[("name", "Docks"), ("description", "Again")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    // Name and derived slug are both taken; a backend names the first constraint it checks.
    let messages = [texts_of(&html, "#name-error"), texts_of(&html, "#slug-error")].concat();
    assert_eq!(messages.len(), 1, "{html}");
    assert_eq!(texts_of(&html, "textarea#description"), ["Again"]);

    // Renamed: the public archive follows.
    let response = editor
        .post_form(
            &site,
            &format!("/admin/categories/{}", parent.id),
            &[("name", "Ports"), ("slug", "ports"), ("description", "Harbours and docks.")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let parent_id = parent.id.to_string();
    let form = article_form(
        "Dock news",
        "Text.",
        &[("category", &parent_id), ("action", "publish"), ("tags", "cranes, Ships")],
    );
    let id = saved_id(&editor.post_form(&site, "/admin/articles/new", &form).await);
    let (status, html) = public_status(&site, "/category/ports").await;
    assert_eq!(status, 200);
    assert!(html.contains("Dock news"));

    // Deleted: its article is uncategorised, its child moves up.
    let response = editor.post_form(&site, &format!("/admin/categories/{}/delete", parent.id), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(queries::reading::find_by_id(&site.db, id).await.unwrap().summary.category.is_none());
    let entries = service::terms::category_entries(&site.db).await.unwrap();
    let docks = entries.iter().find(|c| c.category.slug == "docks").unwrap();
    assert_eq!(docks.parent_id, None);
    assert_eq!(public_status(&site, "/category/ports").await.0, 404);
    assert!(site.fetch("/article/dock-news").await.1.contains("Dock news"), "the article stays");

    // Tags: rename, then merge one into the other.
    let tags = service::terms::tag_entries(&site.db).await.unwrap();
    let cranes = tags.iter().find(|t| t.slug == "cranes").unwrap().id;
    let ships = tags.iter().find(|t| t.slug == "ships").unwrap().id;
    let response =
        editor.post_form(&site, &format!("/admin/tags/{cranes}"), &[("name", "Cranes & hoists"), ("slug", "")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(public_status(&site, "/tag/cranes-hoists").await.0, 200);
    let response =
        editor.post_form(&site, &format!("/admin/tags/{ships}"), &[("name", "Ships"), ("slug", "cranes-hoists")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "a slug another tag has");
    let response =
        editor.post_form(&site, &format!("/admin/tags/{ships}/delete"), &[("into", &cranes.to_string())]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let article = queries::reading::find_by_id(&site.db, id).await.unwrap();
    assert_eq!(article.tags.iter().map(|t| t.slug.as_str()).collect::<Vec<_>>(), ["cranes-hoists"]);
    assert!(service::terms::tag_entries(&site.db).await.unwrap().iter().all(|t| t.id != ships));
    site.finish().await;
}

on_each_backend!(comments_are_moderated_from_the_desk);
async fn comments_are_moderated_from_the_desk(backend: Backend) {
    use openvoice::comments::model::CommentStatus;
    use openvoice::comments::queries::{insert, NewRow};
    let site = TestSite::start(backend).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;
    let author = Desk::sign_in(&site, Role::Author).await;
    let article = queries::reading::list_published(
        &site.db,
        openvoice::content::model::ListFilter::All,
        1,
        queries::ListFrom::Newest(0),
    )
    .await
    .unwrap()
    .remove(0);
    let row = NewRow {
        article_id: article.id,
        parent_id: None,
        thread_id: None,
        depth: 1,
        status: CommentStatus::Pending,
        author_name: "Reader Rae",
        author_email: "rae@example.org",
        author_url: "",
        avatar: "0123456789abcdef",
        ip_hash: "",
        user_agent: "test",
        content: "Waiting for a moderator.",
        content_html: "<p>Waiting for a moderator.</p>",
        content_hash: "x",
        remote: None,
        created_at: None,
    };
    let mut conn = site.db.pool.acquire().await.unwrap();
    let id = insert(&mut conn, &row, openvoice::store::now()).await.unwrap();
    drop(conn);
    let page = format!("/article/{}", article.slug);
    assert!(!public_status(&site, &page).await.1.contains("Waiting for a moderator."));

    assert_eq!(author.get(&site, "/admin/comments").await.status(), StatusCode::FORBIDDEN);
    let response = author.post_form(&site, &format!("/admin/comments/{id}/status"), &[("status", "approved")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let queue = editor.get(&site, "/admin/comments").await.text().await.unwrap();
    assert_eq!(texts_of(&queue, ".comment-author"), ["Reader Rae"], "the pending queue");

    let response = editor.post_form(&site, &format!("/admin/comments/{id}/status"), &[("status", "approved")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(public_status(&site, &page).await.1.contains("Waiting for a moderator."), "approved: public");

    let response =
        editor.post_form(&site, &format!("/admin/comments/{id}/reply"), &[("comment", "Thanks, Rae.")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let html = public_status(&site, &page).await.1;
    assert!(html.contains("Thanks, Rae.") && html.contains(&editor.username), "the reply, signed: {html}");
    let response = editor.post_form(&site, &format!("/admin/comments/{id}/reply"), &[("comment", "  ")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "an empty reply");

    let response = editor.post_form(&site, &format!("/admin/comments/{id}/status"), &[("status", "spam")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(!public_status(&site, &page).await.1.contains("Waiting for a moderator."), "spam: hidden");
    let response = editor.post_form(&site, "/admin/comments/999999/status", &[("status", "spam")]).await;
    assert!(response.status().is_client_error());

    // Many at once: the ones ticked in the queue move together; a selection naming a comment
    // that is not there moves none.
    let mut ids = Vec::new();
    for n in 0..3 {
        let text = format!("Held comment {n}.");
        let row = NewRow { content: &text, content_html: &text, ..row };
        let mut conn = site.db.pool.acquire().await.unwrap();
        ids.push(insert(&mut conn, &row, openvoice::store::now()).await.unwrap().to_string());
    }
    let queue = editor.get(&site, "/admin/comments").await.text().await.unwrap();
    assert_eq!(texts_of(&queue, "input[name=ids][form=bulk]").len(), 3, "a box to tick per comment");
    let bulk = |fields: Vec<(&'static str, String)>| {
        let (editor, site) = (&editor, &site);
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            editor.post_form(site, "/admin/comments/bulk", &fields).await
        }
    };
    let refused = bulk(vec![("status", "approved".into()), ("ids", ids[0].clone()), ("ids", "999999".into())]).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(bulk(vec![("status", "approved".into())]).await.status(), StatusCode::BAD_REQUEST, "none ticked");
    assert_eq!(bulk(vec![("status", "gone".into()), ("ids", ids[0].clone())]).await.status(), StatusCode::BAD_REQUEST);
    let html = public_status(&site, &page).await.1;
    assert!(!html.contains("Held comment 0."), "nothing moved");
    let done = bulk(vec![("status", "approved".into()), ("ids", ids[0].clone()), ("ids", ids[2].clone())]).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let html = public_status(&site, &page).await.1;
    assert!(html.contains("Held comment 0.") && html.contains("Held comment 2."), "both approved");
    assert!(!html.contains("Held comment 1."), "the one not ticked waits");
    assert_eq!(
        texts_of(&editor.get(&site, "/admin/comments").await.text().await.unwrap(), ".comment-text"),
        ["Held comment 1."]
    );
    let author_refused = author.post_form(&site, "/admin/comments/bulk", &[("status", "spam"), ("ids", &ids[1])]).await;
    assert_eq!(author_refused.status(), StatusCode::FORBIDDEN);
    site.finish().await;
}

on_each_backend!(publish_at_is_read_in_the_site_time_zone);
async fn publish_at_is_read_in_the_site_time_zone(backend: Backend) {
    let site = TestSite::start_with(backend, "[site]\ntime_zone = \"Europe/Berlin\"\n").await;
    let author = Desk::sign_in(&site, Role::Author).await;
    // 09:00 in Berlin in January is 08:00 UTC.
    let form = article_form("Berlin morning", "Text.", &[("action", "schedule"), ("publish_at", "2099-01-01T09:00")]);
    let id = saved_id(&author.post_form(&site, "/admin/articles/new", &form).await);
    let article = queries::reading::find_by_id(&site.db, id).await.unwrap();
    assert_eq!((article.summary.status, article.summary.scheduled_at), (Status::Scheduled, Some(4070937600)));
    let html = author.get(&site, &format!("/admin/articles/{id}")).await.text().await.unwrap();
    assert_eq!(input_value(&html, "publish_at"), "2099-01-01T09:00", "shown back in the same zone");
    assert!(html.contains("(Europe/Berlin)"), "{html}");
    site.finish().await;
}

on_each_backend!(the_first_autosave_of_a_new_article_makes_a_draft);
async fn the_first_autosave_of_a_new_article_makes_a_draft(backend: Backend) {
    let site = TestSite::start(backend).await;
    let contributor = Desk::sign_in(&site, Role::Contributor).await;
    let before = count_articles(&site).await;

    // No title yet: nothing is made, and the answer names the field.
    let response =
        contributor.post_form(&site, "/admin/articles/new/autosave", &[("title", ""), ("body", "Notes.")]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let json: serde_json::Value = response.json().await.unwrap();
    assert_eq!(json["error"]["field"], "title", "{json}");
    assert_eq!(count_articles(&site).await, before);

    // With a title: a draft, whatever button the form claims.
    let fields = [("title", "Early notes"), ("body", "Notes."), ("slug", "early-notes"), ("action", "publish")];
    let response = contributor.post_form(&site, "/admin/articles/new/autosave", &fields).await;
    assert_eq!(response.status(), StatusCode::OK);
    let json: serde_json::Value = response.json().await.unwrap();
    let id = json["id"].as_i64().expect("the new draft's id");
    assert_eq!(json["autosave_url"], format!("/admin/articles/{id}/autosave"));
    assert_eq!(status_of(&site, id).await, Status::Draft);
    assert_eq!(public_status(&site, "/article/early-notes").await.0, 404);
    site.finish().await;
}

on_each_backend!(a_standing_page_is_written_in_the_same_editor);
async fn a_standing_page_is_written_in_the_same_editor(backend: Backend) {
    let site = TestSite::start(backend).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;
    let form = article_form(
        "Contact us",
        "Write to the desk.",
        &[("kind", "page"), ("slug", "contact"), ("action", "publish")],
    );
    let id = saved_id(&editor.post_form(&site, "/admin/articles/new", &form).await);
    let page = queries::reading::find_by_id(&site.db, id).await.unwrap();
    assert_eq!(page.summary.kind, openvoice::content::model::ArticleKind::Page);
    let (status, html) = public_status(&site, "/contact").await;
    assert_eq!(status, 200);
    assert!(html.contains("Write to the desk."));
    assert!(!site.fetch("/feed").await.1.contains("Contact us"), "pages are not in feeds");
    site.finish().await;
}

on_each_backend!(a_published_article_keeps_its_old_url_when_its_slug_changes);
async fn a_published_article_keeps_its_old_url_when_its_slug_changes(backend: Backend) {
    let site = TestSite::start(backend).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;
    let form = article_form("Tide tables", "High water at six.", &[("slug", "tide-tables"), ("action", "publish")]);
    let id = saved_id(&editor.post_form(&site, "/admin/articles/new", &form).await);
    let form = article_form("Tide tables", "High water at six.", &[("slug", "tide-tables-2027")]);
    saved_id(&editor.post_form(&site, &format!("/admin/articles/{id}"), &form).await);

    assert_eq!(public_status(&site, "/article/tide-tables-2027").await.0, 200);
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = no_redirects.get(format!("{}/article/tide-tables", site.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY, "links to the old URL still arrive");
    assert_eq!(response.headers()[LOCATION], "/article/tide-tables-2027");

    // A draft never had readers: renaming it leaves no redirect behind.
    let form = article_form("Notes", "Draft.", &[("slug", "notes")]);
    let id = saved_id(&editor.post_form(&site, "/admin/articles/new", &form).await);
    let form = article_form("Notes", "Draft.", &[("slug", "notes-2")]);
    saved_id(&editor.post_form(&site, &format!("/admin/articles/{id}"), &form).await);
    let response = no_redirects.get(format!("{}/article/notes", site.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    site.finish().await;
}

on_each_backend!(page_views_are_counted_without_cookies_and_shown_in_the_desk);
/// Readers' page views (cached ones too) are counted in memory, written in a batch, and shown
/// on the Analytics screen with the sites they came from; robots, scripts, desk pages, assets
/// and errors are not views, and nothing is set on the reader.
async fn page_views_are_counted_without_cookies_and_shown_in_the_desk(backend: Backend) {
    let site = TestSite::start(backend).await;
    let article = "/article/parliament-approves-coastal-drone-patrols";
    let reader = |agent: &'static str| reqwest::Client::builder().user_agent(agent).build().unwrap();
    let browser =
        reader("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36");
    for referrer in [None, Some("https://www.news.example.net/story"), Some(&format!("{}/", site.base) as &str)] {
        let mut request = browser.get(format!("{}{article}", site.base));
        if let Some(referrer) = referrer {
            request = request.header("referer", referrer);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("set-cookie").is_none(), "no cookie for a reader");
    }
    assert_eq!(browser.get(format!("{}/", site.base)).send().await.unwrap().status(), 200);
    // Not views.
    let googlebot = reader("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
    assert_eq!(googlebot.get(format!("{}{article}", site.base)).send().await.unwrap().status(), 200);
    assert_eq!(reader("curl/8.5.0").get(format!("{}{article}", site.base)).send().await.unwrap().status(), 200);
    assert_eq!(browser.get(format!("{}/article/no-such-thing", site.base)).send().await.unwrap().status(), 404);
    assert_eq!(browser.get(format!("{}/static/style.css", site.base)).send().await.unwrap().status(), 200);

    openvoice::analytics::service::flush(&site.db, &site.state.page_views, 400).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT path, views FROM page_views ORDER BY path").fetch_all(&site.db.pool).await.unwrap();
    assert_eq!(rows, [("/".to_string(), 1), (article.to_string(), 3)], "{backend:?}");

    let editor = Desk::sign_in(&site, Role::Editor).await;
    let html = editor.get(&site, "/admin/analytics?days=7").await.text().await.unwrap();
    assert_eq!(texts_of(&html, "#total-views"), ["4"]);
    assert_eq!(texts_of(&html, ".top-referrers tbody td:first-child"), ["news.example.net"], "not this site itself");
    assert!(texts_of(&html, ".top-pages td").contains(&article.to_string()));
    // The dashboard charts them too: the last bar of its last chart (page views) is today's.
    let dashboard = editor.get(&site, "/admin").await.text().await.unwrap();
    let today = texts_of(&dashboard, "svg.chart rect title").pop().unwrap_or_default();
    assert!(today.ends_with(": 4"), "{today}");
    // One article's views, through the link beside it in the articles list and in its editor.
    let list = editor.get(&site, "/admin/articles?status=published").await.text().await.unwrap();
    let links = scraper::Html::parse_document(&list);
    let views = scraper::Selector::parse("a.article-views").unwrap();
    let link = links
        .select(&views)
        .filter_map(|a| a.value().attr("href"))
        .find(|href| href.contains("parliament-approves"))
        .expect("a Views link for the article")
        .to_string();
    let one = editor.get(&site, &link).await.text().await.unwrap();
    assert_eq!(texts_of(&one, "#total-views"), ["3"], "{link}");
    let id =
        queries::reading::find_by_slug(&site.db, "parliament-approves-coastal-drone-patrols").await.unwrap().summary.id;
    let edit = editor.get(&site, &format!("/admin/articles/{id}")).await.text().await.unwrap();
    assert!(edit.contains(&format!("href=\"{link}\"")), "the editor links the same report");
    let author = Desk::sign_in(&site, Role::Author).await;
    let list = author.get(&site, "/admin/articles").await.text().await.unwrap();
    assert!(texts_of(&list, "a.article-views").is_empty(), "no Views link for a role that cannot see them");
    assert_eq!(editor.get(&site, "/admin/analytics?days=12").await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(author.get(&site, "/admin/analytics").await.status(), StatusCode::FORBIDDEN);
    // The desk's own pages were not counted.
    openvoice::analytics::service::flush(&site.db, &site.state.page_views, 400).await.unwrap();
    let total: i64 =
        sqlx::query_scalar("SELECT CAST(SUM(views) AS BIGINT) FROM page_views").fetch_one(&site.db.pool).await.unwrap();
    assert_eq!(total, 4);
    site.finish().await;
}

on_each_backend!(the_editor_files_an_article_under_further_sections_and_pins_it);
/// The editor's "Also in" boxes and "Lead story" box: saved, shown ticked again, and the
/// sections' archives list the article; unticking takes it out.
async fn the_editor_files_an_article_under_further_sections_and_pins_it(backend: Backend) {
    let site = TestSite::start(backend).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;
    let id_of = |slug: &'static str| {
        let db = site.db.clone();
        async move { queries::terms::category_by_slug(&db, slug).await.expect("a demo category").id.to_string() }
    };
    let (technology, culture) = (id_of("technology").await, id_of("culture").await);
    let also_in_culture = format!("also_in_{culture}");
    let extra =
        [("category", technology.as_str()), (also_in_culture.as_str(), "1"), ("sticky", "1"), ("action", "publish")];
    let form = article_form("Museum goes digital", "The archive opens online.", &extra);
    let id = saved_id(&editor.post_form(&site, "/admin/articles/new", &form).await);

    let edit = editor.get(&site, &format!("/admin/articles/{id}")).await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&edit);
    let ticked = |name: &str| {
        let selector = scraper::Selector::parse(&format!("input[name='{name}']")).unwrap();
        doc.select(&selector).next().unwrap_or_else(|| panic!("{name}")).value().attr("checked").is_some()
    };
    assert!(ticked(&also_in_culture) && ticked("sticky"), "shown ticked again");
    assert!(!ticked(&format!("also_in_{technology}")));
    let (_, culture_page) = public_status(&site, "/category/culture").await;
    assert_eq!(texts_of(&culture_page, ".lead-stories .card-title"), ["Museum goes digital"]);

    // Unticked: out of Culture, no longer leading, still in Technology.
    let form = article_form("Museum goes digital", "The archive opens online.", &[("category", &technology)]);
    saved_id(&editor.post_form(&site, &format!("/admin/articles/{id}"), &form).await);
    let (_, culture_page) = public_status(&site, "/category/culture").await;
    assert!(!culture_page.contains("Museum goes digital"));
    let (_, technology_page) = public_status(&site, "/category/technology").await;
    assert!(texts_of(&technology_page, ".lead-stories .card-title").is_empty());
    assert!(texts_of(&technology_page, ".card-title").contains(&"Museum goes digital".to_string()));
    site.finish().await;
}
