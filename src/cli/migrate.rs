//! The `openvoice import wordpress` and `export …` commands: progress bars and summaries.

use std::path::Path;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};

use crate::content::service::ContentLimits;
use crate::http::AppState;
use crate::migrate::wordpress::{self, Uploads};
use crate::store::Db;

/// A bar over `total` units, drawn on standard error only when it is a terminal.
pub fn progress_bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{{unit}}}/{{total_{unit}}} {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

pub async fn import_wordpress(
    db: &Db,
    limits: ContentLimits,
    data_dir: &Path,
    file: &Path,
    uploads: Option<&Path>,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let size = std::fs::metadata(file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?.len();
    let uploads = match uploads {
        Some(from) if !from.is_dir() => bail!("--uploads {}: not a folder", from.display()),
        Some(from) => Some(Uploads { from: from.to_path_buf(), to: data_dir.join("theme/static/uploads") }),
        None => None,
    };
    let bar = progress_bar(size, "bytes");
    let report = wordpress::import_file(db, limits, file, uploads.as_ref(), |done| bar.set_position(done)).await?;
    bar.finish_and_clear();
    crate::migrate::queries::analyze(db).await?;
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    for failure in &report.failed {
        eprintln!("failed: {failure}");
    }
    if !report.remote_media.is_empty() {
        eprintln!("{} media file(s) kept at their original URLs:", report.remote_media.len());
        for url in &report.remote_media {
            eprintln!("  {url}");
        }
    }
    for (why, n) in &report.skipped {
        println!("Skipped {n}: {why}");
    }
    println!(
        "Imported {} new and {} updated articles ({} pages), {} comments ({} already there), {} categories, \
         {} tags, {} authors, {} attachments, {} redirects; {} failed, in {:.1}s",
        report.posts_created,
        report.posts_updated,
        report.pages,
        report.comments,
        report.comments_already_there,
        report.categories,
        report.tags,
        report.authors,
        report.attachments,
        report.redirects,
        report.failed.len(),
        started.elapsed().as_secs_f64()
    );
    if report.failed.is_empty() {
        Ok(())
    } else {
        bail!("{} item(s) could not be imported", report.failed.len())
    }
}

pub async fn export_wordpress(db: &Db, config: &crate::config::Config, out: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let report = crate::migrate::export::export_file(db, &config.site.title, &config.base_url(), out).await?;
    println!(
        "Wrote {}: {} articles, {} comments, {} categories, {} tags in {:.1}s",
        out.display(),
        report.articles,
        report.comments,
        report.categories,
        report.tags,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `export static` into `out`, with a progress bar and a summary; `router` makes the site's
/// router over the export's state (`app::router::router`).
pub async fn export_static(
    db: Db,
    mut config: crate::config::Config,
    data_dir: std::path::PathBuf,
    out: &Path,
    base_url: Option<String>,
    jobs: usize,
    router: fn(AppState) -> axum::Router,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    if let Some(url) = base_url {
        config.site.base_url = url;
    }
    let state = crate::migrate::static_site::export_state(db, config, data_dir).await?;
    let bar = progress_bar(0, "pos");
    let report = crate::migrate::static_site::export(state.clone(), router(state), out, jobs, |done, known| {
        bar.set_length(known);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    if !report.broken.is_empty() {
        eprintln!("{} link(s) lead nowhere:", report.broken.len());
        for (link, status, from) in &report.broken {
            eprintln!("  {link} ({status}), linked from {from}");
        }
    }
    println!(
        "Wrote {}: {} pages, {} other files, {} redirects, {:.1} MiB in {:.1}s",
        out.display(),
        report.pages,
        report.files,
        report.redirects,
        report.bytes as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn import_markdown(db: &Db, limits: ContentLimits, dir: &Path, author: &str) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let bar = progress_bar(0, "pos");
    let report = crate::content::import::import_dir(db, limits, dir, author, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })
    .await?;
    bar.finish_and_clear();
    crate::migrate::queries::analyze(db).await?;
    for skipped in &report.skipped {
        eprintln!("skipped {skipped}");
    }
    for failure in &report.failed {
        eprintln!("failed: {failure}");
    }
    println!(
        "Imported {} new and {} updated articles ({} drafts or scheduled); {} failed, {} skipped, in {:.1}s",
        report.created,
        report.updated,
        report.unpublished,
        report.failed.len(),
        report.skipped.len(),
        started.elapsed().as_secs_f64()
    );
    if report.failed.is_empty() {
        Ok(())
    } else {
        bail!("{} file(s) could not be imported", report.failed.len())
    }
}
