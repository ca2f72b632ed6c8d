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
    let peer = FedifyPeer::start(knock)?;
    let site = TestSite::start_with(backend, CONFIG).await;
    Some((peer, site))
}

async fn count(site: &TestSite, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&site.db.pool).await.unwrap();
    n
}

async fn followers(site: &TestSite) -> Vec<(String, String, String)> {
    sqlx::query_as("SELECT actor_id, host, inbox FROM ap_followers ORDER BY actor_id")
        .fetch_all(&site.db.pool)
        .await
        .unwrap()
}

on_each_backend!(a_fedify_account_follows_likes_and_unfollows);
async fn a_fedify_account_follows_likes_and_unfollows(backend: Backend) {
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
    // The scheme Fedify's first knock used was the one taken.
    let knocks = peer.sent().await;
    assert_eq!(knocks.len(), 1, "{backend:?}: one knock, not a retry with the other scheme: {knocks:#?}");
    assert_eq!(knocks[0]["status"], 202, "{backend:?}");

    let article_url = format!("{}/article/{ARTICLE}", site.base);
    peer.like(&article_url).await.expect("a like");
    peer.announce(&article_url).await.expect("a boost");
    peer.like(&article_url).await.expect("a second like by the same account");
    let reactions = count(&site, "SELECT COUNT(*) FROM ap_reactions").await;
    assert_eq!(reactions, 2, "{backend:?}: a like and a boost, the second like counted once");

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
