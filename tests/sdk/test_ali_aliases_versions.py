"""Alibaba KMS dialect: aliases (CreateAlias, UpdateAlias, DeleteAlias, ListAliases, ListAliasesByKeyId)
and key versions / rotation (CreateKeyVersion, DescribeKeyVersion, ListKeyVersions, UpdateRotationPolicy)."""
from __future__ import annotations

import uuid

import pytest

from alikms import (UUID_RE, arn_parts, create_key, describe, old, old_client, old_expect, tea, tea_client,
                    tea_err, tea_expect, uname)

# ------------------------------------------------------------------------------------------ aliases


def alias_arn(key_arn: str, alias: str) -> str:
    p = arn_parts(key_arn)
    return f"acs:kms:{p['region']}:{p['account']}:{alias}"


def test_alias_lifecycle(ali, ali_old):
    k1 = create_key(ali)
    k2 = create_key(ali)
    alias = uname()
    tea(ali, "CreateAlias", AliasName=alias, KeyId=k1["KeyId"])
    assert describe(ali_old, alias)["KeyId"] == k1["KeyId"]
    body = old(ali_old, "ListAliasesByKeyId", KeyId=k1["KeyId"])
    assert body["TotalCount"] == 1, body
    assert body["Aliases"]["Alias"] == [{"AliasName": alias, "KeyId": k1["KeyId"],
                                         "AliasArn": alias_arn(k1["Arn"], alias)}]
    blob = tea(ali, "Encrypt", KeyId=alias, Plaintext="p")["CiphertextBlob"]
    # re-point
    old(ali_old, "UpdateAlias", AliasName=alias, KeyId=k2["KeyId"])
    assert describe(ali, alias)["KeyId"] == k2["KeyId"]
    assert tea(ali, "Encrypt", KeyId=alias, Plaintext="p")["KeyId"] == k2["KeyId"]
    assert tea(ali, "ListAliasesByKeyId", KeyId=k1["KeyId"])["Aliases"]["Alias"] == []
    assert [a["AliasName"] for a in tea(ali, "ListAliasesByKeyId", KeyId=k2["KeyId"])["Aliases"]["Alias"]] == [alias]
    # the old blob still decrypts (the key comes from the blob, not the alias)
    assert tea(ali, "Decrypt", CiphertextBlob=blob)["KeyId"] == k1["KeyId"]
    tea(ali, "DeleteAlias", AliasName=alias)
    tea_expect(ali, "DescribeKey", "Forbidden.AliasNotFound", 404, KeyId=alias)
    old_expect(ali_old, "DeleteAlias", "Forbidden.AliasNotFound", 404, AliasName=alias)
    tea_expect(ali, "UpdateAlias", "Forbidden.AliasNotFound", 404, AliasName=alias, KeyId=k1["KeyId"])
    # the keys are untouched
    assert describe(ali, k2["KeyId"])["KeyState"] == "Enabled"


def test_alias_by_arn_and_alias_key_ref(ali):
    k = create_key(ali)
    a1, a2 = uname(), uname()
    tea(ali, "CreateAlias", AliasName=a1, KeyId=k["Arn"])
    tea(ali, "CreateAlias", AliasName=a2, KeyId=a1)
    names = {a["AliasName"] for a in tea(ali, "ListAliasesByKeyId", KeyId=a2)["Aliases"]["Alias"]}
    assert names == {a1, a2}


def test_duplicate_alias(ali, ali_old):
    k1, k2 = create_key(ali)["KeyId"], create_key(ali)["KeyId"]
    alias = uname()
    tea(ali, "CreateAlias", AliasName=alias, KeyId=k1)
    tea_expect(ali, "CreateAlias", "AliasAlreadyExists", 400, AliasName=alias, KeyId=k2)
    old_expect(ali_old, "CreateAlias", "AliasAlreadyExists", 400, AliasName=alias, KeyId=k1)
    assert describe(ali, alias)["KeyId"] == k1


@pytest.mark.parametrize("name", [
    "no-prefix",
    "alias-x/name",
    "Alias/upper-prefix",
    "alias/acs",
    "alias/acs-reserved",
    "alias/acs/reserved",
    "alias/has space",
    "alias/dot.not.allowed",
    "alias/ünicode",
    "alias/star*",
    "alias/" + "a" * 250,
])
def test_invalid_alias_names(ali, ali_old, name):
    k = create_key(ali)["KeyId"]
    tea_expect(ali, "CreateAlias", "InvalidParameter", 400, AliasName=name, KeyId=k)
    old_expect(ali_old, "CreateAlias", "InvalidParameter", 400, AliasName=name, KeyId=k)


def test_valid_alias_charset_and_length(ali):
    k = create_key(ali)["KeyId"]
    tail = uuid.uuid4().hex
    for name in (f"alias/A-z_0:9/{tail}", "alias/" + tail + "x" * (255 - 6 - len(tail))):
        assert len(name) <= 255
        tea(ali, "CreateAlias", AliasName=name, KeyId=k)
        assert describe(ali, name)["KeyId"] == k


def test_alias_errors_on_keys(ali):
    tea_expect(ali, "CreateAlias", "Forbidden.KeyNotFound", 404, AliasName=uname(), KeyId=str(uuid.uuid4()))
    tea_expect(ali, "CreateAlias", "MissingParameter", 400, KeyId=create_key(ali)["KeyId"])
    k = create_key(ali)["KeyId"]
    target = create_key(ali)["KeyId"]
    alias = uname()
    tea(ali, "CreateAlias", AliasName=alias, KeyId=k)
    tea(ali, "ScheduleKeyDeletion", KeyId=target, PendingWindowInDays=7)
    tea_expect(ali, "UpdateAlias", "Rejected.PendingDeletion", 409, AliasName=alias, KeyId=target)
    assert describe(ali, alias)["KeyId"] == k
    # disabled keys take aliases (state table: ok)
    tea(ali, "DisableKey", KeyId=k)
    tea(ali, "CreateAlias", AliasName=uname(), KeyId=k)
    tea(ali, "UpdateAlias", AliasName=alias, KeyId=k)


def test_list_aliases_paging(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    c = tea_client(s.endpoint)
    o = old_client(s.endpoint)
    k = create_key(c)
    other = create_key(c)
    names = sorted(uname() for _ in range(5))
    for n in names:
        tea(c, "CreateAlias", AliasName=n, KeyId=k["KeyId"])
    lone = uname()
    tea(c, "CreateAlias", AliasName=lone, KeyId=other["KeyId"])
    seen = []
    for page in (1, 2, 3):
        body = tea(c, "ListAliasesByKeyId", KeyId=k["KeyId"], PageNumber=page, PageSize=2)
        assert (body["TotalCount"], body["PageNumber"], body["PageSize"]) == (5, page, 2), body
        assert all(isinstance(body[f], int) for f in ("TotalCount", "PageNumber", "PageSize"))
        assert len(body["Aliases"]["Alias"]) == (2 if page < 3 else 1)
        seen += body["Aliases"]["Alias"]
    assert sorted(a["AliasName"] for a in seen) == names
    assert all(a["KeyId"] == k["KeyId"] and a["AliasArn"] == alias_arn(k["Arn"], a["AliasName"]) for a in seen)
    body = old(o, "ListAliases", PageSize=4)
    assert (body["TotalCount"], body["PageNumber"], body["PageSize"]) == (6, 1, 4), body
    assert len(body["Aliases"]["Alias"]) == 4
    body2 = old(o, "ListAliases", PageSize=4, PageNumber=2)
    everything = body["Aliases"]["Alias"] + body2["Aliases"]["Alias"]
    assert sorted(a["AliasName"] for a in everything) == sorted(names + [lone])
    body = tea(c, "ListAliases")
    assert body["PageSize"] == 10 and body["TotalCount"] == 6 and len(body["Aliases"]["Alias"]) == 6


# ------------------------------------------------------------------------------------------ versions


def test_create_key_version_min_interval(ali, ali_old):
    """The shared server keeps the default [rotation] min_manual_interval_secs = 86400."""
    md = create_key(ali)
    v = tea(ali, "CreateKeyVersion", KeyId=md["KeyId"])["KeyVersion"]
    assert UUID_RE.match(v["KeyVersionId"]) and v["KeyVersionId"] != md["PrimaryKeyVersion"]
    assert v["KeyId"] == md["KeyId"]
    assert describe(ali, md["KeyId"])["PrimaryKeyVersion"] == v["KeyVersionId"]
    tea_expect(ali, "CreateKeyVersion", "Rejected.LimitExceeded", 400, KeyId=md["KeyId"])
    old_expect(ali_old, "CreateKeyVersion", "Rejected.LimitExceeded", 400, KeyId=md["Arn"])
    assert describe(ali, md["KeyId"])["PrimaryKeyVersion"] == v["KeyVersionId"]
    assert tea(ali, "ListKeyVersions", KeyId=md["KeyId"])["TotalCount"] == 2


def test_versions_decrypt_and_list(ali_rot_server):
    c = tea_client(ali_rot_server.endpoint)
    o = old_client(ali_rot_server.endpoint)
    md = create_key(c)
    alias = uname()
    tea(c, "CreateAlias", AliasName=alias, KeyId=md["KeyId"])
    versions = [md["PrimaryKeyVersion"]]
    blobs = [tea(c, "Encrypt", KeyId=md["KeyId"], Plaintext="v0")["CiphertextBlob"]]
    for i in (1, 2, 3):
        ref = alias if i == 2 else md["KeyId"]
        v = (old if i == 3 else tea)(o if i == 3 else c, "CreateKeyVersion", KeyId=ref)["KeyVersion"]
        assert v["KeyId"] == md["KeyId"] and UUID_RE.match(v["KeyVersionId"])
        assert v["KeyVersionId"] not in versions
        versions.append(v["KeyVersionId"])
        assert describe(c, md["KeyId"])["PrimaryKeyVersion"] == v["KeyVersionId"]
        enc = tea(c, "Encrypt", KeyId=md["KeyId"], Plaintext=f"v{i}")
        assert enc["KeyVersionId"] == v["KeyVersionId"]
        blobs.append(enc["CiphertextBlob"])
    for i, (blob, ver) in enumerate(zip(blobs, versions)):
        dec = old(o, "Decrypt", CiphertextBlob=blob)
        assert (dec["Plaintext"], dec["KeyId"], dec["KeyVersionId"]) == (f"v{i}", md["KeyId"], ver)
    # DescribeKeyVersion
    for ver in versions:
        kv = tea(c, "DescribeKeyVersion", KeyId=alias, KeyVersionId=ver)["KeyVersion"]
        assert kv["KeyId"] == md["KeyId"] and kv["KeyVersionId"] == ver
        assert kv["CreationDate"].endswith("Z") and len(kv["CreationDate"]) == 20
    tea_expect(c, "DescribeKeyVersion", "Forbidden.KeyVersionNotFound", 404, KeyId=md["KeyId"],
               KeyVersionId=str(uuid.uuid4()))
    other = create_key(c)
    tea_expect(c, "DescribeKeyVersion", "Forbidden.KeyVersionNotFound", 404, KeyId=other["KeyId"],
               KeyVersionId=versions[1])
    # ListKeyVersions paging
    seen = []
    for page in (1, 2):
        body = tea(c, "ListKeyVersions", KeyId=md["KeyId"], PageNumber=page, PageSize=3)
        assert (body["TotalCount"], body["PageNumber"], body["PageSize"]) == (4, page, 3), body
        seen += body["KeyVersions"]["KeyVersion"]
    assert sorted(v["KeyVersionId"] for v in seen) == sorted(versions)
    assert all(v["KeyId"] == md["KeyId"] for v in seen)
    body = old(o, "ListKeyVersions", KeyId=md["Arn"])
    assert body["TotalCount"] == 4 and len(body["KeyVersions"]["KeyVersion"]) == 4 and body["PageSize"] == 10
    tea_expect(c, "ListKeyVersions", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()))


def test_data_keys_across_versions(ali_rot_server):
    c = tea_client(ali_rot_server.endpoint)
    k = create_key(c)["KeyId"]
    g0 = tea(c, "GenerateDataKey", KeyId=k, EncryptionContext={"v": "0"})
    tea(c, "CreateKeyVersion", KeyId=k)
    g1 = tea(c, "GenerateDataKey", KeyId=k, EncryptionContext={"v": "1"})
    assert g0["KeyVersionId"] != g1["KeyVersionId"]
    for g, ctx in ((g0, {"v": "0"}), (g1, {"v": "1"})):
        dec = tea(c, "Decrypt", CiphertextBlob=g["CiphertextBlob"], EncryptionContext=ctx)
        assert dec["Plaintext"] == g["Plaintext"] and dec["KeyVersionId"] == g["KeyVersionId"]


def test_create_key_version_state(ali_rot_server):
    c = tea_client(ali_rot_server.endpoint)
    k = create_key(c)["KeyId"]
    tea_expect(c, "CreateKeyVersion", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()))
    tea(c, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=7)
    err = tea_err(c, "CreateKeyVersion", KeyId=k)
    assert err.status == 409 and err.code.startswith("Rejected."), err
    assert tea(c, "ListKeyVersions", KeyId=k)["TotalCount"] == 1


def test_update_rotation_policy(ali, ali_old):
    md = create_key(ali)
    k = md["KeyId"]
    tea(ali, "UpdateRotationPolicy", KeyId=k, EnableAutomaticRotation=True, RotationInterval="30d")
    d = describe(ali, k)
    assert d["AutomaticRotation"] == "Enabled" and d["RotationInterval"] == "2592000s", d
    assert d["NextRotationDate"].endswith("Z")
    old(ali_old, "UpdateRotationPolicy", KeyId=k, EnableAutomaticRotation="true", RotationInterval="730d")
    assert describe(ali, k)["RotationInterval"] == "63072000s"
    tea(ali, "UpdateRotationPolicy", KeyId=md["Arn"], EnableAutomaticRotation=True, RotationInterval="604800s")
    assert describe(ali, k)["RotationInterval"] == "604800s"
    for bad in ("6d", "731d", "604799s", "abc"):
        tea_expect(ali, "UpdateRotationPolicy", "InvalidParameter", 400, KeyId=k, EnableAutomaticRotation=True,
                   RotationInterval=bad)
    assert describe(ali, k)["RotationInterval"] == "604800s"
    tea(ali, "UpdateRotationPolicy", KeyId=k, EnableAutomaticRotation=False)
    d = describe(ali_old, k)
    assert d["AutomaticRotation"] == "Disabled", d
    assert not d.get("NextRotationDate")
    tea_expect(ali, "UpdateRotationPolicy", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()),
               EnableAutomaticRotation=False)


def test_update_rotation_policy_needs_interval_when_enabling(ali):
    k = create_key(ali)["KeyId"]
    err = tea_err(ali, "UpdateRotationPolicy", KeyId=k, EnableAutomaticRotation=True)
    assert err.status == 400 and err.code in {"MissingParameter", "InvalidParameter"}, err
    assert describe(ali, k)["AutomaticRotation"] == "Disabled"


def test_delete_alias_updates_lists(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    c = tea_client(s.endpoint)
    k = create_key(c)["KeyId"]
    a, b = uname(), uname()
    tea(c, "CreateAlias", AliasName=a, KeyId=k)
    tea(c, "CreateAlias", AliasName=b, KeyId=k)
    assert tea(c, "ListAliases")["TotalCount"] == 2
    tea(c, "DeleteAlias", AliasName=a)
    body = tea(c, "ListAliases")
    assert body["TotalCount"] == 1 and [x["AliasName"] for x in body["Aliases"]["Alias"]] == [b]
    assert tea(c, "ListAliasesByKeyId", KeyId=k)["TotalCount"] == 1
    # the freed name can be taken again, by another key
    k2 = create_key(c)["KeyId"]
    tea(c, "CreateAlias", AliasName=a, KeyId=k2)
    assert describe(c, a)["KeyId"] == k2
