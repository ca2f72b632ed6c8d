//! The `openvoice import wordpress` and `export …` commands: progress bars and summaries.

use std::path::Path;

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};

use crate::content::service::ContentLimits;
use crate::http::AppState;
use crate::migrate::wordpress::{self, Fetching, Kind, Media, Report, Uploads, WarningKind};
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
    fetching: Option<Fetching>,
    verbose: bool,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let size = std::fs::metadata(file).map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?.len();
    let uploads = match uploads {
        Some(from) if !from.is_dir() => bail!("--uploads {}: not a folder", from.display()),
        Some(from) => Some(Uploads { from: from.to_path_buf(), to: data_dir.join("theme/static/uploads") }),
        None => None,
    };
    let bar = progress_bar(size, "bytes");
    let media = Media { uploads: uploads.as_ref(), fetching };
    let report = wordpress::import_file(db, limits, file, media, |done| bar.set_position(done)).await?;
    bar.finish_and_clear();
    crate::migrate::queries::analyze(db).await?;
    print!("{}", wordpress_summary(&report, file, started.elapsed(), verbose));
    tell_how_to_add_an_admin(db).await?;
    if report.failed.is_empty() {
        Ok(())
    } else {
        bail!("{} thing(s) could not be imported (listed above)", report.failed.len())
    }
}

/// A site without an admin (a fresh one that an import filled with authors) cannot be managed
/// from the desk until someone adds one; say how.
pub async fn tell_how_to_add_an_admin(db: &Db) -> anyhow::Result<()> {
    if !crate::accounts::has_active_admin(db).await? {
        println!("\nThe site has no admin yet. Create the first one with:");
        println!("  openvoice user add USERNAME --email EMAIL --role admin");
    }
    Ok(())
}

/// The import's summary: the table first, what failed and why, then the warnings collapsed by
/// kind (each listed with `verbose`).
fn wordpress_summary(report: &Report, file: &Path, took: std::time::Duration, verbose: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let outcome = match report.failed.len() {
        0 => "everything imported or deliberately skipped".to_string(),
        n => format!("{n} failed"),
    };
    let _ = writeln!(out, "Import of {} finished in {:.1}s: {outcome}\n", file.display(), took.as_secs_f64());
    let _ = writeln!(out, "{:<12} {:>8} {:>9} {:>8} {:>7}", "", "in file", "imported", "skipped", "failed");
    for kind in Kind::ALL {
        let t = report.tally(kind);
        let _ =
            writeln!(out, "{:<12} {:>8} {:>9} {:>8} {:>7}", kind.plural(), t.in_file, t.imported, t.skipped, t.failed);
    }
    let _ = writeln!(
        out,
        "\n{} articles new, {} updated; {} old URLs redirect to their new ones.",
        report.posts_created, report.posts_updated, report.redirects
    );
    if !report.skipped.is_empty() {
        let reasons: Vec<String> = report.skipped.iter().map(|(why, n)| format!("{n} {why}")).collect();
        let _ = writeln!(out, "Skipped on purpose: {}.", reasons.join("; "));
    }
    if !report.failed.is_empty() {
        let _ = writeln!(out, "\nFailed ({}):", report.failed.len());
        for failure in &report.failed {
            let _ = writeln!(out, "  {failure}");
        }
    }
    if !report.warnings.is_empty() {
        let mut kinds: Vec<WarningKind> = report.warnings.iter().map(|w| w.kind).collect();
        kinds.sort();
        kinds.dedup();
        let hint = if verbose { "" } else { "; --verbose lists each" };
        let _ = writeln!(out, "\nWarnings ({}{hint}):", report.warnings.len());
        for kind in kinds {
            let mut of_kind = report.warnings_of(kind);
            let n = report.warnings_of(kind).count();
            let _ = writeln!(out, "  {n} {}", kind.describe());
            match (verbose, of_kind.next()) {
                (true, Some(first)) => {
                    for warning in std::iter::once(first).chain(of_kind) {
                        let _ = writeln!(out, "      {warning}");
                    }
                }
                (false, Some(first)) => {
                    let _ = writeln!(out, "      e.g. {first}");
                }
                (_, None) => {}
            }
        }
    }
    out
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
