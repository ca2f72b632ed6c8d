//! The `[subscriptions]` section of the configuration and its start-up checks.

use super::check_range;
use anyhow::bail;
use serde::{Deserialize, Serialize};

/// What an article mail carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailContent {
    /// Title, excerpt and a link.
    Excerpt,
    /// Title, the whole article and a link.
    Full,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubscriptionsConfig {
    /// The "Subscribe to Blog via Email" widget and new subscriptions, and mail about new
    /// articles. Links in mail already sent (unsubscribe, manage) keep working when false.
    pub enabled: bool,
    /// `excerpt` or `full`.
    pub content: MailContent,
    /// Only an article first published at most this many hours before it reached the
    /// notification job is mailed. Imports and the demo site publish back-catalogue articles
    /// with their old dates: those mail nobody (as WordPress and Jetpack do).
    /// `openvoice subscribers notify SLUG --force` mails one anyway.
    pub notify_window_hours: i64,
    /// A confirmation link is valid this long.
    pub confirm_max_age_hours: i64,
    /// At most one confirmation mail per address per this many seconds, however often the
    /// form is sent for it.
    pub confirm_resend_secs: i64,
    /// Per-IP token bucket for the subscribe form, per node: this many at once…
    pub rate_limit_burst: u32,
    /// …refilled at this many per minute.
    pub rate_limit_per_minute: u32,
    /// Hour of the day (UTC) at which daily and weekly digests are queued.
    pub digest_hour: u32,
    /// Day of the weekly digest: mon, tue, wed, thu, fri, sat or sun.
    pub digest_weekday: String,
    /// Most articles listed in one digest (the newest).
    pub max_digest_articles: u32,
}

impl Default for SubscriptionsConfig {
    fn default() -> Self {
        SubscriptionsConfig {
            enabled: true,
            content: MailContent::Excerpt,
            notify_window_hours: 24,
            confirm_max_age_hours: 72,
            confirm_resend_secs: 600,
            rate_limit_burst: 5,
            rate_limit_per_minute: 3,
            digest_hour: 8,
            digest_weekday: "mon".into(),
            max_digest_articles: 30,
        }
    }
}

impl SubscriptionsConfig {
    /// Start-up checks; errors name the key, the value and what was expected.
    pub fn validate(&self) -> anyhow::Result<()> {
        check_range("subscriptions.notify_window_hours", self.notify_window_hours, 0, 24 * 365)?;
        check_range("subscriptions.confirm_max_age_hours", self.confirm_max_age_hours, 1, 24 * 30)?;
        check_range("subscriptions.confirm_resend_secs", self.confirm_resend_secs, 0, 86_400)?;
        check_range("subscriptions.rate_limit_burst", self.rate_limit_burst as i64, 1, 1_000_000_000)?;
        check_range("subscriptions.rate_limit_per_minute", self.rate_limit_per_minute as i64, 1, 1_000_000_000)?;
        check_range("subscriptions.digest_hour", self.digest_hour as i64, 0, 23)?;
        check_range("subscriptions.max_digest_articles", self.max_digest_articles as i64, 1, 500)?;
        if self.weekday().is_none() {
            bail!(
                "key `subscriptions.digest_weekday`: invalid value {:?}, expected mon, tue, wed, thu, fri, sat or sun",
                self.digest_weekday
            );
        }
        Ok(())
    }

    /// The weekly digest's day.
    pub fn weekday(&self) -> Option<chrono::Weekday> {
        let day = self.digest_weekday.trim().to_ascii_lowercase();
        let day = day.get(..3)?;
        day.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_values_name_the_key() {
        let config = SubscriptionsConfig { digest_weekday: "someday".into(), ..Default::default() };
        assert!(config.validate().unwrap_err().to_string().contains("subscriptions.digest_weekday"));
        let config = SubscriptionsConfig { digest_hour: 24, ..Default::default() };
        assert!(config.validate().unwrap_err().to_string().contains("subscriptions.digest_hour"));
        let config = SubscriptionsConfig { digest_weekday: "Friday".into(), ..Default::default() };
        assert_eq!(config.weekday(), Some(chrono::Weekday::Fri));
    }
}
