//! The media library over real HTTP, on SQLite and PostgreSQL: uploads checked from their bytes,
//! re-encoded without EXIF GPS, oriented, resized, stored once by CID and served immutable;
//! wrong types, oversize, corrupt files and decompression bombs refused with nothing saved;
//! roles and ownership.

#[macro_use]
mod common;

use std::io::Cursor;

use common::desk::Desk;
use common::{Backend, TestSite};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageReader};
use openvoice::accounts::Role;
use reqwest::multipart::{Form, Part};
use reqwest::{header, StatusCode};
use serde_json::Value;

/// A JPEG of `width`×`height` with an EXIF block carrying a GPS position and orientation 6
/// (shown rotated 90° clockwise).
fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    }));
    let mut plain = Vec::new();
    image.write_with_encoder(JpegEncoder::new_with_quality(&mut plain, 90)).unwrap();

    // TIFF, little-endian: IFD0 (orientation, GPS pointer) at 8, the GPS IFD at 38, its
    // latitude's three rationals at 68.
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II\x2a\x00\x08\x00\x00\x00");
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&entry(0x0112, 3, 1, 6));
    tiff.extend_from_slice(&entry(0x8825, 4, 1, 38));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&entry(0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0")));
    tiff.extend_from_slice(&entry(0x0002, 5, 3, 68));
    tiff.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(tiff.len(), 68);
    for (num, den) in [(52u32, 1u32), (31, 1), (0, 1)] {
        tiff.extend_from_slice(&num.to_le_bytes());
        tiff.extend_from_slice(&den.to_le_bytes());
    }
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut jpeg = plain[..2].to_vec(); // SOI
    jpeg.extend_from_slice(&[0xFF, 0xE1]);
    jpeg.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    jpeg.extend_from_slice(&app1);
    jpeg.extend_from_slice(&plain[2..]);
    jpeg
}

fn entry(tag: u16, kind: u16, count: u32, value: u32) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..2].copy_from_slice(&tag.to_le_bytes());
    out[2..4].copy_from_slice(&kind.to_le_bytes());
    out[4..8].copy_from_slice(&count.to_le_bytes());
    out[8..].copy_from_slice(&value.to_le_bytes());
    out
}

/// Whether an independent EXIF reader finds a GPS latitude in `bytes`.
fn has_gps(bytes: &[u8]) -> bool {
    match exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) {
        Ok(exif) => exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY).is_some(),
        Err(_) => false,
    }
}

/// A PNG whose header claims `width`×`height` pixels, followed by a few bytes of data.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc_input);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn form(desk: &Desk, name: &str, content_type: &str, bytes: Vec<u8>) -> Form {
    Form::new()
        .text("csrf", desk.csrf.clone())
        .text("alt", "Boats in the harbour")
        .part("file", Part::bytes(bytes).file_name(name.to_string()).mime_str(content_type).unwrap())
}

async fn upload_json(
    site: &TestSite,
    desk: &Desk,
    name: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> (StatusCode, Value) {
    let response = desk
        .client
        .post(format!("{}/admin/media.json", site.base))
        .multipart(form(desk, name, content_type, bytes))
        .send()
        .await
        .expect("upload");
    let status = response.status();
    (status, response.json().await.expect("JSON answer"))
}

async fn count(site: &TestSite, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&site.db.pool).await.unwrap()
}

/// Rows in the three media tables.
async fn counts(site: &TestSite) -> [i64; 3] {
    [count(site, "media").await, count(site, "media_files").await, count(site, "media_sizes").await]
}

async fn fetch_bytes(site: &TestSite, url: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let response = site.get(url).await;
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let headers = response.headers().clone();
    (headers, response.bytes().await.unwrap().to_vec())
}

fn dimensions(bytes: &[u8]) -> (u32, u32) {
    ImageReader::new(Cursor::new(bytes)).with_guessed_format().unwrap().into_dimensions().unwrap()
}

on_each_backend!(uploads_lose_gps_keep_orientation_get_sizes_and_are_stored_once);
async fn uploads_lose_gps_keep_orientation_get_sizes_and_are_stored_once(backend: Backend) {
    let site = TestSite::start(backend).await;
    let author = Desk::sign_in(&site, Role::Author).await;
    let original = jpeg_with_gps(2000, 1000);
    assert!(has_gps(&original), "the test image carries GPS");

    let (status, body) = upload_json(&site, &author, "harbour.jpg", "image/jpeg", original.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let item = &body["item"];
    // Orientation 6 applied: the stored image is upright, 1000 wide and 2000 high.
    assert_eq!((item["width"].as_i64(), item["height"].as_i64()), (Some(1000), Some(2000)), "{item}");
    assert_eq!(item["sizes"], serde_json::json!([960, 480]), "narrower copies only");
    let url = item["url"].as_str().unwrap().to_string();
    assert_eq!(item["markdown"], format!("![Boats in the harbour]({url})"));

    let (headers, stored) = fetch_bytes(&site, &url).await;
    assert!(!has_gps(&stored), "the stored original has no GPS block");
    assert!(!stored.windows(6).any(|w| w == b"Exif\0\0"), "no EXIF at all");
    assert_eq!(dimensions(&stored), (1000, 2000));
    let cid = url.split('/').nth(2).unwrap();
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(headers[header::ETAG], format!("\"{cid}\"").as_str());
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // The CID is the one `openvoice cid` prints for the same bytes.
    assert_eq!(openvoice_ipfs::import_bytes(&stored).0.to_string(), cid);
    let revalidated = site
        .client
        .get(format!("{}/media/{cid}", site.base))
        .header(header::IF_NONE_MATCH, format!("\"{cid}\""))
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);

    // Each size in the srcset is a real image of its width.
    let srcset = item["srcset"].as_str().unwrap();
    let widths: Vec<(String, u32)> = srcset
        .split(", ")
        .map(|entry| {
            let (url, width) = entry.split_once(' ').unwrap();
            (url.to_string(), width.trim_end_matches('w').parse().unwrap())
        })
        .collect();
    assert_eq!(widths.iter().map(|(_, w)| *w).collect::<Vec<_>>(), [480, 960, 1000]);
    for (url, width) in &widths {
        let (headers, bytes) = fetch_bytes(&site, url).await;
        assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
        assert_eq!(dimensions(&bytes), (*width, *width * 2), "{url}");
        assert!(!has_gps(&bytes));
    }

    // As an article's featured image, the theme offers the sizes in a srcset.
    let slug: String = sqlx::query_scalar(
        "SELECT slug FROM articles WHERE status = 'published' AND kind = 'post' ORDER BY id LIMIT 1",
    )
    .fetch_one(&site.db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE articles SET featured_image = $1 WHERE slug = $2")
        .bind(&url)
        .bind(&slug)
        .execute(&site.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE site_state SET value = value + 1 WHERE key = 'content_epoch'")
        .execute(&site.db.pool)
        .await
        .unwrap();
    site.settle().await;
    let (_, page) = site.fetch(&format!("/article/{slug}")).await;
    assert!(page.contains(&format!("srcset=\"{srcset}\"")), "{page}");

    // The same image again: the same entry, nothing stored twice.
    let before = counts(&site).await;
    assert_eq!(before, [1, 3, 2]);
    let (status, again) = upload_json(&site, &author, "copy.jpg", "image/jpeg", original.clone()).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["item"]["id"], item["id"]);
    assert_eq!(counts(&site).await, before);

    // The HTML form: a 303 back to the library, which lists the image.
    let png = {
        let mut bytes = Vec::new();
        DynamicImage::new_rgba8(300, 200).write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes)).unwrap();
        bytes
    };
    let response = author
        .client
        .post(format!("{}/admin/media", site.base))
        .multipart(form(&author, "chart.png", "image/png", png))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let library = author.get(&site, "/admin/media").await.text().await.unwrap();
    assert!(library.contains("chart.png") && library.contains("harbour.jpg"), "{library}");
    let listed: Value = author.get(&site, "/admin/media.json").await.json().await.unwrap();
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["items"][0]["content_type"], "image/png");
    assert_eq!(listed["items"][0]["sizes"], serde_json::json!([]), "a 300 px image gets no copies");
    site.finish().await;
}

on_each_backend!(wrong_oversize_corrupt_and_bomb_uploads_are_refused_with_nothing_saved);
async fn wrong_oversize_corrupt_and_bomb_uploads_are_refused_with_nothing_saved(backend: Backend) {
    let site = TestSite::start_with(backend, "[media]\nmax_upload_bytes = 200000\n").await;
    let author = Desk::sign_in(&site, Role::Author).await;
    let empty = counts(&site).await;

    // Text named .jpg and sent as image/jpeg: the bytes decide.
    let (status, body) =
        upload_json(&site, &author, "photo.jpg", "image/jpeg", b"just some text, not a photo".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert_eq!(body["error"]["field"], "file");
    assert_eq!(body["error"]["code"], "unsupported_type");

    // A zip archive named .png.
    let (status, _) =
        upload_json(&site, &author, "photo.png", "image/png", b"PK\x03\x04\x14\x00\x00\x00".repeat(20)).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Over media.max_upload_bytes.
    let mut big = jpeg_with_gps(64, 64);
    big.resize(300_000, 0);
    let (status, body) = upload_json(&site, &author, "big.jpg", "image/jpeg", big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["field"], "file");

    // Truncated.
    let whole = jpeg_with_gps(400, 300);
    let (status, body) = upload_json(&site, &author, "cut.jpg", "image/jpeg", whole[..whole.len() / 3].to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("corrupt"), "{body}");

    // A decompression bomb: a few bytes claiming 100000×100000 pixels.
    let bomb = png_claiming(100_000, 100_000);
    assert!(bomb.len() < 100);
    let (status, body) = upload_json(&site, &author, "bomb.png", "image/png", bomb).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("at most 12000×12000 pixels"), "{body}");

    // The HTML form says it at the file field, with the status.
    let response = author
        .client
        .post(format!("{}/admin/media", site.base))
        .multipart(form(&author, "notes.jpg", "image/jpeg", b"hello".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let page = response.text().await.unwrap();
    let errors = common::desk::texts_of(&page, "#file-error");
    assert_eq!(errors.len(), 1, "{page}");
    assert!(errors[0].contains("not a JPEG, PNG, WebP or GIF"), "{errors:?}");
    assert_eq!(common::desk::input_value(&page, "alt"), "Boats in the harbour", "the alt text is kept");

    assert_eq!(counts(&site).await, empty, "nothing half-saved");
    let activity: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM activity WHERE kind LIKE 'media.%'")
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
    assert_eq!(activity, 0);
    site.finish().await;
}

on_each_backend!(roles_csrf_and_ownership_are_checked);
async fn roles_csrf_and_ownership_are_checked(backend: Backend) {
    let site = TestSite::start(backend).await;
    let contributor = Desk::sign_in(&site, Role::Contributor).await;
    let (status, body) = upload_json(&site, &contributor, "a.jpg", "image/jpeg", jpeg_with_gps(64, 64)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(contributor.get(&site, "/admin/media").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(contributor.get(&site, "/admin/media.json").await.status(), StatusCode::FORBIDDEN);
    let response = contributor
        .client
        .post(format!("{}/admin/media", site.base))
        .multipart(form(&contributor, "a.jpg", "image/jpeg", jpeg_with_gps(64, 64)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(counts(&site).await, [0, 0, 0]);

    // Not signed in, or the wrong CSRF secret: refused.
    let anonymous = site
        .client
        .post(format!("{}/admin/media.json", site.base))
        .multipart(Form::new().part("file", Part::bytes(jpeg_with_gps(64, 64)).file_name("a.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    let author = Desk::sign_in(&site, Role::Author).await;
    let forged =
        Form::new().text("csrf", "0".repeat(64)).part("file", Part::bytes(jpeg_with_gps(64, 64)).file_name("a.jpg"));
    let response =
        author.client.post(format!("{}/admin/media.json", site.base)).multipart(forged).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(counts(&site).await, [0, 0, 0]);

    // An author changes their own image; another author cannot; an editor can.
    let (status, body) = upload_json(&site, &author, "a.jpg", "image/jpeg", jpeg_with_gps(64, 64)).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = body["item"]["id"].as_i64().unwrap();
    let url = body["item"]["url"].as_str().unwrap().to_string();
    let response = author.post_form(&site, &format!("/admin/media/{id}/alt"), &[("alt", "A red boat")]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let other = Desk::sign_in(&site, Role::Author).await;
    let response = other.post_form(&site, &format!("/admin/media/{id}/alt"), &[("alt", "Mine now")]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = other.post_form(&site, &format!("/admin/media/{id}/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let listed: Value = author.get(&site, "/admin/media.json").await.json().await.unwrap();
    assert_eq!(listed["items"][0]["alt"], "A red boat");
    let too_long = "x".repeat(501);
    let response = author.post_form(&site, &format!("/admin/media/{id}/alt"), &[("alt", &too_long)]).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    let message = common::desk::texts_of(&page, &format!("#alt-{id}-error"));
    assert!(message.len() == 1 && message[0].contains("500 characters"), "{message:?}");
    assert!(page.contains(&format!("value=\"{too_long}\"")), "the typed text is kept");

    let editor = Desk::sign_in(&site, Role::Editor).await;
    let response = editor.post_form(&site, &format!("/admin/media/{id}/delete"), &[]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(site.get(&url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(counts(&site).await, [0, 0, 0], "the files went with the last entry using them");
    site.finish().await;
}

on_each_backend!(images_in_an_article_text_get_their_size_and_copies_and_the_first_stands_for_it);
/// A library image put in an article's text is shown as featured images are (its size, its
/// narrower copies, lazy loading); an outside image is left alone; with no featured image, the
/// first image in the text is the article's image in link previews (OpenGraph, JSON-LD),
/// as an absolute URL.
async fn images_in_an_article_text_get_their_size_and_copies_and_the_first_stands_for_it(backend: Backend) {
    let site = TestSite::start(backend).await;
    let editor = Desk::sign_in(&site, Role::Editor).await;
    let (status, body) = upload_json(&site, &editor, "harbour.jpg", "image/jpeg", jpeg_with_gps(2000, 1000)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (url, markdown) = (body["item"]["url"].as_str().unwrap(), body["item"]["markdown"].as_str().unwrap());
    let text = format!("The quay at dawn.\n\n{markdown}\n\n![A map](https://maps.example.org/quay.png)\n");
    let form =
        [("title", "Dawn at the quay"), ("body", text.as_str()), ("excerpt", ""), ("tags", ""), ("action", "publish")];
    let saved = editor.post_form(&site, "/admin/articles/new", &form).await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    site.settle().await;
    let (_, page) = site.fetch("/article/dawn-at-the-quay").await;

    let doc = scraper::Html::parse_document(&page);
    let images = scraper::Selector::parse(".body img").unwrap();
    let images: Vec<_> = doc.select(&images).map(|img| img.value().clone()).collect();
    assert_eq!(images.len(), 2, "{page}");
    let (library, outside) = (&images[0], &images[1]);
    assert_eq!(library.attr("src"), Some(url));
    assert_eq!((library.attr("width"), library.attr("height")), (Some("1000"), Some("2000")), "upright, as stored");
    assert_eq!(library.attr("loading"), Some("lazy"));
    let srcset = library.attr("srcset").expect("the narrower copies");
    assert!(srcset.contains(" 480w") && srcset.contains(" 960w") && srcset.contains(" 1000w"), "{srcset}");
    assert_eq!(outside.attr("src"), Some("https://maps.example.org/quay.png"));
    assert!(outside.attr("width").is_none() && outside.attr("srcset").is_none(), "not ours: left alone");

    let absolute = format!("{}{url}", site.base);
    let og = scraper::Selector::parse("meta[property='og:image']").unwrap();
    assert_eq!(doc.select(&og).next().and_then(|m| m.value().attr("content")), Some(absolute.as_str()));
    let ld = scraper::Selector::parse("script[type='application/ld+json']").unwrap();
    let json: Value = serde_json::from_str(&doc.select(&ld).next().unwrap().text().collect::<String>()).unwrap();
    assert_eq!(json["image"], absolute.as_str());
    site.finish().await;
}
