//! The `[activitypub]` section: how the fediverse finds the site (`activitypub`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActivityPubConfig {
    /// The site actor's preferred username: readers follow `@<username>@<host>`.
    pub username: String,
    /// Whether remote actors and inboxes may be on private, loopback or link-local addresses
    /// (an intranet's instance, tests). Off, a request naming such a host is refused before
    /// any connection.
    pub allow_private_addresses: bool,
    /// Deliveries to an instance that has failed every one for this long are given up.
    pub give_up_after_hours: u32,
    /// Deliveries in flight at once per node.
    pub delivery_concurrency: u32,
    /// Requests to the inbox one client address may make at once, and per minute after that:
    /// an instance delivers everything its users send to the site from a few addresses.
    pub inbox_burst: u32,
    pub inbox_per_minute: u32,
    /// Signed deliveries started per second per node, at most: each costs an RSA signature
    /// (about a millisecond of a core), so a fan-out to thousands of inboxes takes no more of
    /// the machine than the pages can spare (bench/fediverse.sh).
    pub deliveries_per_second: u32,
}

impl Default for ActivityPubConfig {
    fn default() -> Self {
        ActivityPubConfig {
            username: "news".into(),
            allow_private_addresses: false,
            // Mastodon marks an instance unavailable after a week of failures.
            give_up_after_hours: 168,
            // Enough in flight for the paced rate at a tenth of a second per answer.
            delivery_concurrency: 64,
            inbox_burst: 300,
            inbox_per_minute: 600,
            // Above the 200 a second issue 17 asks for, and as little of the machine as that allows:
            // each delivery is about 0.67 ms of a core (bench/fediverse.sh).
            deliveries_per_second: 210,
        }
    }
}

impl ActivityPubConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        let name = &self.username;
        let allowed = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if name.is_empty() || name.len() > 30 || !allowed {
            anyhow::bail!(
                "activitypub.username = {name:?}: expected 1 to 30 characters of a-z, 0-9 and _ (as Mastodon allows)"
            );
        }
        if self.give_up_after_hours == 0 {
            anyhow::bail!("activitypub.give_up_after_hours = 0: expected at least 1");
        }
        if !(1..=256).contains(&self.delivery_concurrency) {
            anyhow::bail!("activitypub.delivery_concurrency = {}: expected 1 to 256", self.delivery_concurrency);
        }
        if self.inbox_burst == 0 || self.inbox_per_minute == 0 {
            anyhow::bail!("activitypub.inbox_burst and activitypub.inbox_per_minute: expected at least 1");
        }
        if !(1..=100_000).contains(&self.deliveries_per_second) {
            anyhow::bail!("activitypub.deliveries_per_second = {}: expected 1 to 100000", self.deliveries_per_second);
        }
        Ok(())
    }
}
