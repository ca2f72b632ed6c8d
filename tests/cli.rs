//! The `openvoice` command line, run as a user runs it, on every backend.

#[macro_use]
mod common;

use common::{cli_at, fresh_database_url, stderr, stdout, write_file, Backend};

struct CliSite {
    dir: tempfile::TempDir,
    url: String,
}

impl CliSite {
    async fn new(backend: Backend) -> CliSite {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database_url(backend, dir.path()).await;
        CliSite { dir, url }
    }
    fn run(&self, args: &[&str]) -> std::process::Output {
        cli_at(self.dir.path(), &self.url, args, None)
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?} failed: {}", stderr(&out));
        stdout(&out)
    }
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "{args:?} should fail; stdout: {}", stdout(&out));
        stderr(&out)
    }
    fn file(&self, name: &str, text: &str) -> String {
        write_file(self.dir.path(), name, text).to_string_lossy().into_owned()
    }
    async fn finish(self) {
        common::drop_database(&self.url).await;
    }
}

on_each_backend!(init_seeds_once_and_prints_the_admin_password_once);
async fn init_seeds_once_and_prints_the_admin_password_once(backend: Backend) {
    let site = CliSite::new(backend).await;
    let first = site.ok(&["init"]);
    assert!(first.contains("username: admin") && first.contains("password: "), "{first}");
    assert!(site.dir.path().join("openvoice.toml").exists());
    let second = site.ok(&["init"]);
    assert!(!second.contains("password"), "a second start seeds nothing: {second}");
    let list = site.ok(&["post", "list"]);
    assert_eq!(list.lines().count(), 8, "7 demo articles and the About page:\n{list}");
    let categories = site.ok(&["category", "list"]);
    assert!(categories.contains("Defence & Security") && categories.contains("defence-security"));
    site.finish().await;
}

on_each_backend!(an_empty_site_takes_an_import_and_says_how_to_add_the_first_admin);
async fn an_empty_site_takes_an_import_and_says_how_to_add_the_first_admin(backend: Backend) {
    let site = CliSite::new(backend).await;
    let hint = "Create the first one with:\n  openvoice user add USERNAME --email EMAIL --role admin\n";
    let init = site.ok(&["init", "--no-demo"]);
    assert!(!init.contains("password") && init.contains(hint), "{init}");
    // `serve --no-demo` (here through its variable) leaves the empty site empty too.
    let mut node = common::node::Node::start(site.dir.path(), Some(&site.url), 0, &[("OPENVOICE_NO_DEMO", "true")]);
    node.wait_healthy().await;
    let (_, log) = node.stop();
    assert!(!log.contains("Created the demo site"), "{log}");
    assert_eq!(site.ok(&["post", "list"]).trim(), "", "no demo articles");
    assert_eq!(site.ok(&["user", "list"]).lines().count(), 1, "no account, only the header");
    let wxr = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wordpress/whole-site.xml");
    let imported = site.ok(&["import", "wordpress", wxr.to_str().unwrap()]);
    assert!(imported.contains(hint), "{imported}");

    site.ok(&["user", "add", "boss", "--email", "boss@example.org", "--role", "admin"]);
    let list = site.ok(&["user", "list"]);
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0], ["USERNAME", "ROLE", "EMAIL", "DISABLED", "2FA"], "{list}");
    assert!(rows.contains(&vec!["boss", "admin", "boss@example.org", "no", "off"]), "{list}");
    assert!(rows.contains(&vec!["jdoe-2", "author", "angle@whole.example", "no", "off"]), "{list}");
    assert_eq!(rows.len(), 5, "the header, three authors and the admin: {list}");
    // Two-factor sign-in on: a confirmed authenticator app.
    let db = openvoice::store::Db::connect(&site.url, 1).await.unwrap();
    sqlx::query(
        "INSERT INTO user_totp (user_id, secret, created_at, confirmed_at, last_step) \
         SELECT id, 'JBSWY3DPEHPK3PXP', 0, 0, 0 FROM users WHERE username = 'boss'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    db.pool.close().await;
    let list = site.ok(&["user", "list"]);
    assert!(
        list.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["boss", "admin", "boss@example.org", "no", "on"]),
        "{list}"
    );
    let again = site.ok(&["import", "wordpress", wxr.to_str().unwrap()]);
    assert!(!again.contains("no admin"), "{again}");
    site.finish().await;
}

on_each_backend!(writing_publishing_and_editing_articles);
async fn writing_publishing_and_editing_articles(backend: Backend) {
    let site = CliSite::new(backend).await;
    site.ok(&["init"]);
    let out = site.ok(&[
        "user",
        "add",
        "jdoe",
        "--email",
        "jdoe@example.org",
        "--role",
        "editor",
        "--display-name",
        "Jane Doe",
    ]);
    assert!(out.contains("Password (shown once): "), "{out}");
    let body = site.file("body.md", "# Hello\n\nFirst version.");
    let out = site.ok(&[
        "post",
        "new",
        "--title",
        "Harbour Opens",
        "--category",
        "Economy",
        "--file",
        &body,
        "--tags",
        "harbour,ships",
        "--author",
        "jdoe",
    ]);
    assert!(out.starts_with("draft harbour-opens"), "{out}");
    // Same title again: a unique derived slug.
    let out = site.ok(&[
        "post",
        "new",
        "--title",
        "Harbour Opens",
        "--category",
        "economy",
        "--file",
        &body,
        "--author",
        "Jane Doe",
    ]);
    assert!(out.starts_with("draft harbour-opens-2"), "{out}");
    let out = site.ok(&["post", "publish", "harbour-opens"]);
    assert!(out.contains("published harbour-opens"));
    let list = site.ok(&["post", "list"]);
    assert!(list.lines().any(|l| l.starts_with("published") && l.contains("harbour-opens ")), "{list}");
    assert!(list.lines().any(|l| l.starts_with("draft") && l.contains("harbour-opens-2")), "{list}");

    let v2 = site.file("v2.md", "Second version.");
    site.ok(&["post", "edit", "harbour-opens", "--file", &v2, "--title", "Harbour Opens Early"]);
    let db = openvoice::store::Db::connect(&site.url, 2).await.unwrap();
    let article = openvoice::content::service::reading::find(&db, "harbour-opens").await.unwrap();
    assert_eq!(article.summary.title, "Harbour Opens Early");
    assert!(article.body_html.contains("Second version."));
    assert_eq!(article.summary.status, openvoice::content::model::Status::Published, "an edit keeps the status");
    assert_eq!(openvoice::content::queries::revisions::count_revisions(&db, article.summary.id).await.unwrap(), 1);
    db.pool.close().await;
    site.finish().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_a_precise_message_and_nothing_written() {
    let site = CliSite::new(Backend::Sqlite).await;
    site.ok(&["init"]);
    let body = site.file("body.md", "Body");
    let before = site.ok(&["post", "list"]).lines().count();

    let err = site.fails(&["post", "new", "--title", "X", "--category", "Astrology", "--file", &body]);
    assert!(err.contains("category") && err.contains("Astrology") && err.contains("Defence & Security"), "{err}");
    let err =
        site.fails(&["post", "new", "--title", "X", "--category", "Economy", "--file", &body, "--slug", "Not A Slug"]);
    assert!(err.contains("slug") && err.contains("Not A Slug"), "{err}");
    let err = site.fails(&["post", "new", "--title", "X", "--category", "Economy", "--file", &body, "--slug", "about"]);
    assert!(err.contains("already used"), "{err}");
    let err = site.fails(&["post", "new", "--title", "   ", "--file", &body]);
    assert!(err.contains("title"), "{err}");
    let err = site.fails(&["post", "new", "--title", "X", "--file", &body, "--schedule", "next tuesday"]);
    assert!(err.contains("--schedule") && err.contains("next tuesday"), "{err}");
    let err = site.fails(&["post", "new", "--title", "X", "--file", &body, "--author", "nobody"]);
    assert!(err.contains("author") && err.contains("nobody"), "{err}");
    let big = site.file("big.md", &"x".repeat(2 * 1024 * 1024));
    let err = site.fails(&["post", "new", "--title", "X", "--file", &big]);
    assert!(err.contains("max_article_bytes"), "{err}");
    let bin = site.dir.path().join("bin.md");
    std::fs::write(&bin, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let err = site.fails(&["post", "new", "--title", "X", "--file", bin.to_str().unwrap()]);
    assert!(err.contains("not UTF-8"), "{err}");
    let err = site.fails(&["post", "publish", "no-such-slug"]);
    assert!(err.contains("no-such-slug"), "{err}");
    let err = site.fails(&["user", "add", "Bad Name", "--email", "x@example.org"]);
    assert!(err.contains("username"), "{err}");
    let err = site.fails(&["user", "add", "good", "--email", "not-an-email"]);
    assert!(err.contains("email") && err.contains("not-an-email"), "{err}");
    let err = site.fails(&["user", "add", "admin", "--email", "other@example.org"]);
    assert!(err.contains("already taken"), "{err}");

    assert_eq!(site.ok(&["post", "list"]).lines().count(), before, "nothing half-written");
    site.finish().await;
}

#[tokio::test]
async fn config_layers_and_invalid_values() {
    let site = CliSite::new(Backend::Sqlite).await;
    std::fs::write(site.dir.path().join("openvoice.toml"), "[site]\ntitle = \"File Title\"\n").unwrap();
    let shown = site.ok(&["config"]);
    assert!(shown.contains("title = \"File Title\""), "{shown}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_openvoice"))
        .args([
            "--data",
            site.dir.path().to_str().unwrap(),
            "--database-url",
            "postgres://ov:hunter2@127.0.0.1:1/x",
            "config",
        ])
        .env("OPENVOICE_SITE_TITLE", "Env Title")
        .output()
        .unwrap();
    let shown = stdout(&out);
    assert!(shown.contains("title = \"Env Title\""), "env overrides the file: {shown}");
    assert!(!shown.contains("hunter2") && shown.contains("ov:****@"), "secret masked: {shown}");

    std::fs::write(site.dir.path().join("openvoice.toml"), "[content]\nper_page = \"many\"\n").unwrap();
    let err = site.fails(&["config"]);
    assert!(err.contains("content.per_page") && err.contains("openvoice.toml"), "{err}");
    std::fs::write(site.dir.path().join("openvoice.toml"), "[content\n").unwrap();
    let err = site.fails(&["config"]);
    assert!(err.contains("line 1"), "TOML syntax errors name the line: {err}");
    site.finish().await;
}

on_each_backend!(markdown_import_reports_bad_files_by_line_and_imports_the_rest);
async fn markdown_import_reports_bad_files_by_line_and_imports_the_rest(backend: Backend) {
    let site = CliSite::new(backend).await;
    site.ok(&["init"]);
    let dir = site.dir.path().join("content");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("a.md"), "---\ntitle: \"Imported A\"\ndate: 2021-03-04T05:06:07Z\ncategories: [\"Local News\"]\ntags: [\"x\", \"y\"]\nauthor: \"Pat Writer\"\nslug: \"imported-a\"\n---\nBody A\n").unwrap();
    std::fs::write(dir.join("b.md"), "---\ntitle: \"Broken\"\ndate: \"not a date\"\n---\nBody\n").unwrap();
    std::fs::write(dir.join("c.md"), "---\ntitle: \"Bad YAML\"\ntags: [unclosed\n---\nBody\n").unwrap();
    std::fs::write(dir.join("d.md"), "no front matter").unwrap();
    // Refused inside the batch's transaction: the batch is written without it.
    std::fs::write(dir.join("e.md"), format!("---\ntitle: \"{}\"\n---\nBody\n", "Long ".repeat(70))).unwrap();
    // Content folders nest (Hugo, Zola); a section's `_index.md` is not an article.
    std::fs::create_dir(dir.join("posts")).unwrap();
    std::fs::write(dir.join("posts/f.md"), "---\ntitle: \"Nested F\"\ndraft: true\n---\nBody F\n").unwrap();
    std::fs::write(dir.join("posts/_index.md"), "---\ntitle: \"Posts\"\n---\n").unwrap();
    let out = site.run(&["import", "markdown", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("b.md:3:") && err.contains("not a date"), "{err}");
    assert!(err.contains("c.md:"), "{err}");
    assert!(err.contains("d.md:1:"), "{err}");
    assert!(err.contains("e.md:2:") && err.contains("title"), "{err}");
    assert!(err.contains("_index.md: a section's list page"), "{err}");
    let summary = "Imported 2 new and 0 updated articles (1 drafts or scheduled); 4 failed, 1 skipped";
    assert!(stdout(&out).contains(summary), "{}", stdout(&out));
    // Idempotent: a second run updates instead of duplicating.
    for bad in ["b.md", "c.md", "d.md", "e.md"] {
        std::fs::remove_file(dir.join(bad)).unwrap();
    }
    let out = site.ok(&["import", "markdown", dir.to_str().unwrap()]);
    assert!(out.contains("Imported 0 new and 2 updated"), "{out}");
    let list = site.ok(&["post", "list", "--limit", "100"]);
    assert!(
        list.contains("imported-a") && list.contains("Local News") && list.contains("2021-03-04T05:06:07Z"),
        "{list}"
    );
    site.finish().await;
}
