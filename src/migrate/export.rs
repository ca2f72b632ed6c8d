//! `openvoice export wordpress`: the site as a WXR 1.2 file that WordPress's importer reads
//! (and `import wordpress` reads back to the same articles, comments and terms).
//!
//! Articles are written one at a time, so memory does not grow with the site. Bodies are written
//! as stored (Markdown, which is HTML-compatible for what WordPress shows; imported WordPress
//! posts are their original HTML). Comments carry their emails: this is the owner's export.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use chrono::DateTime;

use crate::content::model::{ArticleKind, Status};
use crate::content::queries as content_queries;
use crate::migrate::queries;
use crate::store::Db;

/// Offset of the attachment ids made up for featured images (WordPress ids are one sequence).
const ATTACHMENT_ID_OFFSET: i64 = 1_000_000_000;

/// What an export wrote.
#[derive(Debug, Default)]
pub struct ExportReport {
    pub articles: usize,
    pub comments: usize,
    pub categories: usize,
    pub tags: usize,
}

pub async fn export_file(db: &Db, site_title: &str, base_url: &str, out: &Path) -> anyhow::Result<ExportReport> {
    let file = std::fs::File::create(out).map_err(|e| anyhow::anyhow!("writing {}: {e}", out.display()))?;
    let mut writer = std::io::BufWriter::with_capacity(256 * 1024, file);
    let report = export(db, site_title, base_url, &mut writer).await?;
    writer.flush()?;
    Ok(report)
}

pub async fn export(db: &Db, site_title: &str, base_url: &str, out: &mut impl Write) -> anyhow::Result<ExportReport> {
    let base_url = base_url.trim_end_matches('/');
    let mut report = ExportReport::default();
    let summaries = content_queries::reading::list_all(db, i64::MAX).await?;
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>")?;
    writeln!(
        out,
        "<rss version=\"2.0\" xmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:wfw=\"http://wellformedweb.org/CommentAPI/\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:wp=\"http://wordpress.org/export/1.2/\">"
    )?;
    writeln!(out, "<channel>")?;
    writeln!(out, "\t<title>{}</title>", text(site_title))?;
    writeln!(out, "\t<link>{}</link>", text(base_url))?;
    writeln!(out, "\t<wp:wxr_version>1.2</wp:wxr_version>")?;
    writeln!(
        out,
        "\t<wp:base_site_url>{0}</wp:base_site_url>\n\t<wp:base_blog_url>{0}</wp:base_blog_url>",
        text(base_url)
    )?;

    let mut authors = BTreeMap::new();
    for summary in &summaries {
        authors.insert(summary.author.username.clone(), summary.author.display_name.clone());
    }
    for (n, (login, display_name)) in authors.iter().enumerate() {
        writeln!(
            out,
            "\t<wp:author><wp:author_id>{}</wp:author_id><wp:author_login>{}</wp:author_login>\
             <wp:author_email></wp:author_email><wp:author_display_name>{}</wp:author_display_name></wp:author>",
            n + 1,
            cdata(login),
            cdata(display_name)
        )?;
    }
    for (n, (slug, name, description, parent)) in queries::categories_with_parents(db).await?.iter().enumerate() {
        writeln!(
            out,
            "\t<wp:category><wp:term_id>{}</wp:term_id><wp:category_nicename>{}</wp:category_nicename>\
             <wp:category_parent>{}</wp:category_parent><wp:cat_name>{}</wp:cat_name>\
             <wp:category_description>{}</wp:category_description></wp:category>",
            n + 1,
            cdata(slug),
            cdata(parent.as_deref().unwrap_or("")),
            cdata(&html_escape(name)),
            cdata(description)
        )?;
        report.categories += 1;
    }
    for (slug, name) in queries::all_tags(db).await? {
        writeln!(
            out,
            "\t<wp:tag><wp:tag_slug>{}</wp:tag_slug><wp:tag_name>{}</wp:tag_name></wp:tag>",
            cdata(&slug),
            cdata(&html_escape(&name))
        )?;
        report.tags += 1;
    }

    // Oldest first, as WordPress writes them.
    for summary in summaries.iter().rev() {
        let article = content_queries::reading::find_by_slug(db, &summary.slug).await?;
        let summary = &article.summary;
        let (status, date) = match summary.status {
            Status::Published => ("publish", summary.published_at),
            Status::Scheduled => ("future", summary.scheduled_at),
            Status::Draft => ("draft", None),
            Status::Trashed => ("trash", None),
        };
        let date = date.map_or_else(|| "0000-00-00 00:00:00".to_string(), wp_date);
        let path = match summary.kind {
            ArticleKind::Page => format!("/{}", summary.slug),
            ArticleKind::Post => format!("/article/{}", summary.slug),
        };
        writeln!(out, "\t<item>")?;
        writeln!(out, "\t\t<title>{}</title>", text(&summary.title))?;
        writeln!(out, "\t\t<link>{}</link>", text(&format!("{base_url}{path}")))?;
        writeln!(out, "\t\t<dc:creator>{}</dc:creator>", cdata(&summary.author.username))?;
        writeln!(out, "\t\t<guid isPermaLink=\"false\">{}/?p={}</guid>", text(base_url), summary.id)?;
        writeln!(out, "\t\t<content:encoded>{}</content:encoded>", cdata(&article.body_md))?;
        writeln!(out, "\t\t<excerpt:encoded>{}</excerpt:encoded>", cdata(&html_escape(&summary.excerpt)))?;
        writeln!(out, "\t\t<wp:post_id>{}</wp:post_id>", summary.id)?;
        writeln!(
            out,
            "\t\t<wp:post_date>{}</wp:post_date>\n\t\t<wp:post_date_gmt>{}</wp:post_date_gmt>",
            cdata(&date),
            cdata(&date)
        )?;
        writeln!(out, "\t\t<wp:post_name>{}</wp:post_name>", cdata(&summary.slug))?;
        writeln!(out, "\t\t<wp:status>{}</wp:status>", cdata(status))?;
        writeln!(out, "\t\t<wp:post_type>{}</wp:post_type>", cdata(summary.kind.as_str()))?;
        // The primary category first: WordPress has no primary, and an import takes the first.
        for category in &article.categories {
            writeln!(
                out,
                "\t\t<category domain=\"category\" nicename=\"{}\">{}</category>",
                text(&category.slug),
                cdata(&html_escape(&category.name))
            )?;
        }
        writeln!(out, "\t\t<wp:is_sticky>{}</wp:is_sticky>", u8::from(summary.sticky))?;
        for tag in &article.tags {
            writeln!(
                out,
                "\t\t<category domain=\"post_tag\" nicename=\"{}\">{}</category>",
                text(&tag.slug),
                cdata(&html_escape(&tag.name))
            )?;
        }
        if article.featured_image.is_some() {
            writeln!(
                out,
                "\t\t<wp:postmeta><wp:meta_key>_thumbnail_id</wp:meta_key><wp:meta_value>{}</wp:meta_value></wp:postmeta>",
                ATTACHMENT_ID_OFFSET + summary.id
            )?;
        }
        for (id, parent, status, name, email, url, content, created_at) in
            queries::comments_for_export(db, summary.id).await?
        {
            let approved = match status.as_str() {
                "approved" => "1",
                "pending" => "0",
                other => other,
            };
            let date = wp_date(created_at);
            writeln!(
                out,
                "\t\t<wp:comment><wp:comment_id>{id}</wp:comment_id><wp:comment_author>{}</wp:comment_author>\
                 <wp:comment_author_email>{}</wp:comment_author_email><wp:comment_author_url>{}</wp:comment_author_url>\
                 <wp:comment_date>{}</wp:comment_date><wp:comment_date_gmt>{}</wp:comment_date_gmt>\
                 <wp:comment_content>{}</wp:comment_content><wp:comment_approved>{}</wp:comment_approved>\
                 <wp:comment_type>comment</wp:comment_type><wp:comment_parent>{}</wp:comment_parent></wp:comment>",
                cdata(&name),
                cdata(&email),
                text(&url),
                cdata(&date),
                cdata(&date),
                cdata(&content),
                cdata(approved),
                parent.unwrap_or(0)
            )?;
            report.comments += 1;
        }
        writeln!(out, "\t</item>")?;
        if let Some(image) = &article.featured_image {
            let absolute = if image.starts_with('/') { format!("{base_url}{image}") } else { image.clone() };
            writeln!(
                out,
                "\t<item><title>{}</title><guid isPermaLink=\"false\">{}</guid><wp:post_id>{}</wp:post_id>\
                 <wp:post_parent>{}</wp:post_parent><wp:status>inherit</wp:status><wp:post_type>attachment</wp:post_type>\
                 <wp:attachment_url>{}</wp:attachment_url></item>",
                text(&summary.title),
                text(&absolute),
                ATTACHMENT_ID_OFFSET + summary.id,
                summary.id,
                cdata(&absolute)
            )?;
        }
        report.articles += 1;
    }
    writeln!(out, "</channel>\n</rss>")?;
    Ok(report)
}

fn wp_date(at: i64) -> String {
    DateTime::from_timestamp(at, 0).map_or_else(String::new, |d| d.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Text escaped for an XML element or attribute.
fn text(value: &str) -> String {
    quick_xml::escape::escape(value).into_owned()
}

/// A CDATA section; `]]>` inside is split across two sections, as WordPress does.
fn cdata(value: &str) -> String {
    format!("<![CDATA[{}]]>", value.replace("]]>", "]]]]><![CDATA[>"))
}

/// WordPress keeps term names and excerpts HTML-escaped.
fn html_escape(value: &str) -> String {
    value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
