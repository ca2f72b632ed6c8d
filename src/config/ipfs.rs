//! The `[ipfs]` section: public gateways shown on article pages and optional pinning targets.

use super::check_range;
use anyhow::bail;
use serde::{Deserialize, Serialize};

/// Names stored in `pins.target`.
pub const KUBO: &str = "kubo";
pub const PINNING_SERVICE: &str = "pinning-service";

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IpfsConfig {
    /// Public gateways linked from each article ("open on ipfs.io"); `{cid}` is appended as `/ipfs/{cid}/`.
    pub gateways: Vec<String>,
    /// Kubo RPC API root (e.g. `http://127.0.0.1:5001`); each bundle is sent with `dag/import`. Empty: off.
    pub kubo_rpc_url: String,
    /// IPFS Pinning Service API root (e.g. `https://api.pinata.cloud/psa`). Empty: off.
    pub pinning_service_url: String,
    /// Secret: the Pinning Service API bearer token.
    pub pinning_service_token: String,
    /// Seconds an outbound pinning request may take.
    pub pin_timeout_secs: u64,
    /// How long IPNS resolvers may cache the site's record (its TTL): a new snapshot reaches
    /// readers of the name at most this much later.
    pub ipns_ttl_secs: u64,
}

impl Default for IpfsConfig {
    fn default() -> Self {
        IpfsConfig {
            gateways: vec!["https://ipfs.io".into(), "https://dweb.link".into()],
            kubo_rpc_url: String::new(),
            pinning_service_url: String::new(),
            pinning_service_token: String::new(),
            pin_timeout_secs: 60,
            ipns_ttl_secs: 300,
        }
    }
}

impl std::fmt::Debug for IpfsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpfsConfig")
            .field("gateways", &self.gateways)
            .field("kubo_rpc_url", &self.kubo_rpc_url)
            .field("pinning_service_url", &self.pinning_service_url)
            .field("pinning_service_token", &mask(&self.pinning_service_token))
            .field("pin_timeout_secs", &self.pin_timeout_secs)
            .field("ipns_ttl_secs", &self.ipns_ttl_secs)
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

impl IpfsConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        for (key, url) in
            [("ipfs.kubo_rpc_url", &self.kubo_rpc_url), ("ipfs.pinning_service_url", &self.pinning_service_url)]
        {
            if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
                bail!("key `{key}`: invalid value {url:?}, expected an http:// or https:// URL or nothing");
            }
        }
        for gateway in &self.gateways {
            if !(gateway.starts_with("http://") || gateway.starts_with("https://")) {
                bail!("key `ipfs.gateways`: invalid value {gateway:?}, expected http:// or https:// URLs");
            }
        }
        if !self.pinning_service_url.is_empty() && self.pinning_service_token.is_empty() {
            bail!("key `ipfs.pinning_service_token`: required when ipfs.pinning_service_url is set");
        }
        check_range("ipfs.pin_timeout_secs", self.pin_timeout_secs, 1, 3600)?;
        check_range("ipfs.ipns_ttl_secs", self.ipns_ttl_secs, 1, 86_400)?;
        Ok(())
    }

    /// The configuration with secrets replaced, for `openvoice config`.
    pub fn masked(&self) -> IpfsConfig {
        IpfsConfig { pinning_service_token: mask(&self.pinning_service_token).into(), ..self.clone() }
    }

    /// The configured pinning targets, by the name stored in `pins.target`.
    pub fn pin_targets(&self) -> Vec<&'static str> {
        let mut targets = Vec::new();
        if !self.kubo_rpc_url.is_empty() {
            targets.push(KUBO);
        }
        if !self.pinning_service_url.is_empty() {
            targets.push(PINNING_SERVICE);
        }
        targets
    }
}
