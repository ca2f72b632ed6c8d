//! Subscription types as the rest of the program sees them: no SQL, no HTTP.

use std::fmt;

use serde::Serialize;

/// A subscriber's address, checked and normalised: lowercased, the domain in ASCII (an
/// internationalised domain is stored in its `xn--` form, which every mail server accepts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Address(String);

pub const MAX_ADDRESS_CHARS: usize = 254;
const MAX_LOCAL_CHARS: usize = 64;

/// Why an address was refused, in words a reader understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AddressError(pub String);

impl Address {
    /// Checks an address as typed by a reader or found in a CSV file.
    pub fn parse(input: &str) -> Result<Address, AddressError> {
        let err = |message: String| Err(AddressError(message));
        let input = input.trim();
        if input.is_empty() {
            return err("Please enter an email address.".into());
        }
        if input.chars().count() > MAX_ADDRESS_CHARS {
            return err(format!("An email address has at most {MAX_ADDRESS_CHARS} characters."));
        }
        if input.contains('"') {
            return err("Quoted email addresses are not supported.".into());
        }
        let Some((local, domain)) = input.rsplit_once('@') else {
            return err(format!("{input:?} is missing an @, as in name@example.org."));
        };
        if local.contains('@') {
            return err(format!("{input:?} has more than one @."));
        }
        if local.is_empty() {
            return err(format!("{input:?} has nothing before the @."));
        }
        if domain.is_empty() {
            return err(format!("{input:?} has nothing after the @."));
        }
        if !local.is_ascii() {
            return err(format!(
                "{input:?} has non-ASCII characters before the @, which most mail servers cannot deliver to."
            ));
        }
        if local.len() > MAX_LOCAL_CHARS {
            return err(format!("{input:?} has more than {MAX_LOCAL_CHARS} characters before the @."));
        }
        if let Some(c) = local.chars().find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(*c))) {
            return err(format!("{input:?} contains {c:?}, which is not allowed before the @."));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return err(format!("{input:?} has a misplaced dot before the @."));
        }
        if domain.starts_with('[') {
            return err(format!("{input:?}: addresses at an IP address are not supported; use a domain name."));
        }
        let Ok(ascii) = idna::domain_to_ascii(domain) else {
            return err(format!("{input:?}: {domain:?} is not a valid domain name."));
        };
        let ascii = ascii.trim_end_matches('.').to_string();
        let labels: Vec<&str> = ascii.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        };
        if ascii.len() > 253 || !labels.iter().all(label_ok) {
            return err(format!("{input:?}: {domain:?} is not a valid domain name."));
        }
        if labels.len() < 2 || labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
            return err(format!("{input:?}: {domain:?} is not a complete domain name (like example.org)."));
        }
        let address = format!("{}@{ascii}", local.to_ascii_lowercase());
        if address.len() > MAX_ADDRESS_CHARS {
            return err(format!("An email address has at most {MAX_ADDRESS_CHARS} characters."));
        }
        Ok(Address(address))
    }

    /// An address read back from the database (stored already normalised).
    pub fn from_stored(stored: String) -> Address {
        Address(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a subscriber stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Asked to subscribe; receives nothing but the confirmation mail until they confirm.
    Pending,
    /// Confirmed: receives articles (unless the address is suppressed as bouncing).
    Confirmed,
    /// Unsubscribed; the address is on the suppression list until it confirms anew.
    Unsubscribed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Unsubscribed => "unsubscribed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        match text {
            "pending" => Some(Status::Pending),
            "confirmed" => Some(Status::Confirmed),
            "unsubscribed" => Some(Status::Unsubscribed),
            _ => None,
        }
    }
}

/// How often a subscriber hears from the site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// A mail per article, when it is published.
    Instant,
    /// One mail a day listing the day's articles.
    Daily,
    /// One mail a week.
    Weekly,
}

impl Frequency {
    pub const ALL: [Frequency; 3] = [Frequency::Instant, Frequency::Daily, Frequency::Weekly];

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Instant => "instant",
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
        }
    }

    pub fn parse(text: &str) -> Option<Frequency> {
        match text.trim().to_ascii_lowercase().as_str() {
            "instant" | "" => Some(Frequency::Instant),
            "daily" => Some(Frequency::Daily),
            "weekly" => Some(Frequency::Weekly),
            _ => None,
        }
    }

    /// As readers see it.
    pub fn label(self) -> &'static str {
        match self {
            Frequency::Instant => "Each article, as it is published",
            Frequency::Daily => "A daily digest",
            Frequency::Weekly => "A weekly digest",
        }
    }
}

/// One subscriber.
#[derive(Debug, Clone, Serialize)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub status: Status,
    pub frequency: Frequency,
    /// `None`: every category; otherwise only these (ids).
    pub categories: Option<Vec<i64>>,
    /// The address is on the suppression list, and why (`bounced`, `unsubscribed`).
    pub suppressed: Option<String>,
    pub source: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        Address::parse(input).unwrap_or_else(|e| panic!("{input}: {e}")).0
    }

    fn refused(input: &str) -> String {
        Address::parse(input).unwrap_err().0
    }

    #[test]
    fn addresses_are_normalised() {
        assert_eq!(ok("  Ann.Lee+news@Example.ORG "), "ann.lee+news@example.org");
        assert_eq!(ok("leser@bücher.de"), "leser@xn--bcher-kva.de");
        assert_eq!(ok("user@例え.テスト"), "user@xn--r8jz45g.xn--zckzah");
        assert_eq!(ok("o'brien@example.co.uk"), "o'brien@example.co.uk");
    }

    #[test]
    fn malformed_addresses_say_what_is_wrong() {
        assert!(refused("").contains("enter an email"));
        assert!(refused("reader.example.org").contains("missing an @"));
        assert!(refused("a@b@example.org").contains("more than one @"));
        assert!(refused("@example.org").contains("nothing before"));
        assert!(refused("reader@").contains("nothing after"));
        assert!(refused("réader@example.org").contains("non-ASCII"));
        assert!(refused("read er@example.org").contains("not allowed"));
        assert!(refused("reader.@example.org").contains("misplaced dot"));
        assert!(refused("reader@localhost").contains("complete domain"));
        assert!(refused("reader@exa_mple.org").contains("not a valid domain"));
        assert!(refused("reader@[127.0.0.1]").contains("IP address"));
        assert!(refused("reader@1.2.3.4").contains("complete domain"));
        assert!(refused(&format!("{}@example.org", "a".repeat(65))).contains("64"));
        assert!(refused(&format!("a@{}.org", "b".repeat(260))).contains("254"));
        assert!(refused("\"a b\"@example.org").contains("Quoted"));
        assert!(refused("reader@example.org\r\nBcc: x").contains("not a valid domain"));
    }
}
