"""GenerateDataKey (the seed action): every input parameter, every output field, and every
error code of the seed that ferrokms can produce."""
from __future__ import annotations

import os
import threading

import pytest
from conftest import tencent_client
from kmsutil import (
    UUID_RE, b64, call, call_error, call_error_prefix, create_key, decrypt, describe_data_key,
    list_all_data_key_ids, schedule_deletion, uid, unb64,
)
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from wrapkeys import (
    Sm2Key, p256_public_pem, rsa_decrypt, rsa_keypair, sm2_asn1_to_c1c3c2, sm2_raw_to_parts,
)

UNKNOWN = "93866e69-9755-41ef-8e65-52540089bc41"


@pytest.fixture
def key(kms):
    return create_key(kms)


def gdk(client, **fields):
    return call(client, "GenerateDataKey", **fields)


# ------------------------------------------------------------------ KeySpec / NumberOfBytes

@pytest.mark.parametrize("spec,length", [("AES_128", 16), ("AES_256", 32)])
def test_key_spec(kms, key, spec, length):
    r = gdk(kms, KeyId=key, KeySpec=spec)
    assert r.KeyId == key
    plain = unb64(r.Plaintext)
    assert len(plain) == length
    assert plain != bytes(length)
    assert not r.DataKeyId  # not hosted
    assert UUID_RE.match(r.RequestId)
    d = call(kms, "Decrypt", CiphertextBlob=r.CiphertextBlob)
    assert d.KeyId == key and unb64(d.Plaintext) == plain


def test_data_keys_are_fresh(kms, key):
    a = gdk(kms, KeyId=key, KeySpec="AES_256")
    b = gdk(kms, KeyId=key, KeySpec="AES_256")
    assert a.Plaintext != b.Plaintext
    assert a.CiphertextBlob != b.CiphertextBlob


@pytest.mark.parametrize("n", [1, 17, 48, 1024])
def test_number_of_bytes(kms, key, n):
    r = gdk(kms, KeyId=key, NumberOfBytes=n)
    assert len(unb64(r.Plaintext)) == n
    assert decrypt(kms, r.CiphertextBlob) == unb64(r.Plaintext)


@pytest.mark.parametrize("spec,n", [("AES_128", 48), ("AES_256", 16), ("AES_256", 1)])
def test_number_of_bytes_wins_over_key_spec(kms, key, spec, n):
    r = gdk(kms, KeyId=key, KeySpec=spec, NumberOfBytes=n)
    assert len(unb64(r.Plaintext)) == n


@pytest.mark.parametrize("n", [0, 1025, 4096])
def test_number_of_bytes_out_of_range(kms, key, n):
    call_error(kms, "GenerateDataKey", "InvalidParameterValue", KeyId=key, NumberOfBytes=n)


def test_number_of_bytes_zero_with_key_spec_is_still_rejected(kms, key):
    # NumberOfBytes: 0 arrives as an explicit 0 and prevails over KeySpec.
    call_error(kms, "GenerateDataKey", "InvalidParameterValue", KeyId=key, KeySpec="AES_256",
               NumberOfBytes=0)


@pytest.mark.parametrize("spec", ["AES_512", "SM4", "aes-256"])
def test_unknown_key_spec(kms, key, spec):
    call_error(kms, "GenerateDataKey", "InvalidParameterValue", KeyId=key, KeySpec=spec)


def test_neither_key_spec_nor_number_of_bytes(kms, key):
    call_error(kms, "GenerateDataKey", "InvalidParameter", KeyId=key)


# ------------------------------------------------------------------ KeyId and key states

def test_key_id_errors(kms):
    call_error(kms, "GenerateDataKey", "MissingParameter", KeySpec="AES_256")
    call_error(kms, "GenerateDataKey", "InvalidParameterValue.InvalidKeyId", KeyId="alias/mykey",
               KeySpec="AES_256")
    call_error(kms, "GenerateDataKey", "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN,
               KeySpec="AES_256")


def test_disabled_key(kms, key):
    call(kms, "DisableKey", KeyId=key)
    call_error(kms, "GenerateDataKey", "ResourceUnavailable.CmkDisabled", KeyId=key, KeySpec="AES_256")


def test_pending_delete_key(kms, key):
    schedule_deletion(kms, key)
    call_error(kms, "GenerateDataKey", "ResourceUnavailable.KeyPendingDelete", KeyId=key,
               KeySpec="AES_256")


def test_archived_key(kms, key):
    call(kms, "ArchiveKey", KeyId=key)
    call_error(kms, "GenerateDataKey", "ResourceUnavailable.CmkArchived", KeyId=key, KeySpec="AES_256")


def test_pending_import_key(kms):
    ext = call(kms, "CreateKey", Alias=uid("ext"), Type=2).KeyId
    call_error(kms, "GenerateDataKey", "ResourceUnavailable.CmkStateNotSupport", KeyId=ext,
               KeySpec="AES_256")


def test_data_keys_need_a_symmetric_key(kms):
    # An asymmetric CMK does not seal data keys; an unknown usage creates nothing.
    rsa = call(kms, "CreateKey", Alias=uid("asym"), KeyUsage="ASYMMETRIC_DECRYPT_RSA_2048").KeyId
    call_error(kms, "GenerateDataKey", "InvalidParameterValue.InvalidKeyUsage", KeyId=rsa, KeySpec="AES_256")
    call_error(kms, "Encrypt", "InvalidParameterValue.InvalidKeyUsage", KeyId=rsa, Plaintext=b64(b"x"))
    alias = uid("asym")
    call_error(kms, "CreateKey", "InvalidParameterValue.InvalidKeyUsage", Alias=alias, KeyUsage="SIGN_ANYTHING")
    assert call(kms, "CreateKey", Alias=alias).KeyId  # the alias was not taken by the refused call


def test_reenabled_key_works_again(kms, key):
    call(kms, "DisableKey", KeyId=key)
    call(kms, "EnableKey", KeyId=key)
    assert len(unb64(gdk(kms, KeyId=key, KeySpec="AES_128").Plaintext)) == 16


# ------------------------------------------------------------------ EncryptionContext

def test_encryption_context(kms, key):
    ctx = '{"key1":"value1"}'
    r = gdk(kms, KeyId=key, KeySpec="AES_256", EncryptionContext=ctx)
    plain = unb64(r.Plaintext)
    assert decrypt(kms, r.CiphertextBlob, ctx) == plain
    call_error(kms, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=r.CiphertextBlob)
    call_error(kms, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=r.CiphertextBlob,
               EncryptionContext='{"key1":"value2"}')


def test_encryption_context_invalid(kms, key):
    call_error(kms, "GenerateDataKey", "InvalidParameterValue", KeyId=key, KeySpec="AES_256",
               EncryptionContext="key1=value1")


# ------------------------------------------------------------------ EncryptionPublicKey / Algorithm

@pytest.mark.parametrize("alg", ["RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
@pytest.mark.parametrize("bits", [2048, 4096])
def test_plaintext_wrapped_to_rsa(kms, key, alg, bits):
    priv, pem = rsa_keypair(bits)
    r = gdk(kms, KeyId=key, KeySpec="AES_256", EncryptionPublicKey=pem, EncryptionAlgorithm=alg)
    wrapped = unb64(r.Plaintext)
    assert len(wrapped) == bits // 8
    plain = rsa_decrypt(priv, alg, wrapped)
    assert len(plain) == 32
    assert decrypt(kms, r.CiphertextBlob) == plain  # the blob holds the same data key


def test_plaintext_wrapped_to_sm2_by_default(kms, key):
    k = Sm2Key()
    r = gdk(kms, KeyId=key, NumberOfBytes=32, EncryptionPublicKey=k.public_pem())
    ct = unb64(r.Plaintext)
    assert len(ct) == 1 + 64 + 32 + 32
    plain = k.decrypt_c1c3c2(sm2_raw_to_parts(ct))
    assert decrypt(kms, r.CiphertextBlob) == plain


def test_plaintext_wrapped_to_sm2_explicit(kms, key):
    k = Sm2Key()
    r = gdk(kms, KeyId=key, KeySpec="AES_128", EncryptionPublicKey=k.public_pem(),
            EncryptionAlgorithm="SM2")
    plain = k.decrypt_c1c3c2(sm2_raw_to_parts(unb64(r.Plaintext)))
    assert len(plain) == 16 and decrypt(kms, r.CiphertextBlob) == plain


def test_plaintext_wrapped_to_sm2_asn1(kms, key):
    k = Sm2Key()
    r = gdk(kms, KeyId=key, KeySpec="AES_256", EncryptionPublicKey=k.public_pem(),
            EncryptionAlgorithm="SM2_C1C3C2_ASN1")
    plain = k.decrypt_c1c3c2(sm2_asn1_to_c1c3c2(unb64(r.Plaintext)))
    assert len(plain) == 32 and decrypt(kms, r.CiphertextBlob) == plain


def test_algorithm_without_public_key_is_ignored(kms, key):
    r = gdk(kms, KeyId=key, KeySpec="AES_256", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert len(unb64(r.Plaintext)) == 32


def test_rsa_oaep_sha256_capacity(kms, key):
    priv, pem = rsa_keypair(2048)
    r = gdk(kms, KeyId=key, NumberOfBytes=190, EncryptionPublicKey=pem,
            EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert len(rsa_decrypt(priv, "RSAES_OAEP_SHA_256", unb64(r.Plaintext))) == 190
    call_error(kms, "GenerateDataKey", "InvalidParameterValue", KeyId=key, NumberOfBytes=191,
               EncryptionPublicKey=pem, EncryptionAlgorithm="RSAES_OAEP_SHA_256")


@pytest.mark.parametrize("case", ["not-pem", "garbage-pem", "rsa-1024", "rsa-with-sm2", "sm2-with-rsa",
                                  "p256", "unknown-alg"])
def test_public_key_errors(kms, key, case):
    if case == "not-pem":
        pem, alg = "hello", "RSAES_OAEP_SHA_256"
    elif case == "garbage-pem":
        pem, alg = "-----BEGIN PUBLIC KEY-----\nZm9vYmFy\n-----END PUBLIC KEY-----\n", "SM2"
    elif case == "rsa-1024":
        pem, alg = rsa_keypair(1024)[1], "RSAES_PKCS1_V1_5"
    elif case == "rsa-with-sm2":
        pem, alg = rsa_keypair(2048)[1], "SM2"
    elif case == "sm2-with-rsa":
        pem, alg = Sm2Key().public_pem(), "RSAES_OAEP_SHA_1"
    elif case == "p256":
        pem, alg = p256_public_pem(), "SM2"
    else:
        pem, alg = rsa_keypair(2048)[1], "RSAES_OAEP_SHA_512"
    call_error(kms, "GenerateDataKey", "InvalidParameterValue", KeyId=key, KeySpec="AES_256",
               EncryptionPublicKey=pem, EncryptionAlgorithm=alg)


def test_rsa_key_with_default_algorithm_is_rejected(kms, key):
    # No EncryptionAlgorithm means SM2, which an RSA key does not fit.
    call_error(kms, "GenerateDataKey", "InvalidParameterValue", KeyId=key, KeySpec="AES_256",
               EncryptionPublicKey=rsa_keypair(2048)[1])


# ------------------------------------------------------------------ Hosting

def test_hosted_with_name_description_tags(kms, key):
    name = uid("dk")
    r = gdk(kms, KeyId=key, KeySpec="AES_256", IsHostedByKms=1, DataKeyName=name,
            Description="nightly job", Tags=[{"TagKey": "team", "TagValue": "billing"},
                                             {"TagKey": "run", "TagValue": name}])
    assert UUID_RE.match(r.DataKeyId), r.DataKeyId
    assert r.TagCode == 0 and r.TagMsg == "ok"
    plain = unb64(r.Plaintext)
    md = describe_data_key(kms, r.DataKeyId)
    assert md.DataKeyId == r.DataKeyId
    assert md.DataKeyName == name
    assert md.Description == "nightly job"
    assert md.KeyId == key
    assert md.NumberOfBytes == 32
    assert md.KeyState == "Enabled"
    assert md.Origin == "TENCENT_KMS"
    assert md.Owner == "user"
    got = call(kms, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId)
    assert unb64(got.Plaintext) == plain
    tagged = list_all_data_key_ids(kms, TagFilters=[{"TagKey": "run", "TagValue": [name]}])
    assert tagged == [r.DataKeyId]


def test_hosted_with_context(kms, key):
    ctx = '{"tenant":"42"}'
    r = gdk(kms, KeyId=key, NumberOfBytes=24, IsHostedByKms=1, DataKeyName=uid("dk"),
            EncryptionContext=ctx)
    plain = unb64(r.Plaintext)
    assert unb64(call(kms, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId).Plaintext) == plain
    blob = call(kms, "GetDataKeyCiphertextBlob", DataKeyId=r.DataKeyId).CiphertextBlob
    assert decrypt(kms, blob, ctx) == plain
    assert describe_data_key(kms, r.DataKeyId).NumberOfBytes == 24


def test_hosted_with_public_key_still_hosts_the_clear_key(kms, key):
    priv, pem = rsa_keypair(2048)
    r = gdk(kms, KeyId=key, KeySpec="AES_256", IsHostedByKms=1, DataKeyName=uid("dk"),
            EncryptionPublicKey=pem, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    plain = rsa_decrypt(priv, "RSAES_OAEP_SHA_256", unb64(r.Plaintext))
    assert unb64(call(kms, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId).Plaintext) == plain


def test_hosted_requires_name(kms, key):
    call_error(kms, "GenerateDataKey", "MissingParameter", KeyId=key, KeySpec="AES_256", IsHostedByKms=1)


def test_not_hosted_ignores_name(kms, key):
    name = uid("free")
    r = gdk(kms, KeyId=key, KeySpec="AES_256", IsHostedByKms=0, DataKeyName=name, Description="d",
            Tags=[{"TagKey": "a", "TagValue": "b"}])
    assert not r.DataKeyId
    assert call(kms, "ListDataKeyDetail", SearchKeyAlias=name).TotalCount == 0
    # the name was not taken
    assert gdk(kms, KeyId=key, KeySpec="AES_256", IsHostedByKms=1, DataKeyName=name).DataKeyId


@pytest.mark.parametrize("name", ["-dash-first", "_under", "has space", "slash/name", "x" * 61, "名字"])
def test_invalid_data_key_name(kms, key, name):
    call_error(kms, "GenerateDataKey", "InvalidParameterValue.InvalidDataKeyName", KeyId=key,
               KeySpec="AES_256", IsHostedByKms=1, DataKeyName=name)


def test_data_key_name_boundaries(kms, key):
    for name in ("d" + os.urandom(4).hex(), "0" + os.urandom(4).hex() + "_-", os.urandom(6).hex() + "y" * 48):
        assert len(name) <= 60
        r = gdk(kms, KeyId=key, KeySpec="AES_128", IsHostedByKms=1, DataKeyName=name)
        assert describe_data_key(kms, r.DataKeyId).DataKeyName == name


def test_duplicate_data_key_name(kms, key):
    name = uid("dup")
    gdk(kms, KeyId=key, KeySpec="AES_256", IsHostedByKms=1, DataKeyName=name)
    call_error(kms, "GenerateDataKey", "InvalidParameterValue.DataKeyNameAlreadyExists", KeyId=key,
               KeySpec="AES_256", IsHostedByKms=1, DataKeyName=name)
    other = create_key(kms)  # unique per account and region, whatever the CMK
    call_error(kms, "GenerateDataKey", "InvalidParameterValue.DataKeyNameAlreadyExists", KeyId=other,
               KeySpec="AES_128", IsHostedByKms=1, DataKeyName=name)


def test_same_data_key_name_in_another_region(server, make_client):
    gz = make_client(server.endpoint, region="ap-guangzhou")
    bj = make_client(server.endpoint, region="ap-beijing")
    name = uid("region")
    gdk(gz, KeyId=create_key(gz), KeySpec="AES_256", IsHostedByKms=1, DataKeyName=name)
    r = gdk(bj, KeyId=create_key(bj), KeySpec="AES_256", IsHostedByKms=1, DataKeyName=name)
    assert r.DataKeyId


def test_concurrent_duplicate_names_exactly_one_wins(server, kms, key):
    name = uid("race")
    n = 8
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i):
        c = tencent_client(server.endpoint)
        barrier.wait()
        try:
            results[i] = ("ok", gdk(c, KeyId=key, KeySpec="AES_256", IsHostedByKms=1,
                                    DataKeyName=name).DataKeyId)
        except TencentCloudSDKException as e:
            results[i] = ("err", e.code)
        except Exception as e:  # noqa: BLE001 - report anything else as a failure below
            results[i] = ("exc", repr(e))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    wins = [r for r in results if r and r[0] == "ok"]
    losses = [r for r in results if r and r[0] == "err"]
    assert len(wins) == 1, results
    assert len(losses) == n - 1, results
    assert all(code == "InvalidParameterValue.DataKeyNameAlreadyExists" for _, code in losses), results
    assert list_all_data_key_ids(kms, SearchKeyAlias=name) == [wins[0][1]]


def test_description_limit_in_bytes(kms, key):
    ok = "描" * 33  # 99 bytes in UTF-8
    r = gdk(kms, KeyId=key, KeySpec="AES_256", IsHostedByKms=1, DataKeyName=uid("d"), Description=ok)
    assert describe_data_key(kms, r.DataKeyId).Description == ok
    call_error_prefix(kms, "GenerateDataKey", "InvalidParameterValue", KeyId=key, KeySpec="AES_256",
                      IsHostedByKms=1, DataKeyName=uid("d"), Description="描" * 34)  # 102 bytes
    call_error_prefix(kms, "GenerateDataKey", "InvalidParameterValue", KeyId=key, KeySpec="AES_256",
                      IsHostedByKms=1, DataKeyName=uid("d"), Description="x" * 101)


def test_duplicate_tag_keys(kms, key):
    call_error(kms, "GenerateDataKey", "InvalidParameterValue.TagKeysDuplicated", KeyId=key,
               KeySpec="AES_256", IsHostedByKms=1, DataKeyName=uid("t"),
               Tags=[{"TagKey": "k", "TagValue": "1"}, {"TagKey": "k", "TagValue": "2"}])


# ------------------------------------------------------------------ HsmClusterId

def test_hsm_cluster_id_empty_is_ignored(kms, key):
    r = gdk(kms, KeyId=key, KeySpec="AES_256", HsmClusterId="")
    assert len(unb64(r.Plaintext)) == 32


@pytest.mark.parametrize("cluster", ["cls-hsm-1234", "default"])
def test_hsm_cluster_id_other_value(kms, key, cluster):
    call_error(kms, "GenerateDataKey", "InvalidParameterValue.InvalidHsmClusterId", KeyId=key,
               KeySpec="AES_256", HsmClusterId=cluster)


# ------------------------------------------------------------------ Seed example shape

def test_seed_example_request(kms, key):
    """The seed's example request (with our key and an SM2 key of our own) works end to end."""
    k = Sm2Key()
    r = gdk(kms, KeyId=key, KeySpec="AES_256", NumberOfBytes=32, EncryptionContext='{"key1":"value1"}',
            EncryptionPublicKey=k.public_pem(), EncryptionAlgorithm="SM2")
    assert r.KeyId == key
    plain = k.decrypt_c1c3c2(sm2_raw_to_parts(unb64(r.Plaintext)))
    assert decrypt(kms, r.CiphertextBlob, '{"key1":"value1"}') == plain
