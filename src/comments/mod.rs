//! Reader comments below articles, as WordPress readers know them: the "Leave a Comment" form,
//! threaded replies, moderation, spam defences, comment feeds and identicons.
//!
//! # Layout
//! - `config`: the `[comments]` section.
//! - `model`: the types other modules see; `PublicComment` has no email by construction.
//! - `service`: validation, WordPress's moderation rules, threads, moderation; one transaction per write.
//! - `queries`: the SQL.
//! - `text`: comment text → sanitised HTML (paragraphs, links, WordPress's tag subset).
//! - `guard`: keyed hashes, the signed form token, signed cookies, the per-IP token bucket.
//! - `avatar`: identicons.
//! - `routes`: the form's POST, reply and comment pages, the article-page hook, avatars.
//! - `feeds`: comment RSS, per article and site-wide.
//! - `cli`: `openvoice comments …`, the moderation queue.
//! - `admin`: the admin desk's moderation screen (`/admin/comments`).

pub mod admin;
pub mod api;
pub mod avatar;
pub mod cli;
pub mod feeds;
pub mod guard;
pub mod model;
pub mod queries;
pub mod routes;
pub mod service;
pub mod text;

use tokio::sync::OnceCell;

use crate::comments::guard::{Keys, RateLimiter};
use crate::config::comments::CommentsConfig;
use crate::store::{Db, DbError};

/// What this node keeps for comments: the keys (read once from the shared site secret) and the
/// per-IP token buckets.
pub struct NodeState {
    keys: OnceCell<Keys>,
    pub limiter: RateLimiter,
}

impl NodeState {
    pub fn new(config: &CommentsConfig) -> NodeState {
        NodeState {
            keys: OnceCell::new(),
            limiter: RateLimiter::new(config.rate_limit_burst, config.rate_limit_per_minute),
        }
    }

    /// The keys derived from the site secret, which the first node to ask creates.
    pub async fn keys(&self, db: &Db) -> Result<&Keys, DbError> {
        self.keys
            .get_or_try_init(|| async {
                let fresh = hex::encode(rand::random::<[u8; 32]>());
                let secret = queries::site_secret(db, "comments", &fresh).await?;
                Ok(Keys::from_secret(secret.as_bytes()))
            })
            .await
    }
}
