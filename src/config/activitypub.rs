//! The `[activitypub]` section: how the fediverse finds the site (`activitypub`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActivityPubConfig {
    /// The site actor's preferred username: readers follow `@<username>@<host>`.
    pub username: String,
}

impl Default for ActivityPubConfig {
    fn default() -> Self {
        ActivityPubConfig { username: "news".into() }
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
        Ok(())
    }
}
