//! The `[accounts]` section: admin sessions, login throttling and password resets.

use super::check_range;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccountsConfig {
    /// A session unused for this long ends (each request pushes the end forward).
    pub session_idle_secs: i64,
    /// A session ends this long after sign-in, however active.
    pub session_max_secs: i64,
    /// Failed logins for one account name within `failure_window_secs` that lock it.
    pub max_failures_per_account: i64,
    /// Failed logins from one address within `failure_window_secs` that lock the address.
    pub max_failures_per_ip: i64,
    /// The window in which failures are counted.
    pub failure_window_secs: i64,
    /// How long a locked account or address is refused.
    pub lockout_secs: i64,
    /// A password reset link is valid this long.
    pub reset_token_secs: i64,
    /// Header a trusted reverse proxy puts the client address in (last entry), e.g.
    /// `x-forwarded-for`; empty means the TCP peer. Per-IP throttling uses it.
    pub client_ip_header: String,
    /// Roles whose members must sign in with a second factor (`admin`, `editor`, `author`,
    /// `contributor`): until they set one up, the desk shows them only its two-factor page.
    pub require_two_factor: Vec<String>,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            session_idle_secs: 2 * 3600,
            session_max_secs: 7 * 86_400,
            max_failures_per_account: 5,
            max_failures_per_ip: 20,
            failure_window_secs: 900,
            lockout_secs: 900,
            reset_token_secs: 3600,
            client_ip_header: String::new(),
            require_two_factor: Vec::new(),
        }
    }
}

impl AccountsConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        let ranges: [(&str, i64, i64, i64); 7] = [
            ("accounts.session_idle_secs", self.session_idle_secs, 60, 30 * 86_400),
            ("accounts.session_max_secs", self.session_max_secs, 60, 90 * 86_400),
            ("accounts.max_failures_per_account", self.max_failures_per_account, 1, 1000),
            ("accounts.max_failures_per_ip", self.max_failures_per_ip, 1, 100_000),
            ("accounts.failure_window_secs", self.failure_window_secs, 1, 86_400),
            ("accounts.lockout_secs", self.lockout_secs, 1, 86_400),
            ("accounts.reset_token_secs", self.reset_token_secs, 60, 7 * 86_400),
        ];
        for (key, value, min, max) in ranges {
            check_range(key, value, min, max)?;
        }
        for role in &self.require_two_factor {
            // The role names of `accounts::Role`, which configuration sits below.
            if !["admin", "editor", "author", "contributor"].contains(&role.as_str()) {
                anyhow::bail!(
                    "key `accounts.require_two_factor`: unknown role {role:?}, expected some of admin, editor, author, contributor"
                );
            }
        }
        Ok(())
    }
}
