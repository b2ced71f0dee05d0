"""Wire protocol and common errors: authentication, signature variants, regions, actions,
parameters, the response envelope, and rate limits."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import tc3
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, create_account, run_admin, tencent_client
from kmsutil import UUID_RE, b64, call, call_error, create_key, uid, unb64
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException


def raw(server, action, params=None, **kw):
    return tc3.post(server.endpoint, action, params, ACCESS_KEY_ID, ACCESS_KEY_SECRET, **kw)


def envelope(resp: requests.Response) -> dict:
    """Check the transport rules every answer obeys, and return Response."""
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert resp.headers.get("Content-Type") == "application/json", resp.headers.get("Content-Type")
    body = resp.json()
    assert set(body) == {"Response"}, body
    r = body["Response"]
    assert isinstance(r.get("RequestId"), str) and UUID_RE.match(r["RequestId"]), r
    if "Error" in r:
        assert set(r["Error"]) >= {"Code", "Message"}, r
        assert isinstance(r["Error"]["Code"], str) and r["Error"]["Code"]
        assert isinstance(r["Error"]["Message"], str)
    return r


def error_code(resp) -> str | None:
    r = envelope(resp)
    return r["Error"]["Code"] if "Error" in r else None


# ------------------------------------------------------------------ The signer itself

def test_tc3_signer_matches_spec_vector():
    body = b'{"KeyId": "11111111-2222-3333-4444-555555555555", "KeySpec": "AES_256"}'
    sk = "ExampleSecretKeyForKmsSigning000001"
    assert tc3.signature(sk, 1700000000, "kms.tencentcloudapi.com", body) == \
        "be48e0c495503c9c0eafabf6e96767b04ef61ecef4e43b9cfe997f8f21f536e1"
    assert tc3.signature(sk, 1700000000, "127.0.0.1:8080", body) == \
        "1ed854078fbf5e8faa806441a703924fa28b07e2eb2c09e27541d0a56ed73511"


def test_raw_signed_request_succeeds(server):
    r = envelope(raw(server, "GenerateRandom", {"NumberOfBytes": 16}))
    assert "Error" not in r, r
    assert len(unb64(r["Plaintext"])) == 16


# ------------------------------------------------------------------ Authentication

def test_bad_signature(server):
    assert error_code(raw(server, "GenerateRandom", {"NumberOfBytes": 8}, tamper_signature=True)) == \
        "AuthFailure.SignatureFailure"


def test_wrong_secret_key_via_sdk(server, make_client):
    c = make_client(server.endpoint, secret_key="not-the-secret-key-00000000000000")
    call_error(c, "GenerateRandom", "AuthFailure.SignatureFailure", NumberOfBytes=8)


def test_body_changed_after_signing(server):
    body = json.dumps({"NumberOfBytes": 8}).encode()
    ts = int(time.time())
    auth = tc3.authorization(ACCESS_KEY_ID, ACCESS_KEY_SECRET, ts, server.endpoint, body)
    resp = requests.post(server.url + "/", data=json.dumps({"NumberOfBytes": 9}).encode(), headers={
        "Host": server.endpoint, "Content-Type": "application/json", "Authorization": auth,
        "X-TC-Action": "GenerateRandom", "X-TC-Version": "2019-01-18", "X-TC-Timestamp": str(ts),
        "X-TC-Region": "ap-guangzhou"}, timeout=30)
    assert error_code(resp) == "AuthFailure.SignatureFailure"


def test_unknown_secret_id(server, make_client):
    c = make_client(server.endpoint, secret_id="AKIDnobodyHasThisKey000000000000000", secret_key="x" * 32)
    call_error(c, "GenerateRandom", "AuthFailure.SecretIdNotFound", NumberOfBytes=8)


def test_revoked_access_key(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    acct = create_account(s)
    c = tencent_client(s.endpoint, secret_id=acct.secret_id, secret_key=acct.secret_key)
    assert len(unb64(call(c, "GenerateRandom", NumberOfBytes=8).Plaintext)) == 8
    run_admin(s, "revoke-access-key", acct.secret_id)
    assert "revoked" in run_admin(s, "list-access-keys")
    # A running server trusts a loaded credential for its cache TTL ([keys] cache_ttl_ms, 1 s by
    # default), so the revocation made by the admin process must take effect within that.
    time.sleep(1.5)
    call_error(c, "GenerateRandom", "AuthFailure.SecretIdNotFound", NumberOfBytes=8)
    # the env-configured key of the first account is untouched
    assert call(tencent_client(s.endpoint), "GenerateRandom", NumberOfBytes=8).Plaintext
    # and enable-access-key brings the revoked one back
    run_admin(s, "enable-access-key", acct.secret_id)
    time.sleep(1.5)
    assert call(c, "GenerateRandom", NumberOfBytes=8).Plaintext


@pytest.mark.parametrize("skew", [-301 - 300, -3600, 301 + 300, 86400])
def test_expired_or_future_timestamp(server, skew):
    resp = raw(server, "GenerateRandom", {"NumberOfBytes": 8}, timestamp=int(time.time()) + skew)
    assert error_code(resp) == "AuthFailure.SignatureExpire"


@pytest.mark.parametrize("skew", [-240, 240])
def test_timestamp_within_five_minutes(server, skew):
    resp = raw(server, "GenerateRandom", {"NumberOfBytes": 8}, timestamp=int(time.time()) + skew)
    assert error_code(resp) is None


def test_scope_date_not_matching_timestamp(server):
    body = json.dumps({"NumberOfBytes": 8}).encode()
    ts = int(time.time())
    auth = tc3.authorization(ACCESS_KEY_ID, ACCESS_KEY_SECRET, ts, server.endpoint, body,
                             date="2001-01-01")
    resp = raw(server, "GenerateRandom", body, timestamp=ts, extra_headers={"Authorization": auth})
    assert error_code(resp) == "AuthFailure.SignatureFailure"


def test_scope_other_service(server):
    assert error_code(raw(server, "GenerateRandom", {"NumberOfBytes": 8}, service="cvm")) == \
        "AuthFailure.SignatureFailure"


@pytest.mark.parametrize("auth", [None, "", "garbage", "TC3-HMAC-SHA256 nothing-else",
                                  "HMAC-SHA1 Credential=x, Signature=y"])
def test_missing_or_malformed_authorization(server, auth):
    if auth is None:
        resp = raw(server, "GenerateRandom", {"NumberOfBytes": 8}, omit=("Authorization",))
    else:
        resp = raw(server, "GenerateRandom", {"NumberOfBytes": 8}, extra_headers={"Authorization": auth})
    assert error_code(resp) == "AuthFailure.InvalidAuthorization"


def test_missing_timestamp(server):
    resp = raw(server, "GenerateRandom", {"NumberOfBytes": 8}, omit=("X-TC-Timestamp",))
    assert error_code(resp) in ("MissingParameter", "AuthFailure.SignatureFailure")


# ------------------------------------------------------------------ What the official clients send

def test_host_with_scheme_as_tccli_sends(server):
    resp = raw(server, "GenerateRandom", {"NumberOfBytes": 8}, host=f"http://{server.endpoint}")
    assert error_code(resp) is None


def test_content_type_with_charset_as_old_java_sends(server):
    resp = raw(server, "GenerateRandom", {"NumberOfBytes": 8},
               content_type="application/json; charset=utf-8")
    assert error_code(resp) is None


def test_scope_service_first_host_label_as_old_java_sends(server):
    resp = raw(server, "GenerateRandom", {"NumberOfBytes": 8}, service="127")
    assert error_code(resp) is None


def test_host_signed_without_port_as_nodejs_sends(server):
    body = json.dumps({"NumberOfBytes": 8}).encode()
    ts = int(time.time())
    auth = tc3.authorization(ACCESS_KEY_ID, ACCESS_KEY_SECRET, ts, "127.0.0.1", body)
    resp = raw(server, "GenerateRandom", body, timestamp=ts, extra_headers={"Authorization": auth})
    assert error_code(resp) is None


def test_compact_json_body_as_go_sends(server):
    resp = raw(server, "GenerateRandom", b'{"NumberOfBytes":8}')
    r = envelope(resp)
    assert "Error" not in r and len(unb64(r["Plaintext"])) == 8


def test_get_request_via_sdk(server):
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.kms.v20190118 import kms_client
    hp = HttpProfile(protocol="http", endpoint=server.endpoint, reqMethod="GET")
    c = kms_client.KmsClient(credential.Credential(ACCESS_KEY_ID, ACCESS_KEY_SECRET), "ap-guangzhou",
                             ClientProfile(httpProfile=hp))
    assert len(unb64(call(c, "GenerateRandom", NumberOfBytes=12).Plaintext)) == 12
    k = create_key(c)
    blob = call(c, "Encrypt", KeyId=k, Plaintext=b64(b"via GET")).CiphertextBlob
    assert unb64(call(c, "Decrypt", CiphertextBlob=blob).Plaintext) == b"via GET"


def _unsigned_payload_client(endpoint):
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.kms.v20190118 import kms_client
    cp = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=endpoint))
    cp.unsignedPayload = True
    return kms_client.KmsClient(credential.Credential(ACCESS_KEY_ID, ACCESS_KEY_SECRET), "ap-guangzhou", cp)


def test_unsigned_payload_is_refused_by_default(server):
    # docs/security.md: a signature that does not cover the body could be replayed with any body.
    call_error(_unsigned_payload_client(server.endpoint), "GenerateRandom", "AuthFailure.InvalidAuthorization",
               NumberOfBytes=4)


def test_unsigned_payload_when_allowed(make_server):
    s = make_server(extra_args=["--no-rate-limit"], config="allow_unsigned_payload = true\n").start()
    assert len(unb64(call(_unsigned_payload_client(s.endpoint), "GenerateRandom", NumberOfBytes=4).Plaintext)) == 4


# ------------------------------------------------------------------ Region, action, version

def test_missing_region(server, make_client):
    call_error(make_client(server.endpoint, region=""), "GenerateRandom", "MissingParameter",
               NumberOfBytes=8)


@pytest.mark.parametrize("region", ["xx-nowhere-1", "us-east-1"])
def test_unknown_region(server, make_client, region):
    call_error(make_client(server.endpoint, region=region), "GenerateRandom", "UnsupportedRegion",
               NumberOfBytes=8)


def test_unknown_action(kms):
    with pytest.raises(TencentCloudSDKException) as ei:
        kms.call_json("MakeCoffee", {})
    assert ei.value.code == "InvalidAction", (ei.value.code, ei.value.message)


def test_action_of_another_product(kms):
    with pytest.raises(TencentCloudSDKException) as ei:
        kms.call_json("DescribeInstances", {})
    assert ei.value.code == "InvalidAction", (ei.value.code, ei.value.message)


def test_missing_action_header(server):
    assert error_code(raw(server, "GenerateRandom", {"NumberOfBytes": 8}, omit=("X-TC-Action",))) == \
        "MissingParameter"


@pytest.mark.parametrize("version", ["2017-03-12", "2016-01-20", "garbage"])
def test_other_version(server, version):
    assert error_code(raw(server, "GenerateRandom", {"NumberOfBytes": 8}, version=version)) == \
        "NoSuchVersion"


# ------------------------------------------------------------------ Parameters

def test_unknown_field(kms):
    k = create_key(kms)
    with pytest.raises(TencentCloudSDKException) as ei:
        kms.call_json("GenerateDataKey", {"KeyId": k, "KeySpec": "AES_256", "KeySpecs": "AES_256"})
    assert ei.value.code == "UnknownParameter", (ei.value.code, ei.value.message)


def test_unknown_field_on_an_action_without_inputs(kms):
    with pytest.raises(TencentCloudSDKException) as ei:
        kms.call_json("GetRegions", {"Region": "ap-guangzhou"})
    assert ei.value.code == "UnknownParameter", (ei.value.code, ei.value.message)


@pytest.mark.parametrize("params", [
    {"NumberOfBytes": "32"},
    {"NumberOfBytes": 32.5},
    {"NumberOfBytes": True},
    {"KeySpec": 256},
    {"Tags": {"TagKey": "a", "TagValue": "b"}},
    {"Tags": [{"TagKey": 1, "TagValue": "b"}]},
    {"IsHostedByKms": "1", "DataKeyName": "x"},
])
def test_wrong_json_type(kms, params):
    k = create_key(kms)
    body = {"KeyId": k, "KeySpec": "AES_256"}
    body.update(params)
    with pytest.raises(TencentCloudSDKException) as ei:
        kms.call_json("GenerateDataKey", body)
    assert ei.value.code == "InvalidParameter", (params, ei.value.code, ei.value.message)


def test_key_id_of_wrong_type(kms):
    with pytest.raises(TencentCloudSDKException) as ei:
        kms.call_json("DescribeKey", {"KeyId": 12345})
    assert ei.value.code == "InvalidParameter", (ei.value.code, ei.value.message)


@pytest.mark.parametrize("body", [b"[]", b"not json", b'"string"', b"{", b"null", b""])
def test_body_not_a_json_object(server, body):
    assert error_code(raw(server, "GenerateRandom", body)) == "InvalidParameter"


def test_body_too_large(server):
    big = json.dumps({"NumberOfBytes": 8, "Pad": "x" * (64 * 1024 + 10)}).encode()
    assert error_code(raw(server, "GenerateRandom", big)) == "RequestSizeLimitExceeded"


def test_body_just_under_limit_is_read(server):
    # 60 KiB: read and parsed (so the unknown field is what fails, not the size)
    body = json.dumps({"NumberOfBytes": 8, "Pad": "x" * (60 * 1024)}).encode()
    assert error_code(raw(server, "GenerateRandom", body)) == "UnknownParameter"


def test_a_parameter_given_twice_is_refused(server):
    # Which one would count is a guess (decoders keep the first or the last): refused, named.
    r = envelope(raw(server, "GenerateRandom", b'{"NumberOfBytes": 8, "NumberOfBytes": 1024}'))
    assert r["Error"]["Code"] == "InvalidParameter", r
    assert "NumberOfBytes" in r["Error"]["Message"], r
    # Escaped names are the same names.
    r = envelope(raw(server, "GenerateRandom", b'{"NumberOfBytes": 8, "NumberOf\\u0042ytes": 8}'))
    assert r["Error"]["Code"] == "InvalidParameter", r
    assert len(unb64(envelope(raw(server, "GenerateRandom", b'{"NumberOf\\u0042ytes": 8}'))["Plaintext"])) == 8


def test_health_check_answers_get_and_head(server):
    for method in ("GET", "HEAD"):
        r = requests.request(method, f"http://{server.endpoint}/healthz", timeout=5)
        assert r.status_code == 200, (method, r.status_code)
    assert requests.get(f"http://{server.endpoint}/healthz", timeout=5).text == "ok"


def test_missing_required_field(kms):
    call_error(kms, "Encrypt", "MissingParameter", Plaintext="eA==")


# ------------------------------------------------------------------ Envelope on every answer

def test_every_answer_is_200_json_with_request_id(server):
    k_ok = raw(server, "CreateKey", {"Alias": uid("env")})
    cases = [
        k_ok,
        raw(server, "GenerateRandom", {"NumberOfBytes": 8}),
        raw(server, "GetRegions", {}),
        raw(server, "GenerateRandom", {"NumberOfBytes": 8}, tamper_signature=True),
        raw(server, "GenerateRandom", {"NumberOfBytes": 8}, omit=("Authorization",)),
        raw(server, "GenerateRandom", {"NumberOfBytes": 8}, timestamp=int(time.time()) - 3600),
        raw(server, "GenerateRandom", {"NumberOfBytes": 8}, region=None),
        raw(server, "GenerateRandom", {"NumberOfBytes": 8}, region="mars-1"),
        raw(server, "NoSuchAction", {}),
        raw(server, "GenerateRandom", {"NumberOfBytes": 8}, version="1999-01-01"),
        raw(server, "GenerateRandom", {"NumberOfBytes": 8, "Extra": 1}),
        raw(server, "GenerateRandom", b"[]"),
        raw(server, "GenerateRandom", {"NumberOfBytes": 0}),
        raw(server, "DescribeKey", {"KeyId": "00000000-0000-4000-8000-000000000000"}),
        raw(server, "Decrypt", {"CiphertextBlob": "garbage"}),
        tc3.post(server.endpoint, "GenerateRandom", {"NumberOfBytes": 8}, "AKIDunknown", "x"),
    ]
    ids = []
    for resp in cases:
        r = envelope(resp)
        ids.append(r["RequestId"])
    assert len(set(ids)) == len(ids), "RequestIds repeat"
    assert "Error" not in envelope(cases[0])
    assert sum("Error" in envelope(c) for c in cases) == len(cases) - 3


@pytest.mark.parametrize("method,path", [("GET", "/"), ("PUT", "/"), ("DELETE", "/"), ("POST", "/nope")])
def test_odd_requests_still_get_the_envelope(server, method, path):
    resp = requests.request(method, server.url + path, timeout=30)
    r = envelope(resp)
    assert "Error" in r


def test_sdk_sees_request_id_on_errors(kms):
    e = call_error(kms, "DescribeKey", "ResourceUnavailable.CmkNotFound",
                   KeyId="00000000-0000-4000-8000-000000000001")
    assert UUID_RE.match(e.requestId)


# ------------------------------------------------------------------ Rate limits

RATE_CONFIG = """
[rate_limits]
enabled = true
[rate_limits.actions]
GenerateDataKey = 5
"""


def burst(endpoint, fn_name, fields, n):
    """n concurrent typed calls; returns the list of error codes (None = success)."""
    out: list = [None] * n
    barrier = threading.Barrier(n)

    def worker(i):
        c = tencent_client(endpoint)
        barrier.wait()
        try:
            call(c, fn_name, **fields)
            out[i] = None
        except TencentCloudSDKException as e:
            out[i] = e.code

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    return out


@pytest.mark.slow
def test_rate_limit(make_server):
    s = make_server(config=RATE_CONFIG).start()
    c = tencent_client(s.endpoint)
    k = create_key(c)
    time.sleep(1.1)
    codes = burst(s.endpoint, "GenerateDataKey", {"KeyId": k, "KeySpec": "AES_256"}, 20)
    ok = codes.count(None)
    limited = codes.count("RequestLimitExceeded")
    assert ok + limited == 20, codes
    assert limited >= 1, codes
    assert 1 <= ok <= 10, codes  # 5 per one-second window; a burst spans at most two windows
    # other actions have their own budget
    for _ in range(8):
        call(c, "Encrypt", KeyId=k, Plaintext="eA==")
    # and the window passes
    time.sleep(1.5)
    assert call(c, "GenerateDataKey", KeyId=k, KeySpec="AES_128").Plaintext


@pytest.mark.slow
def test_rate_limit_sequential(make_server):
    s = make_server(config=RATE_CONFIG).start()
    c = tencent_client(s.endpoint)
    k = create_key(c)
    time.sleep(1.1)
    codes = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.8 and len(codes) < 12:
        try:
            call(c, "GenerateDataKey", KeyId=k, KeySpec="AES_256")
            codes.append(None)
        except TencentCloudSDKException as e:
            codes.append(e.code)
    assert "RequestLimitExceeded" in codes, codes
    assert codes.count(None) <= 10, codes


@pytest.mark.slow
def test_rate_limit_is_per_account(make_server):
    s = make_server(config=RATE_CONFIG).start()
    a = tencent_client(s.endpoint)
    acct = create_account(s)
    b = tencent_client(s.endpoint, secret_id=acct.secret_id, secret_key=acct.secret_key)
    ka, kb = create_key(a), create_key(b)
    time.sleep(1.1)
    a_codes = burst(s.endpoint, "GenerateDataKey", {"KeyId": ka, "KeySpec": "AES_256"}, 12)
    assert "RequestLimitExceeded" in a_codes
    # B's budget is its own
    assert call(b, "GenerateDataKey", KeyId=kb, KeySpec="AES_256").Plaintext


def test_no_rate_limit_flag(server, kms):
    k = create_key(kms)
    codes = burst(server.endpoint, "GenerateDataKey", {"KeyId": k, "KeySpec": "AES_256"}, 40)
    assert codes == [None] * 40, codes
