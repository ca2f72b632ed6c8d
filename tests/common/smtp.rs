//! The real SMTP server mail tests send to: `tests/smtp/server.py` (aiosmtpd), each message it
//! accepts kept as a file, parsed with mail-parser.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use mail_parser::MessageParser;

use super::skip_or_fail;

/// `tests/smtp/server.py` on a free port, writing what it receives into a folder.
pub struct SmtpPeer {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub port: u16,
    dir: tempfile::TempDir,
}

/// One message the peer accepted.
pub struct Received {
    /// The envelope recipient.
    pub rcpt: String,
    pub raw: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        MessageParser::default().parse(&self.raw).expect("the message parses")
    }
}

impl SmtpPeer {
    /// `None` (after a visible skip, or a failure in CI) when python3 or aiosmtpd is missing.
    pub fn start() -> Option<SmtpPeer> {
        let available =
            Command::new("python3").args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
        if !available {
            skip_or_fail("mail tests against a real SMTP server (pip install -r tests/smtp/requirements.txt)");
            return None;
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/server.py");
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = super::free_port();
            let mut child = Command::new("python3")
                .arg(&script)
                .args(["--port", &port.to_string(), "--dir", dir.path().to_str().unwrap(), "--exit-on-stdin-eof"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("running python3");
            let mut stdout = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            let _ = stdout.read_line(&mut line);
            if line.starts_with("READY") {
                return Some(SmtpPeer { child, _stdout: stdout, port, dir });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the SMTP test server did not start");
    }

    pub fn count(&self) -> usize {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".eml")))
            .count()
    }

    /// Every message received so far, in order of arrival.
    pub fn messages(&self) -> Vec<Received> {
        let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| {
                let path = e.ok()?.path();
                let n = path.file_name()?.to_str()?.strip_suffix(".eml")?.parse().ok()?;
                Some((n, path))
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|(_, path)| {
                let bytes = std::fs::read(path).unwrap();
                let end = bytes.windows(2).position(|w| w == b"\r\n").unwrap();
                let first = String::from_utf8_lossy(&bytes[..end]).to_string();
                let rcpt = first.strip_prefix("X-Test-Rcpt: ").expect("recipient line").to_string();
                Received { rcpt, raw: bytes[end + 2..].to_vec() }
            })
            .collect()
    }

    /// The messages to `rcpt`.
    pub fn to(&self, rcpt: &str) -> Vec<Received> {
        self.messages().into_iter().filter(|m| m.rcpt == rcpt).collect()
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
