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
//! What WordPress allows and OpenVoice does not (a password, more than 30 tags, a login that is
//! no username, a category name two slugs share) is imported changed, with a warning.
//! Re-running the import updates what it imported before (keyed by the WXR post and comment ids
//! in `import_keys`) instead of duplicating it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime};
use reqwest::Url;
use sha2::{Digest, Sha256};

use crate::accounts::{self, NewUser, Role};
use crate::comments::guard::Keys;
use crate::config::media::MediaConfig;
use crate::content::model::ArticleKind;
use crate::content::queries as content_queries;
use crate::content::service::{self, reading, ContentLimits, Draft, Publish, Saved, Terms};
use crate::media::service::Upload;
use crate::migrate::fetch::{FetchLimits, Fetcher};
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

/// The kinds of thing a WXR file holds, as the summary counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Post,
    Page,
    Category,
    Tag,
    Author,
    Comment,
    Attachment,
}

impl Kind {
    /// In the summary's order.
    pub const ALL: [Kind; 7] =
        [Kind::Post, Kind::Page, Kind::Category, Kind::Tag, Kind::Author, Kind::Comment, Kind::Attachment];

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Post => "posts",
            Kind::Page => "pages",
            Kind::Category => "categories",
            Kind::Tag => "tags",
            Kind::Author => "authors",
            Kind::Comment => "comments",
            Kind::Attachment => "attachments",
        }
    }

    /// The kind of an `<item>` by its `wp:post_type`; `None` for what is not content (menus…).
    fn of_item(post_type: &str) -> Option<Kind> {
        match post_type {
            "post" | "" => Some(Kind::Post),
            "page" => Some(Kind::Page),
            "attachment" => Some(Kind::Attachment),
            _ => None,
        }
    }
}

/// How many of one kind the file held and what became of them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub in_file: usize,
    /// Created or updated.
    pub imported: usize,
    /// Left out on purpose (trash, pingbacks, already imported…).
    pub skipped: usize,
    pub failed: usize,
}

/// Something that could not be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The WXR line of the element, when the failure belongs to one.
    pub line: Option<u64>,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// What was imported with a change the reader should know of; the summary collapses them by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WarningKind {
    PasswordProtected,
    Private,
    TagsDropped,
    SlugTaken,
    CategoryRenamed,
    CategoryParentMissing,
    AuthorRenamed,
    CommentParentMissing,
    MediaKeptRemote,
    FeaturedImageMissing,
    TextRepaired,
    ShortcodesLeft,
}

impl WarningKind {
    pub fn describe(self) -> &'static str {
        match self {
            WarningKind::PasswordProtected => {
                "password-protected posts imported as drafts (never published; their comments are not shown)"
            }
            WarningKind::Private => "private posts imported as drafts",
            WarningKind::TagsDropped => "posts whose tags did not all fit (the rest dropped)",
            WarningKind::SlugTaken => "slugs taken by another article (a new one given)",
            WarningKind::CategoryRenamed => "categories whose name another category has (renamed)",
            WarningKind::CategoryParentMissing => "categories whose parent is not in the file (kept at the top)",
            WarningKind::AuthorRenamed => "authors whose login is not a usable username (another one given)",
            WarningKind::CommentParentMissing => "comments whose parent is not in the post (made top-level)",
            WarningKind::MediaKeptRemote => "media kept at their old URLs",
            WarningKind::FeaturedImageMissing => "featured images not in the file",
            WarningKind::TextRepaired => "text with invalid UTF-8 (replaced by U+FFFD)",
            WarningKind::ShortcodesLeft => "posts with shortcodes no conversion exists for (left as text)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    pub line: Option<u64>,
    pub detail: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.detail),
            None => f.write_str(&self.detail),
        }
    }
}

/// Where the old site's media come from: `--uploads`, `--fetch-attachments`, both or neither
/// (then they stay at their URLs).
#[derive(Default)]
pub struct Media<'a> {
    pub uploads: Option<&'a Uploads>,
    pub fetching: Option<Fetching>,
}

/// Downloading the old site's media into the media library (`--fetch-attachments`).
pub struct Fetching {
    pub limits: FetchLimits,
    /// The media library's settings, which every download is stored under.
    pub library: MediaConfig,
}

/// What an import did, and what it did not and why.
#[derive(Debug, Default)]
pub struct Report {
    /// One per [`Kind`], in `Kind::ALL`'s order.
    tallies: [Tally; 7],
    pub posts_created: usize,
    pub posts_updated: usize,
    pub redirects: usize,
    /// `why → how many`, for things skipped on purpose (revisions, menu items, trash…).
    pub skipped: BTreeMap<String, usize>,
    pub failed: Vec<Failure>,
    pub warnings: Vec<Warning>,
    /// Shortcode name → how many were left as text in the bodies (no conversion for them).
    pub shortcodes_left: BTreeMap<String, usize>,
}

impl Report {
    pub fn tally(&self, kind: Kind) -> Tally {
        self.tallies[kind as usize]
    }

    pub fn warnings_of(&self, kind: WarningKind) -> impl Iterator<Item = &Warning> {
        self.warnings.iter().filter(move |w| w.kind == kind)
    }

    fn tally_mut(&mut self, kind: Kind) -> &mut Tally {
        &mut self.tallies[kind as usize]
    }

    fn found(&mut self, kind: Kind) {
        self.tally_mut(kind).in_file += 1;
    }

    fn imported(&mut self, kind: Kind) {
        self.tally_mut(kind).imported += 1;
    }

    /// Something left out on purpose; `kind` is `None` for what the summary does not count.
    fn skip(&mut self, kind: Option<Kind>, why: impl Into<String>) {
        if let Some(kind) = kind {
            self.tally_mut(kind).skipped += 1;
        }
        *self.skipped.entry(why.into()).or_default() += 1;
    }

    fn fail(&mut self, kind: Option<Kind>, line: Option<u64>, message: impl Into<String>) {
        if let Some(kind) = kind {
            self.tally_mut(kind).failed += 1;
        }
        self.failed.push(Failure { line, message: message.into() });
    }

    fn warn(&mut self, kind: WarningKind, line: Option<u64>, detail: impl Into<String>) {
        self.warnings.push(Warning { kind, line, detail: detail.into() });
    }
}

/// Imports the WXR file at `path`. Malformed XML stops the reading with its line and column
/// (what was read before it stays imported); `progress` gets the bytes read so far.
pub async fn import_file(
    db: &Db,
    limits: ContentLimits,
    path: &Path,
    media: Media<'_>,
    progress: impl FnMut(u64),
) -> anyhow::Result<Report> {
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    import(db, limits, std::io::BufReader::with_capacity(256 * 1024, file), media, progress).await
}

pub async fn import(
    db: &Db,
    limits: ContentLimits,
    input: impl BufRead,
    media: Media<'_>,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Report> {
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let secret = crate::store::site_secret(db, crate::http::form_guard::COMMENTS_SECRET, &secret).await?;
    let keys = Keys::from_secret(secret.as_bytes());
    let mut importer = Importer {
        db,
        limits,
        keys,
        uploads: media.uploads,
        fetching: media.fetching.map(|f| (Fetcher::new(f.limits), f.library)),
        fetched: HashMap::new(),
        base_url: String::new(),
        report: Report::default(),
        categories: Vec::new(),
        categories_done: false,
        category_slugs: HashMap::new(),
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
        importer.report.fail(None, None, err.to_string());
    }
    Ok(importer.report)
}

struct Importer<'a> {
    db: &'a Db,
    limits: ContentLimits,
    keys: Keys,
    uploads: Option<&'a Uploads>,
    /// With `--fetch-attachments`: the downloader and the media library's settings.
    fetching: Option<(Fetcher, MediaConfig)>,
    /// Old media URL → the library's URL for it, or why it could not be fetched (once per URL).
    fetched: HashMap<String, Result<String, String>>,
    base_url: String,
    report: Report,
    /// Channel-level categories, created before the first item (parents may follow children).
    categories: Vec<wxr::Category>,
    categories_done: bool,
    /// A channel category's nicename → its slug here; items name their category by nicename,
    /// since two categories may share a name.
    category_slugs: HashMap<String, String>,
    /// Attachment post id → its URL (as the site will serve it).
    attachments: HashMap<String, String>,
    /// `(article id, attachment post id, line)` to resolve once every attachment has been read.
    thumbnails: Vec<(i64, String, u64)>,
    /// Posts whose galleries name attachments not read yet (WordPress exports an upload after
    /// the post it was uploaded to), imported once every attachment has been read.
    waiting_for_attachments: Vec<wxr::Item>,
    /// Login → the username the content service resolves (`None`: the author failed).
    authors: HashMap<String, Option<String>>,
}

impl Importer<'_> {
    async fn node(&mut self, node: Node) -> anyhow::Result<()> {
        match node {
            Node::BaseUrl(url) => self.base_url = url.trim_end_matches('/').to_string(),
            Node::Author(author) => {
                self.author(&author).await;
            }
            Node::Category(category) => {
                self.report.found(Kind::Category);
                self.categories.push(category);
            }
            Node::Tag(tag) => {
                self.report.found(Kind::Tag);
                let slug = service::slugify(if tag.slug.is_empty() { &tag.name } else { &tag.slug });
                let name = if tag.name.trim().is_empty() { tag.slug.clone() } else { decode_entities(tag.name.trim()) };
                if slug.is_empty() {
                    self.report.fail(Some(Kind::Tag), Some(tag.line), format!("tag {:?}: no usable slug", tag.name));
                    return Ok(());
                }
                let mut tx = self.db.begin().await?;
                crate::content::queries::terms::ensure_tag(&mut tx, &slug, &name).await?;
                tx.commit().await?;
                self.report.imported(Kind::Tag);
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
        let (line, kind) = (item.line, Kind::of_item(&item.post_type));
        if let Some(kind) = kind {
            self.report.found(kind);
        }
        if let Err(message) = self.item(item).await {
            self.report.fail(kind, Some(line), message);
        }
    }

    /// Makes (or finds, on a re-run) the account of a WXR author, and remembers which username
    /// bylines with their login resolve to. A login that is not a usable username as it stands
    /// (`>jdoe`, `Jane Doe`) gets one derived from it that no other account has.
    async fn author(&mut self, author: &wxr::Author) -> Option<String> {
        let login = author.login.trim();
        if let Some(known) = self.authors.get(login) {
            return known.clone();
        }
        self.report.found(Kind::Author);
        let username = match self.author_account(author).await {
            Ok(username) => {
                self.report.imported(Kind::Author);
                Some(username)
            }
            Err(message) => {
                let line = (author.line > 0).then_some(author.line);
                self.report.fail(Some(Kind::Author), line, format!("author {login:?}: {message}"));
                None
            }
        };
        self.authors.insert(login.to_string(), username.clone());
        username
    }

    async fn author_account(&mut self, author: &wxr::Author) -> Result<String, String> {
        let login = author.login.trim();
        if login.is_empty() {
            return Err("no login".into());
        }
        if let Some(id) = queries::import_key(self.db, SOURCE, "author", login).await.map_err(db_message)? {
            if let Some(username) = queries::username_of(self.db, id).await.map_err(db_message)? {
                return Ok(username);
            }
        }
        let derived = match service::slugify(login) {
            slug if slug.is_empty() => "author".to_string(),
            slug => slug,
        };
        // A login that is a username as it stands names the same person here (an earlier import,
        // or an account made by hand); a derived one may collide with someone else's.
        let existing = queries::user_id_by_username(self.db, &derived).await.map_err(db_message)?;
        let (username, existing) = match existing {
            Some(id) if derived == login => (derived, Some(id)),
            Some(_) => (self.free_username(&derived).await?, None),
            None => (derived, None),
        };
        if username != login {
            self.report.warn(
                WarningKind::AuthorRenamed,
                (author.line > 0).then_some(author.line),
                format!("author {login:?} has the username {username:?}"),
            );
        }
        let id = match existing {
            Some(id) => id,
            None => self.create_author(author, &username).await?,
        };
        let saved: Result<(), DbError> = async {
            let mut tx = self.db.begin().await?;
            queries::save_import_key(&mut tx, SOURCE, "author", login, id).await?;
            tx.commit().await.map_err(DbError::from)
        }
        .await;
        saved.map_err(db_message)?;
        Ok(username)
    }

    /// `base-2`, `base-3`…: the first username no account has.
    async fn free_username(&self, base: &str) -> Result<String, String> {
        for n in 2..1000 {
            let candidate = format!("{base}-{n}");
            if queries::user_id_by_username(self.db, &candidate).await.map_err(db_message)?.is_none() {
                return Ok(candidate);
            }
        }
        Err(format!("no free username like {base:?}"))
    }

    async fn create_author(&self, author: &wxr::Author, username: &str) -> Result<i64, String> {
        let display_name = match (author.display_name.trim(), author.login.trim()) {
            ("", login) => login,
            (name, _) => name,
        };
        let placeholder = format!("{username}@authors.invalid");
        let email = match author.email.trim() {
            e if accounts::validate_email(e).is_ok() => e.to_lowercase(),
            _ => placeholder.clone(),
        };
        let new = NewUser { username, email: &email, display_name, role: Role::Author, password: None };
        match accounts::create_user(self.db, &new).await {
            Ok(user) => Ok(user.id),
            // The email belongs to another account already: keep the byline, not the address.
            Err(_) => {
                let new = NewUser { email: &placeholder, ..new };
                accounts::create_user(self.db, &new).await.map(|user| user.id).map_err(|e| e.to_string())
            }
        }
    }

    /// Creates the channel's categories, then links each to its parent. Categories are keyed by
    /// slug (WordPress's nicename): two with the same name but different slugs are two categories,
    /// the second renamed since names are unique here.
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
            let nicename = percent_decode(&category.nicename);
            let slug = service::slugify(if nicename.is_empty() { &name } else { &nicename });
            if slug.is_empty() || name.is_empty() || name.chars().count() > service::MAX_TERM_CHARS {
                let message = format!("category {name:?}: not a usable category name");
                self.report.fail(Some(Kind::Category), Some(category.line), message);
                continue;
            }
            let mut tx = self.db.begin().await?;
            let id = match queries::category_id_by_slug(&mut tx, &slug).await? {
                Some(id) => id,
                None => {
                    let name = match queries::category_name_taken(&mut tx, &name).await? {
                        false => name,
                        true => {
                            let renamed = renamed_category(&name, &slug);
                            self.report.warn(
                                WarningKind::CategoryRenamed,
                                Some(category.line),
                                format!("category {slug:?} is named {renamed:?}: another category is {name:?}"),
                            );
                            renamed
                        }
                    };
                    content_queries::terms::insert_category(&mut tx, &slug, &name, "", now).await?
                }
            };
            if !category.description.is_empty() {
                queries::set_category_description(&mut tx, id, &category.description).await?;
            }
            store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
            tx.commit().await?;
            ids.insert(category.nicename.clone(), id);
            self.category_slugs.insert(category.nicename.clone(), slug);
            self.report.imported(Kind::Category);
        }
        for category in &categories {
            let (Some(&id), false) = (ids.get(&category.nicename), category.parent.is_empty()) else { continue };
            let Some(&parent) = ids.get(&category.parent) else {
                self.report.warn(
                    WarningKind::CategoryParentMissing,
                    Some(category.line),
                    format!("category {:?}: parent {:?} is not in the file", category.nicename, category.parent),
                );
                continue;
            };
            let mut tx = self.db.begin().await?;
            content_queries::terms::set_category_parent(&mut tx, id, Some(parent)).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The URL the site serves an old media URL at: a copy under `/static/uploads/` when the
    /// file is in the local uploads folder, else (with `--fetch-attachments`) the media library's
    /// copy of the download or why there is none; else `None`, the original URL (and a warning).
    async fn media_url(&mut self, url: &str, owner: Option<&str>, line: u64) -> Result<Option<String>, String> {
        let copied = match self.uploads {
            None => Err("no --uploads".to_string()),
            Some(uploads) => copy_upload(uploads, url),
        };
        let why = match copied {
            Ok(served) => return Ok(Some(served)),
            Err(why) => why,
        };
        match self.fetched_url(url, owner).await {
            Some(fetched) => fetched.map(Some),
            None => {
                self.report.warn(WarningKind::MediaKeptRemote, Some(line), format!("{url} ({why})"));
                Ok(None)
            }
        }
    }

    /// The media library's URL for the file at `url`, downloaded once per import and owned by
    /// `owner`; `None` without `--fetch-attachments`.
    async fn fetched_url(&mut self, url: &str, owner: Option<&str>) -> Option<Result<String, String>> {
        let db = self.db;
        let (fetcher, library) = self.fetching.as_mut()?;
        if let Some(known) = self.fetched.get(url) {
            return Some(known.clone());
        }
        let outcome = async {
            let owner = owner.ok_or("no author to own it")?;
            let uploader_id = queries::user_id_by_username(db, owner)
                .await
                .map_err(db_message)?
                .ok_or_else(|| format!("no account {owner:?} to own it"))?;
            let bytes = fetcher.fetch(url).await?;
            let name = url.split(['?', '#']).next().and_then(|u| u.rsplit('/').next()).unwrap_or("").to_string();
            let upload = Upload { name: percent_decode(&name), alt_text: String::new(), bytes, uploader_id };
            let (item, _) = crate::media::service::upload(db, library, upload).await.map_err(|e| e.to_string())?;
            Ok(item.url())
        }
        .await;
        self.fetched.insert(url.to_string(), outcome.clone());
        Some(outcome)
    }

    /// With `--fetch-attachments`, the body with its images from the old site's host in the
    /// media library; an image that cannot be fetched keeps its URL and is listed as a failure.
    async fn fetch_body_images(&mut self, html: String, owner: &str, line: u64) -> String {
        let Some(host) = Url::parse(&self.base_url).ok().and_then(|u| u.host_str().map(str::to_string)) else {
            return html;
        };
        let mut body = html.clone();
        for old in image_sources(&html, &host) {
            let first_time = !self.fetched.contains_key(old);
            match self.fetched_url(old, Some(owner)).await {
                Some(Ok(new)) => body = body.replace(old, &new),
                Some(Err(why)) if first_time => self.report.fail(None, Some(line), format!("image {old}: {why}")),
                Some(Err(_)) | None => {}
            }
        }
        body
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
            self.report.warn(WarningKind::TextRepaired, Some(item.line), problem.clone());
        }
        let kind = match Kind::of_item(&item.post_type) {
            Some(Kind::Post) => ArticleKind::Post,
            Some(Kind::Page) => ArticleKind::Page,
            Some(_) => return self.attachment(&item).await,
            None => {
                self.report.skip(None, format!("post type {:?} (not content)", item.post_type));
                return Ok(());
            }
        };
        let tallied = if kind == ArticleKind::Page { Kind::Page } else { Kind::Post };
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
                self.report.skip(Some(tallied), "in the trash");
                return Ok(());
            }
            ("inherit", _) => {
                self.report.skip(Some(tallied), "revisions");
                return Ok(());
            }
            (other, _) => return Err(format!("{:?}: unknown status {other:?}", item.title)),
        };
        // A password kept the post from readers on WordPress; nothing here can ask for one, so
        // it stays a draft, and so do its comments, which show only on a published article.
        let protected = !item.post_password.is_empty();
        let publish = match (protected, item.status.as_str()) {
            (true, _) => {
                self.report.warn(
                    WarningKind::PasswordProtected,
                    Some(item.line),
                    format!("{:?} is password-protected: imported as a draft", short(&item.title)),
                );
                Publish::Draft
            }
            (false, "private") => {
                self.report.warn(
                    WarningKind::Private,
                    Some(item.line),
                    format!("private post {:?} imported as a draft", short(&item.title)),
                );
                Publish::Draft
            }
            (false, _) => publish,
        };

        let previous = queries::import_key(self.db, SOURCE, "post", &external_id).await.map_err(db_message)?;
        let previous_slug = match previous {
            Some(id) => crate::content::queries::reading::slug_of(self.db, id).await.map_err(db_message)?,
            None => None,
        };
        let wanted = service::slugify(&percent_decode(&item.post_name));
        let slug = match (previous_slug, wanted.is_empty()) {
            (Some(slug), _) => Some(slug),
            (None, true) => None,
            (None, false) => match queries::article_id_by_slug(self.db, &wanted).await.map_err(db_message)? {
                Some(_) => {
                    self.report.warn(
                        WarningKind::SlugTaken,
                        Some(item.line),
                        format!("slug {wanted:?} is taken by another article; {:?} gets a new one", item.title),
                    );
                    None
                }
                None => Some(wanted),
            },
        };

        // The first category is the primary one, the others further ones, in the file's order.
        let mut categories: Vec<String> = item
            .terms
            .iter()
            .filter(|t| t.domain == "category")
            .map(|t| match self.category_slugs.get(&t.nicename) {
                Some(slug) => slug.clone(),
                None => decode_entities(t.name.trim()),
            })
            .collect();
        let category = (!categories.is_empty()).then(|| categories.remove(0));
        let tags = self.usable_tags(&item);
        let author = match item.creator.trim() {
            "" => "Site Admin".to_string(),
            login => {
                let listed = wxr::Author { login: login.to_string(), ..wxr::Author::default() };
                match self.author(&listed).await {
                    Some(username) => username,
                    None => return Err(format!("{:?}: its author {login:?} could not be imported", item.title)),
                }
            }
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
            let detail = format!("{:?}: shortcodes left as text: {}", short(&title), names.join(", "));
            self.report.warn(WarningKind::ShortcodesLeft, Some(item.line), detail);
            for (name, n) in body.left_as_text {
                *self.report.shortcodes_left.entry(name).or_default() += n;
            }
        }
        let body_md = match self.fetching {
            Some(_) => self.fetch_body_images(body.html, &author, item.line).await,
            None => body.html,
        };
        let draft = Draft {
            kind,
            title,
            slug,
            excerpt,
            body_md,
            author,
            category,
            further_categories: categories,
            tags,
            featured_image: None,
            publish,
            sticky: item.is_sticky == "1",
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
        self.report.imported(tallied);
        let new_path = match kind {
            ArticleKind::Page => format!("/{slug}"),
            _ => format!("/article/{slug}"),
        };
        // The permalink, and WordPress's default ones (`/?p=ID`, pages also `/?page_id=ID`),
        // which keep working whatever the permalink setting. A protected post's old addresses
        // would lead to its draft's: it gets none.
        let mut old_paths: Vec<String> = old_path(&item.link).into_iter().collect();
        old_paths.extend(reading::query_permalink(&format!("p={}", item.post_id)));
        if kind == ArticleKind::Page {
            old_paths.extend(reading::query_permalink(&format!("page_id={}", item.post_id)));
        }
        old_paths.retain(|old| *old != new_path && !protected);
        let result: Result<(), DbError> = async {
            let mut tx = self.db.begin().await?;
            queries::save_import_key(&mut tx, SOURCE, "post", &external_id, id).await?;
            for old in &old_paths {
                content_queries::write::save_redirect(&mut tx, old, &new_path).await?;
            }
            tx.commit().await.map_err(DbError::from)
        }
        .await;
        result.map_err(db_message)?;
        self.report.redirects += old_paths.len();
        if let Some(thumbnail) = item.meta("_thumbnail_id") {
            self.thumbnails.push((id, thumbnail.trim().to_string(), item.line));
        }
        self.comments(id, &item).await;
        Ok(())
    }

    async fn attachment(&mut self, item: &wxr::Item) -> Result<(), String> {
        let url = if item.attachment_url.is_empty() { item.guid.clone() } else { item.attachment_url.clone() };
        if url.is_empty() {
            return Err(format!("attachment {}: no URL", item.external_id()));
        }
        let owner = match item.creator.trim() {
            "" => None,
            login => self.author(&wxr::Author { login: login.to_string(), ..wxr::Author::default() }).await,
        };
        let served = self.media_url(&url, owner.as_deref(), item.line).await;
        // A featured image that could not be brought keeps pointing at the old site.
        self.attachments.insert(item.post_id.clone(), served.clone().ok().flatten().unwrap_or_else(|| url.clone()));
        match served {
            Ok(Some(_)) => self.report.imported(Kind::Attachment),
            Ok(None) => self.report.skip(Some(Kind::Attachment), "media kept at their old URLs"),
            Err(why) => return Err(format!("attachment {url}: {why}")),
        }
        Ok(())
    }

    /// The item's tags as the content layer takes them: distinct by slug, at most
    /// [`service::MAX_TAGS`], each a usable name. What is left out is named in a warning, so the
    /// post itself is never refused for its tags (and stays editable in the desk, which holds
    /// every article to the same limit).
    fn usable_tags(&mut self, item: &wxr::Item) -> Vec<String> {
        let mut kept: Vec<(String, String)> = Vec::new();
        let mut dropped: Vec<String> = Vec::new();
        for term in item.terms.iter().filter(|t| t.domain == "post_tag") {
            let name = decode_entities(term.name.trim());
            let slug = service::slugify(&name);
            if kept.iter().any(|(s, _)| *s == slug) {
                continue;
            }
            let usable = !slug.is_empty() && name.chars().count() <= service::MAX_TERM_CHARS;
            if usable && kept.len() < service::MAX_TAGS {
                kept.push((slug, name));
            } else {
                dropped.push(name);
            }
        }
        if !dropped.is_empty() {
            self.report.warn(
                WarningKind::TagsDropped,
                Some(item.line),
                format!(
                    "{:?} keeps {} tags (at most {}, each 1–{} characters); dropped: {}",
                    short(&item.title),
                    kept.len(),
                    service::MAX_TAGS,
                    service::MAX_TERM_CHARS,
                    dropped.iter().map(|d| format!("{d:?}")).collect::<Vec<_>>().join(", ")
                ),
            );
        }
        kept.into_iter().map(|(_, name)| name).collect()
    }

    /// Imports an item's comments in id order (parents before replies), each in its own transaction.
    async fn comments(&mut self, article_id: i64, item: &wxr::Item) {
        let mut comments: Vec<&wxr::Comment> = item.comments.iter().collect();
        comments.sort_by_key(|c| c.id.parse::<u64>().unwrap_or(u64::MAX));
        for comment in comments {
            self.report.found(Kind::Comment);
            if let Err(message) = self.comment(article_id, item.line, comment).await {
                self.report.fail(Some(Kind::Comment), Some(item.line), format!("comment {}: {message}", comment.id));
            }
        }
    }

    async fn comment(&mut self, article_id: i64, line: u64, comment: &wxr::Comment) -> Result<(), String> {
        if matches!(comment.comment_type.as_str(), "pingback" | "trackback") {
            self.report.skip(Some(Kind::Comment), "pingbacks and trackbacks");
            return Ok(());
        }
        if comment.id.is_empty() {
            return Err("no wp:comment_id".into());
        }
        if queries::import_key(self.db, SOURCE, "comment", &comment.id).await.map_err(db_message)?.is_some() {
            self.report.skip(Some(Kind::Comment), "comments imported before");
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
                let local = queries::import_key(self.db, SOURCE, "comment", parent).await.map_err(db_message)?;
                let position = match local {
                    Some(id) => queries::comment_position(self.db, id).await.map_err(db_message)?.map(|p| (id, p)),
                    None => None,
                };
                match position {
                    Some((id, (parent_article, depth, thread))) if parent_article == article_id => {
                        (Some(id), Some(thread.unwrap_or(id)), depth + 1)
                    }
                    _ => {
                        self.report.warn(
                            WarningKind::CommentParentMissing,
                            Some(line),
                            format!("comment {}: its parent {parent} is not in this post", comment.id),
                        );
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
        result.map_err(db_message)?;
        self.report.imported(Kind::Comment);
        Ok(())
    }

    /// Sets the featured images, now that every attachment has been read.
    async fn finish_thumbnails(&mut self) -> anyhow::Result<()> {
        for (article_id, attachment, line) in std::mem::take(&mut self.thumbnails) {
            let Some(url) = self.attachments.get(&attachment) else {
                self.report.warn(
                    WarningKind::FeaturedImageMissing,
                    Some(line),
                    format!("featured image {attachment} is not in the file"),
                );
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

/// Copies an old uploads URL's file from the local uploads folder; the URL it is served at, or
/// why not.
fn copy_upload(uploads: &Uploads, url: &str) -> Result<String, String> {
    let Some((_, relative)) = url.split_once("/wp-content/uploads/") else {
        return Err("not under wp-content/uploads".into());
    };
    let relative = relative.split(['?', '#']).next().unwrap_or("");
    let safe = !relative.is_empty() && relative.split('/').all(|part| !part.is_empty() && part != "..");
    let from = uploads.from.join(relative);
    if !safe || !from.is_file() {
        return Err("not in the --uploads folder".into());
    }
    let to = uploads.to.join(relative);
    let copied = to.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::copy(&from, &to));
    match copied {
        Ok(_) => Ok(format!("/static/uploads/{relative}")),
        Err(err) => Err(format!("copying {} failed: {err}", from.display())),
    }
}

/// The `src` URLs in `html` on `host` (the old site's images), each once.
fn image_sources<'h>(html: &'h str, host: &str) -> Vec<&'h str> {
    let mut found: Vec<&str> = Vec::new();
    for (at, _) in html.match_indices("src=") {
        let rest = &html[at + 4..];
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else { continue };
        let rest = &rest[1..];
        let Some(end) = rest.find(quote) else { continue };
        let url = &rest[..end];
        let on_host = Url::parse(url).ok().is_some_and(|u| u.host_str() == Some(host));
        if on_host && !found.contains(&url) {
            found.push(url);
        }
    }
    found
}

/// A database failure as the summary shows it: what the database refused, without its codes.
fn db_message(err: DbError) -> String {
    match err {
        DbError::Conflict(_) => "it conflicts with something already on the site".to_string(),
        DbError::NotFound => "something it refers to is missing".to_string(),
        other => format!("the database refused it ({other})"),
    }
}

/// `Name (slug)`, within the name limit: a category whose name another category has.
fn renamed_category(name: &str, slug: &str) -> String {
    let room = service::MAX_TERM_CHARS.saturating_sub(slug.chars().count() + 3);
    let name: String = name.chars().take(room).collect();
    format!("{} ({slug})", name.trim_end())
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
