//! Page views counted as they leave, in this node's memory: a number per path and per
//! referring site, taken out in batches by whoever writes them down (`analytics`). No cookie,
//! no script, no address: a view is a `GET` answered 200 with HTML, outside the desk, to a
//! client that does not say it is a robot.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use aho_corasick::AhoCorasick;

use axum::http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::Response;

use super::response_rule::ResponseRule;

/// Counts since the last [`PageViews::take`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Views {
    /// Views per path.
    pub paths: HashMap<String, u64>,
    /// Views that came from a link on another site, per that site's host.
    pub referrers: HashMap<String, u64>,
}

/// The counting rule; clones share the counts.
#[derive(Clone, Default)]
pub struct PageViews {
    enabled: bool,
    counts: Arc<Mutex<Views>>,
    /// This site's host, so that its own links are no referrer.
    own_host: Arc<str>,
}

/// Substrings (lower case) of the `User-Agent` of crawlers, feed readers, link previews and
/// scripts; a request without a `User-Agent` is not counted either.
const ROBOTS: &[&str] = &[
    "bot",
    "crawl",
    "spider",
    "slurp",
    "preview",
    "fetch",
    "curl",
    "wget",
    "python",
    "go-http",
    "java/",
    "headless",
    "lighthouse",
    "facebookexternalhit",
    "feed",
    "monitor",
    "scan",
];

fn is_robot(user_agent: Option<&HeaderValue>) -> bool {
    // One pass over the header for every pattern: this runs for each request.
    static FINDER: LazyLock<Option<AhoCorasick>> =
        LazyLock::new(|| AhoCorasick::builder().ascii_case_insensitive(true).build(ROBOTS).ok());
    let Some(agent) = user_agent.map(HeaderValue::as_bytes) else { return true };
    FINDER.as_ref().is_none_or(|finder| finder.is_match(agent))
}

/// Paths that are no page a reader reads.
fn is_counted_path(path: &str) -> bool {
    !["/admin", "/api/", "/static/", "/media/", "/ipfs/", "/ipns/", "/healthz"].iter().any(|p| path.starts_with(p))
}

impl PageViews {
    pub fn new(enabled: bool, base_url: &str) -> PageViews {
        let own_host = reqwest::Url::parse(base_url).ok().and_then(|u| u.host_str().map(str::to_string));
        PageViews { enabled, counts: Arc::default(), own_host: own_host.unwrap_or_default().into() }
    }

    /// The counts so far, leaving zero.
    pub fn take(&self) -> Views {
        std::mem::take(&mut *self.counts.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Puts back counts that could not be written down.
    pub fn give_back(&self, views: Views) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        for (path, n) in views.paths {
            *counts.paths.entry(path).or_default() += n;
        }
        for (host, n) in views.referrers {
            *counts.referrers.entry(host).or_default() += n;
        }
    }

    fn count(&self, uri: &Uri, referrer: Option<&HeaderValue>) {
        let host = referrer
            .and_then(|r| r.to_str().ok())
            .and_then(|r| reqwest::Url::parse(r).ok())
            .and_then(|u| u.host_str().map(|h| h.trim_start_matches("www.").to_ascii_lowercase()))
            .filter(|host| *host != *self.own_host && !host.is_empty());
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        match counts.paths.get_mut(uri.path()) {
            Some(n) => *n += 1,
            None => {
                counts.paths.insert(uri.path().to_string(), 1);
            }
        }
        if let Some(host) = host {
            *counts.referrers.entry(host).or_default() += 1;
        }
    }
}

/// What a counted request leaves for its response: its URI and referrer (cheap clones of the
/// request's own bytes).
pub struct Candidate {
    uri: Uri,
    referrer: Option<HeaderValue>,
}

impl ResponseRule for PageViews {
    type Seen = Option<Candidate>;

    fn see<B>(&self, request: &Request<B>) -> Option<Candidate> {
        let counted = self.enabled
            && request.method() == Method::GET
            && is_counted_path(request.uri().path())
            && !is_robot(request.headers().get(header::USER_AGENT));
        counted.then(|| Candidate {
            uri: request.uri().clone(),
            referrer: request.headers().get(header::REFERER).cloned(),
        })
    }

    fn apply(&self, seen: Option<Candidate>, response: Response) -> Response {
        let html =
            || response.headers().get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
        if let Some(candidate) = seen {
            if response.status() == StatusCode::OK && html() {
                self.count(&candidate.uri, candidate.referrer.as_ref());
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robots_and_scripts_are_not_readers() {
        let robot = |s: &'static str| is_robot(Some(&HeaderValue::from_static(s)));
        assert!(robot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"));
        assert!(robot("curl/8.5.0"));
        assert!(is_robot(None));
        assert!(!robot("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"));
    }
}
