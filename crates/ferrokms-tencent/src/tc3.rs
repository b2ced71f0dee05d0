//! TC3-HMAC-SHA256 verification (TencentCloud API 3.0 signatures).
//!
//! The canonical request is rebuilt from what was received: the raw body bytes, the `Host` and
//! `Content-Type` exactly as sent, the headers the client says it signed. The official SDKs do not
//! all sign alike, so some variants are tried (see `docs/compatibility.md`):
//! the Host with and without its port (tencentcloud-sdk-nodejs signs it without), and the scope's
//! service may be `kms` or the Host's first label (older Java SDKs).

use ferrokms_core::digest::Sha256Hex;
use std::fmt::Write;
use std::hash::{BuildHasher, RandomState};

use aws_lc_rs::hmac;
use hashbrown::HashTable;
use http::HeaderMap;
use http::header::{CONTENT_TYPE, HOST};
use parking_lot::RwLock;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Most headers a signature may name.
const MAX_SIGNED_HEADERS: usize = 32;

/// The parts of an `Authorization: TC3-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    /// SecretId.
    pub secret_id: &'a str,
    /// Scope date, `YYYY-MM-DD`.
    pub date: &'a str,
    /// Scope service.
    pub service: &'a str,
    /// Signed header names, lower case, `;`-separated.
    pub signed_headers: &'a str,
    /// The signature, 32 bytes.
    pub signature: [u8; 32],
}

/// Why a request's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The Authorization header is missing or garbled.
    Malformed,
    /// The scope is inconsistent with the timestamp or the service.
    BadScope,
    /// The signature does not match.
    Mismatch,
}

/// Parses the Authorization header value.
pub fn parse_authorization(value: &str) -> Result<Authorization<'_>, SignatureError> {
    let rest = value.strip_prefix("TC3-HMAC-SHA256").ok_or(SignatureError::Malformed)?.trim_start();
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => return Err(SignatureError::Malformed),
        }
    }
    let credential = credential.ok_or(SignatureError::Malformed)?;
    let mut scope = credential.splitn(4, '/');
    let secret_id = scope.next().filter(|s| !s.is_empty()).ok_or(SignatureError::Malformed)?;
    let date = scope.next().ok_or(SignatureError::Malformed)?;
    let service = scope.next().ok_or(SignatureError::Malformed)?;
    if scope.next() != Some("tc3_request") {
        return Err(SignatureError::Malformed);
    }
    let mut sig = [0u8; 32];
    hex::decode_to_slice(signature.ok_or(SignatureError::Malformed)?, &mut sig)
        .map_err(|_| SignatureError::Malformed)?;
    Ok(Authorization {
        secret_id,
        date,
        service,
        signed_headers: signed.ok_or(SignatureError::Malformed)?,
        signature: sig,
    })
}

/// The UTC calendar date (`YYYY-MM-DD`) of a Unix timestamp.
pub fn utc_date(timestamp: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(timestamp).ok()?;
    Some(format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()))
}

/// Derives `kSigning` for a secret, date and service.
pub fn signing_key(secret: &str, date: &str, service: &str) -> [u8; 32] {
    let step = |key: &[u8], data: &str| -> [u8; 32] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    };
    let first = Zeroizing::new(format!("TC3{secret}"));
    let k_date = step(first.as_bytes(), date);
    let k_service = step(&k_date, service);
    step(&k_service, "tc3_request")
}

#[cfg(test)]
fn hex_sha256(data: &[u8]) -> String {
    Sha256Hex::of(data).as_str().to_owned()
}

/// Whether `date` is the UTC calendar date (`YYYY-MM-DD`) of `timestamp`, without formatting.
fn is_utc_date(timestamp: i64, date: &str) -> bool {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(timestamp) else { return false };
    let Ok(year) = u32::try_from(t.year()) else { return false };
    if year > 9999 {
        return utc_date(timestamp).as_deref() == Some(date);
    }
    let mut want = [0u8; 10];
    for (i, digit) in [year / 1000, year / 100 % 10, year / 10 % 10, year % 10].into_iter().enumerate() {
        want[i] = b'0' + digit as u8;
    }
    let (month, day) = (u8::from(t.month()), t.day());
    want[4..].copy_from_slice(&[b'-', b'0' + month / 10, b'0' + month % 10, b'-', b'0' + day / 10, b'0' + day % 10]);
    date.as_bytes() == want
}

/// What the verifier needs from the request.
pub struct SignedRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Raw query string (empty for POST).
    pub query: &'a str,
    /// Received headers.
    pub headers: &'a HeaderMap,
    /// Raw body.
    pub body: &'a [u8],
    /// `X-TC-Timestamp`.
    pub timestamp: i64,
}

/// Caches the `kSigning` HMAC key per (secret id, date, service): three HMACs and a key setup
/// saved on every request, and a lookup that allocates nothing.
pub struct SigningKeyCache {
    hasher: RandomState,
    entries: RwLock<HashTable<Derived>>,
}

impl Default for SigningKeyCache {
    fn default() -> Self {
        Self { hasher: RandomState::new(), entries: RwLock::new(HashTable::new()) }
    }
}

/// A derived key: its scope, the secret it was derived from, and kSigning ready to use.
struct Derived {
    secret_id: String,
    date: String,
    service: String,
    secret: Zeroizing<String>,
    key: hmac::Key,
}

impl Derived {
    fn is(&self, secret_id: &str, date: &str, service: &str) -> bool {
        self.secret_id == secret_id && self.date == date && self.service == service
    }
}

impl SigningKeyCache {
    fn hash(&self, secret_id: &str, date: &str, service: &str) -> u64 {
        self.hasher.hash_one((secret_id, date, service))
    }

    fn get(&self, secret_id: &str, secret: &str, date: &str, service: &str) -> hmac::Key {
        let hash = self.hash(secret_id, date, service);
        if let Some(d) = self.entries.read().find(hash, |d| d.is(secret_id, date, service))
            && d.secret.as_str() == secret
        {
            return d.key.clone();
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, &signing_key(secret, date, service));
        let mut entries = self.entries.write();
        if entries.len() > 10_000 {
            entries.clear();
        }
        let derived = Derived {
            secret_id: secret_id.to_owned(),
            date: date.to_owned(),
            service: service.to_owned(),
            secret: Zeroizing::new(secret.to_owned()),
            key: key.clone(),
        };
        match entries.find_mut(hash, |d| d.is(secret_id, date, service)) {
            Some(old) => *old = derived,
            None => {
                entries.insert_unique(hash, derived, |d| self.hash(&d.secret_id, &d.date, &d.service));
            }
        }
        key
    }
}

/// The first DNS label of a Host value (scheme and port stripped).
fn first_label(host: &str) -> &str {
    let h = host.split_once("://").map_or(host, |(_, h)| h);
    h.split(['.', ':']).next().unwrap_or(h)
}

/// `host` without a trailing `:port`, if it has one.
pub(crate) fn without_port(host: &str) -> Option<&str> {
    let (h, port) = host.rsplit_once(':')?;
    (!port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with('/')).then_some(h)
}

/// Verifies `auth` over `req` with `secret`.
pub fn verify(
    cache: &SigningKeyCache,
    auth: &Authorization<'_>,
    secret: &str,
    req: &SignedRequest<'_>,
) -> Result<(), SignatureError> {
    if !is_utc_date(req.timestamp, auth.date) {
        return Err(SignatureError::BadScope);
    }
    let host = header(req.headers, HOST).unwrap_or_default();
    if auth.service != "kms" && auth.service != first_label(host) {
        return Err(SignatureError::BadScope);
    }
    let mut names = auth.signed_headers.split(';');
    if !names.clone().any(|n| n == "content-type") || !names.any(|n| n == "host") {
        return Err(SignatureError::Malformed);
    }
    // A name listed twice (in any case: header lookup ignores it) would put its header's value in
    // the canonical request twice: with a long header named thousands of times, memory quadratic
    // in the request's size. The SDKs sign two to five headers.
    let listed = || auth.signed_headers.split(';');
    if listed().count() > MAX_SIGNED_HEADERS
        || listed().enumerate().any(|(i, a)| listed().skip(i + 1).any(|b| a.eq_ignore_ascii_case(b)))
    {
        return Err(SignatureError::Malformed);
    }
    let payload_hash = if header(req.headers, &crate::names::X_TC_CONTENT_SHA256) == Some("UNSIGNED-PAYLOAD") {
        Sha256Hex::of(b"UNSIGNED-PAYLOAD")
    } else {
        Sha256Hex::of(req.body)
    };
    let key = cache.get(auth.secret_id, secret, auth.date, auth.service);
    let mut canonical = String::with_capacity(512);
    let mut to_sign = String::with_capacity(128);
    for lowercase in [false, true] {
        for h in [Some(host), without_port(host)].into_iter().flatten() {
            canonical.clear();
            canonical_request_into(&mut canonical, req, auth.signed_headers, h, lowercase, payload_hash.as_str());
            to_sign.clear();
            to_sign.push_str("TC3-HMAC-SHA256\n");
            let _ = write!(to_sign, "{}", req.timestamp);
            to_sign.push('\n');
            to_sign.push_str(auth.date);
            to_sign.push('/');
            to_sign.push_str(auth.service);
            to_sign.push_str("/tc3_request\n");
            to_sign.push_str(Sha256Hex::of(canonical.as_bytes()).as_str());
            let sig = hmac::sign(&key, to_sign.as_bytes());
            if bool::from(sig.as_ref().ct_eq(&auth.signature)) {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

fn header<K: http::header::AsHeaderName>(headers: &HeaderMap, name: K) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
fn canonical_request(req: &SignedRequest<'_>, names: &[&str], host: &str, lowercase: bool, payload: &str) -> String {
    let mut out = String::new();
    canonical_request_into(&mut out, req, &names.join(";"), host, lowercase, payload);
    out
}

/// Appends the canonical request to `out`; `signed_headers` is the `;`-separated list as signed.
fn canonical_request_into(
    out: &mut String,
    req: &SignedRequest<'_>,
    signed_headers: &str,
    host: &str,
    lowercase: bool,
    payload: &str,
) {
    out.push_str(req.method);
    out.push_str("\n/\n");
    out.push_str(req.query);
    out.push('\n');
    for name in signed_headers.split(';') {
        let value = match name {
            "host" => host,
            "content-type" => header(req.headers, CONTENT_TYPE).unwrap_or_default(),
            name => header(req.headers, name).unwrap_or_default(),
        };
        out.push_str(name);
        out.push(':');
        if lowercase {
            out.extend(value.trim().chars().map(|c| c.to_ascii_lowercase()));
        } else {
            out.push_str(value.trim());
        }
        out.push('\n');
    }
    out.push('\n');
    out.push_str(signed_headers);
    out.push('\n');
    out.push_str(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "ExampleSecretKeyForKmsSigning000001";
    const BODY: &[u8] = br#"{"KeyId": "11111111-2222-3333-4444-555555555555", "KeySpec": "AES_256"}"#;

    fn headers(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", host.parse().unwrap());
        h.insert("content-type", "application/json".parse().unwrap());
        h
    }

    fn auth(sig: &str) -> String {
        format!(
            "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEKMS00000000000000000000001/2023-11-14/kms/tc3_request, \
             SignedHeaders=content-type;host, Signature={sig}"
        )
    }

    /// Spec section 1.4: the key chain of the worked example.
    #[test]
    fn worked_example_key_chain() {
        assert_eq!(hex_sha256(BODY), "3fe8e9d9043fed0b156055fbd7d6007bab723ce8195ea97237a50c456c01a48c");
        assert_eq!(
            hex::encode(signing_key(SECRET, "2023-11-14", "kms")),
            "75253226f4357f4fcbda47231823009c9dea8194b7d32938b8639aef1d9344ec"
        );
        assert_eq!(utc_date(1_700_000_000).unwrap(), "2023-11-14");
    }

    /// Spec section 1.4 (a) and (b): both hosts verify, a flipped bit does not.
    #[test]
    fn worked_examples_verify() {
        let cache = SigningKeyCache::default();
        for (host, sig) in [
            ("kms.tencentcloudapi.com", "be48e0c495503c9c0eafabf6e96767b04ef61ecef4e43b9cfe997f8f21f536e1"),
            ("127.0.0.1:8080", "1ed854078fbf5e8faa806441a703924fa28b07e2eb2c09e27541d0a56ed73511"),
        ] {
            let h = headers(host);
            let header = auth(sig);
            let a = parse_authorization(&header).unwrap();
            assert_eq!(a.secret_id, "AKIDEXAMPLEKMS00000000000000000000001");
            let req = SignedRequest { method: "POST", query: "", headers: &h, body: BODY, timestamp: 1_700_000_000 };
            assert_eq!(verify(&cache, &a, SECRET, &req), Ok(()));
            assert_eq!(verify(&cache, &a, "wrong-secret", &req), Err(SignatureError::Mismatch));
            let tampered = SignedRequest { body: b"{}", ..req };
            assert_eq!(verify(&cache, &a, SECRET, &tampered), Err(SignatureError::Mismatch));
            let other_day = SignedRequest { timestamp: 1_700_000_000 + 86_400, ..req };
            assert_eq!(verify(&cache, &a, SECRET, &other_day), Err(SignatureError::BadScope));
        }
    }

    /// The Node.js SDK signs `host:127.0.0.1` but sends `Host: 127.0.0.1:8080`.
    #[test]
    fn host_signed_without_port_is_accepted() {
        let cache = SigningKeyCache::default();
        let key = hmac::Key::new(hmac::HMAC_SHA256, &signing_key(SECRET, "2023-11-14", "kms"));
        let h = headers("127.0.0.1:8080");
        let req = SignedRequest { method: "POST", query: "", headers: &h, body: BODY, timestamp: 1_700_000_000 };
        let canonical = canonical_request(&req, &["content-type", "host"], "127.0.0.1", false, &hex_sha256(BODY));
        let sts =
            format!("TC3-HMAC-SHA256\n1700000000\n2023-11-14/kms/tc3_request\n{}", hex_sha256(canonical.as_bytes()));
        let sig = hex::encode(hmac::sign(&key, sts.as_bytes()));
        let header = auth(&sig);
        assert_eq!(verify(&cache, &parse_authorization(&header).unwrap(), SECRET, &req), Ok(()));
    }

    #[test]
    fn service_must_be_kms_or_the_first_host_label() {
        assert_eq!(first_label("127.0.0.1:8080"), "127");
        assert_eq!(first_label("http://kms.example.com:1"), "kms");
        let cache = SigningKeyCache::default();
        let h = headers("127.0.0.1:8080");
        let header =
            "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/cvm/tc3_request, SignedHeaders=content-type;host, Signature=00";
        assert!(parse_authorization(header).is_err(), "signature too short");
        let header = format!(
            "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/cvm/tc3_request, SignedHeaders=content-type;host, Signature={}",
            "0".repeat(64)
        );
        let req = SignedRequest { method: "POST", query: "", headers: &h, body: BODY, timestamp: 1_700_000_000 };
        assert_eq!(verify(&cache, &parse_authorization(&header).unwrap(), SECRET, &req), Err(SignatureError::BadScope));
    }

    /// Found by the fuzzer's allocation meter: every repeat of a signed name copied its header's
    /// value into the canonical request again (2 MB held for an 8 KB request).
    #[test]
    fn repeated_signed_header_names_are_refused() {
        let cache = SigningKeyCache::default();
        let mut h = headers("kms.tencentcloudapi.com");
        h.insert("x-big", "a".repeat(2000).parse().unwrap());
        let value = format!(
            "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/kms/tc3_request, SignedHeaders=content-type;host{}, \
             Signature={}",
            ";x-big".repeat(1000),
            "0".repeat(64)
        );
        let req = SignedRequest { method: "POST", query: "", headers: &h, body: BODY, timestamp: 1_700_000_000 };
        let a = parse_authorization(&value).unwrap();
        assert_eq!(verify(&cache, &a, SECRET, &req), Err(SignatureError::Malformed));
        let twice = format!(
            "TC3-HMAC-SHA256 Credential=AKID/2023-11-14/kms/tc3_request, SignedHeaders=content-type;host;host, Signature={}",
            "0".repeat(64)
        );
        assert_eq!(verify(&cache, &parse_authorization(&twice).unwrap(), SECRET, &req), Err(SignatureError::Malformed));
        // Header lookup ignores case, so case variants are the same name.
        assert_eq!(header(&h, "X-Big").map(str::len), Some(2000));
        let cased = value.replace(&";x-big".repeat(1000), ";x-big;X-Big;X-BIG");
        assert_eq!(verify(&cache, &parse_authorization(&cased).unwrap(), SECRET, &req), Err(SignatureError::Malformed));
    }

    #[test]
    fn the_date_check_agrees_with_the_formatted_date() {
        for ts in (-86_400 * 3..86_400 * 3).step_by(3_599).chain((0..400).map(|d| 1_700_000_000 + d * 86_399)) {
            let date = utc_date(ts).unwrap();
            assert!(is_utc_date(ts, &date), "{ts} {date}");
            assert!(!is_utc_date(ts + 86_400, &date), "{ts} {date}");
        }
        assert!(!is_utc_date(1_700_000_000, "2023-11-14 "));
        assert!(!is_utc_date(1_700_000_000, ""));
    }

    #[test]
    fn a_changed_secret_derives_a_new_key() {
        let cache = SigningKeyCache::default();
        let h = headers("kms.tencentcloudapi.com");
        let header = auth("be48e0c495503c9c0eafabf6e96767b04ef61ecef4e43b9cfe997f8f21f536e1");
        let a = parse_authorization(&header).unwrap();
        let req = SignedRequest { method: "POST", query: "", headers: &h, body: BODY, timestamp: 1_700_000_000 };
        assert_eq!(verify(&cache, &a, "other-secret", &req), Err(SignatureError::Mismatch));
        assert_eq!(verify(&cache, &a, SECRET, &req), Ok(()), "the key of the old secret was kept");
        assert_eq!(cache.entries.read().len(), 1);
    }

    #[test]
    fn malformed_headers_are_refused() {
        for h in [
            "",
            "TC3-HMAC-SHA256",
            "HMAC Credential=a/b/c/tc3_request",
            "TC3-HMAC-SHA256 Credential=a/b/c/x, SignedHeaders=host, Signature=00",
        ] {
            assert!(parse_authorization(h).is_err(), "{h}");
        }
    }
}
