//! The `[media]` section: upload and decoding limits, and the responsive widths.

use anyhow::bail;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Largest accepted image file, in bytes; a larger upload gets 413.
    pub max_upload_bytes: usize,
    /// Largest accepted width or height in pixels: a small file declaring a huge image (a
    /// "decompression bomb") is refused before any pixel is decoded.
    pub max_dimension: u32,
    /// Most memory one decode may allocate, in bytes.
    pub max_decode_bytes: u64,
    /// Widths of the responsive copies; only those narrower than the original are made.
    pub widths: Vec<u32>,
    /// JPEG quality of re-encoded originals and their copies (1–100).
    pub jpeg_quality: u8,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            max_upload_bytes: 10 << 20,
            max_dimension: 12_000,
            max_decode_bytes: 256 << 20,
            widths: vec![480, 960, 1600],
            jpeg_quality: 85,
        }
    }
}

/// Room for an upload form's other fields and the multipart framing around the file.
const FORM_OVERHEAD_BYTES: usize = 64 * 1024;

impl MediaConfig {
    /// The body limit of an upload request (the admin's and the API's): the file and its form.
    pub fn upload_body_limit(&self) -> usize {
        self.max_upload_bytes + FORM_OVERHEAD_BYTES
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1024..=1 << 30).contains(&self.max_upload_bytes) {
            bail!(
                "key `media.max_upload_bytes`: invalid value {}, expected a number from 1024 to {}",
                self.max_upload_bytes,
                1u64 << 30
            );
        }
        if !(16..=65_535).contains(&self.max_dimension) {
            bail!(
                "key `media.max_dimension`: invalid value {}, expected a number from 16 to 65535",
                self.max_dimension
            );
        }
        if !(1 << 20..=1 << 34).contains(&self.max_decode_bytes) {
            bail!(
                "key `media.max_decode_bytes`: invalid value {}, expected a number from 1048576 to {}",
                self.max_decode_bytes,
                1u64 << 34
            );
        }
        if self.widths.len() > 8 || self.widths.iter().any(|w| !(16..=self.max_dimension).contains(w)) {
            bail!(
                "key `media.widths`: invalid value {:?}, expected at most 8 widths from 16 to media.max_dimension",
                self.widths
            );
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            bail!("key `media.jpeg_quality`: invalid value {}, expected a number from 1 to 100", self.jpeg_quality);
        }
        Ok(())
    }
}
