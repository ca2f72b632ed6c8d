//! The `[media]` section: upload and decoding limits, and the responsive widths.

use super::check_range;
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
        check_range("media.max_upload_bytes", self.max_upload_bytes, 1024, 1 << 30)?;
        check_range("media.max_dimension", self.max_dimension, 16, 65_535)?;
        check_range("media.max_decode_bytes", self.max_decode_bytes, 1 << 20, 1 << 34)?;
        if self.widths.len() > 8 || self.widths.iter().any(|w| !(16..=self.max_dimension).contains(w)) {
            bail!(
                "key `media.widths`: invalid value {:?}, expected at most 8 widths from 16 to media.max_dimension",
                self.widths
            );
        }
        check_range("media.jpeg_quality", self.jpeg_quality, 1, 100)?;
        Ok(())
    }
}
