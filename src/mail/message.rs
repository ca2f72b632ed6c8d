//! One mail as the rest of the program describes it, and its MIME form.
//!
//! Building goes through lettre's message builder: headers with non-ASCII text are RFC 2047
//! encoded, bodies are 7-bit (quoted-printable or base64 when needed), `Date` is set. Subjects
//! and display names are stripped of control characters first, so no title or name can start a
//! header of its own.

use std::str::FromStr;
use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use serde::{Deserialize, Serialize};

/// A mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The recipient's address (already validated).
    pub to: String,
    pub subject: String,
    /// The plain-text part; always present.
    pub text: String,
    /// The HTML part, if any (then the mail is `multipart/alternative`).
    pub html: Option<String>,
    /// Newsletter mail: `List-Unsubscribe` (https and mailto) and RFC 8058 one-click.
    pub unsubscribe: Option<Unsubscribe>,
}

/// Where the recipient unsubscribes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribe {
    /// The https URL that answers a one-click POST (and shows a confirmation page on GET).
    pub url: String,
    /// Subject of the `mailto:` request, carrying the same token.
    pub mailto_subject: String,
}

/// Site-wide parts of every message.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub from: Mailbox,
    /// Address of the `mailto:` unsubscribe link.
    pub unsubscribe_mailto: Address,
    /// Right-hand side of `Message-ID`s.
    pub id_domain: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("invalid recipient address {0:?}")]
    Recipient(String),
    #[error("the message is {size} bytes, over mail.max_message_bytes ({limit})")]
    TooLarge { size: usize, limit: usize },
    #[error("building the message: {0}")]
    Other(String),
}

/// Replaces control characters (CR, LF, tabs…) with spaces and trims: a subject or a name is one line.
pub fn one_line(text: &str) -> String {
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `Message-ID` of outbox row `id`: the same on every attempt, so a receiver can tell a
/// resend after a crash from a new mail.
pub fn message_id(id_domain: &str, outbox_id: i64, created_at: i64) -> String {
    format!("<ov.{outbox_id}.{created_at}@{id_domain}>")
}

/// The MIME bytes and the SMTP envelope of `mail`.
pub fn build(
    mail: &Outgoing,
    site: &Envelope,
    message_id: String,
    date: i64,
    max_bytes: usize,
) -> Result<(lettre::address::Envelope, Vec<u8>), BuildError> {
    let to = Address::from_str(&mail.to).map_err(|_| BuildError::Recipient(mail.to.clone()))?;
    let mut builder = Message::builder()
        .from(site.from.clone())
        .to(Mailbox::new(None, to))
        .subject(one_line(&mail.subject))
        .message_id(Some(message_id))
        .date(UNIX_EPOCH + Duration::from_secs(date.max(0) as u64));
    if let Some(unsubscribe) = &mail.unsubscribe {
        let mailto = format!(
            "mailto:{}?subject={}",
            site.unsubscribe_mailto,
            percent_encode(&one_line(&unsubscribe.mailto_subject))
        );
        builder = builder
            .raw_header(header("List-Unsubscribe", format!("<{}>, <{mailto}>", one_line(&unsubscribe.url))))
            .raw_header(header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
    }
    let text = SinglePart::plain(mail.text.clone());
    let message = match &mail.html {
        Some(html) => {
            builder.multipart(MultiPart::alternative().singlepart(text).singlepart(SinglePart::html(html.clone())))
        }
        None => builder.singlepart(text),
    }
    .map_err(|e| BuildError::Other(e.to_string()))?;
    let bytes = message.formatted();
    if bytes.len() > max_bytes {
        return Err(BuildError::TooLarge { size: bytes.len(), limit: max_bytes });
    }
    Ok((message.envelope().clone(), bytes))
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// Percent-encodes everything but unreserved characters (RFC 3986), for `mailto:` subjects.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> Envelope {
        Envelope {
            from: "Ümlaut News <news@example.org>".parse().unwrap(),
            unsubscribe_mailto: "news@example.org".parse().unwrap(),
            id_domain: "example.org".into(),
        }
    }

    #[test]
    fn titles_cannot_inject_headers() {
        let mail = Outgoing {
            to: "reader@example.org".into(),
            subject: "Hello\r\nBcc: victim@example.org\r\n\r\nbody".into(),
            text: "Text".into(),
            html: Some("<p>Text</p>".into()),
            unsubscribe: Some(Unsubscribe {
                url: "https://example.org/u?token=1\r\nX-Evil: 1".into(),
                mailto_subject: "unsubscribe 1.ab".into(),
            }),
        };
        let (envelope, bytes) = build(&mail, &site(), message_id("example.org", 7, 100), 0, 1 << 20).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(envelope.to().len(), 1);
        assert!(!text.contains("\r\nBcc:") && !text.contains("\r\nX-Evil:"), "{text}");
        assert!(text.contains("Message-ID: <ov.7.100@example.org>"), "{text}");
        assert!(text.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"), "{text}");
        assert!(text.contains("mailto:news@example.org?subject=unsubscribe%201.ab"), "{text}");
        assert!(text.is_ascii(), "non-ASCII is encoded");
    }

    #[test]
    fn oversize_messages_are_refused() {
        let mail = Outgoing {
            to: "reader@example.org".into(),
            subject: "Big".into(),
            text: "x".repeat(10_000),
            html: None,
            unsubscribe: None,
        };
        let err = build(&mail, &site(), message_id("example.org", 1, 1), 0, 4096).unwrap_err();
        assert!(matches!(err, BuildError::TooLarge { .. }), "{err}");
    }
}
