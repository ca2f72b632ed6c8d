//! A streaming reader of WordPress eXtended RSS (WXR 1.0–1.2).
//!
//! The file is read once, event by event (quick-xml), and handed out one channel-level term or
//! one `<item>` at a time, so memory stays bounded by the largest item, not the file.
//! Each text field is capped at [`MAX_FIELD_BYTES`]; a longer one makes its item fail with a
//! message instead of filling memory.

use std::io::BufRead;

use quick_xml::events::Event;
use quick_xml::Reader;

/// The largest text field kept; WordPress itself stores post bodies in a 4 GiB LONGTEXT, but an
/// article of more than this is almost certainly a broken export.
pub const MAX_FIELD_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Author {
    /// The line of the `<wp:author>` tag.
    pub line: u64,
    pub login: String,
    pub email: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Category {
    /// The line of the `<wp:category>` tag.
    pub line: u64,
    pub nicename: String,
    /// The parent's nicename, empty for a top-level category.
    pub parent: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tag {
    /// The line of the `<wp:tag>` tag.
    pub line: u64,
    pub slug: String,
    pub name: String,
}

/// A `<category domain="…" nicename="…">Name</category>` on an item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemTerm {
    /// `category` or `post_tag` (others, such as `post_format`, are ignored by the importer).
    pub domain: String,
    pub nicename: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comment {
    pub id: String,
    pub author: String,
    pub author_email: String,
    pub author_url: String,
    pub date_gmt: String,
    pub date: String,
    pub content: String,
    /// `1`, `0`, `spam` or `trash`.
    pub approved: String,
    /// `0` for a top-level comment.
    pub parent: String,
    /// Empty or `comment` for a comment; `pingback`, `trackback`.
    pub comment_type: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Item {
    /// The line of the `<item>` tag.
    pub line: u64,
    pub title: String,
    pub link: String,
    pub pub_date: String,
    pub creator: String,
    pub guid: String,
    pub content: String,
    pub excerpt: String,
    pub post_id: String,
    pub post_date: String,
    pub post_date_gmt: String,
    pub post_name: String,
    pub status: String,
    /// Non-empty for a password-protected post.
    pub post_password: String,
    /// `1` for a sticky post (a lead story).
    pub is_sticky: String,
    pub post_type: String,
    pub attachment_url: String,
    pub terms: Vec<ItemTerm>,
    pub postmeta: Vec<(String, String)>,
    pub comments: Vec<Comment>,
    /// Problems found while reading the item (too-large fields, invalid UTF-8).
    pub problems: Vec<String>,
}

impl Item {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.postmeta.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The WXR's own key for the item: the post id, or the guid for exports without ids.
    pub fn external_id(&self) -> &str {
        if self.post_id.is_empty() {
            &self.guid
        } else {
            &self.post_id
        }
    }
}

/// One thing read from the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// `<wp:base_site_url>` (or `<link>` of the channel when absent).
    BaseUrl(String),
    Author(Author),
    Category(Category),
    Tag(Tag),
    Item(Box<Item>),
}

/// Malformed XML: the reading stops here.
#[derive(Debug, thiserror::Error)]
#[error("malformed XML at line {line}, column {column}: {message}")]
pub struct XmlError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Counts lines and bytes as quick-xml consumes them.
pub struct Counting<R> {
    inner: R,
    pub bytes: u64,
    pub lines: u64,
    /// Byte offset just after the last newline.
    pub line_start: u64,
}

impl<R: BufRead> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            for (i, _) in buf[..amt.min(buf.len())].iter().enumerate().filter(|(_, b)| **b == b'\n') {
                self.lines += 1;
                self.line_start = self.bytes + i as u64 + 1;
            }
        }
        self.bytes += amt as u64;
        self.inner.consume(amt);
    }
}

pub struct WxrReader<R: BufRead> {
    reader: Reader<Counting<R>>,
    buf: Vec<u8>,
    /// Names of the open elements.
    path: Vec<String>,
    text: String,
    text_too_large: bool,
    item: Option<Item>,
    comment: Option<Comment>,
    meta_key: String,
    term: Option<ItemTerm>,
    author: Author,
    category: Category,
    tag: Tag,
    base_url_seen: bool,
}

impl<R: BufRead> WxrReader<R> {
    pub fn new(inner: R) -> WxrReader<R> {
        let mut reader = Reader::from_reader(Counting { inner, bytes: 0, lines: 0, line_start: 0 });
        reader.config_mut().expand_empty_elements = true;
        reader.config_mut().check_end_names = true;
        WxrReader {
            reader,
            buf: Vec::with_capacity(64 * 1024),
            path: Vec::new(),
            text: String::new(),
            text_too_large: false,
            item: None,
            comment: None,
            meta_key: String::new(),
            term: None,
            author: Author::default(),
            category: Category::default(),
            tag: Tag::default(),
            base_url_seen: false,
        }
    }

    /// Bytes read so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        self.reader.get_ref().bytes
    }

    fn position(&self, at: u64) -> (u64, u64) {
        let counting = self.reader.get_ref();
        let column = at.saturating_sub(counting.line_start) + 1;
        (counting.lines + 1, column)
    }

    fn error(&self, message: String) -> XmlError {
        let (line, column) = self.position(self.reader.error_position());
        XmlError { line, column, message }
    }

    fn push_text(&mut self, text: &[u8]) {
        if self.text.len() + text.len() > MAX_FIELD_BYTES {
            self.text_too_large = true;
            return;
        }
        match std::str::from_utf8(text) {
            Ok(text) => self.text.push_str(text),
            Err(_) => {
                self.text.push_str(&String::from_utf8_lossy(text));
                if let Some(item) = &mut self.item {
                    let name = self.path.last().cloned().unwrap_or_default();
                    item.problems.push(format!("{name}: invalid UTF-8 replaced by U+FFFD"));
                }
            }
        }
    }

    /// The next term or item, `None` at the end of the file.
    pub fn next_node(&mut self) -> Result<Option<Node>, XmlError> {
        loop {
            // The buffer is moved out while its event is alive, so the handlers may borrow `self`.
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            let event = match self.reader.read_event_into(&mut buf) {
                Ok(event) => event,
                Err(err) => return Err(self.error(err.to_string())),
            };
            match event {
                Event::Eof => {
                    if let Some(open) = self.path.last() {
                        let message = format!("the file ends inside <{open}>");
                        let counting = self.reader.get_ref();
                        let (line, column) = (counting.lines + 1, counting.bytes - counting.line_start + 1);
                        return Err(XmlError { line, column, message });
                    }
                    return Ok(None);
                }
                Event::Start(start) => {
                    let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                    self.text.clear();
                    self.text_too_large = false;
                    match name.as_str() {
                        "item" => {
                            let line = self.reader.get_ref().lines + 1;
                            self.item = Some(Item { line, ..Item::default() });
                        }
                        "wp:comment" if self.item.is_some() => self.comment = Some(Comment::default()),
                        "wp:author" if self.item.is_none() => self.author.line = self.reader.get_ref().lines + 1,
                        "wp:category" if self.item.is_none() => {
                            self.category.line = self.reader.get_ref().lines + 1;
                        }
                        "wp:tag" if self.item.is_none() => self.tag.line = self.reader.get_ref().lines + 1,
                        "category" if self.item.is_some() => {
                            let mut term = ItemTerm::default();
                            for attr in start.attributes().flatten() {
                                let value = String::from_utf8_lossy(&attr.value).into_owned();
                                let value =
                                    quick_xml::escape::unescape(&value).map(|v| v.into_owned()).unwrap_or(value);
                                match attr.key.as_ref() {
                                    b"domain" => term.domain = value,
                                    b"nicename" => term.nicename = value,
                                    _ => {}
                                }
                            }
                            self.term = Some(term);
                        }
                        _ => {}
                    }
                    self.path.push(name);
                }
                Event::Text(text) => self.push_text(&text.into_inner()),
                Event::CData(data) => self.push_text(&data.into_inner()),
                Event::GeneralRef(reference) => {
                    let raw = String::from_utf8_lossy(&reference.into_inner()).into_owned();
                    let entity = format!("&{raw};");
                    match quick_xml::escape::unescape(&entity) {
                        Ok(resolved) => {
                            let resolved = resolved.into_owned();
                            self.push_text(resolved.as_bytes());
                        }
                        // HTML entities such as `&nbsp;` are not XML; WordPress writes them into
                        // CDATA, but a hand-edited export may not. Keep them as written.
                        Err(_) => self.push_text(entity.as_bytes()),
                    }
                }
                Event::End(_) => {
                    let name = self.path.pop().unwrap_or_default();
                    if let Some(node) = self.close(&name) {
                        self.buf = buf;
                        return Ok(Some(node));
                    }
                }
                _ => {}
            }
            self.buf = buf;
        }
    }

    /// Stores the text of the element `name` that just closed; returns a finished node.
    fn close(&mut self, name: &str) -> Option<Node> {
        let text = std::mem::take(&mut self.text);
        if self.text_too_large {
            self.text_too_large = false;
            if let Some(item) = &mut self.item {
                item.problems.push(format!("<{name}> is larger than {MAX_FIELD_BYTES} bytes"));
            }
        }
        let parent = self.path.last().map(String::as_str).unwrap_or("");
        if let Some(comment) = &mut self.comment {
            match name {
                "wp:comment_id" => comment.id = text.trim().to_string(),
                "wp:comment_author" => comment.author = text,
                "wp:comment_author_email" => comment.author_email = text.trim().to_string(),
                "wp:comment_author_url" => comment.author_url = text.trim().to_string(),
                "wp:comment_date_gmt" => comment.date_gmt = text.trim().to_string(),
                "wp:comment_date" => comment.date = text.trim().to_string(),
                "wp:comment_content" => comment.content = text,
                "wp:comment_approved" => comment.approved = text.trim().to_string(),
                "wp:comment_parent" => comment.parent = text.trim().to_string(),
                "wp:comment_type" => comment.comment_type = text.trim().to_string(),
                "wp:comment" => {
                    let comment = self.comment.take().unwrap_or_default();
                    if let Some(item) = &mut self.item {
                        item.comments.push(comment);
                    }
                }
                _ => {}
            }
            return None;
        }
        if let Some(item) = &mut self.item {
            match name {
                "title" if parent == "item" => item.title = text,
                "link" if parent == "item" => item.link = text.trim().to_string(),
                "pubDate" => item.pub_date = text.trim().to_string(),
                "dc:creator" => item.creator = text.trim().to_string(),
                "guid" => item.guid = text.trim().to_string(),
                "content:encoded" => item.content = text,
                "excerpt:encoded" => item.excerpt = text,
                "wp:post_id" => item.post_id = text.trim().to_string(),
                "wp:post_date" => item.post_date = text.trim().to_string(),
                "wp:post_date_gmt" => item.post_date_gmt = text.trim().to_string(),
                "wp:post_name" => item.post_name = text.trim().to_string(),
                "wp:status" => item.status = text.trim().to_string(),
                "wp:post_password" => item.post_password = text,
                "wp:is_sticky" => item.is_sticky = text.trim().to_string(),
                "wp:post_type" => item.post_type = text.trim().to_string(),
                "wp:attachment_url" => item.attachment_url = text.trim().to_string(),
                "wp:meta_key" => self.meta_key = text.trim().to_string(),
                "wp:meta_value" => item.postmeta.push((std::mem::take(&mut self.meta_key), text)),
                "category" => {
                    if let Some(mut term) = self.term.take() {
                        term.name = text;
                        item.terms.push(term);
                    }
                }
                "item" => return self.item.take().map(|item| Node::Item(Box::new(item))),
                _ => {}
            }
            return None;
        }
        match name {
            "wp:base_site_url" => {
                self.base_url_seen = true;
                return Some(Node::BaseUrl(text.trim().to_string()));
            }
            "link" if parent == "channel" && !self.base_url_seen => {
                return Some(Node::BaseUrl(text.trim().to_string()));
            }
            "wp:author_login" => self.author.login = text.trim().to_string(),
            "wp:author_email" => self.author.email = text.trim().to_string(),
            "wp:author_display_name" => self.author.display_name = text.trim().to_string(),
            "wp:author" => return Some(Node::Author(std::mem::take(&mut self.author))),
            "wp:category_nicename" => self.category.nicename = text.trim().to_string(),
            "wp:category_parent" => self.category.parent = text.trim().to_string(),
            "wp:cat_name" => self.category.name = text.trim().to_string(),
            "wp:category_description" => self.category.description = text.trim().to_string(),
            "wp:category" => return Some(Node::Category(std::mem::take(&mut self.category))),
            "wp:tag_slug" => self.tag.slug = text.trim().to_string(),
            "wp:tag_name" => self.tag.name = text.trim().to_string(),
            "wp:tag" => return Some(Node::Tag(std::mem::take(&mut self.tag))),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(xml: &str) -> Result<Vec<Node>, XmlError> {
        let mut reader = WxrReader::new(xml.as_bytes());
        let mut nodes = Vec::new();
        while let Some(node) = reader.next_node()? {
            nodes.push(node);
        }
        Ok(nodes)
    }

    #[test]
    fn reads_terms_items_entities_and_cdata() {
        let xml = "<rss><channel><link>http://x</link>\n<wp:category><wp:category_nicename>a</wp:category_nicename>\
            <wp:cat_name><![CDATA[A &amp; B]]></wp:cat_name></wp:category>\n<item><title>Fish &amp; chips &#233;</title>\
            <category domain=\"post_tag\" nicename=\"t\"><![CDATA[T]]></category>\
            <wp:comment><wp:comment_id>7</wp:comment_id><wp:comment_content><![CDATA[hi]]></wp:comment_content></wp:comment>\
            </item></channel></rss>";
        let nodes = read_all(xml).unwrap();
        assert_eq!(nodes[0], Node::BaseUrl("http://x".into()));
        let Node::Category(category) = &nodes[1] else { panic!("{nodes:?}") };
        assert_eq!(category.name, "A &amp; B");
        let Node::Item(item) = &nodes[2] else { panic!("{nodes:?}") };
        assert_eq!(item.title, "Fish & chips é");
        assert_eq!(item.line, 3);
        assert_eq!(item.terms[0].domain, "post_tag");
        assert_eq!(item.comments[0].id, "7");
    }

    #[test]
    fn malformed_xml_names_line_and_column() {
        let err = read_all("<rss>\n<channel>\n<item><title>x</titel></item></channel></rss>").unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.column > 1, "{err}");
    }
}
