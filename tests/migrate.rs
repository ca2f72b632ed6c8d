//! Moving in from WordPress, on every backend: the awkward fixture (CDATA, entities, nested
//! categories, Unicode, threaded and pending comments, attachments, a duplicate slug, a bad item),
//! idempotent re-runs, old URLs, malformed XML, and the CLI's summary.

#[macro_use]
mod common;

use std::path::{Path, PathBuf};

use common::{stderr, stdout, Backend, TestSite};
use openvoice::content::model::{ArticleKind, Status};
use openvoice::content::queries;
use openvoice::content::service::ContentLimits;
use openvoice::migrate::queries as migrate_queries;
use openvoice::migrate::wordpress::{self, Uploads};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wordpress").join(name)
}

fn limits() -> ContentLimits {
    ContentLimits { max_article_bytes: 1 << 20 }
}

on_each_backend!(the_awkward_export_arrives_whole_and_a_rerun_changes_nothing);
async fn the_awkward_export_arrives_whole_and_a_rerun_changes_nothing(backend: Backend) {
    let site = TestSite::start(backend).await;
    let uploads = Uploads { from: fixture("uploads"), to: site.dir.path().join("theme/static/uploads") };
    let report = wordpress::import_file(&site.db, limits(), &fixture("awkward.xml"), Some(&uploads), |_| {})
        .await
        .expect("import");

    // The absurd title is reported with its line; everything else arrives.
    assert_eq!(report.failed.len(), 1, "{backend:?}: {:?}", report.failed);
    assert!(report.failed[0].starts_with("line 181: \"Absurd Absurd"), "{:?}", report.failed);
    assert!(report.failed[0].ends_with("…\": title: must be at most 300 characters"), "{:?}", report.failed);
    assert_eq!((report.posts_created, report.pages), (5, 1), "{backend:?}: {report:?}");
    assert_eq!(report.comments, 5, "{report:?}");
    assert_eq!(report.skipped.get("pingbacks and trackbacks"), Some(&1), "{report:?}");
    assert_eq!(report.remote_media, vec!["https://old.example/wp-content/uploads/2019/05/missing.jpg"]);
    assert!(report.notes.iter().any(|n| n.contains("\"fish-and-chips\" is taken")), "{:?}", report.notes);
    assert!(report.notes.iter().any(|n| n.contains("parent 999")), "{:?}", report.notes);

    let fish = queries::reading::find_by_slug(&site.db, "fish-and-chips").await.expect("fish");
    assert_eq!(fish.summary.title, "Fish & Chips at the Café “Zoë”");
    assert_eq!(fish.summary.status, Status::Published);
    assert_eq!(fish.summary.published_at, Some(1577869920));
    assert_eq!(fish.summary.author.display_name, "Jane Doé");
    assert_eq!(fish.summary.excerpt, "Fried, & good.");
    assert_eq!(fish.summary.category.as_ref().map(|c| c.slug.as_str()), Some("quays"));
    let tags: Vec<&str> = fish.tags.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(tags, vec!["Fish", "Zoë"]);
    assert_eq!(fish.featured_image.as_deref(), Some("/static/uploads/2020/01/harbour.gif"));
    assert!(fish.body_html.contains("日本語") && !fish.body_html.contains("<script"), "{}", fish.body_html);
    assert!(fish.body_html.contains("/static/uploads/2020/01/harbour.gif"), "{}", fish.body_html);
    assert!(site.dir.path().join("theme/static/uploads/2020/01/harbour.gif").is_file());

    let ete = queries::reading::find_by_slug(&site.db, "ete").await.expect("percent-encoded Unicode slug");
    assert_eq!(ete.summary.title, "Entre deux mers : l’été");
    assert_eq!(ete.summary.author.display_name, "guest-writer");
    assert!(ete.body_html.contains("<code>&lt;tags&gt;</code>"), "{}", ete.body_html);
    let again = queries::reading::find_by_slug(&site.db, "fish-and-chips-again").await.expect("renamed duplicate");
    assert_eq!(again.summary.category.as_ref().map(|c| c.slug.as_str()), Some("harbour-news"));
    let draft = queries::reading::find_by_slug(&site.db, "a-draft-about-quays").await.expect("draft");
    assert_eq!(draft.summary.status, Status::Draft);
    let contact = queries::reading::find_by_slug(&site.db, "contact-us").await.expect("page");
    assert_eq!(contact.summary.kind, ArticleKind::Page);

    // Nested categories, whatever order the export lists them in.
    let categories = migrate_queries::categories_with_parents(&site.db).await.expect("categories");
    let parent_of = |slug: &str| categories.iter().find(|c| c.0 == slug).map(|c| c.3.clone());
    assert_eq!(parent_of("quays"), Some(Some("harbour-news".to_string())));
    assert_eq!(parent_of("harbour-news"), Some(Some("world".to_string())));
    assert_eq!(parent_of("world"), Some(None));
    assert!(categories.iter().any(|c| c.1 == "World & Weather" && c.2 == "Everything outside"), "{categories:?}");

    // Comments keep their status, threading, dates; emails stay out of the page.
    let comments = migrate_queries::comments_for_export(&site.db, fish.summary.id).await.expect("comments");
    let find = |name: &str| comments.iter().find(|c| c.3 == name).cloned().expect(name);
    let (ann, cleo, ben) = (find("Ann"), find("Cleo"), find("Ben"));
    assert_eq!((ann.1, ann.2.as_str(), ann.4.as_str(), ann.7), (None, "approved", "ann@reader.example", 1577955600));
    assert_eq!((cleo.1, cleo.2.as_str()), (Some(ann.0), "approved"));
    assert_eq!((ben.1, ben.2.as_str()), (Some(ann.0), "pending"));
    assert_eq!(find("Orphan").1, None);
    assert_eq!(find("Spammer").2, "spam");

    let (status, page) = site.fetch("/article/fish-and-chips").await;
    assert_eq!(status, 200);
    assert!(page.contains("Lovely") && page.contains("A reply — with Unicode ✓"), "{page}");
    assert!(
        !page.contains("reader.example") && !page.contains("Waiting for a moderator") && !page.contains("Buy things")
    );

    // Old URLs answer with a 301 to the new ones.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for (old, new) in [
        ("/2020/01/fish-and-chips/", "/article/fish-and-chips"),
        ("/2020/01/fish-and-chips", "/article/fish-and-chips"),
        ("/2020/04/fish-and-chips/", "/article/fish-and-chips-again"),
        ("/2020/02/%c3%a9t%c3%a9/", "/article/ete"),
        ("/contact-us/", "/contact-us"),
    ] {
        let response = client.get(format!("{}{old}", site.base)).send().await.unwrap();
        assert_eq!(response.status(), 301, "{old}");
        assert_eq!(response.headers()["location"], new, "{old}");
    }
    assert_eq!(site.fetch("/2020/09/never-existed/").await.0, 404);

    // A second run updates in place: nothing new, no duplicate comments.
    let n_articles = queries::reading::list_all(&site.db, 10_000).await.unwrap().len();
    let rerun = wordpress::import_file(&site.db, limits(), &fixture("awkward.xml"), Some(&uploads), |_| {})
        .await
        .expect("re-import");
    assert_eq!((rerun.posts_created, rerun.posts_updated), (0, 5), "{rerun:?}");
    assert_eq!((rerun.comments, rerun.comments_already_there), (0, 5), "{rerun:?}");
    assert_eq!(queries::reading::list_all(&site.db, 10_000).await.unwrap().len(), n_articles);
    assert!(queries::reading::find_by_slug(&site.db, "fish-and-chips-again-2").await.is_err());
    site.finish().await;
}

on_each_backend!(shortcodes_become_what_wordpress_showed_and_the_rest_is_reported);
async fn shortcodes_become_what_wordpress_showed_and_the_rest_is_reported(backend: Backend) {
    let site = TestSite::start(backend).await;
    let report =
        wordpress::import_file(&site.db, limits(), &fixture("shortcodes.xml"), None, |_| {}).await.expect("import");
    assert!(report.failed.is_empty(), "{backend:?}: {:?}", report.failed);
    assert_eq!((report.posts_created, report.attachments), (1, 2), "{report:?}");
    // The plugin's form is left as text and reported; prose in brackets is not.
    assert_eq!(report.shortcodes_left.iter().collect::<Vec<_>>(), [(&"contact-form-7".to_string(), &1)]);
    assert!(report.notes.iter().any(|n| n.contains("shortcodes left as text: [contact-form-7] ×1")), "{report:?}");

    let article = queries::reading::find_by_slug(&site.db, "harbour-day").await.expect("article");
    assert!(
        article.body_md.contains("\nhttps://www.youtube.com/watch?v=dQw4w9WgXcQ\n"),
        "the embed is its URL on a line of its own: {}",
        article.body_md
    );
    let (status, page) = site.fetch("/article/harbour-day").await;
    assert_eq!(status, 200);
    let uploads = "https://old.example/wp-content/uploads/2021/05";
    for shown in [
        format!("<figure class=\"wp-caption alignleft\"><img src=\"{uploads}/boats.jpg\" alt=\"Boats\" width=\"300\" height=\"200\"><figcaption>Boats at dawn</figcaption></figure>"),
        // The gallery's attachments come after the post in the export; the one missing is left out.
        format!("<figure class=\"gallery\"><img src=\"{uploads}/boats.jpg\" alt=\"\"><img src=\"{uploads}/nets.jpg\" alt=\"\"></figure>"),
        format!("<video controls=\"\" src=\"{uploads}/tide.mp4\"></video>"),
        format!("<audio controls=\"\" src=\"{uploads}/gulls.mp3\"></audio>"),
        // The embed's URL, alone on its line, is shown as a click-to-load player.
        "<span class=\"embed embed-youtube\" data-player=\"https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ\">"
            .to_string(),
        // So is the block editor's embed, the link on its own line inside its figure.
        "data-player=\"https://player.vimeo.com/video/76979871\"".to_string(),
        "[contact-form-7 id=\"5\" title=\"Tips\"]".to_string(),
        "The harbour master [sic] was not amused.".to_string(),
    ] {
        assert!(page.contains(&shown), "{backend:?}: {shown} in {page}");
    }
    assert!(!page.contains("[caption") && !page.contains("[gallery") && !page.contains("[video"), "{page}");

    // A second run converts the same body again: the article is updated, not changed.
    let rerun =
        wordpress::import_file(&site.db, limits(), &fixture("shortcodes.xml"), None, |_| {}).await.expect("re-import");
    assert_eq!((rerun.posts_created, rerun.posts_updated), (0, 1), "{rerun:?}");
    let again = queries::reading::find_by_slug(&site.db, "harbour-day").await.expect("article");
    assert_eq!(again.body_md, article.body_md);
    site.finish().await;
}

on_each_backend!(malformed_xml_is_reported_with_line_and_column_and_what_came_before_stays);
async fn malformed_xml_is_reported_with_line_and_column_and_what_came_before_stays(backend: Backend) {
    let site = TestSite::start(backend).await;
    let text = std::fs::read_to_string(fixture("awkward.xml")).unwrap();
    // Break the draft's closing title tag (line 168), after three good items.
    let broken = text.replacen("<title>A draft about quays</title>", "<title>A draft about quays</titel>", 1);
    let report = wordpress::import(&site.db, limits(), broken.as_bytes(), None, |_| {}).await.expect("import");
    let last = report.failed.last().expect("an error");
    assert!(last.starts_with("malformed XML at line 168, column"), "{last}");
    assert!(queries::reading::find_by_slug(&site.db, "ete").await.is_ok());
    assert!(queries::reading::find_by_slug(&site.db, "contact-us").await.is_err());
    // Without `--uploads`, media keep their URLs and are listed.
    assert_eq!(report.remote_media.len(), 2, "{:?}", report.remote_media);
    site.finish().await;
}

#[tokio::test]
async fn the_cli_prints_a_summary_and_fails_when_an_item_failed() {
    let site = TestSite::start(common::Backend::Sqlite).await;
    let path = fixture("awkward.xml");
    let output = site.cli(&["import", "wordpress", path.to_str().unwrap()]);
    assert!(!output.status.success());
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(out.contains("Imported 5 new and 0 updated articles (1 pages), 5 comments"), "{out}\n{err}");
    assert!(out.contains("Skipped 1: pingbacks and trackbacks"), "{out}");
    assert!(err.contains("failed: line 181:") && err.contains("missing.jpg"), "{err}");
    assert!(err.contains("1 item(s) could not be imported"), "{err}");
    site.finish().await;
}

/// Everything an export must carry, in a comparable form.
async fn snapshot(db: &openvoice::store::Db) -> Vec<String> {
    let mut lines = Vec::new();
    for summary in queries::reading::list_all(db, 100_000).await.unwrap() {
        let article = queries::reading::find_by_slug(db, &summary.slug).await.unwrap();
        let s = &article.summary;
        let tags: Vec<(String, String)> = article.tags.iter().map(|t| (t.slug.clone(), t.name.clone())).collect();
        lines.push(format!(
            "{:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            s.kind,
            s.slug,
            s.title,
            s.status,
            s.published_at.or(s.scheduled_at),
            s.author.display_name,
            s.category.as_ref().map(|c| &c.slug),
            s.excerpt,
            article.body_md,
            tags,
            article.featured_image
        ));
        let comments = migrate_queries::comments_for_export(db, s.id).await.unwrap();
        for (_, parent, status, name, email, url, content, created_at) in &comments {
            let parent_name = parent.map(|p| comments.iter().find(|c| c.0 == p).map(|c| c.3.clone()));
            lines.push(format!("  {parent_name:?} {status} {name:?} {email} {url} {content:?} {created_at}"));
        }
    }
    let mut categories: Vec<String> =
        migrate_queries::categories_with_parents(db).await.unwrap().iter().map(|c| format!("{c:?}")).collect();
    categories.sort();
    lines.extend(categories);
    lines.extend(migrate_queries::all_tags(db).await.unwrap().iter().map(|t| format!("{t:?}")));
    lines
}

on_each_backend!(a_wordpress_export_imports_into_an_empty_site_as_the_same_site);
async fn a_wordpress_export_imports_into_an_empty_site_as_the_same_site(backend: Backend) {
    let site = TestSite::start(backend).await;
    let report = wordpress::import_file(&site.db, limits(), &fixture("awkward.xml"), None, |_| {}).await.unwrap();
    assert_eq!(report.failed.len(), 1);
    let out = site.dir.path().join("export.xml");
    let output = site.cli(&["export", "wordpress", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("5 comments"), "{}", stdout(&output));

    let empty_dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(backend, empty_dir.path()).await;
    let empty = openvoice::store::Db::connect(&url, 4).await.unwrap();
    let again = wordpress::import_file(&empty, limits(), &out, None, |_| {}).await.unwrap();
    assert!(again.failed.is_empty(), "{backend:?}: {:?}", again.failed);

    let (before, after) = (snapshot(&site.db).await, snapshot(&empty).await);
    assert!(before.len() > 20, "{before:?}");
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(a, b, "{backend:?}");
    }
    assert_eq!(before.len(), after.len());
    empty.pool.close().await;
    common::drop_database(&url).await;
    site.finish().await;
}

on_each_backend!(a_markdown_batch_is_written_as_if_file_by_file);
/// `import markdown` writes a batch of files at once; the outcome must be that of saving them one
/// after the other.
async fn a_markdown_batch_is_written_as_if_file_by_file(backend: Backend) {
    use openvoice::content::import;
    let site = TestSite::start(backend).await;
    let dir = site.dir.path().join("content");
    std::fs::create_dir(&dir).unwrap();
    let post = |title: &str, slug: &str, tags: &str| {
        let slug = if slug.is_empty() { String::new() } else { format!("slug: \"{slug}\"\n") };
        format!("---\ntitle: \"{title}\"\ndate: 2021-03-04T05:06:07Z\ntags: [{tags}]\n{slug}---\nBody of {title}\n")
    };
    std::fs::write(dir.join("01.md"), post("First", "dup", "\"Shared\", \"One\"")).unwrap();
    // Refused by the checks, in the middle of the batch: the others are written without it.
    std::fs::write(dir.join("02.md"), post(&"Long ".repeat(70), "bad", "")).unwrap();
    // The same slug as 01: updates the article 01 created, keeping 01's text as a revision.
    std::fs::write(dir.join("03.md"), post("Second", "dup", "\"shared\", \"Two\"")).unwrap();
    std::fs::write(dir.join("04.md"), post("Other", "other", "\"Shared\"")).unwrap();
    // No slug from the front matter or the file name: derived from the title, which 01 took.
    std::fs::write(dir.join("_.md"), post("Dup", "", "")).unwrap();

    let report = import::import_dir(&site.db, limits(), &dir, "Batch Writer", |_, _| {}).await.unwrap();
    assert_eq!((report.created, report.updated), (3, 1), "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].contains("02.md:2:") && report.failed[0].contains("title"), "{report:?}");

    let dup = queries::reading::find_by_slug(&site.db, "dup").await.unwrap();
    assert_eq!(dup.summary.title, "Second");
    let tags: Vec<&str> = dup.tags.iter().map(|t| t.slug.as_str()).collect();
    assert_eq!(tags, ["shared", "two"]);
    let revisions = queries::revisions::revisions(&site.db, dup.summary.id).await.unwrap();
    let titles: Vec<&str> = revisions.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles, ["First"]);
    assert_eq!(queries::reading::find_by_slug(&site.db, "dup-2").await.unwrap().summary.title, "Dup");
    assert!(queries::reading::find_by_slug(&site.db, "bad").await.is_err(), "the refused file wrote nothing");

    // One tag for the three spellings, named as the first file wrote it, on both articles.
    let entries = queries::terms::tag_entries(&site.db, false).await.unwrap();
    let shared: Vec<_> = entries.iter().filter(|t| t.slug == "shared").collect();
    assert_eq!(shared.len(), 1);
    assert_eq!((shared[0].name.as_str(), shared[0].articles), ("Shared", 2));

    // Jobs and activity as one save each: a bundle and a notification per article, an
    // activity entry per file written.
    let count = |sql: &'static str| {
        let pool = site.db.pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    let bundles = count(
        "SELECT COUNT(*) FROM jobs WHERE unique_key IN \
         (SELECT 'bundle:' || id FROM articles WHERE slug IN ('dup', 'dup-2', 'other'))",
    )
    .await;
    let notifications = count(
        "SELECT COUNT(*) FROM jobs WHERE unique_key IN \
         (SELECT 'notify:' || id FROM articles WHERE slug IN ('dup', 'dup-2', 'other'))",
    )
    .await;
    assert_eq!((bundles, notifications), (3, 3));
    let activity = count(
        "SELECT COUNT(*) FROM activity WHERE kind IN ('article.created', 'article.updated') \
         AND detail IN ('dup', 'dup-2', 'other')",
    )
    .await;
    assert_eq!(activity, 4);

    // Again, over the same folder: everything updates, 01 then 03 again.
    std::fs::remove_file(dir.join("02.md")).unwrap();
    std::fs::remove_file(dir.join("_.md")).unwrap();
    let report = import::import_dir(&site.db, limits(), &dir, "Batch Writer", |_, _| {}).await.unwrap();
    assert_eq!((report.created, report.updated, report.failed.len()), (0, 3, 0), "{report:?}");
    let dup = queries::reading::find_by_slug(&site.db, "dup").await.unwrap();
    assert_eq!(dup.summary.title, "Second");
    let revisions = queries::revisions::revisions(&site.db, dup.summary.id).await.unwrap();
    let titles: Vec<&str> = revisions.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(titles, ["First", "Second", "First"], "newest first");
    site.finish().await;
}

on_each_backend!(a_value_the_database_refuses_is_traced_to_its_file);
/// A value one backend refuses fails a batch's statement without naming its file (PostgreSQL
/// takes no NUL character in text): the batch is saved file by file to find it, and the rest is
/// imported.
async fn a_value_the_database_refuses_is_traced_to_its_file(backend: Backend) {
    use common::Backend;
    use openvoice::content::import;
    let site = TestSite::start(backend).await;
    let dir = site.dir.path().join("content");
    std::fs::create_dir(&dir).unwrap();
    for (file, body) in [("a.md", "Fine"), ("b.md", "Nul \0 here"), ("c.md", "Fine too")] {
        std::fs::write(dir.join(file), format!("---\ntitle: \"Title {file}\"\n---\n{body}\n")).unwrap();
    }
    let report = import::import_dir(&site.db, limits(), &dir, "Batch Writer", |_, _| {}).await.unwrap();
    match backend {
        Backend::Sqlite => assert_eq!((report.created, report.failed.len()), (3, 0), "{report:?}"),
        Backend::Postgres => {
            assert_eq!((report.created, report.failed.len()), (2, 1), "{report:?}");
            assert!(report.failed[0].contains("b.md:1:"), "{report:?}");
        }
    }
    site.finish().await;
}
