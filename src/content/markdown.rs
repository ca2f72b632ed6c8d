//! Markdown → sanitised HTML, plain text, excerpt and reading time.
//!
//! A body may mark its teaser as WordPress does, with `<!--more-->` (or `<!--more Read on-->`):
//! the text before it is the excerpt an article without one of its own shows in listings, feeds
//! and its meta description. The marker is a comment, so the article itself shows its whole text.
//! `<!--nextpage-->` becomes a `PAGE_BREAK` rule in the rendered body, so feeds and bundles keep
//! the whole text with the breaks marked, and the article page shows one part at a time
//! (`pages_of`).
//!
//! CommonMark plus tables, footnotes, strikethrough and task lists (pulldown-cmark), then
//! ammonia with a whitelist wide enough for those extensions and for the layout of imported
//! WordPress posts (figures, players, the alignment classes), and nothing more. Broken Markdown
//! cannot fail: CommonMark defines a rendering for every input.

use std::collections::HashSet;
use std::sync::OnceLock;

use pulldown_cmark::{html, Event, Options, Parser, TagEnd};

/// What one Markdown body renders to.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub html: String,
    /// Plain text for search, excerpts and the reading time.
    pub text: String,
    pub reading_minutes: i64,
    /// The plain text before `<!--more-->`, when the body has one.
    pub teaser: Option<String>,
}

impl Rendered {
    /// The excerpt of an article that has none of its own: its teaser, else its first words.
    pub fn derived_excerpt(&self, max_chars: usize) -> String {
        match &self.teaser {
            Some(teaser) => excerpt_within(teaser, max_chars),
            None => excerpt_of(&self.text, 40),
        }
    }
}

const WORDS_PER_MINUTE: usize = 220;

pub fn render(markdown: &str) -> Rendered {
    let html = sanitizer().clean(&markdown_to_html(markdown)).to_string();
    let text = plain_text(markdown);
    let words = text.split_whitespace().count();
    let teaser = more_marker(markdown)
        .map(|at| text_of_clean_html(&sanitizer().clean(&markdown_to_html(&markdown[..at])).to_string()));
    Rendered { html, reading_minutes: words.div_ceil(WORDS_PER_MINUTE).max(1) as i64, text, teaser }
}

const NEXTPAGE: &str = "<!--nextpage-->";

/// Markdown → HTML, not sanitised yet.
fn markdown_to_html(markdown: &str) -> String {
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    // The marker is raw HTML to CommonMark; in code it is text, and stays as written.
    let events = Parser::new_ext(markdown, options()).map(|event| match event {
        Event::Html(html) if html.contains(NEXTPAGE) => Event::Html(html.replace(NEXTPAGE, PAGE_BREAK).into()),
        Event::InlineHtml(html) if html.contains(NEXTPAGE) => {
            Event::InlineHtml(html.replace(NEXTPAGE, PAGE_BREAK).into())
        }
        event => event,
    });
    html::push_html(&mut unsafe_html, events);
    unsafe_html
}

/// What `<!--nextpage-->` becomes in a rendered body.
pub const PAGE_BREAK: &str = "<hr class=\"nextpage\">";

/// A rendered body's pages, split at its page breaks (empty pages left out). Each page is
/// sanitised again, which closes what a break inside an element left open.
pub fn pages_of(body_html: &str) -> Vec<String> {
    if !body_html.contains(PAGE_BREAK) {
        return vec![body_html.to_string()];
    }
    body_html
        .split(PAGE_BREAK)
        .filter(|page| !page.trim().is_empty())
        .map(|page| sanitizer().clean(page).to_string())
        .collect()
}

/// The first `max_words` words of `text`, with an ellipsis when cut.
pub fn excerpt_of(text: &str, max_words: usize) -> String {
    let mut words = text.split_whitespace();
    let mut out: Vec<&str> = words.by_ref().take(max_words).collect();
    if words.next().is_some() {
        if let Some(last) = out.last_mut() {
            *last = last.trim_end_matches(|c: char| c.is_ascii_punctuation());
        }
        let mut s = out.join(" ");
        s.push('…');
        return s;
    }
    out.join(" ")
}

/// The words of `text` that fit in `max_chars` characters, with an ellipsis when cut.
fn excerpt_within(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        let n_chars = out.chars().count() + usize::from(!out.is_empty()) + word.chars().count();
        if n_chars + 1 > max_chars {
            out.push('…');
            return out;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Where WordPress's `<!--more-->` starts, if the body has one.
fn more_marker(markdown: &str) -> Option<usize> {
    let at = markdown.find("<!--more")?;
    let after = &markdown[at + "<!--more".len()..];
    (after.starts_with("-->") || after.starts_with(char::is_whitespace)).then_some(at)
}

/// The text of ammonia's output, each tag read as a space. Exact for that output: html5ever
/// quotes every attribute value (escaping `"` inside) and escapes only `&`, `<`, `>` and the
/// no-break space in text.
fn text_of_clean_html(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(tag) = rest.find('<') {
        text.push_str(&rest[..tag]);
        text.push(' ');
        rest = &rest[tag + tag_len(&rest[tag..])..];
    }
    text.push_str(rest);
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&")
}

/// The length of the tag `clean_html` starts with, through its `>` (all of it if unclosed);
/// a `>` inside a quoted attribute value is not the end.
pub(crate) fn tag_len(clean_html: &str) -> usize {
    let mut in_quotes = false;
    let end = clean_html.find(|c: char| {
        in_quotes ^= c == '"';
        c == '>' && !in_quotes
    });
    end.map_or(clean_html.len(), |end| end + 1)
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

fn plain_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Text(t) | Event::Code(t) => text.push_str(&t),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::TableCell | TagEnd::CodeBlock,
            ) => text.push(' '),
            _ => {}
        }
    }
    text
}

/// The classes WordPress gives its layout (imported bodies keep them; the theme styles them).
static WORDPRESS_CLASSES: [&str; 6] = ["alignleft", "alignright", "aligncenter", "alignnone", "wp-caption", "gallery"];

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .add_tags(["input", "section", "address", "big", "video", "audio"])
            .add_tag_attributes("input", ["type", "checked", "disabled"])
            .add_tag_attributes("code", ["class"])
            .add_tag_attributes("sup", ["id"])
            .add_tag_attributes("div", ["id"])
            .add_tag_attributes("th", ["style"])
            .add_tag_attributes("td", ["style"])
            .add_tag_attributes("video", ["src", "controls"])
            .add_tag_attributes("audio", ["src", "controls"])
            .add_allowed_classes("sup", &["footnote-reference", "footnote-definition-label"])
            .add_allowed_classes("div", WORDPRESS_CLASSES.iter().chain(&["footnote-definition"]))
            .add_allowed_classes("hr", &["nextpage"])
            .link_rel(Some("noopener noreferrer"))
            .url_schemes(HashSet::from(["http", "https", "mailto", "ipfs"]))
            .attribute_filter(|element, attribute, value| match (element, attribute) {
                // A player is only pointed at the web (or this site), never at `data:` and the like.
                ("video" | "audio", "src") => is_web_url(value).then_some(value.into()),
                _ => Some(value.into()),
            });
        for tag in ["figure", "img", "p", "video", "audio"] {
            builder.add_allowed_classes(tag, &WORDPRESS_CLASSES);
        }
        // Task-list checkboxes are display-only; nothing else may be an input. A player always
        // shows its controls.
        builder.set_tag_attribute_value("input", "disabled", "");
        builder.set_tag_attribute_value("video", "controls", "");
        builder.set_tag_attribute_value("audio", "controls", "");
        builder.filter_style_properties(HashSet::from(["text-align"]));
        builder
    })
}

/// An http(s) URL, absolute or relative to this site.
fn is_web_url(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_extensions_and_strips_scripts() {
        let md = "# Title\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n~~gone~~ and a note[^1]\n\n- [x] done\n\n[^1]: The note.\n\n<script>alert(1)</script><a href=\"javascript:alert(1)\">x</a>";
        let out = render(md);
        assert!(out.html.contains("<table>"), "{}", out.html);
        assert!(out.html.contains("<del>gone</del>"));
        assert!(out.html.contains("footnote-definition"));
        assert!(out.html.contains("type=\"checkbox\""));
        assert!(!out.html.contains("<script"));
        assert!(!out.html.contains("javascript:"));
        assert!(out.text.contains("The note."));
    }

    #[test]
    fn wordpress_layout_survives_and_nothing_else_does() {
        let html = "<figure class=\"wp-caption alignleft evil\" id=\"x\"><img class=\"aligncenter size-full\" \
                    src=\"/a.jpg\"><figcaption>Caption</figcaption></figure>\n\n<p class=\"alignright\">p</p>\n\n\
                    <div class=\"gallery hidden\">g</div>\n\n<address>Quay 1</address> <big>big</big>\n\n\
                    <video src=\"https://old.example/a.mp4\" autoplay poster=\"https://t.example/p.jpg\"></video>\n\n\
                    <audio controls src=\"data:audio/mp3;base64,AAAA\"></audio><span class=\"alignleft\">s</span>";
        let out = render(html).html;
        for kept in [
            "<figure class=\"wp-caption alignleft\">",
            "<img class=\"aligncenter\" src=\"/a.jpg\">",
            "<figcaption>Caption</figcaption>",
            "<p class=\"alignright\">",
            "<div class=\"gallery\">",
            "<address>Quay 1</address>",
            "<big>big</big>",
            "<video src=\"https://old.example/a.mp4\" controls=\"\"></video>",
            "<audio controls=\"\"></audio>",
            "<span>s</span>",
        ] {
            assert!(out.contains(kept), "{kept} in {out}");
        }
        for gone in ["evil", "size-full", "hidden", "autoplay", "poster", "data:", "id=\"x\""] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        // The footnotes keep their classes.
        let notes = render("A note[^1]\n\n[^1]: The note.").html;
        assert!(notes.contains("class=\"footnote-reference\"") && notes.contains("class=\"footnote-definition\""));
    }

    #[test]
    fn the_teaser_before_more_is_the_excerpt() {
        let body =
            "<p>The <em>harbour</em> &amp; its &lt;quays&gt;,\u{a0}<a title=\"a > b\" href=\"/q\">here</a>.</p>\n\n\
                    Second paragraph.\n\n<!--more-->\n\nThe rest of the story.";
        let out = render(body);
        assert_eq!(out.derived_excerpt(1000), "The harbour & its <quays>, here . Second paragraph.");
        assert_eq!(out.derived_excerpt(20), "The harbour & its…");
        assert!(out.html.contains("The rest of the story.") && !out.html.contains("more"), "{}", out.html);
        let custom = render("Teaser\n<!--more Read on-->\nRest");
        assert_eq!(custom.derived_excerpt(1000), "Teaser");
        // Without the marker, or with a comment that only starts alike, the first words.
        assert_eq!(render("One two <!--moreover--> three").derived_excerpt(1000), "One two three");
        assert_eq!(render(&"word ".repeat(50)).derived_excerpt(1000), format!("{}…", ["word"; 40].join(" ")));
    }

    #[test]
    fn nextpage_splits_the_body_into_pages_but_not_in_code() {
        let out = render(
            "One\n\n<!--nextpage-->\n\n<div class=\"gallery\">Two\n<!--nextpage-->\nThree</div>\n\n`<!--nextpage-->`",
        );
        assert_eq!(out.html.matches(PAGE_BREAK).count(), 2, "{}", out.html);
        let pages = pages_of(&out.html);
        assert_eq!(pages.len(), 3, "{pages:?}");
        assert_eq!(pages[0].trim(), "<p>One</p>");
        assert_eq!(pages[1].trim(), "<div class=\"gallery\">Two\n</div>", "the open element is closed");
        assert!(
            pages[2].starts_with("\nThree") && pages[2].contains("<code>&lt;!--nextpage--&gt;</code>"),
            "{}",
            pages[2]
        );
        assert_eq!(pages_of("<p>Whole</p>"), ["<p>Whole</p>"]);
        assert_eq!(pages_of(&render("<!--nextpage-->\n\nOnly").html).len(), 1, "no empty page");
    }

    #[test]
    fn excerpt_cuts_on_words() {
        assert_eq!(excerpt_of("one two three four", 2), "one two…");
        assert_eq!(excerpt_of("one two", 5), "one two");
    }

    #[test]
    fn reading_time_is_at_least_a_minute() {
        assert_eq!(render("hi").reading_minutes, 1);
        let long = "word ".repeat(WORDS_PER_MINUTE * 3 + 1);
        assert_eq!(render(&long).reading_minutes, 4);
    }
}
