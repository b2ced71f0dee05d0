"""CMK lifecycle: CreateKey, DescribeKey(s), ListKeys, ListKeyDetail, Enable/Disable(s),
ScheduleKeyDeletion, CancelKeyDeletion, ArchiveKey, CancelKeyArchive, UpdateAlias,
UpdateKeyDescription, Bind/UnbindCloudResource, region and account isolation."""
from __future__ import annotations

import time
import uuid

import pytest
from conftest import create_account, run_admin, tencent_client
from kmsutil import (
    UUID_RE, call, call_error, call_error_in, call_error_prefix, create_key, decrypt, describe,
    encrypt, list_all_key_ids, list_all_keys, now, schedule_deletion, state, uid,
)

UNKNOWN = "00000000-0000-4000-8000-00000000abcd"


# ------------------------------------------------------------------ CreateKey

def test_create_key_defaults(kms):
    alias = uid("create")
    t0 = now()
    r = call(kms, "CreateKey", Alias=alias, Description="first key")
    assert UUID_RE.match(r.KeyId) and uuid.UUID(r.KeyId).version == 4, r.KeyId
    assert r.Alias == alias
    assert r.Description == "first key"
    assert r.KeyState == "Enabled"
    assert r.KeyUsage == "ENCRYPT_DECRYPT"
    assert t0 - 2 <= r.CreateTime <= now() + 2
    assert UUID_RE.match(r.RequestId)


def test_create_key_with_tags(kms):
    r = call(kms, "CreateKey", Alias=uid("tags"), Tags=[{"TagKey": "team", "TagValue": "infra"},
                                                         {"TagKey": "env", "TagValue": "dev"}])
    assert r.TagCode == 0
    assert r.TagMsg == "ok"


def test_create_key_duplicate_tag_keys(kms):
    call_error(kms, "CreateKey", "InvalidParameterValue.TagKeysDuplicated", Alias=uid("tags"),
               Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}])


def test_create_key_external_starts_pending_import(kms):
    r = call(kms, "CreateKey", Alias=uid("ext"), Type=2)
    assert r.KeyState == "PendingImport"
    md = describe(kms, r.KeyId)
    assert md.KeyState == "PendingImport"
    assert md.Origin == "EXTERNAL"


def test_create_key_invalid_type(kms):
    call_error(kms, "CreateKey", "InvalidParameterValue.InvalidType", Alias=uid("t"), Type=3)


def test_create_key_invalid_key_usage(kms):
    call_error(kms, "CreateKey", "InvalidParameterValue.InvalidKeyUsage", Alias=uid("t"),
               KeyUsage="ENCRYPT_EVERYTHING")


def test_create_key_duplicate_alias(kms):
    alias = uid("dup")
    create_key(kms, Alias=alias)
    call_error(kms, "CreateKey", "InvalidParameterValue.AliasAlreadyExists", Alias=alias)


@pytest.mark.parametrize("alias", ["-starts-with-dash", "_underscore_first", "has space",
                                   "dot.ted", "a" * 61, "ümlaut", ""])
def test_create_key_invalid_alias(kms, alias):
    if alias == "":
        # An empty alias is either "missing" or "invalid"; both refuse the call.
        call_error_in(kms, "CreateKey", {"MissingParameter", "InvalidParameterValue.InvalidAlias"},
                      Alias=alias)
    else:
        call_error(kms, "CreateKey", "InvalidParameterValue.InvalidAlias", Alias=alias)


def test_create_key_alias_boundaries(kms):
    for alias in ("a", "9" + uuid.uuid4().hex[:10], uuid.uuid4().hex[:12] + "x" * 48):
        assert len(alias) <= 60
        assert call(kms, "CreateKey", Alias=alias).Alias == alias


def test_create_key_reserved_alias_prefix(kms):
    call_error_prefix(kms, "CreateKey", "InvalidParameterValue", Alias="kms-" + uid("r"))


def test_create_key_missing_alias(kms):
    call_error(kms, "CreateKey", "MissingParameter", Description="no alias")


def test_create_key_description_limit(kms):
    assert call(kms, "CreateKey", Alias=uid("d"), Description="x" * 1024).Description == "x" * 1024
    call_error_prefix(kms, "CreateKey", "InvalidParameterValue", Alias=uid("d"), Description="x" * 1025)


def test_create_key_hsm_cluster(kms):
    call_error(kms, "CreateKey", "InvalidParameterValue.InvalidHsmClusterId", Alias=uid("h"),
               HsmClusterId="cluster-1")


# ------------------------------------------------------------------ DescribeKey(s)

def test_describe_key(kms):
    alias = uid("desc")
    created = call(kms, "CreateKey", Alias=alias, Description="d")
    md = describe(kms, created.KeyId)
    assert md.KeyId == created.KeyId
    assert md.Alias == alias
    assert md.Description == "d"
    assert md.CreateTime == created.CreateTime
    assert md.KeyState == "Enabled"
    assert md.KeyUsage == "ENCRYPT_DECRYPT"
    assert md.Origin == "TENCENT_KMS"
    assert md.Owner == "user"
    assert md.KeyRotationEnabled is False
    assert not md.DeletionDate
    assert md.ResourceId == f"creatorUin/{md.CreatorUin}/{md.KeyId}"


def test_describe_key_errors(kms):
    call_error(kms, "DescribeKey", "InvalidParameterValue.InvalidKeyId", KeyId="not-a-uuid")
    call_error(kms, "DescribeKey", "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN)
    call_error(kms, "DescribeKey", "MissingParameter")


def test_describe_keys(kms):
    a, b = create_key(kms), create_key(kms)
    r = call(kms, "DescribeKeys", KeyIds=[a, b, UNKNOWN])
    assert sorted(m.KeyId for m in r.KeyMetadatas) == sorted([a, b])


def test_describe_keys_duplicates_and_limit(kms):
    a = create_key(kms)
    call_error(kms, "DescribeKeys", "InvalidParameterValue.DuplicatedKeyId", KeyIds=[a, a])
    ids = [str(uuid.uuid4()) for _ in range(101)]
    call_error_prefix(kms, "DescribeKeys", "InvalidParameterValue", KeyIds=ids)
    call(kms, "DescribeKeys", KeyIds=ids[:100])  # 100 is allowed


# ------------------------------------------------------------------ ListKeys

def test_list_keys_states(kms):
    enabled, disabled, pending_del, archived = (create_key(kms) for _ in range(4))
    call(kms, "DisableKey", KeyId=disabled)
    schedule_deletion(kms, pending_del)
    call(kms, "ArchiveKey", KeyId=archived)
    listed = set(list_all_keys(kms))
    assert {enabled, disabled} <= listed
    assert pending_del not in listed
    assert archived not in listed


def test_list_keys_includes_pending_import(kms):
    pending_import = call(kms, "CreateKey", Alias=uid("ext"), Type=2).KeyId
    assert pending_import in set(list_all_keys(kms))


def test_list_key_detail_external_pending_import(kms):
    ext = call(kms, "CreateKey", Alias=uid("ext"), Type=2).KeyId
    assert ext in list_all_key_ids(kms, KeyState=4)
    assert ext in list_all_key_ids(kms, Origin="EXTERNAL")
    assert ext not in list_all_key_ids(kms, Origin="TENCENT_KMS")
    assert ext not in list_all_key_ids(kms, KeyState=1)


def test_list_keys_paging(kms):
    for _ in range(3):
        create_key(kms)
    total = call(kms, "ListKeys", Limit=200).TotalCount
    assert total >= 3
    first = call(kms, "ListKeys", Offset=0, Limit=2)
    assert len(first.Keys) == 2 and first.TotalCount == total
    second = call(kms, "ListKeys", Offset=2, Limit=2)
    assert not {k.KeyId for k in first.Keys} & {k.KeyId for k in second.Keys}
    default = call(kms, "ListKeys")
    assert len(default.Keys) == min(10, total)  # Limit default 10
    beyond = call(kms, "ListKeys", Offset=total + 5, Limit=10)
    assert not beyond.Keys and beyond.TotalCount == total


# ------------------------------------------------------------------ ListKeyDetail

@pytest.fixture(scope="module")
def listing(server_factory):
    """A private server with four keys made one second apart, one per state (EXTERNAL keys are
    covered separately, by test_list_key_detail_external_pending_import)."""
    s = server_factory(extra_args=["--no-rate-limit"]).start()
    c = tencent_client(s.endpoint)
    tag = uuid.uuid4().hex[:8]
    keys = {}
    for name in ("enabled", "disabled", "pending", "archived"):
        fields = {"Alias": f"list-{name}-{tag}"}
        if name == "enabled":
            fields["Tags"] = [{"TagKey": "team", "TagValue": "a"}]
        if name == "disabled":
            fields["Tags"] = [{"TagKey": "team", "TagValue": "b"}]
        keys[name] = call(c, "CreateKey", **fields).KeyId
        time.sleep(1.1)  # distinct CreateTime seconds, so the order is unambiguous
    call(c, "DisableKey", KeyId=keys["disabled"])
    schedule_deletion(c, keys["pending"])
    call(c, "ArchiveKey", KeyId=keys["archived"])
    return c, keys, tag


def test_list_key_detail_default_is_all_states_newest_first(listing):
    c, keys, _ = listing
    r = call(c, "ListKeyDetail")
    assert r.TotalCount == 4
    assert [m.KeyId for m in r.KeyMetadatas] == [keys[n] for n in
                                                  ("archived", "pending", "disabled", "enabled")]


def test_list_key_detail_ascending(listing):
    c, keys, _ = listing
    r = call(c, "ListKeyDetail", OrderType=1)
    assert [m.KeyId for m in r.KeyMetadatas] == [keys[n] for n in
                                                  ("enabled", "disabled", "pending", "archived")]
    times = [m.CreateTime for m in r.KeyMetadatas]
    assert times == sorted(times)


@pytest.mark.parametrize("code,name", [(1, "enabled"), (2, "disabled"), (3, "pending"),
                                        (5, "archived")])
def test_list_key_detail_state_filter(listing, code, name):
    c, keys, _ = listing
    r = call(c, "ListKeyDetail", KeyState=code)
    assert [m.KeyId for m in r.KeyMetadatas] == [keys[name]]
    assert r.TotalCount == 1
    assert r.KeyMetadatas[0].KeyState == {1: "Enabled", 2: "Disabled", 3: "PendingDelete",
                                          4: "PendingImport", 5: "Archived"}[code]


def test_list_key_detail_state_zero_is_all(listing):
    c, keys, _ = listing
    assert sorted(list_all_key_ids(c, KeyState=0)) == sorted(keys.values())


def test_list_key_detail_search_alias_and_id(listing):
    c, keys, tag = listing
    r = call(c, "ListKeyDetail", SearchKeyAlias=f"archived-{tag}")
    assert [m.KeyId for m in r.KeyMetadatas] == [keys["archived"]]
    r = call(c, "ListKeyDetail", SearchKeyAlias=tag)
    assert r.TotalCount == 4
    r = call(c, "ListKeyDetail", SearchKeyAlias=keys["disabled"][:13])
    assert keys["disabled"] in [m.KeyId for m in r.KeyMetadatas]
    r = call(c, "ListKeyDetail", SearchKeyAlias="no-such-alias-" + tag)
    assert r.TotalCount == 0 and not r.KeyMetadatas


def test_list_key_detail_origin(listing):
    c, keys, _ = listing
    assert list_all_key_ids(c, Origin="EXTERNAL") == []
    assert sorted(list_all_key_ids(c, Origin="TENCENT_KMS")) == sorted(keys.values())
    assert sorted(list_all_key_ids(c, Origin="ALL")) == sorted(keys.values())
    assert call(c, "ListKeyDetail", KeyState=4).TotalCount == 0


def test_list_key_detail_key_usage(listing):
    c, keys, _ = listing
    assert sorted(list_all_key_ids(c, KeyUsage="ALL")) == sorted(keys.values())
    assert sorted(list_all_key_ids(c, KeyUsage="ENCRYPT_DECRYPT")) == sorted(keys.values())
    assert list_all_key_ids(c, KeyUsage="ASYMMETRIC_DECRYPT_RSA_2048") == []


def test_list_key_detail_tag_filters(listing):
    c, keys, _ = listing
    one = list_all_key_ids(c, TagFilters=[{"TagKey": "team", "TagValue": ["a"]}])
    assert one == [keys["enabled"]]
    both = list_all_key_ids(c, TagFilters=[{"TagKey": "team", "TagValue": ["a", "b"]}])
    assert sorted(both) == sorted([keys["enabled"], keys["disabled"]])
    none = list_all_key_ids(c, TagFilters=[{"TagKey": "team", "TagValue": ["zzz"]}])
    assert none == []
    none = list_all_key_ids(c, TagFilters=[{"TagKey": "nosuchtag", "TagValue": ["a"]}])
    assert none == []


def test_list_key_detail_paging(listing):
    c, keys, _ = listing
    full = [m.KeyId for m in call(c, "ListKeyDetail", Limit=200).KeyMetadatas]
    pages = []
    for off in (0, 2, 4):
        r = call(c, "ListKeyDetail", Offset=off, Limit=2)
        assert r.TotalCount == 4
        pages += [m.KeyId for m in r.KeyMetadatas]
    assert len(pages) == 4
    assert pages == full
    r = call(c, "ListKeyDetail", Offset=2, Limit=1, OrderType=1)
    assert [m.KeyId for m in r.KeyMetadatas] == [keys["pending"]]


def test_list_key_detail_combined_filters(listing):
    c, keys, tag = listing
    r = call(c, "ListKeyDetail", KeyState=2, SearchKeyAlias=tag, Origin="TENCENT_KMS")
    assert [m.KeyId for m in r.KeyMetadatas] == [keys["disabled"]]
    r = call(c, "ListKeyDetail", KeyState=4, Origin="TENCENT_KMS")
    assert r.TotalCount == 0


# ------------------------------------------------------------------ Enable / Disable

def test_disable_enable_key(kms):
    k = create_key(kms)
    call(kms, "DisableKey", KeyId=k)
    assert state(kms, k) == "Disabled"
    call_error(kms, "Encrypt", "ResourceUnavailable.CmkDisabled", KeyId=k, Plaintext="aGk=")
    call(kms, "EnableKey", KeyId=k)
    assert state(kms, k) == "Enabled"
    assert decrypt(kms, encrypt(kms, k, b"hi")) == b"hi"


def test_disabled_key_cannot_decrypt(kms):
    k = create_key(kms)
    blob = encrypt(kms, k, b"secret")
    call(kms, "DisableKey", KeyId=k)
    call_error(kms, "Decrypt", "ResourceUnavailable.CmkDisabled", CiphertextBlob=blob)


def test_enable_disable_unknown_key(kms):
    call_error(kms, "DisableKey", "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN)
    call_error(kms, "EnableKey", "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN)
    call_error(kms, "EnableKey", "InvalidParameterValue.InvalidKeyId", KeyId="abc")


def test_disable_enable_keys_batch(kms):
    a, b = create_key(kms), create_key(kms)
    call(kms, "DisableKeys", KeyIds=[a, b])
    assert state(kms, a) == state(kms, b) == "Disabled"
    call(kms, "EnableKeys", KeyIds=[a, b])
    assert state(kms, a) == state(kms, b) == "Enabled"


def test_batch_all_or_nothing(kms):
    a, b = create_key(kms), create_key(kms)
    call_error(kms, "DisableKeys", "ResourceUnavailable.CmkNotFound", KeyIds=[a, UNKNOWN, b])
    assert state(kms, a) == state(kms, b) == "Enabled"
    call(kms, "DisableKeys", KeyIds=[a, b])
    call_error(kms, "EnableKeys", "ResourceUnavailable.CmkNotFound", KeyIds=[a, b, UNKNOWN])
    assert state(kms, a) == state(kms, b) == "Disabled"


def test_batch_duplicates_and_limit(kms):
    a = create_key(kms)
    call_error(kms, "DisableKeys", "InvalidParameterValue.DuplicatedKeyId", KeyIds=[a, a])
    call_error(kms, "EnableKeys", "InvalidParameterValue.DuplicatedKeyId", KeyIds=[a, a])
    assert state(kms, a) == "Enabled"
    call_error_prefix(kms, "DisableKeys", "InvalidParameterValue",
                      KeyIds=[str(uuid.uuid4()) for _ in range(101)])


# ------------------------------------------------------------------ Deletion

def test_schedule_requires_disabled(kms):
    k = create_key(kms)
    call_error(kms, "ScheduleKeyDeletion", "ResourceUnavailable.CmkShouldBeDisabled", KeyId=k,
               PendingWindowInDays=7)
    assert state(kms, k) == "Enabled"


@pytest.mark.parametrize("days", [7, 30])
def test_schedule_key_deletion(kms, days):
    k = create_key(kms)
    call(kms, "DisableKey", KeyId=k)
    t0 = now()
    r = call(kms, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=days)
    t1 = now()
    assert r.KeyId == k
    assert t0 + days * 86400 - 1 <= r.DeletionDate <= t1 + days * 86400 + 1
    md = describe(kms, k)
    assert md.KeyState == "PendingDelete"
    assert md.DeletionDate == r.DeletionDate


@pytest.mark.parametrize("days", [0, 6, 31])
def test_schedule_key_deletion_window(kms, days):
    k = create_key(kms)
    call(kms, "DisableKey", KeyId=k)
    call_error(kms, "ScheduleKeyDeletion", "InvalidParameter.InvalidPendingWindowInDays", KeyId=k,
               PendingWindowInDays=days)
    assert state(kms, k) == "Disabled"


def test_schedule_key_deletion_missing_window(kms):
    k = create_key(kms)
    call(kms, "DisableKey", KeyId=k)
    call_error(kms, "ScheduleKeyDeletion", "MissingParameter", KeyId=k)


def test_cancel_key_deletion_returns_to_disabled(kms):
    k = create_key(kms)
    schedule_deletion(kms, k)
    r = call(kms, "CancelKeyDeletion", KeyId=k)
    assert r.KeyId == k
    md = describe(kms, k)
    assert md.KeyState == "Disabled"
    assert not md.DeletionDate
    call(kms, "EnableKey", KeyId=k)
    assert state(kms, k) == "Enabled"


def test_cancel_key_deletion_not_pending(kms):
    k = create_key(kms)
    call_error(kms, "CancelKeyDeletion", "ResourceUnavailable.CmkNotPendingDelete", KeyId=k)


def test_pending_delete_key_refuses_use_and_enable(kms):
    k = create_key(kms)
    blob = encrypt(kms, k, b"x")
    schedule_deletion(kms, k)
    call_error(kms, "Encrypt", "ResourceUnavailable.KeyPendingDelete", KeyId=k, Plaintext="eA==")
    call_error_in(kms, "Decrypt", {"ResourceUnavailable.KeyPendingDelete",
                                   "ResourceUnavailable.CmkStateNotSupport"}, CiphertextBlob=blob)
    call_error_in(kms, "EnableKey", {"ResourceUnavailable.KeyPendingDelete",
                                     "ResourceUnavailable.CmkStateNotSupport"}, KeyId=k)
    assert state(kms, k) == "PendingDelete"


# ------------------------------------------------------------------ Archive

def test_archive_and_cancel(kms):
    k = create_key(kms)
    blob = encrypt(kms, k, b"archived data")
    call(kms, "ArchiveKey", KeyId=k)
    assert state(kms, k) == "Archived"
    call_error(kms, "Encrypt", "ResourceUnavailable.CmkArchived", KeyId=k, Plaintext="eA==")
    call_error(kms, "GenerateDataKey", "ResourceUnavailable.CmkArchived", KeyId=k, KeySpec="AES_256")
    assert decrypt(kms, blob) == b"archived data"  # archived keys still decrypt
    call(kms, "CancelKeyArchive", KeyId=k)
    assert state(kms, k) == "Enabled"
    assert decrypt(kms, encrypt(kms, k, b"again")) == b"again"


def test_archive_only_from_enabled(kms):
    k = create_key(kms)
    call(kms, "DisableKey", KeyId=k)
    call_error(kms, "ArchiveKey", "ResourceUnavailable.CmkStateNotSupport", KeyId=k)
    assert state(kms, k) == "Disabled"
    p = create_key(kms)
    schedule_deletion(kms, p)
    call_error(kms, "ArchiveKey", "ResourceUnavailable.CmkStateNotSupport", KeyId=p)


def test_archive_refused_for_pending_import(kms):
    ext = call(kms, "CreateKey", Alias=uid("ext"), Type=2).KeyId
    call_error(kms, "ArchiveKey", "ResourceUnavailable.CmkStateNotSupport", KeyId=ext)


def test_archive_unknown(kms):
    call_error(kms, "ArchiveKey", "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN)
    call_error(kms, "CancelKeyArchive", "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN)


# ------------------------------------------------------------------ Alias / description

def test_update_alias(kms):
    old = uid("old")
    k = create_key(kms, Alias=old)
    new = uid("new")
    call(kms, "UpdateAlias", KeyId=k, Alias=new)
    assert describe(kms, k).Alias == new
    # the old alias is free again
    create_key(kms, Alias=old)


def test_update_alias_errors(kms):
    taken = uid("taken")
    create_key(kms, Alias=taken)
    k = create_key(kms)
    call_error(kms, "UpdateAlias", "InvalidParameterValue.AliasAlreadyExists", KeyId=k, Alias=taken)
    call_error(kms, "UpdateAlias", "InvalidParameterValue.InvalidAlias", KeyId=k, Alias="bad alias!")
    call_error(kms, "UpdateAlias", "InvalidParameterValue.InvalidAlias", KeyId=k, Alias="x" * 61)
    call_error(kms, "UpdateAlias", "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN, Alias=uid("n"))
    call_error(kms, "UpdateAlias", "MissingParameter", KeyId=k)


def test_update_alias_refused_while_pending_delete(kms):
    k = create_key(kms)
    schedule_deletion(kms, k)
    call_error_in(kms, "UpdateAlias", {"ResourceUnavailable.CmkStateNotSupport",
                                       "ResourceUnavailable.KeyPendingDelete"}, KeyId=k, Alias=uid("p"))


def test_update_key_description(kms):
    k = create_key(kms, Description="before")
    call(kms, "UpdateKeyDescription", KeyId=k, Description="after")
    assert describe(kms, k).Description == "after"
    call(kms, "UpdateKeyDescription", KeyId=k, Description="密钥描述")
    assert describe(kms, k).Description == "密钥描述"
    call_error_prefix(kms, "UpdateKeyDescription", "InvalidParameterValue", KeyId=k,
                      Description="y" * 1025)
    call_error(kms, "UpdateKeyDescription", "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN,
               Description="z")


def test_update_description_refused_while_pending_delete(kms):
    k = create_key(kms)
    schedule_deletion(kms, k)
    call_error_in(kms, "UpdateKeyDescription", {"ResourceUnavailable.CmkStateNotSupport",
                                                "ResourceUnavailable.KeyPendingDelete"},
                  KeyId=k, Description="nope")


# ------------------------------------------------------------------ Cloud resource bindings

def test_bind_unbind_cloud_resource(kms):
    k = create_key(kms)
    res = uid("ins")
    call(kms, "BindCloudResource", KeyId=k, ProductId="ssm", ResourceId=res)
    call(kms, "BindCloudResource", KeyId=k, ProductId="ssm", ResourceId=res)  # idempotent
    call(kms, "UnbindCloudResource", KeyId=k, ProductId="ssm", ResourceId=res)
    call_error(kms, "UnbindCloudResource", "ResourceUnavailable.CloudResourceBindingNotFound",
               KeyId=k, ProductId="ssm", ResourceId=res)


def test_unbind_never_bound(kms):
    k = create_key(kms)
    call_error(kms, "UnbindCloudResource", "ResourceUnavailable.CloudResourceBindingNotFound",
               KeyId=k, ProductId="cbs", ResourceId=uid("never"))


def test_bind_errors(kms):
    call_error(kms, "BindCloudResource", "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN,
               ProductId="ssm", ResourceId="r")
    k = create_key(kms)
    call_error(kms, "BindCloudResource", "MissingParameter", KeyId=k, ResourceId="r")
    call_error(kms, "BindCloudResource", "MissingParameter", KeyId=k, ProductId="ssm")


# ------------------------------------------------------------------ Isolation

def test_region_isolation(server, make_client):
    gz = make_client(server.endpoint, region="ap-guangzhou")
    sh = make_client(server.endpoint, region="ap-shanghai")
    alias = uid("region")
    k = create_key(gz, Alias=alias)
    blob = encrypt(gz, k, b"guangzhou")
    call_error(sh, "DescribeKey", "ResourceUnavailable.CmkNotFound", KeyId=k)
    call_error(sh, "Encrypt", "ResourceUnavailable.CmkNotFound", KeyId=k, Plaintext="eA==")
    call_error(sh, "DisableKey", "ResourceUnavailable.CmkNotFound", KeyId=k)
    call_error_in(sh, "Decrypt", {"ResourceUnavailable.CmkNotFound", "FailedOperation.DecryptError"},
                  CiphertextBlob=blob)
    assert k not in list_all_keys(sh)
    assert k not in list_all_key_ids(sh)
    # aliases are unique per region, so the same alias is free in Shanghai
    k2 = create_key(sh, Alias=alias)
    assert k2 != k
    assert describe(gz, k).KeyState == "Enabled"
    assert decrypt(gz, blob) == b"guangzhou"


def test_account_isolation(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    a = tencent_client(s.endpoint)
    acct = create_account(s)
    assert acct.account_id in run_admin(s, "list-accounts")
    assert acct.secret_id in run_admin(s, "list-access-keys")
    b = tencent_client(s.endpoint, secret_id=acct.secret_id, secret_key=acct.secret_key)

    alias = uid("acct")
    ka = create_key(a, Alias=alias)
    blob = encrypt(a, ka, b"account A data")
    # B sees nothing of A's
    assert list_all_keys(b) == []
    assert list_all_key_ids(b) == []
    call_error(b, "DescribeKey", "ResourceUnavailable.CmkNotFound", KeyId=ka)
    assert call(b, "DescribeKeys", KeyIds=[ka]).KeyMetadatas in (None, [])
    call_error(b, "Encrypt", "ResourceUnavailable.CmkNotFound", KeyId=ka, Plaintext="eA==")
    call_error(b, "GenerateDataKey", "ResourceUnavailable.CmkNotFound", KeyId=ka, KeySpec="AES_256")
    call_error(b, "DisableKey", "ResourceUnavailable.CmkNotFound", KeyId=ka)
    call_error(b, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=blob)
    # aliases are per account
    kb = create_key(b, Alias=alias)
    assert kb != ka
    assert [k for k in list_all_keys(b)] == [kb]
    assert ka not in list_all_keys(b) and kb not in list_all_keys(a)
    call_error(a, "DescribeKey", "ResourceUnavailable.CmkNotFound", KeyId=kb)
    blob_b = encrypt(b, kb, b"account B data")
    call_error(a, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=blob_b)
    # A is untouched
    assert describe(a, ka).KeyState == "Enabled"
    assert decrypt(a, blob) == b"account A data"
