//! Markdown files with YAML front matter (Hugo, Jekyll, Zola, our demo and benchmark corpora)
//! → articles. Re-importing a file updates the article with the same slug; a folder is imported
//! a batch of files per transaction.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use crate::content::model::{ArticleKind, Status};
use crate::content::service::{self, ContentError, ContentLimits, Draft, Publish, Saved, Terms};
use crate::store::Db;

/// The front-matter keys we read; unknown keys are ignored, as static site generators do.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FrontMatter {
    title: Option<String>,
    date: Option<String>,
    categories: Vec<String>,
    tags: Vec<String>,
    author: Option<String>,
    slug: Option<String>,
    excerpt: Option<String>,
    summary: Option<String>,
    draft: bool,
    image: Option<String>,
    /// A lead story (Jekyll's and WordPress's word for it).
    sticky: bool,
}

/// Why one document was not imported, with the line at fault when known.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DocumentError {
    pub line: usize,
    pub message: String,
}

/// Imports one document.
pub async fn import_document(
    db: &Db,
    limits: ContentLimits,
    text: &str,
    kind: ArticleKind,
    default_author: &str,
) -> Result<Saved, DocumentError> {
    let (draft, body_line) = parse_document(text, kind, default_author)?;
    service::drafts::upsert(db, limits, draft, Terms::CreateMissing).await.map_err(|err| locate(&err, text, body_line))
}

/// A document as a draft, and the line its body starts on.
fn parse_document(text: &str, kind: ArticleKind, default_author: &str) -> Result<(Draft, usize), DocumentError> {
    let (front, body, body_line) = split_front_matter(text)?;
    let title = front
        .title
        .filter(|t| !t.trim().is_empty())
        .ok_or(DocumentError { line: 1, message: "front matter: `title` is required".into() })?;
    let publish = match (&front.date, front.draft) {
        (_, true) => Publish::Draft,
        (Some(date), false) => Publish::At(parse_date(date).ok_or_else(|| DocumentError {
            line: find_key_line(text, "date"),
            message: format!(
                "front matter: `date` {date:?} is not a date (expected e.g. 2026-11-20T09:12:00Z or 2026-11-20)"
            ),
        })?),
        (None, false) => Publish::Now,
    };
    let draft = Draft {
        kind,
        title,
        slug: front.slug.filter(|s| !s.is_empty()),
        excerpt: front.excerpt.or(front.summary),
        body_md: body.to_string(),
        author: front.author.unwrap_or_else(|| default_author.to_string()),
        category: front.categories.first().cloned(),
        further_categories: front.categories.into_iter().skip(1).collect(),
        tags: front.tags,
        featured_image: front.image,
        publish,
        sticky: front.sticky,
    };
    Ok((draft, body_line))
}

/// The line of `text` a content error is about.
fn locate(err: &ContentError, text: &str, body_line: usize) -> DocumentError {
    let line = match err {
        ContentError::Invalid { field, .. } | ContentError::TooLarge { field, .. } => match *field {
            "body" => body_line,
            "category" => find_key_line(text, "categories"),
            field => find_key_line(text, field),
        },
        _ => 1,
    };
    DocumentError { line, message: err.to_string() }
}

/// What a folder import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    /// Of those, how many are drafts (`draft: true`) or scheduled (a future `date`).
    pub unpublished: usize,
    /// `file:line: message` for each file that could not be imported.
    pub failed: Vec<String>,
    /// `file: why` for each Markdown file left alone on purpose.
    pub skipped: Vec<String>,
}

/// Files per transaction: one transaction per file costs more than the file's own work.
const BATCH: usize = 500;

/// One file read, parsed and rendered, waiting for its batch's transaction.
struct Parsed {
    path: PathBuf,
    text: String,
    body_line: usize,
}

/// Imports every `*.md` file under `dir` (sorted by path) as posts, `BATCH` files per
/// transaction. A file that cannot be read or parsed is reported and never reaches the
/// database; one the database refuses is reported and its batch is written without it.
/// Files are read, parsed and rendered on every core, a batch ahead: the next batch is
/// prepared while the database writes this one.
pub async fn import_dir(
    db: &Db,
    limits: ContentLimits,
    dir: &Path,
    default_author: &str,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<ImportReport> {
    let mut report = ImportReport::default();
    let paths = markdown_files(dir, &mut report.skipped)?;
    let total = paths.len();
    let mut chunks = paths.chunks(BATCH).map(<[PathBuf]>::to_vec);
    let prepare = |chunk: Vec<PathBuf>| {
        let author = default_author.to_string();
        tokio::task::spawn_blocking(move || service::drafts::par_map(chunk, |path| prepare_file(limits, path, &author)))
    };
    let mut next = chunks.next().map(prepare);
    let mut done = 0;
    while let Some(pending) = next.take() {
        let files = pending.await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        next = chunks.next().map(prepare);
        done += files.len();
        let mut parsed = Vec::with_capacity(files.len());
        let mut prepared = Vec::with_capacity(files.len());
        for file in files {
            match file {
                Ok((file, draft)) => {
                    parsed.push(file);
                    prepared.push(draft);
                }
                Err(failure) => report.failed.push(failure),
            }
        }
        while !prepared.is_empty() {
            match service::drafts::upsert_prepared(db, &prepared, Terms::CreateMissing).await {
                Ok(saved) => {
                    for saved in saved {
                        let (created, status) = match saved {
                            Saved::Created { status, .. } => (true, status),
                            Saved::Updated { status, .. } => (false, status),
                        };
                        *(if created { &mut report.created } else { &mut report.updated }) += 1;
                        report.unpublished += usize::from(status != Status::Published);
                    }
                    break;
                }
                Err((Some(at), err)) => {
                    prepared.remove(at);
                    let bad = parsed.remove(at);
                    let err = locate(&err, &bad.text, bad.body_line);
                    report.failed.push(format!("{}:{}: {}", bad.path.display(), err.line, err.message));
                }
                Err((None, err)) => return Err(err.into()),
            }
        }
        progress(done, total);
    }
    Ok(report)
}

/// Reads, parses and renders one file; a failure is its `file:line: message`.
fn prepare_file(
    limits: ContentLimits,
    path: PathBuf,
    default_author: &str,
) -> Result<(Parsed, service::Prepared), String> {
    let parsed = match std::fs::read(&path) {
        Err(e) => Err(DocumentError { line: 1, message: e.to_string() }),
        Ok(bytes) => match String::from_utf8(bytes) {
            Err(_) => Err(DocumentError { line: 1, message: "not UTF-8 text".into() }),
            Ok(text) => parse_document(&text, ArticleKind::Post, default_author).map(|(mut draft, body_line)| {
                draft.slug = draft.slug.or_else(|| slug_from_path(&path));
                (text, draft, body_line)
            }),
        },
    };
    match parsed {
        Ok((text, draft, body_line)) => Ok((Parsed { path, text, body_line }, service::drafts::prepare(limits, draft))),
        Err(err) => Err(format!("{}:{}: {}", path.display(), err.line, err.message)),
    }
}

/// The slug of a file without one in its front matter, as the generators derive it, so that a
/// re-import finds the article again: the file name (`x.md`), less Jekyll's date prefix
/// (`2020-01-31-x.md`), or the folder of a Hugo page bundle (`x/index.md`).
fn slug_from_path(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let stem = match stem {
        "index" => path.parent()?.file_name()?.to_str()?,
        stem => stem,
    };
    let undated = match stem.as_bytes() {
        [y, y2, y3, y4, b'-', m, m2, b'-', d, d2, b'-', ..]
            if [y, y2, y3, y4, m, m2, d, d2].iter().all(|b| b.is_ascii_digit()) =>
        {
            &stem[11..]
        }
        _ => stem,
    };
    Some(slug::slugify(undated)).filter(|s| !s.is_empty())
}

/// Every `*.md` file under `dir`, sorted, skipping hidden folders. `_index.md` (a section's
/// list page in Hugo and Zola) is not an article: it goes to `skipped`.
fn markdown_files(dir: &Path, skipped: &mut Vec<String>) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| anyhow::anyhow!("reading {}: {e}", folder.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                folders.push(path);
            } else if name == "_index.md" {
                skipped.push(format!("{}: a section's list page (Hugo, Zola), not an article", path.display()));
            } else if path.extension().is_some_and(|ext| ext == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    skipped.sort();
    Ok(files)
}

/// Splits `---\nYAML\n---\nbody` (Jekyll, Hugo) or `+++\nTOML\n+++\nbody` (Hugo, Zola); returns
/// the front matter, the body and the body's first line.
fn split_front_matter(text: &str) -> Result<(FrontMatter, &str, usize), DocumentError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let fence = match text.get(..3) {
        Some("---") => "---",
        Some("+++") => "+++",
        _ => {
            return Err(DocumentError { line: 1, message: "expected front matter starting with `---` or `+++`".into() })
        }
    };
    let Some(rest) = text[3..].strip_prefix('\n').or_else(|| text[3..].strip_prefix("\r\n")) else {
        return Err(DocumentError { line: 1, message: format!("expected a line break after the opening `{fence}`") });
    };
    let closing = format!("\n{fence}");
    let end = rest
        .match_indices(closing.as_str())
        .find(|(i, _)| rest[i + 4..].starts_with('\n') || rest[i + 4..].starts_with("\r\n") || rest[i + 4..].is_empty())
        .map(|(i, _)| i)
        .ok_or_else(|| DocumentError { line: 1, message: format!("front matter is not closed by a `{fence}` line") })?;
    let head = &rest[..end];
    let after = &rest[end + 4..];
    let body = after.strip_prefix("\r\n").or_else(|| after.strip_prefix('\n')).unwrap_or(after);
    let body_line = 3 + head.lines().count();
    let front = if fence == "---" { parse_yaml(head)? } else { parse_toml(head)? };
    Ok((front, body, body_line))
}

fn parse_yaml(head: &str) -> Result<FrontMatter, DocumentError> {
    serde_yaml_ng::from_str(head).map_err(|e| DocumentError {
        // Front-matter lines count from the line after the opening fence.
        line: e.location().map_or(1, |l| l.line() + 1),
        message: format!("front matter: {e}"),
    })
}

/// TOML front matter: a TOML date-time `date` becomes text, and Zola's
/// `[taxonomies] categories/tags` count as top-level `categories`/`tags`.
fn parse_toml(head: &str) -> Result<FrontMatter, DocumentError> {
    let at = |span: Option<std::ops::Range<usize>>| {
        span.map_or(1, |r| head[..r.start.min(head.len())].lines().count().max(1) + 1)
    };
    let mut table: toml::Table = toml::from_str(head)
        .map_err(|e| DocumentError { line: at(e.span()), message: format!("front matter: {}", e.message()) })?;
    if let Some(toml::Value::Datetime(date)) = table.get("date") {
        let date = date.to_string();
        table.insert("date".into(), toml::Value::String(date));
    }
    if let Some(toml::Value::Table(taxonomies)) = table.remove("taxonomies") {
        for key in ["categories", "tags"] {
            if let (Some(value), false) = (taxonomies.get(key), table.contains_key(key)) {
                table.insert(key.into(), value.clone());
            }
        }
    }
    table
        .try_into()
        .map_err(|e: toml::de::Error| DocumentError { line: 1, message: format!("front matter: {}", e.message()) })
}

fn parse_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp());
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S") {
        return Some(dt.and_utc().timestamp());
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M") {
        return Some(dt.and_utc().timestamp());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp())
}

/// Parses a time the way the CLI accepts it (RFC 3339, or `YYYY-MM-DD HH:MM` in UTC).
pub fn parse_time(text: &str) -> Option<i64> {
    parse_date(text)
}

fn find_key_line(text: &str, key: &str) -> usize {
    text.lines().position(|l| l.starts_with(&format!("{key}:"))).map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_front_matter_and_reports_yaml_lines() {
        let (front, body, line) = split_front_matter("---\ntitle: \"Hi\"\ntags: [a, b]\n---\nBody\n").unwrap();
        assert_eq!(front.title.as_deref(), Some("Hi"));
        assert_eq!(front.tags, vec!["a", "b"]);
        assert_eq!(body, "Body\n");
        assert_eq!(line, 5);

        let err = split_front_matter("---\ntitle: ok\ntags: [unclosed\n---\nBody").unwrap_err();
        assert!(err.line >= 3, "{err}");
        assert!(split_front_matter("no front matter").is_err());
        let err = split_front_matter("+++\ntitle = \"x\"\ntags = [\n+++\nBody").unwrap_err();
        assert!(err.message.contains("front matter"), "{err}");
        assert!(split_front_matter("---\ntitle: x\n").unwrap_err().message.contains("not closed"));
    }

    #[test]
    fn reads_hugo_and_zola_toml_front_matter() {
        let hugo = "+++\ntitle = \"Hugo Post\"\ndate = 2021-03-04T05:06:07Z\ncategories = [\"World\"]\ntags = [\"a\"]\ndraft = true\n+++\nBody\n";
        let (front, body, line) = split_front_matter(hugo).unwrap();
        assert_eq!(front.title.as_deref(), Some("Hugo Post"));
        assert_eq!(front.date.as_deref().and_then(parse_date), Some(1614834367));
        assert_eq!(front.categories, vec!["World"]);
        assert!(front.draft);
        assert_eq!((body, line), ("Body\n", 8));

        let zola = "+++\ntitle = \"Zola Post\"\ndate = 2021-03-04\n[taxonomies]\ncategories = [\"Science\"]\ntags = [\"x\", \"y\"]\n+++\nBody";
        let (front, _, _) = split_front_matter(zola).unwrap();
        assert_eq!(front.categories, vec!["Science"]);
        assert_eq!(front.tags, vec!["x", "y"]);
        assert_eq!(front.date.as_deref().and_then(parse_date), Some(1614816000));
    }

    #[test]
    fn files_without_a_slug_get_the_one_their_generator_gives_them() {
        let slug = |p: &str| slug_from_path(Path::new(p));
        assert_eq!(slug("content/posts/My Post.md").as_deref(), Some("my-post"));
        assert_eq!(slug("_posts/2020-01-31-harbour-news.md").as_deref(), Some("harbour-news"));
        assert_eq!(slug("content/posts/bridge/index.md").as_deref(), Some("bridge"));
        assert_eq!(slug("2020-01-31.md").as_deref(), Some("2020-01-31"));
    }

    #[test]
    fn parses_the_date_forms_generators_write() {
        assert_eq!(parse_date("2020-01-01T09:12:00Z"), Some(1577869920));
        assert_eq!(parse_date("2020-01-01"), Some(1577836800));
        assert_eq!(parse_date("2020-01-01 09:12"), Some(1577869920));
        assert_eq!(parse_date("yesterday"), None);
    }
}
