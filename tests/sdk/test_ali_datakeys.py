"""Alibaba KMS dialect: GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateAndExportDataKey and
ExportDataKey (spec section 11), with the exported key recovered independently by `openssl pkeyutl`
(and Python `cryptography` / `gmssl`)."""
from __future__ import annotations

import base64
import os
import uuid

import pytest

from alikms import b64, create_key, old, spki_b64, tea, tea_expect, uname, unb64, old_expect
from interop_helpers import make_key, openssl_decrypt, sm2_der_parse, unwrap


@pytest.fixture(scope="module")
def wrap_keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("ali-wrap-keys")
    return {
        "rsa": make_key(d / "rsa2048", "rsa", 2048),
        "rsa1024": make_key(d / "rsa1024", "rsa", 1024),
        "rsa3072": make_key(d / "rsa3072", "rsa", 3072),
        "sm2": make_key(d / "sm2", "sm2"),
        "p256": make_key(d / "p256", "ec", curve="prime256v1"),
    }


SPEC = {"RSAES_OAEP_SHA_256": "RSA_2048", "RSAES_OAEP_SHA_1": "RSA_2048", "SM2PKE": "EC_SM2"}
KIND = {"RSAES_OAEP_SHA_256": "rsa", "RSAES_OAEP_SHA_1": "rsa", "SM2PKE": "sm2"}


def recover(wrap_keys, alg: str, exported: str, workdir) -> bytes:
    key = wrap_keys[KIND[alg]]
    wrapped = unb64(exported)
    if alg == "SM2PKE":
        sm2_der_parse(wrapped)  # GM/T 0009 DER SEQUENCE {x, y, C3, C2}
        return unwrap(key, "SM2_C1C3C2_ASN1", wrapped, workdir)
    return unwrap(key, alg, wrapped, workdir)


# ------------------------------------------------------------------------------------------ GenerateDataKey


def test_generate_data_key_lengths(ali, ali_old):
    md = create_key(ali)
    k = md["KeyId"]
    for params, n in (({}, 32), ({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16),
                      ({"NumberOfBytes": 1}, 1), ({"NumberOfBytes": 1024}, 1024),
                      ({"NumberOfBytes": 64, "KeySpec": "AES_128"}, 64)):
        g = tea(ali, "GenerateDataKey", KeyId=k, **params)
        assert len(unb64(g["Plaintext"])) == n, params
        assert g["KeyId"] == k and g["KeyVersionId"] == md["PrimaryKeyVersion"]
        dec = old(ali_old, "Decrypt", CiphertextBlob=g["CiphertextBlob"])
        assert dec["Plaintext"] == g["Plaintext"], params
        assert dec["KeyId"] == k and dec["KeyVersionId"] == md["PrimaryKeyVersion"]
    a = tea(ali, "GenerateDataKey", KeyId=k)["Plaintext"]
    b = tea(ali, "GenerateDataKey", KeyId=k)["Plaintext"]
    assert a != b


def test_generate_data_key_invalid(ali, ali_old):
    k = create_key(ali)["KeyId"]
    for bad in (0, 1025, -1):
        tea_expect(ali, "GenerateDataKey", "InvalidParameter", 400, KeyId=k, NumberOfBytes=bad)
        tea_expect(ali, "GenerateDataKeyWithoutPlaintext", "InvalidParameter", 400, KeyId=k, NumberOfBytes=bad)
    old_expect(ali_old, "GenerateDataKey", "InvalidParameter", 400, KeyId=k, NumberOfBytes="many")
    tea_expect(ali, "GenerateDataKey", "InvalidParameter", 400, KeyId=k, KeySpec="AES_512")
    tea_expect(ali, "GenerateDataKey", "MissingParameter", 400)
    tea_expect(ali, "GenerateDataKey", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()))
    tea_expect(ali, "GenerateDataKey", "Forbidden.AliasNotFound", 404, KeyId=uname("none"))


def test_generate_data_key_old_sdk_with_context_and_alias(ali, ali_old):
    md = create_key(ali_old)
    alias = uname()
    old(ali_old, "CreateAlias", AliasName=alias, KeyId=md["KeyId"])
    g = old(ali_old, "GenerateDataKey", KeyId=alias, KeySpec="AES_128", EncryptionContext='{"app": "demo"}')
    assert g["KeyId"] == md["KeyId"]
    assert len(unb64(g["Plaintext"])) == 16
    assert tea(ali, "Decrypt", CiphertextBlob=g["CiphertextBlob"], EncryptionContext={"app": "demo"})["Plaintext"] == g["Plaintext"]
    tea_expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=g["CiphertextBlob"])


def test_generate_data_key_without_plaintext(ali, ali_old):
    md = create_key(ali)
    g = tea(ali, "GenerateDataKeyWithoutPlaintext", KeyId=md["Arn"], NumberOfBytes=48)
    assert "Plaintext" not in g or not g["Plaintext"], g
    assert g["KeyId"] == md["KeyId"] and g["KeyVersionId"] == md["PrimaryKeyVersion"]
    dec = old(ali_old, "Decrypt", CiphertextBlob=g["CiphertextBlob"])
    assert len(unb64(dec["Plaintext"])) == 48
    g = old(ali_old, "GenerateDataKeyWithoutPlaintext", KeyId=md["KeyId"])
    assert len(unb64(tea(ali, "Decrypt", CiphertextBlob=g["CiphertextBlob"])["Plaintext"])) == 32


def test_data_key_state_checks(ali):
    k = create_key(ali)["KeyId"]
    tea(ali, "DisableKey", KeyId=k)
    for action in ("GenerateDataKey", "GenerateDataKeyWithoutPlaintext"):
        tea_expect(ali, action, "Rejected.Disabled", 409, KeyId=k)
    ext = create_key(ali, Origin="EXTERNAL")["KeyId"]
    tea_expect(ali, "GenerateDataKeyWithoutPlaintext", "Rejected.PendingImport", 409, KeyId=ext)
    gone = create_key(ali)["KeyId"]
    tea(ali, "ScheduleKeyDeletion", KeyId=gone, PendingWindowInDays=7)
    tea_expect(ali, "GenerateDataKey", "Rejected.PendingDeletion", 409, KeyId=gone)


# ------------------------------------------------------------------------------------------ export


@pytest.mark.parametrize("alg", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "SM2PKE"])
def test_generate_and_export_data_key(ali, ali_old, wrap_keys, tmp_path, alg):
    md = create_key(ali)
    alias = uname()
    tea(ali, "CreateAlias", AliasName=alias, KeyId=md["KeyId"])
    pub = spki_b64(wrap_keys[KIND[alg]].pub_pem)
    r = tea(ali, "GenerateAndExportDataKey", KeyId=alias, PublicKeyBlob=pub, WrappingKeySpec=SPEC[alg],
            WrappingAlgorithm=alg, EncryptionContext={"k": "v"})
    assert set(r) >= {"RequestId", "KeyId", "KeyVersionId", "CiphertextBlob", "ExportedDataKey"}, r
    assert "Plaintext" not in r
    assert r["KeyId"] == md["KeyId"]
    assert r["KeyVersionId"] == md["PrimaryKeyVersion"]
    raw = recover(wrap_keys, alg, r["ExportedDataKey"], tmp_path)
    assert len(raw) == 32
    dec = old(ali_old, "Decrypt", CiphertextBlob=r["CiphertextBlob"], EncryptionContext='{"k": "v"}')
    assert base64.b64decode(dec["Plaintext"]) == raw
    assert dec["Plaintext"] == b64(raw)
    # the context is bound to the CMK blob only
    tea_expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=r["CiphertextBlob"])


@pytest.mark.parametrize("alg", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "SM2PKE"])
def test_generate_and_export_old_sdk_lengths(ali_old, wrap_keys, tmp_path, alg):
    md = create_key(ali_old)
    pub = spki_b64(wrap_keys[KIND[alg]].pub_pem)
    for params, n in (({"KeySpec": "AES_128"}, 16), ({"NumberOfBytes": 7}, 7), ({"NumberOfBytes": 100}, 100)):
        r = old(ali_old, "GenerateAndExportDataKey", KeyId=md["Arn"], PublicKeyBlob=pub,
                WrappingKeySpec=SPEC[alg], WrappingAlgorithm=alg, **params)
        raw = recover(wrap_keys, alg, r["ExportedDataKey"], tmp_path)
        assert len(raw) == n
        assert old(ali_old, "Decrypt", CiphertextBlob=r["CiphertextBlob"])["Plaintext"] == b64(raw)


def test_openssl_cli_recovers_exported_key(ali, wrap_keys, tmp_path):
    """The literal openssl invocations a user would type."""
    k = create_key(ali)["KeyId"]
    cases = {
        "RSAES_OAEP_SHA_256": ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256"],
        "RSAES_OAEP_SHA_1": ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1"],
        "SM2PKE": [],
    }
    for alg, opts in cases.items():
        key = wrap_keys[KIND[alg]]
        r = tea(ali, "GenerateAndExportDataKey", KeyId=k, PublicKeyBlob=spki_b64(key.pub_pem),
                WrappingKeySpec=SPEC[alg], WrappingAlgorithm=alg)
        raw = openssl_decrypt(key, unb64(r["ExportedDataKey"]), opts, tmp_path / alg)
        assert b64(raw) == tea(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"])["Plaintext"], alg


def test_oaep_capacity(ali, wrap_keys, tmp_path):
    k = create_key(ali)["KeyId"]
    rsa = spki_b64(wrap_keys["rsa"].pub_pem)
    sm2 = spki_b64(wrap_keys["sm2"].pub_pem)
    for alg, cap in (("RSAES_OAEP_SHA_256", 190), ("RSAES_OAEP_SHA_1", 214)):
        r = tea(ali, "GenerateAndExportDataKey", KeyId=k, PublicKeyBlob=rsa, WrappingKeySpec="RSA_2048",
                WrappingAlgorithm=alg, NumberOfBytes=cap)
        assert len(recover(wrap_keys, alg, r["ExportedDataKey"], tmp_path)) == cap
        tea_expect(ali, "GenerateAndExportDataKey", "InvalidParameter", 400, KeyId=k, PublicKeyBlob=rsa,
                   WrappingKeySpec="RSA_2048", WrappingAlgorithm=alg, NumberOfBytes=cap + 1)
    r = tea(ali, "GenerateAndExportDataKey", KeyId=k, PublicKeyBlob=sm2, WrappingKeySpec="EC_SM2",
            WrappingAlgorithm="SM2PKE", NumberOfBytes=1024)
    assert len(recover(wrap_keys, "SM2PKE", r["ExportedDataKey"], tmp_path)) == 1024
    for bad in (0, 1025):
        tea_expect(ali, "GenerateAndExportDataKey", "InvalidParameter", 400, KeyId=k, PublicKeyBlob=sm2,
                   WrappingKeySpec="EC_SM2", WrappingAlgorithm="SM2PKE", NumberOfBytes=bad)


def test_export_parameter_validation(ali, wrap_keys):
    k = create_key(ali)["KeyId"]
    rsa = spki_b64(wrap_keys["rsa"].pub_pem)
    sm2 = spki_b64(wrap_keys["sm2"].pub_pem)
    bad = [
        dict(PublicKeyBlob=rsa, WrappingKeySpec="RSA_2048", WrappingAlgorithm="SM2PKE"),
        dict(PublicKeyBlob=sm2, WrappingKeySpec="EC_SM2", WrappingAlgorithm="RSAES_OAEP_SHA_256"),
        dict(PublicKeyBlob=rsa, WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_PKCS1_V1_5"),
        dict(PublicKeyBlob=rsa, WrappingKeySpec="RSA_3072", WrappingAlgorithm="RSAES_OAEP_SHA_256"),
        dict(PublicKeyBlob=rsa, WrappingKeySpec="EC_SM2", WrappingAlgorithm="SM2PKE"),
        dict(PublicKeyBlob=sm2, WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256"),
        dict(PublicKeyBlob=spki_b64(wrap_keys["rsa1024"].pub_pem), WrappingKeySpec="RSA_2048",
             WrappingAlgorithm="RSAES_OAEP_SHA_256"),
        dict(PublicKeyBlob=spki_b64(wrap_keys["rsa3072"].pub_pem), WrappingKeySpec="RSA_2048",
             WrappingAlgorithm="RSAES_OAEP_SHA_1"),
        dict(PublicKeyBlob=spki_b64(wrap_keys["p256"].pub_pem), WrappingKeySpec="EC_SM2", WrappingAlgorithm="SM2PKE"),
        dict(PublicKeyBlob=wrap_keys["rsa"].pub_pem, WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256"),
        dict(PublicKeyBlob="!!notbase64!!", WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256"),
        dict(PublicKeyBlob=b64(b"\x30\x03\x02\x01\x00"), WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256"),
        dict(PublicKeyBlob=rsa, WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256", KeySpec="AES_64"),
    ]
    for params in bad:
        tea_expect(ali, "GenerateAndExportDataKey", "InvalidParameter", 400, KeyId=k, **params)
    for missing in ("PublicKeyBlob", "WrappingKeySpec", "WrappingAlgorithm"):
        params = dict(PublicKeyBlob=rsa, WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256")
        del params[missing]
        tea_expect(ali, "GenerateAndExportDataKey", "MissingParameter", 400, KeyId=k, **params)


def test_export_bad_context_old_sdk(ali_old, wrap_keys):
    k = create_key(ali_old)["KeyId"]
    old_expect(ali_old, "GenerateAndExportDataKey", "InvalidParameter", 400, KeyId=k,
               PublicKeyBlob=spki_b64(wrap_keys["rsa"].pub_pem), WrappingKeySpec="RSA_2048",
               WrappingAlgorithm="RSAES_OAEP_SHA_256", EncryptionContext="[1]")


def test_export_check_order(ali, wrap_keys):
    """resolve key -> key state -> parameters -> DryRun (spec section 11)."""
    rsa = spki_b64(wrap_keys["rsa"].pub_pem)
    badpair = dict(PublicKeyBlob=rsa, WrappingKeySpec="RSA_2048", WrappingAlgorithm="SM2PKE")
    good = dict(PublicKeyBlob=rsa, WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256")
    tea_expect(ali, "GenerateAndExportDataKey", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()), **badpair)
    tea_expect(ali, "GenerateAndExportDataKey", "Forbidden.AliasNotFound", 404, KeyId=uname("x"), **badpair,
               DryRun="true")
    k = create_key(ali)["KeyId"]
    tea_expect(ali, "GenerateAndExportDataKey", "ValidationError", 400, KeyId=k, **badpair, DryRun="true")
    tea_expect(ali, "GenerateAndExportDataKey", "InvalidParameter", 400, KeyId=k, **badpair)
    tea_expect(ali, "GenerateAndExportDataKey", "DryRunOperationError", 400, KeyId=k, **good, DryRun="true")
    tea(ali, "DisableKey", KeyId=k)
    tea_expect(ali, "GenerateAndExportDataKey", "Rejected.Disabled", 409, KeyId=k, **badpair)
    tea_expect(ali, "GenerateAndExportDataKey", "Rejected.Disabled", 409, KeyId=k, **good, DryRun="true")
    ext = create_key(ali, Origin="EXTERNAL")["KeyId"]
    tea_expect(ali, "GenerateAndExportDataKey", "Rejected.PendingImport", 409, KeyId=ext, **good)


@pytest.mark.parametrize("alg", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "SM2PKE"])
def test_export_data_key(ali, ali_old, wrap_keys, tmp_path, alg):
    md = create_key(ali)
    g = tea(ali, "GenerateDataKey", KeyId=md["KeyId"], NumberOfBytes=24, EncryptionContext={"x": "y"})
    pub = spki_b64(wrap_keys[KIND[alg]].pub_pem)
    r = old(ali_old, "ExportDataKey", CiphertextBlob=g["CiphertextBlob"], PublicKeyBlob=pub,
            WrappingKeySpec=SPEC[alg], WrappingAlgorithm=alg, EncryptionContext='{"x": "y"}')
    assert r["KeyId"] == md["KeyId"] and r["KeyVersionId"] == md["PrimaryKeyVersion"]
    assert "Plaintext" not in r
    assert b64(recover(wrap_keys, alg, r["ExportedDataKey"], tmp_path)) == g["Plaintext"]
    # wrong / missing context
    tea_expect(ali, "ExportDataKey", "InvalidParameter", 400, CiphertextBlob=g["CiphertextBlob"], PublicKeyBlob=pub,
               WrappingKeySpec=SPEC[alg], WrappingAlgorithm=alg)
    tea_expect(ali, "ExportDataKey", "InvalidParameter", 400, CiphertextBlob=g["CiphertextBlob"], PublicKeyBlob=pub,
               WrappingKeySpec=SPEC[alg], WrappingAlgorithm=alg, EncryptionContext={"x": "z"})


def test_export_data_key_validation_and_dry_run(ali, wrap_keys, tmp_path):
    k = create_key(ali)["KeyId"]
    g = tea(ali, "GenerateDataKeyWithoutPlaintext", KeyId=k)
    rsa = spki_b64(wrap_keys["rsa"].pub_pem)
    good = dict(PublicKeyBlob=rsa, WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256")
    tea_expect(ali, "ExportDataKey", "DryRunOperationError", 400, CiphertextBlob=g["CiphertextBlob"], **good,
               DryRun="true")
    tea_expect(ali, "ExportDataKey", "ValidationError", 400, CiphertextBlob=g["CiphertextBlob"],
               PublicKeyBlob=rsa, WrappingKeySpec="EC_SM2", WrappingAlgorithm="SM2PKE", DryRun="true")
    tea_expect(ali, "ExportDataKey", "InvalidParameter", 400, CiphertextBlob=g["CiphertextBlob"],
               PublicKeyBlob=spki_b64(wrap_keys["rsa1024"].pub_pem), WrappingKeySpec="RSA_2048",
               WrappingAlgorithm="RSAES_OAEP_SHA_256")
    raw = bytearray(unb64(g["CiphertextBlob"]))
    raw[-1] ^= 1
    tea_expect(ali, "ExportDataKey", "InvalidParameter", 400, CiphertextBlob=b64(bytes(raw)), **good)
    # a 200-byte data key does not fit RSA-2048 OAEP-SHA-256
    big = tea(ali, "GenerateDataKeyWithoutPlaintext", KeyId=k, NumberOfBytes=200)
    tea_expect(ali, "ExportDataKey", "InvalidParameter", 400, CiphertextBlob=big["CiphertextBlob"], **good)
    r = tea(ali, "ExportDataKey", CiphertextBlob=g["CiphertextBlob"], **good)
    assert b64(recover(wrap_keys, "RSAES_OAEP_SHA_256", r["ExportedDataKey"], tmp_path)) == \
        tea(ali, "Decrypt", CiphertextBlob=g["CiphertextBlob"])["Plaintext"]
    tea(ali, "DisableKey", KeyId=k)
    tea_expect(ali, "ExportDataKey", "Rejected.Disabled", 409, CiphertextBlob=g["CiphertextBlob"], **good)


def test_dry_run_data_keys(ali, ali_old):
    k = create_key(ali)["KeyId"]
    for action in ("GenerateDataKey", "GenerateDataKeyWithoutPlaintext"):
        tea_expect(ali, action, "DryRunOperationError", 400, KeyId=k, DryRun="true")
        old_expect(ali_old, action, "DryRunOperationError", 400, KeyId=k, DryRun="true")
        tea_expect(ali, action, "ValidationError", 400, KeyId=k, NumberOfBytes=2000, DryRun="true")
        tea_expect(ali, action, "InvalidParameter", 400, KeyId=k, NumberOfBytes=2000)
        tea_expect(ali, action, "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()), DryRun="true")



def test_export_data_key_of_an_encrypt_blob(ali, wrap_keys, tmp_path):
    """Encrypt seals the Plaintext string; ExportDataKey base64-decodes it to the raw bytes it exports."""
    k = create_key(ali)["KeyId"]
    raw = os.urandom(32)
    blob = tea(ali, "Encrypt", KeyId=k, Plaintext=b64(raw))["CiphertextBlob"]
    r = tea(ali, "ExportDataKey", CiphertextBlob=blob, PublicKeyBlob=spki_b64(wrap_keys["sm2"].pub_pem),
            WrappingKeySpec="EC_SM2", WrappingAlgorithm="SM2PKE")
    assert recover(wrap_keys, "SM2PKE", r["ExportedDataKey"], tmp_path) == raw


@pytest.mark.parametrize("spec", ["Aliyun_SM4", "Aliyun_AES_128", "Aliyun_AES_192"])
def test_data_keys_under_other_cmk_specs(ali, ali_old, wrap_keys, tmp_path, spec):
    k = create_key(ali, KeySpec=spec)["KeyId"]
    g = tea(ali, "GenerateDataKey", KeyId=k, KeySpec="AES_128")
    assert old(ali_old, "Decrypt", CiphertextBlob=g["CiphertextBlob"])["Plaintext"] == g["Plaintext"]
    r = old(ali_old, "GenerateAndExportDataKey", KeyId=k, PublicKeyBlob=spki_b64(wrap_keys["rsa"].pub_pem),
            WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256")
    raw = recover(wrap_keys, "RSAES_OAEP_SHA_256", r["ExportedDataKey"], tmp_path)
    assert tea(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"])["Plaintext"] == b64(raw)
