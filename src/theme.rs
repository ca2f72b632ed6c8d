//! The theme, used by pages, feeds and IPFS bundles alike: minijinja templates and static files embedded in the binary, each overridable by a
//! file of the same name in `<data>/theme/` (templates) or `<data>/theme/static/` (assets).
//!
//! Auto-escaping is on for `.html` and `.xml` templates; only values built by our own code from
//! sanitised HTML are marked safe.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use include_dir::{include_dir, Dir};
use minijinja::{Environment, Value};

static THEME: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/theme");

pub struct Templates {
    env: Environment<'static>,
    override_dir: PathBuf,
    /// The zone the `date` and `datetime` filters show times in (`site.time_zone`); shared with
    /// the filters, so a change in the admin's settings applies without rebuilding the theme.
    zone: Arc<RwLock<chrono_tz::Tz>>,
}

impl Templates {
    /// Loads the embedded theme, with overrides from `<data_dir>/theme/`.
    pub fn new(data_dir: &Path) -> Templates {
        let override_dir = data_dir.join("theme");
        let mut env = Environment::new();
        let dir = override_dir.clone();
        env.set_loader(move |name| {
            if name.contains("..") {
                return Ok(None);
            }
            match std::fs::read_to_string(dir.join(name)) {
                Ok(text) => return Ok(Some(text)),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    return Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        "reading a theme override",
                    )
                    .with_source(err))
                }
            }
            Ok(THEME.get_file(format!("templates/{name}")).and_then(|f| f.contents_utf8()).map(str::to_string))
        });
        env.set_formatter(escape_markup);
        let zone = Arc::new(RwLock::new(chrono_tz::UTC));
        let date_zone = zone.clone();
        env.add_filter("date", move |ts: i64| local_ts(&date_zone, ts, "%-d %B %Y"));
        let datetime_zone = zone.clone();
        env.add_filter("datetime", move |ts: i64| local_ts(&datetime_zone, ts, "%-d %B %Y, %H:%M %Z"));
        env.add_filter("isodate", |ts: i64| rfc3339(ts));
        env.add_filter("rfc2822", |ts: i64| {
            DateTime::<Utc>::from_timestamp(ts, 0).map(|d| d.to_rfc2822()).unwrap_or_default()
        });
        Templates { env, override_dir, zone }
    }

    /// Shows dates and times in `zone` from now on.
    pub fn set_time_zone(&self, zone: chrono_tz::Tz) {
        *self.zone.write().unwrap_or_else(|e| e.into_inner()) = zone;
    }

    pub fn render(&self, name: &str, context: Value) -> Result<String, minijinja::Error> {
        self.env.get_template(name)?.render(context)
    }

    /// Adds a value every template sees, e.g. `static_export` (set by `export static`).
    pub fn add_global(&mut self, name: &'static str, value: impl Into<Value>) {
        self.env.add_global(name, value.into());
    }

    /// The path of every static asset (`/static/<path>`): embedded files and overrides.
    pub fn static_paths(&self) -> Vec<String> {
        fn embedded(dir: &Dir<'static>, out: &mut Vec<String>) {
            out.extend(dir.files().filter_map(|f| f.path().strip_prefix("static").ok()?.to_str().map(str::to_string)));
            dir.dirs().for_each(|d| embedded(d, out));
        }
        fn overrides(root: &Path, dir: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries.flatten() {
                let path = entry.path();
                if entry.file_name().to_string_lossy().starts_with('.') {
                    continue;
                }
                match entry.file_type() {
                    Ok(t) if t.is_dir() => overrides(root, &path, out),
                    Ok(t) if t.is_file() => {
                        if let Some(rel) = path.strip_prefix(root).ok().and_then(|p| p.to_str()) {
                            out.push(rel.replace(std::path::MAIN_SEPARATOR, "/"));
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut paths = Vec::new();
        if let Some(dir) = THEME.get_dir("static") {
            embedded(dir, &mut paths);
        }
        let root = self.override_dir.join("static");
        overrides(&root, &root, &mut paths);
        paths.sort();
        paths.dedup();
        paths
    }

    /// A static asset's bytes: the override if present, else the embedded file.
    pub fn static_file(&self, path: &str) -> Option<Vec<u8>> {
        if path.split('/').any(|part| part.is_empty() || part == ".." || part.starts_with('.')) {
            return None;
        }
        if let Ok(bytes) = std::fs::read(self.override_dir.join("static").join(path)) {
            return Some(bytes);
        }
        THEME.get_file(format!("static/{path}")).map(|f| f.contents().to_vec())
    }
}

/// Escapes `& < > " '` in HTML and XML output. minijinja's default also escapes `/`, which is
/// valid but turns every URL in feeds and sitemaps into `http:&#x2f;&#x2f;…`.
fn escape_markup(out: &mut minijinja::Output, state: &minijinja::State, value: &Value) -> Result<(), minijinja::Error> {
    let text = match value.as_str() {
        Some(text) if !value.is_safe() && state.auto_escape() == minijinja::AutoEscape::Html => text,
        _ => return minijinja::escape_formatter(out, state, value),
    };
    let mut last = 0;
    for (i, c) in text.char_indices() {
        let entity = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            _ => continue,
        };
        out.write_str(&text[last..i])?;
        out.write_str(entity)?;
        last = i + 1;
    }
    out.write_str(&text[last..])?;
    Ok(())
}

/// Site-wide values every template sees as `site`.
pub fn site_values(config: &crate::config::Config) -> Value {
    let site = &config.site;
    minijinja::context! {
        title => site.title,
        tagline => site.tagline,
        language => site.language,
        time_zone => site.time_zone,
        widgets => site.widgets,
        base_url => config.base_url(),
        subscriptions => config.subscriptions.enabled,
    }
}

pub fn rfc3339(ts: i64) -> String {
    DateTime::<Utc>::from_timestamp(ts, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Formats `ts` in the site's time zone.
fn local_ts(zone: &RwLock<chrono_tz::Tz>, ts: i64, format: &str) -> String {
    let zone = *zone.read().unwrap_or_else(|e| e.into_inner());
    DateTime::<Utc>::from_timestamp(ts, 0)
        .map(|d| d.with_timezone(&zone).format(format).to_string())
        .unwrap_or_default()
}
