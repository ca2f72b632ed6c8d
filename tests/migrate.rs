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
use openvoice::migrate::wordpress::{self, Kind, Media, Tally, Uploads, WarningKind};

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
    let report = wordpress::import_file(
        &site.db,
        limits(),
        &fixture("awkward.xml"),
        Media { uploads: Some(&uploads), fetching: None },
        |_| {},
    )
    .await
    .expect("import");

    // The absurd title is reported with its line; everything else arrives.
    assert_eq!(report.failed.len(), 1, "{backend:?}: {:?}", report.failed);
    let failure = report.failed[0].to_string();
    assert!(failure.starts_with("line 181: \"Absurd Absurd"), "{failure}");
    assert!(failure.ends_with("…\": title: must be at most 300 characters"), "{failure}");
    assert_eq!(report.posts_created, 5, "{backend:?}: {report:?}");
    let tally = |in_file, imported, skipped, failed| Tally { in_file, imported, skipped, failed };
    assert_eq!(report.tally(Kind::Post), tally(5, 4, 0, 1), "{report:?}");
    assert_eq!(report.tally(Kind::Page), tally(1, 1, 0, 0), "{report:?}");
    assert_eq!(report.tally(Kind::Category), tally(3, 3, 0, 0), "{report:?}");
    assert_eq!(report.tally(Kind::Tag), tally(2, 2, 0, 0), "{report:?}");
    // `jdoe` is listed; `guest-writer` is only named by a post.
    assert_eq!(report.tally(Kind::Author), tally(2, 2, 0, 0), "{report:?}");
    assert_eq!(report.tally(Kind::Comment), tally(6, 5, 1, 0), "{report:?}");
    assert_eq!(report.tally(Kind::Attachment), tally(2, 1, 1, 0), "{report:?}");
    assert_eq!(report.skipped.get("pingbacks and trackbacks"), Some(&1), "{report:?}");
    let remote: Vec<String> = report.warnings_of(WarningKind::MediaKeptRemote).map(|w| w.detail.clone()).collect();
    assert_eq!(remote, ["https://old.example/wp-content/uploads/2019/05/missing.jpg (not in the --uploads folder)"]);
    assert!(report.warnings_of(WarningKind::SlugTaken).any(|w| w.detail.contains("\"fish-and-chips\" is taken")));
    assert!(report.warnings_of(WarningKind::CommentParentMissing).any(|w| w.detail.contains("parent 999")));

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
        // WordPress's default permalinks, which work whatever the permalink setting was.
        ("/?p=10", "/article/fish-and-chips"),
        ("/?p=40&replytocom=3", "/article/fish-and-chips-again"),
        ("/?page_id=50", "/contact-us"),
        ("/?p=50", "/contact-us"),
    ] {
        let response = client.get(format!("{}{old}", site.base)).send().await.unwrap();
        assert_eq!(response.status(), 301, "{old}");
        assert_eq!(response.headers()["location"], new, "{old}");
    }
    assert_eq!(site.fetch("/2020/09/never-existed/").await.0, 404);
    let home = client.get(format!("{}/?p=12345", site.base)).send().await.unwrap();
    assert_eq!(home.status(), 200, "an unknown id is the home page, as the query is to a static server");

    // A second run updates in place: nothing new, no duplicate comments.
    let n_articles = queries::reading::list_all(&site.db, 10_000).await.unwrap().len();
    let rerun = wordpress::import_file(
        &site.db,
        limits(),
        &fixture("awkward.xml"),
        Media { uploads: Some(&uploads), fetching: None },
        |_| {},
    )
    .await
    .expect("re-import");
    assert_eq!((rerun.posts_created, rerun.posts_updated), (0, 5), "{rerun:?}");
    assert_eq!(rerun.tally(Kind::Comment).imported, 0, "{rerun:?}");
    assert_eq!(rerun.skipped.get("comments imported before"), Some(&5), "{rerun:?}");
    assert_eq!(rerun.tally(Kind::Author), Tally { in_file: 2, imported: 2, skipped: 0, failed: 0 });
    assert_eq!(queries::reading::list_all(&site.db, 10_000).await.unwrap().len(), n_articles);
    assert!(queries::reading::find_by_slug(&site.db, "fish-and-chips-again-2").await.is_err());
    site.finish().await;
}

on_each_backend!(shortcodes_become_what_wordpress_showed_and_the_rest_is_reported);
async fn shortcodes_become_what_wordpress_showed_and_the_rest_is_reported(backend: Backend) {
    let site = TestSite::start(backend).await;
    let report = wordpress::import_file(&site.db, limits(), &fixture("shortcodes.xml"), Media::default(), |_| {})
        .await
        .expect("import");
    assert!(report.failed.is_empty(), "{backend:?}: {:?}", report.failed);
    assert_eq!((report.posts_created, report.tally(Kind::Attachment).in_file), (2, 2), "{report:?}");
    // The plugin's form is left as text and reported; prose in brackets is not.
    assert_eq!(report.shortcodes_left.iter().collect::<Vec<_>>(), [(&"contact-form-7".to_string(), &1)]);
    let left: Vec<String> = report.warnings_of(WarningKind::ShortcodesLeft).map(|w| w.detail.clone()).collect();
    assert!(left.iter().any(|w| w.contains("shortcodes left as text: [contact-form-7] ×1")), "{report:?}");

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

    // The teaser before `<!--more-->` is the excerpt; `<!--nextpage-->` makes pages; `big` and
    // `address` stay.
    site.settle().await;
    let (_, home) = site.fetch("/").await;
    let teaser = home.split("tide-tables\">Tide tables</a>").nth(1).and_then(|card| card.split("</article>").next());
    let teaser = teaser.expect("the card on the home page");
    assert!(teaser.contains("High water at six") && !teaser.contains("Spring tides"), "{teaser}");
    let (_, first) = site.fetch("/article/tide-tables").await;
    assert!(first.contains("<big>Spring tides</big>") && first.contains("<address>Harbour Office, Quay 1</address>"));
    assert!(!first.contains("neap tides") && first.contains("/article/tide-tables/page/2"), "{first}");
    let (status, second) = site.fetch("/article/tide-tables/page/2").await;
    assert_eq!(status, 200);
    assert!(second.contains("The second page: neap tides.") && !second.contains("Spring tides"), "{second}");

    // A second run converts the same body again: the article is updated, not changed.
    let rerun = wordpress::import_file(&site.db, limits(), &fixture("shortcodes.xml"), Media::default(), |_| {})
        .await
        .expect("re-import");
    assert_eq!((rerun.posts_created, rerun.posts_updated), (0, 2), "{rerun:?}");
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
    let report =
        wordpress::import(&site.db, limits(), broken.as_bytes(), Media::default(), |_| {}).await.expect("import");
    let last = report.failed.last().expect("an error").to_string();
    assert!(last.starts_with("malformed XML at line 168, column"), "{last}");
    assert!(queries::reading::find_by_slug(&site.db, "ete").await.is_ok());
    assert!(queries::reading::find_by_slug(&site.db, "contact-us").await.is_err());
    // Without `--uploads`, media keep their URLs and are listed.
    assert_eq!(report.warnings_of(WarningKind::MediaKeptRemote).count(), 2, "{:?}", report.warnings);
    site.finish().await;
}

on_each_backend!(the_cli_prints_one_summary_first_and_fails_when_something_failed);
async fn the_cli_prints_one_summary_first_and_fails_when_something_failed(backend: Backend) {
    let site = TestSite::start(backend).await;
    let path = fixture("awkward.xml");
    let output = site.cli(&["import", "wordpress", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let (out, err) = (stdout(&output), stderr(&output));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Import of ") && lines[0].ends_with(": 1 failed"), "{out}");
    assert_eq!(lines[2].split_whitespace().collect::<Vec<_>>(), ["in", "file", "imported", "skipped", "failed"]);
    let row = |kind: &str| -> Vec<String> {
        let line = lines.iter().find(|l| l.split_whitespace().next() == Some(kind)).expect(kind);
        line.split_whitespace().skip(1).map(str::to_string).collect()
    };
    assert_eq!(row("posts"), ["5", "4", "0", "1"], "{out}");
    assert_eq!(row("comments"), ["6", "5", "1", "0"], "{out}");
    assert_eq!(row("attachments"), ["2", "0", "2", "0"], "{out}");
    assert!(out.contains("Skipped on purpose: ") && out.contains("1 pingbacks and trackbacks"), "{out}");
    let failed = out.find("Failed (1):\n  line 181: \"Absurd").expect(&out);
    let warnings = out.find("Warnings (").expect(&out);
    assert!(failed < warnings, "{out}");
    // Collapsed: a count and one example per kind, not every URL.
    assert!(out.contains("  2 media kept at their old URLs\n      e.g. line "), "{out}");
    assert!(!out.contains("missing.jpg") || !out.contains("harbour.gif"), "{out}");
    assert!(err.contains("1 thing(s) could not be imported"), "{err}");
    site.finish().await;
}

on_each_backend!(a_whole_site_moves_in_with_its_secrets_kept_and_nothing_refused);
/// The issue's report: a password-protected post, 32 tags, a login that is no username, two
/// categories named alike.
async fn a_whole_site_moves_in_with_its_secrets_kept_and_nothing_refused(backend: Backend) {
    let site = TestSite::start(backend).await;
    let report =
        wordpress::import_file(&site.db, limits(), &fixture("whole-site.xml"), Media::default(), |_| {}).await.unwrap();
    assert!(report.failed.is_empty(), "{backend:?}: {:?}", report.failed);
    assert_eq!(report.tally(Kind::Post), Tally { in_file: 3, imported: 3, skipped: 0, failed: 0 });
    assert_eq!(report.tally(Kind::Author), Tally { in_file: 3, imported: 3, skipped: 0, failed: 0 });
    assert_eq!(report.tally(Kind::Category), Tally { in_file: 4, imported: 4, skipped: 0, failed: 0 });

    // The password-protected post is a draft, named in a warning with its line; neither it, its
    // old address nor its comment reaches a reader.
    let secret = queries::reading::find_by_slug(&site.db, "secret-plans").await.unwrap();
    assert_eq!(secret.summary.status, Status::Draft);
    let protected: Vec<String> = report.warnings_of(WarningKind::PasswordProtected).map(|w| w.to_string()).collect();
    assert_eq!(protected, ["line 26: \"Secret plans\" is password-protected: imported as a draft"]);
    let comments = migrate_queries::comments_for_export(&site.db, secret.summary.id).await.unwrap();
    assert_eq!(comments.len(), 1, "the comment is kept for the editor");
    for path in ["/article/secret-plans", "/2021/01/secret-plans/", "/comments/feed", "/feed", "/"] {
        let (status, body) = site.fetch(path).await;
        assert!(!body.contains("Leaked secret") && !body.contains("Secret plans"), "{path} ({status}): {body}");
    }
    assert_eq!(site.fetch("/2021/01/secret-plans/").await.0, 404);
    assert_eq!(site.fetch("/article/many-tags").await.0, 200, "the other posts are public");

    // 32 tags: the first 30 kept, the other two named.
    let many = queries::reading::find_by_slug(&site.db, "many-tags").await.unwrap();
    assert_eq!(many.tags.len(), 30);
    assert_eq!(many.tags.iter().filter(|t| t.name == "Tag 30" || t.name == "Tag 31").count(), 1);
    let dropped: Vec<String> = report.warnings_of(WarningKind::TagsDropped).map(|w| w.detail.clone()).collect();
    assert_eq!(dropped.len(), 1);
    assert!(dropped[0].ends_with("dropped: \"Tag 31\", \"Tag 32\""), "{dropped:?}");

    // `>jdoe` is not `jdoe`: a username of its own, and the byline follows it.
    assert_eq!(many.summary.author.display_name, "Angle Jdoe");
    let renamed: Vec<String> = report.warnings_of(WarningKind::AuthorRenamed).map(|w| w.detail.clone()).collect();
    assert_eq!(
        renamed,
        ["author \">jdoe\" has the username \"jdoe-2\"", "author \">ghost\" has the username \"ghost\""]
    );
    let corner = queries::reading::find_by_slug(&site.db, "around-the-corner").await.unwrap();
    assert_eq!(corner.summary.author.display_name, ">ghost");
    assert_eq!(secret.summary.author.display_name, "Jane Doe");

    // Two categories named "Local", each under its own parent, each post in its own.
    let categories = migrate_queries::categories_with_parents(&site.db).await.unwrap();
    let category = |slug: &str| categories.iter().find(|c| c.0 == slug).map(|c| (c.1.clone(), c.3.clone()));
    assert_eq!(category("world-local"), Some(("Local".into(), Some("world".into()))));
    assert_eq!(category("sport-local"), Some(("Local (sport-local)".into(), Some("sport".into()))));
    assert_eq!(many.summary.category.as_ref().map(|c| c.slug.as_str()), Some("sport-local"));
    assert_eq!(corner.summary.category.as_ref().map(|c| c.slug.as_str()), Some("world-local"));

    // A post in two categories is filed under both, the first as its primary one; a sticky post
    // is a lead story.
    let filed: Vec<&str> = corner.categories.iter().map(|c| c.slug.as_str()).collect();
    assert_eq!(filed, ["world-local", "sport"]);
    site.settle().await;
    let (_, sport) = site.fetch("/category/sport").await;
    assert!(common::desk::texts_of(&sport, ".lead-stories .card-title").contains(&"Around the corner".to_string()));
    let (_, home) = site.fetch("/").await;
    assert_eq!(common::desk::texts_of(&home, ".lead-stories .card-title"), ["Around the corner"]);

    // A thread seven levels deep stays nested (WordPress allows ten).
    let (_, page) = site.fetch("/article/around-the-corner").await;
    assert!(page.contains("class=\"comment depth-7") && page.contains("Reply at level 7"), "{page}");

    // Again: the same accounts and categories, nothing new.
    let n_users = openvoice::accounts::count_users(&site.db).await.unwrap();
    let rerun =
        wordpress::import_file(&site.db, limits(), &fixture("whole-site.xml"), Media::default(), |_| {}).await.unwrap();
    assert!(rerun.failed.is_empty(), "{:?}", rerun.failed);
    assert_eq!((rerun.posts_created, rerun.posts_updated), (0, 3));
    assert_eq!(openvoice::accounts::count_users(&site.db).await.unwrap(), n_users);
    assert_eq!(migrate_queries::categories_with_parents(&site.db).await.unwrap().len(), categories.len());
    let many = queries::reading::find_by_slug(&site.db, "many-tags").await.unwrap();
    assert_eq!(many.summary.author.display_name, "Angle Jdoe");
    site.finish().await;
}

on_each_backend!(an_import_that_only_warns_exits_0_and_verbose_lists_every_warning);
async fn an_import_that_only_warns_exits_0_and_verbose_lists_every_warning(backend: Backend) {
    let site = TestSite::start(backend).await;
    let path = fixture("whole-site.xml");
    let output = site.cli(&["import", "wordpress", path.to_str().unwrap()]);
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(0), "{out}\n{err}");
    assert!(out.lines().next().unwrap().ends_with(": everything imported or deliberately skipped"), "{out}");
    assert!(out.contains("  1 password-protected posts imported as drafts"), "{out}");
    assert!(out.contains("  2 authors whose login is not a usable username"), "{out}");
    assert!(!out.contains("\">ghost\""), "collapsed to one example without --verbose: {out}");
    // The table mends html5ever complains of stay out of the console.
    assert!(!err.contains("foster parenting"), "{err}");
    site.finish().await;

    // Into another empty site (a re-run finds the authors it made and warns of them no more).
    let dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(backend, dir.path()).await;
    let verbose = common::cli_at(dir.path(), &url, &["import", "wordpress", "--verbose", path.to_str().unwrap()], None);
    assert!(verbose.status.success(), "{}", stderr(&verbose));
    let out = stdout(&verbose);
    assert!(out.contains("      line 19: author \">jdoe\" has the username \"jdoe-2\"\n"), "{out}");
    assert!(out.contains("author \">ghost\" has the username \"ghost\""), "{out}");
    common::drop_database(&url).await;
}

/// A stand-in for the old site's web server on 127.0.0.1: a PNG (also behind a
/// redirect), a text file, 404 for the rest; it counts the requests that reach it.
async fn old_site() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::response::IntoResponse;
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match uri.path() {
                "/wp-content/uploads/2020/01/harbour.png" => {
                    let mut png = Vec::new();
                    let image = image::RgbImage::from_pixel(8, 8, image::Rgb([10, 80, 160]));
                    image.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
                    png.into_response()
                }
                "/old/harbour.png" => {
                    axum::response::Redirect::permanent("/wp-content/uploads/2020/01/harbour.png").into_response()
                }
                "/wp-content/uploads/notes.txt" => "plain text, not an image".into_response(),
                _ => axum::http::StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, hits)
}

/// An export of a site at `base` whose media are on that host.
fn export_with_media_at(base: &str) -> String {
    format!(
        r#"<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/"><channel>
<wp:base_site_url>{base}</wp:base_site_url>
<wp:author><wp:author_login>jdoe</wp:author_login><wp:author_email>jdoe@media.example</wp:author_email></wp:author>
<item><title>Harbour pictures</title><dc:creator>jdoe</dc:creator><wp:post_id>10</wp:post_id>
<content:encoded><![CDATA[<p><img src="{base}/wp-content/uploads/2020/01/harbour.png" alt="Harbour"></p>
<p><img src="{base}/wp-content/uploads/gone.png"></p><p><img src="https://elsewhere.example/x.png"></p>]]></content:encoded>
<wp:post_date_gmt>2020-01-01 09:00:00</wp:post_date_gmt><wp:post_name>harbour-pictures</wp:post_name><wp:status>publish</wp:status><wp:post_type>post</wp:post_type>
<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key><wp:meta_value>11</wp:meta_value></wp:postmeta></item>
<item><title>harbour</title><dc:creator>jdoe</dc:creator><wp:post_id>11</wp:post_id><wp:status>inherit</wp:status><wp:post_type>attachment</wp:post_type>
<wp:attachment_url>{base}/old/harbour.png</wp:attachment_url></item>
<item><title>notes</title><dc:creator>jdoe</dc:creator><wp:post_id>12</wp:post_id><wp:status>inherit</wp:status><wp:post_type>attachment</wp:post_type>
<wp:attachment_url>{base}/wp-content/uploads/notes.txt</wp:attachment_url></item>
</channel></rss>"#
    )
}

fn fetching(site: &TestSite, allow_private_addresses: bool) -> wordpress::Fetching {
    wordpress::Fetching {
        limits: openvoice::migrate::fetch::FetchLimits {
            max_bytes: 1 << 20,
            max_files: 10,
            timeout: std::time::Duration::from_secs(10),
            allow_private_addresses,
        },
        library: site.config.media.clone(),
    }
}

on_each_backend!(fetch_attachments_brings_the_old_sites_media_into_the_library);
async fn fetch_attachments_brings_the_old_sites_media_into_the_library(backend: Backend) {
    let site = TestSite::start(backend).await;
    let (base, _) = old_site().await;
    let wxr = export_with_media_at(&base);
    let media = Media { uploads: None, fetching: Some(fetching(&site, true)) };
    let report = wordpress::import(&site.db, limits(), wxr.as_bytes(), media, |_| {}).await.unwrap();

    assert_eq!(report.tally(Kind::Attachment), Tally { in_file: 2, imported: 1, skipped: 0, failed: 1 }, "{report:?}");
    let failures: Vec<String> = report.failed.iter().map(|f| f.to_string()).collect();
    assert_eq!(failures.len(), 2, "{backend:?}: {failures:?}");
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("line 4: image ") && f.ends_with("gone.png: the server answered 404 Not Found")),
        "{failures:?}"
    );
    assert!(
        failures.iter().any(|f| f.starts_with("line 11: attachment ") && f.contains("notes.txt: file:")),
        "{failures:?}"
    );

    // The body and the featured image point at the library's copy (one, though fetched from two
    // URLs); what failed and other hosts' images keep their URLs.
    let post = queries::reading::find_by_slug(&site.db, "harbour-pictures").await.unwrap();
    let copy = post.featured_image.clone().expect("a featured image");
    assert!(copy.starts_with("/media/") && copy.ends_with("/harbour.png"), "{copy}");
    assert!(post.body_md.contains(&format!("<img src=\"{copy}\" alt=\"Harbour\">")), "{}", post.body_md);
    assert!(post.body_md.contains(&format!("{base}/wp-content/uploads/gone.png")), "{}", post.body_md);
    assert!(post.body_md.contains("https://elsewhere.example/x.png"), "{}", post.body_md);
    assert_eq!(openvoice::media::service::list(&site.db, 1).await.unwrap().1, 1);
    let (status, _) = site.fetch(&copy).await;
    assert_eq!(status, 200);
    // On the page, the copy is shown as any library image is: with its size and lazily.
    site.settle().await;
    let (_, page) = site.fetch("/article/harbour-pictures").await;
    let body = page.split_once("<div class=\"body\">").expect("the article's text").1;
    let shown = body.split("<img ").find(|tag| tag.contains(&format!("src=\"{copy}\""))).expect("the copy in the text");
    assert!(
        shown.contains(" width=\"") && shown.contains(" height=\"") && shown.contains("loading=\"lazy\""),
        "{shown}"
    );
    site.finish().await;
}

on_each_backend!(fetch_attachments_refuses_a_loopback_address_without_asking_it);
async fn fetch_attachments_refuses_a_loopback_address_without_asking_it(backend: Backend) {
    let site = TestSite::start(backend).await;
    let (base, hits) = old_site().await;
    let wxr = export_with_media_at(&base);
    let media = Media { uploads: None, fetching: Some(fetching(&site, false)) };
    let report = wordpress::import(&site.db, limits(), wxr.as_bytes(), media, |_| {}).await.unwrap();
    assert_eq!(report.tally(Kind::Attachment).failed, 2, "{report:?}");
    assert!(
        report
            .failed
            .iter()
            .all(|f| f.message.contains("resolves to 127.0.0.1, a private, loopback or link-local address")),
        "{backend:?}: {:?}",
        report.failed
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "no request reached the server");
    let post = queries::reading::find_by_slug(&site.db, "harbour-pictures").await.unwrap();
    assert!(post.body_md.contains(&format!("{base}/wp-content/uploads/2020/01/harbour.png")));
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
    let report =
        wordpress::import_file(&site.db, limits(), &fixture("awkward.xml"), Media::default(), |_| {}).await.unwrap();
    assert_eq!(report.failed.len(), 1);
    let out = site.dir.path().join("export.xml");
    let output = site.cli(&["export", "wordpress", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("5 comments"), "{}", stdout(&output));

    let empty_dir = tempfile::tempdir().unwrap();
    let url = common::fresh_database_url(backend, empty_dir.path()).await;
    let empty = openvoice::store::Db::connect(&url, 4).await.unwrap();
    let again = wordpress::import_file(&empty, limits(), &out, Media::default(), |_| {}).await.unwrap();
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
