//! Federation against an independent ActivityPub server: Fedify (`tests/fediverse/peer.mjs`,
//! driven through `common::fedify`). Its account alice follows the site, receives what the
//! site publishes (Fedify verifies our signatures), likes and replies (we verify Fedify's), and
//! requests that are not signed by whom they claim change nothing.
//!
//! Fedify signs RFC 9421 first on SQLite's run and draft-cavage first on PostgreSQL's, so both
//! schemes are verified from the peer's first request.

#[macro_use]
mod common;

use base64::Engine as _;
use common::fedify::{FedifyPeer, FirstKnock};
use common::{Backend, TestSite};
use openvoice::accounts::Role;
use openvoice::content::service::{write, Actor, StatusChange};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CONFIG: &str = "[activitypub]\nallow_private_addresses = true\n";
/// A published post of the demo site.
const ARTICLE: &str = "parliament-approves-coastal-drone-patrols";

async fn start(backend: Backend) -> Option<(FedifyPeer, TestSite)> {
    let knock = match backend {
        Backend::Sqlite => FirstKnock::Rfc9421,
        Backend::Postgres => FirstKnock::DraftCavage,
    };
    // alice's actor is served to signed fetches only, so following proves ours are signed.
    let peer = FedifyPeer::start_with(knock, &[("PEER_AUTHORIZED_FETCH", "1")])?;
    let site = TestSite::start_with(backend, CONFIG).await;
    Some((peer, site))
}

async fn count(site: &TestSite, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&site.db.pool).await.unwrap();
    n
}

/// The ActivityPub document at `path`, as a remote server asks for it.
async fn activity_json(site: &TestSite, path: &str) -> Value {
    let response = site.client.get(format!("{}{path}", site.base)).header("accept", "application/activity+json");
    response.send().await.unwrap().json().await.unwrap()
}

async fn followers(site: &TestSite) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT actor_id, host, inbox FROM ap_followers ORDER BY actor_id")
        .fetch_all(&site.db.pool)
        .await
        .unwrap()
}

on_each_backend!(a_fedify_account_follows_likes_replies_and_leaves);
async fn a_fedify_account_follows_likes_replies_and_leaves(backend: Backend) {
    let Some((peer, site)) = start(backend).await else { return };
    let actor = format!("{}/activitypub/actor", site.base);

    let follow = peer.follow(&actor).await.expect("our inbox takes Fedify's signed Follow");
    let info = peer.info().await;
    let host = peer.origin.trim_start_matches("http://").to_string();
    assert_eq!(
        followers(&site).await,
        vec![(peer.actor.clone(), host.clone(), info["sharedInbox"].as_str().unwrap().to_string())],
        "{backend:?}: alice follows, and deliveries go to her instance's shared inbox"
    );
    let collection = activity_json(&site, "/activitypub/followers").await;
    assert_eq!(collection["totalItems"], 1, "{backend:?}: the followers collection counts her");
    // The scheme Fedify's first knock used was the one taken.
    let knocks = peer.sent().await;
    assert_eq!(knocks.len(), 1, "{backend:?}: one knock, not a retry with the other scheme: {knocks:#?}");
    assert_eq!(knocks[0]["status"], 202, "{backend:?}");

    // Fedify verifies our signed Accept, then our Create, Update and Delete of a new post.
    site.run_due_jobs().await;
    peer.wait_for(|got| got.iter().any(|a| a["type"] == "Accept" && a["object"]["id"] == follow["id"])).await;
    let file = common::write_file(site.dir.path(), "tide.md", "The *tide* came in early.\n");
    let publish =
        ["post", "new", "--title", "Early tide", "--file", file.to_str().unwrap(), "--tags", "tides", "--publish"];
    let out = site.cli(&publish);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.run_due_jobs().await;
    let tide_url = format!("{}/article/early-tide", site.base);
    let got = peer.wait_for(|got| got.iter().any(|a| a["type"] == "Create")).await;
    let create = got.iter().find(|a| a["type"] == "Create").unwrap();
    assert_eq!(create["actor"], actor.as_str(), "{backend:?}");
    assert_eq!(create["object"]["id"], tide_url.as_str(), "{backend:?}");
    assert_eq!(create["object"]["name"], "Early tide", "{backend:?}");
    assert!(create["object"]["content"].as_str().unwrap().contains("<em>tide</em>"), "{create}");
    assert!(create["object"].to_string().contains("#tides"), "{backend:?}: hashtags: {create}");
    let file = common::write_file(site.dir.path(), "tide.md", "The tide came in early, and stayed.\n");
    let out = site.cli(&["post", "edit", "early-tide", "--file", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    site.run_due_jobs().await;
    peer.wait_for(|got| got.iter().any(|a| a["type"] == "Update" && a["object"]["id"] == tide_url.as_str())).await;
    let id: i64 =
        sqlx::query_scalar("SELECT id FROM articles WHERE slug = 'early-tide'").fetch_one(&site.db.pool).await.unwrap();
    let admin = Actor { user_id: 1, role: Role::Admin };
    write::change_status(&site.db, &admin, id, StatusChange::Unpublish).await.unwrap();
    site.run_due_jobs().await;
    peer.wait_for(|got| got.iter().any(|a| a["type"] == "Delete" && a["object"]["id"] == tide_url.as_str())).await;
    let refused: Vec<Value> = peer.requests().await.into_iter().filter(|r| r["status"] != 202).collect();
    assert!(refused.is_empty(), "{backend:?}: Fedify refused none of our requests: {refused:#?}");

    let article_url = format!("{}/article/{ARTICLE}", site.base);
    peer.like(&article_url).await.expect("a like");
    peer.announce(&article_url).await.expect("a boost");
    peer.like(&article_url).await.expect("a second like by the same account");
    let reactions = count(&site, "SELECT COUNT(*) FROM ap_reactions").await;
    assert_eq!(reactions, 2, "{backend:?}: a like and a boost, the second like counted once");

    // A reply is a comment held for moderation, under alice's name, linked to her profile.
    let note = peer
        .reply(
            &article_url,
            "<p>Good reporting. <script>alert(1)</script><a href=\"https://example.org/\">source</a></p>",
            &actor,
        )
        .await
        .expect("a reply");
    let (id, status, name, url, html): (i64, String, String, String, String) =
        sqlx::query_as("SELECT id, status, author_name, author_url, content_html FROM comments WHERE remote_id = $1")
            .bind(&note)
            .fetch_one(&site.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "pending", "{backend:?}: a first reply waits for a moderator");
    assert_eq!((name.as_str(), url.as_str()), ("Alice (Fedify test peer)", peer.actor.as_str()), "{backend:?}");
    assert!(html.contains("Good reporting.") && !html.contains("script"), "{backend:?}: sanitised: {html}");
    site.settle().await;
    let (_, page) = site.fetch(&format!("/article/{ARTICLE}")).await;
    assert!(!page.contains("Good reporting."), "{backend:?}: not public while pending");
    common::stdout(&site.cli(&["comments", "approve", &id.to_string()]));
    site.settle().await;
    let (_, page) = site.fetch(&format!("/article/{ARTICLE}")).await;
    assert!(page.contains("Good reporting."), "{backend:?}: public once approved");
    // Deleting the note takes the comment down.
    peer.delete_note(&note).await.expect("a Delete of the note");
    site.settle().await;
    let (_, page) = site.fetch(&format!("/article/{ARTICLE}")).await;
    assert!(!page.contains("Good reporting."), "{backend:?}: the deleted note's comment is gone");

    peer.unfollow(Some(&actor)).await.expect("an Undo of the Follow");
    assert!(followers(&site).await.is_empty(), "{backend:?}: the Undo ends the follow");
    assert_eq!(follow["actor"], actor.as_str());

    // Following again, then deleting the account, forgets her.
    peer.follow(&actor).await.expect("following again");
    assert_eq!(followers(&site).await.len(), 1);
    peer.delete_actor().await.expect("alice deletes herself");
    assert!(followers(&site).await.is_empty(), "{backend:?}: a deleted actor follows no more");
    assert_eq!(count(&site, "SELECT COUNT(*) FROM ap_reactions").await, 0, "{backend:?}: nor are her likes counted");
    site.finish().await;
}

/// A Follow in alice's name, signed draft-cavage by `key` under alice's key id (Fedify would
/// not sign a forgery): what a forger without her key can send.
fn forged(site: &TestSite, peer: &FedifyPeer, key: &rsa::RsaPrivateKey, body: &str) -> reqwest::RequestBuilder {
    let digest = format!("SHA-256={}", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body)));
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let host = site.base.trim_start_matches("http://");
    let signing_string = format!(
        "(request-target): post /activitypub/inbox\nhost: {host}\ndate: {date}\ndigest: {digest}\ncontent-type: application/activity+json"
    );
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(signing_string.as_bytes());
    let header = format!(
        "keyId=\"{}#main-key\",algorithm=\"rsa-sha256\",headers=\"(request-target) host date digest content-type\",signature=\"{}\"",
        peer.actor,
        base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())
    );
    site.client
        .post(format!("{}/activitypub/inbox", site.base))
        .header("content-type", "application/activity+json")
        .header("date", date)
        .header("digest", digest)
        .header("signature", header)
        .body(body.to_string())
}

on_each_backend!(requests_not_signed_by_their_actor_change_nothing);
async fn requests_not_signed_by_their_actor_change_nothing(backend: Backend) {
    let Some((peer, site)) = start(backend).await else { return };
    let actor = format!("{}/activitypub/actor", site.base);
    let follow = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": format!("{}/follows/forged", peer.origin),
        "type": "Follow",
        "actor": peer.actor,
        "object": actor,
    })
    .to_string();
    let inbox = format!("{}/activitypub/inbox", site.base);
    let status = |response: reqwest::Response| response.status().as_u16();

    let unsigned = site.client.post(&inbox).header("content-type", "application/activity+json").body(follow.clone());
    let response = unsigned.send().await.unwrap();
    assert_eq!(status(response), 401, "{backend:?}: unsigned");

    let forger = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let response = forged(&site, &peer, &forger, &follow).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401, "{backend:?}: signed with a key that is not alice's");
    let message: Value = response.json().await.unwrap();
    assert!(message["error"].as_str().unwrap().contains("does not verify"), "{message}");

    // The right digest of another body: the signature covers the digest.
    let mut tampered = forged(&site, &peer, &forger, &follow).build().unwrap();
    *tampered.body_mut() = Some(follow.replace("forged", "tampered").into());
    let response = site.client.execute(tampered).await.unwrap();
    assert_eq!(status(response), 401, "{backend:?}: a body that is not the digested one");

    let response = site.client.post(&inbox).header("content-type", "text/html").body(follow.clone()).send().await;
    assert_eq!(status(response.unwrap()), 415, "{backend:?}: not an activity");
    let huge = format!("{{\"pad\":\"{}\"}}", "x".repeat(300 * 1024));
    let response = site.client.post(&inbox).header("content-type", "application/activity+json").body(huge);
    assert_eq!(status(response.send().await.unwrap()), 413, "{backend:?}: too large");

    assert!(followers(&site).await.is_empty(), "{backend:?}: no forged request made a follower");

    // A blocked instance's own, well-signed Follow is refused too.
    let host = peer.origin.trim_start_matches("http://").to_string();
    sqlx::query("INSERT INTO ap_blocks (target, created_at) VALUES ($1, 0)")
        .bind(&host)
        .execute(&site.db.pool)
        .await
        .unwrap();
    let refused = peer.follow(&actor).await.expect_err("a blocked instance's follow is refused");
    assert!(refused.body.contains("403"), "{backend:?}: {refused}");
    assert!(followers(&site).await.is_empty(), "{backend:?}: nor did a blocked instance's");
    site.finish().await;
}

mod local {
    //! The fediverse's write side that needs no remote server, on every backend: replies that become
    //! comments (`comments::service::submit_remote`, `delete_remote`), the desk's Fediverse screen
    //! (followers, counts, blocks), and `openvoice fediverse`.

    use crate::common::desk::Desk;
    use crate::common::{Backend, TestSite};
    use openvoice::accounts::Role;
    use openvoice::activitypub::queries::{actors, followers};
    use openvoice::comments::model::{CommentStatus, RemoteReply};
    use openvoice::comments::service::{self, CommentError};
    use reqwest::StatusCode;
    use scraper::{Html, Selector};

    const ARTICLE: &str = "parliament-approves-coastal-drone-patrols";
    const CONFIG: &str = "[comments]\nmin_seconds = 0\nflood_seconds = 0\ndisallowed_keys = [\"viagra\"]\n";
    const ANN: &str = "https://masto.example/users/ann";

    fn reply(remote_id: &str, actor: &str, html: &str) -> RemoteReply {
        RemoteReply {
            slug: ARTICLE.into(),
            parent_id: None,
            remote_id: remote_id.into(),
            remote_actor: actor.into(),
            author_name: "Ann Remote".into(),
            author_url: "https://masto.example/@ann".into(),
            content_html: html.into(),
            published_at: Some(1_700_000_000),
        }
    }

    async fn article_page(site: &TestSite) -> String {
        site.settle().await;
        let (status, html) = site.fetch(&format!("/article/{ARTICLE}")).await;
        assert_eq!(status, 200);
        html
    }

    fn select_all(html: &str, css: &str) -> Vec<(String, Option<String>)> {
        let doc = Html::parse_document(html);
        let selector = Selector::parse(css).unwrap();
        doc.select(&selector)
            .map(|e| (e.text().collect::<String>(), e.value().attr("href").map(str::to_string)))
            .collect()
    }

    on_each_backend!(replies_become_comments_under_the_forms_rules);
    async fn replies_become_comments_under_the_forms_rules(backend: Backend) {
        let site = TestSite::start_with(backend, CONFIG).await;
        let config = &site.config.comments;

        // A first reply waits for a moderator, like a first comment from the form.
        let note = r#"<p><span class="h-card"><a href="https://masto.example/@news" class="u-url mention" onclick="steal()">@<span>news</span></a></span> Well reported.<script>alert(1)</script></p>"#;
        let first =
            service::submit_remote(&site.db, config, reply("https://masto.example/notes/1", ANN, note)).await.unwrap();
        assert_eq!((first.status, first.created), (CommentStatus::Pending, true));
        assert!(!article_page(&site).await.contains("Well reported."), "a pending reply is not public");
        let (email, html, created): (String, String, i64) =
            sqlx::query_as("SELECT author_email, content_html, created_at FROM comments WHERE id = $1")
                .bind(first.id)
                .fetch_one(&site.db.pool)
                .await
                .unwrap();
        assert_eq!(email, "", "no email for a remote comment");
        assert_eq!(created, 1_700_000_000, "the note's published time");
        for gone in ["<script", "alert(1)", "onclick", "<span", "class="] {
            assert!(!html.contains(gone), "{gone} in {html}");
        }
        assert!(
            html.contains(r#"<a href="https://masto.example/@news" rel="nofollow ugc noopener">@news</a>"#),
            "{html}"
        );

        // The same note delivered again changes nothing.
        let again =
            service::submit_remote(&site.db, config, reply("https://masto.example/notes/1", ANN, note)).await.unwrap();
        assert_eq!((again.id, again.created), (first.id, false));
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM comments WHERE remote_actor = $1")
            .bind(ANN)
            .fetch_one(&site.db.pool)
            .await
            .unwrap();
        assert_eq!(stored, 1);
        // Another actor cannot claim that note.
        let claimed = service::submit_remote(
            &site.db,
            config,
            reply("https://masto.example/notes/1", "https://evil.example/users/eve", "<p>mine</p>"),
        )
        .await;
        assert!(matches!(claimed, Err(CommentError::Invalid(_))), "{claimed:?}");

        // Approved, it is public, its author's name linking to their profile.
        service::set_status(&site.db, &[first.id], CommentStatus::Approved).await.unwrap();
        let page = article_page(&site).await;
        assert!(page.contains("Well reported."));
        let authors = select_all(&page, &format!("#comment-{} .comment-author a", first.id));
        assert_eq!(authors, [("Ann Remote".to_string(), Some("https://masto.example/@ann".to_string()))]);
        assert_eq!(select_all(&page, &format!("#comment-{} .comment-via", first.id)).len(), 1, "via the fediverse");
        assert!(!page.contains("steal()") && !page.contains("alert(1)"));

        // Her next reply is approved at once, as a returning commenter's; a reply to a comment nests.
        let mut second = reply("https://masto.example/notes/2", ANN, "<p>And another thing.</p>");
        second.parent_id = Some(first.id);
        let second = service::submit_remote(&site.db, config, second).await.unwrap();
        assert_eq!(second.status, CommentStatus::Approved);
        assert!(article_page(&site).await.contains("And another thing."));
        // Even hers waits with as many links as the form's rule holds.
        let links = "<p>See https://a.example/1 and <a href=\"https://b.example/2\">this</a></p>";
        let linked = service::submit_remote(&site.db, config, reply("https://masto.example/notes/3", ANN, links)).await;
        assert_eq!(linked.unwrap().status, CommentStatus::Pending);

        // The word lists apply: a disallowed word is spam, and a stranger's reply waits.
        let bob = "https://other.example/users/bob";
        let spam =
            service::submit_remote(&site.db, config, reply("https://other.example/n/1", bob, "<p>cheap VIAGRA</p>"))
                .await
                .unwrap();
        assert_eq!(spam.status, CommentStatus::Spam);
        let held = service::submit_remote(&site.db, config, reply("https://other.example/n/2", bob, "<p>Hello</p>"))
            .await
            .unwrap();
        assert_eq!(held.status, CommentStatus::Pending, "an approved comment by someone else does not vouch for bob");

        // Replies to an unknown article, or an empty note, are refused.
        let mut nowhere = reply("https://other.example/n/3", bob, "<p>Hi</p>");
        nowhere.slug = "no-such-article".into();
        assert!(matches!(service::submit_remote(&site.db, config, nowhere).await, Err(CommentError::NoArticle)));
        let empty = service::submit_remote(&site.db, config, reply("https://other.example/n/4", bob, "<p> </p>")).await;
        assert!(matches!(empty, Err(CommentError::Invalid(ref f)) if f[0].0 == "comment"), "{empty:?}");

        // The desk's queue shows the actor instead of an email.
        let editor = Desk::sign_in(&site, Role::Editor).await;
        let queue = editor.get(&site, "/admin/comments?status=pending").await.text().await.unwrap();
        assert!(queue.contains(bob) && queue.contains("via the fediverse"), "{queue}");

        // Only the note's author can delete it; then it leaves the page.
        assert!(!service::delete_remote(&site.db, "https://masto.example/notes/2", bob).await.unwrap());
        assert!(article_page(&site).await.contains("And another thing."));
        assert!(service::delete_remote(&site.db, "https://masto.example/notes/2", ANN).await.unwrap());
        assert!(!article_page(&site).await.contains("And another thing."));
        assert!(!service::delete_remote(&site.db, "https://masto.example/notes/2", ANN).await.unwrap(), "once");
        assert!(!service::delete_remote(&site.db, "https://masto.example/notes/404", ANN).await.unwrap());
        site.finish().await;
    }

    async fn add_follower(site: &TestSite, actor_id: &str, host: &str, followed_at: i64) {
        let follower = followers::Follower {
            actor_id: actor_id.into(),
            host: host.into(),
            inbox: format!("https://{host}/inbox"),
            follow_id: format!("{actor_id}#follow"),
            followed_at,
        };
        let mut conn = site.db.pool.acquire().await.unwrap();
        followers::add(&mut conn, &follower).await.unwrap();
    }

    async fn count(site: &TestSite) -> i64 {
        followers::count(&site.db).await.unwrap()
    }

    on_each_backend!(the_desk_lists_followers_and_blocks_instances_and_actors);
    async fn the_desk_lists_followers_and_blocks_instances_and_actors(backend: Backend) {
        let site = TestSite::start_with(backend, CONFIG).await;
        for i in 0..52 {
            add_follower(&site, &format!("https://good.example/users/u{i:02}"), "good.example", 1_000 + i).await;
        }
        for i in 0..3 {
            add_follower(&site, &format!("https://bad.example/users/b{i}"), "bad.example", 2_000 + i).await;
        }
        add_follower(&site, "https://solo.example/users/carol", "solo.example", 500).await;
        let carol = actors::RemoteActor {
            actor_id: "https://solo.example/users/carol".into(),
            key_id: "https://solo.example/users/carol#main-key".into(),
            public_key_pem: "-----BEGIN PUBLIC KEY-----".into(),
            inbox: "https://solo.example/users/carol/inbox".into(),
            shared_inbox: None,
            handle: "carol@solo.example".into(),
            name: "Carol".into(),
            profile_url: "https://solo.example/@carol".into(),
            fetched_at: 1,
        };
        actors::save(&site.db, &carol).await.unwrap();
        sqlx::query(
            "INSERT INTO ap_reactions (activity_id, kind, article_id, actor_id, created_at) \
             SELECT 'https://x.example/like/' || id, 'like', id, 'https://x.example/users/x', 1 FROM articles WHERE slug = $1",
        )
        .bind(ARTICLE)
        .execute(&site.db.pool)
        .await
        .unwrap();

        let editor = Desk::sign_in(&site, Role::Editor).await;
        let response = editor.get(&site, "/admin/fediverse").await;
        assert_eq!(response.status(), StatusCode::OK);
        let html = response.text().await.unwrap();
        let text = |css: &str| crate::common::desk::texts_of(&html, css);
        assert_eq!(text(".fediverse-handle")[0], format!("@news@{}", site.base.trim_start_matches("http://")));
        assert_eq!(text("#followers-count"), ["56"]);
        assert_eq!(text("#instances-count"), ["3"]);
        assert_eq!((text("#likes-count"), text("#boosts-count")), (vec!["1".to_string()], vec!["0".to_string()]));
        let rows = text(".follower-actor");
        assert_eq!(rows.len(), 50, "fifty a page");
        assert_eq!(rows[0], "https://bad.example/users/b2", "newest first");
        let second = editor.get(&site, "/admin/fediverse?page=2").await.text().await.unwrap();
        let rows = crate::common::desk::texts_of(&second, ".follower-actor");
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[5], "@carol@solo.example Carol", "a known actor by handle and name");

        // Bad input: 422 naming the field, and nothing changes.
        let long = format!("{}.example", "a".repeat(250));
        for bad in ["", "   ", long.as_str(), "not a host", "ftp://bad.example/x", "@nobody@unknown.example"] {
            let response = editor.post_form(&site, "/admin/fediverse/block", &[("target", bad)]).await;
            assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
            let html = response.text().await.unwrap();
            assert_eq!(crate::common::desk::texts_of(&html, "#target-error").len(), 1, "{bad:?}: {html}");
        }
        assert_eq!(count(&site).await, 56);
        assert!(followers::blocks(&site.db).await.unwrap().is_empty());
        let refused = editor.post_form(&site, "/admin/fediverse/unblock", &[("target", "bad.example")]).await;
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "not blocked");
        assert!(refused.text().await.unwrap().contains("bad.example is not blocked"));

        // Without the CSRF token: 403, nothing changes.
        let forged = editor
            .client
            .post(format!("{}/admin/fediverse/block", site.base))
            .form(&[("target", "bad.example")])
            .send();
        assert_eq!(forged.await.unwrap().status(), StatusCode::FORBIDDEN);
        assert_eq!(count(&site).await, 56);

        // Blocking an instance removes its followers at once and lists the block.
        let done = editor.post_form(&site, "/admin/fediverse/block", &[("target", "Bad.Example")]).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(count(&site).await, 53);
        let html = editor.get(&site, "/admin/fediverse").await.text().await.unwrap();
        assert_eq!(crate::common::desk::texts_of(&html, ".block-target"), ["bad.example"]);
        assert!(!html.contains("https://bad.example/users/b2"));
        let mut conn = site.db.pool.acquire().await.unwrap();
        assert!(followers::is_blocked(&mut conn, "https://bad.example/users/b9", "bad.example").await.unwrap());
        drop(conn);

        // A known handle resolves to its actor.
        let done = editor.post_form(&site, "/admin/fediverse/block", &[("target", "@Carol@solo.example")]).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        assert_eq!(count(&site).await, 52);
        let blocked: Vec<String> = followers::blocks(&site.db).await.unwrap().into_iter().map(|b| b.target).collect();
        assert!(blocked.contains(&"https://solo.example/users/carol".to_string()), "{blocked:?}");

        // Unblock.
        let done = editor.post_form(&site, "/admin/fediverse/unblock", &[("target", "bad.example")]).await;
        assert_eq!(done.status(), StatusCode::SEE_OTHER);
        let html = editor.get(&site, "/admin/fediverse").await.text().await.unwrap();
        assert_eq!(crate::common::desk::texts_of(&html, ".block-target"), ["https://solo.example/users/carol"]);
        assert!(html.contains(r#"href="/admin/fediverse""#), "in the editor's navigation");

        // Authors and contributors: refused, and no link.
        for role in [Role::Author, Role::Contributor] {
            let desk = Desk::sign_in(&site, role).await;
            assert_eq!(desk.get(&site, "/admin/fediverse").await.status(), StatusCode::FORBIDDEN, "{role:?}");
            let refused = desk.post_form(&site, "/admin/fediverse/block", &[("target", "good.example")]).await;
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{role:?}");
            let home = desk.get(&site, "/admin").await.text().await.unwrap();
            assert!(!home.contains("/admin/fediverse"), "{role:?} sees no Fediverse link");
        }
        assert_eq!(count(&site).await, 52);
        site.finish().await;
    }

    on_each_backend!(the_cli_reports_and_blocks);
    async fn the_cli_reports_and_blocks(backend: Backend) {
        let site = TestSite::start_with(backend, CONFIG).await;
        add_follower(&site, "https://bad.example/users/a", "bad.example", 10).await;
        add_follower(&site, "https://good.example/users/b", "good.example", 20).await;

        let out = site.cli(&["fediverse", "status"]);
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
        let status = crate::common::stdout(&out);
        assert!(status.contains("followers  2") && status.contains("instances  2") && status.contains("blocks     0"));
        assert!(status.contains("handle     @news@"), "{status}");

        sqlx::query("INSERT INTO ap_instances (host, failing_since, last_error) VALUES ('down.example', 1, 'timeout')")
            .execute(&site.db.pool)
            .await
            .unwrap();
        assert!(crate::common::stdout(&site.cli(&["fediverse", "status"])).contains("failing    1 instance(s)"));

        let listed = crate::common::stdout(&site.cli(&["fediverse", "followers", "--limit", "1"]));
        assert_eq!(listed.lines().count(), 1);
        assert!(listed.contains("https://good.example/users/b"), "newest first: {listed}");

        let out = site.cli(&["fediverse", "block", "bad.example"]);
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
        assert!(crate::common::stdout(&out).contains("1 follower(s) removed"));
        assert_eq!(count(&site).await, 1);
        assert!(crate::common::stdout(&site.cli(&["fediverse", "blocks"])).contains("bad.example"));

        let out = site.cli(&["fediverse", "block", "not a host"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(crate::common::stderr(&out).contains("TARGET"), "{}", crate::common::stderr(&out));
        let out = site.cli(&["fediverse", "unblock", "good.example"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(crate::common::stderr(&out).contains("not blocked"), "{}", crate::common::stderr(&out));
        assert_eq!(site.cli(&["fediverse", "block"]).status.code(), Some(2), "a missing argument is a usage error");

        assert!(site.cli(&["fediverse", "unblock", "bad.example"]).status.success());
        assert!(crate::common::stdout(&site.cli(&["fediverse", "blocks"])).contains("Nothing is blocked."));
        site.finish().await;
    }
}

mod delivery {
    //! ActivityPub's outgoing side: an article's publication, edit, unpublishing and trashing
    //! reach each follower's inbox once per distinct inbox, signed with the actor's published key,
    //! and failing inboxes are retried, given up, or not tried, as the delivery module's doc says.
    //! The inboxes are small HTTP servers on loopback addresses of their own (127.0.0.N), so each
    //! is an instance; the site allows private addresses for them.

    use std::sync::{Arc, Mutex};

    use crate::common::{Backend, TestSite};
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use base64::Engine;
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
        /// `127.0.0.N:PORT`, as the inbox keys a follower's host (`remote::host_of`).
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
            Instance { base: format!("http://{ip}:{port}"), host: format!("{ip}:{port}"), received }
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
        let actor = super::activity_json(site, "/activitypub/actor").await;
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
                let inboxes =
                    job["inboxes"].as_array().unwrap().iter().map(|i| i.as_str().unwrap().to_string()).collect();
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
        execute(&site, "INSERT INTO ap_blocks (target, created_at) VALUES ($1, 0)", &[blocked_host.host.as_str()])
            .await;
        execute(&site, "INSERT INTO ap_blocks (target, created_at) VALUES ($1, 0)", &[erin.as_str()]).await;
        // Failing for longer than give_up_after_hours (a week).
        sqlx::query("INSERT INTO ap_instances (host, failing_since, last_error) VALUES ($1, $2, 'answered 503')")
            .bind(&dead.host)
            .bind(now - 200 * 3600)
            .execute(&site.db.pool)
            .await
            .expect("noting a dead instance");

        let file = crate::common::write_file(site.dir.path(), "gulls.md", "Gulls *follow* the ferries.\n");
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
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
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
        assert_eq!(noted[0].0, failing.host);
        assert!(noted[0].1.contains("500"), "{noted:?}");
        assert_eq!(noted[1].0, dead.host);

        // An edit is an Update of the same object.
        let file = crate::common::write_file(site.dir.path(), "gulls.md", "Gulls follow the ferries home.\n");
        let out = site.cli(&["post", "edit", "gulls", "--file", file.to_str().unwrap(), "--title", "Gulls again"]);
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
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
        crate::common::write_file(&dir, "old.md", "---\ntitle: Old news\ndate: 2019-05-01T10:00:00Z\n---\nLong ago.\n");
        let out = site.cli(&["import", "markdown", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", crate::common::stderr(&out));
        site.run_due_jobs().await;
        assert_eq!(shared.received().len(), sent, "an old import is not federated");
        let recorded: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM ap_articles r JOIN articles a ON a.id = r.article_id WHERE a.slug = 'old-news'",
        )
        .fetch_one(&site.db.pool)
        .await
        .unwrap();
        assert_eq!(recorded, 0);

        // An instance blocked after its delivery was queued is not delivered to.
        let (to_shared, to_other) = (shared.received().len(), other.received().len());
        let activity =
            serde_json::json!({ "id": format!("{}/activitypub/tests/late-block", site.base), "type": "Create" });
        let mut conn = site.db.pool.acquire().await.unwrap();
        let inboxes = vec![shared.url("/inbox"), other.url("/users/carol/inbox")];
        openvoice::activitypub::delivery::send(&mut conn, &activity, inboxes, openvoice::store::now()).await.unwrap();
        drop(conn);
        execute(&site, "INSERT INTO ap_blocks (target, created_at) VALUES ($1, 0)", &[other.host.as_str()]).await;
        site.run_due_jobs().await;
        assert_eq!(shared.received().len(), to_shared + 1, "the instance not blocked gets it");
        assert_eq!(other.received().len(), to_other, "the instance blocked meanwhile does not");

        site.finish().await;
    }
}
