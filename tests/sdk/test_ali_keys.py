"""Alibaba KMS dialect: key lifecycle (CreateKey, DescribeKey, ListKeys, UpdateKeyDescription,
Enable/DisableKey, Schedule/CancelKeyDeletion, SetDeletionProtection, Get/SetKeyPolicy) through both
official SDKs, and key addressing by id, alias and ARN."""
from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

import acs
from alikms import (ISO_RE, UUID_RE, arn_parts, create_key, describe, key_state, old, old_client, old_err,
                    old_expect, tea, tea_client, tea_err, tea_expect, uname)
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET

KEY_FIELDS = {"Arn", "AutomaticRotation", "CreationDate", "Creator", "KeyId", "KeySpec", "KeyState",
              "KeyUsage", "Origin", "PrimaryKeyVersion", "ProtectionLevel"}


def parse_iso(s: str) -> dt.datetime:
    assert ISO_RE.match(s), f"not YYYY-MM-DDThh:mm:ssZ: {s!r}"
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def test_create_key_defaults_tea(ali):
    md = create_key(ali)
    assert KEY_FIELDS <= set(md), md
    assert md["KeySpec"] == "Aliyun_AES_256"
    assert md["KeyState"] == "Enabled"
    assert md["KeyUsage"] == "ENCRYPT/DECRYPT"
    assert md["Origin"] == "Aliyun_KMS"
    assert md["ProtectionLevel"] == "SOFTWARE"
    assert md["AutomaticRotation"] == "Disabled"
    assert UUID_RE.match(md["PrimaryKeyVersion"]), md
    assert abs((parse_iso(md["CreationDate"]) - now()).total_seconds()) < 120
    assert isinstance(md["Creator"], str) and md["Creator"]
    parts = arn_parts(md["Arn"])
    # the Tea SDK (ACS3) sends no region: the server's default region
    assert parts["region"] == "cn-hangzhou"
    assert parts["key"] == md["KeyId"]
    assert not md.get("DeleteDate")


def test_describe_key_matches_create_old_sdk(ali_old):
    md = create_key(ali_old, Description="made by the old sdk")
    d = describe(ali_old, md["KeyId"])
    assert KEY_FIELDS | {"DeletionProtection"} <= set(d), d
    for f in KEY_FIELDS:
        assert d[f] == md[f], f
    assert d["Description"] == "made by the old sdk"
    assert d["DeletionProtection"] == "Disabled"
    # the old SDK sends RegionId=cn-hangzhou
    assert arn_parts(d["Arn"])["region"] == "cn-hangzhou"


def test_keys_are_shared_between_the_two_sdks(ali, ali_old):
    a = create_key(ali)
    b = create_key(ali_old)
    assert describe(ali_old, a["KeyId"])["Arn"] == a["Arn"]
    assert describe(ali, b["KeyId"])["Arn"] == b["Arn"]


@pytest.mark.parametrize("form", ["id", "alias", "arn"])
def test_key_addressed_by_id_alias_arn(ali, ali_old, form):
    md = create_key(ali)
    alias = uname()
    tea(ali, "CreateAlias", AliasName=alias, KeyId=md["KeyId"])
    ref = {"id": md["KeyId"], "alias": alias, "arn": md["Arn"]}[form]
    for c in (ali, ali_old):
        assert describe(c, ref)["KeyId"] == md["KeyId"]
        assert tea(ali, "Encrypt", KeyId=ref, Plaintext="x")["KeyId"] == md["KeyId"]
    tea(ali, "UpdateKeyDescription", KeyId=ref, Description=f"via {form}")
    assert describe(ali, md["KeyId"])["Description"] == f"via {form}"
    tea(ali, "DisableKey", KeyId=ref)
    assert key_state(ali, md["KeyId"]) == "Disabled"
    old(ali_old, "EnableKey", KeyId=ref)
    assert key_state(ali, md["KeyId"]) == "Enabled"


def test_unknown_keys(ali, ali_old):
    md = create_key(ali)
    account = arn_parts(md["Arn"])["account"]
    missing = str(uuid.uuid4())
    for action in ("DescribeKey", "DisableKey", "EnableKey"):
        tea_expect(ali, action, "Forbidden.KeyNotFound", 404, KeyId=missing)
        old_expect(ali_old, action, "Forbidden.KeyNotFound", 404, KeyId=missing)
        tea_expect(ali, action, "Forbidden.AliasNotFound", 404, KeyId=uname("nobody"))
        tea_expect(ali, action, "Forbidden.KeyNotFound", 404, KeyId=f"acs:kms:cn-hangzhou:{account}:key/{missing}")
        tea_expect(ali, action, "Forbidden.KeyNotFound", 404, KeyId="not-a-key-id")
        # an existing key id under an account number that is not the caller's
        tea_expect(ali, action, "Forbidden.KeyNotFound", 404, KeyId=f"acs:kms:cn-hangzhou:9{account}:key/{md['KeyId']}")
    tea_expect(ali, "Encrypt", "Forbidden.KeyNotFound", 404, KeyId=missing, Plaintext="x")
    old_expect(ali_old, "Encrypt", "Forbidden.AliasNotFound", 404, KeyId=uname("nobody"), Plaintext="x")


@pytest.mark.parametrize("spec", ["Aliyun_AES_256", "Aliyun_AES_128", "Aliyun_AES_192", "Aliyun_SM4"])
def test_symmetric_key_specs(ali, ali_old, spec):
    md = create_key(ali, KeySpec=spec)
    assert md["KeySpec"] == spec
    assert describe(ali_old, md["KeyId"])["KeySpec"] == spec
    enc = tea(ali, "Encrypt", KeyId=md["KeyId"], Plaintext=f"secret under {spec}")
    dec = old(ali_old, "Decrypt", CiphertextBlob=enc["CiphertextBlob"])
    assert dec["Plaintext"] == f"secret under {spec}"
    assert dec["KeyId"] == md["KeyId"]


@pytest.mark.parametrize("spec,usage", [("RSA_2048", "SIGN/VERIFY"), ("RSA_3072", "ENCRYPT/DECRYPT"),
                                        ("EC_P256", "SIGN/VERIFY"), ("EC_P256K", "SIGN/VERIFY"),
                                        ("EC_SM2", "ENCRYPT/DECRYPT")])
def test_asymmetric_key_specs_create_keys_that_cannot_encrypt(ali, ali_old, spec, usage):
    md = create_key(ali, KeySpec=spec, KeyUsage=usage)
    assert (md["KeySpec"], md["KeyUsage"], md["KeyState"]) == (spec, usage, "Enabled")
    assert describe(ali_old, md["KeyId"])["KeySpec"] == spec
    # Symmetric encryption is not what an asymmetric key does.
    tea_expect(ali, "Encrypt", "InvalidParameter", 400, KeyId=md["KeyId"], Plaintext="x")
    # A usage the spec does not have is refused, and nothing is created.
    if spec in ("EC_P256", "EC_P256K"):
        tea_expect(ali, "CreateKey", "InvalidParameter", 400, KeySpec=spec, KeyUsage="ENCRYPT/DECRYPT")


def test_unknown_key_spec_is_invalid(ali):
    tea_expect(ali, "CreateKey", "InvalidParameter", 400, KeySpec="Aliyun_AES_512")


def test_protection_level(ali, ali_old):
    md = create_key(ali, ProtectionLevel="SOFTWARE")
    assert md["ProtectionLevel"] == "SOFTWARE"
    tea_expect(ali, "CreateKey", "Unsupported.ProtectionLevel", 400, ProtectionLevel="HSM")
    old_expect(ali_old, "CreateKey", "Unsupported.ProtectionLevel", 400, ProtectionLevel="HSM")


def test_external_key_pending_import(ali, ali_old):
    md = create_key(ali, Origin="EXTERNAL")
    assert md["Origin"] == "EXTERNAL"
    assert md["KeyState"] == "PendingImport"
    assert describe(ali_old, md["KeyId"])["KeyState"] == "PendingImport"
    tea_expect(ali, "Encrypt", "Rejected.PendingImport", 409, KeyId=md["KeyId"], Plaintext="x")
    old_expect(ali_old, "GenerateDataKey", "Rejected.PendingImport", 409, KeyId=md["KeyId"])
    tea_expect(ali, "EnableKey", "Rejected.StateModifiedFailed", 409, KeyId=md["KeyId"])
    # PendingImport -> PendingDeletion is allowed, and Cancel gives Enabled per the decisions
    tea(ali, "ScheduleKeyDeletion", KeyId=md["KeyId"], PendingWindowInDays=7)
    assert key_state(ali, md["KeyId"]) == "PendingDeletion"


def test_unknown_origin_is_rejected(ali):
    # spec section 5: Unsupported.Origin (400) for a wrong key origin
    tea_expect(ali, "CreateKey", "Unsupported.Origin", 400, Origin="Somewhere")
    tea_expect(ali, "CreateKey", "Unsupported.Origin", 400, Origin="external")


@pytest.mark.parametrize("interval", ["30d", "2592000s", "720h", "43200m"])
def test_create_key_with_rotation(ali, interval):
    md = create_key(ali, EnableAutomaticRotation=True, RotationInterval=interval)
    assert md["AutomaticRotation"] == "Enabled"
    assert md["RotationInterval"] == "2592000s"
    d = describe(ali, md["KeyId"])
    assert d["AutomaticRotation"] == "Enabled"
    assert d["RotationInterval"] == "2592000s"
    nxt = parse_iso(d["NextRotationDate"])
    expected = parse_iso(d["CreationDate"]) + dt.timedelta(days=30)
    assert abs((nxt - expected).total_seconds()) < 3600, (d["CreationDate"], d["NextRotationDate"])


def test_create_key_rotation_bounds(ali, ali_old):
    for ok in ("7d", "365d", "604800s"):
        assert create_key(ali, EnableAutomaticRotation=True, RotationInterval=ok)["AutomaticRotation"] == "Enabled"
    for bad in ("6d", "366d", "604799s", "thirty", "30x", "-7d"):
        tea_expect(ali, "CreateKey", "InvalidParameter", 400, EnableAutomaticRotation=True, RotationInterval=bad)
    old_expect(ali_old, "CreateKey", "InvalidParameter", 400, EnableAutomaticRotation="true", RotationInterval="1d")
    # booleans are parsed case-insensitively (Python Tea sends True/False, others true/false)
    for flag in ("TRUE", "true", "True"):
        assert create_key(ali_old, EnableAutomaticRotation=flag, RotationInterval="8d")["RotationInterval"] == "691200s"
    assert create_key(ali_old, EnableAutomaticRotation="FALSE")["AutomaticRotation"] == "Disabled"


def test_update_key_description(ali, ali_old):
    md = create_key(ali, Description="first")
    assert md["Description"] == "first"
    tea(ali, "UpdateKeyDescription", KeyId=md["KeyId"], Description="second, with spaces & symbols / ü")
    assert describe(ali_old, md["KeyId"])["Description"] == "second, with spaces & symbols / ü"
    old(ali_old, "UpdateKeyDescription", KeyId=md["KeyId"], Description="third")
    assert describe(ali, md["KeyId"])["Description"] == "third"


def test_disable_enable(ali, ali_old):
    md = create_key(ali)
    k = md["KeyId"]
    blob = tea(ali, "Encrypt", KeyId=k, Plaintext="before")["CiphertextBlob"]
    tea(ali, "DisableKey", KeyId=k)
    assert key_state(ali_old, k) == "Disabled"
    tea_expect(ali, "Encrypt", "Rejected.Disabled", 409, KeyId=k, Plaintext="x")
    old_expect(ali_old, "Decrypt", "Rejected.Disabled", 409, CiphertextBlob=blob)
    tea_expect(ali, "GenerateDataKey", "Rejected.Disabled", 409, KeyId=k)
    # DisableKey on a Disabled key is fine (state table: ok)
    tea(ali, "DisableKey", KeyId=k)
    old(ali_old, "EnableKey", KeyId=k)
    assert key_state(ali, k) == "Enabled"
    assert tea(ali, "Decrypt", CiphertextBlob=blob)["Plaintext"] == "before"


def test_schedule_and_cancel_deletion(ali, ali_old):
    k = create_key(ali)["KeyId"]
    blob = tea(ali, "Encrypt", KeyId=k, Plaintext="x")["CiphertextBlob"]
    tea(ali, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=10)
    d = describe(ali_old, k)
    assert d["KeyState"] == "PendingDeletion"
    delete = parse_iso(d["DeleteDate"])
    assert abs((delete - (now() + dt.timedelta(days=10))).total_seconds()) < 3600, d["DeleteDate"]
    tea_expect(ali, "Encrypt", "Rejected.PendingDeletion", 409, KeyId=k, Plaintext="x")
    old_expect(ali_old, "Decrypt", "Rejected.PendingDeletion", 409, CiphertextBlob=blob)
    for action in ("EnableKey", "DisableKey"):
        tea_expect(ali, action, "Rejected.StateModifiedFailed", 409, KeyId=k)
    tea_expect(ali, "ScheduleKeyDeletion", "Rejected.StateModifiedFailed", 409, KeyId=k, PendingWindowInDays=7)
    tea_expect(ali, "CreateAlias", "Rejected.StateModifiedFailed", 409, KeyId=k, AliasName=uname())
    old(ali_old, "CancelKeyDeletion", KeyId=k)
    d = describe(ali, k)
    assert d["KeyState"] == "Enabled"
    assert not d.get("DeleteDate")
    assert tea(ali, "Decrypt", CiphertextBlob=blob)["Plaintext"] == "x"
    tea_expect(ali, "CancelKeyDeletion", "Rejected.StateModifiedFailed", 409, KeyId=k)


def test_schedule_deletion_from_disabled_then_cancel_gives_enabled(ali):
    k = create_key(ali)["KeyId"]
    tea(ali, "DisableKey", KeyId=k)
    tea_expect(ali, "CancelKeyDeletion", "Rejected.StateModifiedFailed", 409, KeyId=k)
    tea(ali, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=7)
    assert key_state(ali, k) == "PendingDeletion"
    tea(ali, "CancelKeyDeletion", KeyId=k)
    assert key_state(ali, k) == "Enabled"


def test_pending_window_bounds(ali, ali_old):
    k = create_key(ali)["KeyId"]
    for bad in (0, 6, 367, 1000):
        tea_expect(ali, "ScheduleKeyDeletion", "InvalidParameter", 400, KeyId=k, PendingWindowInDays=bad)
    old_expect(ali_old, "ScheduleKeyDeletion", "InvalidParameter", 400, KeyId=k, PendingWindowInDays="abc")
    old_expect(ali_old, "ScheduleKeyDeletion", "MissingParameter", 400, KeyId=k)
    assert key_state(ali, k) == "Enabled"
    tea(ali, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=366)
    assert key_state(ali, k) == "PendingDeletion"
    k7 = create_key(ali)["KeyId"]
    old(ali_old, "ScheduleKeyDeletion", KeyId=k7, PendingWindowInDays="7")
    assert key_state(ali, k7) == "PendingDeletion"


def test_deletion_protection(ali, ali_old):
    md = create_key(ali)
    k = md["KeyId"]
    tea(ali, "SetDeletionProtection", KeyId=k, EnableDeletionProtection=True,
        DeletionProtectionDescription="do not delete: prod")
    d = describe(ali_old, k)
    assert d["DeletionProtection"] == "Enabled"
    assert d["DeletionProtectionDescription"] == "do not delete: prod"
    for err in (tea_err(ali, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=7),
                old_err(ali_old, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=7)):
        assert err.status is not None and 400 <= err.status < 500, err
    assert key_state(ali, k) == "Enabled"
    # off again (by ARN through ProtectedResourceArn), then deletion works
    old(ali_old, "SetDeletionProtection", ProtectedResourceArn=md["Arn"], EnableDeletionProtection="false")
    assert describe(ali, k)["DeletionProtection"] == "Disabled"
    tea(ali, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=7)
    assert key_state(ali, k) == "PendingDeletion"


POLICY = ('{"Version":"1","Statement":[{"Sid":"kms default key policy","Effect":"Allow",'
          '"Principal":{"RAM":["acs:ram::1234567890:*"]},"Action":["kms:*"],"Resource":["*"]}]}')


def test_key_policy(ali, ali_old):
    k = create_key(ali)["KeyId"]
    default = tea(ali, "GetKeyPolicy", KeyId=k)["Policy"]
    assert isinstance(default, str)
    tea(ali, "SetKeyPolicy", KeyId=k, Policy=POLICY, PolicyName="default")
    assert tea(ali, "GetKeyPolicy", KeyId=k, PolicyName="default")["Policy"] == POLICY
    assert old(ali_old, "GetKeyPolicy", KeyId=k)["Policy"] == POLICY
    spaced = json.dumps(json.loads(POLICY), indent=2)
    old(ali_old, "SetKeyPolicy", KeyId=k, Policy=spaced)
    assert tea(ali, "GetKeyPolicy", KeyId=k)["Policy"] == spaced
    tea_expect(ali, "GetKeyPolicy", "InvalidParameter", 400, KeyId=k, PolicyName="other")
    tea_expect(ali, "SetKeyPolicy", "InvalidParameter", 400, KeyId=k, Policy=POLICY, PolicyName="other")
    tea_expect(ali, "GetKeyPolicy", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()))


def test_create_key_with_policy(ali):
    md = create_key(ali, Policy=POLICY)
    assert tea(ali, "GetKeyPolicy", KeyId=md["Arn"])["Policy"] == POLICY


def _list_all(client, page_size=100, **params) -> list[dict]:
    out, page = [], 1
    while True:
        fn = old if not hasattr(client, "list_keys") else tea
        body = fn(client, "ListKeys", PageNumber=page, PageSize=page_size, **params)
        out += body["Keys"]["Key"]
        if page * page_size >= body["TotalCount"]:
            return out
        page += 1


def test_list_keys_paging(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    c = tea_client(s.endpoint)
    o = old_client(s.endpoint)
    made = [create_key(c) for _ in range(5)]
    seen = []
    for page in (1, 2, 3):
        body = tea(c, "ListKeys", PageNumber=page, PageSize=2)
        assert body["TotalCount"] == 5 and isinstance(body["TotalCount"], int), body
        assert body["PageNumber"] == page and isinstance(body["PageNumber"], int), body
        assert body["PageSize"] == 2 and isinstance(body["PageSize"], int), body
        keys = body["Keys"]["Key"]
        assert len(keys) == (2 if page < 3 else 1), body
        seen += keys
    assert {k["KeyId"] for k in seen} == {m["KeyId"] for m in made}
    arns = {m["KeyId"]: m["Arn"] for m in made}
    for k in seen:
        assert k["KeyArn"] == arns[k["KeyId"]]
    # the old SDK parses the same JSON: numbers stay numbers
    body = old(o, "ListKeys")
    assert body["PageNumber"] == 1 and body["PageSize"] == 10 and body["TotalCount"] == 5, body
    assert len(body["Keys"]["Key"]) == 5
    # past the end: empty page, same total
    body = tea(c, "ListKeys", PageNumber=4, PageSize=2)
    assert body["TotalCount"] == 5 and body["Keys"]["Key"] == [], body
    for bad in (0, 101):
        tea_expect(c, "ListKeys", "InvalidParameter", 400, PageSize=bad)


def test_list_keys_filter_by_state(ali):
    enabled = create_key(ali)["KeyId"]
    disabled = create_key(ali)["KeyId"]
    tea(ali, "DisableKey", KeyId=disabled)
    flt = json.dumps([{"Key": "KeyState", "Values": ["Disabled"]}])
    ids = {k["KeyId"] for k in _list_all(ali, Filters=flt)}
    assert disabled in ids and enabled not in ids
    ids = {k["KeyId"] for k in _list_all(ali)}
    assert {enabled, disabled} <= ids
    tea_expect(ali, "ListKeys", "InvalidParameter", 400, Filters="[not json")


def test_keys_ids_are_unique(ali):
    ids = {create_key(ali)["KeyId"] for _ in range(5)}
    assert len(ids) == 5


def test_description_length(ali):
    # Description is free text, up to 8192 chars
    md = create_key(ali, Description="d" * 8192)
    assert describe(ali, md["KeyId"])["Description"] == "d" * 8192
    tea_expect(ali, "CreateKey", "InvalidParameter", 400, Description="d" * 8193)


def test_list_keys_includes_every_state(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    c = tea_client(s.endpoint)
    enabled = create_key(c)["KeyId"]
    disabled = create_key(c)["KeyId"]
    tea(c, "DisableKey", KeyId=disabled)
    pending = create_key(c)["KeyId"]
    tea(c, "ScheduleKeyDeletion", KeyId=pending, PendingWindowInDays=7)
    external = create_key(c, Origin="EXTERNAL")["KeyId"]
    body = tea(c, "ListKeys", PageSize=100)
    assert body["TotalCount"] == 4
    assert {k["KeyId"] for k in body["Keys"]["Key"]} == {enabled, disabled, pending, external}
    flt = json.dumps([{"Key": "KeyState", "Values": ["PendingDeletion", "PendingImport"]}])
    body = tea(c, "ListKeys", Filters=flt)
    assert {k["KeyId"] for k in body["Keys"]["Key"]} == {pending, external} and body["TotalCount"] == 2, body


def test_response_headers_and_request_ids(server, ali):
    ids = set()
    for _ in range(3):
        r = acs.v1_send(server.endpoint, "DescribeAccountKmsStatus", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET)
        assert r.status_code == 200
        assert r.headers["content-type"].replace(" ", "").lower().startswith("application/json")
        ids.add(r.json()["RequestId"])
    ids.add(tea(ali, "DescribeAccountKmsStatus")["RequestId"])
    assert len(ids) == 4
    assert all(UUID_RE.match(i) for i in ids)
