//! The `[analytics]` section: the private page-view counts.

use super::check_range;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    /// Count page views (in memory, written in batches; no cookie, no address kept).
    pub enabled: bool,
    /// How often each node writes its counts to the database, in seconds.
    pub flush_secs: i64,
    /// Days of counts kept; older days are deleted.
    pub keep_days: i64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig { enabled: true, flush_secs: 10, keep_days: 400 }
    }
}

impl AnalyticsConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        check_range("analytics.flush_secs", self.flush_secs, 1, 3600)?;
        check_range("analytics.keep_days", self.keep_days, 1, 10 * 366)
    }
}
