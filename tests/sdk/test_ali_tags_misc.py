"""Alibaba KMS dialect: tags (TagResource/UntagResource/ListResourceTags, TagResources/UntagResources/
ListTagResources), DescribeRegions, DescribeAccountKmsStatus, OpenKmsService, GetRandomPassword."""
from __future__ import annotations

import json
import string
import uuid

import pytest

from alikms import create_key, old, old_expect, tea, tea_expect

PUNCT = set(string.punctuation)


def tags_of(client, key_id: str) -> dict:
    fn = tea if hasattr(client, "list_resource_tags") else old
    body = fn(client, "ListResourceTags", KeyId=key_id)
    out = {}
    for t in body["Tags"]["Tag"]:
        assert t["KeyId"] == key_id, t
        out[t["TagKey"]] = t["TagValue"]
    return out


def test_tag_resource_legacy(ali, ali_old):
    k = create_key(ali)["KeyId"]
    assert tags_of(ali, k) == {}
    tea(ali, "TagResource", KeyId=k, Tags=json.dumps([{"TagKey": "env", "TagValue": "prod"},
                                                       {"TagKey": "team", "TagValue": "core kms"}]))
    assert tags_of(ali_old, k) == {"env": "prod", "team": "core kms"}
    # overwrite one value, add one
    old(ali_old, "TagResource", KeyId=k, Tags='[{"TagKey": "env", "TagValue": "staging"}, {"TagKey": "x", "TagValue": "1"}]')
    assert tags_of(ali, k) == {"env": "staging", "team": "core kms", "x": "1"}
    tea(ali, "UntagResource", KeyId=k, TagKeys=json.dumps(["env", "x"]))
    assert tags_of(ali, k) == {"team": "core kms"}
    # removing an absent tag key is not an error
    tea(ali, "UntagResource", KeyId=k, TagKeys='["nope"]')
    assert tags_of(ali, k) == {"team": "core kms"}


def test_tag_resource_errors(ali, ali_old):
    k = create_key(ali)["KeyId"]
    tea_expect(ali, "TagResource", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()),
               Tags='[{"TagKey":"a","TagValue":"b"}]')
    tea_expect(ali, "ListResourceTags", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()))
    tea_expect(ali, "TagResource", "InvalidParameter", 400, KeyId=k, Tags="not json")
    tea_expect(ali, "TagResource", "MissingParameter", 400, KeyId=k)
    for reserved in ("aliyun-x", "acs:x"):
        old_expect(ali_old, "TagResource", "InvalidParameter", 400, KeyId=k,
                   Tags=json.dumps([{"TagKey": reserved, "TagValue": "v"}]))
    old_expect(ali_old, "TagResource", "InvalidParameter", 400, KeyId=k,
               Tags=json.dumps([{"TagKey": "k" * 129, "TagValue": "v"}]))
    too_many = [{"TagKey": f"k{i}", "TagValue": "v"} for i in range(21)]
    tea_expect(ali, "TagResource", "InvalidParameter", 400, KeyId=k, Tags=json.dumps(too_many))
    assert tags_of(ali, k) == {}


def test_create_key_with_tags(ali):
    md = create_key(ali, Tags=json.dumps([{"TagKey": "owner", "TagValue": "alice"}]))
    assert tags_of(ali, md["KeyId"]) == {"owner": "alice"}


def test_tag_resources_generic(ali, ali_old):
    k1 = create_key(ali)["KeyId"]
    k2 = create_key(ali)["KeyId"]
    tea(ali, "TagResources", RegionId="cn-hangzhou", ResourceType="key", ResourceId=[k1, k2],
        Tag=[{"Key": "app", "Value": "billing"}, {"Key": "tier", "Value": "1"}])
    assert tags_of(ali, k1) == {"app": "billing", "tier": "1"}
    assert tags_of(ali_old, k2) == {"app": "billing", "tier": "1"}
    body = tea(ali, "ListTagResources", RegionId="cn-hangzhou", ResourceType="key", ResourceId=[k1, k2])
    rows = body["TagResources"]["TagResource"]
    got = sorted((r["ResourceId"], r["TagKey"], r["TagValue"], r["ResourceType"]) for r in rows)
    assert got == sorted([(k, t, v, "key") for k in (k1, k2) for t, v in (("app", "billing"), ("tier", "1"))]), rows
    # filter by tag
    body = tea(ali, "ListTagResources", RegionId="cn-hangzhou", ResourceType="key", ResourceId=[k1],
               Tag=[{"Key": "tier", "Value": "1"}])
    assert {(r["ResourceId"], r["TagKey"]) for r in body["TagResources"]["TagResource"]} >= {(k1, "tier")}
    assert all(r["ResourceId"] == k1 for r in body["TagResources"]["TagResource"])
    # untag one key on both resources, then all on k2 (old SDK)
    tea(ali, "UntagResources", RegionId="cn-hangzhou", ResourceType="key", ResourceId=[k1, k2], TagKey=["app"])
    assert tags_of(ali, k1) == {"tier": "1"} and tags_of(ali, k2) == {"tier": "1"}
    old(ali_old, "UntagResources", ResourceType="key", ResourceIds=[k2], All="true")
    assert tags_of(ali, k2) == {}
    assert tags_of(ali, k1) == {"tier": "1"}


def test_tag_resources_old_sdk_and_errors(ali, ali_old):
    k = create_key(ali_old)["KeyId"]
    old(ali_old, "TagResources", ResourceType="key", ResourceIds=[k], Tags=[{"Key": "a", "Value": "b"}])
    body = old(ali_old, "ListTagResources", ResourceType="key", ResourceIds=[k])
    assert [(r["ResourceId"], r["TagKey"], r["TagValue"]) for r in body["TagResources"]["TagResource"]] == [(k, "a", "b")]
    tea_expect(ali, "TagResources", "InvalidParameter", 400, RegionId="cn-hangzhou", ResourceType="cluster",
               ResourceId=[k], Tag=[{"Key": "a", "Value": "b"}])
    tea_expect(ali, "TagResources", "Forbidden.KeyNotFound", 404, RegionId="cn-hangzhou", ResourceType="key",
               ResourceId=[str(uuid.uuid4())], Tag=[{"Key": "a", "Value": "b"}])
    tea_expect(ali, "TagResources", "MissingParameter", 400, RegionId="cn-hangzhou", ResourceType="key",
               ResourceId=[k])


# ------------------------------------------------------------------------------------------ misc


def test_describe_regions(ali, ali_old):
    for body in (tea(ali, "DescribeRegions"), old(ali_old, "DescribeRegions")):
        regions = {r["RegionId"] for r in body["Regions"]["Region"]}
        assert {"cn-hangzhou", "cn-guangzhou", "cn-shanghai", "cn-beijing", "cn-chengdu", "cn-hongkong",
                "ap-southeast-1"} <= regions, body


def test_account_status_and_open_service(ali, ali_old):
    assert tea(ali, "DescribeAccountKmsStatus")["AccountStatus"] == "Enabled"
    assert old(ali_old, "DescribeAccountKmsStatus")["AccountStatus"] == "Enabled"
    assert tea(ali, "OpenKmsService")["RequestId"]
    assert old(ali_old, "OpenKmsService")["RequestId"]
    assert tea(ali, "DescribeAccountKmsStatus")["AccountStatus"] == "Enabled"


def _pw(client, **params) -> str:
    fn = tea if hasattr(client, "get_random_password") else old
    pw = fn(client, "GetRandomPassword", **params)["RandomPassword"]
    assert isinstance(pw, str)
    return pw


def _classes(pw: str) -> set[str]:
    out = set()
    for ch in pw:
        if ch in string.ascii_lowercase:
            out.add("lower")
        elif ch in string.ascii_uppercase:
            out.add("upper")
        elif ch in string.digits:
            out.add("digit")
        elif ch in PUNCT:
            out.add("punct")
        else:
            raise AssertionError(f"unexpected character {ch!r} in {pw!r}")
    return out


def test_random_password_defaults(ali, ali_old):
    a = _pw(ali)
    b = _pw(ali_old)
    assert len(a) == 32 and len(b) == 32
    assert a != b
    _classes(a), _classes(b)


@pytest.mark.parametrize("length", ["8", "17", "128"])
def test_random_password_length(ali, length):
    assert len(_pw(ali, PasswordLength=length)) == int(length)


def test_random_password_length_bounds(ali, ali_old):
    for bad in ("7", "129", "0", "abc"):
        tea_expect(ali, "GetRandomPassword", "InvalidParameter", 400, PasswordLength=bad)
    old_expect(ali_old, "GetRandomPassword", "InvalidParameter", 400, PasswordLength="200")


def test_random_password_excludes(ali, ali_old):
    for _ in range(5):
        assert "digit" not in _classes(_pw(ali, ExcludeNumbers="true", PasswordLength="64"))
        assert "punct" not in _classes(_pw(ali_old, ExcludePunctuation="true", PasswordLength="64"))
        assert "lower" not in _classes(_pw(ali, ExcludeLowercase="True", PasswordLength="64"))
        assert "upper" not in _classes(_pw(ali, ExcludeUppercase="true", PasswordLength="64"))
        only_digits = _pw(ali, ExcludeLowercase="true", ExcludeUppercase="true", ExcludePunctuation="true")
        assert only_digits.isdigit() and len(only_digits) == 32
        pw = _pw(ali, ExcludeCharacters="abcdefABCDEF012345!@#", PasswordLength="128")
        assert not set(pw) & set("abcdefABCDEF012345!@#"), pw


def test_random_password_require_each_type(ali, ali_old):
    for _ in range(20):
        pw = _pw(ali, PasswordLength="8", RequireEachIncludedType="true")
        assert _classes(pw) == {"lower", "upper", "digit", "punct"}, pw
        pw = _pw(ali_old, PasswordLength="8", RequireEachIncludedType="true", ExcludePunctuation="true")
        assert _classes(pw) == {"lower", "upper", "digit"}, pw
