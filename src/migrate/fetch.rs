//! Downloads of an old site's media for `import wordpress --fetch-attachments`.
//!
//! The export names the URLs, so they are not trusted: each host is resolved first, every
//! address it resolves to must be public (unless `--allow-private-addresses`, for intranets and
//! tests), and the connection goes to that checked address, so a second DNS answer cannot point
//! it elsewhere. Redirects are followed by hand, each hop checked the same way. Every file has a
//! size limit (streamed, not trusted from `Content-Length`) and a timeout, and the import a count.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::Url;

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
        let address = self.checked_address(host, port).await?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(host.trim_start_matches('[').trim_end_matches(']'), address)
            .build()
            .map_err(|e| format!("an HTTP client: {e}"))?;
        client.get(url.clone()).send().await.map_err(|e| format!("the request failed: {e}"))
    }

    /// The first address `host` resolves to, when every one of them may be fetched from.
    async fn checked_address(&self, host: &str, port: u16) -> Result<SocketAddr, String> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addresses: Vec<SocketAddr> =
            tokio::net::lookup_host((bare, port)).await.map_err(|e| format!("{host} does not resolve: {e}"))?.collect();
        let first = *addresses.first().ok_or_else(|| format!("{host} resolves to no address"))?;
        if !self.limits.allow_private_addresses {
            if let Some(private) = addresses.iter().find(|a| !is_public(a.ip())) {
                return Err(format!(
                    "{host} resolves to {}, a private, loopback or link-local address \
                     (--allow-private-addresses fetches from those)",
                    private.ip()
                ));
            }
        }
        Ok(first)
    }

    async fn body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, String> {
        let too_large = || format!("larger than the limit of {} bytes", self.limits.max_bytes);
        if response.content_length().is_some_and(|n| n > self.limits.max_bytes as u64) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading the file: {e}"))? {
            if bytes.len() + chunk.len() > self.limits.max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// Whether `ip` is on the public internet: not loopback, private, link-local, carrier-grade
/// NAT, unspecified, multicast, broadcast or documentation (nor an IPv6 form of one).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            let shared = a == 100 && (b & 0xc0) == 64;
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || shared
                || a == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            let unique_local = (first & 0xfe00) == 0xfc00;
            let link_local = (first & 0xffc0) == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || unique_local || link_local)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in
            ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"]
        {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for private in ["::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "::"] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }
}
