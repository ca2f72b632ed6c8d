//! `openvoice import wordpress`: a WXR export → articles, pages, categories (with their
//! hierarchy), tags, authors, comments (threaded, with their status), featured images and
//! redirects from the old URLs.
//!
//! Post bodies are kept as HTML, not converted to Markdown: CommonMark passes HTML blocks through
//! and separates paragraphs at blank lines as WordPress's `wpautop` does, so the page looks as it
//! did, ammonia sanitises it when it is rendered, and an export back to WordPress gives the same
//! HTML. A conversion would lose whatever Markdown cannot say (tables with attributes, figures,
//! embeds) and could not be undone. Shortcodes, which only WordPress's plugins understand, are
//! the exception: `shortcodes` turns captions, galleries, embeds, video and audio into the HTML
//! WordPress would have shown, and the others are reported.
//!
//! Every item is imported on its own: a bad one is reported with its line and the rest goes on.
//! Re-running the import updates what it imported before (keyed by the WXR post and comment ids
//! in `import_keys`) instead of duplicating it.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime};
use sha2::{Digest, Sha256};

use crate::accounts::{self, NewUser, Role};
use crate::comments::guard::Keys;
use crate::content::model::ArticleKind;
use crate::content::queries as content_queries;
use crate::content::service::{self, ContentLimits, Draft, Publish, Saved, Terms};
use crate::migrate::queries;
use crate::migrate::shortcodes;
use crate::migrate::wxr::{self, Node, WxrReader};
use crate::store::{self, ContentChange, Db, DbError};

const SOURCE: &str = "wordpress";

/// Where the uploads of the old site are, and where they go.
#[derive(Debug, Clone)]
pub struct Uploads {
    /// A local copy of `wp-content/uploads`.
    pub from: PathBuf,
    /// `<data>/theme/static/uploads`, served at `/static/uploads/`.
    pub to: PathBuf,
}

/// What an import did, and what it did not and why.
#[derive(Debug, Default)]
pub struct Report {
    pub posts_created: usize,
    pub posts_updated: usize,
    pub pages: usize,
    pub comments: usize,
    pub comments_already_there: usize,
    pub categories: usize,
    pub tags: usize,
    pub authors: usize,
    pub attachments: usize,
    pub redirects: usize,
    /// `why → how many`, for items skipped on purpose (revisions, menu items, trash…).
    pub skipped: BTreeMap<String, usize>,
    /// `line N: message` for each item that failed.
    pub failed: Vec<String>,
    /// Notes about items that were imported with a change (a renamed slug, a missing parent).
    pub notes: Vec<String>,
    /// Media kept at their original URLs (no `--uploads`, or the file was not in it).
    pub remote_media: Vec<String>,
    /// Shortcode name → how many were left as text in the bodies (no conversion for them).
    pub shortcodes_left: BTreeMap<String, usize>,
}

impl Report {
    fn skip(&mut self, why: impl Into<String>) {
        *self.skipped.entry(why.into()).or_default() += 1;
    }
}

/// Imports the WXR file at `path`. Malformed XML stops the reading with its line and column
/// (what was read before it stays imported); `progress` gets the bytes read so far.
pub async fn import_file(
    db: &Db,
    limits: ContentLimits,
    path: &Path,
    uploads: Option<&Uploads>,
    progress: impl FnMut(u64),
) -> anyhow::Result<Report> {
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    import(db, limits, std::io::BufReader::with_capacity(256 * 1024, file), uploads, progress).await
}

pub async fn import(
    db: &Db,
    limits: ContentLimits,
    input: impl BufRead,
    uploads: Option<&Uploads>,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Report> {
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let secret = crate::store::site_secret(db, crate::http::form_guard::COMMENTS_SECRET, &secret).await?;
    let keys = Keys::from_secret(secret.as_bytes());
    let mut importer = Importer {
        db,
        limits,
        keys,
        uploads,
        base_url: String::new(),
        report: Report::default(),
        categories: Vec::new(),
        categories_done: false,
        attachments: HashMap::new(),
        thumbnails: Vec::new(),
        waiting_for_attachments: Vec::new(),
        authors: HashMap::new(),
    };
    let mut reader = WxrReader::new(input);
    let mut n_nodes = 0u64;
    let outcome = loop {
        let node = match reader.next_node() {
            Ok(Some(node)) => node,
            Ok(None) => break Ok(()),
            Err(err) => break Err(err),
        };
        importer.node(node).await?;
        n_nodes += 1;
        if n_nodes.is_multiple_of(64) {
            progress(reader.bytes_read());
        }
    };
    progress(reader.bytes_read());
    importer.finish_categories().await?;
    for item in std::mem::take(&mut importer.waiting_for_attachments) {
        importer.import_item(item).await;
    }
    importer.finish_thumbnails().await?;
    if let Err(err) = outcome {
        importer.report.failed.push(err.to_string());
    }
    Ok(importer.report)
}

struct Importer<'a> {
    db: &'a Db,
    limits: ContentLimits,
    keys: Keys,
    uploads: Option<&'a Uploads>,
    base_url: String,
    report: Report,
    /// Channel-level categories, created before the first item (parents may follow children).
    categories: Vec<wxr::Category>,
    categories_done: bool,
    /// Attachment post id → its URL (as the site will serve it).
    attachments: HashMap<String, String>,
    /// `(article id, attachment post id)` to resolve once every attachment has been read.
    thumbnails: Vec<(i64, String)>,
    /// Posts whose galleries name attachments not read yet (WordPress exports an upload after
    /// the post it was uploaded to), imported once every attachment has been read.
    waiting_for_attachments: Vec<wxr::Item>,
    /// Login → the name the content service resolves (the login of an account we made).
    authors: HashMap<String, String>,
}

impl Importer<'_> {
    async fn node(&mut self, node: Node) -> anyhow::Result<()> {
        match node {
            Node::BaseUrl(url) => self.base_url = url.trim_end_matches('/').to_string(),
            Node::Author(author) => {
                if let Err(err) = self.author(&author).await {
                    self.report.failed.push(format!("author {:?}: {err}", author.login));
                }
            }
            Node::Category(category) => self.categories.push(category),
            Node::Tag(tag) => {
                let slug = service::slugify(if tag.slug.is_empty() { &tag.name } else { &tag.slug });
                let name = if tag.name.trim().is_empty() { tag.slug.clone() } else { decode_entities(tag.name.trim()) };
                if slug.is_empty() {
                    self.report.failed.push(format!("tag {:?}: no usable slug", tag.name));
                    return Ok(());
                }
                let mut tx = self.db.begin().await?;
                crate::content::queries::terms::ensure_tag(&mut tx, &slug, &name).await?;
                tx.commit().await?;
                self.report.tags += 1;
            }
            Node::Item(item) => {
                self.finish_categories().await?;
                let waits = shortcodes::gallery_ids(&item.content).iter().any(|id| !self.attachments.contains_key(id));
                if waits && item.post_type != "attachment" {
                    self.waiting_for_attachments.push(*item);
                } else {
                    self.import_item(*item).await;
                }
            }
        }
        Ok(())
    }

    async fn import_item(&mut self, item: wxr::Item) {
        let line = item.line;
        if let Err(message) = self.item(item).await {
            self.report.failed.push(format!("line {line}: {message}"));
        }
    }

    async fn author(&mut self, author: &wxr::Author) -> anyhow::Result<()> {
        let login = author.login.trim();
        let username = service::slugify(login);
        if username.is_empty() {
            anyhow::bail!("no usable login");
        }
        let display_name = match author.display_name.trim() {
            "" => login,
            name => name,
        };
        self.authors.insert(login.to_string(), username.clone());
        if accounts::find_by_username(self.db, &username).await.is_ok() {
            return Ok(());
        }
        let email = match author.email.trim() {
            e if accounts::validate_email(e).is_ok() => e.to_lowercase(),
            _ => format!("{username}@authors.invalid"),
        };
        let new = NewUser { username: &username, email: &email, display_name, role: Role::Author, password: None };
        match accounts::create_user(self.db, &new).await {
            Ok(_) => {}
            // The email belongs to another account already: keep the byline, not the address.
            Err(_) => {
                let email = format!("{username}@authors.invalid");
                let new = NewUser { email: &email, ..new };
                accounts::create_user(self.db, &new).await?;
            }
        }
        self.report.authors += 1;
        Ok(())
    }

    /// Creates the channel's categories, then links each to its parent.
    async fn finish_categories(&mut self) -> anyhow::Result<()> {
        if self.categories_done {
            return Ok(());
        }
        self.categories_done = true;
        let categories = std::mem::take(&mut self.categories);
        let now = store::now();
        let mut ids: HashMap<String, i64> = HashMap::new();
        for category in &categories {
            let name = decode_entities(category.name.trim());
            let name = name.as_str();
            let slug = service::slugify(if category.nicename.is_empty() { name } else { &category.nicename });
            if slug.is_empty() || name.is_empty() || name.chars().count() > service::MAX_TERM_CHARS {
                self.report.failed.push(format!("category {name:?}: not a usable category name"));
                continue;
            }
            let mut tx = self.db.begin().await?;
            let id = crate::content::queries::terms::ensure_category(&mut tx, &slug, name, now).await?;
            if !category.description.is_empty() {
                queries::set_category_description(&mut tx, id, &category.description).await?;
            }
            store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
            tx.commit().await?;
            ids.insert(category.nicename.clone(), id);
            self.report.categories += 1;
        }
        for category in &categories {
            let (Some(&id), false) = (ids.get(&category.nicename), category.parent.is_empty()) else { continue };
            let Some(&parent) = ids.get(&category.parent) else {
                self.report.notes.push(format!(
                    "category {:?}: parent {:?} is not in the export; kept at the top level",
                    category.name, category.parent
                ));
                continue;
            };
            let mut tx = self.db.begin().await?;
            content_queries::terms::set_category_parent(&mut tx, id, Some(parent)).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The URL the site serves an old media URL at: a copy under `/static/uploads/` when the
    /// file is in the local uploads folder, the original URL otherwise (and listed).
    fn media_url(&mut self, url: &str) -> String {
        let Some(uploads) = self.uploads else {
            self.report.remote_media.push(url.to_string());
            return url.to_string();
        };
        let Some((_, relative)) = url.split_once("/wp-content/uploads/") else {
            self.report.remote_media.push(url.to_string());
            return url.to_string();
        };
        let relative = relative.split(['?', '#']).next().unwrap_or("");
        let safe = !relative.is_empty() && relative.split('/').all(|part| !part.is_empty() && part != "..");
        let from = uploads.from.join(relative);
        if !safe || !from.is_file() {
            self.report.remote_media.push(url.to_string());
            return url.to_string();
        }
        let to = uploads.to.join(relative);
        let copied = to.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::copy(&from, &to));
        match copied {
            Ok(_) => format!("/static/uploads/{relative}"),
            Err(err) => {
                self.report.notes.push(format!("{url}: copying {} failed: {err}", from.display()));
                self.report.remote_media.push(url.to_string());
                url.to_string()
            }
        }
    }

    /// Rewrites links to the old uploads folder to the copies (with `--uploads`).
    fn rewrite_media(&self, html: &str) -> String {
        let (Some(_), false) = (self.uploads, self.base_url.is_empty()) else { return html.to_string() };
        let old = format!("{}/wp-content/uploads/", self.base_url);
        html.replace(&old, "/static/uploads/")
    }

    async fn item(&mut self, item: wxr::Item) -> Result<(), String> {
        if let Some(problem) = item.problems.iter().find(|p| p.contains("larger than")) {
            return Err(format!("{:?}: {problem}", item.title));
        }
        for problem in &item.problems {
            self.report.notes.push(format!("line {}: {problem}", item.line));
        }
        let kind = match item.post_type.as_str() {
            "post" | "" => ArticleKind::Post,
            "page" => ArticleKind::Page,
            "attachment" => {
                let url = if item.attachment_url.is_empty() { item.guid.clone() } else { item.attachment_url.clone() };
                if url.is_empty() {
                    return Err(format!("attachment {}: no URL", item.external_id()));
                }
                let served = self.media_url(&url);
                self.attachments.insert(item.post_id.clone(), served);
                self.report.attachments += 1;
                return Ok(());
            }
            other => {
                self.report.skip(format!("post type {other:?} (not content)"));
                return Ok(());
            }
        };
        let external_id = item.external_id().to_string();
        if external_id.is_empty() {
            return Err(format!("{:?}: neither wp:post_id nor guid", item.title));
        }
        let date = parse_wp_date(&item.post_date_gmt)
            .or_else(|| parse_wp_date(&item.post_date))
            .or_else(|| DateTime::parse_from_rfc2822(item.pub_date.trim()).ok().map(|d| d.timestamp()));
        let publish = match (item.status.as_str(), date) {
            ("publish" | "future", Some(at)) => Publish::At(at),
            ("publish", None) => Publish::Now,
            ("future", None) => return Err(format!("{:?}: scheduled without a date", item.title)),
            ("draft" | "pending" | "auto-draft" | "private", _) => Publish::Draft,
            ("trash", _) => {
                self.report.skip("in the trash");
                return Ok(());
            }
            ("inherit", _) => {
                self.report.skip("revisions");
                return Ok(());
            }
            (other, _) => return Err(format!("{:?}: unknown status {other:?}", item.title)),
        };
        if item.status == "private" {
            self.report.notes.push(format!("line {}: private post {:?} imported as a draft", item.line, item.title));
        }

        let previous = match queries::import_key(self.db, SOURCE, "post", &external_id).await {
            Ok(id) => id,
            Err(err) => return Err(err.to_string()),
        };
        let previous_slug = match previous {
            Some(id) => crate::content::queries::reading::slug_of(self.db, id).await.map_err(|e| e.to_string())?,
            None => None,
        };
        let wanted = service::slugify(&percent_decode(&item.post_name));
        let slug = match (previous_slug, wanted.is_empty()) {
            (Some(slug), _) => Some(slug),
            (None, true) => None,
            (None, false) => match queries::article_id_by_slug(self.db, &wanted).await.map_err(|e| e.to_string())? {
                Some(_) => {
                    self.report.notes.push(format!(
                        "line {}: slug {wanted:?} is taken by another article; {:?} gets a new one",
                        item.line, item.title
                    ));
                    None
                }
                None => Some(wanted),
            },
        };

        let mut categories = item.terms.iter().filter(|t| t.domain == "category");
        let category = categories.next().map(|t| decode_entities(t.name.trim()));
        let n_more_categories = categories.count();
        if n_more_categories > 0 {
            self.report.notes.push(format!(
                "line {}: {:?} is in {} categories; OpenVoice keeps the first",
                item.line,
                item.title,
                n_more_categories + 1
            ));
        }
        let tags: Vec<String> =
            item.terms.iter().filter(|t| t.domain == "post_tag").map(|t| decode_entities(t.name.trim())).collect();
        let author = match item.creator.trim() {
            "" => "Site Admin".to_string(),
            login => self.authors.get(login).cloned().unwrap_or_else(|| login.to_string()),
        };
        let title = match item.title.trim() {
            "" => "(no title)".to_string(),
            title => title.to_string(),
        };
        let excerpt = decode_entities(item.excerpt.trim());
        let excerpt = excerpt.trim();
        let excerpt = (!excerpt.is_empty()).then(|| excerpt.chars().take(service::MAX_EXCERPT_CHARS).collect());
        let body =
            shortcodes::convert(&self.rewrite_media(&item.content), |id| self.attachments.get(id).map(String::as_str));
        if !body.left_as_text.is_empty() {
            let names: Vec<String> = body.left_as_text.iter().map(|(name, n)| format!("[{name}] ×{n}")).collect();
            self.report.notes.push(format!(
                "line {}: {:?}: shortcodes left as text: {}",
                item.line,
                short(&title),
                names.join(", ")
            ));
            for (name, n) in body.left_as_text {
                *self.report.shortcodes_left.entry(name).or_default() += n;
            }
        }
        let draft = Draft {
            kind,
            title,
            slug,
            excerpt,
            body_md: body.html,
            author,
            category,
            tags,
            featured_image: None,
            publish,
        };
        let saved = service::drafts::upsert(self.db, self.limits, draft, Terms::CreateMissing)
            .await
            .map_err(|e| format!("{:?}: {e}", short(&item.title)))?;
        let (id, slug) = match &saved {
            Saved::Created { id, slug, .. } => {
                self.report.posts_created += 1;
                (*id, slug.clone())
            }
            Saved::Updated { id, slug, .. } => {
                self.report.posts_updated += 1;
                (*id, slug.clone())
            }
        };
        if kind == ArticleKind::Page {
            self.report.pages += 1;
        }
        let new_path = match kind {
            ArticleKind::Page => format!("/{slug}"),
            _ => format!("/article/{slug}"),
        };
        let old_path = old_path(&item.link);
        let result: Result<(), DbError> = async {
            let mut tx = self.db.begin().await?;
            queries::save_import_key(&mut tx, SOURCE, "post", &external_id, id).await?;
            if let Some(old) = old_path.as_deref().filter(|old| *old != new_path) {
                content_queries::write::save_redirect(&mut tx, old, &new_path).await?;
                self.report.redirects += 1;
            }
            tx.commit().await.map_err(DbError::from)
        }
        .await;
        result.map_err(|e| e.to_string())?;
        if let Some(thumbnail) = item.meta("_thumbnail_id") {
            self.thumbnails.push((id, thumbnail.trim().to_string()));
        }
        self.comments(id, &item).await;
        Ok(())
    }

    /// Imports an item's comments in id order (parents before replies), each in its own transaction.
    async fn comments(&mut self, article_id: i64, item: &wxr::Item) {
        let mut comments: Vec<&wxr::Comment> = item.comments.iter().collect();
        comments.sort_by_key(|c| c.id.parse::<u64>().unwrap_or(u64::MAX));
        for comment in comments {
            if let Err(message) = self.comment(article_id, comment).await {
                self.report.failed.push(format!("line {}: comment {}: {message}", item.line, comment.id));
            }
        }
    }

    async fn comment(&mut self, article_id: i64, comment: &wxr::Comment) -> Result<(), String> {
        if matches!(comment.comment_type.as_str(), "pingback" | "trackback") {
            self.report.skip("pingbacks and trackbacks");
            return Ok(());
        }
        if comment.id.is_empty() {
            return Err("no wp:comment_id".into());
        }
        if queries::import_key(self.db, SOURCE, "comment", &comment.id).await.map_err(|e| e.to_string())?.is_some() {
            self.report.comments_already_there += 1;
            return Ok(());
        }
        let status = match comment.approved.as_str() {
            "1" | "approve" => "approved",
            "0" | "hold" => "pending",
            "spam" => "spam",
            "trash" | "post-trashed" => "trash",
            other => return Err(format!("unknown status {other:?}")),
        };
        let content = comment.content.trim();
        if content.is_empty() {
            return Err("empty comment".into());
        }
        if content.len() > 65_525 {
            return Err(format!("{} bytes is over WordPress's limit of 65525", content.len()));
        }
        let created_at =
            parse_wp_date(&comment.date_gmt).or_else(|| parse_wp_date(&comment.date)).unwrap_or_else(store::now);
        let (parent_id, thread_id, depth) = match comment.parent.as_str() {
            "" | "0" => (None, None, 1),
            parent => {
                let local = queries::import_key(self.db, SOURCE, "comment", parent).await.map_err(|e| e.to_string())?;
                let position = match local {
                    Some(id) => {
                        queries::comment_position(self.db, id).await.map_err(|e| e.to_string())?.map(|p| (id, p))
                    }
                    None => None,
                };
                match position {
                    Some((id, (parent_article, depth, thread))) if parent_article == article_id => {
                        (Some(id), Some(thread.unwrap_or(id)), depth + 1)
                    }
                    _ => {
                        self.report.notes.push(format!(
                            "comment {}: its parent {parent} is not in this post; imported as a top-level comment",
                            comment.id
                        ));
                        (None, None, 1)
                    }
                }
            }
        };
        let email = comment.author_email.trim().to_lowercase();
        let author: String = match comment.author.trim() {
            "" => "Anonymous".to_string(),
            name => name.chars().take(245).collect(),
        };
        let content_html = crate::comments::text::render(content);
        let content_hash = hex::encode(Sha256::digest(content.as_bytes()));
        let avatar = self.keys.avatar_name(&email);
        let row = queries::ImportedComment {
            article_id,
            parent_id,
            thread_id,
            depth,
            status,
            author_name: &author,
            author_email: &email,
            author_url: comment.author_url.trim(),
            avatar: &avatar,
            content,
            content_html: &content_html,
            content_hash: &content_hash,
            created_at,
        };
        let result: Result<(), DbError> = async {
            let mut tx = self.db.begin().await?;
            let id = queries::insert_comment(&mut tx, &row).await?;
            queries::save_import_key(&mut tx, SOURCE, "comment", &comment.id, id).await?;
            if status == "approved" {
                store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
            }
            tx.commit().await.map_err(DbError::from)
        }
        .await;
        result.map_err(|e| e.to_string())?;
        self.report.comments += 1;
        Ok(())
    }

    /// Sets the featured images, now that every attachment has been read.
    async fn finish_thumbnails(&mut self) -> anyhow::Result<()> {
        for (article_id, attachment) in std::mem::take(&mut self.thumbnails) {
            let Some(url) = self.attachments.get(&attachment) else {
                self.report.notes.push(format!("featured image {attachment} is not in the export"));
                continue;
            };
            let mut tx = self.db.begin().await?;
            queries::set_featured_image(&mut tx, article_id, url).await?;
            store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}

/// A title short enough for a message.
fn short(title: &str) -> String {
    let title = title.trim();
    match title.char_indices().nth(60) {
        Some((end, _)) => format!("{}…", &title[..end]),
        None => title.to_string(),
    }
}

/// WordPress stores term names and excerpts with `&amp;` and friends; OpenVoice stores text.
fn decode_entities(text: &str) -> String {
    match quick_xml::escape::unescape(text) {
        Ok(decoded) => decoded.into_owned(),
        Err(_) => text.to_string(),
    }
}

/// `2020-01-01 09:12:00` (WordPress's `post_date_gmt`); `0000-00-00 00:00:00` means none.
fn parse_wp_date(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() || text.starts_with("0000") {
        return None;
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok().map(|dt| dt.and_utc().timestamp())
}

/// The path of an old permalink (`https://old.example/2020/01/hello/` → `/2020/01/hello/`).
fn old_path(link: &str) -> Option<String> {
    let rest = link.split_once("://").map_or(link, |(_, rest)| rest);
    let path = &rest[rest.find('/')?..];
    let path = path.split('#').next().unwrap_or("");
    (!path.is_empty() && path != "/" && !path.contains('?')).then(|| path.to_string())
}

/// WordPress stores non-ASCII slugs percent-encoded (`%e6%97%a5`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_paths_and_slugs() {
        assert_eq!(old_path("https://old.example/2020/01/hello/").as_deref(), Some("/2020/01/hello/"));
        assert_eq!(old_path("https://old.example/?p=12"), None);
        assert_eq!(old_path("https://old.example"), None);
        assert_eq!(percent_decode("caf%c3%a9-au-lait"), "café-au-lait");
        assert_eq!(parse_wp_date("0000-00-00 00:00:00"), None);
        assert_eq!(parse_wp_date("2020-01-01 09:12:00"), Some(1577869920));
    }
}
