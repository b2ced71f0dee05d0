"""One store, two dialects, for asymmetric keys: a key made through the Tencent dialect is used
through the Alibaba one and the other way round (Tencent SDK and the older Alibaba RPC SDK,
which sends RegionId, so cn-guangzhou is Tencent's ap-guangzhou). The Alibaba dialect itself is
covered in depth by the test_ali_* suites.
"""
from __future__ import annotations

import hashlib
import os

import pytest

from alikms import old, old_client, spki_b64
from asym_helpers import (
    digest, flip, get_public, new_key, openssl_dgst_verify, openssl_encrypt, sign, sm2_e, verify, write_pub,
)
from conftest import tencent_client
from kmsutil import b64, call, describe, unb64


@pytest.fixture(scope="module")
def tc(server):
    return tencent_client(server.endpoint, "ap-guangzhou")


@pytest.fixture(scope="module")
def ac(server):
    return old_client(server.endpoint, region="cn-guangzhou")


def only_version(ac, key_id: str) -> str:
    versions = old(ac, "ListKeyVersions", KeyId=key_id)["KeyVersions"]["KeyVersion"]
    assert len(versions) == 1, versions
    return versions[0]["KeyVersionId"]


def ali_public_der(ac, key_id: str, version: str) -> bytes:
    r = old(ac, "GetPublicKey", KeyId=key_id, KeyVersionId=version)
    assert (r["KeyId"], r["KeyVersionId"]) == (key_id, version)
    return unb64(spki_b64(r["PublicKey"]))


def test_tencent_ecc_key_through_alibaba(tc, ac, tmp_path):
    k = new_key(tc, "ASYMMETRIC_SIGN_VERIFY_ECC")
    md = old(ac, "DescribeKey", KeyId=k)["KeyMetadata"]
    assert (md["KeySpec"], md["KeyUsage"], md["KeyState"]) == ("EC_P256", "SIGN/VERIFY", "Enabled")
    v = only_version(ac, k)
    pub = get_public(tc, k, "ec")
    assert ali_public_der(ac, k, v) == pub.der, "the two dialects give different public keys"
    m = os.urandom(500)
    d = hashlib.sha256(m).digest()
    # Tencent signs, Alibaba verifies (Alibaba takes the digest)
    tsig = sign(tc, k, "ECC_P256_R1", m)
    r = old(ac, "AsymmetricVerify", KeyId=k, KeyVersionId=v, Algorithm="ECDSA_SHA_256", Digest=b64(d),
            Value=b64(tsig))
    assert r["Value"] is True and r["KeyVersionId"] == v
    r = old(ac, "AsymmetricVerify", KeyId=k, KeyVersionId=v, Algorithm="ECDSA_SHA_256", Digest=b64(flip(d)),
            Value=b64(tsig))
    assert r["Value"] is False
    # Alibaba signs, Tencent verifies (RAW and DIGEST), and so does OpenSSL
    asig = unb64(old(ac, "AsymmetricSign", KeyId=k, KeyVersionId=v, Algorithm="ECDSA_SHA_256",
                         Digest=b64(d))["Value"])
    assert verify(tc, k, "ECC_P256_R1", m, asig) is True
    assert verify(tc, k, "ECC_P256_R1", d, asig, "DIGEST") is True
    assert verify(tc, k, "ECC_P256_R1", flip(m), asig) is False
    pem, _ = write_pub(tmp_path, pub)
    assert openssl_dgst_verify(tmp_path, pem, "sha256", "ECC_P256_R1", m, asig)


def test_alibaba_sm2_key_through_tencent(tc, ac, tmp_path):
    k = old(ac, "CreateKey", KeySpec="EC_SM2", KeyUsage="SIGN/VERIFY")["KeyMetadata"]["KeyId"]
    assert describe(tc, k).KeyUsage == "ASYMMETRIC_SIGN_VERIFY_SM2"
    v = only_version(ac, k)
    pub = get_public(tc, k, "sm2")
    assert ali_public_der(ac, k, v) == pub.der
    m = os.urandom(123)
    e = sm2_e(pub.key, m)
    asig = unb64(old(ac, "AsymmetricSign", KeyId=k, KeyVersionId=v, Algorithm="SM2DSA", Digest=b64(e))["Value"])
    assert verify(tc, k, "SM2DSA", m, asig) is True
    assert verify(tc, k, "SM2DSA", e, asig, "DIGEST") is True
    pem, _ = write_pub(tmp_path, pub)
    assert openssl_dgst_verify(tmp_path, pem, "sm3", "SM2DSA", m, asig)
    tsig = sign(tc, k, "SM2DSA", m)
    r = old(ac, "AsymmetricVerify", KeyId=k, KeyVersionId=v, Algorithm="SM2DSA", Digest=b64(e), Value=b64(tsig))
    assert r["Value"] is True
    r = old(ac, "AsymmetricVerify", KeyId=k, KeyVersionId=v, Algorithm="SM2DSA",
            Digest=b64(digest("sm3", flip(m), pub.key)), Value=b64(tsig))
    assert r["Value"] is False


def test_encryption_keys_across_dialects(tc, ac, tmp_path):
    # Alibaba-made RSA key: Alibaba encrypts, Tencent decrypts
    k = old(ac, "CreateKey", KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT")["KeyMetadata"]["KeyId"]
    assert describe(tc, k).KeyUsage == "ASYMMETRIC_DECRYPT_RSA_2048"
    v = only_version(ac, k)
    data = os.urandom(100)
    ct = old(ac, "AsymmetricEncrypt", KeyId=k, KeyVersionId=v, Algorithm="RSAES_OAEP_SHA_256",
             Plaintext=b64(data))["CiphertextBlob"]
    r = call(tc, "AsymmetricRsaDecrypt", KeyId=k, Algorithm="RSAES_OAEP_SHA_256", Ciphertext=ct)
    assert unb64(r.Plaintext) == data
    # Tencent-made SM2 key: OpenSSL encrypts to Tencent's public key, Alibaba decrypts
    s = new_key(tc, "ASYMMETRIC_DECRYPT_SM2")
    pem, _ = write_pub(tmp_path, get_public(tc, s, "sm2"))
    data = os.urandom(60)
    der = openssl_encrypt(tmp_path, pem, data, [])
    r = old(ac, "AsymmetricDecrypt", KeyId=s, KeyVersionId=only_version(ac, s), Algorithm="SM2PKE",
            CiphertextBlob=b64(der))
    assert unb64(r["Plaintext"]) == data
