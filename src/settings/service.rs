//! Settings decisions: which configuration keys the admin may change, how a form's text becomes
//! typed values, validation with the configuration's own checks (each message at its field),
//! and saving the overrides in one transaction that bumps the content epoch. Knows no HTTP.

use std::collections::BTreeMap;

use crate::config::{self, Config};
use crate::settings::queries;
use crate::store::{self, ContentChange, Db, DbError};

/// How a field's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A decimal number.
    Number,
    /// A TCP port; empty or 0 means the usual one.
    Port,
    /// One of the listed values.
    Choice(&'static [&'static str]),
    /// Names separated by commas, spaces or lines.
    List,
    /// Never shown back; left blank, the saved value is kept.
    Secret,
    /// Checkboxes, one per sidebar widget.
    Widgets,
}

/// One setting on the screen: its configuration key (also the form field's name).
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    pub help: &'static str,
}

/// A group of fields; `applies_at_once`: to pages (else to the job worker, within seconds).
pub struct Section {
    pub title: &'static str,
    pub applies_at_once: bool,
    pub fields: &'static [Field],
}

const fn field(key: &'static str, label: &'static str, kind: Kind, help: &'static str) -> Field {
    Field { key, label, kind, help }
}

pub const SECTIONS: &[Section] = &[
    Section {
        title: "Site",
        applies_at_once: true,
        fields: &[
            field("site.title", "Site title", Kind::Text, ""),
            field("site.tagline", "Tagline", Kind::Text, ""),
            field("site.language", "Language", Kind::Text, "A language tag such as en, de or pt-BR."),
            field(
                "site.time_zone",
                "Time zone",
                Kind::Text,
                "An IANA name such as UTC, Europe/Berlin or America/New_York.",
            ),
            field("site.widgets", "Sidebar widgets", Kind::Widgets, ""),
        ],
    },
    Section {
        title: "Prices and site token",
        applies_at_once: false,
        fields: &[
            field("market.coins", "Coins", Kind::List, "CoinGecko ids in display order, e.g. bitcoin, monero."),
            field("market.token_name", "Token name", Kind::Text, ""),
            field("market.token_symbol", "Token symbol", Kind::Text, ""),
            field(
                "market.token_fixed_price",
                "Token price (USD)",
                Kind::Number,
                "Shown when the token's price source is fixed.",
            ),
        ],
    },
    Section {
        title: "Mail",
        applies_at_once: false,
        fields: &[
            field(
                "mail.transport",
                "Transport",
                Kind::Choice(&["file", "smtp"]),
                "file writes .eml files into the data folder's outbox/.",
            ),
            field(
                "mail.from",
                "Sender",
                Kind::Text,
                "news@example.org or News Desk <news@example.org>; empty for noreply at the site's host.",
            ),
            field("mail.smtp_host", "SMTP host", Kind::Text, ""),
            field(
                "mail.smtp_port",
                "SMTP port",
                Kind::Port,
                "Empty or 0 for the usual port of the TLS mode (25, 587, 465).",
            ),
            field("mail.smtp_tls", "TLS", Kind::Choice(&["none", "starttls", "tls"]), ""),
            field("mail.smtp_username", "SMTP user", Kind::Text, "Empty for no authentication."),
            field("mail.smtp_password", "SMTP password", Kind::Secret, "Leave blank to keep the saved password."),
        ],
    },
    Section {
        title: "IPFS pinning",
        applies_at_once: false,
        fields: &[
            field("ipfs.kubo_rpc_url", "Kubo RPC URL", Kind::Text, "e.g. http://127.0.0.1:5001; empty: off."),
            field(
                "ipfs.pinning_service_url",
                "Pinning Service API URL",
                Kind::Text,
                "e.g. https://api.pinata.cloud/psa; empty: off.",
            ),
            field(
                "ipfs.pinning_service_token",
                "Pinning service token",
                Kind::Secret,
                "Leave blank to keep the saved token.",
            ),
        ],
    },
];

pub fn fields() -> impl Iterator<Item = &'static Field> {
    SECTIONS.iter().flat_map(|s| s.fields.iter())
}

/// What was wrong, by field key.
pub type FieldErrors = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("invalid settings: {0:?}")]
    Invalid(FieldErrors),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for SettingsError {
    fn from(err: sqlx::Error) -> Self {
        SettingsError::Db(err.into())
    }
}

/// The overrides saved in the database, by key.
pub async fn overrides(db: &Db) -> Result<BTreeMap<String, toml::Value>, DbError> {
    let mut out = BTreeMap::new();
    for (key, json) in queries::all(db).await? {
        // Only keys this screen writes are applied: a row edited by hand cannot change others.
        match serde_json::from_str::<toml::Value>(&json) {
            Ok(value) if fields().any(|f| f.key == key) => {
                out.insert(key, value);
            }
            _ => tracing::warn!(key = %key, "Ignoring a stored setting this version does not know"),
        }
    }
    Ok(out)
}

/// `base` (the configuration file and environment) with the saved settings laid over it.
pub async fn effective(db: &Db, base: &Config) -> Result<Config, DbError> {
    Ok(lay_over(base, &overrides(db).await?))
}

/// `base` with `saved` laid over it. Should they no longer fit together (the file changed since
/// they were saved), each setting that still fits is kept and the others are skipped, with a
/// warning naming them.
pub fn lay_over(base: &Config, saved: &BTreeMap<String, toml::Value>) -> Config {
    if let Ok(config) = config::with_overrides(base, saved.iter().map(|(k, v)| (k.as_str(), v))) {
        return config;
    }
    let mut config = base.clone();
    for (key, value) in saved {
        match config::with_overrides(&config, [(key.as_str(), value)]) {
            Ok(next) => config = next,
            Err(err) => {
                tracing::warn!(key = %key, error = %err, "A saved setting no longer fits the configuration; skipped")
            }
        }
    }
    config
}

/// The current value of `key` in `config` as form text (secrets: empty).
pub fn form_value(config: &Config, field: &Field) -> String {
    if field.kind == Kind::Secret {
        return String::new();
    }
    match leaf(config, field.key) {
        Some(toml::Value::String(s)) => s,
        Some(toml::Value::Integer(0)) if field.kind == Kind::Port => String::new(),
        Some(toml::Value::Array(items)) => {
            let sep = if field.kind == Kind::Widgets { "," } else { ", " };
            items.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(sep)
        }
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Whether the secret at `key` is set in `config`.
pub fn secret_is_set(config: &Config, key: &str) -> bool {
    matches!(leaf(config, key), Some(toml::Value::String(s)) if !s.is_empty())
}

/// Checks the submitted form against `base` and the saved settings and, if everything is valid,
/// saves in one transaction what differs from `base` (and forgets what equals it). Returns the
/// keys that changed. Fields the form does not carry, and secrets left blank, keep their value.
pub async fn save(db: &Db, base: &Config, form: &[(String, String)]) -> Result<Vec<String>, SettingsError> {
    let saved = overrides(db).await?;
    let current = lay_over(base, &saved);
    let mut errors = FieldErrors::new();
    let mut submitted: BTreeMap<&'static str, toml::Value> = BTreeMap::new();
    for field in fields() {
        let texts: Vec<&str> = form.iter().filter(|(k, _)| k == field.key).map(|(_, v)| v.as_str()).collect();
        // A field the form does not carry is left as it is.
        if texts.is_empty() {
            continue;
        }
        match parse(field, &texts) {
            Ok(Some(value)) => {
                // Each value alone, checked by the configuration's own rules; a complaint about
                // another key is a rule relating the two, checked below with all values at once.
                if let Err(err) = config::with_overrides(&current, [(field.key, &value)]) {
                    let (key, message) = split_key(&err.to_string());
                    if key.as_deref().is_none_or(|key| key == field.key) {
                        errors.insert(field.key.to_string(), message);
                    }
                }
                submitted.insert(field.key, value);
            }
            Ok(None) => {}
            Err(message) => {
                errors.insert(field.key.to_string(), message);
            }
        }
    }
    if errors.is_empty() {
        // Then all together: some rules relate two keys (a password needs a user name).
        let mut all = saved.clone();
        all.extend(submitted.iter().map(|(k, v)| (k.to_string(), v.clone())));
        if let Err(err) = config::with_overrides(base, all.iter().map(|(k, v)| (k.as_str(), v))) {
            let (key, message) = split_key(&err.to_string());
            errors.insert(key.unwrap_or_else(|| "form".into()), message);
        }
    }
    if !errors.is_empty() {
        return Err(SettingsError::Invalid(errors));
    }

    let now = store::now();
    let mut changed = Vec::new();
    let mut tx = db.begin().await?;
    for (key, value) in &submitted {
        let before = saved.get(*key);
        if leaf(base, key).as_ref() == Some(value) {
            if before.is_some() {
                queries::delete(&mut tx, key).await?;
                changed.push(key.to_string());
            }
        } else if before != Some(value) {
            let json = serde_json::to_string(value).map_err(DbError::from)?;
            queries::upsert(&mut tx, key, &json, now).await?;
            changed.push(key.to_string());
        }
    }
    if !changed.is_empty() {
        // Names only: values may be secrets.
        store::record_activity(&mut tx, "settings.save", None, &changed.join(", ")).await?;
        store::bump_content_epoch(&mut tx, &[ContentChange::Everything]).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// A field's text as a typed value; `None` for a secret left blank.
fn parse(field: &Field, texts: &[&str]) -> Result<Option<toml::Value>, String> {
    let text = texts.last().map_or("", |t| t.trim());
    let value = match field.kind {
        Kind::Text => toml::Value::String(text.to_string()),
        Kind::Secret if text.is_empty() => return Ok(None),
        Kind::Secret => toml::Value::String(text.to_string()),
        Kind::Number => match text.parse::<f64>() {
            Ok(n) if n.is_finite() => toml::Value::Float(n),
            _ => return Err(format!("{text:?} is not a number")),
        },
        Kind::Port if text.is_empty() => toml::Value::Integer(0),
        Kind::Port => match text.parse::<u16>() {
            Ok(port) => toml::Value::Integer(i64::from(port)),
            Err(_) => return Err(format!("{text:?} is not a port: expected a number from 1 to 65535, or empty")),
        },
        Kind::Choice(choices) if choices.contains(&text) => toml::Value::String(text.to_string()),
        Kind::Choice(choices) => return Err(format!("{text:?} is not one of {}", choices.join(", "))),
        Kind::List => toml::Value::Array(
            text.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        Kind::Widgets => {
            let mut chosen: Vec<toml::Value> = Vec::new();
            for widget in config::WIDGETS {
                if texts.contains(&widget) {
                    chosen.push(toml::Value::String(widget.into()));
                }
            }
            // The form always sends an empty value too, so that unticking every box is seen.
            if let Some(unknown) = texts.iter().find(|t| !t.is_empty() && !config::WIDGETS.contains(t)) {
                return Err(format!("unknown widget {unknown:?}"));
            }
            toml::Value::Array(chosen)
        }
    };
    Ok(Some(value))
}

/// `key \`a.b\`: message` → (`a.b`, `message`).
fn split_key(error: &str) -> (Option<String>, String) {
    let parsed = error.strip_prefix("key `").and_then(|rest| rest.split_once("`: "));
    match parsed {
        Some((key, message)) => (Some(key.to_string()), message.to_string()),
        None => (None, error.to_string()),
    }
}

fn leaf(config: &Config, key: &str) -> Option<toml::Value> {
    let mut node = toml::Value::try_from(config).ok()?;
    for part in key.split('.') {
        node = node.as_table_mut()?.remove(part)?;
    }
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_their_text() {
        let find = |key: &str| fields().find(|f| f.key == key).unwrap();
        assert_eq!(parse(find("mail.smtp_port"), &["587"]), Ok(Some(toml::Value::Integer(587))));
        assert_eq!(parse(find("mail.smtp_port"), &[""]), Ok(Some(toml::Value::Integer(0))));
        assert!(parse(find("mail.smtp_port"), &["70000"]).unwrap_err().contains("65535"));
        assert_eq!(parse(find("mail.smtp_password"), &[""]), Ok(None));
        let coins = parse(find("market.coins"), &["bitcoin, monero\nnano"]).unwrap().unwrap();
        assert_eq!(coins.as_array().unwrap().len(), 3);
        let widgets = parse(find("site.widgets"), &["subscribe", "site-token"]).unwrap().unwrap();
        assert_eq!(widgets, toml::Value::Array(vec!["site-token".into(), "subscribe".into()]));
        assert!(parse(find("mail.smtp_tls"), &["ssl"]).is_err());
        assert_eq!(split_key("key `mail.from`: bad"), (Some("mail.from".into()), "bad".into()));
    }

    #[test]
    fn saved_settings_that_no_longer_fit_are_skipped_one_by_one() {
        let saved: BTreeMap<String, toml::Value> = [
            ("site.title".to_string(), toml::Value::String("Harbour".into())),
            // Needs mail.smtp_username, which the file (here: the defaults) no longer sets.
            ("mail.smtp_password".to_string(), toml::Value::String("pw".into())),
        ]
        .into();
        let config = lay_over(&Config::default(), &saved);
        assert_eq!(config.site.title, "Harbour");
        assert_eq!(config.mail.smtp_password, "");
    }

    #[test]
    fn every_field_is_a_configuration_key() {
        let config = Config::default();
        for field in fields() {
            assert!(leaf(&config, field.key).is_some(), "{}", field.key);
        }
    }
}
