//! Verifying the HTTP signatures of requests to the inbox, in both schemes the fediverse sends:
//! draft-cavage-12 (`Signature: keyId=…,headers=…,signature=…`, what Mastodon sends), read
//! with `http-signature-normalization`, and RFC 9421 (`Signature-Input` + `Signature`, what
//! Fedify tries first), whose structured fields are read with `sfv` (`httpsig` re-serialises
//! the parameters in its own order, so it cannot verify what Fedify signs). The key is read by
//! RustCrypto's `rsa` (SPKI or PKCS#1 PEM); the RSA arithmetic is AWS-LC's, which verifies in
//! a small fraction of `rsa`'s time.
//!
//! A request is checked in two steps, so the cheap checks come before any key is fetched:
//! [`claim`] reads the signature, the key it names, its time and the body's digest; [`verify`]
//! checks the signature with that key's public half.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lc_rs::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use axum::http::{HeaderMap, Method, Uri};
use base64::Engine as _;
use bytes::Bytes;
use http_signature_normalization::verify::Unverified;
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::RsaPublicKey;
use sfv::FieldType as _;
use sha2::{Digest, Sha256};

/// How old a signature may be, as Mastodon allows: senders retry a delivery for hours with the
/// signature they made first only if they queue signed requests, but clocks drift too.
const MAX_AGE_SECS: i64 = 12 * 3600;
/// How far in the future a signature's time may be (clock skew).
const MAX_SKEW_SECS: i64 = 3600;

/// A request to the inbox as it arrived.
pub struct Incoming<'a> {
    pub method: &'a Method,
    /// The URL the sender addressed: `site.base_url` with the request's path and query (a proxy
    /// in front may have changed scheme and host; the signature covers what the sender saw).
    pub url: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
}

/// Why a request's signature is not accepted: each is a 401 with this message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the request is not signed (no Signature header)")]
    Missing,
    #[error("the signature cannot be read: {0}")]
    Malformed(String),
    #[error("the signature does not cover {0}")]
    Uncovered(&'static str),
    #[error("the signature's time is not within 12 hours before and 1 hour after now")]
    Stale,
    #[error("the body does not match its digest")]
    Digest,
    #[error("the signature's key cannot be used: {0}")]
    Key(String),
    #[error("the signature does not verify")]
    Invalid,
}

/// A signature read, its time and digest checked; not yet verified.
pub struct Claimed {
    /// The key the signature names: a URL, usually `<actor>#main-key`.
    pub key_id: String,
    scheme: Scheme,
}

enum Scheme {
    Cavage(Unverified),
    /// The signature base, and the signature over it.
    Rfc9421 {
        base: String,
        signature: Vec<u8>,
    },
}

impl Claimed {
    /// `"draft-cavage"` or `"rfc9421"`, for logs.
    pub fn scheme(&self) -> &'static str {
        match self.scheme {
            Scheme::Cavage(_) => "draft-cavage",
            Scheme::Rfc9421 { .. } => "rfc9421",
        }
    }
}

/// Reads the request's signature (RFC 9421 when it has `Signature-Input`, else draft-cavage)
/// and checks what needs no key: it covers the method, the target, the time and the body's
/// digest; its time is recent; the digest matches the body.
pub fn claim(request: &Incoming, now: i64) -> Result<Claimed, SignatureError> {
    check_digest(request.headers, request.body)?;
    if request.headers.contains_key("signature-input") {
        claim_rfc9421(request, now)
    } else if request.headers.contains_key("signature") {
        claim_cavage(request, now)
    } else {
        Err(SignatureError::Missing)
    }
}

fn claim_cavage(request: &Incoming, now: i64) -> Result<Claimed, SignatureError> {
    let mut headers = BTreeMap::new();
    for (name, value) in request.headers {
        let value = value.to_str().map_err(|_| SignatureError::Malformed(format!("header {name} is not text")))?;
        // Repeated headers are joined as the draft says (§2.3).
        headers
            .entry(name.as_str().to_string())
            .and_modify(|joined: &mut String| {
                joined.push_str(", ");
                joined.push_str(value);
            })
            .or_insert_with(|| value.to_string());
    }
    let date = headers.get("date").cloned();
    let uri: Uri = request.url.parse().map_err(|_| SignatureError::Malformed("the request URL".into()))?;
    let path_and_query = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    // The library checks that the listed headers are there and builds the signing string. The
    // times are checked below against `now`, both ways; its own check (against the clock, for
    // the past only) is set far enough away to never decide.
    let config = http_signature_normalization::Config::new()
        .set_expiration(Duration::from_secs(10 * 365 * 86_400))
        .require_header("host");
    let config = if request.body.is_empty() { config } else { config.require_digest() };
    let unverified = config
        .begin_verify(request.method.as_str(), path_and_query, headers)
        .map_err(|err| SignatureError::Malformed(err.to_string()))?;
    if !unverified.signing_string().starts_with("(request-target): ") {
        return Err(SignatureError::Uncovered("(request-target)"));
    }
    // The signed `Date` dates the request: a `(created)` alone would pass the library's check,
    // which is set never to decide (above), so it is not enough.
    let signed_at = match date {
        Some(date) if unverified.signing_string().contains("\ndate: ") => {
            httpdate::parse_http_date(&date).map_err(|_| SignatureError::Malformed(format!("Date {date:?}")))?
        }
        _ => return Err(SignatureError::Uncovered("date")),
    };
    let signed_at = signed_at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    check_time(signed_at, now)?;
    Ok(cavage(unverified))
}

fn cavage(unverified: Unverified) -> Claimed {
    Claimed { key_id: unverified.key_id().to_string(), scheme: Scheme::Cavage(unverified) }
}

fn claim_rfc9421(request: &Incoming, now: i64) -> Result<Claimed, SignatureError> {
    let malformed = |what: &str| SignatureError::Malformed(what.to_string());
    let inputs: sfv::Dictionary = sfv::Parser::new(&joined(request.headers, "signature-input")?)
        .parse()
        .map_err(|err| SignatureError::Malformed(format!("Signature-Input: {err}")))?;
    let signatures: sfv::Dictionary = sfv::Parser::new(&joined(request.headers, "signature")?)
        .parse()
        .map_err(|err| SignatureError::Malformed(format!("Signature: {err}")))?;
    // One signature is enough: the first (senders put one).
    let Some((label, sfv::ListEntry::InnerList(input))) = inputs.first() else {
        return Err(malformed("Signature-Input has no signature's parameters"));
    };
    let signature = match signatures.get(label) {
        Some(sfv::ListEntry::Item(item)) => item.bare_item.as_byte_sequence().map(<[u8]>::to_vec),
        _ => None,
    }
    .ok_or_else(|| SignatureError::Malformed(format!("no Signature labelled {}", label.as_str())))?;
    let param = |name: &str| input.params.iter().find(|(key, _)| key.as_str() == name).map(|(_, value)| value);
    let key_id = param("keyid").and_then(|v| v.as_string()).ok_or_else(|| malformed("no keyid"))?.as_str().to_string();
    if let Some(alg) = param("alg") {
        let alg = alg.as_string().map(|a| a.as_str()).unwrap_or_default();
        if alg != "rsa-v1_5-sha256" {
            return Err(SignatureError::Key(format!("algorithm {alg:?} is not supported")));
        }
    }
    let created = param("created").and_then(|v| v.as_integer()).ok_or(SignatureError::Uncovered("created"))?;
    check_time(i64::from(created), now)?;
    if param("expires").and_then(|v| v.as_integer()).is_some_and(|expires| i64::from(expires) < now) {
        return Err(SignatureError::Stale);
    }
    let mut covered = Vec::with_capacity(input.items.len());
    for item in &input.items {
        let name = item.bare_item.as_string().ok_or_else(|| malformed("a component that is not a string"))?;
        if !item.params.is_empty() {
            return Err(SignatureError::Malformed(format!("component {} has parameters", name.as_str())));
        }
        covered.push(name.as_str().to_string());
    }
    let covers = |name: &str| covered.iter().any(|c| c == name);
    if !covers("@method") {
        return Err(SignatureError::Uncovered("@method"));
    }
    if !(covers("@target-uri") || (covers("@path") && (covers("@authority") || covers("host")))) {
        return Err(SignatureError::Uncovered("@target-uri"));
    }
    if !request.body.is_empty() && !covers("content-digest") && !covers("digest") {
        return Err(SignatureError::Uncovered("content-digest"));
    }
    let base = signature_base(request, &covered, label, input)?;
    Ok(Claimed { key_id, scheme: Scheme::Rfc9421 { base, signature } })
}

/// RFC 9421's signature base (§2.5): a line per covered component, then the parameters as the
/// sender serialised them.
fn signature_base(
    request: &Incoming,
    covered: &[String],
    label: &sfv::Key,
    input: &sfv::InnerList,
) -> Result<String, SignatureError> {
    let uri: Uri = request.url.parse().map_err(|_| SignatureError::Malformed("the request URL".into()))?;
    let mut base = String::new();
    for name in covered {
        let value = match name.as_str() {
            "@method" => request.method.as_str().to_string(),
            "@target-uri" => request.url.to_string(),
            "@authority" => uri.authority().map(|a| a.as_str().to_ascii_lowercase()).unwrap_or_default(),
            "@scheme" => uri.scheme_str().unwrap_or("http").to_ascii_lowercase(),
            "@path" => uri.path().to_string(),
            "@query" => format!("?{}", uri.query().unwrap_or_default()),
            "@request-target" => uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default(),
            derived if derived.starts_with('@') => {
                return Err(SignatureError::Malformed(format!("component {derived} is not supported")))
            }
            field => {
                let values: Vec<&str> = request
                    .headers
                    .get_all(field)
                    .iter()
                    .map(|v| v.to_str().map(str::trim))
                    .collect::<Result<_, _>>()
                    .map_err(|_| SignatureError::Malformed(format!("header {field} is not text")))?;
                if values.is_empty() {
                    return Err(SignatureError::Malformed(format!("covered header {field} is missing")));
                }
                values.join(", ")
            }
        };
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    // The parameters line is the member as serialised, which keeps the sender's order.
    let mut member = sfv::Dictionary::new();
    member.insert(label.clone(), sfv::ListEntry::InnerList(input.clone()));
    let serialised = member.serialize().ok_or_else(|| SignatureError::Malformed("Signature-Input".into()))?;
    let params = serialised.split_once('=').map(|(_, params)| params).unwrap_or_default();
    base.push_str(&format!("\"@signature-params\": {params}"));
    Ok(base)
}

/// A header's values joined as one structured field.
fn joined(headers: &HeaderMap, name: &str) -> Result<String, SignatureError> {
    let values: Result<Vec<&str>, _> = headers.get_all(name).iter().map(|v| v.to_str()).collect();
    values.map(|v| v.join(", ")).map_err(|_| SignatureError::Malformed(format!("header {name} is not text")))
}

fn check_time(signed_at: i64, now: i64) -> Result<(), SignatureError> {
    if signed_at < now - MAX_AGE_SECS || signed_at > now + MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The body's SHA-256 against `Digest` (draft-cavage's, RFC 3230) and `Content-Digest` (RFC
/// 9530), whichever the request has; a request with a body must have one.
fn check_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body));
    let mut checked = false;
    // `Digest: SHA-256=<b64>` and `Content-Digest: sha-256=:<b64>:` differ only in the colons.
    for value in headers.get_all("digest").iter().chain(headers.get_all("content-digest")) {
        let value = value.to_str().map_err(|_| SignatureError::Digest)?;
        for part in value.split(',') {
            if let Some((algorithm, digest)) = part.trim().split_once('=') {
                if algorithm.trim().eq_ignore_ascii_case("sha-256") {
                    if digest.trim().trim_matches(':') != sha256 {
                        return Err(SignatureError::Digest);
                    }
                    checked = true;
                }
            }
        }
    }
    if !checked && !body.is_empty() {
        return Err(SignatureError::Uncovered("a SHA-256 digest of the body"));
    }
    Ok(())
}

/// Checks `claimed` with the public key `public_key_pem` (SPKI, or PKCS#1 as some older
/// servers publish): RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 to 8192 bits (Mastodon's
/// are 2048).
pub async fn verify(claimed: &Claimed, public_key_pem: &str) -> Result<(), SignatureError> {
    let key = RsaPublicKey::from_public_key_pem(public_key_pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(public_key_pem))
        .map_err(|err| SignatureError::Key(format!("not an RSA public key: {err}")))?;
    let der = key.to_pkcs1_der().map_err(|err| SignatureError::Key(format!("not an RSA public key: {err}")))?;
    let verifying_key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der.as_bytes());
    match &claimed.scheme {
        Scheme::Cavage(unverified) => {
            // `hs2019` leaves the algorithm to the key: RSA keys sign with SHA-256, as Mastodon reads it.
            let algorithm = unverified.algorithm().map(|a| a.to_string().to_ascii_lowercase());
            if !matches!(algorithm.as_deref(), None | Some("rsa-sha256") | Some("hs2019")) {
                return Err(SignatureError::Key(format!(
                    "algorithm {} is not supported",
                    algorithm.unwrap_or_default()
                )));
            }
            unverified
                .verify(|signature, signing_string| {
                    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature) else { return false };
                    verifying_key.verify(signing_string.as_bytes(), &bytes).is_ok()
                })
                .then_some(())
                .ok_or(SignatureError::Invalid)
        }
        Scheme::Rfc9421 { base, signature } => {
            verifying_key.verify(base.as_bytes(), signature).map_err(|_| SignatureError::Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    //! Against requests Fedify signed (`tests/fediverse/capture.mjs`): an independent
    //! implementation's signatures, both schemes, as they arrived on the wire.

    use super::*;
    use serde_json::Value;

    /// A captured request, and the key that signed it.
    struct Vector {
        expected_valid: bool,
        method: Method,
        url: String,
        headers: HeaderMap,
        body: Bytes,
        key_id: String,
        public_key_pem: String,
        signed_at: i64,
    }

    fn vector(name: &str) -> Vector {
        let path = format!("{}/tests/fixtures/activitypub/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let json: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let mut headers = HeaderMap::new();
        for pair in json["headers"].as_array().unwrap() {
            let name = axum::http::HeaderName::from_bytes(pair[0].as_str().unwrap().as_bytes()).unwrap();
            headers.append(name, pair[1].as_str().unwrap().parse().unwrap());
        }
        let signed_at = chrono::DateTime::parse_from_rfc3339(json["signedAt"].as_str().unwrap()).unwrap().timestamp();
        Vector {
            expected_valid: json["expected"] == "valid",
            method: json["method"].as_str().unwrap().parse().unwrap(),
            url: json["url"].as_str().unwrap().to_string(),
            headers,
            body: Bytes::from(json["body"].as_str().unwrap_or_default().to_string()),
            key_id: json["keyId"].as_str().unwrap().to_string(),
            public_key_pem: json["publicKeyPem"].as_str().unwrap().to_string(),
            signed_at,
        }
    }

    async fn check(v: &Vector, now: i64) -> Result<String, SignatureError> {
        let incoming = Incoming { method: &v.method, url: &v.url, headers: &v.headers, body: &v.body };
        let claimed = claim(&incoming, now)?;
        verify(&claimed, &v.public_key_pem).await?;
        Ok(claimed.key_id)
    }

    const SIGNED: [&str; 4] = ["fedify-cavage-post", "fedify-rfc9421-post", "fedify-cavage-get", "fedify-rfc9421-get"];
    const TAMPERED: [&str; 4] = [
        "fedify-cavage-post-tampered",
        "fedify-cavage-post-tampered-digest",
        "fedify-rfc9421-post-tampered",
        "fedify-rfc9421-post-tampered-digest",
    ];

    #[tokio::test]
    async fn what_fedify_signs_verifies_in_both_schemes() {
        for name in SIGNED {
            let v = vector(name);
            assert!(v.expected_valid, "{name}");
            assert_eq!(check(&v, v.signed_at + 30).await, Ok(v.key_id.clone()), "{name}");
        }
    }

    #[tokio::test]
    async fn a_body_changed_after_signing_is_refused_whether_or_not_its_digest_was_redone() {
        for name in TAMPERED {
            let v = vector(name);
            assert!(!v.expected_valid, "{name}");
            let refused = check(&v, v.signed_at).await.unwrap_err();
            let expected = if name.ends_with("-digest") { SignatureError::Invalid } else { SignatureError::Digest };
            assert_eq!(refused, expected, "{name}");
        }
    }

    #[tokio::test]
    async fn another_key_an_old_signature_or_a_missing_one_is_refused() {
        let cavage = vector("fedify-cavage-post");
        let rfc9421 = vector("fedify-rfc9421-post");
        // A key that is not the signer's.
        let other = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
        let other_pem = rsa::pkcs8::EncodePublicKey::to_public_key_pem(&RsaPublicKey::from(&other), Default::default());
        for name in ["fedify-cavage-post", "fedify-rfc9421-post"] {
            let mut wrong_key = vector(name);
            wrong_key.public_key_pem = other_pem.clone().unwrap();
            assert_eq!(check(&wrong_key, wrong_key.signed_at).await, Err(SignatureError::Invalid), "{name}");
        }
        for v in [&cavage, &rfc9421] {
            assert_eq!(check(v, v.signed_at + MAX_AGE_SECS + 60).await, Err(SignatureError::Stale));
            assert_eq!(check(v, v.signed_at - MAX_SKEW_SECS - 60).await, Err(SignatureError::Stale));
        }
        // A draft-cavage signature dated by `(created)` instead of the Date is refused before any
        // key is fetched: its time would go unchecked.
        let mut created = vector("fedify-cavage-post");
        let header = created.headers["signature"].to_str().unwrap().replace(" date ", " (created) ");
        let header = format!("created={},{header}", cavage.signed_at - MAX_AGE_SECS - 3600);
        created.headers.insert("signature", header.parse().unwrap());
        let incoming =
            Incoming { method: &created.method, url: &created.url, headers: &created.headers, body: &created.body };
        assert_eq!(claim(&incoming, cavage.signed_at).err(), Some(SignatureError::Uncovered("date")));
        let mut unsigned = vector("fedify-cavage-post");
        unsigned.headers.remove("signature");
        assert_eq!(check(&unsigned, cavage.signed_at).await, Err(SignatureError::Missing));
        // Signed for another address: the target is covered.
        let mut elsewhere = vector("fedify-rfc9421-post");
        elsewhere.url = elsewhere.url.replace("/activitypub/inbox", "/activitypub/inbox2");
        assert_eq!(check(&elsewhere, rfc9421.signed_at).await, Err(SignatureError::Invalid));
        let mut elsewhere = vector("fedify-cavage-post");
        elsewhere.url = elsewhere.url.replace("/activitypub/inbox", "/activitypub/inbox2");
        assert_eq!(check(&elsewhere, cavage.signed_at).await, Err(SignatureError::Invalid));
    }
}
