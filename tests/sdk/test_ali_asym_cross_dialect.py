"""Asymmetric keys across the dialects (issue 7): a key made through the Alibaba API is the same key
through the Tencent one (GetPublicKey), and a signature or ciphertext made through one dialect is
verified or opened through the other. The Tencent side signs RAW messages (it computes the digest,
for SM2 Z_A, itself); the Alibaba side signs digests computed here, so the two also check each
other's SM2 Z_A.

The server's Alibaba default region is cn-guangzhou (Tencent ap-guangzhou), as in
test_ali_cross_dialect.py.
"""
from __future__ import annotations

import os

import pytest

import kmsutil
from ali_asym import (ED, SV, Files, call, digest_for, new_key, openssl_encrypt, pem_to_der, public_pem)
from alikms import b64, describe, tea_client, unb64
from conftest import tencent_client

GZ_CONFIG = '[alibaba]\ndefault_region = "cn-guangzhou"\n'

#: (Alibaba spec, Alibaba algorithm, Tencent algorithm, Tencent KeyUsage)
SIGNERS = [("RSA_2048", "RSA_PSS_SHA_256", "RSA_PSS_SHA_256", "ASYMMETRIC_SIGN_VERIFY_RSA_2048"),
           ("RSA_3072", "RSA_PKCS1_SHA_256", "RSA_PKCS1_SHA_256", "ASYMMETRIC_SIGN_VERIFY_RSA_3072"),
           ("EC_P256", "ECDSA_SHA_256", "ECC_P256_R1", "ASYMMETRIC_SIGN_VERIFY_ECC"),
           ("EC_P384", "ECDSA_SHA_384", "ECDSA384_SHA384", "ASYMMETRIC_SIGN_VERIFY_ECDSA384"),
           ("EC_SM2", "SM2DSA", "SM2DSA", "ASYMMETRIC_SIGN_VERIFY_SM2")]


@pytest.fixture(scope="module")
def gz(server_factory):
    return server_factory(extra_args=["--no-rate-limit"], config=GZ_CONFIG).start()


@pytest.fixture
def tc(gz):
    return tencent_client(gz.endpoint, "ap-guangzhou")


@pytest.fixture
def ac(gz):
    return tea_client(gz.endpoint)


@pytest.mark.parametrize("spec,alg,tc_alg,tc_usage", SIGNERS, ids=[s[0] for s in SIGNERS])
def test_alibaba_key_through_tencent(tc, ac, spec, alg, tc_alg, tc_usage):
    md = new_key(ac, spec, SV)
    k, v = md["KeyId"], md["PrimaryKeyVersion"]
    pem = public_pem(ac, k, v)
    t = kmsutil.describe(tc, k)
    assert t.KeyUsage == tc_usage and t.KeyState == "Enabled", t
    pub = kmsutil.call(tc, "GetPublicKey", KeyId=k)
    assert pub.PublicKeyPem.strip() == pem.strip()
    assert kmsutil.unb64(pub.PublicKey) == pem_to_der(pem)
    message = os.urandom(200)
    digest = digest_for(alg, message, pem)
    # Alibaba signs the digest; Tencent verifies it (as a digest, and as the raw message)
    sig = call(ac, "AsymmetricSign", KeyId=k, KeyVersionId=v, Algorithm=alg, Digest=b64(digest))["Value"]
    for kind, data in (("DIGEST", digest), ("RAW", message)):
        r = kmsutil.call(tc, "VerifyByAsymmetricKey", KeyId=k, Algorithm=tc_alg, Message=b64(data), MessageType=kind,
                         SignatureValue=sig)
        assert r.SignatureValid is True, kind
    r = kmsutil.call(tc, "VerifyByAsymmetricKey", KeyId=k, Algorithm=tc_alg, Message=b64(message + b"!"),
                     MessageType="RAW", SignatureValue=sig)
    assert r.SignatureValid is False
    # Tencent signs the raw message; Alibaba verifies with the digest computed here
    tsig = kmsutil.call(tc, "SignByAsymmetricKey", KeyId=k, Algorithm=tc_alg, Message=b64(message),
                        MessageType="RAW").Signature
    r = call(ac, "AsymmetricVerify", KeyId=k, KeyVersionId=v, Algorithm=alg, Digest=b64(digest), Value=tsig)
    assert r["Value"] is True
    bad = bytearray(unb64(tsig))
    bad[-1] ^= 1
    r = call(ac, "AsymmetricVerify", KeyId=k, KeyVersionId=v, Algorithm=alg, Digest=b64(digest), Value=b64(bytes(bad)))
    assert r["Value"] is False


def test_tencent_key_through_alibaba(tc, ac, tmp_path):
    files = Files(tmp_path)
    for usage, spec, alg in (("ASYMMETRIC_DECRYPT_RSA_2048", "RSA_2048", "RSAES_OAEP_SHA_256"),
                             ("ASYMMETRIC_DECRYPT_SM2", "EC_SM2", "SM2PKE")):
        k = kmsutil.create_key(tc, KeyUsage=usage)
        d = describe(ac, k)
        assert (d["KeySpec"], d["KeyUsage"]) == (spec, ED), d
        v = d["PrimaryKeyVersion"]
        pem = public_pem(ac, k, v)
        assert kmsutil.call(tc, "GetPublicKey", KeyId=k).PublicKeyPem.strip() == pem.strip()
        secret = os.urandom(32)
        ct = call(ac, "AsymmetricEncrypt", KeyId=k, KeyVersionId=v, Algorithm=alg, Plaintext=b64(secret))["CiphertextBlob"]
        if spec == "RSA_2048":
            r = kmsutil.call(tc, "AsymmetricRsaDecrypt", KeyId=k, Ciphertext=ct, Algorithm=alg)
        else:
            r = kmsutil.call(tc, "AsymmetricSm2Decrypt", KeyId=k, Ciphertext=ct)
        assert kmsutil.unb64(r.Plaintext) == secret
        # openssl to Tencent's public key, Alibaba opens it
        ct = openssl_encrypt(files, kmsutil.unb64(kmsutil.call(tc, "GetPublicKey", KeyId=k).PublicKey), secret, alg)
        assert unb64(call(ac, "AsymmetricDecrypt", KeyId=k, KeyVersionId=v, Algorithm=alg,
                          CiphertextBlob=b64(ct))["Plaintext"]) == secret


def test_tencent_uses_the_primary_version(tc, ac):
    """Tencent's asymmetric actions use the current version: after Alibaba's CreateKeyVersion,
    Tencent's public key and signatures are version 2's."""
    md = new_key(ac, "EC_P256", SV)
    k, v1 = md["KeyId"], md["PrimaryKeyVersion"]
    v2 = call(ac, "CreateKeyVersion", KeyId=k)["KeyVersion"]["KeyVersionId"]
    pem2 = public_pem(ac, k, v2)
    assert public_pem(ac, k, v1) != pem2
    assert kmsutil.call(tc, "GetPublicKey", KeyId=k).PublicKeyPem.strip() == pem2.strip()
    message = b"current version"
    tsig = kmsutil.call(tc, "SignByAsymmetricKey", KeyId=k, Algorithm="ECC_P256_R1", Message=b64(message),
                        MessageType="RAW").Signature
    d = b64(digest_for("ECDSA_SHA_256", message))
    assert call(ac, "AsymmetricVerify", KeyId=k, KeyVersionId=v2, Algorithm="ECDSA_SHA_256", Digest=d,
                Value=tsig)["Value"] is True
    assert call(ac, "AsymmetricVerify", KeyId=k, KeyVersionId=v1, Algorithm="ECDSA_SHA_256", Digest=d,
                Value=tsig)["Value"] is False
