//! Image work, synchronous and pure (callers run it on the blocking pool): detect the type from
//! the bytes, decode within limits, apply the EXIF orientation, re-encode (which drops every
//! metadata block, EXIF GPS included) and make the narrower responsive copies.

use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use crate::config::media::MediaConfig;

/// Why an upload is not an image we keep.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ImageProblem {
    /// The bytes are not JPEG, PNG, WebP or GIF (whatever the name or the client says).
    #[error("the file is not a JPEG, PNG, WebP or GIF image{0}")]
    Unsupported(String),
    /// The image declares more pixels or needs more memory than allowed.
    #[error("{0}")]
    TooBig(String),
    /// The bytes start like an image but do not decode.
    #[error("the image is corrupt or truncated: {0}")]
    Corrupt(String),
}

/// One encoded file: bytes, type and size in pixels.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// The re-encoded original and its narrower copies, widest first.
#[derive(Debug)]
pub struct Processed {
    pub original: Encoded,
    pub sizes: Vec<Encoded>,
}

/// Types we accept, detected from the first bytes.
pub fn detect(bytes: &[u8]) -> Result<ImageFormat, ImageProblem> {
    match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP | ImageFormat::Gif)) => Ok(format),
        Ok(other) => Err(ImageProblem::Unsupported(format!(" (it is {})", other.to_mime_type()))),
        Err(_) => Err(ImageProblem::Unsupported(String::new())),
    }
}

/// Decodes `bytes` within `config`'s limits and re-encodes the original and its copies.
pub fn process(bytes: &[u8], config: &MediaConfig) -> Result<Processed, ImageProblem> {
    let format = detect(bytes)?;
    // The JPEG decoder fills a cut-short image with grey instead of failing.
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ImageProblem::Corrupt("the JPEG data ends before its end marker".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(config.max_dimension);
    limits.max_image_height = Some(config.max_dimension);
    limits.max_alloc = Some(config.max_decode_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| problem(e, config))?;
    let (width, height) = decoder.dimensions();
    if decoder.total_bytes() > config.max_decode_bytes {
        return Err(too_big(width, height, config));
    }
    // Orientation comes from EXIF, which re-encoding drops: apply it to the pixels first.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| problem(e, config))?;
    image.apply_orientation(orientation);

    // The only WebP encoder is lossless: a lossy (photographic) WebP without transparency would
    // grow several times over, so it is stored as a JPEG.
    let format = if format == ImageFormat::WebP && !webp_is_lossless(bytes) && !image.color().has_alpha() {
        ImageFormat::Jpeg
    } else {
        format
    };
    let original = encode(&image, format, config)?;
    let mut sizes = Vec::new();
    let mut widths: Vec<u32> = config.widths.iter().copied().filter(|w| *w < image.width()).collect();
    widths.sort_unstable_by(|a, b| b.cmp(a));
    widths.dedup();
    for width in widths {
        let height = ((u64::from(image.height()) * u64::from(width)) / u64::from(image.width())).max(1) as u32;
        let copy = image.resize_exact(width, height, FilterType::CatmullRom);
        sizes.push(encode(&copy, format, config)?);
    }
    Ok(Processed { original, sizes })
}

fn encode(image: &DynamicImage, format: ImageFormat, config: &MediaConfig) -> Result<Encoded, ImageProblem> {
    let mut bytes = Vec::new();
    let result = match format {
        // JPEG has no alpha channel.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(image.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, config.jpeg_quality)),
        ImageFormat::Png => image.write_with_encoder(PngEncoder::new(&mut bytes)),
        // The WebP encoder writes 8-bit RGB(A), losslessly.
        ImageFormat::WebP if image.color().has_alpha() => {
            DynamicImage::ImageRgba8(image.to_rgba8()).write_with_encoder(WebPEncoder::new_lossless(&mut bytes))
        }
        ImageFormat::WebP => {
            DynamicImage::ImageRgb8(image.to_rgb8()).write_with_encoder(WebPEncoder::new_lossless(&mut bytes))
        }
        // An animation keeps its first frame.
        _ => DynamicImage::ImageRgba8(image.to_rgba8()).write_with_encoder(GifEncoder::new(&mut bytes)),
    };
    result.map_err(|e| ImageProblem::Corrupt(format!("re-encoding failed: {e}")))?;
    Ok(Encoded { bytes, content_type: format.to_mime_type(), width: image.width(), height: image.height() })
}

/// Whether the JPEG's segments lead to its image data and an end marker (EOI) follows it.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut at = 2; // after SOI
    while let (Some(0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) {
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        let Some(len) = bytes.get(at + 2..at + 4).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]]))) else {
            return false;
        };
        if marker == 0xDA {
            return bytes.get(at + 2 + len..).is_some_and(|data| memchr::memmem::find(data, &[0xFF, 0xD9]).is_some());
        }
        at += 2 + len;
    }
    false
}

/// Whether a WebP file's image data is lossless (`VP8L`) rather than lossy (`VP8 `), walking its
/// RIFF chunks (an extended file starts with `VP8X`, metadata and animation chunks).
fn webp_is_lossless(bytes: &[u8]) -> bool {
    let mut at = 12; // after `RIFF`, the size and `WEBP`
    while let Some(header) = bytes.get(at..at + 8) {
        match &header[..4] {
            b"VP8L" => return true,
            b"VP8 " => return false,
            _ => {}
        }
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        at += 8 + size + (size & 1); // chunks are padded to an even length
    }
    false
}

fn too_big(width: u32, height: u32, config: &MediaConfig) -> ImageProblem {
    ImageProblem::TooBig(format!(
        "the image is {width}×{height} pixels; at most {max}×{max} pixels and {mib} MiB decoded are accepted",
        max = config.max_dimension,
        mib = config.max_decode_bytes >> 20
    ))
}

fn problem(err: ImageError, config: &MediaConfig) -> ImageProblem {
    match err {
        ImageError::Limits(limit) => ImageProblem::TooBig(format!(
            "the image is larger than allowed ({limit}); at most {max}×{max} pixels and {mib} MiB decoded are accepted",
            max = config.max_dimension,
            mib = config.max_decode_bytes >> 20
        )),
        ImageError::Unsupported(why) => ImageProblem::Unsupported(format!(" ({why})")),
        other => ImageProblem::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        DynamicImage::new_rgb8(width, height).write_with_encoder(PngEncoder::new(&mut bytes)).unwrap();
        bytes
    }

    #[test]
    fn copies_are_narrower_only_and_keep_the_aspect_ratio() {
        let processed = process(&png(1000, 500), &MediaConfig::default()).unwrap();
        assert_eq!((processed.original.width, processed.original.height), (1000, 500));
        let sizes: Vec<_> = processed.sizes.iter().map(|s| (s.width, s.height)).collect();
        assert_eq!(sizes, [(960, 480), (480, 240)]);
        assert!(processed.sizes.iter().all(|s| s.content_type == "image/png"));
    }

    #[test]
    fn lossless_webp_stays_webp_and_lossy_opaque_webp_becomes_jpeg() {
        let mut lossless = Vec::new();
        DynamicImage::new_rgb8(600, 300).write_with_encoder(WebPEncoder::new_lossless(&mut lossless)).unwrap();
        let processed = process(&lossless, &MediaConfig::default()).unwrap();
        assert_eq!(processed.original.content_type, "image/webp");
        assert_eq!(processed.sizes[0].content_type, "image/webp");
        // The smallest lossy WebP: a 1×1 VP8 key frame.
        let lossy: &[u8] = b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00\x30\x01\x00\x9d\x01\x2a\x01\x00\x01\x00\x02\x00\x34\x25\xa4\x00\x03\x70\x00\xfe\xfb\x94\x00\x00";
        assert!(!webp_is_lossless(lossy) && webp_is_lossless(&lossless));
        let processed = process(lossy, &MediaConfig::default()).unwrap();
        assert_eq!(processed.original.content_type, "image/jpeg");
    }

    #[test]
    fn text_is_not_an_image_and_truncated_images_are_corrupt() {
        assert!(matches!(detect(b"hello, world"), Err(ImageProblem::Unsupported(_))));
        let bytes = png(64, 64);
        assert!(matches!(process(&bytes[..bytes.len() / 2], &MediaConfig::default()), Err(ImageProblem::Corrupt(_))));
    }
}
