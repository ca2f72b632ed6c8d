//! The bulk of `export static`: every published article and page, and every page of every
//! listing (home, categories, tags, authors), rendered from one read of the whole site instead
//! of a dozen queries per page through the router.
//!
//! The pages come from the functions the server renders them with
//! (`site::article_html` and `listing_html`, `comments::routes::thread_context`,
//! `ipfs::routes::links_to`), fed from the snapshot rather than per-page queries, so each file
//! is what the server sends for its path; `tests/static_export.rs` compares the two. What this
//! does not render (comment pages, feeds, the sitemap, assets, media) the crawl in
//! `static_site` fetches through the router, following the links of these pages.

use crate::comments::model::{Counted, PublicComment};
use crate::comments::queries::TargetRow;
use crate::content::chrome::page_path;
use crate::content::model::{Article, ArticleKind, ArticleSummary, Category, LinkRef, Neighbours, Page, Tag};
use crate::http::AppState;
use crate::site::{article_html, listing_html, Archive, ArticleExtras};
use std::collections::{BTreeMap, HashMap};

/// Articles whose bodies (and comments) one query reads; within `store::BINDS_PER_STATEMENT`.
const ARTICLES_PER_CHUNK: usize = 100;
/// Listing pages a task renders in one go.
const LISTING_PAGES_PER_CHUNK: usize = 50;

/// The public site as one read: everything the bulk pages show but the article bodies and
/// comments, which are read a chunk at a time to keep memory flat.
pub struct Snapshot {
    /// Published posts and pages, newest first (the listings' order).
    published: Vec<ArticleSummary>,
    /// Each article's tags with their ids, in the order the article page shows them.
    tags: HashMap<i64, Vec<(i64, Tag)>>,
    /// Each article's categories, its primary one first.
    categories: HashMap<i64, Vec<Category>>,
    /// Approved comments per article (the comments themselves are read with the bodies).
    comment_counts: HashMap<i64, i64>,
    /// Published posts as comment targets (their comment settings).
    targets: HashMap<i64, TargetRow>,
    /// Each article's current bundle root.
    bundles: HashMap<i64, String>,
    /// Every listing: what it is and the indexes into `published` of the posts it lists.
    listings: Vec<(Archive, Vec<usize>)>,
}

/// A unit of work for one task.
pub enum Chunk {
    /// Indexes into the published articles.
    Articles(Vec<usize>),
    /// Pages `pages` of listing `listing`.
    Listing { listing: usize, pages: std::ops::Range<u32> },
}

/// One rendered page: its site path and bytes.
pub struct RenderedPage {
    pub path: String,
    pub body: axum::body::Bytes,
}

/// What a chunk gave: its pages, and the paths it planned but left to the crawl.
#[derive(Default)]
pub struct Rendered {
    pub pages: Vec<RenderedPage>,
    pub left: Vec<String>,
}

impl Snapshot {
    pub async fn read(state: &AppState) -> anyhow::Result<Snapshot> {
        let db = &state.db;
        let published = crate::content::queries::reading::published_summaries(db).await?;
        let mut tags: HashMap<i64, Vec<(i64, Tag)>> = HashMap::new();
        for (article_id, tag_id, tag) in crate::content::queries::reading::tags_of_published(db).await? {
            tags.entry(article_id).or_default().push((tag_id, tag));
        }
        let mut categories: HashMap<i64, Vec<Category>> = HashMap::new();
        for (article_id, category) in crate::content::queries::reading::categories_of_published(db).await? {
            categories.entry(article_id).or_default().push(category);
        }
        let comment_counts = crate::comments::queries::all_approved_counts(db).await?.into_iter().collect();
        let targets = crate::comments::queries::all_targets(db).await?.into_iter().map(|t| (t.id, t)).collect();
        let bundles = crate::ipfs::queries::current_bundles(db).await?.into_iter().collect();
        let author_ids: HashMap<String, i64> =
            crate::accounts::queries::ids_by_username(db).await?.into_iter().collect();
        let listings = listings(&published, &tags, &categories, &author_ids);
        Ok(Snapshot { published, tags, categories, comment_counts, targets, bundles, listings })
    }

    /// The work, cut into chunks that tasks can take in any order.
    pub fn chunks(&self, per_page: u32) -> Vec<Chunk> {
        let mut chunks: Vec<Chunk> = (0..self.published.len())
            .collect::<Vec<_>>()
            .chunks(ARTICLES_PER_CHUNK)
            .map(|c| Chunk::Articles(c.to_vec()))
            .collect();
        for (listing, (_, posts)) in self.listings.iter().enumerate() {
            let end = page_count(posts.len(), per_page) + 1;
            for first in (1..end).step_by(LISTING_PAGES_PER_CHUNK) {
                let pages = first..(first + LISTING_PAGES_PER_CHUNK as u32).min(end);
                chunks.push(Chunk::Listing { listing, pages });
            }
        }
        chunks
    }

    /// The path of every page the chunks render.
    pub fn paths(&self, per_page: u32) -> Vec<String> {
        let articles = self.published.iter().map(|a| a.kind.path(&a.slug));
        let listings = self.listings.iter().flat_map(|(archive, posts)| {
            (1..=page_count(posts.len(), per_page)).map(|page| page_path(&archive.path, page))
        });
        articles.chain(listings).collect()
    }

    /// Renders one chunk.
    pub async fn render(&self, state: &AppState, chunk: &Chunk) -> anyhow::Result<Rendered> {
        match chunk {
            Chunk::Articles(indexes) => self.render_articles(state, indexes).await,
            Chunk::Listing { listing, pages } => self.render_listing(state, *listing, pages.clone()).await,
        }
    }

    async fn render_articles(&self, state: &AppState, indexes: &[usize]) -> anyhow::Result<Rendered> {
        let ids: Vec<i64> = indexes.iter().map(|&i| self.published[i].id).collect();
        let mut bodies: HashMap<i64, (String, String, Option<String>)> =
            crate::content::queries::reading::bodies(&state.db, &ids)
                .await?
                .into_iter()
                .map(|(id, md, html, image)| (id, (md, html, image)))
                .collect();
        let mut comments: HashMap<i64, Vec<PublicComment>> = HashMap::new();
        for comment in crate::comments::queries::approved_of(&state.db, &ids).await? {
            comments.entry(comment.article_id).or_default().push(comment);
        }
        let mut rendered = Rendered { pages: Vec::with_capacity(indexes.len()), left: Vec::new() };
        for &i in indexes {
            let summary = self.published[i].clone();
            let path = summary.kind.path(&summary.slug);
            // Changed since the snapshot was read: the crawl asks the server.
            let Some((body_md, body_html, featured_image)) = bodies.remove(&summary.id) else {
                rendered.left.push(path);
                continue;
            };
            let tags = self.tags.get(&summary.id).map(|t| t.iter().map(|(_, tag)| tag.clone()).collect());
            let categories = self.categories.get(&summary.id).cloned().unwrap_or_default();
            let tags = tags.unwrap_or_default();
            let article = Article { summary, body_md, body_html, featured_image, tags, categories };
            let visible = comments.remove(&article.summary.id).unwrap_or_default();
            let Some(extras) = self.extras(state, &article, visible).await? else {
                rendered.left.push(path);
                continue;
            };
            let page = article_html(state, article, extras).await.map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?;
            rendered.pages.push(RenderedPage { path, body: page.body });
        }
        Ok(rendered)
    }

    /// What the server reads for an article page besides the article, from the snapshot;
    /// `None` when the snapshot cannot say (a post that is no comment target), left to the crawl.
    /// `visible`: its approved comments.
    async fn extras(
        &self,
        state: &AppState,
        article: &Article,
        visible: Vec<PublicComment>,
    ) -> anyhow::Result<Option<ArticleExtras>> {
        let id = article.summary.id;
        let comments = if crate::comments::routes::shows_comments(state, article) {
            let Some(target) = self.targets.get(&id) else { return Ok(None) };
            crate::comments::routes::thread_context(state, target, visible, &Default::default())
                .map_err(|e| anyhow::anyhow!("comments of {}: {e:?}", article.summary.slug))?
        } else {
            (minijinja::Value::UNDEFINED, None)
        };
        Ok(Some(ArticleExtras {
            page: 1,
            neighbours: self.neighbours(&article.summary),
            comments,
            ipfs: self.bundles.get(&id).map(|cid| crate::ipfs::routes::links_to(state, cid, &article.summary.slug)),
            featured_srcset: crate::media::service::srcset_for_url(&state.db, article.featured_image.as_deref())
                .await?,
        }))
    }

    /// The posts published just before and just after `article` (`content::queries::neighbours`).
    fn neighbours(&self, article: &ArticleSummary) -> Neighbours {
        let Some(at) = article.published_at else { return Neighbours::default() };
        let key = (Some(at), article.id);
        let posts = &self.listings[0].1;
        let key_of = |i: usize| (self.published[i].published_at, self.published[i].id);
        let link = |i: usize| LinkRef { slug: self.published[i].slug.clone(), title: self.published[i].title.clone() };
        // Newest first: the newer neighbour is the last post above `key`, the older the first below it.
        let newer = posts.partition_point(|&i| key_of(i) > key);
        let older = newer + posts[newer..].first().is_some_and(|&i| key_of(i) == key) as usize;
        Neighbours { previous: posts.get(older).map(|&i| link(i)), next: newer.checked_sub(1).map(|n| link(posts[n])) }
    }

    async fn render_listing(
        &self,
        state: &AppState,
        listing: usize,
        pages: std::ops::Range<u32>,
    ) -> anyhow::Result<Rendered> {
        let (archive, posts) = &self.listings[listing];
        let per_page = state.config.content.per_page;
        let total_pages = page_count(posts.len(), per_page);
        let mut rendered = Vec::with_capacity(pages.len());
        for page in pages {
            let start = (page as usize - 1) * per_page as usize;
            let items = posts
                .iter()
                .skip(start)
                .take(per_page as usize)
                .map(|&i| {
                    let item = self.published[i].clone();
                    let comment_count = self.comment_counts.get(&item.id).copied().unwrap_or(0);
                    Counted { item, comment_count }
                })
                .collect();
            let listing = Page { items, page, total_pages, total_items: posts.len() as i64 };
            let path = page_path(&archive.path, page);
            let html = listing_html(state, archive, listing).await.map_err(|e| anyhow::anyhow!("{path}: {e:?}"))?;
            rendered.push(RenderedPage { path, body: html.body });
        }
        Ok(Rendered { pages: rendered, left: Vec::new() })
    }
}

/// Pages of a listing of `items` (an empty listing still has its first page).
fn page_count(items: usize, per_page: u32) -> u32 {
    (items as u64).div_ceil(per_page.max(1) as u64).max(1) as u32
}

/// Home (first) and the archive of every category (primary or further), tag and author with
/// published posts, each with its posts newest first.
fn listings(
    published: &[ArticleSummary],
    tags: &HashMap<i64, Vec<(i64, Tag)>>,
    filed: &HashMap<i64, Vec<Category>>,
    author_ids: &HashMap<String, i64>,
) -> Vec<(Archive, Vec<usize>)> {
    let mut home = Vec::new();
    // Keyed by id (categories, tags) or username (authors): one archive each, in a stable order.
    let mut categories: BTreeMap<i64, (Archive, Vec<usize>)> = BTreeMap::new();
    let mut by_tag: BTreeMap<i64, (Archive, Vec<usize>)> = BTreeMap::new();
    let mut authors: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, article) in published.iter().enumerate().filter(|(_, a)| a.kind == ArticleKind::Post) {
        home.push(i);
        for category in filed.get(&article.id).into_iter().flatten() {
            categories.entry(category.id).or_insert_with(|| (Archive::category(category), Vec::new())).1.push(i);
        }
        for (tag_id, tag) in tags.get(&article.id).into_iter().flatten() {
            by_tag.entry(*tag_id).or_insert_with(|| (Archive::tag(*tag_id, tag), Vec::new())).1.push(i);
        }
        authors.entry(article.author.username.clone()).or_default().push(i);
    }
    let mut listings = vec![(Archive::home(), home)];
    listings.extend(categories.into_values());
    listings.extend(by_tag.into_values());
    for (username, posts) in authors {
        let author = &published[posts[0]].author;
        let Some(&id) = author_ids.get(&username) else { continue };
        listings.push((Archive::author(id, &username, &author.display_name), posts));
    }
    listings
}
