"""The CiphertextBlob format (docs/ciphertext-format.md) as the official SDKs see it: every blob a
symmetric action returns, in both dialects, is base64 of a format-3 blob (FK, 3, the key's
algorithm, a 24-byte nonce; 65 bytes more than its plaintext), and ReEncrypt re-seals into
format 3. The header is read by tests/sdk/blobfmt.py; opening blobs with known material is in
test_byok.py and test_ali_byok.py (imported keys).
"""
from __future__ import annotations

import os

import pytest

import alikms
import blobfmt
from alikms import spki_b64, tea
from conftest import tencent_client
from interop_helpers import make_key
from kmsutil import b64, call, create_key, decrypt, encrypt, hosted_data_key, unb64


def header_of(blob_b64: str, key_id: str, algorithm: int = 1, payload: int = 0, plaintext_len: int | None = None):
    raw = unb64(blob_b64)
    h = blobfmt.parse_header(raw)
    assert (h["format"], h["algorithm"], h["payload"], h["key_id"]) == (3, algorithm, payload, key_id), h
    assert len(h["nonce"]) == 24 and len(h["header"]) == 49
    if plaintext_len is not None:
        assert len(raw) == blobfmt.blob_len(3, plaintext_len) == 65 + plaintext_len
    return h


# --------------------------------------------------------------------------------------------- Tencent


@pytest.mark.parametrize("n", [1, 16, 32, 1000, 4096])
def test_tencent_encrypt_writes_format_3(kms, n):
    k = create_key(kms)
    blob = encrypt(kms, k, os.urandom(n))
    h = header_of(blob, k, plaintext_len=n)
    assert h["version"] == 1
    # base64 of 65 + n bytes, no line breaks
    assert len(blob) == 4 * ((65 + n + 2) // 3)


def test_tencent_data_key_blob_is_97_bytes(kms):
    k = create_key(kms)
    r = call(kms, "GenerateDataKey", KeyId=k, KeySpec="AES_256")
    assert len(r.CiphertextBlob) == 132  # was 116 (85 bytes) in format 1
    header_of(r.CiphertextBlob, k, plaintext_len=32)
    assert decrypt(kms, r.CiphertextBlob) == unb64(r.Plaintext)
    r = call(kms, "GenerateDataKey", KeyId=k, KeySpec="AES_128")
    header_of(r.CiphertextBlob, k, plaintext_len=16)
    r = call(kms, "GenerateDataKey", KeyId=k, NumberOfBytes=1024)
    header_of(r.CiphertextBlob, k, plaintext_len=1024)


def test_tencent_hosted_data_key_blob_is_format_3(kms):
    k = create_key(kms)
    r = hosted_data_key(kms, k, NumberOfBytes=48)
    header_of(r.CiphertextBlob, k, plaintext_len=48)
    stored = call(kms, "GetDataKeyCiphertextBlob", DataKeyId=r.DataKeyId).CiphertextBlob
    assert stored == r.CiphertextBlob
    header_of(stored, k, plaintext_len=48)


def test_tencent_nonces_are_fresh(kms):
    k = create_key(kms)
    nonces = {header_of(encrypt(kms, k, b"same"), k)["nonce"] for _ in range(50)}
    assert len(nonces) == 50


def test_tencent_reencrypt_writes_format_3(kms):
    src, dst = create_key(kms), create_key(kms)
    blob = encrypt(kms, src, b"moving")
    r = call(kms, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=dst)
    assert r.ReEncrypted is True
    header_of(r.CiphertextBlob, dst, plaintext_len=6)
    same = call(kms, "ReEncrypt", CiphertextBlob=r.CiphertextBlob, DestinationKeyId=dst)
    assert same.ReEncrypted is False and same.CiphertextBlob == r.CiphertextBlob
    ctx = call(kms, "ReEncrypt", CiphertextBlob=r.CiphertextBlob, DestinationKeyId=dst,
               DestinationEncryptionContext='{"a":"1"}')
    assert ctx.ReEncrypted is True
    header_of(ctx.CiphertextBlob, dst, plaintext_len=6)
    assert decrypt(kms, ctx.CiphertextBlob, context='{"a":"1"}') == b"moving"


def test_tencent_rotated_key_blob_names_the_new_version(kms):
    k = create_key(kms)
    old_blob = encrypt(kms, k, b"v1")
    call(kms, "RotateKey", KeyId=k)
    assert header_of(encrypt(kms, k, b"v2"), k)["version"] == 2
    up = call(kms, "ReEncrypt", CiphertextBlob=old_blob, DestinationKeyId=k)
    h = header_of(up.CiphertextBlob, k, plaintext_len=2)
    assert h["version"] == 2 and decrypt(kms, up.CiphertextBlob) == b"v1"


# --------------------------------------------------------------------------------------------- Alibaba


@pytest.mark.parametrize("spec,algorithm", [("Aliyun_AES_256", 1), ("Aliyun_SM4", 2), ("Aliyun_AES_128", 3),
                                            ("Aliyun_AES_192", 4)])
def test_alibaba_encrypt_writes_format_3(ali, ali_old, spec, algorithm):
    md = alikms.create_key(ali, KeySpec=spec)
    k = md["KeyId"]
    text = "format three, 你好"
    enc = tea(ali, "Encrypt", KeyId=k, Plaintext=text)
    # Alibaba's Encrypt seals the string verbatim: payload kind 1
    header_of(enc["CiphertextBlob"], k, algorithm=algorithm, payload=1, plaintext_len=len(text.encode()))
    assert alikms.old(ali_old, "Decrypt", CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == text
    g = tea(ali, "GenerateDataKey", KeyId=k, NumberOfBytes=32)
    assert len(g["CiphertextBlob"]) == 132
    header_of(g["CiphertextBlob"], k, algorithm=algorithm, plaintext_len=32)
    w = tea(ali, "GenerateDataKeyWithoutPlaintext", KeyId=k, KeySpec="AES_128")
    header_of(w["CiphertextBlob"], k, algorithm=algorithm, plaintext_len=16)


def test_alibaba_reencrypt_and_export_write_format_3(ali, tmp_path):
    src = alikms.create_key(ali)["KeyId"]
    dst = alikms.create_key(ali, KeySpec="Aliyun_SM4")["KeyId"]
    enc = tea(ali, "Encrypt", KeyId=src, Plaintext="hello")
    r = tea(ali, "ReEncrypt", CiphertextBlob=enc["CiphertextBlob"], DestinationKeyId=dst)
    header_of(r["CiphertextBlob"], dst, algorithm=2, payload=1, plaintext_len=5)
    assert tea(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"])["Plaintext"] == "hello"
    rsa = make_key(tmp_path / "rsa", "rsa", 2048)
    x = tea(ali, "GenerateAndExportDataKey", KeyId=src, PublicKeyBlob=spki_b64(rsa.pub_pem),
            WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256")
    header_of(x["CiphertextBlob"], src, plaintext_len=32)


@pytest.fixture(scope="module")
def gz(server_factory):
    """A server whose Alibaba default region is cn-guangzhou (= Tencent ap-guangzhou)."""
    return server_factory(extra_args=["--no-rate-limit"], config='[alibaba]\ndefault_region = "cn-guangzhou"\n').start()


def test_cross_dialect_blobs_are_one_format(gz):
    """A Tencent-made blob and an Alibaba-made one of the same key differ only in the payload kind,
    and each dialect opens the other's."""
    tc, ac = tencent_client(gz.endpoint, "ap-guangzhou"), alikms.tea_client(gz.endpoint)
    k = create_key(tc)
    ali_blob = tea(ac, "Encrypt", KeyId=k, Plaintext="both dialects")["CiphertextBlob"]
    header_of(ali_blob, k, payload=1, plaintext_len=13)
    tc_blob = encrypt(tc, k, b"both dialects")
    header_of(tc_blob, k, payload=0, plaintext_len=13)
    assert decrypt(tc, ali_blob) == b"both dialects"
    assert tea(ac, "Decrypt", CiphertextBlob=tc_blob)["Plaintext"] == b64(b"both dialects")
