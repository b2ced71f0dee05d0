"""Hosted data keys: ImportDataKey, DescribeDataKey(s), ListDataKeys, ListDataKeyDetail,
GetDataKeyPlaintext, GetDataKeyCiphertextBlob, Enable/DisableDataKey(s),
Schedule/CancelDataKeyDeletion, UpdateDataKeyName, UpdateDataKeyDescription."""
from __future__ import annotations

import os
import time
import uuid

import pytest
from conftest import tencent_client
from kmsutil import (
    UUID_RE, b64, call, call_error, call_error_in, call_error_prefix, create_key, decrypt,
    describe_data_key, encrypt, hosted_data_key, list_all_data_key_ids, now, uid, unb64,
)
from wrapkeys import Sm2Key, rsa_decrypt, rsa_keypair, sm2_raw_to_parts

UNKNOWN_DK = "00000000-0000-4000-8000-0000000000dd"


@pytest.fixture
def key(kms):
    return create_key(kms)


def dk_state(client, dk):
    return describe_data_key(client, dk).KeyState


# ------------------------------------------------------------------ ImportDataKey

def test_import_plaintext(kms, key):
    material = os.urandom(32)
    name = uid("imp")
    r = call(kms, "ImportDataKey", DataKeyName=name, ImportKeyMaterial=b64(material), ImportType=2,
             KeyId=key, Description="imported", Tags=[{"TagKey": "src", "TagValue": "hsm"}])
    assert UUID_RE.match(r.DataKeyId)
    assert r.KeyId == key
    assert r.TagCode == 0 and r.TagMsg == "ok"
    md = describe_data_key(kms, r.DataKeyId)
    assert md.DataKeyName == name
    assert md.Description == "imported"
    assert md.NumberOfBytes == 32
    assert md.KeyId == key
    assert md.KeyState == "Enabled"
    assert md.Origin == "EXTERNAL"
    assert unb64(call(kms, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId).Plaintext) == material
    blob = call(kms, "GetDataKeyCiphertextBlob", DataKeyId=r.DataKeyId).CiphertextBlob
    assert decrypt(kms, blob) == material


def test_import_plaintext_requires_key_id(kms):
    call_error(kms, "ImportDataKey", "MissingParameter", DataKeyName=uid("imp"),
               ImportKeyMaterial=b64(os.urandom(16)), ImportType=2)


def test_import_plaintext_not_base64(kms, key):
    call_error_prefix(kms, "ImportDataKey", "InvalidParameterValue", DataKeyName=uid("imp"),
                      ImportKeyMaterial="not base64 !!", ImportType=2, KeyId=key)


def test_import_ciphertext(kms, key):
    g = call(kms, "GenerateDataKey", KeyId=key, NumberOfBytes=40)
    r = call(kms, "ImportDataKey", DataKeyName=uid("imp"), ImportKeyMaterial=g.CiphertextBlob,
             ImportType=1)
    assert r.KeyId == key
    md = describe_data_key(kms, r.DataKeyId)
    assert md.NumberOfBytes == 40 and md.KeyId == key
    assert md.Origin in ("TENCENT_KMS", "EXTERNAL")
    assert unb64(call(kms, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId).Plaintext) == unb64(g.Plaintext)


def test_import_ciphertext_with_matching_key_id(kms, key):
    g = call(kms, "GenerateDataKey", KeyId=key, KeySpec="AES_256")
    r = call(kms, "ImportDataKey", DataKeyName=uid("imp"), ImportKeyMaterial=g.CiphertextBlob,
             ImportType=1, KeyId=key)
    assert r.KeyId == key


def test_import_ciphertext_with_other_key_id(kms, key):
    g = call(kms, "GenerateDataKey", KeyId=key, KeySpec="AES_256")
    call_error_prefix(kms, "ImportDataKey", "InvalidParameterValue", DataKeyName=uid("imp"),
                      ImportKeyMaterial=g.CiphertextBlob, ImportType=1, KeyId=create_key(kms))


def test_import_ciphertext_with_context_is_refused(kms, key):
    g = call(kms, "GenerateDataKey", KeyId=key, KeySpec="AES_256", EncryptionContext='{"a":"b"}')
    call_error(kms, "ImportDataKey", "InvalidParameterValue.InvalidImportKeyMaterial",
               DataKeyName=uid("imp"), ImportKeyMaterial=g.CiphertextBlob, ImportType=1)


@pytest.mark.parametrize("material", ["garbage", "truncated-blob", "empty-plaintext-blob"])
def test_import_ciphertext_invalid(kms, key, material):
    if material == "truncated-blob":
        material = b64(unb64(encrypt(kms, key, os.urandom(32)))[:-1])
    elif material == "empty-plaintext-blob":  # data keys have 1-1024 bytes
        material = encrypt(kms, key, b"")
    call_error(kms, "ImportDataKey", "InvalidParameterValue.InvalidImportKeyMaterial",
               DataKeyName=uid("imp"), ImportKeyMaterial=material, ImportType=1)


def test_import_invalid_type(kms, key):
    call_error_prefix(kms, "ImportDataKey", "InvalidParameterValue", DataKeyName=uid("imp"),
                      ImportKeyMaterial=b64(os.urandom(16)), ImportType=3, KeyId=key)


def test_import_name_rules(kms, key):
    name = uid("imp")
    call(kms, "ImportDataKey", DataKeyName=name, ImportKeyMaterial=b64(os.urandom(16)), ImportType=2,
         KeyId=key)
    call_error(kms, "ImportDataKey", "InvalidParameterValue.DataKeyNameAlreadyExists", DataKeyName=name,
               ImportKeyMaterial=b64(os.urandom(16)), ImportType=2, KeyId=key)
    call_error(kms, "ImportDataKey", "InvalidParameterValue.InvalidDataKeyName", DataKeyName="bad name",
               ImportKeyMaterial=b64(os.urandom(16)), ImportType=2, KeyId=key)
    call_error(kms, "ImportDataKey", "MissingParameter", ImportKeyMaterial=b64(os.urandom(16)),
               ImportType=2, KeyId=key)
    # a hosted key from GenerateDataKey shares the namespace
    call_error(kms, "GenerateDataKey", "InvalidParameterValue.DataKeyNameAlreadyExists", KeyId=key,
               KeySpec="AES_256", IsHostedByKms=1, DataKeyName=name)


def test_import_into_disabled_key(kms, key):
    call(kms, "DisableKey", KeyId=key)
    call_error(kms, "ImportDataKey", "ResourceUnavailable.CmkDisabled", DataKeyName=uid("imp"),
               ImportKeyMaterial=b64(os.urandom(16)), ImportType=2, KeyId=key)


def test_import_hsm_cluster(kms, key):
    call_error(kms, "ImportDataKey", "InvalidParameterValue.InvalidHsmClusterId", DataKeyName=uid("imp"),
               ImportKeyMaterial=b64(os.urandom(16)), ImportType=2, KeyId=key, HsmClusterId="cls-1")


# ------------------------------------------------------------------ Describe

def test_describe_data_key(kms, key):
    r = hosted_data_key(kms, key, Description="desc")
    md = describe_data_key(kms, r.DataKeyId)
    alias = call(kms, "DescribeKey", KeyId=key).KeyMetadata.Alias
    assert md.KeyName == alias
    assert md.Owner == "user"
    assert not md.DeletionDate
    assert now() - 30 <= md.CreateTime <= now() + 2
    assert md.ResourceId == f"creatorUin/{md.CreatorUin}/{md.DataKeyId}"


def test_describe_data_key_errors(kms):
    call_error(kms, "DescribeDataKey", "InvalidParameterValue.InvalidDataKeyId", DataKeyId="nope")
    call_error(kms, "DescribeDataKey", "ResourceUnavailable.DataKeyNotFound", DataKeyId=UNKNOWN_DK)
    call_error(kms, "DescribeDataKey", "MissingParameter")


def test_describe_data_keys(kms, key):
    a = hosted_data_key(kms, key).DataKeyId
    b = hosted_data_key(kms, key).DataKeyId
    r = call(kms, "DescribeDataKeys", DataKeyIds=[a, UNKNOWN_DK, b])
    assert sorted(m.DataKeyId for m in r.DataKeyMetadatas) == sorted([a, b])
    call_error(kms, "DescribeDataKeys", "InvalidParameterValue.DuplicatedDataKeyId", DataKeyIds=[a, a])
    call_error_prefix(kms, "DescribeDataKeys", "InvalidParameterValue",
                      DataKeyIds=[str(uuid.uuid4()) for _ in range(101)])


def test_data_keys_are_per_region(server, make_client):
    gz = make_client(server.endpoint, region="ap-guangzhou")
    sh = make_client(server.endpoint, region="ap-shanghai")
    dk = hosted_data_key(gz, create_key(gz)).DataKeyId
    call_error(sh, "DescribeDataKey", "ResourceUnavailable.DataKeyNotFound", DataKeyId=dk)
    call_error(sh, "GetDataKeyPlaintext", "ResourceUnavailable.DataKeyNotFound", DataKeyId=dk)
    assert dk not in list_all_data_key_ids(sh)


# ------------------------------------------------------------------ ListDataKeys

def test_list_data_keys(kms, key):
    ids = {hosted_data_key(kms, key).DataKeyId for _ in range(3)}
    seen: list[str] = []
    offset = 0
    while True:
        r = call(kms, "ListDataKeys", Offset=offset, Limit=2)
        page = [d.DataKeyId for d in (r.DataKeys or [])]
        assert len(page) <= 2
        seen += page
        offset += len(page)
        if not page or offset >= r.TotalCount:
            break
    assert ids <= set(seen)
    assert len(seen) == len(set(seen)) == r.TotalCount


# ------------------------------------------------------------------ ListDataKeyDetail

@pytest.fixture(scope="module")
def dk_listing(server_factory):
    """A private server: two CMKs and five data keys one second apart, in every state/origin."""
    s = server_factory(extra_args=["--no-rate-limit"]).start()
    c = tencent_client(s.endpoint)
    tag = uuid.uuid4().hex[:8]
    k1 = call(c, "CreateKey", Alias=f"cmk1-{tag}").KeyId
    k2 = call(c, "CreateKey", Alias=f"cmk2-{tag}").KeyId
    dks = {}
    dks["gen16"] = call(c, "GenerateDataKey", KeyId=k1, KeySpec="AES_128", IsHostedByKms=1,
                        DataKeyName=f"gen16-{tag}", Tags=[{"TagKey": "team", "TagValue": "a"}]).DataKeyId
    time.sleep(1.1)
    dks["gen32"] = call(c, "GenerateDataKey", KeyId=k1, KeySpec="AES_256", IsHostedByKms=1,
                        DataKeyName=f"gen32-{tag}", Tags=[{"TagKey": "team", "TagValue": "b"}]).DataKeyId
    time.sleep(1.1)
    dks["imported"] = call(c, "ImportDataKey", DataKeyName=f"imported-{tag}", ImportType=2,
                           ImportKeyMaterial=b64(os.urandom(32)), KeyId=k2).DataKeyId
    time.sleep(1.1)
    dks["disabled"] = call(c, "GenerateDataKey", KeyId=k2, NumberOfBytes=64, IsHostedByKms=1,
                           DataKeyName=f"disabled-{tag}").DataKeyId
    time.sleep(1.1)
    dks["pending"] = call(c, "GenerateDataKey", KeyId=k2, KeySpec="AES_256", IsHostedByKms=1,
                          DataKeyName=f"pending-{tag}").DataKeyId
    call(c, "DisableDataKey", DataKeyId=dks["disabled"])
    call(c, "DisableDataKey", DataKeyId=dks["pending"])
    call(c, "ScheduleDataKeyDeletion", DataKeyId=dks["pending"], PendingWindowInDays=7)
    return c, k1, k2, dks, tag


def ids(r):
    return [m.DataKeyId for m in (r.DataKeyMetadatas or [])]


def test_list_data_key_detail_default_order(dk_listing):
    c, _, _, dks, _ = dk_listing
    r = call(c, "ListDataKeyDetail")
    assert r.TotalCount == 5
    assert ids(r) == [dks[n] for n in ("pending", "disabled", "imported", "gen32", "gen16")]
    r = call(c, "ListDataKeyDetail", OrderType=1)
    assert ids(r) == [dks[n] for n in ("gen16", "gen32", "imported", "disabled", "pending")]


@pytest.mark.parametrize("code,names", [(0, {"gen16", "gen32", "imported", "disabled", "pending"}),
                                        (1, {"gen16", "gen32", "imported"}), (2, {"disabled"}),
                                        (3, {"pending"})])
def test_list_data_key_detail_state(dk_listing, code, names):
    c, _, _, dks, _ = dk_listing
    r = call(c, "ListDataKeyDetail", KeyState=code, Limit=200)
    assert set(ids(r)) == {dks[n] for n in names}
    assert r.TotalCount == len(names)


def test_list_data_key_detail_search(dk_listing):
    c, _, _, dks, tag = dk_listing
    assert ids(call(c, "ListDataKeyDetail", SearchKeyAlias=f"gen32-{tag}")) == [dks["gen32"]]
    assert set(ids(call(c, "ListDataKeyDetail", SearchKeyAlias="gen"))) == {dks["gen16"], dks["gen32"]}
    assert dks["imported"] in ids(call(c, "ListDataKeyDetail", SearchKeyAlias=dks["imported"][:13]))
    assert call(c, "ListDataKeyDetail", SearchKeyAlias="zzz-" + tag).TotalCount == 0


def test_list_data_key_detail_origin(dk_listing):
    c, _, _, dks, _ = dk_listing
    assert ids(call(c, "ListDataKeyDetail", Origin="EXTERNAL")) == [dks["imported"]]
    assert set(ids(call(c, "ListDataKeyDetail", Origin="TENCENT_KMS"))) == \
        {dks[n] for n in ("gen16", "gen32", "disabled", "pending")}
    assert call(c, "ListDataKeyDetail", Origin="ALL").TotalCount == 5


def test_list_data_key_detail_by_cmk_and_length(dk_listing):
    c, k1, k2, dks, _ = dk_listing
    assert set(ids(call(c, "ListDataKeyDetail", KeyId=k1))) == {dks["gen16"], dks["gen32"]}
    assert set(ids(call(c, "ListDataKeyDetail", KeyId=k2))) == {dks["imported"], dks["disabled"],
                                                                  dks["pending"]}
    assert ids(call(c, "ListDataKeyDetail", DataKeyLen=16)) == [dks["gen16"]]
    assert set(ids(call(c, "ListDataKeyDetail", DataKeyLen=32))) == {dks["gen32"], dks["imported"],
                                                                       dks["pending"]}
    assert ids(call(c, "ListDataKeyDetail", DataKeyLen=64)) == [dks["disabled"]]
    assert set(ids(call(c, "ListDataKeyDetail", KeyId=k2, DataKeyLen=32))) == {dks["imported"],
                                                                                 dks["pending"]}


def test_list_data_key_detail_tags(dk_listing):
    c, _, _, dks, _ = dk_listing
    assert ids(call(c, "ListDataKeyDetail", TagFilters=[{"TagKey": "team", "TagValue": ["a"]}])) == \
        [dks["gen16"]]
    assert set(ids(call(c, "ListDataKeyDetail", TagFilters=[{"TagKey": "team", "TagValue": ["a", "b"]}]))) \
        == {dks["gen16"], dks["gen32"]}
    assert call(c, "ListDataKeyDetail", TagFilters=[{"TagKey": "team", "TagValue": ["c"]}]).TotalCount == 0


def test_list_data_key_detail_paging(dk_listing):
    c, _, _, _, _ = dk_listing
    full = ids(call(c, "ListDataKeyDetail", Limit=200))
    paged = []
    for off in (0, 2, 4):
        r = call(c, "ListDataKeyDetail", Offset=off, Limit=2)
        assert r.TotalCount == 5
        paged += ids(r)
    assert paged == full


# ------------------------------------------------------------------ GetDataKeyPlaintext / CiphertextBlob

def test_get_plaintext_wrapped(kms, key):
    r = hosted_data_key(kms, key)
    plain = unb64(r.Plaintext)
    priv, pem = rsa_keypair(2048)
    got = call(kms, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId, EncryptionPublicKey=pem,
               EncryptionAlgorithm="RSAES_OAEP_SHA_1")
    assert rsa_decrypt(priv, "RSAES_OAEP_SHA_1", unb64(got.Plaintext)) == plain
    sm2 = Sm2Key()
    got = call(kms, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId, EncryptionPublicKey=sm2.public_pem())
    assert sm2.decrypt_c1c3c2(sm2_raw_to_parts(unb64(got.Plaintext))) == plain
    call_error(kms, "GetDataKeyPlaintext", "InvalidParameterValue", DataKeyId=r.DataKeyId,
               EncryptionPublicKey="nonsense", EncryptionAlgorithm="SM2")


def test_get_ciphertext_blob_then_decrypt(kms, key):
    r = hosted_data_key(kms, key, NumberOfBytes=48)
    blob = call(kms, "GetDataKeyCiphertextBlob", DataKeyId=r.DataKeyId).CiphertextBlob
    d = call(kms, "Decrypt", CiphertextBlob=blob)
    assert d.KeyId == key
    assert unb64(d.Plaintext) == unb64(r.Plaintext)


def test_get_plaintext_errors(kms, key):
    call_error(kms, "GetDataKeyPlaintext", "ResourceUnavailable.DataKeyNotFound", DataKeyId=UNKNOWN_DK)
    call_error(kms, "GetDataKeyCiphertextBlob", "ResourceUnavailable.DataKeyNotFound", DataKeyId=UNKNOWN_DK)
    call_error(kms, "GetDataKeyPlaintext", "InvalidParameterValue.InvalidDataKeyId", DataKeyId="x")


def test_get_plaintext_disabled_cmk(kms, key):
    r = hosted_data_key(kms, key)
    call(kms, "DisableKey", KeyId=key)
    call_error(kms, "GetDataKeyPlaintext", "ResourceUnavailable.CmkDisabled", DataKeyId=r.DataKeyId)


# ------------------------------------------------------------------ Enable / Disable

def test_disable_enable_data_key(kms, key):
    r = hosted_data_key(kms, key)
    call(kms, "DisableDataKey", DataKeyId=r.DataKeyId)
    assert dk_state(kms, r.DataKeyId) == "Disabled"
    call_error(kms, "GetDataKeyPlaintext", "ResourceUnavailable.DataKeyDisabled", DataKeyId=r.DataKeyId)
    call(kms, "EnableDataKey", DataKeyId=r.DataKeyId)
    assert dk_state(kms, r.DataKeyId) == "Enabled"
    assert call(kms, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId).Plaintext == r.Plaintext


def test_disable_enable_data_keys_batch(kms, key):
    a, b = hosted_data_key(kms, key).DataKeyId, hosted_data_key(kms, key).DataKeyId
    call(kms, "DisableDataKeys", DataKeyIds=[a, b])
    assert dk_state(kms, a) == dk_state(kms, b) == "Disabled"
    call(kms, "EnableDataKeys", DataKeyIds=[a, b])
    assert dk_state(kms, a) == dk_state(kms, b) == "Enabled"


def test_data_key_batch_all_or_nothing(kms, key):
    a, b = hosted_data_key(kms, key).DataKeyId, hosted_data_key(kms, key).DataKeyId
    call_error(kms, "DisableDataKeys", "ResourceUnavailable.DataKeyNotFound", DataKeyIds=[a, UNKNOWN_DK, b])
    assert dk_state(kms, a) == dk_state(kms, b) == "Enabled"
    call(kms, "DisableDataKeys", DataKeyIds=[a, b])
    call_error(kms, "EnableDataKeys", "ResourceUnavailable.DataKeyNotFound", DataKeyIds=[UNKNOWN_DK, a, b])
    assert dk_state(kms, a) == dk_state(kms, b) == "Disabled"
    call_error(kms, "EnableDataKeys", "InvalidParameterValue.DuplicatedDataKeyId", DataKeyIds=[a, a])
    call_error(kms, "DisableDataKeys", "InvalidParameterValue.DuplicatedDataKeyId", DataKeyIds=[b, b])


def test_enable_disable_unknown_data_key(kms):
    call_error(kms, "EnableDataKey", "ResourceUnavailable.DataKeyNotFound", DataKeyId=UNKNOWN_DK)
    call_error(kms, "DisableDataKey", "ResourceUnavailable.DataKeyNotFound", DataKeyId=UNKNOWN_DK)


# ------------------------------------------------------------------ Deletion

def test_schedule_and_cancel_data_key_deletion(kms, key):
    r = hosted_data_key(kms, key)
    dk = r.DataKeyId
    call(kms, "DisableDataKey", DataKeyId=dk)
    t0 = now()
    s = call(kms, "ScheduleDataKeyDeletion", DataKeyId=dk, PendingWindowInDays=10)
    t1 = now()
    assert s.DataKeyId == dk
    assert t0 + 10 * 86400 - 1 <= s.DeletionDate <= t1 + 10 * 86400 + 1
    md = describe_data_key(kms, dk)
    assert md.KeyState == "PendingDelete" and md.DeletionDate == s.DeletionDate
    call_error(kms, "GetDataKeyPlaintext", "ResourceUnavailable.DataKeyPendingDelete", DataKeyId=dk)
    c = call(kms, "CancelDataKeyDeletion", DataKeyId=dk)
    assert c.DataKeyId == dk
    md = describe_data_key(kms, dk)
    assert md.KeyState in ("Disabled", "Enabled")
    assert not md.DeletionDate
    call(kms, "EnableDataKey", DataKeyId=dk)
    assert call(kms, "GetDataKeyPlaintext", DataKeyId=dk).Plaintext == r.Plaintext


@pytest.mark.parametrize("days", [0, 6, 31])
def test_schedule_data_key_deletion_window(kms, key, days):
    dk = hosted_data_key(kms, key).DataKeyId
    call(kms, "DisableDataKey", DataKeyId=dk)
    call_error(kms, "ScheduleDataKeyDeletion", "InvalidParameter.InvalidPendingWindowInDays",
               DataKeyId=dk, PendingWindowInDays=days)
    assert dk_state(kms, dk) == "Disabled"


def test_cancel_data_key_deletion_not_pending(kms, key):
    dk = hosted_data_key(kms, key).DataKeyId
    call_error(kms, "CancelDataKeyDeletion", "ResourceUnavailable.DataKeyNotPendingDelete", DataKeyId=dk)


def test_pending_delete_data_key_cannot_be_enabled(kms, key):
    dk = hosted_data_key(kms, key).DataKeyId
    call(kms, "DisableDataKey", DataKeyId=dk)
    call(kms, "ScheduleDataKeyDeletion", DataKeyId=dk, PendingWindowInDays=7)
    call_error_in(kms, "EnableDataKey", {"ResourceUnavailable.DataKeyPendingDelete",
                                         "ResourceUnavailable.DataKeyStateNotSupport"}, DataKeyId=dk)
    assert dk_state(kms, dk) == "PendingDelete"


# ------------------------------------------------------------------ Name / description

def test_update_data_key_name(kms, key):
    old = uid("old")
    dk = hosted_data_key(kms, key, name=old).DataKeyId
    new = uid("new")
    call(kms, "UpdateDataKeyName", DataKeyId=dk, DataKeyName=new)
    assert describe_data_key(kms, dk).DataKeyName == new
    assert hosted_data_key(kms, key, name=old).DataKeyId != dk  # old name is free again


def test_update_data_key_name_errors(kms, key):
    taken = uid("taken")
    hosted_data_key(kms, key, name=taken)
    dk = hosted_data_key(kms, key).DataKeyId
    call_error(kms, "UpdateDataKeyName", "InvalidParameterValue.DataKeyNameAlreadyExists", DataKeyId=dk,
               DataKeyName=taken)
    call_error(kms, "UpdateDataKeyName", "InvalidParameterValue.InvalidDataKeyName", DataKeyId=dk,
               DataKeyName="no spaces allowed")
    call_error(kms, "UpdateDataKeyName", "ResourceUnavailable.DataKeyNotFound", DataKeyId=UNKNOWN_DK,
               DataKeyName=uid("n"))
    call_error(kms, "UpdateDataKeyName", "MissingParameter", DataKeyId=dk)


def test_update_data_key_description(kms, key):
    dk = hosted_data_key(kms, key, Description="before").DataKeyId
    call(kms, "UpdateDataKeyDescription", DataKeyId=dk, Description="after")
    assert describe_data_key(kms, dk).Description == "after"
    call_error_prefix(kms, "UpdateDataKeyDescription", "InvalidParameterValue", DataKeyId=dk,
                      Description="z" * 101)
    assert describe_data_key(kms, dk).Description == "after"
    call_error(kms, "UpdateDataKeyDescription", "ResourceUnavailable.DataKeyNotFound",
               DataKeyId=UNKNOWN_DK, Description="x")


def test_hosted_data_key_survives_cmk_rotation(kms, key):
    r = hosted_data_key(kms, key, EncryptionContext='{"purpose":"rotation"}')
    call(kms, "RotateKey", KeyId=key)
    assert call(kms, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId).Plaintext == r.Plaintext
    blob = call(kms, "GetDataKeyCiphertextBlob", DataKeyId=r.DataKeyId).CiphertextBlob
    assert decrypt(kms, blob, '{"purpose":"rotation"}') == unb64(r.Plaintext)
