//! Where built messages go: `.eml` files (the embedded default) or an SMTP relay over a pool of
//! connections (plain, STARTTLS or TLS, optional AUTH; lettre's SMTP client).
//!
//! The pool is ours rather than lettre's: lettre's transport writes a message's body and its
//! final `.` in two writes, and with Nagle's algorithm and delayed ACKs the second one waits
//! ~40 ms for the first to be acknowledged, capping a connection at ~25 mails a second. Here the
//! dot-stuffed body and its terminator go in one write, a connection is reused without a `NOOP`
//! per message, and a reused connection the server has closed is replaced once, before the
//! message is handed over (so that retry cannot send anything twice).
//!
//! Failures are classified the way the outbox acts on them: a 4xx reply is [`SendError::Transient`]
//! (retry later), a 5xx reply is [`SendError::Permanent`] (never retry; counts as a bounce), and
//! anything that kept the SMTP conversation from happening is [`SendError::Connection`] (retry
//! later, and stop the current batch: the server is probably down).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;

use crate::config::mail::{MailConfig, TlsMode, TransportKind};

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// A 4xx reply: the server may accept it later.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// A 5xx reply (or a message the server can never take): do not retry.
    #[error("permanent failure: {0}")]
    Permanent(String),
    /// No SMTP conversation: connection refused or lost, TLS, timeout.
    #[error("connection failure: {0}")]
    Connection(String),
}

/// A configured way of sending.
pub enum Transport {
    /// Each message becomes `<dir>/<name>.eml` (written to a temporary file, then renamed, so a
    /// reader never sees half a message; resending the same row overwrites the same file).
    File { dir: PathBuf },
    /// An SMTP relay; connections are pooled and reused.
    Smtp(SmtpPool),
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Transport {
    /// The transport `config` asks for; `helo_name` is sent in EHLO. Connects lazily.
    pub fn from_config(config: &MailConfig, data_dir: &Path, helo_name: &str) -> anyhow::Result<Transport> {
        match config.transport {
            TransportKind::File => Ok(Transport::File { dir: data_dir.join("outbox") }),
            TransportKind::Smtp => {
                let host = config.smtp_host.trim().to_string();
                if config.smtp_tls != TlsMode::None {
                    TlsParameters::new(host.clone()).context("key `mail.smtp_host`: TLS parameters")?;
                }
                let credentials = (!config.smtp_username.is_empty())
                    .then(|| Credentials::new(config.smtp_username.clone(), config.smtp_password.clone()));
                Ok(Transport::Smtp(SmtpPool {
                    port: config.port(),
                    tls: config.smtp_tls,
                    hello: ClientId::Domain(helo_name.to_string()),
                    credentials,
                    timeout: Duration::from_secs(config.smtp_timeout_secs),
                    max_idle: config.pool_size as usize,
                    idle: Mutex::new(Vec::new()),
                    host,
                }))
            }
        }
    }

    /// Where mail goes, for logs and `openvoice mail test`.
    pub fn describe(&self) -> String {
        match self {
            Transport::File { dir } => format!("files in {}", dir.display()),
            Transport::Smtp(pool) => pool.describe(),
        }
    }

    /// Sends one message; `name` names the file for the file transport. Returns the server's
    /// answer (or the file written).
    pub async fn send(&self, envelope: &Envelope, bytes: &[u8], name: &str) -> Result<String, SendError> {
        match self {
            Transport::File { dir } => write_file(dir, name, bytes).await,
            Transport::Smtp(pool) => pool.send(envelope, bytes).await,
        }
    }
}

/// SMTP connections to one relay, kept open between messages.
pub struct SmtpPool {
    host: String,
    port: u16,
    tls: TlsMode,
    hello: ClientId,
    credentials: Option<Credentials>,
    /// For connecting and for each command.
    timeout: Duration,
    /// Idle connections kept (`mail.pool_size`).
    max_idle: usize,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

/// A connection idle longer than this is closed rather than reused (servers drop idle
/// connections after a minute or more).
const MAX_IDLE: Duration = Duration::from_secs(30);

/// Where a transaction failed.
struct Failure {
    /// At `MAIL FROM`, before anything of the message was handed over.
    before_message: bool,
    error: SendError,
}

impl SmtpPool {
    fn describe(&self) -> String {
        let tls = match self.tls {
            TlsMode::None => "plain",
            TlsMode::Starttls => "STARTTLS",
            TlsMode::Tls => "TLS",
        };
        let auth = if self.credentials.is_some() { ", AUTH" } else { "" };
        format!("smtp://{}:{} ({tls}{auth})", self.host, self.port)
    }

    async fn send(&self, envelope: &Envelope, bytes: &[u8]) -> Result<String, SendError> {
        if !bytes.is_ascii() {
            return Err(SendError::Permanent("the message is not 7-bit ASCII".into()));
        }
        let data = dot_stuffed(bytes);
        let (mut conn, reused) = match self.take_idle() {
            Some(conn) => (conn, true),
            None => (self.connect().await?, false),
        };
        let result = match self.transaction(&mut conn, envelope, &data).await {
            Err(failure) if reused && failure.before_message && matches!(failure.error, SendError::Connection(_)) => {
                // The server closed the idle connection: one fresh try, nothing was sent yet.
                conn.abort().await;
                conn = self.connect().await?;
                self.transaction(&mut conn, envelope, &data).await
            }
            other => other,
        };
        match result {
            Ok(response) => {
                self.put_idle(conn);
                Ok(format!("{} {}", response.code(), response.message().collect::<Vec<_>>().join(" ")))
            }
            Err(failure) => {
                conn.abort().await;
                Err(failure.error)
            }
        }
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((conn, since)) = idle.pop() {
            if since.elapsed() < MAX_IDLE && !conn.has_broken() {
                return Some(conn);
            }
            // Too old to trust: dropped (closing the socket).
        }
        None
    }

    fn put_idle(&self, conn: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max_idle {
            idle.push((conn, Instant::now()));
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let wrapper = match self.tls {
            TlsMode::Tls => Some(tls_parameters(&self.host)?),
            TlsMode::None | TlsMode::Starttls => None,
        };
        let connect = AsyncSmtpConnection::connect_tokio1(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            wrapper,
            None,
        );
        let mut conn = within(self.timeout, connect).await?;
        if self.tls == TlsMode::Starttls {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(SendError::Connection(
                    "the server does not offer STARTTLS (mail.smtp_tls = \"starttls\")".into(),
                ));
            }
            within(self.timeout, conn.starttls(tls_parameters(&self.host)?, &self.hello)).await?;
        }
        if let Some(credentials) = &self.credentials {
            let auth = conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials);
            if let Err(err) = within(self.timeout, auth).await {
                conn.abort().await;
                return Err(err);
            }
        }
        Ok(conn)
    }

    async fn transaction(
        &self,
        conn: &mut AsyncSmtpConnection,
        envelope: &Envelope,
        data: &str,
    ) -> Result<Response, Failure> {
        let at_mail = |error| Failure { before_message: true, error };
        let later = |error| Failure { before_message: false, error };
        within(self.timeout, conn.command(Mail::new(envelope.from().cloned(), vec![]))).await.map_err(at_mail)?;
        for to in envelope.to() {
            within(self.timeout, conn.command(Rcpt::new(to.clone(), vec![]))).await.map_err(later)?;
        }
        within(self.timeout, conn.command(Data)).await.map_err(later)?;
        within(self.timeout, conn.command(Raw(data))).await.map_err(later)
    }
}

fn tls_parameters(host: &str) -> Result<TlsParameters, SendError> {
    TlsParameters::new(host.to_string()).map_err(|e| SendError::Connection(format!("TLS parameters: {e}")))
}

/// Runs one SMTP step with a time limit, classifying its failure.
async fn within<T>(
    limit: Duration,
    step: impl std::future::Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, SendError> {
    match tokio::time::timeout(limit, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(classify(&err)),
        Err(_) => Err(SendError::Connection(format!("no answer within {}s", limit.as_secs()))),
    }
}

/// The message after `DATA`, as one command: dot-stuffed, with its terminating line.
struct Raw<'a>(&'a str);

impl fmt::Display for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// RFC 5321 §4.5.2: a line starting with `.` gets another `.`; then `CRLF . CRLF`.
fn dot_stuffed(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let mut out = String::with_capacity(text.len() + 64);
    if text.starts_with('.') {
        out.push('.');
    }
    out.push_str(&text.replace("\n.", "\n.."));
    if !out.ends_with("\r\n") {
        out.push_str("\r\n");
    }
    out.push_str(".\r\n");
    out
}

fn classify(err: &lettre::transport::smtp::Error) -> SendError {
    let text = err.to_string();
    if err.is_permanent() || err.is_client() {
        SendError::Permanent(text)
    } else if err.is_transient() {
        SendError::Transient(text)
    } else {
        SendError::Connection(text)
    }
}

async fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<String, SendError> {
    let io = |err: std::io::Error| SendError::Connection(format!("writing into {}: {err}", dir.display()));
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let path = dir.join(format!("{name}.eml"));
    let partial = dir.join(format!(".{name}.eml.partial"));
    tokio::fs::write(&partial, bytes).await.map_err(io)?;
    tokio::fs::rename(&partial, &path).await.map_err(io)?;
    Ok(format!("written to {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_starting_with_a_dot_are_stuffed() {
        assert_eq!(dot_stuffed(b".a\r\nb\r\n.\r\n..c"), "..a\r\nb\r\n..\r\n...c\r\n.\r\n");
        assert_eq!(dot_stuffed(b"a\r\n"), "a\r\n.\r\n");
    }
}
