//! Cached pages compressed once, not on every request: a browser asks for `br` or `gzip`, and
//! compressing the page as it leaves cost more than everything else a cached page does.

use std::io::Write;

use axum::body::Bytes;
use axum::http::{header, HeaderMap};

/// A content coding a cached page can be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    pub fn header_value(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// The coding `Accept-Encoding` prefers among those we keep (brotli on a tie), or `None` for
/// the page as it is. `q=0` refuses a coding; `*` stands for the codings not named.
pub fn negotiate(headers: &HeaderMap) -> Option<Coding> {
    let (mut brotli, mut gzip, mut any) = (None, None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for entry in value.split(',') {
            let mut parts = entry.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match name.as_str() {
                "br" => brotli = Some(q),
                "gzip" | "x-gzip" => gzip = Some(q),
                "*" => any = Some(q),
                _ => {}
            }
        }
    }
    let brotli = brotli.or(any).unwrap_or(0.0);
    let gzip = gzip.or(any).unwrap_or(0.0);
    match (brotli > 0.0, gzip > 0.0) {
        (true, _) if brotli >= gzip => Some(Coding::Brotli),
        (_, true) => Some(Coding::Gzip),
        (true, false) => Some(Coding::Brotli),
        (false, false) => None,
    }
}

/// How hard to compress a body: it pays off once per page and content epoch, less so once a
/// second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Brotli quality 6 (window 2^22), gzip level 6: within a few percent of the best for pages,
    /// at a millisecond.
    OncePerPage,
    /// Brotli quality 3, gzip level 1: a fifth of that time, for copies made once a second.
    OncePerSecond,
}

/// `body` in `coding`, at `effort`.
pub fn compress(body: &[u8], coding: Coding, effort: Effort) -> Bytes {
    let mut out = Vec::with_capacity(body.len() / 3);
    let once_per_page = effort == Effort::OncePerPage;
    match coding {
        Coding::Brotli => {
            let quality = if once_per_page { 6 } else { 3 };
            let mut writer = brotli::CompressorWriter::new(&mut out, 4096, quality, 22);
            writer.write_all(body).expect("writing to memory");
        }
        Coding::Gzip => {
            let level = if once_per_page { flate2::Compression::default() } else { flate2::Compression::fast() };
            let mut writer = flate2::write::GzEncoder::new(&mut out, level);
            writer.write_all(body).expect("writing to memory");
            writer.finish().expect("writing to memory");
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with(accept: &str) -> Option<Coding> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(accept).unwrap());
        negotiate(&headers)
    }

    #[test]
    fn accept_encoding_is_negotiated_with_its_weights() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(with("gzip, deflate, br, zstd"), Some(Coding::Brotli));
        assert_eq!(with("gzip"), Some(Coding::Gzip));
        assert_eq!(with("br;q=0, gzip"), Some(Coding::Gzip));
        assert_eq!(with("gzip;q=0.5, br;q=0.4"), Some(Coding::Gzip));
        assert_eq!(with("identity"), None);
        assert_eq!(with("*"), Some(Coding::Brotli));
        assert_eq!(with("*;q=0, gzip;q=0"), None);
        assert_eq!(with("deflate"), None);
    }
}
