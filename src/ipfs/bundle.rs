//! What an article becomes on IPFS: a UnixFS directory a reader can download, verify and re-host.
//!
//! ```text
//! <root>/index.html   self-contained page: inline CSS, no scripts, no trackers
//! <root>/article.md   YAML front matter + the Markdown source
//! <root>/meta.json    title, author, dates, category, tags, canonical URL, previous version's CID
//! <root>/media/<cid>/<name>   each media library image the article shows, which index.html
//!                     loads relatively: the bundle shows its pictures from any gateway or folder
//! ```
//!
//! The bundle is a pure function of the article, so rebuilding an unchanged article gives the
//! same CID and stores no new block. Reader emails and other private data never enter it.

use minijinja::{context, Value};
use openvoice_ipfs::{import_bytes, Block, Cid, DirectoryBuilder};
use serde::Serialize;

use crate::content::model::Article;
use crate::theme::{self, Templates};

/// What a bundle needs besides the article.
pub struct BundleContext<'a> {
    pub templates: &'a Templates,
    pub site_title: &'a str,
    pub language: &'a str,
    /// The article's public URL.
    pub canonical: String,
    /// The CID of the article's previous bundle, if any.
    pub previous: Option<String>,
    /// The media library files the article shows ([`library_files`]).
    pub files: &'a [BundledFile],
}

/// A media library file an article shows, linked into its bundle as `media/<cid>/<name>`.
pub struct BundledFile {
    pub cid: String,
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The media library files (`/media/<cid>/<name>`, as the editor inserts them) that the article's
/// featured image and body show, as `(cid, name)`, each once.
pub fn library_files(article: &Article) -> Vec<(String, String)> {
    let body = &article.body_html;
    // In sanitised HTML a `"` within an attribute is escaped, so `="/media/` starts a URL.
    let in_body = body.match_indices("=\"/media/").map(|(at, _)| {
        let url = &body[at + 2..];
        &url[..url.find('"').unwrap_or(url.len())]
    });
    let mut files: Vec<(String, String)> = Vec::new();
    for url in article.featured_image.as_deref().into_iter().chain(in_body) {
        let Some((cid, name)) = url.strip_prefix("/media/").and_then(|path| path.split_once('/')) else { continue };
        let safe_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if safe_name && openvoice_ipfs::parse_cid(cid).is_ok() && !files.iter().any(|(c, n)| c == cid && n == name) {
            files.push((cid.to_string(), name.to_string()));
        }
    }
    files
}

/// A built bundle: its root, its cumulative DAG size and every block.
pub struct Bundle {
    pub root: Cid,
    pub dag_size: u64,
    pub blocks: Vec<Block>,
}

#[derive(Serialize)]
struct Meta<'a> {
    title: &'a str,
    slug: &'a str,
    author: &'a str,
    published: Option<String>,
    updated: String,
    category: Option<&'a str>,
    tags: Vec<&'a str>,
    canonical_url: &'a str,
    excerpt: &'a str,
    previous_version: Option<&'a str>,
    language: &'a str,
    generator: &'static str,
}

pub fn build_article_bundle(article: &Article, ctx: &BundleContext<'_>) -> anyhow::Result<Bundle> {
    let s = &article.summary;
    let meta = Meta {
        title: &s.title,
        slug: &s.slug,
        author: &s.author.display_name,
        published: s.published_at.map(theme::rfc3339),
        updated: theme::rfc3339(s.updated_at),
        category: s.category.as_ref().map(|c| c.name.as_str()),
        tags: article.tags.iter().map(|t| t.name.as_str()).collect(),
        canonical_url: &ctx.canonical,
        excerpt: &s.excerpt,
        previous_version: ctx.previous.as_deref(),
        language: ctx.language,
        generator: "OpenVoice",
    };
    let meta_json = serde_json::to_string_pretty(&meta)?;
    // The page loads the bundled images from beside it.
    let mut body_html = article.body_html.clone();
    for file in ctx.files {
        body_html = body_html.replace(&format!("=\"/media/{}/", file.cid), &format!("=\"media/{}/", file.cid));
    }
    let featured = article
        .featured_image
        .as_deref()
        .and_then(|url| url.strip_prefix('/'))
        .filter(|path| ctx.files.iter().any(|f| *path == format!("media/{}/{}", f.cid, f.name)));
    let front_matter = serde_yaml_ng::to_string(&meta)?;
    let article_md = format!("---\n{front_matter}---\n{}", article.body_md);
    let index_html = ctx.templates.render(
        "ipfs/bundle.html",
        context! {
            article => article,
            body_html => Value::from_safe_string(body_html),
            featured => featured,
            site_title => ctx.site_title,
            language => ctx.language,
            canonical => ctx.canonical,
            previous => ctx.previous,
        },
    )?;
    let mut blocks = Vec::new();
    let mut dir = DirectoryBuilder::new();
    for (name, bytes) in [
        ("index.html", index_html.into_bytes()),
        ("article.md", article_md.into_bytes()),
        ("meta.json", meta_json.into_bytes()),
    ] {
        let (cid, file_blocks) = import_bytes(&bytes);
        let size = file_blocks.iter().map(|b| b.data.len() as u64).sum();
        dir.add(name, cid, size)?;
        blocks.extend(file_blocks);
    }
    for file in ctx.files {
        let (cid, file_blocks) = import_bytes(&file.bytes);
        anyhow::ensure!(cid.to_string() == file.cid, "media file {} imports as {cid}", file.cid);
        let size = file_blocks.iter().map(|b| b.data.len() as u64).sum();
        dir.add(&format!("media/{}/{}", file.cid, file.name), cid, size)?;
        blocks.extend(file_blocks);
    }
    let (root, dag_size) = dir.build(|block| blocks.push(block))?;
    Ok(Bundle { root, dag_size, blocks })
}

/// One entry of the site snapshot: an article bundle already in the block store.
pub struct SnapshotEntry {
    pub slug: String,
    pub title: String,
    pub root: Cid,
    pub dag_size: u64,
}

/// The whole site as one directory: `index.html` linking every article, `feed.xml`, and each
/// article's bundle under `articles/<slug>/` (linked, not copied: unchanged bundles add no block).
pub fn build_site_snapshot(
    entries: &[SnapshotEntry],
    templates: &Templates,
    site_title: &str,
    feed_xml: &str,
) -> anyhow::Result<Bundle> {
    let mut blocks = Vec::new();
    let mut dir = DirectoryBuilder::new();
    let listing: Vec<Value> = entries.iter().map(|e| context! { slug => e.slug, title => e.title }).collect();
    let index_html =
        templates.render("ipfs/site-index.html", context! { site_title => site_title, entries => listing })?;
    for (name, bytes) in [("index.html", index_html.into_bytes()), ("feed.xml", feed_xml.as_bytes().to_vec())] {
        let (cid, file_blocks) = import_bytes(&bytes);
        let size = file_blocks.iter().map(|b| b.data.len() as u64).sum();
        dir.add(name, cid, size)?;
        blocks.extend(file_blocks);
    }
    if entries.is_empty() {
        dir.add_directory("articles")?;
    }
    for entry in entries {
        dir.add(&format!("articles/{}", entry.slug), entry.root, entry.dag_size)?;
    }
    let (root, dag_size) = dir.build(|block| blocks.push(block))?;
    Ok(Bundle { root, dag_size, blocks })
}
