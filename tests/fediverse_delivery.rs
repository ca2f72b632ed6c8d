//! ActivityPub's outgoing side: an article's publication, edit, unpublishing and trashing
//! reach each follower's inbox once per distinct inbox, signed with the actor's published key,
//! and failing inboxes are retried, given up, or not tried, as the delivery module's doc says.
//! The inboxes are small HTTP servers on loopback addresses of their own (127.0.0.N), so each
//! is an instance; the site allows private addresses for them.

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine;
use common::{Backend, TestSite};
use openvoice::activitypub::queries::followers::{self, Follower};
use openvoice::content::service::{write, Actor, StatusChange};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A request an inbox received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// An instance's inbox server, answering every POST with one status.
#[derive(Clone)]
struct Instance {
    /// `http://127.0.0.N:PORT`
    base: String,
    host: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Instance {
    async fn start(ip: &str, status: u16) -> Instance {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("binding a loopback address");
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answer = StatusCode::from_u16(status).unwrap();
        let app = axum::Router::new().fallback(
            |State((received, answer)): State<(Arc<Mutex<Vec<Received>>>, StatusCode)>,
             uri: Uri,
             headers: HeaderMap,
             body: Bytes| async move {
                received.lock().unwrap().push(Received { path: uri.path().to_string(), headers, body });
                answer
            },
        );
        let app = app.with_state((received.clone(), answer));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Instance { base: format!("http://{ip}:{port}"), host: ip.to_string(), received }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Adds follower `name` of this instance, delivered at `inbox`.
    async fn follow(&self, site: &TestSite, name: &str, inbox: &str) -> String {
        let actor_id = self.url(&format!("/users/{name}"));
        let follower = Follower {
            actor_id: actor_id.clone(),
            host: self.host.clone(),
            inbox: self.url(inbox),
            follow_id: format!("{actor_id}#follow"),
            followed_at: openvoice::store::now(),
        };
        let mut conn = site.db.pool.acquire().await.unwrap();
        followers::add(&mut conn, &follower).await.unwrap();
        actor_id
    }
}

async fn execute(site: &TestSite, sql: &str, values: &[&str]) {
    let mut query = sqlx::query(sql);
    for value in values {
        query = query.bind(*value);
    }
    query.execute(&site.db.pool).await.expect(sql);
}

/// The actor's published key, as a remote instance fetches it.
async fn published_key(site: &TestSite) -> rsa::RsaPublicKey {
    let actor: Value = site
        .client
        .get(format!("{}/activitypub/actor", site.base))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(actor["publicKey"]["id"], format!("{}/activitypub/actor#main-key", site.base));
    rsa::RsaPublicKey::from_public_key_pem(actor["publicKey"]["publicKeyPem"].as_str().unwrap()).unwrap()
}

/// Checks `request`'s `Digest` and `Signature` as Mastodon does.
fn assert_signed(site: &TestSite, key: &rsa::RsaPublicKey, request: &Received) {
    let header = |name: &str| request.headers.get(name).unwrap_or_else(|| panic!("no {name}")).to_str().unwrap();
    let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&request.body));
    assert_eq!(header("digest"), format!("SHA-256={digest}"));
    assert_eq!(header("content-type"), "application/activity+json");
    let signature = header("signature");
    let field = |name: &str| {
        let start = signature.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        signature[start..].split('"').next().unwrap().to_string()
    };
    assert_eq!(field("keyId"), format!("{}/activitypub/actor#main-key", site.base));
    assert_eq!(field("algorithm"), "rsa-sha256");
    let names = field("headers");
    for required in ["(request-target)", "host", "date", "digest"] {
        assert!(names.split(' ').any(|n| n == required), "{required} is signed: {names}");
    }
    let signing_string: Vec<String> = names
        .split(' ')
        .map(|name| match name {
            "(request-target)" => format!("(request-target): post {}", request.path),
            name => format!("{name}: {}", header(name)),
        })
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD.decode(field("signature")).unwrap();
    let signature = Signature::try_from(bytes.as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(signing_string.join("\n").as_bytes(), &signature)
        .expect("the signature verifies with the actor's published key");
    let date = httpdate::parse_http_date(header("date")).unwrap();
    assert!(date.elapsed().unwrap_or_default().as_secs() < 300, "a fresh Date");
}

/// Queued delivery jobs: (inboxes, attempt, seconds until due).
async fn queued_deliveries(site: &TestSite) -> Vec<(Vec<String>, u64, i64)> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT payload, run_at FROM jobs WHERE kind = 'activitypub.deliver' AND state = 'queued'")
            .fetch_all(&site.db.pool)
            .await
            .unwrap();
    let now = openvoice::store::now();
    rows.into_iter()
        .map(|(payload, run_at)| {
            let job: Value = serde_json::from_str(&payload).unwrap();
            let inboxes = job["inboxes"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect();
            (inboxes, job["attempt"].as_u64().unwrap(), run_at - now)
        })
        .collect()
}

on_each_backend!(articles_are_delivered_to_each_inbox_once_signed_and_retried_or_given_up);
async fn articles_are_delivered_to_each_inbox_once_signed_and_retried_or_given_up(backend: Backend) {
    let site = TestSite::start_with(backend, "[activitypub]\nallow_private_addresses = true\n").await;
    // The demo seed's own jobs first, before anyone follows.
    site.run_due_jobs().await;

    let shared = Instance::start("127.0.0.2", 202).await;
    let other = Instance::start("127.0.0.3", 200).await;
    let blocked_host = Instance::start("127.0.0.4", 200).await;
    let failing = Instance::start("127.0.0.5", 500).await;
    let gone = Instance::start("127.0.0.6", 410).await;
    let dead = Instance::start("127.0.0.7", 503).await;
    shared.follow(&site, "alice", "/inbox").await;
    shared.follow(&site, "bob", "/inbox").await;
    let erin = shared.follow(&site, "erin", "/users/erin/inbox").await;
    other.follow(&site, "carol", "/users/carol/inbox").await;
    blocked_host.follow(&site, "dave", "/inbox").await;
    failing.follow(&site, "frank", "/inbox").await;
    gone.follow(&site, "gina", "/inbox").await;
    dead.follow(&site, "hal", "/inbox").await;
    let now = openvoice::store::now();
    execute(&site, "INSERT INTO ap_blocks (target, created_at) VALUES ($1, 0)", &["127.0.0.4"]).await;
    execute(&site, "INSERT INTO ap_blocks (target, created_at) VALUES ($1, 0)", &[erin.as_str()]).await;
    // Failing for longer than give_up_after_hours (a week).
    sqlx::query("INSERT INTO ap_instances (host, failing_since, last_error) VALUES ($1, $2, 'answered 503')")
        .bind("127.0.0.7")
        .bind(now - 200 * 3600)
        .execute(&site.db.pool)
        .await
        .expect("noting a dead instance");

    let file = common::write_file(site.dir.path(), "gulls.md", "Gulls *follow* the ferries.\n");
    let out = site.cli(&[
        "post",
        "new",
        "--title",
        "Gulls",
        "--file",
        file.to_str().unwrap(),
        "--tags",
        "seabirds,Harbour Life",
        "--publish",
    ]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.run_due_jobs().await;

    // One POST per distinct inbox; none to blocked hosts or actors, nor to the dead instance.
    let to_shared = shared.received();
    assert_eq!(to_shared.len(), 1, "the shared inbox once, erin's blocked inbox never: {to_shared:?}");
    assert_eq!(to_shared[0].path, "/inbox");
    assert_eq!(other.received().len(), 1);
    assert_eq!(other.received()[0].path, "/users/carol/inbox");
    assert!(blocked_host.received().is_empty(), "a blocked instance gets nothing");
    assert!(dead.received().is_empty(), "an instance failing for over a week is not tried");
    assert_eq!(failing.received().len(), 1);
    assert_eq!(gone.received().len(), 1);

    let key = published_key(&site).await;
    let create = to_shared[0].json();
    assert_signed(&site, &key, &to_shared[0]);
    assert_signed(&site, &key, &other.received()[0]);
    let article_url = format!("{}/article/gulls", site.base);
    assert_eq!(create["type"], "Create");
    assert_eq!(create["actor"], format!("{}/activitypub/actor", site.base));
    assert_eq!(create["to"][0], "https://www.w3.org/ns/activitystreams#Public");
    assert_eq!(create["cc"][0], format!("{}/activitypub/followers", site.base));
    let object = &create["object"];
    assert_eq!(object["type"], "Article");
    assert_eq!(object["id"], article_url);
    assert_eq!(object["url"], article_url);
    assert_eq!(object["name"], "Gulls");
    assert!(object["content"].as_str().unwrap().contains("<em>follow</em>"), "{object}");
    let tags: Vec<&str> = object["tag"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(tags.contains(&"#seabirds") && tags.contains(&"#HarbourLife"), "{tags:?}");
    assert!(create["id"].as_str().unwrap().starts_with(&format!("{article_url}#create-")));

    // The 500 is retried once, later, and its instance noted; the 410 and the dead one are not.
    let queued = queued_deliveries(&site).await;
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].0, vec![failing.url("/inbox")]);
    assert_eq!(queued[0].1, 1);
    assert!((50..=70).contains(&queued[0].2), "a minute's back-off: {queued:?}");
    let noted: Vec<(String, String)> = sqlx::query_as("SELECT host, last_error FROM ap_instances ORDER BY host")
        .fetch_all(&site.db.pool)
        .await
        .unwrap();
    assert_eq!(noted.len(), 2, "{noted:?}");
    assert_eq!(noted[0].0, "127.0.0.5");
    assert!(noted[0].1.contains("500"), "{noted:?}");
    assert_eq!(noted[1].0, "127.0.0.7");

    // An edit is an Update of the same object.
    let file = common::write_file(site.dir.path(), "gulls.md", "Gulls follow the ferries home.\n");
    let out = site.cli(&["post", "edit", "gulls", "--file", file.to_str().unwrap(), "--title", "Gulls again"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.run_due_jobs().await;
    let to_shared = shared.received();
    assert_eq!(to_shared.len(), 2);
    let update = to_shared[1].json();
    assert_signed(&site, &key, &to_shared[1]);
    assert_eq!(update["type"], "Update");
    assert_eq!(update["object"]["id"], article_url);
    assert_eq!(update["object"]["name"], "Gulls again");
    assert!(update["id"].as_str().unwrap().starts_with(&format!("{article_url}#update-")));
    // Running the jobs again sends nothing new.
    site.run_due_jobs().await;
    assert_eq!(shared.received().len(), 2);

    // Unpublishing is a Delete of a Tombstone.
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM articles WHERE slug = 'gulls'").fetch_one(&site.db.pool).await.unwrap();
    let admin = Actor { user_id: 1, role: openvoice::accounts::Role::Admin };
    write::change_status(&site.db, &admin, id, StatusChange::Unpublish).await.unwrap();
    site.run_due_jobs().await;
    let to_shared = shared.received();
    assert_eq!(to_shared.len(), 3);
    let delete = to_shared[2].json();
    assert_signed(&site, &key, &to_shared[2]);
    assert_eq!(delete["type"], "Delete");
    assert_eq!(delete["id"], format!("{article_url}#delete"));
    assert_eq!(delete["object"]["type"], "Tombstone");
    assert_eq!(delete["object"]["id"], article_url);
    // Trashing a draft that was deleted already sends nothing more.
    write::change_status(&site.db, &admin, id, StatusChange::Trash).await.unwrap();
    site.run_due_jobs().await;
    assert_eq!(shared.received().len(), 3);

    // Published again it is created again, and trashing it deletes it again.
    write::change_status(&site.db, &admin, id, StatusChange::Restore).await.unwrap();
    write::change_status(&site.db, &admin, id, StatusChange::Publish).await.unwrap();
    site.run_due_jobs().await;
    assert_eq!(shared.received().last().unwrap().json()["type"], "Create");
    write::change_status(&site.db, &admin, id, StatusChange::Trash).await.unwrap();
    site.run_due_jobs().await;
    assert_eq!(shared.received().last().unwrap().json()["type"], "Delete");
    let sent = shared.received().len();

    // An article imported with a date long past is back catalogue: not sent, even when edited.
    let dir = site.dir.path().join("import");
    std::fs::create_dir_all(&dir).unwrap();
    common::write_file(&dir, "old.md", "---\ntitle: Old news\ndate: 2019-05-01T10:00:00Z\n---\nLong ago.\n");
    let out = site.cli(&["import", "markdown", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.run_due_jobs().await;
    assert_eq!(shared.received().len(), sent, "an old import is not federated");
    let recorded: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM ap_articles r JOIN articles a ON a.id = r.article_id WHERE a.slug = 'old-news'",
    )
    .fetch_one(&site.db.pool)
    .await
    .unwrap();
    assert_eq!(recorded, 0);

    site.finish().await;
}
