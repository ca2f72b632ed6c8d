//! What every public form's POST needs (comments, subscriptions): strict form decoding, the
//! same-origin (CSRF) check, the client address, and a page answering with any status.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::http::{site_context, AppState};

/// Whether the request body is `application/x-www-form-urlencoded`.
pub fn is_urlencoded(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| {
        t.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    })
}

/// The theme's error page with any status and message.
pub fn status_page(state: &AppState, status: StatusCode, message: &str) -> Response {
    let ctx = context! { site => site_context(state), status => status.as_u16(), message => message };
    match state.templates.render("error.html", ctx) {
        Ok(html) => (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "Rendering the error page failed");
            (status, message.to_string()).into_response()
        }
    }
}

/// The client's address: from `header` (e.g. `x-forwarded-for`, the last entry, which the
/// trusted proxy added) when it is set and parses, else the TCP peer.
pub fn client_ip(header: &str, headers: &HeaderMap, peer: Option<&ConnectInfo<SocketAddr>>) -> IpAddr {
    if !header.is_empty() {
        let forwarded = headers
            .get(header)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip;
        }
    }
    peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(addr)| addr.ip())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// CSRF defence: a browser says where a form was posted from, and that must be this site.
///
/// Fetch metadata comes first: every current browser sends `Sec-Fetch-Site`, page scripts
/// cannot set it, and it holds under any referrer policy. (`Origin` does not: under
/// `Referrer-Policy: no-referrer` Chromium posts a same-origin form with `Origin: null`.)
/// `none` is the reader's own action (a bookmark, a reload). Older browsers send only `Origin`,
/// which must be this site (`base_url`, or the `Host` the request came to); `null` from them
/// could be any sandboxed page, so it is refused. Clients that send neither are not browsers,
/// which CSRF needs; each form has its own further checks.
pub fn same_origin(base_url: &str, headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none");
    }
    let Some(origin) = header(header::ORIGIN.as_str()) else { return true };
    let host = header(header::HOST.as_str()).unwrap_or("");
    let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
    (!host.is_empty() && authority.eq_ignore_ascii_case(host)) || origin.eq_ignore_ascii_case(base_url)
}

/// Decodes `application/x-www-form-urlencoded`; a value that is not UTF-8 is an error naming
/// the field (never replaced by U+FFFD: the reader's text is theirs).
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut fields = Vec::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        let name = String::from_utf8(percent_decode(name))
            .map_err(|_| "The form contains a field name that is not UTF-8 text.".to_string())?;
        let value = String::from_utf8(percent_decode(value))
            .map_err(|_| format!("The field `{name}` is not valid UTF-8 text; please send the form from a browser."))?;
        fields.push((name, value));
    }
    Ok(fields)
}

fn percent_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => match (hex_value(input[i + 1]), hex_value(input[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_strictly() {
        let fields = parse_form(b"author=Ann+B%C3%A9&comment=a%26b%3Dc&empty&x=%zz%4").unwrap();
        assert_eq!(fields[0], ("author".to_string(), "Ann Bé".to_string()));
        assert_eq!(fields[1], ("comment".to_string(), "a&b=c".to_string()));
        assert_eq!(fields[2], ("empty".to_string(), String::new()));
        assert_eq!(fields[3], ("x".to_string(), "%zz%4".to_string()));
        let err = parse_form(b"author=%FF%FE").unwrap_err();
        assert!(err.contains("`author`"), "{err}");
        assert!(parse_form(&[b'c', b'=', 0xff]).is_err(), "raw bytes too");
    }

    #[test]
    fn cross_site_posts_are_refused() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "news.example.org".parse().unwrap());
        assert!(same_origin("https://news.example.org", &headers), "no Origin: not a browser");
        headers.insert(header::ORIGIN, "https://news.example.org".parse().unwrap());
        assert!(same_origin("https://news.example.org", &headers));
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(!same_origin("https://news.example.org", &headers));
        headers.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin("https://news.example.org", &headers), "an opaque origin without fetch metadata");
        headers.remove(header::ORIGIN);
        headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_origin("https://news.example.org", &headers));
        headers.insert("sec-fetch-site", "same-site".parse().unwrap());
        assert!(!same_origin("https://news.example.org", &headers), "a sibling subdomain is another site's page");
        headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
        headers.insert(header::ORIGIN, "https://news.example.org".parse().unwrap());
        assert!(!same_origin("https://news.example.org", &headers), "fetch metadata outranks a matching Origin");
    }

    /// What Chromium sends for a form posted from a `Referrer-Policy: no-referrer` page of the
    /// same site (the subscription pages): an opaque `Origin` and `Sec-Fetch-Site: same-origin`.
    #[test]
    fn a_same_origin_post_from_a_no_referrer_page_is_accepted() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "news.example.org".parse().unwrap());
        headers.insert(header::ORIGIN, "null".parse().unwrap());
        headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(same_origin("https://news.example.org", &headers));
    }
}
