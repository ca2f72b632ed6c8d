//! The admin desk in a real browser: headless Chromium (Debian's, driven by playwright-core,
//! `tests/browser/admin.mjs`) logs in, writes an article, uploads and inserts an image from
//! the editor, picks it as the featured image, publishes, and sees the article and its loaded
//! images on the public site.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{skip_or_fail, Backend, TestSite};
use openvoice::accounts::{self, NewUser, Role};

const PASSWORD: &str = "a long enough editor password";

/// A 320×200 PNG drawn here (a gradient with a horizon), so the upload is a real image the
/// media library decodes, resizes and stores.
fn harbour_png(path: &std::path::Path) {
    let img = image::RgbImage::from_fn(320, 200, |x, y| {
        if y > 120 {
            image::Rgb([20, 40 + (x / 4) as u8, 90])
        } else {
            image::Rgb([230, 120 + (y / 2) as u8, 60])
        }
    });
    img.save(path).expect("writing the PNG");
}

#[tokio::test]
async fn an_editor_in_chromium_publishes_an_article_with_an_image() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !dir.join("node_modules/playwright-core").exists()
        || !std::path::Path::new(&chromium).exists()
        || Command::new("node").arg("--version").output().is_err()
    {
        skip_or_fail("browser tests (need node, tests/browser/node_modules from `npm ci --prefix tests/browser` and /usr/bin/chromium)");
        return;
    }
    let site = TestSite::start(Backend::Sqlite).await;
    let new = NewUser {
        username: "chromium-editor",
        email: "chromium-editor@example.org",
        display_name: "Chromium Editor",
        role: Role::Editor,
        password: Some(PASSWORD),
    };
    accounts::create_user(&site.db, &new).await.expect("creating the editor");
    let png = site.dir.path().join("harbour.png");
    harbour_png(&png);

    let mut command = tokio::process::Command::new("node");
    command.arg(dir.join("admin.mjs")).arg(&site.base).arg("chromium-editor").arg(PASSWORD).arg(&png);
    command.env("CHROMIUM", &chromium).kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("the browser finished in time")
        .expect("running node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "browser: {stdout} {}", String::from_utf8_lossy(&output.stderr));
    let line = stdout.lines().find_map(|l| l.strip_prefix("PUBLISHED ")).expect("the script's report");
    let slug = line.split_whitespace().next().unwrap();

    // What the browser saw is what the site stores: published, with the uploaded image.
    let article = openvoice::content::service::find_public(&site.db, slug).await.expect("published");
    assert!(article.body_md.contains("](/media/"), "{}", article.body_md);
    assert!(article.body_html.contains("<img"), "{}", article.body_html);
    assert!(
        article.featured_image.as_deref().is_some_and(|url| url.starts_with("/media/")),
        "{:?}",
        article.featured_image
    );
    site.finish().await;
}
