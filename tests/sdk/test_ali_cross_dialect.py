"""Alibaba and Tencent dialects on one server: regions, shared keys, blobs that cross dialects.

Region table (shared places): ap-guangzhou<->cn-guangzhou, ap-shanghai<->cn-shanghai,
ap-beijing<->cn-beijing, ap-chengdu<->cn-chengdu, ap-hongkong<->cn-hongkong,
ap-singapore<->ap-southeast-1; cn-hangzhou has no Tencent counterpart.
"""
from __future__ import annotations

import json

import pytest

import acs
import kmsutil
from alikms import arn_parts, b64, create_key, describe, old, old_client, old_err, tea, tea_client, tea_expect
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, tencent_client

GZ_CONFIG = '[alibaba]\ndefault_region = "cn-guangzhou"\n'

REGIONS = [("ap-guangzhou", "cn-guangzhou"), ("ap-shanghai", "cn-shanghai"), ("ap-beijing", "cn-beijing"),
           ("ap-chengdu", "cn-chengdu"), ("ap-hongkong", "cn-hongkong"), ("ap-singapore", "ap-southeast-1")]


@pytest.fixture(scope="module")
def gz(server_factory):
    """A server whose Alibaba default region is cn-guangzhou (= Tencent ap-guangzhou)."""
    return server_factory(extra_args=["--no-rate-limit"], config=GZ_CONFIG).start()


@pytest.fixture
def tc(gz):
    return tencent_client(gz.endpoint, "ap-guangzhou")


@pytest.fixture
def ac(gz):
    return tea_client(gz.endpoint)


def test_tea_lands_in_the_configured_default_region(ac):
    assert arn_parts(create_key(ac)["Arn"])["region"] == "cn-guangzhou"


@pytest.mark.parametrize("text", ["hello world", "a b & c = d", "SGVsbG8gd29ybGQ=", "ünï"])
def test_tencent_key_alibaba_encrypt_both_decrypt(tc, ac, text):
    k = kmsutil.create_key(tc)
    enc = tea(ac, "Encrypt", KeyId=k, Plaintext=text)
    assert enc["KeyId"] == k
    tdec = kmsutil.call(tc, "Decrypt", CiphertextBlob=enc["CiphertextBlob"])
    assert tdec.KeyId == k
    if text == "SGVsbG8gd29ybGQ=":
        # the sealed string is itself base64: the Tencent plaintext is that very string
        assert tdec.Plaintext == text
        assert kmsutil.unb64(tdec.Plaintext) == b"Hello world"
    else:
        # otherwise Tencent returns base64 of the sealed bytes
        assert tdec.Plaintext == b64(text.encode())
    assert tea(ac, "Decrypt", CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == text


def test_alibaba_key_visible_to_tencent(tc, ac):
    md = create_key(ac, Description="made in the alibaba dialect")
    t = kmsutil.describe(tc, md["KeyId"])
    assert t.KeyId == md["KeyId"]
    assert t.Alias == md["KeyId"]
    assert t.KeyState == "Enabled"
    assert t.Description == "made in the alibaba dialect"
    # and usable there: Tencent Encrypt, Alibaba Decrypt
    blob = kmsutil.encrypt(tc, md["KeyId"], b"\x00\x01binary\xff")
    assert tea(ac, "Decrypt", CiphertextBlob=blob)["Plaintext"] == b64(b"\x00\x01binary\xff")


def test_tencent_generate_data_key_alibaba_decrypt(tc, ac):
    k = kmsutil.create_key(tc)
    g = kmsutil.call(tc, "GenerateDataKey", KeyId=k, KeySpec="AES_256")
    dec = tea(ac, "Decrypt", CiphertextBlob=g.CiphertextBlob)
    assert dec["Plaintext"] == g.Plaintext
    assert dec["KeyId"] == k
    ctx = json.dumps({"app": "x", "env": "prod"})
    g = kmsutil.call(tc, "GenerateDataKey", KeyId=k, NumberOfBytes=20, EncryptionContext=ctx)
    dec = tea(ac, "Decrypt", CiphertextBlob=g.CiphertextBlob, EncryptionContext={"env": "prod", "app": "x"})
    assert dec["Plaintext"] == g.Plaintext and len(kmsutil.unb64(dec["Plaintext"])) == 20
    tea_expect(ac, "Decrypt", "InvalidParameter", 400, CiphertextBlob=g.CiphertextBlob)


def test_alibaba_generate_data_key_tencent_decrypt(tc, ac):
    md = create_key(ac)
    g = tea(ac, "GenerateDataKey", KeyId=md["KeyId"])
    # the sealed value is the base64 text of the key: Tencent hands back that same base64
    assert kmsutil.call(tc, "Decrypt", CiphertextBlob=g["CiphertextBlob"]).Plaintext == g["Plaintext"]


def test_tencent_states_in_alibaba_terms(tc, ac):
    pending = kmsutil.create_key(tc)
    kmsutil.schedule_deletion(tc, pending, 7)
    assert kmsutil.state(tc, pending) == "PendingDelete"
    d = describe(ac, pending)
    assert d["KeyState"] == "PendingDeletion"
    assert d["DeleteDate"].endswith("Z")
    tea_expect(ac, "Encrypt", "Rejected.PendingDeletion", 409, KeyId=pending, Plaintext="x")

    archived = kmsutil.create_key(tc)
    kmsutil.call(tc, "ArchiveKey", KeyId=archived)
    assert describe(ac, archived)["KeyState"] == "Disabled"

    disabled = kmsutil.create_key(tc)
    kmsutil.call(tc, "DisableKey", KeyId=disabled)
    assert describe(ac, disabled)["KeyState"] == "Disabled"
    # and the other way round
    md = create_key(ac)
    tea(ac, "ScheduleKeyDeletion", KeyId=md["KeyId"], PendingWindowInDays=7)
    assert kmsutil.state(tc, md["KeyId"]) == "PendingDelete"
    tea(ac, "CancelKeyDeletion", KeyId=md["KeyId"])
    assert kmsutil.state(tc, md["KeyId"]) == "Enabled"


@pytest.mark.parametrize("tencent,alibaba", REGIONS)
def test_region_table(gz, tencent, alibaba):
    """A key made through the old SDK with RegionId=<alibaba> lives in Tencent <tencent>, and back."""
    o = old_client(gz.endpoint, region=alibaba)
    t = tencent_client(gz.endpoint, tencent)
    md = create_key(o)
    assert arn_parts(md["Arn"])["region"] == alibaba
    assert kmsutil.describe(t, md["KeyId"]).KeyId == md["KeyId"]
    k = kmsutil.create_key(t)
    assert describe(o, k)["Arn"] == f"acs:kms:{alibaba}:{arn_parts(md['Arn'])['account']}:key/{k}"


def test_keys_are_regional(gz):
    sh = old_client(gz.endpoint, region="cn-shanghai")
    bj = old_client(gz.endpoint, region="cn-beijing")
    k = create_key(sh)["KeyId"]
    err = old_err(bj, "DescribeKey", KeyId=k)
    assert (err.status, err.code) == (404, "Forbidden.KeyNotFound"), err
    t = tencent_client(gz.endpoint, "ap-beijing")
    kmsutil.call_error(t, "DescribeKey", "ResourceUnavailable.CmkNotFound", KeyId=k)
    assert kmsutil.describe(tencent_client(gz.endpoint, "ap-shanghai"), k).KeyId == k


def test_hangzhou_has_no_tencent_counterpart(gz):
    hz = old_client(gz.endpoint, region="cn-hangzhou")
    md = create_key(hz)
    assert arn_parts(md["Arn"])["region"] == "cn-hangzhou"
    for region in ("ap-guangzhou", "ap-shanghai"):
        t = tencent_client(gz.endpoint, region)
        assert md["KeyId"] not in kmsutil.list_all_key_ids(t)
        kmsutil.call_error(t, "DescribeKey", "ResourceUnavailable.CmkNotFound", KeyId=md["KeyId"])


# ------------------------------------------------------------------------------------------ region sources


def test_region_from_host_header(gz):
    """The v1 signature does not cover the Host, so for v1 requests it never picks the region
    (docs/compatibility.md): with no RegionId they go to the configured default."""
    r = acs.v1_send(gz.endpoint, "CreateKey", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET,
                    headers={"Host": "kms.cn-beijing.aliyuncs.com"})
    assert r.status_code == 200, r.text
    assert arn_parts(r.json()["KeyMetadata"]["Arn"])["region"] == "cn-guangzhou"
    # ACS3 signs the Host: there a host of the form kms.<region>.aliyuncs.com picks the region
    h = acs.v3_headers("kms.cn-beijing.aliyuncs.com", "CreateKey", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    h["Host"] = h.pop("host")
    r = acs.send_query(gz.endpoint, {}, headers=h)
    assert r.status_code == 200, r.text
    assert arn_parts(r.json()["KeyMetadata"]["Arn"])["region"] == "cn-beijing"
    # RegionId wins over the host
    r = acs.v1_send(gz.endpoint, "CreateKey", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET, region="cn-chengdu",
                    headers={"Host": "kms.cn-beijing.aliyuncs.com"})
    assert r.status_code == 200, r.text
    assert arn_parts(r.json()["KeyMetadata"]["Arn"])["region"] == "cn-chengdu"
    # neither: the configured default
    r = acs.v1_send(gz.endpoint, "CreateKey", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    assert arn_parts(r.json()["KeyMetadata"]["Arn"])["region"] == "cn-guangzhou"


def test_region_from_acs4_scope(gz):
    v4 = tea_client(gz.endpoint, region_id="cn-chengdu", signature_version="v4")
    md = create_key(v4)
    assert arn_parts(md["Arn"])["region"] == "cn-chengdu"
    assert describe(v4, md["KeyId"])["KeyId"] == md["KeyId"]
    enc = tea(v4, "Encrypt", KeyId=md["KeyId"], Plaintext="v4 signed")
    assert tea(v4, "Decrypt", CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == "v4 signed"
    assert kmsutil.describe(tencent_client(gz.endpoint, "ap-chengdu"), md["KeyId"]).KeyId == md["KeyId"]
    # the default-region Tea client (ACS3) does not see it
    tea_expect(tea_client(gz.endpoint), "DescribeKey", "Forbidden.KeyNotFound", 404, KeyId=md["KeyId"])


def test_unknown_region(gz):
    err = old_err(old_client(gz.endpoint, region="xx-nowhere-1"), "DescribeRegions")
    assert err.status is not None and 400 <= err.status < 500, err
    assert err.code.startswith("InvalidRegionId"), err
    err = old_err(old_client(gz.endpoint, region="ap-guangzhou"), "CreateKey")
    assert 400 <= err.status < 500 and err.code.startswith("InvalidRegionId"), err
    r = acs.v1_send(gz.endpoint, "CreateKey", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET, region="mars-1")
    assert 400 <= r.status_code < 500 and r.json()["Code"].startswith("InvalidRegionId"), r.text
    # a known region is fine
    assert old(old_client(gz.endpoint, region="cn-guangzhou"), "DescribeRegions")["Regions"]


def test_tencent_key_metadata_in_alibaba_terms(tc, ac):
    k = kmsutil.create_key(tc, Description="tencent made")
    d = describe(ac, k)
    assert d["KeyId"] == k
    assert d["KeySpec"] == "Aliyun_AES_256"
    assert d["KeyUsage"] == "ENCRYPT/DECRYPT"
    assert d["Origin"] == "Aliyun_KMS"
    assert d["KeyState"] == "Enabled"
    assert d["Description"] == "tencent made"
    assert arn_parts(d["Arn"])["region"] == "cn-guangzhou"
    body = tea(ac, "ListKeys", PageSize=100)
    assert body["TotalCount"] <= 100, "module server grew past one page"
    assert k in {x["KeyId"] for x in body["Keys"]["Key"]}
