//! HTTP signatures on the requests the site sends, as Mastodon verifies them: draft-cavage-12
//! with RSASSA-PKCS1-v1_5 over SHA-256, signing `(request-target) content-type date digest host`
//! of every POST, with `Digest: SHA-256=<base64>` of the body, and `(request-target) date host`
//! of the GETs that fetch remote actors.
//!
//! The signing string comes from the `http-signature-normalization` crate (asonix's, which
//! Lemmy and relays sign with); the `Signature` header is that crate's, with its algorithm named
//! `rsa-sha256` rather than `hs2019`: Mastodon accepts both, but implementations built on older
//! signature libraries (joyent's `http-signature`, as Misskey's forks used) refuse `hs2019`,
//! and `rsa-sha256` is what Mastodon itself sends.

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
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
}

/// `Digest` of `body`: `SHA-256=` and the base64 of its SHA-256.
pub fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// Signs a POST of `body` to `url` at `date` with `key` (`service::ActorKey::signing`), named
/// `key_id` (the actor's `publicKey.id`, `<actor>#main-key`).
pub fn sign_post(
    key: &SigningKey<Sha256>,
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
pub fn sign_get(
    key: &SigningKey<Sha256>,
    key_id: &str,
    url: &str,
    date: SystemTime,
) -> Result<(String, String), SigningError> {
    sign("GET", key, key_id, url, date, &[])
}

/// The `Date` and `Signature` of a request to `url` signing `host`, `date` and `extra`.
fn sign(
    method: &str,
    key: &SigningKey<Sha256>,
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
        let signature = key.sign(signing_string.as_bytes());
        Ok::<_, SigningError>(BASE64.encode(signature.to_bytes()))
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

    /// A small key: the signing string and the verification do not depend on the size, and
    /// making a 2048-bit key in a debug build takes seconds.
    fn key() -> RsaPrivateKey {
        RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).unwrap()
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
        let signed =
            sign_post(&SigningKey::new(key.clone()), key_id, "https://social.example/inbox?x=1", body, date).unwrap();

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
