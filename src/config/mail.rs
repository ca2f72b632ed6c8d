//! The `[mail]` section of the configuration and its start-up checks.
//!
//! The embedded default needs no mail server: `transport = "file"` writes each mail as an `.eml`
//! file into `<data>/outbox/`. Set `transport = "smtp"` and the `smtp_*` keys to send for real;
//! `openvoice mail test you@example.org` checks the settings end to end. Every key has an
//! environment variable like any other (`OPENVOICE_MAIL_SMTP_PASSWORD`).

use super::check_range;
use std::str::FromStr;

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// How mail leaves the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// `.eml` files in `<data>/outbox/` (no mail server needed).
    File,
    /// An SMTP relay (`smtp_host`).
    Smtp,
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain text (a relay on the same host or a private network only).
    None,
    /// Plain connection upgraded with STARTTLS, which is required (port 587).
    Starttls,
    /// TLS from the first byte ("implicit TLS", port 465).
    Tls,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `file` (write `.eml` files into `<data>/outbox/`) or `smtp`.
    pub transport: TransportKind,
    /// The sender, e.g. `News Desk <news@example.org>`; empty = the site title at
    /// `noreply@<host of site.base_url>`.
    pub from: String,
    /// Address of the `mailto:` half of `List-Unsubscribe`; empty = the sender's address.
    /// Requests arriving there are handled by hand (`openvoice subscribers remove`).
    pub unsubscribe_mailto: String,
    pub smtp_host: String,
    /// 0 = the usual port for `smtp_tls`: 25 (none), 587 (starttls), 465 (tls).
    pub smtp_port: u16,
    /// `none`, `starttls` or `tls`.
    pub smtp_tls: TlsMode,
    /// Empty = no authentication.
    pub smtp_username: String,
    /// Secret: masked in `openvoice config` and in logs.
    pub smtp_password: String,
    /// Name sent in EHLO; empty = the host of `site.base_url`.
    pub helo_name: String,
    /// A connection attempt or SMTP command taking longer fails (and is retried later).
    pub smtp_timeout_secs: u64,
    /// SMTP connections kept open and used at once.
    pub pool_size: u32,
    /// Outbox rows claimed at a time. A crash can send the mails of the batch in flight twice,
    /// so this is also the bound on duplicates per crashed worker.
    pub batch_size: u32,
    /// How long a claimed row stays leased before another worker may send it.
    pub lease_secs: i64,
    /// How often the delivery job looks for mail to send.
    pub poll_interval_secs: i64,
    /// One delivery run sends for at most this long, then lets other jobs run.
    pub max_run_secs: u64,
    /// First retry after a 4xx answer or a connection error; doubles with each attempt…
    pub retry_base_secs: i64,
    /// …up to this.
    pub retry_max_secs: i64,
    /// Attempts before a mail is given up (state `failed`).
    pub max_attempts: i64,
    /// Permanent failures (5xx) after which an address is suppressed as bouncing.
    pub bounce_threshold: i64,
    /// Largest message accepted by the outbox, in bytes (a bigger one fails for good).
    pub max_message_bytes: usize,
    /// Sent, failed and cancelled outbox rows are deleted after this many days (a daily job);
    /// 0 keeps them forever. Queued rows are never deleted.
    pub keep_days: i64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            transport: TransportKind::File,
            from: String::new(),
            unsubscribe_mailto: String::new(),
            smtp_host: "localhost".into(),
            smtp_port: 0,
            smtp_tls: TlsMode::Starttls,
            smtp_username: String::new(),
            smtp_password: String::new(),
            helo_name: String::new(),
            smtp_timeout_secs: 30,
            pool_size: 8,
            batch_size: 200,
            lease_secs: 120,
            poll_interval_secs: 2,
            max_run_secs: 20,
            retry_base_secs: 60,
            retry_max_secs: 6 * 3600,
            max_attempts: 12,
            bounce_threshold: 1,
            max_message_bytes: 2 << 20,
            keep_days: 30,
        }
    }
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("transport", &self.transport)
            .field("from", &self.from)
            .field("unsubscribe_mailto", &self.unsubscribe_mailto)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &mask(&self.smtp_password))
            .field("helo_name", &self.helo_name)
            .field("smtp_timeout_secs", &self.smtp_timeout_secs)
            .field("pool_size", &self.pool_size)
            .field("batch_size", &self.batch_size)
            .field("lease_secs", &self.lease_secs)
            .field("poll_interval_secs", &self.poll_interval_secs)
            .field("max_run_secs", &self.max_run_secs)
            .field("retry_base_secs", &self.retry_base_secs)
            .field("retry_max_secs", &self.retry_max_secs)
            .field("max_attempts", &self.max_attempts)
            .field("bounce_threshold", &self.bounce_threshold)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("keep_days", &self.keep_days)
            .finish()
    }
}

fn mask(secret: &str) -> &'static str {
    if secret.is_empty() {
        ""
    } else {
        "****"
    }
}

impl MailConfig {
    /// The same settings with the password replaced, for `openvoice config`.
    pub fn masked(&self) -> MailConfig {
        MailConfig { smtp_password: mask(&self.smtp_password).into(), ..self.clone() }
    }

    /// The SMTP port: the configured one, or the usual one for the TLS mode.
    pub fn port(&self) -> u16 {
        match (self.smtp_port, self.smtp_tls) {
            (0, TlsMode::None) => 25,
            (0, TlsMode::Starttls) => 587,
            (0, TlsMode::Tls) => 465,
            (port, _) => port,
        }
    }

    /// Start-up checks; errors name the key, the value and what was expected.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !self.from.trim().is_empty() && lettre::message::Mailbox::from_str(self.from.trim()).is_err() {
            bail!(
                "key `mail.from`: invalid value {:?}, expected an address like news@example.org or `News <news@example.org>`",
                self.from
            );
        }
        let mailto = self.unsubscribe_mailto.trim();
        if !mailto.is_empty() && (mailto.contains(['<', '>', ' ']) || lettre::Address::from_str(mailto).is_err()) {
            bail!("key `mail.unsubscribe_mailto`: invalid value {mailto:?}, expected a bare address like unsubscribe@example.org");
        }
        let host = self.smtp_host.trim();
        if self.transport == TransportKind::Smtp
            && (host.is_empty() || !host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c)))
        {
            bail!("key `mail.smtp_host`: invalid value {host:?}, expected a host name or IP address");
        }
        if !self.smtp_password.is_empty() && self.smtp_username.is_empty() {
            bail!("key `mail.smtp_username`: empty, but mail.smtp_password is set; expected both or neither");
        }
        if !self.helo_name.chars().all(|c| c.is_ascii_alphanumeric() || ".-".contains(c)) {
            bail!("key `mail.helo_name`: invalid value {:?}, expected a host name", self.helo_name);
        }
        check_range("mail.smtp_timeout_secs", self.smtp_timeout_secs as i64, 1, 600)?;
        check_range("mail.pool_size", self.pool_size as i64, 1, 100)?;
        check_range("mail.batch_size", self.batch_size as i64, 1, 5000)?;
        check_range("mail.lease_secs", self.lease_secs, 5, 86_400)?;
        if self.lease_secs <= self.smtp_timeout_secs as i64 {
            bail!(
                "key `mail.lease_secs`: invalid value {}, expected more than mail.smtp_timeout_secs ({}) so a slow send keeps its lease",
                self.lease_secs,
                self.smtp_timeout_secs
            );
        }
        check_range("mail.poll_interval_secs", self.poll_interval_secs, 1, 3600)?;
        check_range("mail.max_run_secs", self.max_run_secs as i64, 1, 3600)?;
        check_range("mail.retry_base_secs", self.retry_base_secs, 1, 86_400)?;
        check_range("mail.retry_max_secs", self.retry_max_secs, self.retry_base_secs, 7 * 86_400)?;
        check_range("mail.max_attempts", self.max_attempts, 1, 100)?;
        check_range("mail.bounce_threshold", self.bounce_threshold, 1, 100)?;
        check_range("mail.max_message_bytes", self.max_message_bytes as i64, 4096, 64 << 20)?;
        check_range("mail.keep_days", self.keep_days, 0, 36_500)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_values_name_the_key() {
        let config = MailConfig { from: "not an address".into(), ..MailConfig::default() };
        assert!(config.validate().unwrap_err().to_string().contains("mail.from"));
        let config = MailConfig { pool_size: 0, ..MailConfig::default() };
        assert!(config.validate().unwrap_err().to_string().contains("mail.pool_size"));
        let config = MailConfig { smtp_password: "x".into(), ..MailConfig::default() };
        assert!(config.validate().unwrap_err().to_string().contains("mail.smtp_username"));
        let config = MailConfig { from: "News <news@example.org>".into(), ..MailConfig::default() };
        assert!(config.validate().is_ok());
    }

    #[test]
    fn the_password_is_masked() {
        let config = MailConfig { smtp_username: "u".into(), smtp_password: "s3cret".into(), ..MailConfig::default() };
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(config.masked().smtp_password, "****");
        let toml: TransportKind = serde_json::from_str("\"smtp\"").unwrap();
        assert_eq!(toml, TransportKind::Smtp);
    }
}
