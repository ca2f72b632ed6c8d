//! Comment text → sanitised HTML, the way WordPress treats what commenters type.
//!
//! Blank lines make paragraphs and single line breaks `<br>` (like `wpautop`); bare `http(s)://`
//! addresses become links (like `make_clickable`); and only the small set of tags WordPress
//! allows commenters survives ammonia. Every link gets `rel="nofollow ugc noopener"`.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The tags a commenter may use (WordPress's `$allowedtags`), plus the `p` and `br` we add.
const ALLOWED_TAGS: [&str; 14] =
    ["a", "abbr", "b", "blockquote", "cite", "code", "del", "em", "i", "q", "strike", "strong", "p", "br"];

/// Renders a comment's text; the result is safe to embed in a page or a feed.
pub fn render(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut html = String::with_capacity(text.len() + 32);
    for paragraph in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        html.push_str("<p>");
        html.push_str(&paragraph.lines().map(str::trim_end).collect::<Vec<_>>().join("<br>\n"));
        html.push_str("</p>\n");
    }
    let cleaned = sanitizer().clean(&html).to_string();
    let linked = autolink(&cleaned);
    // A second pass gives the new links their `rel` and proves the whole is still clean.
    sanitizer().clean(&linked).to_string()
}

/// Reduces HTML written elsewhere (a fediverse note's `content`: Mastodon writes `<p>`, `<br>`
/// and mentions as `<span class="h-card"><a …>`) to the same subset: unknown tags go and keep
/// their text, `script` and `style` go with their content, bare addresses become links, and
/// every link gets `rel="nofollow ugc noopener"`. Text outside any paragraph gets one.
pub fn render_html(html: &str) -> String {
    let cleaned = sanitizer().clean(html).to_string();
    let cleaned = cleaned.trim();
    let wrapped = if cleaned.is_empty() || cleaned.starts_with("<p>") {
        cleaned.to_string()
    } else {
        format!("<p>{cleaned}</p>")
    };
    sanitizer().clean(&autolink(&wrapped)).to_string()
}

/// The text of HTML this module rendered (`render_html`'s output): paragraphs and line breaks as
/// newlines, tags gone, the entities ammonia writes decoded. What the moderation rules read and
/// the desk shows as the comment's text.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        text.push_str(&rest[..start]);
        let end = rest[start..].find('>').map_or(rest.len(), |i| start + i + 1);
        let tag = &rest[start..end];
        if tag.starts_with("<br") {
            text.push('\n');
        } else if tag == "</p>" {
            text.push_str("\n\n");
        }
        rest = &rest[end..];
    }
    text.push_str(rest);
    let decoded = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    decoded.trim().to_string()
}

/// How many links (anchors with an address) the rendered HTML holds, for the "hold a comment
/// with N links" rule.
pub fn count_links(html: &str) -> usize {
    html.match_indices("<a ")
        .filter(|(i, _)| html[*i..].split('>').next().is_some_and(|tag| tag.contains(" href=")))
        .count()
}

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static BUILDER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut builder = ammonia::Builder::empty();
        builder
            .tags(ALLOWED_TAGS.into_iter().collect())
            .tag_attributes(
                [
                    ("a", ["href", "title"].into_iter().collect()),
                    ("abbr", ["title"].into_iter().collect()),
                    ("blockquote", ["cite"].into_iter().collect()),
                    ("del", ["datetime"].into_iter().collect()),
                    ("q", ["cite"].into_iter().collect()),
                ]
                .into_iter()
                .collect(),
            )
            .url_schemes(["http", "https", "mailto"].into_iter().collect::<HashSet<_>>())
            .link_rel(Some("nofollow ugc noopener"))
            .clean_content_tags(["script", "style"].into_iter().collect());
        builder
    })
}

/// Wraps `http://` and `https://` addresses found in text (outside tags and outside links) in
/// `<a href>`. The input is ammonia's output, so text is already escaped.
fn autolink(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    let mut link_depth = 0usize;
    while !rest.is_empty() {
        if rest.starts_with('<') {
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            let tag = &rest[..end];
            if tag.starts_with("<a ") || tag == "<a>" {
                link_depth += 1;
            } else if tag == "</a>" {
                link_depth = link_depth.saturating_sub(1);
            }
            out.push_str(tag);
            rest = &rest[end..];
            continue;
        }
        let end = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..end];
        if link_depth == 0 {
            link_text(text, &mut out);
        } else {
            out.push_str(text);
        }
        rest = &rest[end..];
    }
    out
}

fn link_text(text: &str, out: &mut String) {
    let mut rest = text;
    loop {
        let found = ["http://", "https://"].iter().filter_map(|scheme| rest.find(scheme)).min();
        let Some(start) = found else {
            out.push_str(rest);
            return;
        };
        // Only at a word boundary: "xhttp://" is not a link.
        let boundary = rest[..start].chars().next_back().is_none_or(|c| c.is_whitespace() || "([{\"'>".contains(c));
        let len = rest[start..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '<' || c == '>')
            .unwrap_or(rest.len() - start);
        let mut url = &rest[start..start + len];
        // Trailing punctuation belongs to the sentence, not the address.
        while let Some(last) = url.chars().next_back() {
            if ".,;:!?)]}".contains(last) && !(last == ')' && url.contains('(')) {
                url = &url[..url.len() - last.len_utf8()];
            } else {
                break;
            }
        }
        let scheme_only = url == "http://" || url == "https://";
        out.push_str(&rest[..start]);
        if boundary && !scheme_only {
            out.push_str("<a href=\"");
            out.push_str(url);
            out.push_str("\">");
            out.push_str(url);
            out.push_str("</a>");
        } else {
            out.push_str(url);
        }
        rest = &rest[start + url.len()..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_line_breaks_are_kept() {
        assert_eq!(render("one\ntwo\r\n\r\nthree"), "<p>one<br>\ntwo</p>\n<p>three</p>\n");
    }

    #[test]
    fn urls_become_nofollow_links_and_punctuation_stays_out() {
        let html = render("See https://example.org/a?b=1&c=2. And (http://x.test/y).");
        assert!(
            html.contains(r#"<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow ugc noopener">https://example.org/a?b=1&amp;c=2</a>."#),
            "{html}"
        );
        assert!(
            html.contains(r#"(<a href="http://x.test/y" rel="nofollow ugc noopener">http://x.test/y</a>)"#),
            "{html}"
        );
        assert_eq!(count_links(&html), 2);
    }

    #[test]
    fn only_the_wordpress_subset_survives() {
        let html = render(
            "<b>bold</b> <strong>s</strong> <em>e</em> <i>i</i> <code>c</code> <del>d</del> <strike>x</strike> \
             <q>q</q> <cite>c</cite> <abbr title=\"t\">a</abbr> <blockquote>b</blockquote>\n\
             <script>alert(1)</script><img src=x onerror=alert(2)><h1>big</h1><span style=\"x\">s</span>\
             <a href=\"javascript:alert(3)\">j</a> <a href=\"https://ok.test\" onclick=\"x\" target=\"_blank\">ok</a>",
        );
        for tag in [
            "<b>",
            "<strong>",
            "<em>",
            "<i>",
            "<code>",
            "<del>",
            "<strike>",
            "<q>",
            "<cite>",
            "<abbr title=\"t\">",
            "<blockquote>",
        ] {
            assert!(html.contains(tag), "{tag} in {html}");
        }
        for gone in
            ["<script", "alert(1)", "<img", "onerror", "<h1", "<span", "style=", "javascript:", "onclick", "target="]
        {
            assert!(!html.contains(gone), "{gone} in {html}");
        }
        assert!(html.contains(r#"<a href="https://ok.test" rel="nofollow ugc noopener">ok</a>"#), "{html}");
    }

    #[test]
    fn only_anchors_with_an_address_count_as_links() {
        assert_eq!(
            count_links(&render("<a href=\"javascript:x\">js</a> <a title=\"t\" href=\"https://a.test\">a</a>")),
            1
        );
    }

    #[test]
    fn fediverse_html_keeps_paragraphs_mentions_and_links_only() {
        let note = r#"<p><span class="h-card" translate="no"><a href="https://masto.example/@ann" class="u-url mention" onclick="x()">@<span>ann</span></a></span> Good &amp; <b>true</b><br>line</p><script>alert(1)</script><p>see <a href="https://a.example/x" target="_blank" rel="nofollow noopener noreferrer"><span class="invisible">https://</span><span class="">a.example/x</span></a></p>"#;
        let html = render_html(note);
        assert_eq!(
            html,
            "<p><a href=\"https://masto.example/@ann\" rel=\"nofollow ugc noopener\">@ann</a> Good &amp; <b>true</b><br>line</p>\
             <p>see <a href=\"https://a.example/x\" rel=\"nofollow ugc noopener\">https://a.example/x</a></p>"
        );
        assert_eq!(plain_text(&html), "@ann Good & true\nline\n\nsee https://a.example/x");
        assert_eq!(
            render_html("plain https://b.example"),
            "<p>plain <a href=\"https://b.example\" rel=\"nofollow ugc noopener\">https://b.example</a></p>"
        );
    }

    #[test]
    fn links_inside_links_are_left_alone() {
        let html = render("<a href=\"https://a.test\">https://a.test</a>");
        assert_eq!(count_links(&html), 1, "{html}");
    }
}
