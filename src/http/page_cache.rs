//! Rendered responses kept in memory, keyed by request path and the content epoch.
//!
//! The epoch is a counter in the database bumped by every content write; each node re-reads it
//! a few times a second. An entry rendered under an older epoch is never served, so a node never
//! shows content older than that poll interval, whichever node (or CLI process) wrote it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use axum::body::Bytes;
use axum::http::StatusCode;

use super::encoding::Coding;

/// One rendered response.
#[derive(Debug)]
pub struct CachedPage {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Bytes,
    /// Strong validator: a hash of the body.
    pub etag: String,
    /// When the content shown last changed, as Unix seconds.
    pub last_modified: Option<i64>,
    /// The body in brotli and in gzip, each made on the first request that asks for it.
    pub brotli: OnceLock<Bytes>,
    pub gzip: OnceLock<Bytes>,
}

impl CachedPage {
    /// The body in `coding`, compressed once.
    pub fn encoded(&self, coding: Coding) -> &Bytes {
        let slot = match coding {
            Coding::Brotli => &self.brotli,
            Coding::Gzip => &self.gzip,
        };
        slot.get_or_init(|| super::encoding::compress(&self.body, coding))
    }
}

pub struct PageCache {
    /// The newest epoch seen in the database.
    epoch: AtomicI64,
    /// Entries and the epoch they were rendered under; cleared when the epoch moves.
    entries: EpochMap<String, Arc<CachedPage>>,
}

impl PageCache {
    pub fn new(capacity: usize) -> Self {
        PageCache { epoch: AtomicI64::new(0), entries: EpochMap::new(capacity) }
    }

    pub fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub fn set_epoch(&self, epoch: i64) {
        self.epoch.store(epoch, Ordering::Release);
    }

    pub fn get(&self, key: &str) -> Option<Arc<CachedPage>> {
        self.entries.get(self.epoch(), key)
    }

    /// Stores a page rendered under `epoch` (read before rendering, so a write that races the
    /// render leaves the entry already stale).
    pub fn insert(&self, key: String, epoch: i64, page: Arc<CachedPage>) {
        self.entries.put(epoch, key, page);
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
