//! Pinning bundles elsewhere, so an article survives this site: a Kubo node through its RPC API
//! (`POST /api/v0/dag/import` with the bundle's CAR; `routing/put` with the site's IPNS record)
//! and any IPFS Pinning Service API endpoint (`POST /pins` with a bearer token).

use anyhow::{anyhow, bail, Context};
use openvoice_ipfs::{car, Cid, Scope};
use serde::Deserialize;

use crate::config::ipfs::{KUBO, PINNING_SERVICE};
use crate::http::outbound;
use crate::ipfs::service::{DbBlocks, Publishing};
use crate::store::Db;

/// Largest answer we read from a pinning target.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// Pins `root` at `target`; returns the state to record (`pinned`, or the service's status).
pub async fn pin(db: &Db, publishing: &Publishing, target: &str, root: &Cid, name: &str) -> anyhow::Result<String> {
    let config = &publishing.config.ipfs;
    match target {
        KUBO => {
            let car = export_car(db, root).await?;
            let url = format!("{}/api/v0/dag/import?pin-roots=true", config.kubo_rpc_url.trim_end_matches('/'));
            let part = reqwest::multipart::Part::bytes(car)
                .file_name(format!("{name}.car"))
                .mime_str("application/vnd.ipld.car")?;
            let response =
                publishing.http.post(&url).multipart(reqwest::multipart::Form::new().part("file", part)).send().await?;
            let body = answer_text(response).await?;
            // One JSON object per line; the root line says whether pinning it worked.
            for line in body.lines().filter(|l| !l.trim().is_empty()) {
                let Ok(answer) = serde_json::from_str::<KuboImportLine>(line) else { continue };
                if let Some(root_line) = answer.root {
                    if root_line.cid.link != root.to_string() {
                        bail!("Kubo imported root {} instead of {root}", root_line.cid.link);
                    }
                    if !root_line.pin_error_msg.is_empty() {
                        bail!("Kubo could not pin {root}: {}", root_line.pin_error_msg);
                    }
                    return Ok("pinned".into());
                }
            }
            bail!("Kubo's dag/import answer named no root")
        }
        PINNING_SERVICE => {
            let url = format!("{}/pins", config.pinning_service_url.trim_end_matches('/'));
            let response = publishing
                .http
                .post(&url)
                .bearer_auth(&config.pinning_service_token)
                .json(&serde_json::json!({ "cid": root.to_string(), "name": name }))
                .send()
                .await?;
            let body = answer_text(response).await?;
            let status: PinStatus = serde_json::from_str(&body).context("reading the pinning service's PinStatus")?;
            if status.pin.cid != root.to_string() {
                bail!("the pinning service answered for {} instead of {root}", status.pin.cid);
            }
            match status.status.as_str() {
                "queued" | "pinning" | "pinned" => Ok(status.status),
                "failed" => bail!("the pinning service reports the pin as failed"),
                other => bail!("the pinning service answered an unknown status {other:?}"),
            }
        }
        other => bail!("unknown pinning target {other:?}"),
    }
}

/// Puts an IPNS record into the Kubo node's routing (`POST /api/v0/routing/put?arg=/ipns/NAME`,
/// the record as the file part), which validates it, keeps it and republishes it.
pub async fn put_ipns_record(publishing: &Publishing, name: &str, record: Vec<u8>) -> anyhow::Result<()> {
    let kubo = publishing.config.ipfs.kubo_rpc_url.trim_end_matches('/');
    let url = format!("{kubo}/api/v0/routing/put?arg=/ipns/{name}&allow-offline=true");
    let part = reqwest::multipart::Part::bytes(record)
        .file_name(format!("{name}.ipns-record"))
        .mime_str("application/vnd.ipfs.ipns-record")?;
    let response =
        publishing.http.post(&url).multipart(reqwest::multipart::Form::new().part("file", part)).send().await?;
    let status = response.status();
    let body = answer_text(response).await?;
    if !status.is_success() {
        bail!("Kubo's routing/put answered {status}: {}", body.trim());
    }
    Ok(())
}

/// The bundle as CAR bytes (bundles are small: an HTML page, its Markdown and metadata).
pub async fn export_car(db: &Db, root: &Cid) -> anyhow::Result<Vec<u8>> {
    let blocks = DbBlocks::new(db.clone());
    let root = *root;
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        car::write_dag(&blocks, &root, Scope::All, &mut out)?;
        Ok(out)
    })
    .await?
}

async fn answer_text(response: reqwest::Response) -> anyhow::Result<String> {
    let status = response.status();
    let body = outbound::read_capped(response, MAX_RESPONSE_BYTES).await.map_err(|err| anyhow!("the answer: {err}"))?;
    let text = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        bail!("HTTP {status}: {}", text.chars().take(300).collect::<String>());
    }
    Ok(text)
}

#[derive(Deserialize)]
struct KuboImportLine {
    #[serde(rename = "Root")]
    root: Option<KuboRoot>,
}

#[derive(Deserialize)]
struct KuboRoot {
    #[serde(rename = "Cid")]
    cid: KuboLink,
    #[serde(rename = "PinErrorMsg", default)]
    pin_error_msg: String,
}

#[derive(Deserialize)]
struct KuboLink {
    #[serde(rename = "/")]
    link: String,
}

#[derive(Deserialize)]
struct PinStatus {
    status: String,
    pin: PinObject,
}

#[derive(Deserialize)]
struct PinObject {
    cid: String,
}
