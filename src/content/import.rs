//! Markdown files with YAML front matter (Hugo, Jekyll, Zola, our demo and benchmark corpora)
//! → articles. Re-importing a file updates the article with the same slug.

use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::Deserialize;

use crate::content::model::ArticleKind;
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
}

/// Why one document was not imported, with the line at fault when known.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DocumentError {
    pub line: usize,
    pub message: String,
}

/// Imports one document; `name` is used in messages.
pub async fn import_document(
    db: &Db,
    limits: ContentLimits,
    text: &str,
    kind: ArticleKind,
    default_author: &str,
) -> Result<Saved, DocumentError> {
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
        category: front.categories.into_iter().next(),
        tags: front.tags,
        featured_image: front.image,
        publish,
    };
    service::upsert(db, limits, draft, Terms::CreateMissing).await.map_err(|err| {
        let line = match &err {
            ContentError::Invalid { field, .. } | ContentError::TooLarge { field, .. } => match *field {
                "body" => body_line,
                "category" => find_key_line(text, "categories"),
                field => find_key_line(text, field),
            },
            _ => 1,
        };
        DocumentError { line, message: err.to_string() }
    })
}

/// What a folder import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    /// `file:line: message` for each file that was skipped.
    pub failed: Vec<String>,
}

/// Imports every `*.md` file of `dir` (sorted by name) as published posts.
pub async fn import_dir(
    db: &Db,
    limits: ContentLimits,
    dir: &Path,
    default_author: &str,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<ImportReport> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "md"))
        .collect();
    paths.sort();
    let mut report = ImportReport::default();
    for (n, path) in paths.iter().enumerate() {
        let outcome = match std::fs::read(path) {
            Err(e) => Err(DocumentError { line: 1, message: e.to_string() }),
            Ok(bytes) => match String::from_utf8(bytes) {
                Err(_) => Err(DocumentError { line: 1, message: "not UTF-8 text".into() }),
                Ok(text) => import_document(db, limits, &text, ArticleKind::Post, default_author).await,
            },
        };
        match outcome {
            Ok(Saved::Created { .. }) => report.created += 1,
            Ok(Saved::Updated { .. }) => report.updated += 1,
            Err(err) => report.failed.push(format!("{}:{}: {}", path.display(), err.line, err.message)),
        }
        progress(n + 1, paths.len());
    }
    Ok(report)
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
    fn parses_the_date_forms_generators_write() {
        assert_eq!(parse_date("2020-01-01T09:12:00Z"), Some(1577869920));
        assert_eq!(parse_date("2020-01-01"), Some(1577836800));
        assert_eq!(parse_date("2020-01-01 09:12"), Some(1577869920));
        assert_eq!(parse_date("yesterday"), None);
    }
}
