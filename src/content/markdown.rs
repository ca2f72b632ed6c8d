//! Markdown → sanitised HTML, plain text, excerpt and reading time.
//!
//! CommonMark plus tables, footnotes, strikethrough and task lists (pulldown-cmark), then
//! ammonia with a whitelist wide enough for those extensions and nothing more. Broken Markdown
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
}

const WORDS_PER_MINUTE: usize = 220;

pub fn render(markdown: &str) -> Rendered {
    let parser = Parser::new_ext(markdown, options());
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, parser);
    let html = sanitizer().clean(&unsafe_html).to_string();
    let text = plain_text(markdown);
    let words = text.split_whitespace().count();
    Rendered { html, reading_minutes: words.div_ceil(WORDS_PER_MINUTE).max(1) as i64, text }
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

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .add_tags(["input", "section"])
            .add_tag_attributes("input", ["type", "checked", "disabled"])
            .add_tag_attributes("code", ["class"])
            .add_tag_attributes("sup", ["class", "id"])
            .add_tag_attributes("div", ["class", "id"])
            .add_tag_attributes("th", ["style"])
            .add_tag_attributes("td", ["style"])
            .link_rel(Some("noopener noreferrer"))
            .url_schemes(HashSet::from(["http", "https", "mailto", "ipfs"]));
        // Task-list checkboxes are display-only; nothing else may be an input.
        builder.set_tag_attribute_value("input", "disabled", "");
        builder.filter_style_properties(HashSet::from(["text-align"]));
        builder
    })
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
