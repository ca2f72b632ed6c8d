//! Privacy-first embeds: a bare link to a YouTube or Vimeo video, an X/Twitter post or a
//! Mastodon post, alone on its line (as WordPress embeds them: a paragraph of its own, a line of
//! a paragraph, or the line inside a block editor's embed figure), is shown as a click-to-load
//! placeholder.
//!
//! The placeholder is a link to the post with the provider's player URL in `data-player`;
//! `theme/static/embeds.js` swaps in the player when the reader clicks, so until then the page
//! makes no request to the provider (no `src` names it), and without JS the link is a link.
//! Applied to sanitised HTML when an article page is rendered: ammonia strips `data-player`
//! from what authors write, so only links recognised here get a player. The page's
//! Content-Security-Policy names the players' origins as the only frames it may load.
//!
//! Where the operator configured an oEmbed endpoint for a provider, the placeholder also shows
//! the post's title and author ([`Card`]), which the server asked for (`content::oembed`).

use std::collections::{BTreeSet, HashMap};

use crate::content::markdown::tag_len;

/// An article body with its embeds made placeholders.
#[derive(Debug, PartialEq, Eq)]
pub struct WithEmbeds {
    pub html: String,
    /// The origins of the players it may load (`https://www.youtube-nocookie.com`), for the
    /// page's `frame-src`.
    pub player_origins: Vec<String>,
    /// Each embedded link with its provider (a name of `config::EMBED_PROVIDERS`).
    pub links: Vec<(String, &'static str)>,
}

/// What an oEmbed provider says of a post, shown on its placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    pub title: String,
    pub author_name: String,
}

/// `html` (sanitised) with each bare provider link alone on its line made a placeholder, with
/// its card from `cards` (by URL) when there is one; `None` when there is no such link. A line
/// ends at a line break in the text or at a block's edge; links inside a link, code or
/// preformatted text stay as they are.
pub fn placeholders(html: &str, cards: &HashMap<String, Card>) -> Option<WithEmbeds> {
    let mut out = String::with_capacity(html.len() + 256);
    let mut found = Found { origins: BTreeSet::new(), links: Vec::new(), cards };
    // How many `<a>`, `<code>` and `<pre>` the text is inside.
    let mut n_literal = 0usize;
    let mut tag_before = "";
    let mut rest = html;
    loop {
        let text_len = rest.find('<').unwrap_or(rest.len());
        let (text, after) = rest.split_at(text_len);
        let tag = &after[..tag_len(after)];
        let name = tag_name(tag);
        if n_literal == 0 {
            lines_with_embeds(text, breaks_line(tag_before), breaks_line(name), &mut out, &mut found);
        } else {
            out.push_str(text);
        }
        if after.is_empty() {
            break;
        }
        out.push_str(tag);
        match name {
            "a" | "code" | "pre" => n_literal += 1,
            "/a" | "/code" | "/pre" => n_literal = n_literal.saturating_sub(1),
            _ => {}
        }
        tag_before = name;
        rest = &after[tag.len()..];
    }
    let Found { origins, links, .. } = found;
    (!origins.is_empty()).then(|| WithEmbeds { html: out, player_origins: origins.into_iter().collect(), links })
}

/// What the scan has found so far, and the cards it shows.
struct Found<'a> {
    origins: BTreeSet<String>,
    links: Vec<(String, &'static str)>,
    cards: &'a HashMap<String, Card>,
}

/// Writes `text` with each of its lines that is a provider link alone made a placeholder.
/// `starts_line`, `ends_line`: whether the text's first and last lines begin and end a line.
fn lines_with_embeds(text: &str, starts_line: bool, ends_line: bool, out: &mut String, found: &mut Found<'_>) {
    let n_lines = text.split('\n').count();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let alone = (i > 0 || starts_line) && (i + 1 < n_lines || ends_line);
        let url = line.trim().replace("&amp;", "&");
        match player(&url).filter(|_| alone) {
            Some(player) => {
                out.push_str(&placeholder(&url, &player, found.cards.get(&url)));
                found.origins.insert(format!("https://{}", host_of(&player.url)));
                found.links.push((url, player.provider));
            }
            None => out.push_str(line),
        }
    }
}

/// `p`, `/p`, `br`… of a tag (`""` for none).
fn tag_name(tag: &str) -> &str {
    let inner = tag.strip_prefix('<').unwrap_or("");
    &inner[..inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '/')).unwrap_or(inner.len())]
}

/// Whether a tag begins or ends a line of text: a block's edge or a line break (or the body's
/// start and end).
fn breaks_line(name: &str) -> bool {
    const BREAKS: [&str; 28] = [
        "",
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "ol",
        "p",
        "section",
        "td",
        "th",
        "ul",
    ];
    BREAKS.contains(&name.trim_start_matches('/'))
}

/// The provider's name and the URL of its player for a post's URL.
struct Player {
    provider: &'static str,
    url: String,
}

fn placeholder(url: &str, player: &Player, card: Option<&Card>) -> String {
    let (url, player_url) = (escape(url), escape(&player.url));
    let card = match card {
        Some(Card { title, author_name }) if author_name.is_empty() => {
            format!("<span class=\"embed-title\">{}</span> ", escape(title))
        }
        Some(Card { title, author_name }) => {
            format!(
                "<span class=\"embed-title\">{}</span> <span class=\"embed-author\">{}</span> ",
                escape(title),
                escape(author_name)
            )
        }
        None => String::new(),
    };
    format!(
        "<span class=\"embed embed-{}\" data-player=\"{player_url}\"><a href=\"{url}\" \
         rel=\"noopener noreferrer\">{card}<span class=\"embed-provider\">{} · load the player from {host}</span> {url}</a>\
         </span>",
        player.provider.to_ascii_lowercase(),
        player.provider,
        host = host_of(&player.url),
    )
}

/// The player for a YouTube, Vimeo, X/Twitter or Mastodon URL.
fn player(url: &str) -> Option<Player> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    if rest.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>')) {
        return None;
    }
    let (host, path_and_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = host.to_ascii_lowercase();
    let bare_host = host.trim_start_matches("www.").trim_start_matches("m.");
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let path = path.split('#').next().unwrap_or("").trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let youtube = |id: &str| {
        is_token(id)
            .then(|| Player { provider: "YouTube", url: format!("https://www.youtube-nocookie.com/embed/{id}") })
    };
    match (bare_host, segments.as_slice()) {
        ("youtube.com", ["watch"]) => query.split('&').find_map(|pair| pair.strip_prefix("v=")).and_then(youtube),
        ("youtube.com", ["shorts" | "embed" | "live", id]) | ("youtu.be", [id]) => youtube(id),
        ("vimeo.com", [id]) if is_number(id) => {
            Some(Player { provider: "Vimeo", url: format!("https://player.vimeo.com/video/{id}") })
        }
        ("twitter.com" | "x.com", [user, "status", id]) if is_token(user) && is_number(id) => {
            Some(Player { provider: "X", url: format!("https://platform.twitter.com/embed/Tweet.html?id={id}") })
        }
        (_, [user, id]) if user.len() > 1 && user.starts_with('@') && is_token(&user[1..]) && is_number(id) => {
            let https = url.starts_with("https://") && host.contains('.') && is_host(&host);
            https.then(|| Player { provider: "Mastodon", url: format!("https://{host}/{user}/{id}/embed") })
        }
        _ => None,
    }
}

fn is_token(text: &str) -> bool {
    (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn is_number(text: &str) -> bool {
    (1..=24).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_host(host: &str) -> bool {
    host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player_of(url: &str) -> Option<String> {
        player(url).map(|p| format!("{} {}", p.provider, p.url))
    }

    #[test]
    fn the_providers_links_have_players() {
        for (url, expected) in [
            (
                "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=1",
                "YouTube https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
            ),
            ("https://youtu.be/dQw4w9WgXcQ", "YouTube https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
            ("https://m.youtube.com/shorts/abc_DEF-1/", "YouTube https://www.youtube-nocookie.com/embed/abc_DEF-1"),
            ("https://vimeo.com/76979871", "Vimeo https://player.vimeo.com/video/76979871"),
            ("https://x.com/nasa/status/1234567890", "X https://platform.twitter.com/embed/Tweet.html?id=1234567890"),
            ("https://twitter.com/nasa/status/42", "X https://platform.twitter.com/embed/Tweet.html?id=42"),
            ("https://mastodon.social/@Gargron/109", "Mastodon https://mastodon.social/@Gargron/109/embed"),
        ] {
            assert_eq!(player_of(url).as_deref(), Some(expected), "{url}");
        }
        for url in [
            "https://www.youtube.com/watch?v=a\"b",
            "https://www.youtube.com/channel/x",
            "https://vimeo.com/about",
            "https://x.com/nasa",
            "http://mastodon.social/@Gargron/109",
            "https://example.org/@Gargron/about",
            "javascript:alert(1)",
            "https://example.org/",
        ] {
            assert_eq!(player_of(url), None, "{url}");
        }
    }

    #[test]
    fn only_a_link_alone_on_its_line_becomes_a_placeholder() {
        let html = "<p>Watch https://youtu.be/abc first.</p>\n<p>https://www.youtube.com/watch?v=abc&amp;t=5</p>\n\
                    <p><a href=\"https://vimeo.com/1\">https://vimeo.com/1</a></p><p>https://example.org/</p>";
        let out = placeholders(html, &HashMap::new()).expect("one placeholder");
        assert_eq!(out.player_origins, ["https://www.youtube-nocookie.com"]);
        assert_eq!(
            out.html,
            "<p>Watch https://youtu.be/abc first.</p>\n<p><span class=\"embed embed-youtube\" \
             data-player=\"https://www.youtube-nocookie.com/embed/abc\"><a href=\"https://www.youtube.com/watch?v=abc&amp;t=5\" \
             rel=\"noopener noreferrer\"><span class=\"embed-provider\">YouTube · load the player from \
             www.youtube-nocookie.com</span> https://www.youtube.com/watch?v=abc&amp;t=5</a></span></p>\n\
             <p><a href=\"https://vimeo.com/1\">https://vimeo.com/1</a></p><p>https://example.org/</p>"
        );
        assert_eq!(placeholders("<p>No links</p><p>unclosed", &HashMap::new()), None);

        let players = |html: &str| -> Vec<String> {
            let Some(out) = placeholders(html, &HashMap::new()) else { return Vec::new() };
            out.html.split("data-player=\"").skip(1).map(|p| p[..p.find('"').unwrap()].to_string()).collect()
        };
        let vimeo = "https://player.vimeo.com/video/1";
        // The block editor's embed, a line of a paragraph, a line after a break.
        assert_eq!(players("<figure class=\"alignnone\"><div>\nhttps://vimeo.com/1\n</div></figure>"), [vimeo]);
        assert_eq!(players("<p>Look:\nhttps://vimeo.com/1\nNice.</p>"), [vimeo]);
        assert_eq!(players("<p>See <em>this</em>\nhttps://vimeo.com/1<br>https://vimeo.com/1</p>"), [vimeo, vimeo]);
        // Not alone on its line, in a link, or in code.
        assert!(
            players("<p>See <em>this</em> https://vimeo.com/1</p><p>https://vimeo.com/1 <em>now</em></p>").is_empty()
        );
        assert!(players("<p><a href=\"/x\">\nhttps://vimeo.com/1\n</a></p>").is_empty());
        assert!(
            players("<pre><code>https://vimeo.com/1\n</code></pre><p><code>https://vimeo.com/1</code></p>").is_empty()
        );
    }

    #[test]
    fn a_card_shows_its_title_and_author_escaped_and_every_provider_is_configurable() {
        let url = "https://vimeo.com/1";
        let card = Card { title: "Tides <live>".into(), author_name: "Harbour & Co".into() };
        let cards = HashMap::from([(url.to_string(), card)]);
        let out = placeholders(&format!("<p>{url}</p>"), &cards).expect("a placeholder");
        assert!(out.html.contains("<span class=\"embed-title\">Tides &lt;live&gt;</span>"), "{}", out.html);
        assert!(out.html.contains("<span class=\"embed-author\">Harbour &amp; Co</span>"), "{}", out.html);
        assert_eq!(out.links, [(url.to_string(), "Vimeo")]);
        for url in ["https://youtu.be/a", "https://vimeo.com/1", "https://x.com/a/status/1", "https://m.example/@a/1"] {
            let provider = player(url).expect(url).provider;
            assert!(crate::config::EMBED_PROVIDERS.contains(&provider), "{provider}");
        }
    }
}
