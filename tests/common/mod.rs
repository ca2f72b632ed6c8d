//! A real site for tests: a fresh database (SQLite file, or a PostgreSQL schema when
//! `OPENVOICE_TEST_POSTGRES_URL` is set), the demo content, and the router served on 127.0.0.1:0.
#![allow(dead_code, unused_macros)] // Each test binary uses a different part of this module.

pub mod desk;
pub mod fedify;
pub mod market_apis;
pub mod node;
pub mod smtp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, Once};

use openvoice::config::{Config, Overrides};
use openvoice::content::service::ContentLimits;
use openvoice::http::{self, AppState};
use openvoice::store::{self, Db};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite always; PostgreSQL when configured. With `OPENVOICE_TEST_REQUIRE_ALL=1` (CI) a missing
/// PostgreSQL is an error, elsewhere a visible skip.
/// Declares `$test::sqlite` and `$test::postgres`, each running `async fn $test(backend: Backend)`
/// on its own database, so a failure names its backend and the two may run side by side.
/// Without `OPENVOICE_TEST_POSTGRES_URL` the PostgreSQL one says it skipped (and fails under
/// `OPENVOICE_TEST_REQUIRE_ALL=1`, as in CI).
macro_rules! on_each_backend {
    ($test:ident) => {
        mod $test {
            #[tokio::test]
            async fn sqlite() {
                super::$test(crate::common::Backend::Sqlite).await
            }

            #[tokio::test]
            async fn postgres() {
                if crate::common::postgres_url().is_some() {
                    super::$test(crate::common::Backend::Postgres).await
                } else {
                    crate::common::skip_or_fail("PostgreSQL tests (set OPENVOICE_TEST_POSTGRES_URL)")
                }
            }
        }
    };
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub fn postgres_url() -> Option<String> {
    std::env::var("OPENVOICE_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())
}

pub fn skip_or_fail(what: &str) {
    if std::env::var("OPENVOICE_TEST_REQUIRE_ALL").is_ok_and(|v| v == "1") {
        panic!("{what} are required (OPENVOICE_TEST_REQUIRE_ALL=1) but not available");
    }
    eprintln!("SKIPPED: {what}");
}

/// A database URL of its own for one test: a file in `dir`, or a new PostgreSQL schema.
pub async fn fresh_database_url(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => store::sqlite_url_for(dir),
        Backend::Postgres => {
            let base = postgres_url().expect("PostgreSQL URL");
            let schema = format!("ov_test_{:016x}", rand::random::<u64>());
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&base).await.expect("connecting to PostgreSQL");
            sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&pool).await.expect("creating schema");
            pool.close().await;
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options[search_path]={schema}")
        }
    }
}

/// Drops the schema a PostgreSQL test URL points at.
pub async fn drop_database(url: &str) {
    let Some((base, schema)) = url.split_once("options[search_path]=") else { return };
    let base = base.trim_end_matches(['?', '&']);
    if let Ok(pool) = sqlx::AnyPool::connect(base).await {
        let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&pool).await;
        pool.close().await;
    }
}

/// Panics seen in this test binary: (thread, message). Tokio and tower catch a server task's
/// panic, so a reader sees a cut-off response and the test only a log line; `TestSite::finish`
/// turns that line into a failure.
static PANICS: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let thread = std::thread::current().name().unwrap_or("").to_string();
            PANICS.lock().unwrap_or_else(|e| e.into_inner()).push((thread, info.to_string()));
            print(info);
        }));
    });
}

/// The panics on the current test's thread (where a `#[tokio::test]` runs the site's tasks) or
/// on a multi-threaded runtime's workers.
pub fn panics_of_this_test() -> Vec<String> {
    let this = std::thread::current().name().unwrap_or("").to_string();
    let panics = PANICS.lock().unwrap_or_else(|e| e.into_inner());
    panics
        .iter()
        .filter(|(thread, _)| *thread == this || thread.starts_with("tokio-runtime-worker"))
        .map(|(thread, message)| format!("[{thread}] {message}"))
        .collect()
}

pub struct TestSite {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub db: Db,
    pub database_url: String,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub client: reqwest::Client,
    /// The configuration the site runs with.
    pub config: std::sync::Arc<Config>,
    /// The running site's state: `settle` watches its view of the content epoch.
    pub state: AppState,
    shutdown: CancellationToken,
}

impl TestSite {
    /// A site with the demo content.
    pub async fn start(backend: Backend) -> TestSite {
        TestSite::start_with(backend, "").await
    }

    /// A site with the demo content and extra `openvoice.toml` text.
    pub async fn start_with(backend: Backend, config_toml: &str) -> TestSite {
        watch_panics();
        let dir = tempfile::tempdir().expect("tempdir");
        let database_url = fresh_database_url(backend, dir.path()).await;
        let db = Db::connect(&database_url, 8).await.expect("connecting");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        std::fs::write(dir.path().join("openvoice.toml"), config_toml).expect("config");
        let overrides = Overrides { listen: Some(addr.to_string()), database_url: Some(database_url.clone()) };
        let config = Config::load(dir.path(), &overrides).expect("config");
        let limits = ContentLimits { max_article_bytes: config.content.max_article_bytes };
        openvoice::demo::seed_if_empty(&db, limits).await.expect("seeding");
        let config = std::sync::Arc::new(config);
        let state = AppState::new((*config).clone(), db.clone(), dir.path().to_path_buf());
        state.pages.advance(db.content_epoch().await.expect("epoch"), &[openvoice::store::ContentChange::Everything]);
        let shutdown = CancellationToken::new();
        tokio::spawn(http::follow_content_epoch(state.clone(), shutdown.clone()));
        tokio::spawn(http::serve(listener, openvoice::app::router::router(state.clone()), shutdown.clone()));
        TestSite {
            backend,
            dir,
            db,
            database_url,
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            config,
            state,
            shutdown,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.base)).send().await.expect("request")
    }

    /// GET and return status and body text.
    pub async fn fetch(&self, path: &str) -> (u16, String) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// Runs the `openvoice` binary against this site's data folder and database.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_at(self.dir.path(), &self.database_url, args, None)
    }

    /// The job registry `serve` builds from this site's configuration.
    pub fn job_registry(&self) -> openvoice::jobs::Registry {
        openvoice::app::jobs::registry(&self.config, self.dir.path()).expect("job contexts")
    }

    /// What the IPFS jobs bundle with, as `serve` builds it.
    pub fn publishing(&self) -> openvoice::ipfs::service::Publishing {
        openvoice::app::jobs::publishing(&self.config, self.dir.path()).expect("publishing")
    }

    /// Runs every due job until none is left; returns how many ran.
    pub async fn run_due_jobs(&self) -> usize {
        let registry = self.job_registry();
        let worker = openvoice::jobs::WorkerConfig {
            node_id: "test".into(),
            poll_interval: std::time::Duration::from_millis(10),
            lease_secs: 60,
        };
        let mut ran = 0;
        while openvoice::jobs::run_one(&self.db, &registry, &worker).await.expect("running a job") {
            ran += 1;
        }
        ran
    }

    /// Waits until this node has seen every content write made so far, by this process or by
    /// the CLI (the epoch follower polls 4×/s; it sets the epoch after loading the settings).
    pub async fn settle(&self) {
        let written = self.db.content_epoch().await.expect("epoch");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.state.pages.epoch() < written {
            assert!(std::time::Instant::now() < deadline, "the site never saw content epoch {written}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Stops the site; fails the test if any of its tasks panicked on the way.
    pub async fn finish(self) {
        self.shutdown.cancel();
        self.db.pool.close().await;
        drop_database(&self.database_url).await;
        let panics = panics_of_this_test();
        assert!(panics.is_empty(), "the server panicked during this test:\n{}", panics.join("\n"));
    }
}

/// Runs the `openvoice` binary with `--data dir --database-url url`.
pub fn cli_at(dir: &Path, database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut command = Command::new(env!("CARGO_BIN_EXE_openvoice"));
    command.arg("--data").arg(dir).arg("--database-url").arg(database_url).args(args);
    command.env_remove("OPENVOICE_LISTEN");
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("running openvoice");
    if let Some(text) = stdin {
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("writing stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("openvoice output")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing test file");
    path
}

/// Runs one of the independent IPFS implementation's scripts (`tests/ipfs-js/*.mjs`, the npm
/// packages of the JavaScript reference implementation). `None` (after a visible skip, or a
/// failure in CI) when its packages are not installed.
pub fn ipfs_js(script: &str, args: &[&str]) -> Option<Output> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ipfs-js");
    if !dir.join("node_modules").is_dir() {
        skip_or_fail("checks against the independent IPFS implementation (run `npm ci --prefix tests/ipfs-js`)");
        return None;
    }
    let output = Command::new("node").arg(dir.join(script)).args(args).output().expect("running node");
    Some(output)
}

/// Posts a comment through the article page's form, as a reader does (the site must relax the
/// comment defences: `[comments] min_seconds = 0`); accepted comments get a 303.
pub async fn post_comment(site: &TestSite, slug: &str, author: &str, email: &str, text: &str) -> reqwest::Response {
    post_comment_to(&site.base, slug, author, email, text).await
}

/// [`post_comment`] to the site at `base` (`http://127.0.0.1:PORT`).
pub async fn post_comment_to(base: &str, slug: &str, author: &str, email: &str, text: &str) -> reqwest::Response {
    let reader = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let html = reader.get(format!("{base}/article/{slug}")).send().await.expect("page").text().await.expect("html");
    let doc = scraper::Html::parse_document(&html);
    let selector = scraper::Selector::parse("#commentform input[name=token]").expect("selector");
    let token = doc.select(&selector).next().and_then(|e| e.value().attr("value")).expect("form token").to_string();
    let form = [("author", author), ("email", email), ("url", ""), ("comment", text), ("token", &token)];
    reader.post(format!("{base}/article/{slug}/comments")).form(&form).send().await.expect("comment")
}

/// Puts a 1200×800 PNG in the media library as `username`, through the library's service.
pub async fn upload_image(site: &TestSite, username: &str) -> openvoice::media::model::MediaItem {
    use openvoice::media::service::{upload, Upload};
    let mut png = Vec::new();
    image::RgbImage::from_pixel(1200, 800, image::Rgb([200, 30, 30]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("encoding a PNG");
    let uploader_id = openvoice::accounts::find_by_username(&site.db, username).await.expect("uploader").id;
    let new = Upload { name: "harbour.png".into(), alt_text: "The harbour".into(), bytes: png, uploader_id };
    upload(&site.db, &site.config.media, new).await.expect("uploading").0
}
