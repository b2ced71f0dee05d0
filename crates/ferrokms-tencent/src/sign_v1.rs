//! TencentCloud API signature v1 (`SignatureMethod` `HmacSHA1` or `HmacSHA256`).
//!
//! The official SDKs still offer it (`ClientProfile(signMethod="HmacSHA256")` in Python,
//! `SignMethod = "HmacSHA256"` in Go): every parameter, the common ones (`Action`, `Nonce`,
//! `Timestamp`, `SecretId`, `SignatureMethod`, `Region`, `Version`, ...) and the action's own
//! flattened ones (`KeyIds.0`, `Tags.0.TagKey`), travels form-encoded, in the body of a POST
//! (`Content-Type: application/x-www-form-urlencoded`) or in the query of a GET.
//!
//! String to sign: method + host + path + `?` + every parameter but `Signature`, sorted by name,
//! joined as `name=value&...` with the **decoded** values (nothing is re-encoded). The signature is
//! the base64 of HMAC-SHA1 or HMAC-SHA256 of it, keyed with the SecretKey; `SignatureMethod`
//! absent means HmacSHA1. The SDKs sign their configured endpoint (host and port, as sent in
//! `Host`); the host without its port is tried too, as for TC3. The path is always `/`.
//!
//! The whole parameter set is signed, so the action, region and version come from it, never
//! from headers. Names must be unique: with a repeated name the signed string would not say which
//! value was meant.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The parameters common to every action (API 3.0, signature v1): never passed to the action.
pub const COMMON_PARAMETERS: &[&str] = &[
    "Action",
    "Nonce",
    "Timestamp",
    "SecretId",
    "Signature",
    "SignatureMethod",
    "Region",
    "Version",
    "Token",
    "Language",
    "RequestClient",
];

/// Most parameters in one request (the GET converter has the same bound).
const MAX_PARAMETERS: usize = 1000;

/// The path every SDK signs and calls.
const PATH: &str = "/";

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.as_bytes().get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix.as_bytes()))
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| starts_with_ignore_case(c.trim_start(), "application/x-www-form-urlencoded"))
}

/// Whether form-encoded `raw` names both `SecretId` and `Signature`.
fn names_v1_credentials(raw: &[u8]) -> bool {
    let (mut secret_id, mut signature) = (false, false);
    for (name, _) in form_urlencoded::parse(raw) {
        match &*name {
            "SecretId" => secret_id = true,
            "Signature" => signature = true,
            _ => continue,
        }
        if secret_id && signature {
            return true;
        }
    }
    false
}

/// Whether a request is signed with v1: its query, or its form-encoded body, carries both
/// `SecretId` and `Signature`. (Alibaba RPC requests carry `AccessKeyId` and `SignatureNonce`,
/// never `SecretId`; TC3 requests carry their signature in the Authorization header.)
pub fn detect(headers: &HeaderMap, query: &str, body: &[u8]) -> bool {
    names_v1_credentials(query.as_bytes()) || (is_form(headers) && names_v1_credentials(body))
}

/// The decoded parameters of a v1 request, sorted by name, each name once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    sorted: Vec<(String, String)>,
}

impl Params {
    /// Parses form-encoded parameters; refuses repeated or empty names and too many parameters.
    pub fn parse(raw: &[u8]) -> Result<Self, ApiError> {
        let mut sorted = Vec::new();
        for (name, value) in form_urlencoded::parse(raw) {
            if sorted.len() == MAX_PARAMETERS {
                return Err(ApiError::invalid_parameter(format!("At most {MAX_PARAMETERS} parameters.")));
            }
            if name.is_empty() {
                return Err(ApiError::invalid_parameter("A parameter has an empty name."));
            }
            sorted.push((name.into_owned(), value.into_owned()));
        }
        // Byte order of UTF-8 is code point order: what Python's `sorted` and Go's `sort.Strings` give.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(ApiError::invalid_parameter(format!(
                "The parameter `{}` appears more than once; a v1 signature cannot cover repeated names.",
                w[0].0
            )));
        }
        Ok(Self { sorted })
    }

    /// The value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.sorted.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| self.sorted[i].1.as_str())
    }

    /// The action's own parameters (the common ones left out), for [`crate::query::pairs_to_json`].
    pub fn action_parameters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sorted
            .iter()
            .filter(|(n, _)| !COMMON_PARAMETERS.contains(&n.as_str()))
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// `method + host + path + "?" + k=v&...` over every parameter but `Signature`, values unencoded.
pub fn string_to_sign(method: &str, host: &str, path: &str, params: &Params) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(method);
    out.push_str(host);
    out.push_str(path);
    out.push('?');
    let mut first = true;
    for (name, value) in params.sorted.iter().filter(|(n, _)| n != "Signature") {
        if !first {
            out.push('&');
        }
        first = false;
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// `SignatureMethod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureMethod {
    /// `HmacSHA1`, the default when the parameter is absent.
    HmacSha1,
    /// `HmacSHA256`.
    HmacSha256,
}

impl SignatureMethod {
    /// The method a `SignatureMethod` value names (absent: HmacSHA1).
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("HmacSHA1") => Ok(Self::HmacSha1),
            Some("HmacSHA256") => Ok(Self::HmacSha256),
            Some(_) => Err(ApiError::invalid_value("SignatureMethod", "must be HmacSHA1 or HmacSHA256")),
        }
    }

    fn algorithm(self) -> hmac::Algorithm {
        match self {
            Self::HmacSha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::HmacSha256 => hmac::HMAC_SHA256,
        }
    }
}

/// The raw HMAC of `string_to_sign` under `secret`.
pub fn sign(secret: &str, method: SignatureMethod, string_to_sign: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(method.algorithm(), secret.as_bytes()), string_to_sign.as_bytes()).as_ref().to_vec()
}

/// What a request claims about its signer, read from its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed<'a> {
    /// `SecretId`.
    pub secret_id: &'a str,
    /// `Signature`, base64-decoded (empty when it was not base64: it then matches nothing).
    pub signature: Vec<u8>,
    /// `SignatureMethod`.
    pub method: SignatureMethod,
    /// `Timestamp`, Unix seconds.
    pub timestamp: i64,
    /// `Nonce`, a positive integer.
    pub nonce: u64,
}

impl<'a> Claimed<'a> {
    /// Reads and checks the signing parameters: `MissingParameter` when one is absent,
    /// `InvalidParameter(Value)` when one is malformed.
    pub fn from_params(params: &'a Params) -> Result<Self, ApiError> {
        let required = |name: &str| params.get(name).filter(|v| !v.is_empty()).ok_or_else(|| ApiError::missing(name));
        let secret_id = required("SecretId")?;
        let signature = required("Signature")?;
        let timestamp = required("Timestamp")?
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_parameter("Timestamp must be an integer number of seconds."))?;
        let nonce = required("Nonce")?
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::invalid_parameter("Nonce must be a positive integer."))?;
        let method = SignatureMethod::parse(params.get("SignatureMethod"))?;
        let signature = STANDARD.decode(signature).unwrap_or_default();
        Ok(Self { secret_id, signature, method, timestamp, nonce })
    }
}

/// The circumstances a request is verified in.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// The received `Host`.
    pub host: &'a str,
    /// Server time, Unix seconds.
    pub now: i64,
    /// Largest accepted |now - Timestamp|, seconds.
    pub max_skew: i64,
}

/// Verifies a request and returns its signer: `credential` is the SecretKey of
/// `claimed.secret_id` and its owner, `None` when there is no such (active) key.
/// Errors: `AuthFailure.SecretIdNotFound`, `AuthFailure.SignatureExpire`,
/// `AuthFailure.SignatureFailure`, in that order.
pub fn verify<T>(
    params: &Params,
    claimed: &Claimed<'_>,
    credential: Option<(&str, T)>,
    check: &Check<'_>,
) -> Result<T, ApiError> {
    let (secret, owner) = credential
        .ok_or_else(|| ApiError::new("AuthFailure.SecretIdNotFound", "The SecretId does not exist or is disabled."))?;
    if check.now.abs_diff(claimed.timestamp) > check.max_skew.unsigned_abs() {
        return Err(ApiError::new(
            "AuthFailure.SignatureExpire",
            format!(
                "The request timestamp {} is more than {} seconds from the server time {}.",
                claimed.timestamp, check.max_skew, check.now
            ),
        ));
    }
    let mut hosts = vec![check.host];
    hosts.extend(crate::tc3::without_port(check.host));
    let mut matched = subtle::Choice::from(0);
    for host in hosts {
        let expected = sign(secret, claimed.method, &string_to_sign(check.method, host, PATH, params));
        matched |= expected.ct_eq(&claimed.signature);
    }
    if bool::from(matched) {
        Ok(owner)
    } else {
        Err(ApiError::new("AuthFailure.SignatureFailure", "The request signature does not match."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET_ID: &str = "AKIDEXAMPLEKMS00000000000000000000001";
    const SECRET: &str = "ExampleSecretKeyForKmsSigning000001";

    /// The body `_build_req_with_old_signature` of tencentcloud-sdk-python-common 3.1.195 builds for
    /// `CreateKey(Alias="a b", Tags=[{TagKey: "team", TagValue: "x&y=z"}], KeyUsage=ENCRYPT_DECRYPT)`
    /// with endpoint `127.0.0.1:8080`, region ap-guangzhou, `time.time()` pinned to 1700000000,
    /// `random.randint` to 12345, and `request_client` set to `SDK_PYTHON_3.1.192`; `{method}` is
    /// HmacSHA1 or HmacSHA256 and `{sig}` the signature the SDK's `Sign.sign` computed (below).
    fn sdk_body(method: &str, sig: &str) -> String {
        format!(
            "Alias=a+b&Tags.0.TagKey=team&Tags.0.TagValue=x%26y%3Dz&KeyUsage=ENCRYPT_DECRYPT&Action=CreateKey\
             &RequestClient=SDK_PYTHON_3.1.192&Nonce=12345&Timestamp=1700000000&Version=2019-01-18\
             &Region=ap-guangzhou&SecretId={SECRET_ID}&SignatureMethod={method}&Language=zh-CN&Signature={sig}"
        )
    }

    /// The SDK's `_format_sign_string` for the POST request above (HmacSHA1 variant).
    const SDK_STRING_TO_SIGN: &str = "POST127.0.0.1:8080/?Action=CreateKey&Alias=a b&KeyUsage=ENCRYPT_DECRYPT\
        &Language=zh-CN&Nonce=12345&Region=ap-guangzhou&RequestClient=SDK_PYTHON_3.1.192\
        &SecretId=AKIDEXAMPLEKMS00000000000000000000001&SignatureMethod=HmacSHA1&Tags.0.TagKey=team\
        &Tags.0.TagValue=x&y=z&Timestamp=1700000000&Version=2019-01-18";

    /// (SignatureMethod, HTTP method, Signature as the SDK sent it url-encoded, decoded);
    /// `scripts/sigv1_vectors.py` prints them.
    const SDK_VECTORS: &[(&str, &str, &str, &str)] = &[
        ("HmacSHA1", "POST", "UpKC6%2Fk9Xz7xqD8VNkY8Zj%2BwkoQ%3D", "UpKC6/k9Xz7xqD8VNkY8Zj+wkoQ="),
        ("HmacSHA1", "GET", "T6YP7Zj41f5KOnCVFwth58H7MTE%3D", "T6YP7Zj41f5KOnCVFwth58H7MTE="),
        (
            "HmacSHA256",
            "POST",
            "tCrZ19LeHAGnNmbDyHflUPE4fsERUkguSJtmhEeKyOg%3D",
            "tCrZ19LeHAGnNmbDyHflUPE4fsERUkguSJtmhEeKyOg=",
        ),
        (
            "HmacSHA256",
            "GET",
            "97f0jnqwtbj1CIHyNSNcGkQt%2FQudg1BkfsdGqt9qiRo%3D",
            "97f0jnqwtbj1CIHyNSNcGkQt/Qudg1BkfsdGqt9qiRo=",
        ),
    ];

    fn check(method: &'static str) -> Check<'static> {
        Check { method, host: "127.0.0.1:8080", now: 1_700_000_100, max_skew: 300 }
    }

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        h
    }

    #[test]
    fn string_to_sign_matches_the_python_sdk() {
        let body = sdk_body("HmacSHA1", SDK_VECTORS[0].2);
        let params = Params::parse(body.as_bytes()).unwrap();
        assert_eq!(string_to_sign("POST", "127.0.0.1:8080", "/", &params), SDK_STRING_TO_SIGN);
    }

    #[test]
    fn sdk_vectors_verify_with_sha1_and_sha256() {
        for (method, http_method, encoded, decoded) in SDK_VECTORS {
            let body = sdk_body(method, encoded);
            let params = Params::parse(body.as_bytes()).unwrap();
            let claimed = Claimed::from_params(&params).unwrap();
            assert_eq!(STANDARD.encode(&claimed.signature), *decoded);
            let sts = string_to_sign(http_method, "127.0.0.1:8080", "/", &params);
            let m = SignatureMethod::parse(Some(method)).unwrap();
            assert_eq!(STANDARD.encode(sign(SECRET, m, &sts)), *decoded, "{method} {http_method}");
            assert_eq!(verify(&params, &claimed, Some((SECRET, ())), &check(http_method)), Ok(()));
            // The same request under the other HTTP method, or another secret, does not verify.
            let other = if *http_method == "GET" { "POST" } else { "GET" };
            assert_eq!(
                verify(&params, &claimed, Some((SECRET, ())), &check(other)).unwrap_err().code,
                "AuthFailure.SignatureFailure"
            );
            assert_eq!(
                verify(&params, &claimed, Some(("wrong", ())), &check(http_method)).unwrap_err().code,
                "AuthFailure.SignatureFailure"
            );
        }
    }

    /// The shape of Tencent's public v1 example (CVM DescribeInstances, no SignatureMethod so
    /// HmacSHA1); signatures computed with `Sign.sign` of tencentcloud-sdk-python-common 3.1.195.
    #[test]
    fn public_example_shape() {
        let key = "Gu5t9xGARNpq86cd98joQYCN3Cozk1qA";
        let raw = "Action=DescribeInstances&Version=2017-03-12&InstanceIds.0=ins-09dx96dg&Limit=20&Offset=0\
                   &Nonce=11886&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&Timestamp=1465185768";
        let params = Params::parse(raw.as_bytes()).unwrap();
        let sts = string_to_sign("GET", "cvm.tencentcloudapi.com", "/", &params);
        assert_eq!(
            sts,
            "GETcvm.tencentcloudapi.com/?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Limit=20&Nonce=11886\
             &Offset=0&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&Timestamp=1465185768\
             &Version=2017-03-12"
        );
        assert_eq!(STANDARD.encode(sign(key, SignatureMethod::HmacSha1, &sts)), "phf49X02J2xBdx6otFSYbvFRoy4=");
        let sts = "GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg\
                   &Nonce=11886&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA\
                   &SignatureMethod=HmacSHA256&Timestamp=1465185768";
        assert_eq!(
            STANDARD.encode(sign(key, SignatureMethod::HmacSha256, sts)),
            "0EEm/HtGRr/VJXTAD9tYMth1Bzm3lLHz5RCDv1GdM8s="
        );
    }

    /// Independent of the SDK: RFC 2202 / RFC 4231 test case 2 ("Jefe").
    #[test]
    fn hmac_primitives() {
        let sha1 = sign("Jefe", SignatureMethod::HmacSha1, "what do ya want for nothing?");
        assert_eq!(hex::encode(sha1), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        let sha256 = sign("Jefe", SignatureMethod::HmacSha256, "what do ya want for nothing?");
        assert_eq!(hex::encode(sha256), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn signature_method_defaults_to_sha1() {
        assert_eq!(SignatureMethod::parse(None).unwrap(), SignatureMethod::HmacSha1);
        assert_eq!(SignatureMethod::parse(Some("HmacSHA256")).unwrap(), SignatureMethod::HmacSha256);
        assert_eq!(SignatureMethod::parse(Some("TC3-HMAC-SHA256")).unwrap_err().code, "InvalidParameterValue");
        assert_eq!(SignatureMethod::parse(Some("hmacsha1")).unwrap_err().code, "InvalidParameterValue");
        // Absent SignatureMethod: HMAC-SHA1 over a string without it.
        let raw = "Action=DescribeKey&KeyId=k&Nonce=7&Timestamp=1700000000&SecretId=AKID&Version=2019-01-18";
        let params = Params::parse(raw.as_bytes()).unwrap();
        let sig = STANDARD.encode(sign(SECRET, SignatureMethod::HmacSha1, &string_to_sign("GET", "h", "/", &params)));
        let raw = format!("{raw}&Signature={}", form_urlencoded::byte_serialize(sig.as_bytes()).collect::<String>());
        let params = Params::parse(raw.as_bytes()).unwrap();
        let claimed = Claimed::from_params(&params).unwrap();
        assert_eq!(claimed.method, SignatureMethod::HmacSha1);
        let c = Check { method: "GET", host: "h", now: 1_700_000_000, max_skew: 300 };
        assert_eq!(verify(&params, &claimed, Some((SECRET, ())), &c), Ok(()));
    }

    #[test]
    fn host_without_port_is_accepted() {
        let raw = "Action=DescribeKey&KeyId=k&Nonce=7&Timestamp=1700000000&SecretId=AKID&SignatureMethod=HmacSHA256";
        let params = Params::parse(raw.as_bytes()).unwrap();
        let sig = STANDARD.encode(sign(
            SECRET,
            SignatureMethod::HmacSha256,
            &string_to_sign("POST", "kms.local", "/", &params),
        ));
        let raw = format!("{raw}&Signature={}", form_urlencoded::byte_serialize(sig.as_bytes()).collect::<String>());
        let params = Params::parse(raw.as_bytes()).unwrap();
        let claimed = Claimed::from_params(&params).unwrap();
        let c = Check { method: "POST", host: "kms.local:8443", now: 1_700_000_000, max_skew: 300 };
        assert_eq!(verify(&params, &claimed, Some((SECRET, ())), &c), Ok(()));
        let c = Check { host: "other.local:8443", ..c };
        assert_eq!(verify(&params, &claimed, Some((SECRET, ())), &c).unwrap_err().code, "AuthFailure.SignatureFailure");
    }

    #[test]
    fn tampered_parameters_and_bad_signatures_are_refused() {
        let body = sdk_body("HmacSHA256", SDK_VECTORS[2].2);
        for tampered in [
            body.replace("Alias=a+b", "Alias=a+c"),
            body.replace("Region=ap-guangzhou", "Region=ap-beijing"),
            body.replace("Action=CreateKey", "Action=DescribeKey"),
            format!("{body}&Description=extra"),
            body.replace(SDK_VECTORS[2].2, "AAAA"),
            body.replace(SDK_VECTORS[2].2, "not%20base64!"),
        ] {
            let params = Params::parse(tampered.as_bytes()).unwrap();
            let claimed = Claimed::from_params(&params).unwrap();
            assert_eq!(
                verify(&params, &claimed, Some((SECRET, ())), &check("POST")).unwrap_err().code,
                "AuthFailure.SignatureFailure",
                "{tampered}"
            );
        }
    }

    #[test]
    fn missing_or_malformed_signing_parameters() {
        let body = sdk_body("HmacSHA256", SDK_VECTORS[2].2);
        for (name, replacement, code) in [
            ("Nonce=12345", "", "MissingParameter"),
            ("Nonce=12345", "Nonce=", "MissingParameter"),
            ("Nonce=12345", "Nonce=0", "InvalidParameter"),
            ("Nonce=12345", "Nonce=-5", "InvalidParameter"),
            ("Nonce=12345", "Nonce=abc", "InvalidParameter"),
            ("Timestamp=1700000000", "", "MissingParameter"),
            ("Timestamp=1700000000", "Timestamp=soon", "InvalidParameter"),
            ("SignatureMethod=HmacSHA256", "SignatureMethod=MD5", "InvalidParameterValue"),
            (&format!("SecretId={SECRET_ID}"), "", "MissingParameter"),
            (&format!("Signature={}", SDK_VECTORS[2].2), "", "MissingParameter"),
        ] {
            let raw = body.replace(name, replacement);
            let params = Params::parse(raw.as_bytes()).unwrap();
            let err = Claimed::from_params(&params).unwrap_err();
            assert_eq!(err.code, code, "{name} -> {replacement}: {}", err.message);
        }
        let params = Params::parse(body.replace("Nonce=12345", "").as_bytes()).unwrap();
        assert!(Claimed::from_params(&params).unwrap_err().message.contains("Nonce"));
    }

    #[test]
    fn expired_timestamp_and_unknown_secret_id() {
        let body = sdk_body("HmacSHA1", SDK_VECTORS[0].2);
        let params = Params::parse(body.as_bytes()).unwrap();
        let claimed = Claimed::from_params(&params).unwrap();
        let err = verify::<()>(&params, &claimed, None, &check("POST")).unwrap_err();
        assert_eq!(err.code, "AuthFailure.SecretIdNotFound");
        for now in [1_700_000_301, 1_699_999_699] {
            let c = Check { now, ..check("POST") };
            assert_eq!(
                verify(&params, &claimed, Some((SECRET, ())), &c).unwrap_err().code,
                "AuthFailure.SignatureExpire"
            );
        }
        for now in [1_700_000_300, 1_699_999_700] {
            assert_eq!(verify(&params, &claimed, Some((SECRET, ())), &Check { now, ..check("POST") }), Ok(()));
        }
    }

    #[test]
    fn duplicate_and_empty_names_are_refused() {
        let body = sdk_body("HmacSHA1", SDK_VECTORS[0].2);
        let err = Params::parse(format!("{body}&Alias=other").as_bytes()).unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        assert!(err.message.contains("`Alias`"), "{}", err.message);
        let err = Params::parse(format!("Region=x&{body}").as_bytes()).unwrap_err();
        assert!(err.message.contains("`Region`"), "{}", err.message);
        assert_eq!(Params::parse(b"=x&Action=A").unwrap_err().code, "InvalidParameter");
        assert!(Params::parse(vec!["a=1"; 1001].join("&").as_bytes()).is_err());
    }

    #[test]
    fn action_parameters_become_the_json_body() {
        let body = sdk_body("HmacSHA1", SDK_VECTORS[0].2);
        let params = Params::parse(body.as_bytes()).unwrap();
        assert_eq!(params.get("Action"), Some("CreateKey"));
        assert_eq!(params.get("Region"), Some("ap-guangzhou"));
        assert_eq!(params.get("Missing"), None);
        let json = crate::query::pairs_to_json(params.action_parameters()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Alias": "a b", "KeyUsage": "ENCRYPT_DECRYPT", "Tags": [{"TagKey": "team", "TagValue": "x&y=z"}]})
        );
        let raw =
            "KeyIds.1=b&KeyIds.0=a&Limit=5&TagFilters.0.TagKey=t&TagFilters.0.TagValue.0=v&Token=x&Language=en-US";
        let params = Params::parse(raw.as_bytes()).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&crate::query::pairs_to_json(params.action_parameters()).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"KeyIds": ["a", "b"], "Limit": 5, "TagFilters": [{"TagKey": "t", "TagValue": ["v"]}]})
        );
    }

    #[test]
    fn detection() {
        let body = sdk_body("HmacSHA1", SDK_VECTORS[0].2);
        assert!(detect(&form_headers(), "", body.as_bytes()), "POST form body");
        assert!(detect(&HeaderMap::new(), &body, b""), "GET query");
        assert!(!detect(&HeaderMap::new(), "", body.as_bytes()), "a body counts only when form-encoded");
        // Alibaba RPC: AccessKeyId, SignatureNonce, Signature; never SecretId.
        let rpc = "Action=Encrypt&AccessKeyId=LTAI&SignatureNonce=1&SignatureMethod=HMAC-SHA1&Signature=abc";
        assert!(!detect(&form_headers(), rpc, rpc.as_bytes()));
        // TC3 GET: the action's parameters in the query, the signature in a header.
        assert!(!detect(&HeaderMap::new(), "KeyId=k&Limit=1", b""));
        assert!(!detect(&form_headers(), "", b"SecretId=AKID"), "both names are needed");
    }
}
