//! Requests the server makes to other servers. Those to addresses it was given (an import's
//! attachments, remote ActivityPub actors and inboxes) go only to the public internet unless
//! allowed, so a URL in a file or a remote document cannot make the server reach its own
//! network; and every answer is read up to a limit ([`read_capped`]).

use std::net::{IpAddr, SocketAddr};

/// The first address `host` resolves to, when every one of them may be connected to (any,
/// with `allow_private_addresses`). Connect to that address (reqwest's `resolve`), so a
/// second DNS answer cannot point the request elsewhere.
pub async fn checked_address(host: &str, port: u16, allow_private_addresses: bool) -> Result<SocketAddr, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> =
        tokio::net::lookup_host((bare, port)).await.map_err(|e| format!("{host} does not resolve: {e}"))?.collect();
    let first = *addresses.first().ok_or_else(|| format!("{host} resolves to no address"))?;
    if !allow_private_addresses {
        if let Some(private) = addresses.iter().find(|a| !is_public(a.ip())) {
            return Err(format!(
                "{host} resolves to {}, a private, loopback or link-local address \
                 (allowing private addresses fetches from those)",
                private.ip()
            ));
        }
    }
    Ok(first)
}

/// Why an answer's body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Transport(#[from] reqwest::Error),
}

/// `response`'s body, whole, if it is at most `max_bytes`: a larger `Content-Length` is refused
/// before reading, and a body that grows past the limit (announced smaller, or not at all) is
/// dropped as it arrives, so a remote server cannot fill the memory.
pub async fn read_capped(mut response: reqwest::Response, max_bytes: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(BodyError::TooLarge(max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > max_bytes {
            return Err(BodyError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether `ip` is on the public internet: not loopback, private, link-local, carrier-grade
/// NAT, unspecified, multicast, broadcast or documentation (nor an IPv6 form of one).
pub fn is_public(ip: IpAddr) -> bool {
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
