//! Media library types and the URLs, `srcset` and Markdown derived from them.

use serde::Serialize;

/// A stored file, by its content address.
#[derive(Debug, Clone, Serialize)]
pub struct FileRef {
    pub cid: String,
    pub width: i64,
    pub height: i64,
}

/// One library entry: the re-encoded original and its responsive copies.
#[derive(Debug, Clone, Serialize)]
pub struct MediaItem {
    pub id: i64,
    pub original: FileRef,
    pub content_type: String,
    /// Bytes of the stored original.
    pub size: i64,
    pub original_name: String,
    pub alt_text: String,
    pub uploader_id: Option<i64>,
    pub uploader_name: Option<String>,
    pub created_at: i64,
    /// Narrower copies, widest first.
    pub sizes: Vec<FileRef>,
}

/// A stored file's bytes and type, as served at `/media/{cid}`.
#[derive(Debug, Clone)]
pub struct MediaFile {
    pub bytes: Vec<u8>,
    pub content_type: String,
}

impl MediaItem {
    /// `/media/{cid}/{name}`: the name is for people and downloads; the CID alone finds the file.
    pub fn url(&self) -> String {
        file_url(&self.original.cid, &self.download_name())
    }

    /// `url 480w, url 960w, …, original Nw`.
    pub fn srcset(&self) -> String {
        let name = self.download_name();
        let mut files: Vec<&FileRef> = self.sizes.iter().collect();
        files.sort_by_key(|f| f.width);
        files.push(&self.original);
        files.iter().map(|f| format!("{} {}w", file_url(&f.cid, &name), f.width)).collect::<Vec<_>>().join(", ")
    }

    /// A Markdown image the editor can paste: `![alt](url)`, with `[`, `]`, `(`, `)` escaped.
    pub fn markdown(&self) -> String {
        let alt = escape_markdown(&self.alt_text);
        format!("![{alt}]({})", self.url())
    }

    /// The original name, reduced to a safe slug with the stored type's extension.
    pub fn download_name(&self) -> String {
        let stem = self.original_name.rsplit_once('.').map_or(self.original_name.as_str(), |(stem, _)| stem);
        let mut slug = slug::slugify(stem);
        slug.truncate(80);
        if slug.is_empty() {
            slug = "image".into();
        }
        let ext = match self.content_type.as_str() {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            "image/webp" => "webp",
            _ => "gif",
        };
        format!("{}.{ext}", slug.trim_end_matches('-'))
    }
}

pub fn file_url(cid: &str, name: &str) -> String {
    format!("/media/{cid}/{name}")
}

fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '[' | ']' | '(' | ')' | '\\' | '*' | '_' | '`') {
            out.push('\\');
        }
        if !c.is_control() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_srcset_and_markdown() {
        let item = MediaItem {
            id: 1,
            original: FileRef { cid: "bafkorig".into(), width: 2000, height: 1000 },
            content_type: "image/jpeg".into(),
            size: 10,
            original_name: "Harbour at Dawn [1].JPEG".into(),
            alt_text: "Boats (at dawn)".into(),
            uploader_id: None,
            uploader_name: None,
            created_at: 0,
            sizes: vec![
                FileRef { cid: "bafk960".into(), width: 960, height: 480 },
                FileRef { cid: "bafk480".into(), width: 480, height: 240 },
            ],
        };
        assert_eq!(item.url(), "/media/bafkorig/harbour-at-dawn-1.jpg");
        assert_eq!(
            item.srcset(),
            "/media/bafk480/harbour-at-dawn-1.jpg 480w, /media/bafk960/harbour-at-dawn-1.jpg 960w, /media/bafkorig/harbour-at-dawn-1.jpg 2000w"
        );
        assert_eq!(item.markdown(), "![Boats \\(at dawn\\)](/media/bafkorig/harbour-at-dawn-1.jpg)");
    }
}
