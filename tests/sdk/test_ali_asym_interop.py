"""Alibaba KMS dialect: asymmetric keys against implementations that are not ferrokms (issue 7).

* openssl (OpenSSL 3) encrypts to GetPublicKey's key, RSAES-OAEP SHA-256 / SHA-1 and SM2 (the
  GM/T 0009 DER that is Alibaba's SM2PKE); AsymmetricDecrypt opens it.
* AsymmetricEncrypt -> AsymmetricDecrypt, SM2PKE output parsed by `openssl asn1parse`.
* AsymmetricSign -> `openssl dgst -verify`, `openssl pkeyutl -verify`, Python `cryptography`
  (RSA, ECDSA incl. secp256k1), gmssl (SM2DSA over e = SM3(Z_A || M), Z_A computed here);
  AsymmetricVerify: true for ferrokms' signatures and for the other valid ECDSA form (r, n - s)
  that openssl accepts, false (not an error) for flipped bits and for openssl's signatures with
  other keys. ML-DSA-65 (the Digest field carries the message) checked by `cryptography`.
* ReEncrypt of an ExportedDataKey made to a KMS asymmetric key (spec section 11).
"""
from __future__ import annotations

import hashlib
import os
import uuid

import pytest
from cryptography.exceptions import InvalidSignature

from ali_asym import (ED, ENC_ALGS, OAEP_MAX, RSA_BYTES, SV, Files, assert_sm2pke_der, call, cryptography_verify,
                      digest_for, expect, flip, load_public, new_key, openssl_dgst_verify, openssl_encrypt,
                      openssl_keypair, openssl_pkeyutl_verify, openssl_sign, other_high_s, pem_to_der, public_pem,
                      sm2_e, sm2_point, sm2_verify_digest)
from alikms import b64, describe, spki_b64, unb64, uname
from interop_helpers import sm2_der_parse

SIGNING = [("RSA_2048", "RSA_PSS_SHA_256"), ("RSA_2048", "RSA_PKCS1_SHA_256"), ("RSA_3072", "RSA_PSS_SHA_256"),
           ("RSA_3072", "RSA_PKCS1_SHA_256"), ("EC_P256", "ECDSA_SHA_256"), ("EC_P256K", "ECDSA_SHA_256"),
           ("EC_P384", "ECDSA_SHA_384"), ("EC_SM2", "SM2DSA")]
RSA_ENC = [(s, a) for s in ("RSA_2048", "RSA_3072") for a in ENC_ALGS[s]]


@pytest.fixture
def files(tmp_path):
    return Files(tmp_path)


def _params(md, alg, version=None):
    return dict(KeyId=md["KeyId"], KeyVersionId=version or md["PrimaryKeyVersion"], Algorithm=alg)


def _decrypt(client, md, alg, ct: bytes, version=None) -> bytes:
    r = call(client, "AsymmetricDecrypt", CiphertextBlob=b64(ct), **_params(md, alg, version))
    assert r["KeyId"] == md["KeyId"] and r["KeyVersionId"] == (version or md["PrimaryKeyVersion"]), r
    return unb64(r["Plaintext"])


def _verify(client, md, alg, digest, sig) -> bool:
    r = call(client, "AsymmetricVerify", Digest=b64(digest), Value=b64(sig), **_params(md, alg))
    assert isinstance(r["Value"], bool), r
    return r["Value"]


# ------------------------------------------------------------------------------------------ encryption


@pytest.mark.parametrize("spec,alg", RSA_ENC)
def test_openssl_encrypts_rsa_kms_decrypts(ali, ali_old, files, spec, alg):
    md = new_key(ali, spec, ED)
    pem = public_pem(ali, md["KeyId"], md["PrimaryKeyVersion"])
    for n in (1, 32, OAEP_MAX[(spec, alg)]):
        pt = os.urandom(n)
        ct = openssl_encrypt(files, pem, pt, alg)
        assert len(ct) == RSA_BYTES[spec]
        assert _decrypt(ali, md, alg, ct) == pt, n
    # the DER form of the same key (base64 SPKI, as GenerateAndExportDataKey takes it) via the old SDK
    ct = openssl_encrypt(files, pem_to_der(pem), b"old sdk", alg)
    assert _decrypt(ali_old, md, alg, ct) == b"old sdk"
    # the other OAEP hash does not open it: one answer, 400 InvalidParameter (CiphertextBlob)
    wrong = "RSAES_OAEP_SHA_1" if alg == "RSAES_OAEP_SHA_256" else "RSAES_OAEP_SHA_256"
    err = expect(ali, "AsymmetricDecrypt", "InvalidParameter", 400, CiphertextBlob=b64(ct), **_params(md, wrong))
    assert "CiphertextBlob" in err.message, err
    # nor PKCS#1 v1.5 padding, which Alibaba's AsymmetricDecrypt does not offer
    ct = openssl_encrypt(files, pem, b"pkcs1", "RSAES_PKCS1_V1_5")
    expect(ali, "AsymmetricDecrypt", "InvalidParameter", 400, CiphertextBlob=b64(ct), **_params(md, alg))


def test_openssl_encrypts_sm2_kms_decrypts(ali, ali_old, files):
    md = new_key(ali, "EC_SM2", ED)
    pem = public_pem(ali, md["KeyId"], md["PrimaryKeyVersion"])
    for n in (1, 32, 1000, 6000):
        pt = os.urandom(n)
        ct = openssl_encrypt(files, pem, pt, "SM2PKE")
        assert_sm2pke_der(files, ct, n)
        assert _decrypt(ali if n != 1000 else ali_old, md, "SM2PKE", ct) == pt, n
    ct = openssl_encrypt(files, pem_to_der(pem), b"der key", "SM2PKE")
    assert _decrypt(ali, md, "SM2PKE", ct) == b"der key"
    # encrypted to another SM2 key: 400 InvalidParameter, not an internal error
    _, other = openssl_keypair(files, "EC_SM2")
    ct = openssl_encrypt(files, other, b"not for this key", "SM2PKE")
    expect(ali, "AsymmetricDecrypt", "InvalidParameter", 400, CiphertextBlob=b64(ct), **_params(md, "SM2PKE"))


@pytest.mark.parametrize("spec,alg", RSA_ENC + [("EC_SM2", "SM2PKE")])
def test_asymmetric_encrypt_round_trip(ali, ali_old, files, spec, alg):
    md = new_key(ali, spec, ED)
    pt = os.urandom(48)
    r = call(ali, "AsymmetricEncrypt", Plaintext=b64(pt), **_params(md, alg))
    assert r["KeyId"] == md["KeyId"] and r["KeyVersionId"] == md["PrimaryKeyVersion"], r
    ct = unb64(r["CiphertextBlob"])
    again = unb64(call(ali_old, "AsymmetricEncrypt", Plaintext=b64(pt), **_params(md, alg))["CiphertextBlob"])
    assert ct != again, "public-key encryption must be randomised"
    if spec == "EC_SM2":
        assert_sm2pke_der(files, ct, len(pt))
        sm2_der_parse(ct)  # strict DER: minimal INTEGERs, 32-byte C3, nothing trailing
    else:
        assert len(ct) == RSA_BYTES[spec]
        n = load_public(public_pem(ali, md["KeyId"], md["PrimaryKeyVersion"])).public_numbers().n
        assert int.from_bytes(ct, "big") < n
    assert _decrypt(ali, md, alg, ct) == pt
    assert _decrypt(ali_old, md, alg, again) == pt
    # by alias and ARN too
    alias = uname("enc")
    call(ali, "CreateAlias", AliasName=alias, KeyId=md["KeyId"])
    for ref in (alias, md["Arn"]):
        r = call(ali, "AsymmetricDecrypt", KeyId=ref, KeyVersionId=md["PrimaryKeyVersion"], Algorithm=alg,
                 CiphertextBlob=b64(ct))
        assert unb64(r["Plaintext"]) == pt and r["KeyId"] == md["KeyId"], r


# ------------------------------------------------------------------------------------------ signatures


@pytest.mark.parametrize("spec,alg", SIGNING)
def test_kms_signs_others_verify(ali, ali_old, files, spec, alg):
    md = new_key(ali, spec, SV)
    pem = public_pem(ali, md["KeyId"], md["PrimaryKeyVersion"])
    for i, message in enumerate((b"a", os.urandom(300), b"The quick brown fox jumps over the lazy dog")):
        digest = digest_for(alg, message, pem)
        client = ali_old if i == 1 else ali
        r = call(client, "AsymmetricSign", Digest=b64(digest), **_params(md, alg))
        assert r["KeyId"] == md["KeyId"] and r["KeyVersionId"] == md["PrimaryKeyVersion"], r
        sig = unb64(r["Value"])
        assert openssl_dgst_verify(files, pem, alg, message, sig), f"openssl dgst rejects {alg} of {spec}"
        assert openssl_pkeyutl_verify(files, pem, alg, digest, sig), f"openssl pkeyutl rejects {alg} of {spec}"
        if alg == "SM2DSA":
            x, y = sm2_point(pem_to_der(pem))
            assert sm2_verify_digest(x, y, digest, sig), "gmssl rejects the SM2 signature"
        else:
            assert cryptography_verify(pem, alg, digest, sig), f"cryptography rejects {alg} of {spec}"
        assert _verify(ali, md, alg, digest, sig) is True
        assert _verify(ali_old, md, alg, digest, sig) is True
        # a flipped bit: every implementation says no, and ferrokms says false (not an error)
        bad = flip(sig, len(sig) // 2)
        assert not openssl_dgst_verify(files, pem, alg, message, bad)
        assert _verify(ali, md, alg, digest, bad) is False
        assert not openssl_dgst_verify(files, pem, alg, message + b"!", sig)
        assert _verify(ali, md, alg, digest_for(alg, message + b"!", pem), sig) is False
    if alg == "RSA_PKCS1_SHA_256":
        d = hashlib.sha256(b"deterministic").digest()
        sigs = {call(ali, "AsymmetricSign", Digest=b64(d), **_params(md, alg))["Value"] for _ in range(2)}
        assert len(sigs) == 1, "RSASSA-PKCS1-v1_5 signatures are deterministic"
    if alg == "RSA_PSS_SHA_256":
        d = hashlib.sha256(b"salted").digest()
        sigs = {call(ali, "AsymmetricSign", Digest=b64(d), **_params(md, alg))["Value"] for _ in range(2)}
        assert len(sigs) == 2, "RSASSA-PSS with a 32-byte salt gives a new signature each time"


def test_sm2dsa_digest_is_sm3_of_za_and_message(ali, files):
    """The Digest of SM2DSA is e = SM3(Z_A || M) with id 1234567812345678: a signature over SM3(M)
    alone, or over Z_A with another id, is not what openssl verifies for M."""
    md = new_key(ali, "EC_SM2", SV)
    pem = public_pem(ali, md["KeyId"], md["PrimaryKeyVersion"])
    x, y = sm2_point(pem_to_der(pem))
    message = b"message digest"
    from ali_asym import sm2_za, sm3
    for wrong in (sm3(message), sm3(sm2_za(x, y, b"ALICE123@YAHOO.COM") + message)):
        sig = unb64(call(ali, "AsymmetricSign", Digest=b64(wrong), **_params(md, "SM2DSA"))["Value"])
        assert not openssl_dgst_verify(files, pem, "SM2DSA", message, sig)
        assert sm2_verify_digest(x, y, wrong, sig)  # it is a valid signature of that digest
    e = sm2_e(x, y, message)
    sig = unb64(call(ali, "AsymmetricSign", Digest=b64(e), **_params(md, "SM2DSA"))["Value"])
    assert openssl_dgst_verify(files, pem, "SM2DSA", message, sig)


@pytest.mark.parametrize("spec,alg", [("EC_P256", "ECDSA_SHA_256"), ("EC_P256K", "ECDSA_SHA_256"),
                                      ("EC_P384", "ECDSA_SHA_384")])
def test_ecdsa_other_s_form_verifies(ali, files, spec, alg):
    """ECDSA signatures (r, s) and (r, n - s) are both valid (OpenSSL and cryptography accept
    both; other signers emit either): AsymmetricVerify accepts both too."""
    md = new_key(ali, spec, SV)
    pem = public_pem(ali, md["KeyId"], md["PrimaryKeyVersion"])
    message = os.urandom(64)
    digest = digest_for(alg, message)
    sig = unb64(call(ali, "AsymmetricSign", Digest=b64(digest), **_params(md, alg))["Value"])
    other = other_high_s(sig, spec)
    assert other != sig
    assert openssl_dgst_verify(files, pem, alg, message, other)
    assert cryptography_verify(pem, alg, digest, other)
    assert _verify(ali, md, alg, digest, other) is True


@pytest.mark.parametrize("spec,alg", SIGNING)
def test_signatures_of_other_keys_are_false(ali, files, spec, alg):
    """openssl's valid signature, made with an openssl key of the same type, is `false` for the KMS
    key; openssl verifies it with its own key (so the signature itself is fine)."""
    md = new_key(ali, spec, SV)
    kms_pem = public_pem(ali, md["KeyId"], md["PrimaryKeyVersion"])
    priv, pub = openssl_keypair(files, spec)
    message = os.urandom(77)
    sig = openssl_sign(files, priv, alg, message)
    assert openssl_dgst_verify(files, pub, alg, message, sig)
    assert _verify(ali, md, alg, digest_for(alg, message, kms_pem), sig) is False
    # with the openssl key's own SM2 digest it is still the wrong key
    if alg == "SM2DSA":
        assert _verify(ali, md, alg, digest_for(alg, message, pub), sig) is False


def test_ml_dsa_65_sign_verify(ali, ali_old):
    """ML_DSA_65 (ferrokms' extension): the Digest field carries the message (1-4096 bytes), signed
    in pure mode with an empty context; `cryptography` verifies it."""
    md = new_key(ali, "ML_DSA_65", SV)
    key = load_public(public_pem(ali, md["KeyId"], md["PrimaryKeyVersion"]))
    for i, message in enumerate((b"m", os.urandom(32), os.urandom(48), os.urandom(4096))):
        client = ali_old if i == 1 else ali
        sig = unb64(call(client, "AsymmetricSign", Digest=b64(message), **_params(md, "ML_DSA_65"))["Value"])
        assert len(sig) == 3309
        key.verify(sig, message)  # raises InvalidSignature
        with pytest.raises(InvalidSignature):
            key.verify(sig, flip(message))
        assert _verify(ali, md, "ML_DSA_65", message, sig) is True
        assert _verify(ali, md, "ML_DSA_65", flip(message), sig) is False
        assert _verify(ali, md, "ML_DSA_65", message, flip(sig, 100)) is False
    expect(ali, "AsymmetricSign", "InvalidParameter", 400, Digest=b64(os.urandom(4097)), **_params(md, "ML_DSA_65"))
    # a signature made by cryptography with another ML-DSA-65 key: false
    from cryptography.hazmat.primitives.asymmetric import mldsa
    other = mldsa.MLDSA65PrivateKey.generate()
    assert _verify(ali, md, "ML_DSA_65", b"x", other.sign(b"x")) is False


# ------------------------------------------------------------------------------------------ ReEncrypt


EXPORT = [("RSA_2048", "RSAES_OAEP_SHA_256"), ("RSA_2048", "RSAES_OAEP_SHA_1"), ("EC_SM2", "SM2PKE")]


@pytest.mark.parametrize("spec,alg", EXPORT)
def test_reencrypt_exported_data_key(ali, ali_old, spec, alg):
    """GenerateAndExportDataKey to a KMS key's public half, then ReEncrypt of the ExportedDataKey
    under another key: the same data key as Decrypt of GenerateAndExportDataKey's CiphertextBlob."""
    asym = new_key(ali, spec, ED)
    pub = spki_b64(public_pem(ali, asym["KeyId"], asym["PrimaryKeyVersion"]))
    source = new_key(ali, "Aliyun_AES_256")
    dest = new_key(ali, "Aliyun_SM4")
    g = call(ali, "GenerateAndExportDataKey", KeyId=source["KeyId"], PublicKeyBlob=pub, WrappingKeySpec=spec,
             WrappingAlgorithm=alg, NumberOfBytes=32, EncryptionContext={"from": "export"})
    data_key = call(ali, "Decrypt", CiphertextBlob=g["CiphertextBlob"], EncryptionContext={"from": "export"})["Plaintext"]
    assert len(unb64(data_key)) == 32
    # the KMS key opens the exported copy itself
    assert b64(_decrypt(ali, asym, alg, unb64(g["ExportedDataKey"]))) == data_key
    for client in (ali, ali_old):
        ctx = {"to": "dest", "n": "1"}
        r = call(client, "ReEncrypt", CiphertextBlob=g["ExportedDataKey"], SourceKeyId=asym["KeyId"],
                 SourceKeyVersionId=asym["PrimaryKeyVersion"], SourceEncryptionAlgorithm=alg,
                 DestinationKeyId=dest["KeyId"],
                 DestinationEncryptionContext=ctx if client is ali else '{"to": "dest", "n": "1"}')
        assert r["KeyId"] == dest["KeyId"] and r["KeyVersionId"] == dest["PrimaryKeyVersion"], r
        dec = call(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"], EncryptionContext={"n": "1", "to": "dest"})
        assert dec["Plaintext"] == data_key and dec["KeyId"] == dest["KeyId"]
        expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=r["CiphertextBlob"])
    # source named by alias and ARN, no destination context
    alias = uname("src")
    call(ali, "CreateAlias", AliasName=alias, KeyId=asym["KeyId"])
    for ref in (alias, asym["Arn"]):
        r = call(ali, "ReEncrypt", CiphertextBlob=g["ExportedDataKey"], SourceKeyId=ref,
                 SourceKeyVersionId=asym["PrimaryKeyVersion"], SourceEncryptionAlgorithm=alg,
                 DestinationKeyId=source["Arn"])
        assert r["KeyId"] == source["KeyId"]
        assert call(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"])["Plaintext"] == data_key


def test_reencrypt_openssl_ciphertext_of_rsa_3072(ali, files):
    """Any ciphertext made to a KMS key's public half re-encrypts, e.g. openssl's to an RSA_3072 key."""
    asym = new_key(ali, "RSA_3072", ED)
    pem = public_pem(ali, asym["KeyId"], asym["PrimaryKeyVersion"])
    dest = new_key(ali, "Aliyun_AES_256")
    secret = os.urandom(64)
    ct = openssl_encrypt(files, pem, secret, "RSAES_OAEP_SHA_256")
    r = call(ali, "ReEncrypt", CiphertextBlob=b64(ct), SourceKeyId=asym["KeyId"],
             SourceKeyVersionId=asym["PrimaryKeyVersion"], SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
             DestinationKeyId=dest["KeyId"])
    assert unb64(call(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"])["Plaintext"]) == secret


def test_reencrypt_exported_after_create_key_version(ali):
    """An ExportedDataKey made to version 1 re-encrypts by version 1's id after a new version."""
    asym = new_key(ali, "RSA_2048", ED)
    v1 = asym["PrimaryKeyVersion"]
    pub1 = spki_b64(public_pem(ali, asym["KeyId"], v1))
    source = new_key(ali, "Aliyun_AES_256")
    g = call(ali, "GenerateAndExportDataKey", KeyId=source["KeyId"], PublicKeyBlob=pub1, WrappingKeySpec="RSA_2048",
             WrappingAlgorithm="RSAES_OAEP_SHA_256")
    v2 = call(ali, "CreateKeyVersion", KeyId=asym["KeyId"])["KeyVersion"]["KeyVersionId"]
    params = dict(CiphertextBlob=g["ExportedDataKey"], SourceKeyId=asym["KeyId"],
                  SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256", DestinationKeyId=source["KeyId"])
    r = call(ali, "ReEncrypt", SourceKeyVersionId=v1, **params)
    assert call(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"])["Plaintext"] == \
        call(ali, "Decrypt", CiphertextBlob=g["CiphertextBlob"])["Plaintext"]
    expect(ali, "ReEncrypt", "InvalidParameter", 400, SourceKeyVersionId=v2, **params)


def test_reencrypt_exported_errors(ali, ali_old):
    asym = new_key(ali, "RSA_2048", ED)
    signer = new_key(ali, "RSA_2048", SV)
    sm2 = new_key(ali, "EC_SM2", ED)
    pub = spki_b64(public_pem(ali, asym["KeyId"], asym["PrimaryKeyVersion"]))
    source = new_key(ali, "Aliyun_AES_256")
    dest = new_key(ali, "Aliyun_AES_256")
    g = call(ali, "GenerateAndExportDataKey", KeyId=source["KeyId"], PublicKeyBlob=pub, WrappingKeySpec="RSA_2048",
             WrappingAlgorithm="RSAES_OAEP_SHA_256")
    good = dict(CiphertextBlob=g["ExportedDataKey"], SourceKeyId=asym["KeyId"],
                SourceKeyVersionId=asym["PrimaryKeyVersion"], SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256",
                DestinationKeyId=dest["KeyId"])

    def but(**changes):
        p = {**good, **changes}
        return {k: v for k, v in p.items() if v is not None}

    invalid = [
        but(SourceEncryptionAlgorithm="RSAES_OAEP_SHA_1"),      # the other hash: does not open
        but(SourceEncryptionAlgorithm="SM2PKE"),                # not an RSA algorithm
        but(SourceEncryptionAlgorithm="RSAES_PKCS1_V1_5"),      # not offered
        but(SourceKeyId=sm2["KeyId"], SourceKeyVersionId=sm2["PrimaryKeyVersion"], SourceEncryptionAlgorithm="SM2PKE"),
        but(SourceKeyId=signer["KeyId"], SourceKeyVersionId=signer["PrimaryKeyVersion"]),  # a signing key
        but(SourceKeyId=source["KeyId"], SourceKeyVersionId=source["PrimaryKeyVersion"]),  # a symmetric key
        but(DestinationKeyId=sm2["KeyId"]),                     # destination must be symmetric
        but(CiphertextBlob=b64(flip(unb64(g["ExportedDataKey"])))),
        but(CiphertextBlob="not base64!"),
        but(CiphertextBlob=g["CiphertextBlob"]),                # a symmetric blob is not an RSA ciphertext
    ]
    for i, params in enumerate(invalid):
        expect(ali_old if i % 2 else ali, "ReEncrypt", "InvalidParameter", 400, **params)
        expect(ali, "ReEncrypt", "ValidationError", 400, DryRun="true", **params)
    expect(ali, "ReEncrypt", "MissingParameter", 400, **but(SourceKeyVersionId=None))
    expect(ali, "ReEncrypt", "MissingParameter", 400, **but(SourceEncryptionAlgorithm=None))
    expect(ali, "ReEncrypt", "MissingParameter", 400, **but(DestinationKeyId=None))
    expect(ali, "ReEncrypt", "Forbidden.KeyVersionNotFound", 404, **but(SourceKeyVersionId=str(uuid.uuid4())))
    expect(ali, "ReEncrypt", "Forbidden.KeyVersionNotFound", 404, **but(SourceKeyVersionId=sm2["PrimaryKeyVersion"]))
    expect(ali, "ReEncrypt", "Forbidden.KeyNotFound", 404, **but(SourceKeyId=str(uuid.uuid4())))
    expect(ali, "ReEncrypt", "Forbidden.KeyNotFound", 404, **but(DestinationKeyId=str(uuid.uuid4())))
    expect(ali, "ReEncrypt", "DryRunOperationError", 400, DryRun="true", **good)
    expect(ali_old, "ReEncrypt", "DryRunOperationError", 400, DryRun="true", **good)
    call(ali, "DisableKey", KeyId=dest["KeyId"])
    expect(ali, "ReEncrypt", "Rejected.Disabled", 409, **good)
    call(ali, "EnableKey", KeyId=dest["KeyId"])
    call(ali, "DisableKey", KeyId=asym["KeyId"])
    expect(ali, "ReEncrypt", "Rejected.Disabled", 409, **good)
    call(ali, "EnableKey", KeyId=asym["KeyId"])
    r = call(ali, "ReEncrypt", **good)
    assert call(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"])["Plaintext"] == \
        call(ali, "Decrypt", CiphertextBlob=g["CiphertextBlob"])["Plaintext"]
    assert describe(ali, dest["KeyId"])["KeyState"] == "Enabled"
