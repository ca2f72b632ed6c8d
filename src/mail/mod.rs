//! Outgoing mail: a durable outbox in the database, delivered in the background through a
//! transport (`.eml` files by default, or SMTP with pooled connections).
//!
//! Any module queues mail in its own transaction: [`enqueue`] stores a finished message (a
//! password reset, a comment notification), and modules with many recipients queue rows that a
//! [`Compose`] implementation turns into messages at delivery time (subscriptions' article mails:
//! one `INSERT … SELECT` queues 100,000 rows, and the article is rendered once per batch).
//!
//! Delivery is at least once to the SMTP server. The `mail.deliver` job claims a batch of due
//! rows with a lease, sends them over `mail.pool_size` connections at once, then marks the sent
//! rows in one statement. A crash after the server accepted a message and before that statement
//! commits leaves the row queued; once its lease (`mail.lease_secs`) expires it is sent again.
//! So duplicates are bounded by the batch in flight (`mail.batch_size` per crashed worker), and
//! a resent mail keeps its `Message-ID`.
//!
//! # Layout
//! - `config`: the `[mail]` section.
//! - `message`: [`Outgoing`] and its MIME form (lettre's builder; no header injection).
//! - `transport`: files or SMTP, and how failures are classified.
//! - `service`: the delivery loop (claim, compose, send, record, retry, bounce).
//! - `queries`: the outbox, suppression list and bounce counts.
//! - `jobs`: `DeliverMail`, the recurring delivery job.
//! - `cli`: `openvoice mail test|status|deliver`.

pub mod jobs;
pub mod message;
pub mod queries;
pub mod service;
pub mod transport;

use std::future::Future;
use std::net::IpAddr;
use std::path::Path;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::Context;
use lettre::message::Mailbox;
use lettre::Address;

use crate::config::Config;
use crate::store::{Db, DbResult};
pub use message::Outgoing;
use queries::{NewMail, OutboxRow};
use transport::Transport;

/// The kind of rows that carry their finished message as JSON.
pub const RAW_KIND: &str = "mail.raw";

/// What a [`Compose`] implementation makes of one claimed row.
#[derive(Debug, Clone)]
pub enum Composed {
    /// Send this.
    Send(Outgoing),
    /// Do not send it, for this reason (the subscriber left, the article is gone).
    Cancel(String),
}

/// A boxed future, for the object-safe [`Compose`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns rows of the kinds a module queued into messages, a batch at a time.
pub trait Compose: Send + Sync {
    /// Whether rows of `kind` are this composer's.
    fn handles(&self, kind: &str) -> bool;
    /// One outcome per row, in the same order. An error fails the whole batch (it is retried).
    fn compose<'a>(&'a self, db: &'a Db, rows: &'a [OutboxRow]) -> BoxFuture<'a, anyhow::Result<Vec<Composed>>>;
}

/// Everything delivery needs; one per process (its pool of SMTP connections is reused).
pub struct Mailer {
    pub config: crate::config::mail::MailConfig,
    pub transport: Arc<Transport>,
    /// Sender, unsubscribe address and `Message-ID` domain.
    pub envelope: message::Envelope,
    /// Composes rows that are not [`RAW_KIND`].
    pub composer: Option<Arc<dyn Compose>>,
    /// Identifies this process in `outbox.locked_by`.
    pub node_id: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("transport", &self.transport).field("node_id", &self.node_id).finish()
    }
}

impl Mailer {
    /// The mailer `config` describes; SMTP connections are opened on first use.
    pub fn new(config: &Config, data_dir: &Path, composer: Option<Arc<dyn Compose>>) -> anyhow::Result<Mailer> {
        let mail = &config.mail;
        let host = site_host(&config.base_url());
        let from = if mail.from.trim().is_empty() {
            let address = Address::from_str(&format!("noreply@{host}")).context("key `mail.from`: default sender")?;
            Mailbox::new(Some(message::one_line(&config.site.title)), address)
        } else {
            Mailbox::from_str(mail.from.trim()).context("key `mail.from`")?
        };
        let unsubscribe_mailto = if mail.unsubscribe_mailto.trim().is_empty() {
            from.email.clone()
        } else {
            Address::from_str(mail.unsubscribe_mailto.trim()).context("key `mail.unsubscribe_mailto`")?
        };
        let helo = if mail.helo_name.is_empty() { host.clone() } else { mail.helo_name.clone() };
        let transport = Transport::from_config(mail, data_dir, &helo)?;
        Ok(Mailer {
            config: mail.clone(),
            transport: Arc::new(transport),
            envelope: message::Envelope { from, unsubscribe_mailto, id_domain: host },
            composer,
            node_id: format!("{}-{:08x}", std::process::id(), rand::random::<u32>()),
        })
    }
}

/// The host name of the site's base URL, for sender addresses, `Message-ID`s and EHLO; an IP
/// address (a site without a name yet) gives `localhost`.
fn site_host(base_url: &str) -> String {
    let rest = base_url.split_once("://").map_or(base_url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if authority.starts_with('[') {
        authority.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        authority.split(':').next().unwrap_or("")
    };
    if host.is_empty() || host.parse::<IpAddr>().is_ok() {
        "localhost".to_string()
    } else {
        host.to_ascii_lowercase()
    }
}

/// Queues a finished message in the caller's transaction. `topic` names what it is about, for
/// the operator (`password-reset:<user>:<time>`). Delivered by the next `mail.deliver` run.
pub async fn enqueue(conn: &mut sqlx::AnyConnection, mail: &Outgoing, topic: &str, now: i64) -> DbResult<()> {
    let payload = serde_json::to_string(mail)?;
    let row = NewMail {
        kind: RAW_KIND,
        topic,
        subscriber_id: None,
        recipient: &mail.to,
        payload: Some(&payload),
        bulk: mail.unsubscribe.is_some(),
    };
    queries::insert(conn, &row, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_site_host_names_senders() {
        assert_eq!(site_host("https://News.example.org/blog"), "news.example.org");
        assert_eq!(site_host("http://127.0.0.1:8080"), "localhost");
        assert_eq!(site_host("http://[::1]:8080"), "localhost");
        assert_eq!(site_host("http://example.org:8080"), "example.org");
    }
}
