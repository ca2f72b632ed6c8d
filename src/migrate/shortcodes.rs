//! WordPress shortcodes in an imported post body → the HTML WordPress would have shown.
//!
//! `[caption]` becomes a `<figure class="wp-caption …">` with its `<figcaption>`, `[gallery ids]`
//! a `<figure class="gallery">` of the attachments' images, `[embed]URL[/embed]` the URL alone on
//! its line (the site shows such lines as embeds), `[video]`/`[audio]` the element with controls.
//! Everything else is left as text, as WordPress shows a shortcode no plugin handles, and
//! reported. A pure function of the body and the attachments: no I/O, and no input can make it
//! panic (a body is whatever the old site stored).
//!
//! The scanner follows WordPress's own reading of shortcodes: a tag is `[name attributes]`, with
//! no `[` before its `]`; `[[name]]` is an escaped, literal tag; an enclosing tag ends at the first
//! `[/name]`.

use std::collections::{BTreeMap, HashMap};

/// A converted body and what was left as text.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Converted {
    pub html: String,
    /// Shortcode name → how many were left as text (unknown, or malformed: unclosed, no usable
    /// URL, a gallery of attachments the export does not have).
    pub left_as_text: BTreeMap<String, usize>,
}

/// Converts the shortcodes in `body`; `attachment_url` maps a WordPress attachment id to the URL
/// the site serves it at.
pub fn convert<'a>(body: &str, attachment_url: impl Fn(&str) -> Option<&'a str>) -> Converted {
    let mut out = Converted { html: String::with_capacity(body.len()), left_as_text: BTreeMap::new() };
    let mut next = NextOf { body, found: HashMap::new() };
    let mut rest = body;
    while let Some(start) = rest.find('[') {
        out.html.push_str(&rest[..start]);
        rest = &rest[start..];
        // `[[name]]`: WordPress's escape for a literal tag, kept as it is.
        if rest.starts_with("[[") {
            let from = body.len() - rest.len();
            let end = next.find("]]", from).map_or(2, |at| at - from + 2);
            out.html.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let Some(tag) = open_tag(rest) else {
            out.html.push('[');
            rest = &rest[1..];
            continue;
        };
        let after_tag = &rest[tag.len..];
        let closing = format!("[/{}]", tag.name);
        let from = body.len() - after_tag.len();
        let enclosed = (!tag.self_closing).then(|| next.find(&closing, from)).flatten().map(|at| at - from);
        let (content, after) = match enclosed {
            Some(end) => (Some(&after_tag[..end]), &after_tag[end + closing.len()..]),
            None => (None, after_tag),
        };
        let html = match tag.name {
            "caption" | "wp_caption" => content.and_then(|content| caption(&tag, content)),
            "gallery" => gallery(&tag, &attachment_url),
            "embed" => content.and_then(|url| embed(url.trim())),
            "video" | "audio" => media(&tag, content.unwrap_or("")),
            _ => None,
        };
        match html {
            Some(html) => {
                out.html.push_str(&html);
                rest = after;
            }
            None => {
                // Left as text; whatever it encloses is still read, so a figure inside a
                // plugin's layout shortcode still becomes a figure.
                if tag.looks_like_shortcode(enclosed.is_some()) {
                    *out.left_as_text.entry(tag.name.to_string()).or_default() += 1;
                }
                out.html.push_str(&rest[..tag.len]);
                rest = after_tag;
            }
        }
    }
    out.html.push_str(rest);
    out
}

/// The attachment ids a body's galleries name, so the importer can wait for attachments the
/// export lists after the post.
pub fn gallery_ids(body: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find("[gallery") {
        rest = &rest[start..];
        match open_tag(rest) {
            Some(tag) if tag.name == "gallery" => {
                ids.extend(tag.attribute("ids").map(split_ids).unwrap_or_default());
                rest = &rest[tag.len..];
            }
            _ => rest = &rest[1..],
        }
    }
    ids
}

/// Where a text next occurs in the body at or after a position. The scan's positions only grow,
/// so each text's next place is remembered until the scan passes it: a body full of tags that
/// never close is still read about once per tag name, not once per tag.
struct NextOf<'b> {
    body: &'b str,
    found: HashMap<String, Option<usize>>,
}

impl NextOf<'_> {
    fn find(&mut self, needle: &str, from: usize) -> Option<usize> {
        match self.found.get(needle) {
            Some(None) => return None,
            Some(Some(at)) if *at >= from => return Some(*at),
            _ => {}
        }
        let at = self.body[from..].find(needle).map(|i| from + i);
        self.found.insert(needle.to_string(), at);
        at
    }
}

/// An opening tag: `[name attributes]` or `[name attributes /]`.
struct OpenTag<'a> {
    name: &'a str,
    attributes: Vec<(Option<String>, String)>,
    self_closing: bool,
    /// Bytes from `[` through `]`.
    len: usize,
}

impl OpenTag<'_> {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k.as_deref() == Some(key)).map(|(_, v)| v.as_str())
    }

    /// Whether a tag left as text is worth reporting: a bracketed word (`[sic]`, `[1]`, `[citation
    /// needed]`) is prose, but a tag with `key=value` attributes, a closing tag or a `/]` is a
    /// shortcode some plugin handled.
    fn looks_like_shortcode(&self, enclosing: bool) -> bool {
        enclosing || self.self_closing || self.attributes.iter().any(|(key, _)| key.is_some())
    }
}

/// Reads the opening tag at the start of `text` (which starts with `[`).
fn open_tag(text: &str) -> Option<OpenTag<'_>> {
    let inner = &text[1..];
    let name_len = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(inner.len());
    let name = &inner[..name_len];
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let after_name = &inner[name_len..];
    if !after_name.starts_with([']', '/', ' ', '\t', '\n', '\r']) {
        return None;
    }
    let end = after_name.find([']', '['])?;
    if after_name.as_bytes()[end] == b'[' {
        return None;
    }
    let raw = after_name[..end].trim_end();
    let (raw, self_closing) = match raw.strip_suffix('/') {
        Some(raw) => (raw, true),
        None => (raw, false),
    };
    Some(OpenTag { name, attributes: attributes(raw), self_closing, len: 1 + name_len + end + 1 })
}

/// `key="value"`, `key='value'`, `key=value` and positional values, as WordPress's
/// `shortcode_parse_atts` reads them (keys lowercased), with the curly quotes an old
/// `wptexturize` left in some bodies.
fn attributes(raw: &str) -> Vec<(Option<String>, String)> {
    let mut attributes = Vec::new();
    let mut rest = raw.trim_start();
    while !rest.is_empty() {
        let key_len = rest.find(|c: char| c == '=' || c.is_whitespace() || is_quote(c)).unwrap_or(rest.len());
        let (key, after_key) = rest.split_at(key_len);
        // Without `=`, the word (or quoted text) is a positional value.
        let (key, value_text) = match after_key.trim_start().strip_prefix('=') {
            Some(value_text) if !key.is_empty() => (Some(key.to_ascii_lowercase()), value_text.trim_start()),
            _ => (None, rest),
        };
        let (value, after_value) = match value_text.chars().next() {
            Some(quote) if is_quote(quote) => {
                let body = &value_text[quote.len_utf8()..];
                match body.find(closing_quotes(quote)) {
                    Some(end) => {
                        let close_len = body[end..].chars().next().map_or(0, char::len_utf8);
                        (&body[..end], &body[end + close_len..])
                    }
                    None => (body, ""),
                }
            }
            _ => {
                let end = value_text.find(char::is_whitespace).unwrap_or(value_text.len());
                value_text.split_at(end)
            }
        };
        attributes.push((key, value.to_string()));
        rest = after_value.trim_start();
    }
    attributes
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '\'' | '“' | '”' | '″' | '‘' | '’')
}

fn closing_quotes(open: char) -> &'static [char] {
    match open {
        '"' => &['"'],
        '\'' => &['\''],
        _ => &['”', '″', '’', '“'],
    }
}

/// `[caption align="alignleft"]<img …> Text[/caption]` (or the older `caption="Text"`).
fn caption(tag: &OpenTag, content: &str) -> Option<String> {
    let image_end = image_end(content)?;
    let (image, text) = content.split_at(image_end);
    let text = match text.trim() {
        "" => tag.attribute("caption").unwrap_or("").trim(),
        text => text,
    };
    let align = tag.attribute("align").filter(|a| ALIGNMENTS.contains(a)).unwrap_or("alignnone");
    let figcaption = if text.is_empty() { String::new() } else { format!("<figcaption>{text}</figcaption>") };
    Some(format!("<figure class=\"wp-caption {align}\">{}{figcaption}</figure>", image.trim()))
}

/// WordPress's alignment classes, the only `align` values kept.
const ALIGNMENTS: [&str; 4] = ["alignleft", "alignright", "aligncenter", "alignnone"];

/// Where the image at the start of a caption ends: after its `<img …>`, and after the `</a>`
/// of a link around it.
fn image_end(content: &str) -> Option<usize> {
    let img = content.find("<img")?;
    let end = img + content[img..].find('>')? + 1;
    let after = &content[end..];
    let link_close = after.len() - after.trim_start().len();
    match after.trim_start().strip_prefix("</a>") {
        Some(_) if content[..img].contains("<a") => Some(end + link_close + "</a>".len()),
        _ => Some(end),
    }
}

/// `[gallery ids="1,2,3"]`: the attachments the export has, in order; none is no gallery.
fn gallery<'a>(tag: &OpenTag, attachment_url: &impl Fn(&str) -> Option<&'a str>) -> Option<String> {
    let ids = split_ids(tag.attribute("ids")?);
    let images: String = ids
        .iter()
        .filter_map(|id| attachment_url(id))
        .map(|url| format!("<img src=\"{}\" alt=\"\">", escape_attribute(url)))
        .collect();
    (!images.is_empty()).then(|| format!("<figure class=\"gallery\">{images}</figure>"))
}

fn split_ids(ids: &str) -> Vec<String> {
    ids.split(',').map(str::trim).filter(|id| !id.is_empty()).map(str::to_string).collect()
}

/// `[embed]URL[/embed]`: the URL alone on its own line, where the site's embeds look for it.
fn embed(url: &str) -> Option<String> {
    is_media_url(url).then(|| format!("\n{url}\n"))
}

/// `[video src=…]`, `[audio mp3=…]` and the like: the first source WordPress would have played.
fn media(tag: &OpenTag, fallback: &str) -> Option<String> {
    let keys: &[&str] = match tag.name {
        "video" => &["src", "mp4", "m4v", "webm", "ogv", "wmv", "flv"],
        _ => &["src", "mp3", "m4a", "ogg", "wav", "wma"],
    };
    let src = keys.iter().find_map(|key| tag.attribute(key)).map(str::trim).filter(|src| is_media_url(src))?;
    Some(format!("<{name} controls src=\"{}\">{}</{name}>", escape_attribute(src), fallback.trim(), name = tag.name))
}

/// An absolute http(s) URL or a path on this site, with nothing that could end an attribute.
fn is_media_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with('/');
    scheme_ok && !url.starts_with("//") && !url.contains(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>'))
}

fn escape_attribute(value: &str) -> String {
    value.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str) -> Converted {
        convert(body, |id| match id {
            "1" => Some("/static/uploads/one.jpg"),
            "2" => Some("https://old.example/wp-content/uploads/two.jpg"),
            _ => None,
        })
    }

    fn left(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
        pairs.iter().map(|(name, n)| (name.to_string(), *n)).collect()
    }

    #[test]
    fn a_caption_becomes_a_figure_with_its_alignment() {
        let out = check(
            "<p>Before</p>\n[caption id=\"attachment_7\" align=\"alignleft\" width=\"300\"]<img src=\"/a.jpg\" \
             alt=\"A\" width=\"300\"> The harbour at dawn[/caption]\nAfter",
        );
        assert_eq!(
            out.html,
            "<p>Before</p>\n<figure class=\"wp-caption alignleft\"><img src=\"/a.jpg\" alt=\"A\" width=\"300\">\
             <figcaption>The harbour at dawn</figcaption></figure>\nAfter"
        );
        assert!(out.left_as_text.is_empty());
    }

    #[test]
    fn a_caption_keeps_the_link_around_its_image_and_the_old_caption_attribute() {
        let out = check("[caption align='aligncenter' caption='Old style']<a href=\"/big.jpg\"><img src=\"/a.jpg\" /></a>[/caption]");
        assert_eq!(
            out.html,
            "<figure class=\"wp-caption aligncenter\"><a href=\"/big.jpg\"><img src=\"/a.jpg\" /></a>\
             <figcaption>Old style</figcaption></figure>"
        );
        // An alignment WordPress does not have is not passed on as a class.
        let out = check("[caption align=\"evil onclick\"]<img src=\"/a.jpg\">Text[/caption]");
        assert!(out.html.starts_with("<figure class=\"wp-caption alignnone\">"), "{}", out.html);
    }

    #[test]
    fn a_gallery_shows_the_attachments_the_export_has() {
        let out = check("[gallery columns=\"2\" ids=\"1, 2,3\"]");
        assert_eq!(
            out.html,
            "<figure class=\"gallery\"><img src=\"/static/uploads/one.jpg\" alt=\"\">\
             <img src=\"https://old.example/wp-content/uploads/two.jpg\" alt=\"\"></figure>"
        );
        // None of them, or no ids at all: left as text and reported.
        let out = check("[gallery ids=\"8,9\"] and [gallery]");
        assert_eq!(out.html, "[gallery ids=\"8,9\"] and [gallery]");
        assert_eq!(out.left_as_text, left(&[("gallery", 1)]), "a bare [gallery] reads as prose");
        assert_eq!(gallery_ids("x [gallery ids=\"4,5\"] [gallery ids=6] [galleryx ids=7]"), ["4", "5", "6"]);
    }

    #[test]
    fn an_embed_is_its_url_on_its_own_line() {
        let out = check("Watch:[embed width=\"500\"] https://www.youtube.com/watch?v=abc [/embed]Done");
        assert_eq!(out.html, "Watch:\nhttps://www.youtube.com/watch?v=abc\nDone");
        let out = check("[embed]javascript:alert(1)[/embed]");
        assert_eq!(out.html, "[embed]javascript:alert(1)[/embed]");
        assert_eq!(out.left_as_text, left(&[("embed", 1)]));
    }

    #[test]
    fn video_and_audio_become_elements_with_controls() {
        let out = check("[video width=\"640\" mp4=\"https://old.example/a.mp4\"][/video] [audio src=/b.mp3]");
        assert_eq!(
            out.html,
            "<video controls src=\"https://old.example/a.mp4\"></video> <audio controls src=\"/b.mp3\"></audio>"
        );
        let out = check("[video src=\"javascript:alert(1)\"]");
        assert_eq!(out.html, "[video src=\"javascript:alert(1)\"]");
        assert_eq!(out.left_as_text, left(&[("video", 1)]));
    }

    #[test]
    fn unknown_shortcodes_stay_as_text_and_are_counted_but_prose_in_brackets_is_not() {
        let body = "[contact-form-7 id=\"5\" title=\"Contact\"] [sic] [1] [citation needed] \
                    [column][caption]<img src=\"/a.jpg\">In a column[/caption][/column] [[caption]] [hr/]";
        let out = check(body);
        assert_eq!(
            out.html,
            "[contact-form-7 id=\"5\" title=\"Contact\"] [sic] [1] [citation needed] [column]<figure class=\"wp-caption \
             alignnone\"><img src=\"/a.jpg\"><figcaption>In a column</figcaption></figure>[/column] [[caption]] [hr/]"
        );
        assert_eq!(out.left_as_text, left(&[("column", 1), ("contact-form-7", 1), ("hr", 1)]));
    }

    #[test]
    fn malformed_shortcodes_never_panic_and_stay_as_text() {
        let unclosed = check("[caption align=\"alignleft\"]<img src=\"/a.jpg\"> No end");
        assert_eq!(unclosed.html, "[caption align=\"alignleft\"]<img src=\"/a.jpg\"> No end");
        assert_eq!(unclosed.left_as_text, left(&[("caption", 1)]));
        let no_image = check("[caption]Only text[/caption]");
        assert_eq!(no_image.html, "[caption]Only text[/caption]");
        let nested = check("[caption [gallery ids=\"1\"]]");
        assert_eq!(
            nested.html,
            "[caption <figure class=\"gallery\"><img src=\"/static/uploads/one.jpg\" alt=\"\"></figure>]"
        );
        let unquoted = check("[audio src=/a.mp3 autoplay=on][video mp4='/v.mp4' loop]");
        assert_eq!(unquoted.html, "<audio controls src=\"/a.mp3\"></audio><video controls src=\"/v.mp4\"></video>");
        let curly = check("[video src=”/v.mp4″]");
        assert_eq!(curly.html, "<video controls src=\"/v.mp4\"></video>");
        for body in [
            "[",
            "]",
            "[[",
            "[[caption",
            "[/caption]",
            "[caption",
            "[caption id=\"",
            "[a='",
            "[a=“x",
            "[é]",
            "[a\u{2028}]",
            "[gallery ids=,,,]",
            "[caption]<img[/caption]",
            "[embed][/embed]",
            "[video src=]",
            "[[[]]]",
            "[a b=c d='e",
            "[caption]<a><img src=x></a[/caption]",
            "[x /",
            "[x/]]",
            "[日本 a=b]",
            "[video src=\"/a\"]tail[/video",
        ] {
            let out = check(body);
            assert!(out.html.len() <= body.len() + 128, "{body:?} → {:?}", out.html);
        }
        // Thousands of tags that never close pass through in one reading, not one per tag.
        let prose = "[sic] [[x [note a=b] ".repeat(20_000);
        let out = check(&prose);
        assert_eq!(out.html, prose);
        assert_eq!(out.left_as_text, left(&[("note", 20_000)]));
    }
}
