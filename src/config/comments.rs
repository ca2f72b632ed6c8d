//! The `[comments]` section of the configuration and its start-up checks.
//!
//! Every key has an environment variable like any other (`OPENVOICE_COMMENTS_THREAD_DEPTH=3`).
//! The two word lists are TOML arrays in the file, or comma- or newline-separated text in the
//! environment (`OPENVOICE_COMMENTS_MODERATION_KEYS=casino,viagra`).

use super::check_range;
use anyhow::bail;
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommentsConfig {
    /// Comments below articles; false hides the form and the threads and refuses new comments.
    pub enabled: bool,
    /// Deepest level of nested replies (1 = no replies, 10 = WordPress's deepest, the default);
    /// deeper replies join the deepest level.
    pub thread_depth: u32,
    /// Top-level comments per page of a thread (oldest first); replies stay with their parent.
    pub per_page: u32,
    /// Every new comment waits for a moderator ("Comment must be manually approved").
    pub moderate_all: bool,
    /// A commenter's first comment waits for a moderator; once one of theirs (same name and
    /// email) is approved, later ones are published at once.
    pub require_previous_approval: bool,
    /// A comment with at least this many links waits for a moderator; 0 turns the check off.
    pub moderation_links: u32,
    /// A comment whose text, name, email, URL or browser contains one of these words waits
    /// for a moderator (case-insensitive).
    #[serde(deserialize_with = "word_list")]
    pub moderation_keys: Vec<String>,
    /// Like `moderation_keys`, but the comment goes straight to spam.
    #[serde(deserialize_with = "word_list")]
    pub disallowed_keys: Vec<String>,
    /// Close the comments of every article this many days after publication; 0 = never.
    /// `openvoice comments open|close` sets it per article.
    pub close_after_days: u32,
    /// A form submitted sooner than this after it was served is refused (bots fill forms at
    /// once). Tests and benchmarks set 0.
    pub min_seconds: u32,
    /// A form older than this is refused as expired (the reader gets it back, filled in).
    pub token_max_age_secs: u32,
    /// The same IP address or email may comment once per this many seconds; 0 turns it off.
    pub flood_seconds: u32,
    /// Per-IP token bucket, per node: this many submissions at once…
    pub rate_limit_burst: u32,
    /// …refilled at this many per minute.
    pub rate_limit_per_minute: u32,
    /// Take the client's address from this request header (e.g. `x-forwarded-for`, last
    /// entry; `x-real-ip`) when a trusted reverse proxy sets it; empty = the TCP peer address.
    pub client_ip_header: String,
}

impl Default for CommentsConfig {
    fn default() -> Self {
        CommentsConfig {
            enabled: true,
            thread_depth: 10,
            per_page: 50,
            moderate_all: false,
            require_previous_approval: true,
            moderation_links: 2,
            moderation_keys: Vec::new(),
            disallowed_keys: Vec::new(),
            close_after_days: 0,
            min_seconds: 3,
            token_max_age_secs: 86_400,
            flood_seconds: 15,
            rate_limit_burst: 10,
            rate_limit_per_minute: 6,
            client_ip_header: String::new(),
        }
    }
}

impl CommentsConfig {
    /// Start-up checks; errors name the key, the value and what was expected.
    pub fn validate(&self) -> anyhow::Result<()> {
        check_range("comments.thread_depth", self.thread_depth, 1, 10)?;
        check_range("comments.per_page", self.per_page, 1, 1000)?;
        check_range("comments.moderation_links", self.moderation_links, 0, 1000)?;
        check_range("comments.close_after_days", self.close_after_days, 0, 36_500)?;
        check_range("comments.min_seconds", self.min_seconds, 0, 3600)?;
        check_range("comments.token_max_age_secs", self.token_max_age_secs, 60, 30 * 86_400)?;
        if self.token_max_age_secs <= self.min_seconds {
            bail!(
                "key `comments.token_max_age_secs`: invalid value {}, expected more than comments.min_seconds ({})",
                self.token_max_age_secs,
                self.min_seconds
            );
        }
        check_range("comments.flood_seconds", self.flood_seconds, 0, 86_400)?;
        check_range("comments.rate_limit_burst", self.rate_limit_burst, 1, 1_000_000_000)?;
        check_range("comments.rate_limit_per_minute", self.rate_limit_per_minute, 1, 1_000_000_000)?;
        let header = &self.client_ip_header;
        if !header.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            bail!("key `comments.client_ip_header`: invalid value {header:?}, expected a header name like x-forwarded-for");
        }
        for (key, words) in
            [("comments.moderation_keys", &self.moderation_keys), ("comments.disallowed_keys", &self.disallowed_keys)]
        {
            if let Some(word) = words.iter().find(|w| w.trim().is_empty() || w.chars().count() > 200) {
                bail!("key `{key}`: invalid entry {word:?}, expected words of 1 to 200 characters");
            }
        }
        Ok(())
    }
}

/// A TOML array of strings, or one string split on commas and newlines (environment variables).
fn word_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Words {
        List(Vec<String>),
        Text(String),
    }
    let words = match Words::deserialize(deserializer)? {
        Words::List(list) => list,
        Words::Text(text) => text.split([',', '\n']).map(str::to_string).collect(),
    };
    Ok(words.into_iter().map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_lists_come_from_arrays_or_text() {
        let config: CommentsConfig =
            toml::from_str("moderation_keys = [\"Casino\", \" pills \"]\ndisallowed_keys = \"a, b\\nc\"").unwrap();
        assert_eq!(config.moderation_keys, ["casino", "pills"]);
        assert_eq!(config.disallowed_keys, ["a", "b", "c"]);
    }

    #[test]
    fn invalid_values_name_the_key() {
        let config = CommentsConfig { thread_depth: 0, ..CommentsConfig::default() };
        assert!(config.validate().unwrap_err().to_string().contains("comments.thread_depth"));
        let config = CommentsConfig { client_ip_header: "x forwarded".into(), ..CommentsConfig::default() };
        assert!(config.validate().unwrap_err().to_string().contains("comments.client_ip_header"));
    }
}
