//! Rendered responses kept in memory, keyed by request path.
//!
//! The content epoch is a counter in the database bumped by every content write, which also
//! records what it changed (`store::ContentChange`); each node re-reads the epoch a few times a
//! second and drops the pages showing what changed. So a node never shows content older than
//! that poll interval, whichever node (or CLI process) wrote it, and a comment approved on one
//! article leaves every other article's page cached. Other articles' pages link to their
//! neighbours: when an article changes they are served for at most `other_articles_lag` more.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};

use super::encoding::{Coding, Effort};
use crate::store::ContentChange;

/// What makes a page's copy for a given second, from its body and that second: the comment
/// form's token, which carries the second it was issued.
#[derive(Clone)]
pub struct PerSecond(Arc<ChangeForSecond>);

type ChangeForSecond = dyn Fn(&Bytes, i64) -> Bytes + Send + Sync;

impl PerSecond {
    pub fn new(change: impl Fn(&Bytes, i64) -> Bytes + Send + Sync + 'static) -> PerSecond {
        PerSecond(Arc::new(change))
    }
}

impl std::fmt::Debug for PerSecond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PerSecond")
    }
}

/// One rendered response.
#[derive(Debug)]
pub struct CachedPage {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    /// When the content shown last changed, as Unix seconds.
    pub last_modified: Option<i64>,
    /// The response headers of the validators, made once: `ETag` per coding (none, brotli,
    /// gzip: each coding its own strong validator, `"<hash>-br"`, from the body's hash) and
    /// `Last-Modified`.
    etag_values: [HeaderValue; 3],
    last_modified_value: Option<HeaderValue>,
    /// The article whose page this is; `None` for pages that are no article's (listings, feeds).
    article_id: Option<i64>,
    /// Its handler checks each request before serving it from the cache (search's rate limit),
    /// so `cached_first` must leave it to the handler.
    checked_per_request: bool,
    /// How hard its compressed copies are worth compressing.
    effort: Effort,
    /// The body in brotli and in gzip, each made on the first request that asks for it.
    pub brotli: OnceLock<Bytes>,
    pub gzip: OnceLock<Bytes>,
    /// What the page is served as at a given second, if it varies by the second...
    per_second: Option<PerSecond>,
    /// ...and the copy [`CachedPage::at`] made last, with the second it was made for.
    for_second: RwLock<Option<(i64, Arc<CachedPage>)>>,
}

impl CachedPage {
    pub fn new(
        status: StatusCode,
        content_type: &'static str,
        body: Bytes,
        etag: String,
        last_modified: Option<i64>,
    ) -> CachedPage {
        let coded = |coding: Coding| format!("{}-{}\"", etag.trim_end_matches('"'), coding.header_value());
        let etag_values = [etag.clone(), coded(Coding::Brotli), coded(Coding::Gzip)]
            .map(|tag| HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"\"")));
        let last_modified_value = last_modified.and_then(|ts| {
            let at = std::time::UNIX_EPOCH + Duration::from_secs(ts.max(0) as u64);
            HeaderValue::from_str(&httpdate::fmt_http_date(at)).ok()
        });
        CachedPage {
            status,
            content_type,
            body,
            last_modified,
            etag_values,
            last_modified_value,
            article_id: None,
            checked_per_request: false,
            effort: Effort::OncePerPage,
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
            per_second: None,
            for_second: RwLock::new(None),
        }
    }

    /// Marks the page as `article_id`'s: the cache drops it when that article changes, and keeps
    /// it (for `other_articles_lag`) when another one does.
    pub fn of_article(self, article_id: i64) -> CachedPage {
        CachedPage { article_id: Some(article_id), ..self }
    }

    /// An article's page answers ActivityPub clients with other bytes at the same URL, so its
    /// responses name `Accept` in `Vary`.
    pub fn varies_by_accept(&self) -> bool {
        self.article_id.is_some()
    }

    /// Marks the page as one whose handler checks every request before serving it.
    pub fn checked_per_request(self) -> CachedPage {
        CachedPage { checked_per_request: true, ..self }
    }

    pub fn is_checked_per_request(&self) -> bool {
        self.checked_per_request
    }

    /// Serves the page as `change` makes it for each second ([`CachedPage::at`]).
    pub fn varying_by_second(self, change: PerSecond) -> CachedPage {
        CachedPage { per_second: Some(change), ..self }
    }

    /// The page as served at the second `now`: itself, or for a page varying by the second its
    /// copy for `now`, made once a second and kept with its own compressed copies (at a lighter
    /// effort), so that it costs no copy or compression of the body per request. The copy keeps
    /// this page's validators: it differs only in what varies by the second.
    pub fn at(self: &Arc<Self>, now: i64) -> Arc<CachedPage> {
        let Some(change) = &self.per_second else { return self.clone() };
        if let Some((_, copy)) =
            self.for_second.read().unwrap_or_else(|e| e.into_inner()).as_ref().filter(|(at, _)| *at == now)
        {
            return copy.clone();
        }
        let copy = Arc::new(CachedPage {
            status: self.status,
            content_type: self.content_type,
            body: (change.0)(&self.body, now),
            last_modified: self.last_modified,
            etag_values: self.etag_values.clone(),
            last_modified_value: self.last_modified_value.clone(),
            article_id: self.article_id,
            checked_per_request: self.checked_per_request,
            effort: Effort::OncePerSecond,
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
            per_second: None,
            for_second: RwLock::new(None),
        });
        *self.for_second.write().unwrap_or_else(|e| e.into_inner()) = Some((now, copy.clone()));
        copy
    }

    /// The `ETag` of the body in `coding` (`None`: as it is).
    pub fn etag_value(&self, coding: Option<Coding>) -> &HeaderValue {
        match coding {
            None => &self.etag_values[0],
            Some(Coding::Brotli) => &self.etag_values[1],
            Some(Coding::Gzip) => &self.etag_values[2],
        }
    }

    pub fn last_modified_value(&self) -> Option<&HeaderValue> {
        self.last_modified_value.as_ref()
    }

    /// The body in `coding`, compressed once.
    pub fn encoded(&self, coding: Coding) -> &Bytes {
        let slot = match coding {
            Coding::Brotli => &self.brotli,
            Coding::Gzip => &self.gzip,
        };
        slot.get_or_init(|| super::encoding::compress(&self.body, coding, self.effort))
    }
}

pub struct PageCache {
    /// The newest epoch seen in the database; moved only by [`PageCache::advance`].
    epoch: AtomicI64,
    /// The epoch of the newest write that may have changed which posts listings hold or their
    /// order (an article's, or everything's): what is known of listings is kept until it moves.
    listings_epoch: AtomicI64,
    entries: RwLock<HashMap<String, Entry>>,
    capacity: usize,
    other_articles_lag: Duration,
}

struct Entry {
    page: Arc<CachedPage>,
    /// Since when another article changed: the page's links to its neighbours may be out of date.
    neighbours_changed: Option<Instant>,
}

impl PageCache {
    pub fn new(capacity: usize, other_articles_lag: Duration) -> Self {
        PageCache {
            epoch: AtomicI64::new(0),
            listings_epoch: AtomicI64::new(0),
            entries: RwLock::default(),
            capacity,
            other_articles_lag,
        }
    }

    pub fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn listings_epoch(&self) -> i64 {
        self.listings_epoch.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Option<Arc<CachedPage>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(key)?;
        match entry.neighbours_changed {
            Some(since) if since.elapsed() >= self.other_articles_lag => None,
            _ => Some(entry.page.clone()),
        }
    }

    /// Stores a page rendered under `epoch` (read before rendering): unless the epoch has moved
    /// since, as a write that raced the render may not show in it.
    pub fn insert(&self, key: String, epoch: i64, page: Arc<CachedPage>) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if epoch == self.epoch() && (entries.len() < self.capacity || entries.contains_key(&key)) {
            entries.insert(key, Entry { page, neighbours_changed: None });
        }
    }

    /// Moves to `epoch`, dropping the pages that show what `changes` (the writes since the
    /// current epoch) changed.
    pub fn advance(&self, epoch: i64, changes: &[ContentChange]) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if epoch <= self.epoch() {
            return;
        }
        let reorders = |change: &ContentChange| !matches!(change, ContentChange::AroundArticle(_));
        if changes.iter().any(reorders) {
            self.listings_epoch.store(epoch, Ordering::Release);
        }
        self.epoch.store(epoch, Ordering::Release);
        if changes.contains(&ContentChange::Everything) {
            entries.clear();
            return;
        }
        let mut touched = HashSet::new();
        let mut an_article_changed = false;
        for change in changes {
            match *change {
                ContentChange::Article(id) => {
                    touched.insert(id);
                    an_article_changed = true;
                }
                ContentChange::AroundArticle(id) => {
                    touched.insert(id);
                }
                ContentChange::Everything => {}
            }
        }
        let now = Instant::now();
        entries.retain(|_, entry| match entry.page.article_id {
            Some(id) if !touched.contains(&id) => {
                if an_article_changed {
                    entry.neighbours_changed.get_or_insert(now);
                }
                true
            }
            _ => false,
        });
    }
}

/// One value computed from the database and kept for the content epoch it was read under: what
/// every page shows (the category navigation, the price widgets), so rendering a page after a
/// write, or past the page cache, does not read it again.
pub struct EpochMemo<T> {
    memo: RwLock<Option<(i64, T)>>,
}

impl<T> Default for EpochMemo<T> {
    fn default() -> Self {
        EpochMemo { memo: RwLock::new(None) }
    }
}

impl<T: Clone> EpochMemo<T> {
    pub fn get(&self, epoch: i64) -> Option<T> {
        let memo = self.memo.read().unwrap_or_else(|e| e.into_inner());
        memo.as_ref().filter(|(at, _)| *at == epoch).map(|(_, value)| value.clone())
    }

    /// Keeps `value`, read under `epoch`, unless a newer epoch's value is already kept.
    pub fn put(&self, epoch: i64, value: T) {
        let mut memo = self.memo.write().unwrap_or_else(|e| e.into_inner());
        if memo.as_ref().is_none_or(|(at, _)| *at <= epoch) {
            *memo = Some((epoch, value));
        }
    }
}

/// Values keyed by `K`, kept for the content epoch they were read under; all dropped when it
/// moves. For what many pages read and a write may change, such as each listing's total.
pub struct EpochMap<K, V> {
    entries: RwLock<(i64, HashMap<K, V>)>,
    capacity: usize,
}

impl<K: std::hash::Hash + Eq, V: Clone> EpochMap<K, V> {
    pub fn new(capacity: usize) -> Self {
        EpochMap { entries: RwLock::new((0, HashMap::new())), capacity }
    }

    pub fn get<Q>(&self, epoch: i64, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        if entries.0 != epoch {
            return None;
        }
        entries.1.get(key).cloned()
    }

    /// Keeps `value`, read under `epoch`, unless the map has moved on to a newer epoch.
    pub fn put(&self, epoch: i64, key: K, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.0 != epoch {
            if epoch < entries.0 {
                return;
            }
            *entries = (epoch, HashMap::new());
        }
        if entries.1.len() < self.capacity {
            entries.1.insert(key, value);
        }
    }
}
