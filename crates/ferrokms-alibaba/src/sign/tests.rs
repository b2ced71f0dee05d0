//! The worked examples of spec 3.6 and negative cases.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn sha256_hex(data: &[u8]) -> String {
    Sha256Hex::of(data).as_str().to_owned()
}

const AK: &str = "testAccessKeyId";
const SECRET: &str = "testAccessKeySecret";
const NONCE: &str = "3156853299f313e23d1673dc12e1703d";
const DATE: &str = "2026-01-20T08:00:00Z";
/// 2026-01-20T08:00:00Z.
const TS: i64 = 1_768_896_000;
const UA: &str = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const FORM_CT: &str = "application/x-www-form-urlencoded";
const GDK_QUERY: &str = "EncryptionContext=%7B%22purpose%22%3A%22demo+test%22%7D&KeyId=alias%2Fdemo&KeySpec=AES_256";
const V3_SIGNED: &str = "accept;content-type;host;user-agent;x-acs-action;x-acs-content-sha256;\
                         x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;x-acs-version";
const V4_SIGNED: &str = "content-type;host;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;\
                         x-acs-date;x-acs-signature-nonce;x-acs-version";

fn headers(list: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in list {
        h.append(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
    }
    h
}

/// The Tea SDK's v3 header set for `action` with the given body hash and Authorization.
fn tea_headers(action: &str, body_sha256: &str, authorization: &str) -> HeaderMap {
    headers(&[
        ("host", "127.0.0.1:18080"),
        ("x-acs-version", "2016-01-20"),
        ("x-acs-action", action),
        ("user-agent", UA),
        ("x-acs-date", DATE),
        ("x-acs-signature-nonce", NONCE),
        ("accept", "application/json"),
        ("content-type", FORM_CT),
        ("x-acs-content-sha256", body_sha256),
        ("x-acs-credentials-provider", "static_ak"),
        ("authorization", authorization),
        ("accept-encoding", "identity"),
    ])
}

fn acs3_auth(signed: &str, sig: &str) -> String {
    format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={signed},Signature={sig}")
}

const A_SIG: &str = "bc7dd8b339f2bfb5f2ab93527ef39ab373a983668c2e4ea1c6464b7956d7cbd1";

fn example_a_headers() -> HeaderMap {
    tea_headers("GenerateDataKey", EMPTY_SHA256, &acs3_auth(V3_SIGNED, A_SIG))
}

fn req<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> HttpRequest<'a> {
    HttpRequest { method: "POST", headers, body }
}

fn claim(r: &HttpRequest<'_>, p: &Params) -> Claimed {
    claimed(r, p).unwrap().expect("authenticated request")
}

#[test]
fn example_a_acs3() {
    let h = example_a_headers();
    let r = req(&h, b"");
    let p = Params::new(GDK_QUERY, b"", Some(FORM_CT)).unwrap();
    let c = claim(&r, &p);
    assert_eq!(c.access_key_id, AK);
    assert_eq!(c.nonce.as_deref(), Some(NONCE));
    assert_eq!(c.timestamp, TS);
    let Scheme::Acs3 { signed_headers, signature } = &c.scheme else { panic!("not ACS3: {c:?}") };
    assert_eq!(signed_headers, V3_SIGNED);
    assert_eq!(hex::encode(signature), A_SIG);

    let cr = canonical_request(&r, &p, V3_SIGNED).unwrap();
    let expected = "POST\n/\n\
        EncryptionContext=%7B%22purpose%22%3A%22demo%20test%22%7D&KeyId=alias%2Fdemo&KeySpec=AES_256\n\
        accept:application/json\n\
        content-type:application/x-www-form-urlencoded\n\
        host:127.0.0.1:18080\n\
        user-agent:AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2\n\
        x-acs-action:GenerateDataKey\n\
        x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
        x-acs-credentials-provider:static_ak\n\
        x-acs-date:2026-01-20T08:00:00Z\n\
        x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n\
        x-acs-version:2016-01-20\n\
        \n\
        accept;content-type;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;\
        x-acs-date;x-acs-signature-nonce;x-acs-version\n\
        e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_eq!(cr, expected);
    assert_eq!(sha256_hex(cr.as_bytes()), "0234583e7cc3756712b497adff0e214befd8af0a11672ab419fb5c6497453e72");
    verify(&c, SECRET, &r, &p).unwrap();
}

const B_BODY: &[u8] = b"SecretData=p%40ss+word%2B1";
const B_SHA256: &str = "58e939925c30c811a7981ab24eb29ce4e1b7e065ac6dae771d846a374e0ca78c";
const B_SIG: &str = "12e8679c7529bb47aff64287d3e88b8c6864270ebb2f9c265a7f2ec84270c5a0";

#[test]
fn example_b_acs3_form_body() {
    assert_eq!(B_BODY.len(), 26);
    assert_eq!(sha256_hex(B_BODY), B_SHA256);
    let h = tea_headers("PutSecretValue", B_SHA256, &acs3_auth(V3_SIGNED, B_SIG));
    let r = req(&h, B_BODY);
    let p = Params::new("SecretName=db%2Fpass&VersionId=v2", B_BODY, Some(FORM_CT)).unwrap();
    assert_eq!(p.get("SecretData"), Some("p@ss word+1"));
    let c = claim(&r, &p);
    let cr = canonical_request(&r, &p, V3_SIGNED).unwrap();
    assert_eq!(cr.lines().nth(2), Some("SecretName=db%2Fpass&VersionId=v2"));
    assert_eq!(sha256_hex(cr.as_bytes()), "2b7035b6ee2adcb162cf4af4617402b3a15b0e8ebbb282f02105dcf2904fb1bf");
    verify(&c, SECRET, &r, &p).unwrap();
}

const C_QUERY: &str = "Action=GenerateDataKey&Format=json&Version=2016-01-20&Timestamp=2026-01-20T08%3A00%3A00Z\
    &SignatureNonce=3156853299f313e23d1673dc12e1703d&EncryptionContext=%7B%22purpose%22%3A%22demo+test%22%7D\
    &KeyId=alias%2Fdemo&KeySpec=AES_256&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testAccessKeyId\
    &Signature=oYPJBE4vEwmBBsYWFyZBJpyr7Zk%3D";
const C_STS: &str = "POST&%2F&AccessKeyId%3DtestAccessKeyId%26Action%3DGenerateDataKey%26EncryptionContext%3D\
    %257B%2522purpose%2522%253A%2522demo%2520test%2522%257D%26Format%3Djson%26KeyId%3Dalias%252Fdemo%26KeySpec\
    %3DAES_256%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3156853299f313e23d1673dc12e1703d%26SignatureVersion\
    %3D1.0%26Timestamp%3D2026-01-20T08%253A00%253A00Z%26Version%3D2016-01-20";

fn tea_v2_headers() -> HeaderMap {
    headers(&[
        ("host", "127.0.0.1:18080"),
        ("x-acs-version", "2016-01-20"),
        ("x-acs-action", "GenerateDataKey"),
        ("user-agent", UA),
        ("content-type", FORM_CT),
        ("x-acs-credentials-provider", "static_ak"),
    ])
}

#[test]
fn example_c_rpc_tea_v2() {
    let h = tea_v2_headers();
    let r = req(&h, b"");
    let p = Params::new(C_QUERY, b"", Some(FORM_CT)).unwrap();
    let c = claim(&r, &p);
    assert_eq!(c.access_key_id, AK);
    assert_eq!(c.nonce.as_deref(), Some(NONCE));
    assert_eq!(c.timestamp, TS);
    assert_eq!(
        c.scheme,
        Scheme::RpcV1 { sha256: false, signature: BASE64.decode("oYPJBE4vEwmBBsYWFyZBJpyr7Zk=").unwrap() }
    );
    assert_eq!(rpc_string_to_sign("POST", &p), C_STS);
    verify(&c, SECRET, &r, &p).unwrap();
}

const D_QUERY: &str = "KeyId=alias%2Fdemo&KeySpec=AES_256&EncryptionContext=%7B%22purpose%22%3A%20%22demo%20test%22%7D\
    &Version=2016-01-20&Action=GenerateDataKey&Format=JSON&RegionId=cn-hangzhou&Timestamp=2026-01-20T08%3A00%3A00Z\
    &SignatureMethod=HMAC-SHA1&SignatureType=&SignatureVersion=1.0&SignatureNonce=3156853299f313e23d1673dc12e1703d\
    &AccessKeyId=testAccessKeyId&Signature=nrLjic12ODTYYVn31HrQleIaS%2BQ%3D";
const D_CANON: &str = "AccessKeyId=testAccessKeyId&Action=GenerateDataKey&EncryptionContext=%7B%22purpose%22%3A%20\
    %22demo%20test%22%7D&Format=JSON&KeyId=alias%2Fdemo&KeySpec=AES_256&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1\
    &SignatureNonce=3156853299f313e23d1673dc12e1703d&SignatureType=&SignatureVersion=1.0\
    &Timestamp=2026-01-20T08%3A00%3A00Z&Version=2016-01-20";

#[test]
fn example_d_rpc_old_sdk() {
    let h = headers(&[
        ("host", "127.0.0.1:18080"),
        ("user-agent", "AlibabaCloud (Linux 6.1;x86_64) Python/3.11.7 Core/2.16.1 python-requests/2.18.3"),
        ("x-acs-action", "GenerateDataKey"),
        ("x-acs-version", "2016-01-20"),
        ("x-sdk-invoke-type", "normal"),
        ("x-sdk-client", "python/2.0.0"),
    ]);
    let r = req(&h, b"");
    let p = Params::new(D_QUERY, b"", None).unwrap();
    let c = claim(&r, &p);
    assert_eq!(c.timestamp, TS);
    assert_eq!(rpc_string_to_sign("POST", &p), format!("POST&%2F&{}", percent_encode(D_CANON)));
    let Scheme::RpcV1 { sha256: false, signature } = &c.scheme else { panic!("{c:?}") };
    assert_eq!(BASE64.encode(signature), "nrLjic12ODTYYVn31HrQleIaS+Q=");
    verify(&c, SECRET, &r, &p).unwrap();
}

const E_SIG: &str = "ce5e0ce2191e30affc23832a1b7b1dab381edd5bfe72a341fd6440e2855f49a6";

#[test]
fn example_e_acs4() {
    let key = acs4_signing_key(SECRET, "20260120", "cn-hangzhou", "Kms");
    assert_eq!(hex::encode(key.as_ref()), "00570490d6cfedf0a19699b2a9e3e81fe5e398939c4b2203e3fc4ed4984d36c3");

    let auth = format!(
        "ACS4-HMAC-SHA256 Credential={AK}/20260120/cn-hangzhou/Kms/aliyun_v4_request,SignedHeaders={V4_SIGNED},Signature={E_SIG}"
    );
    let h = tea_headers("GenerateDataKey", EMPTY_SHA256, &auth);
    let r = req(&h, b"");
    let p = Params::new(GDK_QUERY, b"", Some(FORM_CT)).unwrap();
    let c = claim(&r, &p);
    assert_eq!(c.access_key_id, AK);
    assert_eq!(
        c.scheme,
        Scheme::Acs4 {
            date: "20260120".into(),
            region: "cn-hangzhou".into(),
            product: "Kms".into(),
            signed_headers: V4_SIGNED.into(),
            signature: hex::decode(E_SIG).unwrap().try_into().unwrap(),
        }
    );
    let cr = canonical_request(&r, &p, V4_SIGNED).unwrap();
    assert_eq!(sha256_hex(cr.as_bytes()), "b09fcd07696cfc60d34a6d804f19bb8d0d55a67913fca50af5c1f899e0e7a77c");
    verify(&c, SECRET, &r, &p).unwrap();

    let Err(SignError::Mismatch { string_to_sign }) = verify(&c, "wrong", &r, &p) else { panic!() };
    assert!(string_to_sign.starts_with("ACS4-HMAC-SHA256\nb09fcd07"));
}

#[test]
fn acs4_scope_must_match_date() {
    let auth = format!(
        "ACS4-HMAC-SHA256 Credential={AK}/20260121/cn-hangzhou/Kms/aliyun_v4_request,SignedHeaders={V4_SIGNED},Signature={E_SIG}"
    );
    let h = tea_headers("GenerateDataKey", EMPTY_SHA256, &auth);
    let p = Params::new(GDK_QUERY, b"", Some(FORM_CT)).unwrap();
    assert!(matches!(claimed(&req(&h, b""), &p), Err(SignError::Incomplete(_))));
    let auth = format!(
        "ACS4-HMAC-SHA256 Credential={AK}/20260120/cn-hangzhou/Kms,SignedHeaders={V4_SIGNED},Signature={E_SIG}"
    );
    let h = tea_headers("GenerateDataKey", EMPTY_SHA256, &auth);
    assert!(matches!(claimed(&req(&h, b""), &p), Err(SignError::Incomplete(_))));
}

#[test]
fn acs3_tampered_query_and_wrong_secret() {
    let h = example_a_headers();
    let r = req(&h, b"");
    let p = Params::new(GDK_QUERY, b"", Some(FORM_CT)).unwrap();
    let c = claim(&r, &p);
    let Err(SignError::Mismatch { string_to_sign }) = verify(&c, "wrongSecret", &r, &p) else { panic!() };
    assert_eq!(string_to_sign, "ACS3-HMAC-SHA256\n0234583e7cc3756712b497adff0e214befd8af0a11672ab419fb5c6497453e72");

    let tampered = Params::new(&GDK_QUERY.replace("AES_256", "AES_128"), b"", Some(FORM_CT)).unwrap();
    assert!(matches!(verify(&c, SECRET, &r, &tampered), Err(SignError::Mismatch { .. })));
    // An extra query parameter is signed too.
    let extra = Params::new(&format!("{GDK_QUERY}&X=1"), b"", Some(FORM_CT)).unwrap();
    assert!(matches!(verify(&c, SECRET, &r, &extra), Err(SignError::Mismatch { .. })));
    // So is the method.
    let get = HttpRequest { method: "GET", ..r };
    assert!(matches!(verify(&c, SECRET, &get, &p), Err(SignError::Mismatch { .. })));
}

#[test]
fn acs3_tampered_header() {
    let mut h = example_a_headers();
    h.insert("x-acs-action", HeaderValue::from_static("ScheduleKeyDeletion"));
    let r = req(&h, b"");
    let p = Params::new(GDK_QUERY, b"", Some(FORM_CT)).unwrap();
    let c = claim(&r, &p);
    assert!(matches!(verify(&c, SECRET, &r, &p), Err(SignError::Mismatch { .. })));
}

#[test]
fn acs3_body_hash() {
    let h = tea_headers("PutSecretValue", B_SHA256, &acs3_auth(V3_SIGNED, B_SIG));
    let body = b"SecretData=p%40ss+word%2B2";
    let r = req(&h, body);
    let p = Params::new("SecretName=db%2Fpass&VersionId=v2", body, Some(FORM_CT)).unwrap();
    let c = claim(&r, &p);
    assert_eq!(verify(&c, SECRET, &r, &p), Err(SignError::BodyHashMismatch));

    // Without the header the body is still covered by HashedPayload.
    let signed = "accept;content-type;host;user-agent;x-acs-action;x-acs-credentials-provider;\
                  x-acs-date;x-acs-signature-nonce;x-acs-version";
    let mut h = tea_headers("PutSecretValue", B_SHA256, &acs3_auth(signed, B_SIG));
    h.remove("x-acs-content-sha256");
    let r = req(&h, body);
    let c = claim(&r, &p);
    assert!(matches!(verify(&c, SECRET, &r, &p), Err(SignError::Mismatch { .. })));
}

#[test]
fn acs3_authorization_parsing() {
    let p = Params::default();
    let with_auth = |auth: &str| tea_headers("GenerateDataKey", EMPTY_SHA256, auth);
    let try_auth = |auth: &str| claimed(&req(&with_auth(auth), b""), &p);

    // Spaces after commas are tolerated.
    let spaced = format!("ACS3-HMAC-SHA256 Credential={AK}, SignedHeaders={V3_SIGNED}, Signature={A_SIG}");
    let c = try_auth(&spaced).unwrap().unwrap();
    assert!(matches!(c.scheme, Scheme::Acs3 { .. }));

    for bad in [
        "ACS3-HMAC-SHA256".to_owned(),
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={V3_SIGNED}"),
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={V3_SIGNED},Signature=abcd"),
        format!("ACS3-HMAC-SHA256 Credential=,SignedHeaders={V3_SIGNED},Signature={A_SIG}"),
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={V3_SIGNED},Signature={A_SIG},Extra=1"),
        format!("ACS3-HMAC-SHA256 Credential={AK},Credential={AK},SignedHeaders={V3_SIGNED},Signature={A_SIG}"),
        format!("ACS3-HMAC-SHA256 Credential={AK},SignedHeaders=host;;x-acs-date,Signature={A_SIG}"),
        // x-acs-action and others present but not signed.
        format!(
            "ACS3-HMAC-SHA256 Credential={AK},SignedHeaders=host;x-acs-date;x-acs-signature-nonce,Signature={A_SIG}"
        ),
    ] {
        assert!(matches!(try_auth(&bad), Err(SignError::Incomplete(_))), "{bad}");
    }
    let sm3 = format!("ACS3-HMAC-SM3 Credential={AK},SignedHeaders={V3_SIGNED},Signature={A_SIG}");
    assert_eq!(try_auth(&sm3), Err(SignError::UnsupportedMethod("ACS3-HMAC-SM3".into())));

    // Two Authorization headers.
    let mut h = example_a_headers();
    h.append(AUTHORIZATION, HeaderValue::from_static("Basic x"));
    assert!(matches!(claimed(&req(&h, b""), &p), Err(SignError::Incomplete(_))));
}

#[test]
fn acs3_missing_date_nonce_and_bad_date() {
    let p = Params::default();
    let mut h = example_a_headers();
    h.remove("x-acs-signature-nonce");
    assert_eq!(claimed(&req(&h, b""), &p), Err(SignError::Missing("x-acs-signature-nonce")));
    let mut h = example_a_headers();
    h.remove("x-acs-date");
    assert_eq!(claimed(&req(&h, b""), &p), Err(SignError::Missing("x-acs-date")));
    let mut h = example_a_headers();
    h.insert("x-acs-date", HeaderValue::from_static("Tue, 20 Jan 2026 08:00:00 GMT"));
    assert!(matches!(claimed(&req(&h, b""), &p), Err(SignError::BadTimestamp(_))));
}

#[test]
fn timestamps() {
    assert_eq!(parse_timestamp(DATE), Ok(TS));
    assert_eq!(parse_timestamp("2026-01-20T08:00:00.123Z"), Ok(TS));
    assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Ok(1));
    for bad in ["2026-01-20T08:00:00", "2026-01-20 08:00:00Z", "2026-01-20T08:00:00+08:00", "2026-13-20T08:00:00Z", ""]
    {
        assert!(matches!(parse_timestamp(bad), Err(SignError::BadTimestamp(_))), "{bad}");
    }
    assert_eq!(yyyymmdd(TS).as_deref(), Some("20260120"));
}

#[test]
fn no_authentication() {
    let h = headers(&[("host", "x"), ("authorization", "Bearer abc")]);
    let p = Params::new("Action=DescribeRegions", b"", None).unwrap();
    assert_eq!(claimed(&req(&h, b""), &p), Ok(None));
}

#[test]
fn rpc_wrong_secret_echoes_string_to_sign() {
    let h = tea_v2_headers();
    let r = req(&h, b"");
    let p = Params::new(C_QUERY, b"", None).unwrap();
    let c = claim(&r, &p);
    let err = verify(&c, "wrongSecret", &r, &p).unwrap_err();
    assert_eq!(err, SignError::Mismatch { string_to_sign: C_STS.into() });
    assert!(err.to_string().ends_with(&format!("server string to sign is:{C_STS}")));
}

#[test]
fn rpc_tampered_and_moved_params() {
    let h = tea_v2_headers();
    let r = req(&h, b"");
    let p = Params::new(&C_QUERY.replace("KeySpec=AES_256", "KeySpec=AES_128"), b"", None).unwrap();
    let c = claim(&r, &p);
    assert!(matches!(verify(&c, SECRET, &r, &p), Err(SignError::Mismatch { .. })));

    // RPC signs form parameters too: moving KeyId into the body still verifies, adding one does not.
    let (q, f) = (C_QUERY.replace("&KeyId=alias%2Fdemo", ""), "KeyId=alias%2Fdemo");
    let p = Params::new(&q, f.as_bytes(), Some(FORM_CT)).unwrap();
    verify(&claim(&r, &p), SECRET, &r, &p).unwrap();
    let p = Params::new(C_QUERY, b"Extra=1", Some(FORM_CT)).unwrap();
    assert!(matches!(verify(&claim(&r, &p), SECRET, &r, &p), Err(SignError::Mismatch { .. })));
}

#[test]
fn rpc_hmac_sha256() {
    // Sign with SHA-256 the way the spec describes and check that it verifies.
    let q = C_QUERY.replace("HMAC-SHA1", "HMAC-SHA256").replace("&Signature=oYPJBE4vEwmBBsYWFyZBJpyr7Zk%3D", "");
    let unsigned = Params::new(&q, b"", None).unwrap();
    let sts = rpc_string_to_sign("POST", &unsigned);
    let sig = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"testAccessKeySecret&"), sts.as_bytes());
    let q = format!("{q}&Signature={}", percent_encode(&BASE64.encode(sig.as_ref())));
    let h = tea_v2_headers();
    let r = req(&h, b"");
    let p = Params::new(&q, b"", None).unwrap();
    let c = claim(&r, &p);
    assert!(matches!(c.scheme, Scheme::RpcV1 { sha256: true, .. }));
    verify(&c, SECRET, &r, &p).unwrap();
    // An unescaped '+' in the signature (decoded as a space) is tolerated.
    let raw = format!("{}&Signature={}", q.split("&Signature=").next().unwrap(), BASE64.encode(sig.as_ref()));
    let p = Params::new(&raw, b"", None).unwrap();
    assert_eq!(claim(&r, &p).scheme, c.scheme);
}

#[test]
fn rpc_missing_and_unsupported() {
    let h = tea_v2_headers();
    let r = req(&h, b"");
    let without = |name: &str| {
        let q: Vec<&str> = C_QUERY.split('&').filter(|kv| !kv.starts_with(&format!("{name}="))).collect();
        claimed(&r, &Params::new(&q.join("&"), b"", None).unwrap())
    };
    assert_eq!(without("Timestamp"), Err(SignError::Missing("Timestamp")));
    assert_eq!(without("SignatureNonce"), Err(SignError::Missing("SignatureNonce")));
    assert_eq!(without("AccessKeyId"), Err(SignError::Missing("AccessKeyId")));
    assert_eq!(without("SignatureMethod"), Err(SignError::Missing("SignatureMethod")));
    assert_eq!(without("SignatureVersion"), Err(SignError::Missing("SignatureVersion")));

    let with = |from: &str, to: &str| claimed(&r, &Params::new(&C_QUERY.replace(from, to), b"", None).unwrap());
    assert!(matches!(with("SignatureVersion=1.0", "SignatureVersion=2.0"), Err(SignError::UnsupportedMethod(_))));
    assert!(matches!(with("HMAC-SHA1", "HMAC-MD5"), Err(SignError::UnsupportedMethod(_))));
    assert!(matches!(with("Format=json", "SignatureType=PRIVATEKEY"), Err(SignError::UnsupportedMethod(_))));
    assert!(matches!(with("08%3A00%3A00Z", "08%3A00"), Err(SignError::BadTimestamp(_))));
    assert!(matches!(with("oYPJBE4vEwmBBsYWFyZBJpyr7Zk%3D", "%21%21"), Err(SignError::Incomplete(_))));
    assert!(matches!(with("Format=json", "Signature=x"), Err(SignError::Incomplete(_))));
    // Parameters are looked up in the form body as well.
    let (q, f) =
        (C_QUERY.replace("&SignatureNonce=3156853299f313e23d1673dc12e1703d", ""), format!("SignatureNonce={NONCE}"));
    let c = claimed(&r, &Params::new(&q, f.as_bytes(), Some(FORM_CT)).unwrap()).unwrap().unwrap();
    assert_eq!(c.nonce.as_deref(), Some(NONCE));
}

/// Found by the fuzzer's allocation meter: every repeat of a signed name copied its header's
/// values into the canonical request again (2.5 MB held for an 8.7 KB request; a 400 KB header
/// block could make it gigabytes).
#[test]
fn repeated_signed_header_names_are_refused() {
    let signed = format!("{V3_SIGNED}{}", ";x-big".repeat(1000));
    let mut h = tea_headers("DescribeKey", EMPTY_SHA256, &acs3_auth(&signed, A_SIG));
    h.insert("x-big", HeaderValue::from_str(&"a".repeat(2000)).unwrap());
    let p = Params::new("KeyId=k", b"", Some(FORM_CT)).unwrap();
    assert!(matches!(claimed(&req(&h, b""), &p), Err(SignError::Incomplete(_))));
    for signed in [format!("{V3_SIGNED};host"), format!("{V3_SIGNED};Accept")] {
        let h = tea_headers("DescribeKey", EMPTY_SHA256, &acs3_auth(&signed, A_SIG));
        assert!(matches!(claimed(&req(&h, b""), &p), Err(SignError::Incomplete(_))), "{signed}");
    }
    let auth = format!(
        "ACS4-HMAC-SHA256 Credential={AK}/20260120/cn-hangzhou/Kms/aliyun_v4_request,SignedHeaders={V4_SIGNED};host,Signature={E_SIG}"
    );
    let h = tea_headers("GenerateDataKey", EMPTY_SHA256, &auth);
    assert!(matches!(claimed(&req(&h, b""), &p), Err(SignError::Incomplete(_))));
}
