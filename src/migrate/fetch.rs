//! Downloads of an old site's media for `import wordpress --fetch-attachments`.
//!
//! The export names the URLs, so they are not trusted: each host is resolved first, every
//! address it resolves to must be public (unless `--allow-private-addresses`, for intranets and
//! tests), and the connection goes to that checked address, so a second DNS answer cannot point
//! it elsewhere. Redirects are followed by hand, each hop checked the same way. Every file has a
//! size limit (streamed, not trusted from `Content-Length`) and a timeout, and the import a count.

use std::time::Duration;

use reqwest::Url;

use crate::http::outbound::{self, BodyError};

/// Redirects followed per file (`http://` → `https://`, an old host → a CDN).
const MAX_REDIRECTS: usize = 3;

#[derive(Debug, Clone, Copy)]
pub struct FetchLimits {
    /// Largest file downloaded, in bytes.
    pub max_bytes: usize,
    /// Most files downloaded in one import.
    pub max_files: usize,
    /// Per file, from connecting to the last byte.
    pub timeout: Duration,
    /// Whether hosts may resolve to private, loopback or link-local addresses.
    pub allow_private_addresses: bool,
}

/// Downloads files within its limits, counting them.
pub struct Fetcher {
    limits: FetchLimits,
    n_fetched: usize,
}

impl Fetcher {
    pub fn new(limits: FetchLimits) -> Fetcher {
        Fetcher { limits, n_fetched: 0 }
    }

    /// The bytes at `url`, or why not (a sentence for the import's summary).
    pub async fn fetch(&mut self, url: &str) -> Result<Vec<u8>, String> {
        if self.n_fetched >= self.limits.max_files {
            return Err(format!("over the limit of {} files per import", self.limits.max_files));
        }
        let mut url = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        for _ in 0..=MAX_REDIRECTS {
            let response = tokio::time::timeout(self.limits.timeout, self.get(&url))
                .await
                .map_err(|_| format!("no answer within {}s", self.limits.timeout.as_secs()))??;
            if response.status().is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .ok_or("a redirect without a Location")?;
                url = url.join(location).map_err(|e| format!("a redirect to a bad URL: {e}"))?;
                continue;
            }
            if !response.status().is_success() {
                return Err(format!("the server answered {}", response.status()));
            }
            let bytes = tokio::time::timeout(self.limits.timeout, self.body(response))
                .await
                .map_err(|_| format!("not received within {}s", self.limits.timeout.as_secs()))??;
            self.n_fetched += 1;
            return Ok(bytes);
        }
        Err(format!("more than {MAX_REDIRECTS} redirects"))
    }

    /// One request to `url`, sent to the address its host was checked at.
    async fn get(&self, url: &Url) -> Result<reqwest::Response, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("{}: only http and https are fetched", url.scheme()));
        }
        let host = url.host_str().ok_or("a URL without a host")?;
        let port = url.port_or_known_default().unwrap_or(80);
        let address = outbound::checked_address(host, port, self.limits.allow_private_addresses).await?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(host.trim_start_matches('[').trim_end_matches(']'), address)
            .build()
            .map_err(|e| format!("an HTTP client: {e}"))?;
        client.get(url.clone()).send().await.map_err(|e| format!("the request failed: {e}"))
    }

    async fn body(&self, response: reqwest::Response) -> Result<Vec<u8>, String> {
        outbound::read_capped(response, self.limits.max_bytes).await.map_err(|err| match err {
            BodyError::TooLarge(max) => format!("larger than the limit of {max} bytes"),
            BodyError::Transport(err) => format!("reading the file: {err}"),
        })
    }
}
