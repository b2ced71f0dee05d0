"""TencentCloud API signature v1 (ClientProfile(signMethod="HmacSHA256" / "HmacSHA1")), over POST
(form body) and GET (query), with the official tencentcloud-sdk-python; plus raw v1 requests for
the cases the SDK cannot produce (stale timestamp, duplicate names, header steering).

Every answer must be in Tencent's envelope with Tencent's codes: before v1 was implemented these
requests went to the Alibaba front and the SDK failed to parse its answer."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from unittest import mock

import pytest
import requests
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION, tencent_client
from kmsutil import UUID_RE, b64, call, expect_error, uid, unb64
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.kms.v20190118 import kms_client

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"

VARIANTS = [
    pytest.param(("HmacSHA256", "POST"), id="sha256-post"),
    pytest.param(("HmacSHA256", "GET"), id="sha256-get"),
    pytest.param(("HmacSHA1", "POST"), id="sha1-post"),
    pytest.param(("HmacSHA1", "GET"), id="sha1-get"),
]


def v1_client(endpoint: str, sign_method: str, req_method: str, secret_id: str = ACCESS_KEY_ID,
              secret_key: str = ACCESS_KEY_SECRET, region: str = REGION):
    hp = HttpProfile(protocol="http", endpoint=endpoint, reqMethod=req_method)
    cp = ClientProfile(signMethod=sign_method, httpProfile=hp)
    return kms_client.KmsClient(credential.Credential(secret_id, secret_key), region, cp)


@pytest.fixture(params=VARIANTS)
def v1(request, server):
    sign_method, req_method = request.param
    return v1_client(server.endpoint, sign_method, req_method)


# ------------------------------------------------------------------ the SDK, all four variants

def test_create_key_with_tags_and_describe(v1, kms):
    alias = uid("v1")
    r = call(v1, "CreateKey", Alias=alias, Description="made with v1 & friends",
             Tags=[{"TagKey": "team", "TagValue": "a=b&c"}, {"TagKey": "env", "TagValue": "dev"}])
    assert UUID_RE.match(r.KeyId) and UUID_RE.match(r.RequestId)
    assert r.Alias == alias and r.TagCode == 0
    md = call(v1, "DescribeKey", KeyId=r.KeyId).KeyMetadata
    assert md.Alias == alias and md.Description == "made with v1 & friends" and md.KeyState == "Enabled"
    # Same account and region as a TC3 client: the key is visible there too.
    assert call(kms, "DescribeKey", KeyId=r.KeyId).KeyMetadata.Alias == alias


def test_encrypt_decrypt_with_context(v1):
    key = call(v1, "CreateKey", Alias=uid("v1")).KeyId
    ctx = json.dumps({"app": "v1 test", "q": "x=1&y=2"})
    data = b"secret \x00\xff payload"
    blob = call(v1, "Encrypt", KeyId=key, Plaintext=b64(data), EncryptionContext=ctx).CiphertextBlob
    assert unb64(call(v1, "Decrypt", CiphertextBlob=blob, EncryptionContext=ctx).Plaintext) == data
    expect_error("FailedOperation.DecryptError", call, v1, "Decrypt", CiphertextBlob=blob,
                 EncryptionContext=json.dumps({"app": "other"}))


def test_generate_data_key(v1):
    key = call(v1, "CreateKey", Alias=uid("v1")).KeyId
    r = call(v1, "GenerateDataKey", KeyId=key, NumberOfBytes=24)
    assert len(unb64(r.Plaintext)) == 24
    assert unb64(call(v1, "Decrypt", CiphertextBlob=r.CiphertextBlob).Plaintext) == unb64(r.Plaintext)


def test_list_key_detail_with_tag_filters(v1):
    tag = uid("run")
    tagged = {call(v1, "CreateKey", Alias=uid("v1"), Tags=[{"TagKey": "run", "TagValue": tag}]).KeyId
              for _ in range(2)}
    call(v1, "CreateKey", Alias=uid("v1"), Tags=[{"TagKey": "run", "TagValue": "other"}])
    r = call(v1, "ListKeyDetail", Limit=100, TagFilters=[{"TagKey": "run", "TagValue": [tag, uid("none")]}])
    assert {k.KeyId for k in r.KeyMetadatas} == tagged
    assert r.TotalCount == 2


def test_key_not_found(v1):
    e = expect_error("ResourceUnavailable.CmkNotFound", call, v1, "DescribeKey", KeyId=UNKNOWN)
    assert UUID_RE.match(e.requestId)


def test_wrong_secret(v1, server):
    sign_method, req_method = v1.profile.signMethod, v1.profile.httpProfile.reqMethod
    bad = v1_client(server.endpoint, sign_method, req_method, secret_key=ACCESS_KEY_SECRET + "x")
    e = expect_error("AuthFailure.SignatureFailure", call, bad, "GenerateRandom", NumberOfBytes=8)
    assert UUID_RE.match(e.requestId)


def test_unknown_secret_id(v1, server):
    sign_method, req_method = v1.profile.signMethod, v1.profile.httpProfile.reqMethod
    bad = v1_client(server.endpoint, sign_method, req_method, secret_id="AKIDnobody0000000000000000000000")
    expect_error("AuthFailure.SecretIdNotFound", call, bad, "GenerateRandom", NumberOfBytes=8)


def test_stale_timestamp(v1):
    # The SDK stamps Timestamp with time.time(): an hour in the past is far outside the window.
    real = time.time
    with mock.patch("tencentcloud.common.abstract_client.time.time", side_effect=lambda: real() - 3600):
        expect_error("AuthFailure.SignatureExpire", call, v1, "GenerateRandom", NumberOfBytes=8)


def test_region_comes_from_the_signed_parameters(v1, server):
    sign_method, req_method = v1.profile.signMethod, v1.profile.httpProfile.reqMethod
    key = call(v1, "CreateKey", Alias=uid("v1")).KeyId
    elsewhere = v1_client(server.endpoint, sign_method, req_method, region="ap-beijing")
    expect_error("ResourceUnavailable.CmkNotFound", call, elsewhere, "DescribeKey", KeyId=key)
    nowhere = v1_client(server.endpoint, sign_method, req_method, region="mars-1")
    expect_error("UnsupportedRegion", call, nowhere, "DescribeKey", KeyId=key)


# ------------------------------------------------------------------ raw v1 requests

def v1_sign(secret: str, method: str, host: str, params: dict, sign_method: str) -> str:
    """The v1 signature, computed here independently of the SDK."""
    s = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "Signature")
    digest = hashlib.sha256 if sign_method == "HmacSHA256" else hashlib.sha1
    return base64.b64encode(hmac.new(secret.encode(), f"{method}{host}/?{s}".encode(), digest).digest()).decode()


def v1_params(server, action: str, fields: dict, *, timestamp: int | None = None, method: str = "POST",
              sign_method: str | None = "HmacSHA256", secret: str = ACCESS_KEY_SECRET) -> dict:
    params = {"Action": action, "Version": "2019-01-18", "Region": REGION, "SecretId": ACCESS_KEY_ID,
              "Nonce": 4242, "Timestamp": int(time.time()) if timestamp is None else timestamp, **fields}
    if sign_method:
        params["SignatureMethod"] = sign_method
    params["Signature"] = v1_sign(secret, method, server.endpoint, params, sign_method or "HmacSHA1")
    return params


def envelope(resp: requests.Response) -> dict:
    assert resp.status_code == 200, (resp.status_code, resp.text)
    assert resp.headers.get("Content-Type") == "application/json", resp.headers
    body = resp.json()
    assert set(body) == {"Response"}, body
    assert UUID_RE.match(body["Response"]["RequestId"]), body
    return body["Response"]


def post_form(server, body: str, headers: dict | None = None) -> dict:
    h = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return envelope(requests.post(server.url + "/", data=body, headers=h, timeout=10))


def code(r: dict) -> str | None:
    return r.get("Error", {}).get("Code")


def test_independent_signer_matches_the_sdk():
    params = {"Action": "GenerateRandom", "Nonce": 1, "NumberOfBytes": 8, "Timestamp": 1700000000}
    s = "&".join(f"{k}={params[k]}" for k in sorted(params))
    for m in ("HmacSHA1", "HmacSHA256"):
        assert v1_sign("k", "POST", "h:1", params, m) == Sign.sign("k", f"POSTh:1/?{s}", m)


def test_raw_post_and_get(server):
    p = v1_params(server, "GenerateRandom", {"NumberOfBytes": 16})
    r = post_form(server, urllib.parse.urlencode(p))
    assert len(unb64(r["Plaintext"])) == 16, r
    p = v1_params(server, "GenerateRandom", {"NumberOfBytes": 12}, method="GET", sign_method=None)
    r = envelope(requests.get(server.url + "/?" + urllib.parse.urlencode(p), timeout=10))
    assert len(unb64(r["Plaintext"])) == 12, r


def test_raw_stale_and_future_timestamps(server):
    for skew in (-3600, 3600):
        p = v1_params(server, "GenerateRandom", {"NumberOfBytes": 8}, timestamp=int(time.time()) + skew)
        assert code(post_form(server, urllib.parse.urlencode(p))) == "AuthFailure.SignatureExpire"


def test_raw_missing_nonce_and_bad_method(server):
    p = v1_params(server, "GenerateRandom", {"NumberOfBytes": 8})
    del p["Nonce"]
    r = post_form(server, urllib.parse.urlencode(p))
    assert code(r) == "MissingParameter" and "Nonce" in r["Error"]["Message"], r
    p = v1_params(server, "GenerateRandom", {"NumberOfBytes": 8}, sign_method="HmacMD5")
    assert code(post_form(server, urllib.parse.urlencode(p))) == "InvalidParameterValue"


def test_raw_duplicate_names_are_refused(server):
    p = v1_params(server, "GenerateRandom", {"NumberOfBytes": 8})
    r = post_form(server, urllib.parse.urlencode(p) + "&NumberOfBytes=9")
    assert code(r) == "InvalidParameter" and "NumberOfBytes" in r["Error"]["Message"], r


def test_raw_headers_do_not_steer(server):
    # A v1 request is steered by its signed parameters only: TC3-looking headers change nothing.
    p = v1_params(server, "GenerateRandom", {"NumberOfBytes": 8})
    r = post_form(server, urllib.parse.urlencode(p),
                  {"X-TC-Action": "CreateKey", "X-TC-Region": "ap-beijing", "X-TC-Version": "2017-03-12"})
    assert len(unb64(r["Plaintext"])) == 8, r
    # And an unsigned change of the signed parameters is refused.
    p["NumberOfBytes"] = 9
    assert code(post_form(server, urllib.parse.urlencode(p))) == "AuthFailure.SignatureFailure"


def test_raw_missing_action_version_region(server):
    for drop, want in (("Action", "MissingParameter"), ("Version", "MissingParameter"),
                       ("Region", "MissingParameter")):
        p = v1_params(server, "GenerateRandom", {"NumberOfBytes": 8})
        del p[drop]
        del p["Signature"]
        p["Signature"] = v1_sign(ACCESS_KEY_SECRET, "POST", server.endpoint, p, "HmacSHA256")
        r = post_form(server, urllib.parse.urlencode(p))
        assert code(r) == want and drop in r["Error"]["Message"], (drop, r)


def test_alibaba_rpc_still_goes_to_alibaba(server):
    # An RPC request (AccessKeyId, SignatureNonce; never SecretId) keeps its Alibaba answer.
    r = requests.post(server.url + "/", data="Action=ListKeys&AccessKeyId=x&SignatureNonce=1&Signature=y",
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert "Response" not in r.json(), r.text


def test_tc3_client_unaffected(server):
    kms = tencent_client(server.endpoint)
    try:
        call(kms, "DescribeKey", KeyId=UNKNOWN)
    except TencentCloudSDKException as e:
        assert e.code == "ResourceUnavailable.CmkNotFound"
    else:
        pytest.fail("DescribeKey of an unknown key succeeded")
