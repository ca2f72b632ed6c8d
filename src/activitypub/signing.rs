//! HTTP signatures on the requests the site sends, as Mastodon verifies them: draft-cavage-12
//! with RSASSA-PKCS1-v1_5 over SHA-256, signing `(request-target) content-type date digest host`
//! of every POST, with `Digest: SHA-256=<base64>` of the body, and `(request-target) date host`
//! of the GETs that fetch remote actors.
//!
//! The signing string comes from the `http-signature-normalization` crate (asonix's, which
//! Lemmy and relays sign with); the `Signature` header is that crate's, with its algorithm named
//! `rsa-sha256` rather than `hs2019`: Mastodon accepts both, but implementations built on older
//! signature libraries (joyent's `http-signature`, as Misskey's forks used) refuse `hs2019`,
//! and `rsa-sha256` is what Mastodon itself sends. The RSA signature itself is AWS-LC's
//! (`aws-lc-rs`): the `rsa` crate (which makes and stores the key) signs the same bytes, but took
//! about 1.25 ms of a core per signature, and ring twice AWS-LC's time; every delivery is one
//! signature, and their CPU is what a fan-out takes from the pages (BENCHMARKS.md).

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha2::{Digest, Sha256};

/// The media type of what the site POSTs.
pub const CONTENT_TYPE: &str = "application/activity+json";

/// The headers of one signed POST, besides `Host` (which the HTTP client sets from the URL
/// that was signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub date: String,
    pub digest: String,
    pub content_type: &'static str,
    pub signature: String,
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error("{0:?} is not an http(s) URL with a host")]
    Url(String),
    #[error("building the signing string: {0}")]
    SigningString(#[from] http_signature_normalization::RequiredError),
    #[error("RSA signing failed")]
    Rsa,
}

/// `Digest` of `body`: `SHA-256=` and the base64 of its SHA-256.
pub fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// Signs a POST of `body` to `url` at `date` with `key` (`service::ActorKey::signing`), named
/// `key_id` (the actor's `publicKey.id`, `<actor>#main-key`).
pub fn sign_post(
    key: &RsaKeyPair,
    key_id: &str,
    url: &str,
    body: &[u8],
    date: SystemTime,
) -> Result<SignedHeaders, SigningError> {
    let digest = digest(body);
    let extra = [("digest", digest.clone()), ("content-type", CONTENT_TYPE.to_string())];
    let (date, signature) = sign("POST", key, key_id, url, date, &extra)?;
    Ok(SignedHeaders { date, digest, content_type: CONTENT_TYPE, signature })
}

/// Signs a GET of `url` (a remote actor: instances in Mastodon's secure mode answer only signed
/// fetches) over `(request-target) date host`; answers the `Date` and `Signature` headers.
pub fn sign_get(key: &RsaKeyPair, key_id: &str, url: &str, date: SystemTime) -> Result<(String, String), SigningError> {
    sign("GET", key, key_id, url, date, &[])
}

/// The `Date` and `Signature` of a request to `url` signing `host`, `date` and `extra`.
/// RSASSA-PKCS1-v1_5 over SHA-256, by AWS-LC: the same bytes as the `rsa` crate's
/// `pkcs1v15::SigningKey<Sha256>` (the scheme is deterministic), at a fraction of its cost
/// (bench/fediverse.sh).
fn sign(
    method: &str,
    key: &RsaKeyPair,
    key_id: &str,
    url: &str,
    date: SystemTime,
    extra: &[(&str, String)],
) -> Result<(String, String), SigningError> {
    let (host, path) = host_and_path(url).ok_or_else(|| SigningError::Url(url.to_string()))?;
    let date = httpdate::fmt_http_date(date);
    let headers: BTreeMap<String, String> = [("host", host.to_string()), ("date", date.clone())]
        .into_iter()
        .chain(extra.iter().cloned())
        .map(|(name, value)| (name.to_string(), value))
        .collect();
    let config = http_signature_normalization::Config::new().mastodon_compat();
    let config = if extra.is_empty() { config } else { config.require_digest() };
    let signed = config.begin_sign(method, path, headers)?.sign(key_id.to_string(), |signing_string| {
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_string.as_bytes(), &mut signature)
            .map_err(|_| SigningError::Rsa)?;
        Ok::<_, SigningError>(BASE64.encode(signature))
    })?;
    // The crate names every algorithm `hs2019`; see the module's doc.
    let signature = signed.signature_header().replacen("algorithm=\"hs2019\"", "algorithm=\"rsa-sha256\"", 1);
    Ok((date, signature))
}

/// The `Host` a client sends for `url` (with its port unless it is the scheme's default) and
/// the path with its query, as `(request-target)` names it.
pub fn host_and_path(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or(rest);
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') { return None } else { path };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let default_port = if scheme.eq_ignore_ascii_case("https") { ":443" } else { ":80" };
    Some((authority.strip_suffix(default_port).unwrap_or(authority), path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;
    use rsa::RsaPrivateKey;

    /// A 2048-bit key made for this test (AWS-LC signs with 2048 bits or more; making one in a
    /// debug build takes seconds).
    const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDTJIoeNd7lr5Bd
y/DYdrbUdianPeW1VXx8lzICYy+mIr/b1CQTFf27TvR/5RBr1Iig/Rn8FDcBEB40
2rpYffQ8wzsXjsQtqSWhDVFnlVLn0FOkX19YhfCJ0X5FRw9Ihf6HAWlsfqa3k31J
5Q+UKblugAIv7DG6oWfMI4X4l/azvMCPCrw3h3ubxKiDflsMn6AGacbS7LOk5RgT
PObCVteo3L5Vuc5TRywYr8B7EtfKoGcPXwBHQ1XqS2LoY2ySEO7mzgBbeesjr/Tm
NWd3GL+Km0IpyF+QVnRs0S4PBLJmvCrq74fJpMY/yb7PijViv05t/mZK5Igka6h2
SslQPeT3AgMBAAECggEACV3oqur8x57CUBYLrZ+WKuv6QDrHWS7H9i3muOMrdQjY
K4l6Ijif67mdzNRBQr2WgIyCz4qMCemIh0yEH+un3xbgJRCtYsMuvOSbFNmXL5Pa
jZ+5TCw53dfHbMZcFSgtDvz5qCeu42M0tBWvaYU3rQFTyUpb/4YP47VYZXC2L+oB
tQF4+zU4dFgz2SfjfrG3yNQ9IRRpKtrvvJbBBemzxixLqGTSVtGarMNeAg58t9eA
fQXxKEeKxss6u5CgO4GVAmT38I7pSM1Ha/YeEUKlplVrYXdrd/vSRv3KzsmiL8Gp
j1r4ashWlaFutmUg9XBxVM/uOQ/gvdvbLPLXBWuHDQKBgQDyahZ2q4eO/thRN2Rl
Snmib/92EDsF07zmv7QKj2kVkQVIIsCdGyO3S0rQOExgCI6EaHCvcw7RcLQNPUzn
wZB4cuaT59Ebc1t7wwHyAQnF0DkER2yj4xVVDSzghXZS0Ttd+T2UYwQj0y5ewLoG
fWGp1bkR52FhTXD1sKtDgFAWXQKBgQDe+cxK4y/q6Omarc7Vea7OEKD1wrXJLXhJ
eYKVfll3xOGWfhGIXP44hy8mP35KUGkEezCrzkdB+y2RWKFhFBA9W7ncn0cRghKo
0hjjolgddsiQLGrdNp0ZRoB6jJCZ9Qhi/zzaPqsym0DQOenquTJzDZxTiwie8NVX
hhUzihhLYwKBgQDPH43p/01oBJ9XZXjGgwfCnucrPVrw86Vnk0yF6VrkLnDQ3cCt
e87cgdx+ZFv9gdIjmAkQH8L9eMqetU3Mhzqlb6dLoLquNbZo3IoA+JodBnhxC4Xr
0c8cSJGblO0wfc230YmoC6Ix6fKoywsnGGIl9pKWlZhCxyRJCJaMqknDkQKBgQCs
205Kx/D/1Wwz44Yy7FBdo3qEy1uOCFf17eMT7Y2CUfjoZ/dDlYPnYrVkm1hWWBvx
w2ap6hJHzmc3BFSnI5yrVI6zwC6iHgpFIgr1fYd93/X//s8hixMi4wr69jmrgM/t
nx0Xu/mQE9edFSiINOYtV2HXSjN2tBFP9rw85lOLLQKBgGRQFSLOFxH/SzFxhCfg
82LH6mX8A4NaKUfryiQHDWLOHOKHi+tTMEAG2XcEigpMTJbKaqKAR4B0notf1GGU
rcQYs8p0sYIg0/dVywuYlfPKltVJthFtuAMz9rT12TZjHhPi74BlIB4cBbVS1Qxb
De8RbLi+/yaF+qTk4D9oZoqI
-----END PRIVATE KEY-----";

    fn key() -> RsaPrivateKey {
        use rsa::pkcs8::DecodePrivateKey;
        RsaPrivateKey::from_pkcs8_pem(TEST_KEY).unwrap()
    }

    fn signing_key(key: &RsaPrivateKey) -> RsaKeyPair {
        use rsa::pkcs8::EncodePrivateKey;
        RsaKeyPair::from_pkcs8(key.to_pkcs8_der().unwrap().as_bytes()).unwrap()
    }

    fn field<'a>(header: &'a str, name: &str) -> &'a str {
        let start = header.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let rest = &header[start..];
        &rest[..rest.find('"').unwrap()]
    }

    #[test]
    fn signs_what_mastodon_verifies() {
        let key = key();
        let body = br#"{"type":"Create"}"#;
        let date = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let key_id = "https://news.example/activitypub/actor#main-key";
        let signed = sign_post(&signing_key(&key), key_id, "https://social.example/inbox?x=1", body, date).unwrap();

        assert_eq!(signed.date, "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(signed.digest, "SHA-256=JeE18werLvQnEoHViKDam+ZK1D8E27TBC2kIISI7pIY=");
        assert_eq!(field(&signed.signature, "keyId"), key_id);
        assert_eq!(field(&signed.signature, "algorithm"), "rsa-sha256");
        assert_eq!(field(&signed.signature, "headers"), "(request-target) content-type date digest host");

        let signing_string = format!(
            "(request-target): post /inbox?x=1\ncontent-type: application/activity+json\n\
             date: Tue, 14 Nov 2023 22:13:20 GMT\ndigest: {}\nhost: social.example",
            signed.digest
        );
        let signature =
            Signature::try_from(BASE64.decode(field(&signed.signature, "signature")).unwrap().as_slice()).unwrap();
        let verifying = VerifyingKey::<Sha256>::new(key.to_public_key());
        verifying.verify(signing_string.as_bytes(), &signature).expect("the signature verifies");
        assert!(verifying.verify(b"something else", &signature).is_err());
        // The rsa crate signs the same bytes (PKCS#1 v1.5 is deterministic).
        use rsa::signature::{SignatureEncoding, Signer};
        let theirs = rsa::pkcs1v15::SigningKey::<Sha256>::new(key).sign(signing_string.as_bytes());
        assert_eq!(theirs.to_bytes().as_ref(), signature.to_bytes().as_ref());
    }

    #[test]
    fn host_keeps_a_port_that_is_not_the_default() {
        assert_eq!(host_and_path("https://a.example/inbox"), Some(("a.example", "/inbox")));
        assert_eq!(host_and_path("https://a.example:443/inbox"), Some(("a.example", "/inbox")));
        assert_eq!(host_and_path("http://127.0.0.1:8080/users/x/inbox"), Some(("127.0.0.1:8080", "/users/x/inbox")));
        assert_eq!(host_and_path("https://a.example"), Some(("a.example", "/")));
        assert_eq!(host_and_path("ftp://a.example/inbox"), None);
        assert_eq!(host_and_path("https:///inbox"), None);
    }
}
