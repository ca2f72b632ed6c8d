//! "Download IPFS": article bundles, the trustless gateway, the site snapshot and pinning,
//! checked against the independent JavaScript implementation.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::{ipfs_js, stdout, Backend, TestSite};

const SLUG: &str = "parliament-approves-coastal-drone-patrols";

/// The CID shown on the article page, after the bundle jobs ran.
async fn page_cid(site: &TestSite, slug: &str) -> String {
    let (_, html) = site.fetch(&format!("/article/{slug}")).await;
    let doc = scraper::Html::parse_document(&html);
    let input = doc.select(&scraper::Selector::parse("input.cid").unwrap()).next().expect("the CID is on the page");
    input.value().attr("value").unwrap().to_string()
}

async fn download(site: &TestSite, path: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let response = site.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    let headers = response.headers().clone();
    (headers, response.bytes().await.unwrap().to_vec())
}

/// The CAR `car` of root `cid`, checked and unpacked by the independent verifier (which must
/// accept it): the folder and where it is. `None` without the verifier's packages (a visible skip).
fn unpacked_by_the_verifier(car: &[u8], cid: &str) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    let out = tempfile::tempdir().unwrap();
    let car_path = out.path().join("a.car");
    std::fs::write(&car_path, car).unwrap();
    let unpacked = out.path().join("unpacked");
    let verify = ipfs_js("verify-car.mjs", &[car_path.to_str().unwrap(), cid, unpacked.to_str().unwrap()])?;
    assert!(verify.status.success(), "independent verifier: {}{}", stdout(&verify), common::stderr(&verify));
    Some((out, unpacked))
}

on_each_backend!(the_download_ipfs_link_gives_a_car_that_the_reference_implementation_verifies);
async fn the_download_ipfs_link_gives_a_car_that_the_reference_implementation_verifies(backend: Backend) {
    let site = TestSite::start(backend).await;
    let (_, before) = site.fetch(&format!("/article/{SLUG}")).await;
    assert!(!before.contains("Download IPFS"), "no CID before the bundle is built");
    assert!(site.run_due_jobs().await >= 8, "one bundle job per published article and page");
    site.settle().await;
    let (_, html) = site.fetch(&format!("/article/{SLUG}")).await;
    let cid = page_cid(&site, SLUG).await;
    assert!(cid.starts_with("bafybei"), "{cid}");
    let car_link = format!("/ipfs/{cid}?format=car&amp;filename={SLUG}.car");
    assert!(html.contains(&car_link) && html.contains("Download IPFS"), "{backend:?}");
    assert!(html.contains(&format!("ipfs://{cid}")) && html.contains(&format!("https://ipfs.io/ipfs/{cid}/")));

    let (headers, car) = download(&site, &format!("/ipfs/{cid}?format=car&filename={SLUG}.car")).await;
    assert_eq!(headers["content-type"], "application/vnd.ipld.car; version=1");
    assert_eq!(headers["content-disposition"], format!("attachment; filename=\"{SLUG}.car\""));
    assert_eq!(headers["cache-control"], "public, max-age=29030400, immutable");
    assert_eq!(headers["x-ipfs-path"], format!("/ipfs/{cid}"));
    // Our own reader accepts it.
    let blocks: Vec<_> = openvoice_ipfs::car::CarReader::new(&car[..]).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(blocks.len(), 4, "a directory and three one-block files");

    let Some((_out, unpacked)) = unpacked_by_the_verifier(&car, &cid) else {
        site.finish().await;
        return;
    };
    let mut names: Vec<String> =
        std::fs::read_dir(&unpacked).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["article.md", "index.html", "meta.json"]);
    // The JavaScript importer computes the same CID from the unpacked files: byte-for-byte verifiable.
    let again = ipfs_js("import-cid.mjs", &[unpacked.to_str().unwrap()]).unwrap();
    assert_eq!(stdout(&again).trim(), cid);

    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(unpacked.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["title"], "Parliament Approves Coastal Drone Patrols After Year-Long Review");
    assert_eq!(meta["author"], "Mara Lindqvist");
    assert_eq!(meta["category"], "Defence & Security");
    assert_eq!(meta["canonical_url"], format!("{}/article/{SLUG}", site.base));
    assert!(meta["previous_version"].is_null());
    let index = std::fs::read_to_string(unpacked.join("index.html")).unwrap();
    assert!(index.contains("<style>") && !index.contains("<script") && !index.contains("/static/"), "self-contained");
    let md = std::fs::read_to_string(unpacked.join("article.md")).unwrap();
    assert!(md.starts_with("---\n") && md.contains("title: Parliament Approves"));
    site.finish().await;
}

#[tokio::test]
async fn the_gateway_answers_each_request_form() {
    let site = TestSite::start(Backend::Sqlite).await;
    site.run_due_jobs().await;
    let cid = page_cid(&site, SLUG).await;
    let url = |path: &str| format!("{}{path}", site.base);

    // A directory serves its index.html; a path serves a file with its type.
    let (headers, body) = download(&site, &format!("/ipfs/{cid}/")).await;
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert!(String::from_utf8(body).unwrap().contains("Coastal Drone"));
    let (headers, meta) = download(&site, &format!("/ipfs/{cid}/meta.json")).await;
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["x-ipfs-path"], format!("/ipfs/{cid}/meta.json"));
    // Ranges are offered on the identity encoding, which is what a browser asks for when it
    // seeks (media) and a download tool when it resumes; a gzip answer's bytes are not the file's.
    let identity = site
        .client
        .get(url(&format!("/ipfs/{cid}/meta.json")))
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert_eq!(identity.headers()["accept-ranges"], "bytes");

    // Range requests.
    let ranged =
        site.client.get(url(&format!("/ipfs/{cid}/meta.json"))).header("range", "bytes=2-9").send().await.unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], format!("bytes 2-9/{}", meta.len()));
    assert_eq!(ranged.bytes().await.unwrap(), &meta[2..10]);
    let suffix =
        site.client.get(url(&format!("/ipfs/{cid}/meta.json"))).header("range", "bytes=-5").send().await.unwrap();
    assert_eq!(suffix.bytes().await.unwrap(), &meta[meta.len() - 5..]);
    let beyond = site
        .client
        .get(url(&format!("/ipfs/{cid}/meta.json")))
        .header("range", format!("bytes={}-", meta.len() + 10))
        .send()
        .await
        .unwrap();
    assert_eq!(beyond.status(), 416);

    // Raw blocks, by query or Accept header, each re-hashing to its CID.
    let (headers, raw) = download(&site, &format!("/ipfs/{cid}?format=raw")).await;
    assert_eq!(headers["content-type"], "application/vnd.ipld.raw");
    openvoice_ipfs::verify_block(&openvoice_ipfs::parse_cid(&cid).unwrap(), &raw).expect("raw block hashes to the CID");
    let by_accept = site
        .client
        .get(url(&format!("/ipfs/{cid}")))
        .header("accept", "application/vnd.ipld.raw")
        .send()
        .await
        .unwrap();
    assert_eq!(by_accept.bytes().await.unwrap(), raw);

    // CARs by Accept header and with each dag-scope.
    let car_of = |bytes: &[u8]| -> Vec<openvoice_ipfs::Block> {
        openvoice_ipfs::car::CarReader::new(bytes).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let all = site
        .client
        .get(url(&format!("/ipfs/{cid}")))
        .header("accept", "application/vnd.ipld.car")
        .send()
        .await
        .unwrap();
    assert_eq!(all.headers()["content-type"], "application/vnd.ipld.car; version=1");
    assert_eq!(car_of(&all.bytes().await.unwrap()).len(), 4);
    assert_eq!(car_of(&download(&site, &format!("/ipfs/{cid}?format=car&dag-scope=block")).await.1).len(), 1);
    assert_eq!(car_of(&download(&site, &format!("/ipfs/{cid}?format=car&dag-scope=entity")).await.1).len(), 1);
    let path_car = car_of(&download(&site, &format!("/ipfs/{cid}/meta.json?format=car")).await.1);
    assert_eq!(path_car.len(), 2, "the directory block proving the path, then the file");

    // Validators and HEAD.
    let etag = site.get(&format!("/ipfs/{cid}/meta.json")).await.headers()["etag"].to_str().unwrap().to_string();
    let again =
        site.client.get(url(&format!("/ipfs/{cid}/meta.json"))).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let head = site
        .client
        .head(url(&format!("/ipfs/{cid}/meta.json")))
        .header("accept-encoding", "identity")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], meta.len().to_string());

    // Errors say what is wrong.
    for (path, status, needle) in [
        ("/ipfs/notacid".to_string(), 400, "invalid CID"),
        ("/ipfs/bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".to_string(), 400, "codec"),
        ("/ipfs/bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e".to_string(), 404, "not on this site"),
        (format!("/ipfs/{cid}/no-such-file"), 404, "not found"),
        (format!("/ipfs/{cid}/meta.json/deeper"), 400, "not a directory"),
        (format!("/ipfs/{cid}?format=zip"), 400, "unsupported format"),
        (format!("/ipfs/{cid}?format=car&dag-scope=some"), 400, "dag-scope"),
        (format!("/ipfs/{cid}?format=car&filename=../../x"), 400, "filename"),
    ] {
        let (got, body) = site.fetch(&path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    site.finish().await;
}

on_each_backend!(an_edit_makes_a_new_version_that_links_the_previous_one);
async fn an_edit_makes_a_new_version_that_links_the_previous_one(backend: Backend) {
    let site = TestSite::start(backend).await;
    site.run_due_jobs().await;
    let first = page_cid(&site, SLUG).await;
    assert_eq!(site.run_due_jobs().await, 0, "nothing left to do");
    let publishing = site.publishing();
    let id = openvoice::content::service::reading::find(&site.db, SLUG).await.unwrap().summary.id;
    let again = openvoice::ipfs::service::bundle_article(&site.db, &publishing, id).await.unwrap().unwrap();
    assert_eq!(again.to_string(), first, "rebuilding an unchanged version is a no-op");

    let body = common::write_file(site.dir.path(), "v2.md", "A corrected second version.");
    let out = site.cli(&["post", "edit", SLUG, "--file", body.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.run_due_jobs().await;
    site.settle().await;
    let second = page_cid(&site, SLUG).await;
    assert_ne!(second, first);
    let (_, meta) = download(&site, &format!("/ipfs/{second}/meta.json")).await;
    let meta: serde_json::Value = serde_json::from_slice(&meta).unwrap();
    assert_eq!(meta["previous_version"], first.as_str());
    assert_eq!(openvoice::ipfs::queries::bundle_history(&site.db, id).await.unwrap(), vec![first.clone(), second]);
    // The old version stays downloadable.
    assert_eq!(site.get(&format!("/ipfs/{first}/index.html")).await.status(), 200);
    site.finish().await;
}

on_each_backend!(the_site_snapshot_and_export_car);
async fn the_site_snapshot_and_export_car(backend: Backend) {
    // The CLI and the server must agree on the public URL, which is in every bundle.
    let site = TestSite::start_with(backend, "[site]\nbase_url = \"https://news.example.org\"\n").await;
    site.run_due_jobs().await;
    let publishing = site.publishing();
    let root =
        openvoice::ipfs::service::build_snapshot(&site.db, &publishing.config, &publishing.templates).await.unwrap();
    let redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = redirect.get(format!("{}/ipfs/site", site.base)).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], format!("/ipfs/{root}/"));
    let (_, index) = site.fetch(&format!("/ipfs/{root}/")).await;
    assert!(index.contains(&format!("articles/{SLUG}/index.html")));
    let (status, feed) = site.fetch(&format!("/ipfs/{root}/feed.xml")).await;
    assert_eq!(status, 200);
    assert!(feed_rs::parser::parse(feed.as_bytes()).is_ok());
    let article_cid = page_cid(&site, SLUG).await;
    // The snapshot links the article's current bundle itself, not a copy.
    let (headers, _) = download(&site, &format!("/ipfs/{root}/articles/{SLUG}?format=raw")).await;
    assert_eq!(headers["etag"].to_str().unwrap(), format!("\"{article_cid}.raw\""));

    // `openvoice export car`: a whole-site CAR the reference implementation verifies.
    let car_path = site.dir.path().join("site.car");
    let out = site.cli(&["export", "car", "--out", car_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let exported_root = stdout(&out).trim().to_string();
    assert_eq!(exported_root, root.to_string(), "nothing changed since the snapshot");
    if let Some(verify) = ipfs_js("verify-car.mjs", &[car_path.to_str().unwrap(), &exported_root]) {
        assert!(verify.status.success(), "{}{}", stdout(&verify), common::stderr(&verify));
    }

    // Changing one article adds only that article's blocks and the snapshot's own.
    let blocks_before = openvoice::ipfs::queries::count_blocks(&site.db).await.unwrap();
    let body = common::write_file(site.dir.path(), "v2.md", "Changed.");
    assert!(site.cli(&["post", "edit", SLUG, "--file", body.to_str().unwrap()]).status.success());
    let out = site.cli(&["export", "car", "--out", car_path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let added = openvoice::ipfs::queries::count_blocks(&site.db).await.unwrap() - blocks_before;
    assert!((4..=9).contains(&added), "one bundle (dir + 3 files, some unchanged) + root dir, index, feed: {added}");
    assert_ne!(stdout(&out).trim(), exported_root);
    site.finish().await;
}

on_each_backend!(an_illustrated_article_bundle_holds_its_images_and_loads_them_relatively);
async fn an_illustrated_article_bundle_holds_its_images_and_loads_them_relatively(backend: Backend) {
    let site = TestSite::start(backend).await;
    let image = common::upload_image(&site, "admin").await;
    let out = site.cli(&["token", "create", "--user", "admin", "--name", "bundle-test"]);
    let token = stdout(&out).lines().find_map(|l| l.strip_prefix("Token (shown once): ")).expect("a token").to_string();
    let body = format!("Boats came home.\n\n{}\n\nAnd left again.", image.markdown());
    let article = serde_json::json!({
        "title": "Harbour In Pictures",
        "body": body,
        "featured_image": image.url(),
        "status": "published",
    });
    let created = site
        .client
        .post(format!("{}/api/v1/articles", site.base))
        .bearer_auth(&token)
        .json(&article)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    site.run_due_jobs().await;
    site.settle().await;
    let slug = "harbour-in-pictures";
    let cid = page_cid(&site, slug).await;
    let (_, car) = download(&site, &format!("/ipfs/{cid}?format=car")).await;
    let Some((_out, unpacked)) = unpacked_by_the_verifier(&car, &cid) else {
        site.finish().await;
        return;
    };
    // The image the article shows is in the bundle, as the library stores it, under its CID.
    let relative = image.url().trim_start_matches('/').to_string();
    let original = openvoice::media::service::file(&site.db, &image.original.cid).await.unwrap().unwrap();
    assert_eq!(std::fs::read(unpacked.join(&relative)).unwrap(), original.bytes, "{backend:?}: {relative}");
    let index = std::fs::read_to_string(unpacked.join("index.html")).unwrap();
    let doc = scraper::Html::parse_document(&index);
    let sources: Vec<&str> =
        doc.select(&scraper::Selector::parse("img").unwrap()).filter_map(|img| img.value().attr("src")).collect();
    assert_eq!(sources, [relative.as_str(), relative.as_str()], "{backend:?}: the featured and the inline image");
    assert!(!index.contains("\"/media/"), "{backend:?}: no link back to the site's /media/");
    let again = ipfs_js("import-cid.mjs", &[unpacked.to_str().unwrap()]).unwrap();
    assert_eq!(stdout(&again).trim(), cid, "{backend:?}: `ipfs add -r` of the folder gives the same CID");
    site.finish().await;
}

on_each_backend!(the_site_has_one_ipns_name_whose_signed_record_follows_the_latest_snapshot);
async fn the_site_has_one_ipns_name_whose_signed_record_follows_the_latest_snapshot(backend: Backend) {
    let site = TestSite::start_with(backend, "[site]\nbase_url = \"https://news.example.org\"\n").await;
    let shown = stdout(&site.cli(&["ipfs", "name"]));
    let name = shown.lines().next().and_then(|l| l.strip_prefix("/ipns/")).expect("the name").to_string();
    assert!(name.starts_with("k51") && shown.contains("no site snapshot"), "{shown}");
    assert_eq!(site.fetch(&format!("/ipns/{name}")).await.0, 404, "nothing to name yet");

    let publishing = site.publishing();
    site.run_due_jobs().await;
    let snapshot = || openvoice::ipfs::service::build_snapshot(&site.db, &publishing.config, &publishing.templates);
    let root = snapshot().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    // Fetches the record as a resolver does and checks it with the `ipns` package.
    let checked = |file: &str, key: Option<&std::path::Path>| {
        let path = work.path().join(file);
        let mut args = vec![name.clone(), path.to_str().unwrap().to_string()];
        args.extend(key.map(|k| k.to_str().unwrap().to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ipfs_js("verify-ipns.mjs", &args)?;
        assert!(out.status.success(), "{backend:?}: the ipns package refuses the record: {}", common::stderr(&out));
        Some(serde_json::from_str::<serde_json::Value>(&stdout(&out)).unwrap())
    };
    let (headers, record) = download(&site, &format!("/ipns/{name}?format=ipns-record")).await;
    assert_eq!(headers["content-type"], "application/vnd.ipfs.ipns-record");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    std::fs::write(work.path().join("first"), &record).unwrap();
    let by_accept = site
        .client
        .get(format!("{}/ipns/{name}", site.base))
        .header("accept", "application/vnd.ipfs.ipns-record")
        .send()
        .await
        .unwrap();
    assert_eq!(by_accept.bytes().await.unwrap().to_vec(), record, "the same record by Accept");
    let Some(first) = checked("first", None) else {
        site.finish().await;
        return;
    };
    assert_eq!(first["value"], format!("/ipfs/{root}"), "{backend:?}");
    let first_sequence: u64 = first["sequence"].as_str().unwrap().parse().unwrap();

    // The name serves the snapshot, cacheable for the record's TTL only.
    let redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let bare = redirect.get(format!("{}/ipns/{name}", site.base)).send().await.unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], format!("/ipns/{name}/"));
    let (headers, index) = download(&site, &format!("/ipns/{name}/")).await;
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(headers["x-ipfs-roots"], root.to_string().as_str());
    assert!(String::from_utf8(index).unwrap().contains(&format!("articles/{SLUG}/index.html")));
    assert_eq!(
        download(&site, &format!("/ipns/{name}/articles/{SLUG}/meta.json")).await.0["x-ipfs-path"],
        format!("/ipns/{name}/articles/{SLUG}/meta.json").as_str()
    );
    let (status, other) = site.fetch("/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8").await;
    assert!(status == 404 && other.contains("not this site's IPNS name"), "{status} {other}");

    // An edit makes a new snapshot; its record has a higher sequence under the same name.
    let body = common::write_file(site.dir.path(), "v2.md", "Changed.");
    assert!(site.cli(&["post", "edit", SLUG, "--file", body.to_str().unwrap()]).status.success());
    site.run_due_jobs().await;
    let second_root = snapshot().await.unwrap();
    assert_ne!(second_root, root);
    let out = site.cli(&["ipfs", "record", work.path().join("second").to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let second = checked("second", None).unwrap();
    assert_eq!(second["value"], format!("/ipfs/{second_root}"));
    assert!(second["sequence"].as_str().unwrap().parse::<u64>().unwrap() > first_sequence, "{second}");

    // The key, exported as Kubo's `ipfs key export` writes it, is the name's; another site that
    // imports it takes the name over.
    let key = work.path().join("site.key");
    assert!(site.cli(&["ipfs", "key", "export", key.to_str().unwrap()]).status.success());
    checked("second", Some(&key)).unwrap();
    let again = site.cli(&["ipfs", "key", "export", key.to_str().unwrap()]);
    assert!(!again.status.success() && common::stderr(&again).contains("site.key"), "never overwrites a key");
    let other = tempfile::tempdir().unwrap();
    let other_url = common::fresh_database_url(backend, other.path()).await;
    assert!(common::cli_at(other.path(), &other_url, &["init"], None).status.success());
    let moved = common::cli_at(other.path(), &other_url, &["ipfs", "key", "import", key.to_str().unwrap()], None);
    assert!(stdout(&moved).contains(&name), "{}{}", stdout(&moved), common::stderr(&moved));
    let garbage = common::write_file(site.dir.path(), "garbage.key", "not a key");
    let refused = site.cli(&["ipfs", "key", "import", garbage.to_str().unwrap()]);
    assert!(
        !refused.status.success() && common::stderr(&refused).contains("garbage.key"),
        "{}",
        common::stderr(&refused)
    );
    assert!(
        stdout(&site.cli(&["ipfs", "name"])).starts_with(&format!("/ipns/{name}")),
        "a refused key changes nothing"
    );

    let dnslink = stdout(&site.cli(&["ipfs", "dnslink"]));
    assert_eq!(dnslink.trim(), format!("_dnslink.news.example.org.\tTXT\t\"dnslink=/ipns/{name}\""));
    common::drop_database(&other_url).await;
    site.finish().await;
}

#[derive(Default)]
struct PinPeer {
    /// Roots received by the Kubo endpoint, after verifying the CAR.
    kubo_roots: Vec<String>,
    /// CIDs asked of the pinning service.
    service_cids: Vec<String>,
    /// Answer 500 this many times before succeeding.
    failures_left: usize,
    /// IPNS records put into the Kubo endpoint: the `arg` and the record.
    ipns_puts: Vec<(String, Vec<u8>)>,
    /// Answer `routing/put` with 500 this many times first.
    put_failures_left: usize,
}

type Peer = Arc<Mutex<PinPeer>>;

async fn kubo_dag_import(State(peer): State<Peer>, mut form: Multipart) -> (StatusCode, String) {
    if std::mem::take(&mut peer.lock().unwrap().failures_left) > 0 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "{\"Message\":\"busy\"}".into());
    }
    let field = form.next_field().await.unwrap().expect("a file part");
    let car = field.bytes().await.unwrap();
    let reader = openvoice_ipfs::car::CarReader::new(&car[..]).expect("a CAR");
    let root = reader.roots()[0].to_string();
    let count = reader.count();
    assert!(count >= 4);
    peer.lock().unwrap().kubo_roots.push(root.clone());
    (StatusCode::OK, format!("{{\"Root\":{{\"Cid\":{{\"/\":\"{root}\"}},\"PinErrorMsg\":\"\"}}}}\n"))
}

async fn kubo_routing_put(
    State(peer): State<Peer>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    mut form: Multipart,
) -> (StatusCode, String) {
    if std::mem::take(&mut peer.lock().unwrap().put_failures_left) > 0 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "{\"Message\":\"no peers\"}".into());
    }
    let field = form.next_field().await.unwrap().expect("a file part");
    let record = field.bytes().await.unwrap().to_vec();
    peer.lock().unwrap().ipns_puts.push((query["arg"].clone(), record));
    (StatusCode::OK, "{\"Extra\":\"\",\"ID\":\"\",\"Responses\":null,\"Type\":5}\n".into())
}

async fn pinning_service(
    State(peer): State<Peer>,
    headers: HeaderMap,
    Json(body): Json<serde_json::Value>,
) -> (StatusCode, Json<serde_json::Value>) {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer s3cret-token") {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": {"reason": "UNAUTHORIZED"}})));
    }
    let cid = body["cid"].as_str().unwrap().to_string();
    peer.lock().unwrap().service_cids.push(cid.clone());
    (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "requestid": "r1", "status": "queued", "created": "2026-11-26T00:00:00Z",
            "pin": { "cid": cid, "name": body["name"] }, "delegates": []
        })),
    )
}

#[tokio::test]
async fn bundles_are_pinned_to_kubo_and_a_pinning_service_with_retries() {
    let peer: Peer = Arc::new(Mutex::new(PinPeer { failures_left: 1, put_failures_left: 1, ..Default::default() }));
    let app = Router::new()
        .route("/api/v0/dag/import", post(kubo_dag_import))
        .route("/api/v0/routing/put", post(kubo_routing_put))
        .route("/psa/pins", post(pinning_service))
        .with_state(peer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = format!(
        "[ipfs]\nkubo_rpc_url = \"http://{addr}\"\npinning_service_url = \"http://{addr}/psa\"\npinning_service_token = \"s3cret-token\"\n"
    );
    let site = TestSite::start_with(Backend::Sqlite, &config).await;
    site.run_due_jobs().await;
    let status = stdout(&site.cli(&["ipfs", "status"]));
    let states: HashMap<(String, String), String> = status
        .lines()
        .filter_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (parts.len() >= 3 && (parts[1] == "kubo" || parts[1] == "pinning-service"))
                .then(|| ((parts[0].to_string(), parts[1].to_string()), parts[2].to_string()))
        })
        .collect();
    assert_eq!(states.len(), 16, "8 bundles × 2 targets: {status}");
    assert_eq!(states[&(SLUG.to_string(), "pinning-service".to_string())], "queued");
    // One Kubo import failed with a 500 and is retried later.
    assert_eq!(states.values().filter(|s| *s == "retrying").count(), 1, "{status}");
    assert_eq!(peer.lock().unwrap().kubo_roots.len(), 7);
    assert!(!status.contains("s3cret"), "the token is never printed");
    let shown = stdout(&site.cli(&["config"]));
    assert!(!shown.contains("s3cret-token"), "{shown}");

    sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'").execute(&site.db.pool).await.unwrap();
    site.run_due_jobs().await;
    let status = stdout(&site.cli(&["ipfs", "status"]));
    assert!(!status.contains("retrying"), "{status}");
    assert_eq!(peer.lock().unwrap().kubo_roots.len(), 8);
    let cid = page_cid(&site, SLUG).await;
    assert!(peer.lock().unwrap().service_cids.contains(&cid));

    // The snapshot's IPNS record goes to Kubo's routing too, retried after a failure.
    assert!(peer.lock().unwrap().ipns_puts.is_empty(), "the first put failed");
    assert_eq!(peer.lock().unwrap().put_failures_left, 0, "it was tried");
    sqlx::query("UPDATE jobs SET run_at = 0 WHERE state = 'queued'").execute(&site.db.pool).await.unwrap();
    site.run_due_jobs().await;
    let name = stdout(&site.cli(&["ipfs", "name"])).lines().next().unwrap().to_string();
    let puts = std::mem::take(&mut peer.lock().unwrap().ipns_puts);
    assert_eq!(puts.len(), 1, "one record put");
    assert_eq!(puts[0].0, name);
    let record = site.dir.path().join("put.ipns-record");
    std::fs::write(&record, &puts[0].1).unwrap();
    let key_name = name.trim_start_matches("/ipns/");
    if let Some(out) = ipfs_js("verify-ipns.mjs", &[key_name, record.to_str().unwrap()]) {
        assert!(out.status.success(), "{}", common::stderr(&out));
        let root = openvoice::ipfs::queries::site_root(&site.db).await.unwrap().unwrap();
        assert!(stdout(&out).contains(&format!("/ipfs/{root}")), "{}", stdout(&out));
    }
    site.finish().await;
}

#[test]
fn openvoice_cid_matches_kubo_for_files_and_directories() {
    // The e-site input of the independent vectors: its CID comes from the JavaScript importer.
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("e-site");
    std::fs::create_dir_all(site.join("a")).unwrap();
    std::fs::write(site.join("index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(site.join("a/b.txt"), "b").unwrap();
    std::fs::write(site.join("feed.xml"), "<rss/>").unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello world").unwrap();
    let run = |path: &std::path::Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_openvoice")).arg("cid").arg(path).output().unwrap();
        assert!(out.status.success(), "{}", common::stderr(&out));
        stdout(&out).trim().to_string()
    };
    assert_eq!(run(&site), "bafybeicqxmtvrhqvtpvvymnqfodxq6alglqdnazoz2rctm5rodezvxhryu");
    assert_eq!(run(&dir.path().join("hello.txt")), "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
    let missing =
        std::process::Command::new(env!("CARGO_BIN_EXE_openvoice")).args(["cid", "/no/such/path"]).output().unwrap();
    assert!(!missing.status.success());
    assert!(common::stderr(&missing).contains("/no/such/path"));
}
