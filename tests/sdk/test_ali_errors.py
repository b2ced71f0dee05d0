"""Alibaba KMS dialect: authentication (v1 HMAC-SHA1 RPC, v3 ACS3-HMAC-SHA256), replay and clock
checks, error codes and bodies, throttling, unsupported actions, XML responses."""
from __future__ import annotations

import json
import time
import uuid
import xml.etree.ElementTree as ET

import pytest

import acs
from alikms import (create_key, old_client, old_err, old_expect, old_format, tea, tea_client,
                    tea_exc_to_err, tea_expect)
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET

ERROR_FIELDS = {"RequestId", "HostId", "Code", "Message", "Recommend"}


def test_signer_reproduces_spec_vectors():
    """acs.py (used below) matches the worked examples of spec section 3.6 (C/D and A)."""
    p = {"KeyId": "alias/demo", "KeySpec": "AES_256", "EncryptionContext": '{"purpose": "demo test"}',
         "Version": "2016-01-20", "Action": "GenerateDataKey", "Format": "JSON", "RegionId": "cn-hangzhou",
         "Timestamp": "2026-01-20T08:00:00Z", "SignatureMethod": "HMAC-SHA1", "SignatureType": "",
         "SignatureVersion": "1.0", "SignatureNonce": "3156853299f313e23d1673dc12e1703d",
         "AccessKeyId": "testAccessKeyId"}
    assert acs.v1_sign(p, "testAccessKeySecret") == "nrLjic12ODTYYVn31HrQleIaS+Q="
    h = acs.v3_headers("127.0.0.1:18080", "GenerateDataKey",
                       {"EncryptionContext": '{"purpose":"demo test"}', "KeyId": "alias/demo", "KeySpec": "AES_256"},
                       "testAccessKeyId", "testAccessKeySecret", nonce="3156853299f313e23d1673dc12e1703d",
                       date="2026-01-20T08:00:00Z", content_type="application/x-www-form-urlencoded",
                       extra={"user-agent": "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2",
                              "x-acs-credentials-provider": "static_ak"})
    assert h["Authorization"].endswith("Signature=bc7dd8b339f2bfb5f2ab93527ef39ab373a983668c2e4ea1c6464b7956d7cbd1")


def v1(server, action, params=None, **kw):
    return acs.v1_send(server.endpoint, action, params or {}, kw.pop("ak", ACCESS_KEY_ID),
                       kw.pop("secret", ACCESS_KEY_SECRET), **kw)


def v3(server, action, query=None, **kw):
    return acs.v3_send(server.endpoint, action, query or {}, kw.pop("ak", ACCESS_KEY_ID),
                       kw.pop("secret", ACCESS_KEY_SECRET), **kw)


def error_of(resp, code: str, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert body.get("Code") == code, body
    assert ERROR_FIELDS <= set(body), body
    assert body["RequestId"] and body["Message"], body
    return body


# ------------------------------------------------------------------------------------------ raw success


def test_raw_v1_and_v3_requests(server):
    r = v1(server, "DescribeRegions")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["Regions"]["Region"]
    assert uuid.UUID(r.json()["RequestId"])
    r = v3(server, "DescribeRegions")
    assert r.status_code == 200, r.text
    assert r.json()["Regions"]["Region"]


def test_v1_lowercase_format_and_millisecond_timestamp(server):
    ts = acs.utc_now()[:-1] + ".123Z"
    r = v1(server, "DescribeAccountKmsStatus", fmt="json", timestamp=ts)
    assert r.status_code == 200, r.text
    assert r.json()["AccountStatus"] == "Enabled"


def test_v1_params_in_form_body(server, ali):
    """Parameters may arrive in an x-www-form-urlencoded body; they are signed like query parameters."""
    k = create_key(ali)["KeyId"]
    p = acs.v1_params("Encrypt", {"KeyId": k, "Plaintext": "from the body"}, ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    body_keys = ("KeyId", "Plaintext")
    query = {n: v for n, v in p.items() if n not in body_keys}
    form = acs.query_string({n: p[n] for n in body_keys}).encode()
    r = acs.send_query(server.endpoint, query, body=form,
                       headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    assert tea(ali, "Decrypt", CiphertextBlob=r.json()["CiphertextBlob"])["Plaintext"] == "from the body"


# ------------------------------------------------------------------------------------------ replay / clock


def test_nonce_replay_v1(server):
    nonce = uuid.uuid4().hex
    p = acs.v1_params("DescribeRegions", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET, nonce=nonce)
    first = acs.send_query(server.endpoint, p)
    assert first.status_code == 200, first.text
    again = acs.send_query(server.endpoint, p)
    error_of(again, "SignatureNonceUsed", 400)
    # a new signature with the same nonce is a replay too
    later = v1(server, "DescribeAccountKmsStatus", nonce=nonce)
    error_of(later, "SignatureNonceUsed", 400)
    # a fresh nonce works
    assert v1(server, "DescribeRegions").status_code == 200


def test_nonce_replay_v3(server):
    nonce = uuid.uuid4().hex
    date = acs.utc_now()
    assert v3(server, "DescribeRegions", nonce=nonce, date=date).status_code == 200
    error_of(v3(server, "DescribeRegions", nonce=nonce, date=date), "SignatureNonceUsed", 400)


@pytest.mark.parametrize("offset", [-20 * 60, 20 * 60, -3600 * 24])
def test_expired_timestamp(server, offset):
    error_of(v1(server, "DescribeRegions", timestamp=acs.utc_now(offset)), "InvalidTimeStamp.Expired", 400)
    error_of(v3(server, "DescribeRegions", date=acs.utc_now(offset)), "InvalidTimeStamp.Expired", 400)


def test_bad_timestamp_format(server):
    r = v1(server, "DescribeRegions", timestamp="yesterday")
    assert r.status_code == 400, r.text
    assert r.json()["Code"] in {"InvalidTimeStamp.Format", "IllegalTimestamp"}, r.text


# ------------------------------------------------------------------------------------------ signatures


def test_incomplete_signature_v3(server):
    h = acs.v3_headers(server.endpoint, "DescribeRegions", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    del h["host"]
    good = h["Authorization"]
    cred, signed, sig = good.split(" ", 1)[1].split(",")
    for broken in (f"ACS3-HMAC-SHA256 {cred},{signed}", f"ACS3-HMAC-SHA256 {signed},{sig}",
                   "ACS3-HMAC-SHA256", f"ACS3-HMAC-SHA256 {cred},{sig}"):
        hh = dict(h, **{"Authorization": broken, "x-acs-signature-nonce": uuid.uuid4().hex})
        r = acs.send_query(server.endpoint, {}, headers=hh)
        error_of(r, "IncompleteSignature", 400)


def test_incomplete_signature_v1(server):
    p = acs.v1_params("DescribeRegions", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    del p["Signature"]
    r = acs.send_query(server.endpoint, p)
    assert r.status_code == 400, r.text
    assert r.json()["Code"] in {"IncompleteSignature", "MissingParameter"}, r.text


def test_wrong_signature_v1_echoes_string_to_sign(server):
    p = acs.v1_params("DescribeRegions", {}, ACCESS_KEY_ID, "wrong-secret")
    r = acs.send_query(server.endpoint, p)
    body = error_of(r, "SignatureDoesNotMatch", 400)
    assert body["Message"].split(":", 1)[1] == acs.v1_string_to_sign(p), body["Message"]


def test_wrong_signature_v3(server):
    error_of(v3(server, "DescribeRegions", secret="wrong-secret"), "SignatureDoesNotMatch", 400)
    # body tampered after signing: x-acs-content-sha256 no longer matches
    h = acs.v3_headers(server.endpoint, "DescribeRegions", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET, body=b"a=1",
                       content_type="application/x-www-form-urlencoded")
    del h["host"]
    r = acs.send_query(server.endpoint, {}, headers=h, body=b"a=2")
    assert r.status_code == 400 and r.json()["Code"] == "SignatureDoesNotMatch", r.text


def test_wrong_secret_through_the_sdks(server):
    t = tea_client(server.endpoint, secret="not-the-secret")
    tea_expect(t, "DescribeRegions", "SignatureDoesNotMatch", 400)
    tea_expect(t, "CreateKey", "SignatureDoesNotMatch", 400, Description="x y")
    o = old_client(server.endpoint, secret="not-the-secret")
    # the old SDK compares the echoed string to sign with its own and reports the friendlier code
    old_expect(o, "DescribeRegions", "InvalidAccessKeySecret", 400)
    old_expect(o, "Encrypt", "InvalidAccessKeySecret", 400, KeyId="alias/x", Plaintext="a b",
               EncryptionContext='{"a": "b c"}')


def test_unknown_access_key(server):
    tea_expect(tea_client(server.endpoint, ak="LTAInobodyHasThisKey0000"), "DescribeRegions",
               "InvalidAccessKeyId.NotFound", 404)
    old_expect(old_client(server.endpoint, ak="LTAInobodyHasThisKey0000"), "DescribeRegions",
               "InvalidAccessKeyId.NotFound", 404)
    error_of(v1(server, "DescribeRegions", ak="LTAInobody"), "InvalidAccessKeyId.NotFound", 404)


def test_unknown_action(server):
    error_of(v1(server, "NoSuchAction"), "InvalidAction.NotFound", 404)
    error_of(v3(server, "DescribeKeys"), "InvalidAction.NotFound", 404)


@pytest.mark.parametrize("action,params", [
    ("CreateSecret", {"SecretName": "s1", "SecretData": "v", "VersionId": "v1"}),
    ("GetSecretValue", {"SecretName": "s1"}),
    ("ListKmsInstances", {}),
    ("CreateApplicationAccessPoint", {"Name": "aap", "AuthenticationMethod": "ClientKey", "Policies": "[]"}),
])
def test_unimplemented_actions(ali, action, params):
    tea_expect(ali, action, "UnsupportedOperation", 400, **params)


def test_error_body_shape(ali, ali_old):
    err = tea_expect(ali, "DescribeKey", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()))
    assert ERROR_FIELDS <= set(err.body), err.body
    assert uuid.UUID(err.body["RequestId"])
    err = old_err(ali_old, "DescribeKey", KeyId=str(uuid.uuid4()))
    assert (err.status, err.code) == (404, "Forbidden.KeyNotFound")


def test_missing_and_invalid_parameters(ali, ali_old):
    tea_expect(ali, "Encrypt", "MissingParameter", 400, Plaintext="x")
    err = old_expect(ali_old, "DescribeKey", "MissingParameter", 400)
    assert "KeyId" in err.message
    tea_expect(ali, "ListKeys", "InvalidParameter", 400, PageNumber=0)


# ------------------------------------------------------------------------------------------ throttling


def test_throttling(make_server):
    s = make_server(config="[rate_limits]\nenabled = true\ndefault = 2\n").start()
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException

    c = tea_client(s.endpoint)
    throttled = None
    for _ in range(15):
        try:
            tea(c, "DescribeRegions")
        except ThrottlingException as e:
            throttled = e
            break
        except AlibabaCloudException as e:  # pragma: no cover - reported below
            pytest.fail(f"expected ThrottlingException, got {type(e).__name__}: {tea_exc_to_err(e)}")
    assert throttled is not None, "15 calls at a 2/s budget were never throttled"
    err = tea_exc_to_err(throttled)
    assert (err.status, err.code) == (400, "Throttling"), err
    assert throttled.retry_after and throttled.retry_after > 0
    # the raw response carries the header as a positive integer
    for _ in range(15):
        r = acs.v1_send(s.endpoint, "DescribeRegions", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET)
        if r.status_code != 200:
            break
    body = error_of(r, "Throttling", 400)
    assert int(r.headers["x-acs-retry-after"]) > 0, (r.headers, body)
    # and the budget comes back
    time.sleep(2.5)
    assert tea(c, "DescribeRegions")["Regions"]["Region"]


# ------------------------------------------------------------------------------------------ XML


def _xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)


def test_xml_responses(ali, ali_old):
    md = create_key(ali, Description="xml <&> test")
    status, headers, body = old_format(ali_old, "DescribeKey", "xml", KeyId=md["KeyId"])
    assert status == 200, body
    assert "xml" in headers.get("Content-Type", headers.get("content-type", "")).lower(), headers
    root = _xml(body)
    assert root.tag == "DescribeKeyResponse", body
    assert root.findtext("RequestId")
    km = root.find("KeyMetadata")
    assert km is not None, body
    assert km.findtext("KeyId") == md["KeyId"]
    assert km.findtext("Arn") == md["Arn"]
    assert km.findtext("KeyState") == "Enabled"
    assert km.findtext("Description") == "xml <&> test"


def test_xml_lists(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    c = tea_client(s.endpoint)
    o = old_client(s.endpoint)
    ids = {create_key(c)["KeyId"] for _ in range(3)}
    status, _, body = old_format(o, "ListKeys", "XML")
    assert status == 200, body
    root = _xml(body)
    assert root.tag == "ListKeysResponse"
    assert root.findtext("TotalCount") == "3" and root.findtext("PageNumber") == "1"
    assert root.findtext("PageSize") == "10"
    keys = root.find("Keys")
    assert keys is not None and [e.tag for e in keys] == ["Key", "Key", "Key"], body
    assert {e.findtext("KeyId") for e in keys} == ids
    assert all(e.findtext("KeyArn").startswith("acs:kms:") for e in keys)
    status, _, body = old_format(o, "DescribeRegions", "xml")
    root = _xml(body)
    assert root.tag == "DescribeRegionsResponse"
    assert [e.tag for e in root.find("Regions")] == ["Region"] * len(root.find("Regions"))
    assert "cn-hangzhou" in {e.findtext("RegionId") for e in root.find("Regions")}


def test_xml_errors(ali_old):
    status, headers, body = old_format(ali_old, "DescribeKey", "xml", KeyId=str(uuid.uuid4()))
    assert status == 404, body
    root = _xml(body)
    assert root.tag == "Error", body
    assert root.findtext("Code") == "Forbidden.KeyNotFound"
    assert root.findtext("RequestId") and root.findtext("Message") and root.find("HostId") is not None
    # JSON stays the default
    status, headers, body = old_format(ali_old, "DescribeKey", "JSON", KeyId=str(uuid.uuid4()))
    assert status == 404 and json.loads(body)["Code"] == "Forbidden.KeyNotFound"


# ------------------------------------------------------------------------------------------ Tea, v1 signing


def test_tea_sdk_with_rpc_v1_signature(server, ali):
    """Tea with signature_algorithm="v2" signs HMAC-SHA1 RPC (Format=json, no RegionId: default region)."""
    c = tea_client(server.endpoint, signature_algorithm="v2")
    md = create_key(c, Description="tea v1 signed", EnableAutomaticRotation=True, RotationInterval="7d")
    assert md["Arn"].startswith("acs:kms:cn-hangzhou:")
    assert md["RotationInterval"] == "604800s"
    enc = tea(c, "Encrypt", KeyId=md["KeyId"], Plaintext="p l+u/s", EncryptionContext={"a": "b c"})
    assert tea(ali, "Decrypt", CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"a": "b c"})["Plaintext"] == "p l+u/s"
    g = tea(c, "GenerateDataKey", KeyId=md["KeyId"], NumberOfBytes=16)
    assert tea(c, "Decrypt", CiphertextBlob=g["CiphertextBlob"])["Plaintext"] == g["Plaintext"]
    tea_expect(tea_client(server.endpoint, secret="nope", signature_algorithm="v2"), "DescribeRegions",
               "SignatureDoesNotMatch", 400)


@pytest.mark.parametrize("offset", [-10 * 60, 10 * 60, -14 * 60])
def test_timestamp_within_15_minutes_is_accepted(server, offset):
    r = v1(server, "DescribeRegions", timestamp=acs.utc_now(offset))
    assert r.status_code == 200, r.text
    r = v3(server, "DescribeRegions", date=acs.utc_now(offset))
    assert r.status_code == 200, r.text


def test_v3_only_named_headers_are_signed(server, ali):
    """SignedHeaders decides what is canonicalised: a Go/Java-style minimal set, plus unsigned extras."""
    k = create_key(ali)["KeyId"]
    h = acs.v3_headers(server.endpoint, "Encrypt", {"KeyId": k, "Plaintext": "minimal set"},
                       ACCESS_KEY_ID, ACCESS_KEY_SECRET, extra={}, unsigned={"user-agent": "something/1.0",
                                                                              "accept": "application/json"})
    signed = h["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert "accept" not in signed and "user-agent" not in signed  # accept moved to unsigned
    del h["host"]
    r = acs.send_query(server.endpoint, {"KeyId": k, "Plaintext": "minimal set"}, headers=h)
    assert r.status_code == 200, r.text
    assert tea(ali, "Decrypt", CiphertextBlob=r.json()["CiphertextBlob"])["Plaintext"] == "minimal set"
    # changing a signed header after signing breaks the signature
    h2 = acs.v3_headers(server.endpoint, "DescribeRegions", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET,
                        extra={"x-acs-custom": "a"})
    del h2["host"]
    h2["x-acs-custom"] = "b"
    error_of(acs.send_query(server.endpoint, {}, headers=h2), "SignatureDoesNotMatch", 400)


def test_acs4_wrong_secret(server):
    c = tea_client(server.endpoint, secret="wrong", region_id="cn-hangzhou", signature_version="v4")
    tea_expect(c, "DescribeRegions", "SignatureDoesNotMatch", 400)
