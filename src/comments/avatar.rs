//! Identicons drawn here, from a keyed hash of the commenter's email: no third-party request,
//! and the image name reveals nothing (the key is the site's secret, so it cannot be matched
//! against Gravatar or another site).

use std::fmt::Write;

/// Length of an avatar name: 64 bits of the keyed hash, hex.
pub const NAME_LEN: usize = 16;

/// Whether `name` is a well-formed avatar name (so the route can refuse anything else).
pub fn is_name(name: &str) -> bool {
    name.len() == NAME_LEN && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A 5×5 mirrored identicon as SVG. `name` must satisfy [`is_name`].
pub fn identicon_svg(name: &str) -> String {
    let bits = u64::from_str_radix(name, 16).unwrap_or(0);
    let hue = (bits >> 48) % 360;
    let mut svg = String::with_capacity(1024);
    svg.push_str(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 5 5" width="64" height="64" shape-rendering="crispEdges">"#);
    svg.push_str(r##"<rect width="5" height="5" fill="#f0f0f0"/>"##);
    let _ = write!(svg, r#"<g fill="hsl({hue},55%,45%)">"#);
    for row in 0..5u64 {
        for col in 0..3u64 {
            if bits >> (row * 3 + col) & 1 == 1 {
                let _ = write!(svg, r#"<rect x="{col}" y="{row}" width="1" height="1"/>"#);
                if col < 2 {
                    let _ = write!(svg, r#"<rect x="{}" y="{row}" width="1" height="1"/>"#, 4 - col);
                }
            }
        }
    }
    svg.push_str("</g></svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_images_are_deterministic() {
        assert!(is_name("0123456789abcdef"));
        assert!(!is_name("0123456789ABCDEF") && !is_name("../etc/passwd0000") && !is_name("abc"));
        let a = identicon_svg("0123456789abcdef");
        assert_eq!(a, identicon_svg("0123456789abcdef"));
        assert_ne!(a, identicon_svg("fedcba9876543210"));
        assert!(a.starts_with("<svg") && a.ends_with("</svg>"));
    }
}
