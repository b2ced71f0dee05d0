"""Asymmetric keys through the Tencent dialect (official Python SDK): CreateKey with every
KeyUsage of docs/key-types.md, DescribeKey / ListKeyDetail, ListAlgorithms, GetPublicKey, and
every kind of bad input to the asymmetric actions with its exact error code.

Interop with OpenSSL, `cryptography` and gmssl is in test_interop_asymmetric.py; post-quantum
actions in test_pq.py; imported key material in test_byok.py.
"""
from __future__ import annotations

import os
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, mlkem, rsa

from asym_helpers import (
    FERROKMS_EXTENSIONS, OID_EC, OID_ML_DSA_65, OID_ML_KEM_768, OID_RSA, SIGN_CASES, SM2_CURVE,
    TENCENT_DOCUMENTED, USAGES, Sm2Point, flip, get_public, new_key, sign, verify, write_pub,
)
from conftest import create_account, tencent_client
from interop_helpers import run
from kmsutil import b64, call, call_error, create_key, describe, list_all_key_ids, now, uid

ALL_USAGES = list(USAGES)
ENCRYPTION_USAGES = [u for u, v in USAGES.items() if v.purpose == "decrypt"]
SIGNING_USAGES = [u for u, v in USAGES.items() if v.purpose == "sign"]
CURVE_OIDS = {"secp256r1": "1.2.840.10045.3.1.7", "secp384r1": "1.3.132.0.34", "secp256k1": "1.3.132.0.10"}
OPENSSL_CURVES = {"secp256r1": "prime256v1", "secp384r1": "secp384r1", "secp256k1": "secp256k1"}
BAD = "InvalidParameterValue"
WRONG_USAGE = "InvalidParameterValue.InvalidKeyUsage"


@pytest.fixture(scope="module")
def client(server):
    return tencent_client(server.endpoint)


@pytest.fixture(scope="module")
def keys(client):
    """One key of every asymmetric usage, a symmetric key and an HMAC key (HMAC_SHA256, which
    docs/key-types.md lists as a Tencent KeyUsage with no Tencent action), made by this module."""
    made = {u: new_key(client, u) for u in ALL_USAGES}
    made["symmetric"] = create_key(client)
    made["hmac"] = new_key(client, "HMAC_SHA256")
    return made


def fresh_client(server):
    """A client of a new account: an empty key list, for exact listings and 'nothing written'."""
    acct = create_account(server)
    return tencent_client(server.endpoint, secret_id=acct.secret_id, secret_key=acct.secret_key)


# --------------------------------------------------------------------------------------------
# CreateKey, DescribeKey, ListKeyDetail, ListAlgorithms


def _pairs(items) -> list[tuple[str, str]]:
    return [(a.KeyUsage, a.Algorithm) for a in items or []]


def test_list_algorithms_is_exactly_what_create_key_accepts(client):
    r = call(client, "ListAlgorithms")
    sym, enc, sig = _pairs(r.SymmetricAlgorithms), _pairs(r.AsymmetricAlgorithms), _pairs(r.AsymmetricSignVerifyAlgorithms)
    assert sym == [("ENCRYPT_DECRYPT", "AES_256")], sym
    for listing in (enc, sig):
        assert len(set(listing)) == len(listing), f"duplicates in {listing}"
    assert set(enc) == {(u.name, u.algorithm) for u in USAGES.values() if u.purpose == "decrypt"}, enc
    assert set(sig) == {(u.name, u.algorithm) for u in USAGES.values() if u.purpose == "sign"}, sig
    listed = {u for u, _ in enc + sig}
    missing = set(TENCENT_DOCUMENTED + FERROKMS_EXTENSIONS) - listed
    assert not missing, f"documented usages not listed: {missing}"
    # everything listed is really there: CreateKey takes it and the key has a public half
    for usage in sorted(listed):
        k = new_key(client, usage)
        assert describe(client, k).KeyUsage == usage
        assert call(client, "GetPublicKey", KeyId=k).PublicKey


@pytest.mark.parametrize("usage", ALL_USAGES)
def test_create_and_describe(client, usage):
    alias, before = uid("meta"), now()
    r = call(client, "CreateKey", Alias=alias, KeyUsage=usage, Description="described")
    assert (r.Alias, r.Description, r.KeyState, r.KeyUsage) == (alias, "described", "Enabled", usage)
    assert before - 2 <= r.CreateTime <= now() + 2, r.CreateTime
    md = describe(client, r.KeyId)
    assert (md.KeyId, md.Alias, md.KeyUsage, md.KeyState, md.Origin) == (r.KeyId, alias, usage, "Enabled", "TENCENT_KMS")
    assert md.CreateTime == r.CreateTime
    assert md.Type == (4 if USAGES[usage].family == "sm2" else 2), md.Type  # 4: SM (GM/T) algorithms
    assert md.KeyRotationEnabled is False and md.ValidTo == 0 and md.DeletionDate == 0
    many = call(client, "DescribeKeys", KeyIds=[r.KeyId]).KeyMetadatas
    assert [(m.KeyId, m.KeyUsage) for m in many] == [(r.KeyId, usage)]


def test_list_key_detail_filters_by_usage(server):
    c = fresh_client(server)
    made = {u: new_key(c, u) for u in ALL_USAGES + ["HMAC_SHA256"]}
    sym = create_key(c)
    assert set(list_all_key_ids(c)) == {sym}, "no KeyUsage filter means ENCRYPT_DECRYPT only"
    assert set(list_all_key_ids(c, KeyUsage="ENCRYPT_DECRYPT")) == {sym}
    assert set(list_all_key_ids(c, KeyUsage="ALL")) == set(made.values()) | {sym}
    for usage, k in made.items():
        r = call(c, "ListKeyDetail", KeyUsage=usage, Limit=200)
        assert [(m.KeyId, m.KeyUsage) for m in r.KeyMetadatas] == [(k, usage)], usage
        assert r.TotalCount == 1
    # the two usages of one spec are told apart
    r = call(c, "ListKeyDetail", KeyUsage="ASYMMETRIC_SIGN_VERIFY_RSA_2048", KeyState=1)
    assert [m.KeyId for m in r.KeyMetadatas] == [made["ASYMMETRIC_SIGN_VERIFY_RSA_2048"]]
    call_error(c, "ListKeyDetail", WRONG_USAGE, KeyUsage="ASYMMETRIC_DECRYPT_ECC")
    assert len(call(c, "ListKeys", Limit=200).Keys) == len(made) + 1


BAD_USAGES = ["ASYMMETRIC_DECRYPT_ECC", "asymmetric_decrypt_rsa_2048", "ASYMMETRIC_ENCRYPT_DECRYPT_KYBER_AES",
              "ASYMMETRIC_SIGN_VERIFY_RSA_4096", "SIGN_VERIFY", "ASYMMETRIC_DECRYPT_RSA_2048 ", "RSA_2048"]


def test_create_key_refuses_unknown_usages_and_writes_nothing(server):
    c = fresh_client(server)
    alias = uid("refused")
    for usage in BAD_USAGES:
        call_error(c, "CreateKey", WRONG_USAGE, Alias=alias, KeyUsage=usage)
    # imported material is for symmetric keys only (docs/key-types.md, BYOK)
    for usage in ["ASYMMETRIC_DECRYPT_RSA_2048", "ASYMMETRIC_SIGN_VERIFY_ECC", "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES"]:
        call_error(c, "CreateKey", "UnsupportedOperation", Alias=alias, KeyUsage=usage, Type=2)
    assert call(c, "ListKeys").TotalCount == 0
    assert call(c, "ListKeyDetail", KeyUsage="ALL").TotalCount == 0
    # and the alias was not taken by any of them
    assert create_key(c, Alias=alias)


# --------------------------------------------------------------------------------------------
# GetPublicKey


def _openssl_text(path) -> str:
    return run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(path), "-noout", "-text"]).decode()


@pytest.mark.parametrize("usage", ALL_USAGES)
def test_get_public_key(client, keys, usage, tmp_path):
    u = USAGES[usage]
    pub = get_public(client, keys[usage], u.family)  # checks PEM == DER and parses both
    if u.family == "rsa":
        assert isinstance(pub.key, rsa.RSAPublicKey) and pub.oids == (OID_RSA,)
        assert pub.key.key_size == u.size and pub.key.public_numbers().e == 65537
    elif u.family == "ec":
        assert isinstance(pub.key, ec.EllipticCurvePublicKey)
        assert pub.key.curve.name == u.curve and pub.oids == (OID_EC, CURVE_OIDS[u.curve])
    elif u.family == "sm2":
        assert isinstance(pub.key, Sm2Point)
        p, x, y = SM2_CURVE["p"], pub.key.x, pub.key.y
        assert (y * y - (x ** 3 + SM2_CURVE["a"] * x + SM2_CURVE["b"])) % p == 0, "SM2 point not on the curve"
    elif u.family == "mlkem":
        assert isinstance(pub.key, mlkem.MLKEM768PublicKey) and pub.oids == (OID_ML_KEM_768,)
        assert len(pub.key.public_bytes_raw()) == 1184 and len(pub.der) == 1206
    else:
        assert isinstance(pub.key, mldsa.MLDSA65PublicKey) and pub.oids == (OID_ML_DSA_65,)
        assert len(pub.key.public_bytes_raw()) == 1952
    if u.family != "sm2":
        assert pub.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == pub.der
        assert serialization.load_pem_public_key(pub.pem.encode()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == pub.der
    if u.family in ("rsa", "ec", "sm2"):  # OpenSSL 3.0 on the machine predates ML-KEM / ML-DSA
        pem, der = write_pub(tmp_path, pub)
        text = _openssl_text(der)
        assert f"Public-Key: ({u.size} bit)" in text, text
        if u.family == "ec":
            assert f"ASN1 OID: {OPENSSL_CURVES[u.curve]}" in text, text
        if u.family == "sm2":
            assert "ASN1 OID: SM2" in text, text
        # openssl reads the PEM as the same key as the DER
        assert run(["openssl", "pkey", "-pubin", "-in", str(pem), "-outform", "DER"]) == pub.der
    # stable, and the key's own
    assert get_public(client, keys[usage], u.family).der == pub.der
    other = new_key(client, usage)
    assert get_public(client, other, u.family).der != pub.der


def test_get_public_key_of_unknown_key(client):
    call_error(client, "GetPublicKey", "ResourceUnavailable.CmkNotFound", KeyId=str(uuid.uuid4()))
    call_error(client, "GetPublicKey", "InvalidParameterValue.InvalidKeyId", KeyId="not-a-key-id")


# --------------------------------------------------------------------------------------------
# Wrong usage: InvalidParameterValue.InvalidKeyUsage

MSG = b64(b"a message to sign")
WRONG_USAGE_CASES = [
    ("Encrypt", "ASYMMETRIC_DECRYPT_RSA_2048", dict(Plaintext=MSG)),
    ("Encrypt", "ASYMMETRIC_DECRYPT_SM2", dict(Plaintext=MSG)),
    ("Encrypt", "ASYMMETRIC_SIGN_VERIFY_ECC", dict(Plaintext=MSG)),
    ("Encrypt", "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES", dict(Plaintext=MSG)),
    ("Encrypt", "hmac", dict(Plaintext=MSG)),
    ("GenerateDataKey", "ASYMMETRIC_DECRYPT_RSA_2048", dict(KeySpec="AES_256")),
    ("GenerateDataKey", "ASYMMETRIC_SIGN_VERIFY_SM2", dict(NumberOfBytes=32)),
    ("GenerateDataKey", "ASYMMETRIC_SIGN_VERIFY_DILITHIUM", dict(KeySpec="AES_128")),
    ("GenerateDataKey", "hmac", dict(KeySpec="AES_256")),
    ("SignByAsymmetricKey", "ASYMMETRIC_DECRYPT_RSA_2048", dict(Algorithm="RSA_PSS_SHA_256", Message=MSG)),
    ("SignByAsymmetricKey", "ASYMMETRIC_DECRYPT_SM2", dict(Algorithm="SM2DSA", Message=MSG)),
    ("SignByAsymmetricKey", "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES", dict(Algorithm="ECC_P256_R1", Message=MSG)),
    ("SignByAsymmetricKey", "symmetric", dict(Algorithm="SM2DSA", Message=MSG)),
    ("VerifyByAsymmetricKey", "ASYMMETRIC_DECRYPT_SM2",
     dict(Algorithm="SM2DSA", Message=MSG, SignatureValue=b64(b"\x30\x06\x02\x01\x01\x02\x01\x01"))),
    ("VerifyByAsymmetricKey", "symmetric", dict(Algorithm="RSA_PKCS1_SHA_256", Message=MSG, SignatureValue=MSG)),
    ("GetPublicKey", "symmetric", {}),
    ("GetPublicKey", "hmac", {}),
    ("AsymmetricRsaDecrypt", "ASYMMETRIC_SIGN_VERIFY_RSA_2048",
     dict(Algorithm="RSAES_OAEP_SHA_256", Ciphertext=b64(b"\x01" * 256))),
    ("AsymmetricRsaDecrypt", "symmetric", dict(Algorithm="RSAES_OAEP_SHA_256", Ciphertext=b64(b"\x01" * 256))),
    ("AsymmetricSm2Decrypt", "ASYMMETRIC_SIGN_VERIFY_SM2", dict(Ciphertext=b64(b"\x04" + b"\x01" * 120))),
    ("AsymmetricSm2Decrypt", "symmetric", dict(Ciphertext=b64(b"\x04" + b"\x01" * 120))),
    ("AsymmetricSm2Decrypt", "hmac", dict(Ciphertext=b64(b"\x04" + b"\x01" * 120))),
]


@pytest.mark.parametrize("action,kind,fields", WRONG_USAGE_CASES, ids=[f"{a}-{k}" for a, k, _ in WRONG_USAGE_CASES])
def test_wrong_key_usage(client, keys, action, kind, fields):
    call_error(client, action, WRONG_USAGE, KeyId=keys[kind], **fields)


# --------------------------------------------------------------------------------------------
# Wrong algorithm for the key: InvalidParameterValue

WRONG_SIGN_ALGORITHMS = [
    ("ASYMMETRIC_SIGN_VERIFY_ECC", "RSA_PSS_SHA_256"),
    ("ASYMMETRIC_SIGN_VERIFY_ECC", "SM2DSA"),
    ("ASYMMETRIC_SIGN_VERIFY_ECC", "ECDSA384_SHA384"),
    ("ASYMMETRIC_SIGN_VERIFY_ECDSA384", "ECC_P256_R1"),
    ("ASYMMETRIC_SIGN_VERIFY_RSA_2048", "ECC_P256_R1"),
    ("ASYMMETRIC_SIGN_VERIFY_RSA_3072", "SM2DSA"),
    ("ASYMMETRIC_SIGN_VERIFY_SM2", "ECC_P256_R1"),
    ("ASYMMETRIC_SIGN_VERIFY_SM2", "RSA_PKCS1_SHA_256"),
    ("ASYMMETRIC_SIGN_VERIFY_DILITHIUM", "RSA_PSS_SHA_256"),
    # the Tencent names of the ECDSA algorithms name the curve: not the other curve's key
    ("ASYMMETRIC_SIGN_VERIFY_ECC_SECP256K1", "ECC_P256_R1"),
    ("ASYMMETRIC_SIGN_VERIFY_ECC", "ECC_SECP256K1"),
    # not algorithms at all
    ("ASYMMETRIC_SIGN_VERIFY_RSA_2048", "RSA_PSS_SHA_512"),
    ("ASYMMETRIC_SIGN_VERIFY_ECC", "ecc_p256_r1"),
    ("ASYMMETRIC_SIGN_VERIFY_SM2", "SM2"),
]


@pytest.mark.parametrize("usage,algorithm", WRONG_SIGN_ALGORITHMS, ids=[f"{u}-{a}" for u, a in WRONG_SIGN_ALGORITHMS])
def test_wrong_signing_algorithm(client, keys, usage, algorithm):
    k = keys[usage]
    call_error(client, "SignByAsymmetricKey", BAD, KeyId=k, Algorithm=algorithm, Message=MSG)
    call_error(client, "VerifyByAsymmetricKey", BAD, KeyId=k, Algorithm=algorithm, Message=MSG,
               SignatureValue=b64(b"\x30\x06\x02\x01\x01\x02\x01\x01"))


WRONG_DECRYPT_ALGORITHMS = [
    ("AsymmetricRsaDecrypt", "ASYMMETRIC_DECRYPT_SM2", dict(Algorithm="RSAES_OAEP_SHA_256", Ciphertext=b64(b"\x01" * 256))),
    ("AsymmetricRsaDecrypt", "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES",
     dict(Algorithm="RSAES_PKCS1_V1_5", Ciphertext=b64(b"\x01" * 256))),
    ("AsymmetricRsaDecrypt", "ASYMMETRIC_DECRYPT_RSA_2048", dict(Algorithm="RSAES_OAEP_SHA_512", Ciphertext=b64(b"\x01" * 256))),
    ("AsymmetricRsaDecrypt", "ASYMMETRIC_DECRYPT_RSA_2048", dict(Algorithm="SM2", Ciphertext=b64(b"\x01" * 256))),
    ("AsymmetricSm2Decrypt", "ASYMMETRIC_DECRYPT_RSA_2048", dict(Ciphertext=b64(b"\x04" + b"\x01" * 120))),
    ("AsymmetricSm2Decrypt", "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES", dict(Ciphertext=b64(b"\x04" + b"\x01" * 120))),
]


@pytest.mark.parametrize("action,usage,fields", WRONG_DECRYPT_ALGORITHMS,
                         ids=[f"{a}-{u}-{f.get('Algorithm', '')}" for a, u, f in WRONG_DECRYPT_ALGORITHMS])
def test_wrong_decryption_algorithm(client, keys, action, usage, fields):
    call_error(client, action, BAD, KeyId=keys[usage], **fields)


def test_missing_algorithm_and_message(client, keys):
    k = keys["ASYMMETRIC_SIGN_VERIFY_ECC"]
    call_error(client, "SignByAsymmetricKey", "MissingParameter", KeyId=k, Message=MSG)
    call_error(client, "SignByAsymmetricKey", "MissingParameter", KeyId=k, Algorithm="ECC_P256_R1")
    call_error(client, "SignByAsymmetricKey", "MissingParameter", KeyId=k, Algorithm="ECC_P256_R1", Message="")
    call_error(client, "VerifyByAsymmetricKey", "MissingParameter", KeyId=k, Algorithm="ECC_P256_R1", Message=MSG)
    call_error(client, "AsymmetricRsaDecrypt", "MissingParameter", KeyId=keys["ASYMMETRIC_DECRYPT_RSA_2048"],
               Ciphertext=b64(b"\x01" * 256))
    call_error(client, "AsymmetricSm2Decrypt", "MissingParameter", KeyId=keys["ASYMMETRIC_DECRYPT_SM2"])


# --------------------------------------------------------------------------------------------
# Message and digest lengths

@pytest.mark.parametrize("usage,algorithm", SIGN_CASES, ids=[f"{u}-{a}" for u, a in SIGN_CASES])
def test_message_length_limit(client, keys, usage, algorithm):
    k = keys[usage]
    longest = os.urandom(4096)
    sig = sign(client, k, algorithm, longest)
    assert verify(client, k, algorithm, longest, sig)
    too_long = b64(longest + b"x")
    call_error(client, "SignByAsymmetricKey", BAD, KeyId=k, Algorithm=algorithm, Message=too_long)
    call_error(client, "SignByAsymmetricKey", BAD, KeyId=k, Algorithm=algorithm, Message=too_long, MessageType="RAW")
    call_error(client, "VerifyByAsymmetricKey", BAD, KeyId=k, Algorithm=algorithm, Message=too_long,
               SignatureValue=b64(sig))


@pytest.mark.parametrize("usage,algorithm", SIGN_CASES, ids=[f"{u}-{a}" for u, a in SIGN_CASES])
def test_digest_length(client, keys, usage, algorithm):
    """DIGEST messages are exactly 32 bytes (48 for ECDSA SHA-384), for Sign and Verify alike."""
    k = keys[usage]
    right = 48 if algorithm == "ECDSA384_SHA384" else 32
    for n in [x for x in (1, 16, 31, 32, 33, 47, 48, 49, 64, 4096) if x != right]:
        d = b64(os.urandom(n))
        call_error(client, "SignByAsymmetricKey", BAD, KeyId=k, Algorithm=algorithm, Message=d, MessageType="DIGEST")
        call_error(client, "VerifyByAsymmetricKey", BAD, KeyId=k, Algorithm=algorithm, Message=d,
                   MessageType="DIGEST", SignatureValue=b64(b"\x30\x06\x02\x01\x01\x02\x01\x01"))
    d = os.urandom(right)
    assert verify(client, k, algorithm, d, sign(client, k, algorithm, d, "DIGEST"), "DIGEST")


def test_unknown_message_type(client, keys):
    k = keys["ASYMMETRIC_SIGN_VERIFY_ECC"]
    d = b64(os.urandom(32))
    for mt in ["HASH", "raw", "digest", "RAW "]:
        call_error(client, "SignByAsymmetricKey", BAD, KeyId=k, Algorithm="ECC_P256_R1", Message=d, MessageType=mt)
        call_error(client, "VerifyByAsymmetricKey", BAD, KeyId=k, Algorithm="ECC_P256_R1", Message=d,
                   MessageType=mt, SignatureValue=d)


def test_digest_is_not_the_message(client, keys):
    """A DIGEST signature is over the given bytes as a digest: as RAW, the same bytes are a
    different message (whose digest is another), so the signature does not verify."""
    k = keys["ASYMMETRIC_SIGN_VERIFY_ECC"]
    d = os.urandom(32)
    sig = sign(client, k, "ECC_P256_R1", d, "DIGEST")
    assert verify(client, k, "ECC_P256_R1", d, sig, "DIGEST") is True
    assert verify(client, k, "ECC_P256_R1", d, sig, "RAW") is False
    assert verify(client, k, "ECC_P256_R1", d, sig) is False  # RAW is the default


# --------------------------------------------------------------------------------------------
# Ciphertext sizes


def test_sm2_ciphertext_over_256_bytes(client, keys):
    k = keys["ASYMMETRIC_DECRYPT_SM2"]
    for n in (257, 300, 1024):
        call_error(client, "AsymmetricSm2Decrypt", BAD, KeyId=k, Ciphertext=b64(b"\x04" + os.urandom(n - 1)))
        call_error(client, "AsymmetricSm2Decrypt", BAD, KeyId=k, Ciphertext=b64(b"\x30" + os.urandom(n - 1)))
    # at the limit it is read (and this one, random, does not decrypt)
    call_error(client, "AsymmetricSm2Decrypt", "FailedOperation.DecryptError", KeyId=k,
               Ciphertext=b64(b"\x04" + os.urandom(255)))


@pytest.mark.parametrize("usage,lengths", [("ASYMMETRIC_DECRYPT_RSA_2048", [1, 128, 255, 257, 384, 512]),
                                           ("ASYMMETRIC_DECRYPT_RSA_3072", [1, 256, 383, 385, 512])])
def test_rsa_ciphertext_not_the_modulus_size(client, keys, usage, lengths):
    k = keys[usage]
    for n in lengths:
        for alg in ("RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"):
            call_error(client, "AsymmetricRsaDecrypt", BAD, KeyId=k, Algorithm=alg, Ciphertext=b64(os.urandom(n)))
    # the modulus size with a value below the modulus that is no valid padding: DecryptError
    n = USAGES[usage].size // 8
    call_error(client, "AsymmetricRsaDecrypt", "FailedOperation.DecryptError", KeyId=k,
               Algorithm="RSAES_OAEP_SHA_256", Ciphertext=b64(b"\x00" + os.urandom(n - 1)))


# --------------------------------------------------------------------------------------------
# Signatures that do not verify: false, not an error


@pytest.mark.parametrize("usage,algorithm", SIGN_CASES, ids=[f"{u}-{a}" for u, a in SIGN_CASES])
def test_corrupted_signature_is_false(client, keys, usage, algorithm):
    k = keys[usage]
    msg = os.urandom(100)
    sig = sign(client, k, algorithm, msg)
    assert verify(client, k, algorithm, msg, sig) is True
    for i in (0, 1, len(sig) // 2, -1):
        assert verify(client, k, algorithm, msg, flip(sig, i, 0x10)) is False, f"flipped byte {i}"
    for bad in (sig[:-1], sig + b"\x00", b"\x00", os.urandom(len(sig)), sig[::-1], b"\x30\x00"):
        assert verify(client, k, algorithm, msg, bad) is False
    assert verify(client, k, algorithm, flip(msg, 5), sig) is False
    # the signature of another key of the same usage
    other = new_key(client, usage)
    assert verify(client, other, algorithm, msg, sig) is False


# --------------------------------------------------------------------------------------------
# Fields that are not base64

NOT_BASE64 = ["not base64!", "%%%%", "YWJj$", "YW Jj\x00"]


def test_fields_not_base64(client, keys):
    s = keys["ASYMMETRIC_SIGN_VERIFY_ECC"]
    good = b64(b"message")
    for text in NOT_BASE64:
        call_error(client, "SignByAsymmetricKey", BAD, KeyId=s, Algorithm="ECC_P256_R1", Message=text)
        call_error(client, "VerifyByAsymmetricKey", BAD, KeyId=s, Algorithm="ECC_P256_R1", Message=text,
                   SignatureValue=good)
        call_error(client, "VerifyByAsymmetricKey", BAD, KeyId=s, Algorithm="ECC_P256_R1", Message=good,
                   SignatureValue=text)
        call_error(client, "AsymmetricRsaDecrypt", BAD, KeyId=keys["ASYMMETRIC_DECRYPT_RSA_2048"],
                   Algorithm="RSAES_OAEP_SHA_256", Ciphertext=text)
        call_error(client, "AsymmetricSm2Decrypt", BAD, KeyId=keys["ASYMMETRIC_DECRYPT_SM2"], Ciphertext=text)


# --------------------------------------------------------------------------------------------
# Key states


def test_disabled_key(client):
    sk = new_key(client, "ASYMMETRIC_SIGN_VERIFY_ECC")
    rk = new_key(client, "ASYMMETRIC_DECRYPT_RSA_2048")
    mk = new_key(client, "ASYMMETRIC_DECRYPT_SM2")
    msg = b"signed while enabled"
    sig = sign(client, sk, "ECC_P256_R1", msg)
    pub = call(client, "GetPublicKey", KeyId=rk).PublicKey
    for k in (sk, rk, mk):
        call(client, "DisableKey", KeyId=k)
        assert describe(client, k).KeyState == "Disabled"
    off = "ResourceUnavailable.CmkDisabled"
    for k in (sk, rk, mk):
        call_error(client, "GetPublicKey", off, KeyId=k)
    call_error(client, "SignByAsymmetricKey", off, KeyId=sk, Algorithm="ECC_P256_R1", Message=b64(msg))
    call_error(client, "VerifyByAsymmetricKey", off, KeyId=sk, Algorithm="ECC_P256_R1", Message=b64(msg),
               SignatureValue=b64(sig))
    call_error(client, "AsymmetricRsaDecrypt", off, KeyId=rk, Algorithm="RSAES_OAEP_SHA_256",
               Ciphertext=b64(os.urandom(256)))
    call_error(client, "AsymmetricSm2Decrypt", off, KeyId=mk, Ciphertext=b64(b"\x04" + os.urandom(120)))
    for k in (sk, rk, mk):
        call(client, "EnableKey", KeyId=k)
    assert verify(client, sk, "ECC_P256_R1", msg, sig) is True
    assert call(client, "GetPublicKey", KeyId=rk).PublicKey == pub


def test_pending_delete_key(client):
    k = new_key(client, "ASYMMETRIC_SIGN_VERIFY_SM2")
    call(client, "DisableKey", KeyId=k)
    call(client, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=7)
    gone = "ResourceUnavailable.KeyPendingDelete"
    call_error(client, "GetPublicKey", gone, KeyId=k)
    call_error(client, "SignByAsymmetricKey", gone, KeyId=k, Algorithm="SM2DSA", Message=MSG)
    call(client, "CancelKeyDeletion", KeyId=k)
    call(client, "EnableKey", KeyId=k)
    assert sign(client, k, "SM2DSA", b"back")


@pytest.mark.parametrize("usage", ALL_USAGES)
def test_asymmetric_keys_do_not_rotate(client, usage):
    k = new_key(client, usage)
    pub = call(client, "GetPublicKey", KeyId=k).PublicKey
    call_error(client, "RotateKey", "UnsupportedOperation.RotateNotSupported", KeyId=k)
    call_error(client, "EnableKeyRotation", "UnsupportedOperation", KeyId=k, RotateDays=30)
    assert call(client, "GetKeyRotationStatus", KeyId=k).KeyRotationEnabled is False
    md = describe(client, k)
    assert md.KeyRotationEnabled is False and md.LastRotateTime == 0
    assert call(client, "GetPublicKey", KeyId=k).PublicKey == pub


def test_unknown_keys(client):
    k = str(uuid.uuid4())
    nf = "ResourceUnavailable.CmkNotFound"
    call_error(client, "SignByAsymmetricKey", nf, KeyId=k, Algorithm="ECC_P256_R1", Message=MSG)
    call_error(client, "VerifyByAsymmetricKey", nf, KeyId=k, Algorithm="ECC_P256_R1", Message=MSG, SignatureValue=MSG)
    call_error(client, "AsymmetricRsaDecrypt", nf, KeyId=k, Algorithm="RSAES_OAEP_SHA_256", Ciphertext=b64(b"\1" * 256))
    call_error(client, "AsymmetricSm2Decrypt", nf, KeyId=k, Ciphertext=b64(b"\4" * 120))


def test_keys_are_per_account(server, keys):
    """Another account cannot see, sign with or read the public half of this account's keys."""
    other = fresh_client(server)
    nf = "ResourceUnavailable.CmkNotFound"
    call_error(other, "GetPublicKey", nf, KeyId=keys["ASYMMETRIC_SIGN_VERIFY_ECC"])
    call_error(other, "SignByAsymmetricKey", nf, KeyId=keys["ASYMMETRIC_SIGN_VERIFY_ECC"],
               Algorithm="ECC_P256_R1", Message=MSG)
    call_error(other, "AsymmetricRsaDecrypt", nf, KeyId=keys["ASYMMETRIC_DECRYPT_RSA_2048"],
               Algorithm="RSAES_OAEP_SHA_256", Ciphertext=b64(b"\1" * 256))
