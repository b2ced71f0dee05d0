"""Interop of the Tencent asymmetric actions with implementations that are not ferrokms'.

What a client does locally with GetPublicKey's answer must agree with what ferrokms does with the
private half:
* `openssl pkeyutl -encrypt` (OpenSSL 3) and Python `cryptography` encrypt (RSA PKCS#1 v1.5,
  OAEP SHA-1, OAEP SHA-256), `openssl pkeyutl -encrypt` (SM2, GM/T 0009 DER) and gmssl (raw
  C1C3C2) encrypt; AsymmetricRsaDecrypt / AsymmetricSm2Decrypt return the plaintext, also for the
  raw form built here from OpenSSL's DER (INTEGERs left-padded to 32 bytes, with and without 04).
* SignByAsymmetricKey (RAW and DIGEST) verifies with `openssl dgst -verify`, `openssl pkeyutl
  -verify`, `cryptography` and, for SM2, gmssl; VerifyByAsymmetricKey accepts a RAW signature for
  the digest the test computed and the other way round.
* Signatures made elsewhere: a key held by the KMS can only be used to sign by the KMS, so what
  OpenSSL, `cryptography` and gmssl sign (with their own keys of the same type) must be false, and
  the verdict on a ferrokms signature re-encoded elsewhere (ECDSA's (r, n - s), non-minimal DER)
  must be the one OpenSSL gives. A flipped bit of message or signature is false, not an error.
"""
from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature

from asym_helpers import (
    OPENSSL_RSA, SIGN_CASES, SM2_CURVE, USAGES, cryptography_rsa_padding, cryptography_verify, digest, flip,
    get_public, gmssl_for, load_public, new_key, openssl_dgst_sign, openssl_dgst_verify, openssl_encrypt,
    openssl_key, openssl_pkeyutl_verify, rsa_capacity, sign, sm2_e, sm2_za, sm3, verify,
    write_pub,
)
from conftest import tencent_client
from interop_helpers import _text_field, _tlv, der_int, gmssl_encrypt, run, sm2_der_parse, sm2_der_to_raw
from kmsutil import b64, call, call_error, unb64

RSA_ALGS = list(OPENSSL_RSA)
HUNT_LIMIT = 1500  # openssl encryptions while looking for a coordinate below 2^248 (p ~ 2/256 each)


@pytest.fixture(scope="module")
def client(server):
    return tencent_client(server.endpoint)


@pytest.fixture(scope="module")
def keys(client):
    return {u: new_key(client, u) for u, v in USAGES.items() if v.family in ("rsa", "ec", "sm2")}


@pytest.fixture(scope="module")
def pubs(client, keys, tmp_path_factory):
    """usage -> (PublicKey, PEM file, DER file)."""
    d = tmp_path_factory.mktemp("asym-pubs")
    out = {}
    for usage, k in keys.items():
        pub = get_public(client, k, USAGES[usage].family)
        out[usage] = (pub, *write_pub(d / usage, pub))
    return out


def rsa_decrypt(client, key_id: str, alg: str, ciphertext: bytes) -> bytes:
    r = call(client, "AsymmetricRsaDecrypt", KeyId=key_id, Algorithm=alg, Ciphertext=b64(ciphertext))
    assert r.KeyId == key_id
    return unb64(r.Plaintext)


def sm2_decrypt(client, key_id: str, ciphertext: bytes) -> bytes:
    r = call(client, "AsymmetricSm2Decrypt", KeyId=key_id, Ciphertext=b64(ciphertext))
    assert r.KeyId == key_id
    return unb64(r.Plaintext)


# --------------------------------------------------------------------------------------------
# The oracles themselves (no server): a failure below is then the server's


def test_oracle_sm2_digest_matches_openssl(tmp_path):
    """e = SM3(Z_A || M) as computed here is what OpenSSL signs for the default id, and SM3 is SM3."""
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905 A.1
    priv = openssl_key(tmp_path, "sm2")
    der = run(["openssl", "pkey", "-in", str(priv), "-pubout", "-outform", "DER"])
    pub_pem = tmp_path / "pub.pem"
    pub_pem.write_bytes(run(["openssl", "pkey", "-in", str(priv), "-pubout"]))
    point, _ = load_public(der, "sm2")
    msg = os.urandom(77)
    sig = openssl_dgst_sign(tmp_path, priv, "sm3", "SM2DSA", msg)
    assert openssl_pkeyutl_verify(tmp_path, pub_pem, "sm3", "SM2DSA", sm2_e(point, msg), sig)
    assert not openssl_pkeyutl_verify(tmp_path, pub_pem, "sm3", "SM2DSA", sm3(sm2_za(point, b"another id") + msg), sig)
    r, s = decode_dss_signature(sig)
    assert gmssl_for(point).verify_with_sm3(f"{r:064x}{s:064x}", msg)
    assert not gmssl_for(point).verify_with_sm3(f"{r:064x}{s:064x}", flip(msg))


def test_oracle_openssl_sm2_ciphertext_converts(tmp_path):
    """OpenSSL's DER, the raw form made from it here, and gmssl's decryption agree."""
    from gmssl import sm2 as gsm2

    priv = openssl_key(tmp_path, "sm2")
    text = run(["openssl", "pkey", "-in", str(priv), "-noout", "-text"]).decode()
    pub_pem = tmp_path / "pub.pem"
    pub_pem.write_bytes(run(["openssl", "pkey", "-in", str(priv), "-pubout"]))
    d = int.from_bytes(_text_field(text, "priv"), "big")
    xy = _text_field(text, "pub")[1:]
    for m in (b"a", os.urandom(100)):
        der = openssl_encrypt(tmp_path, pub_pem, m, [])
        raw = sm2_der_to_raw(der)
        c = gsm2.CryptSM2(private_key=f"{d:064x}", public_key="", mode=1)
        c.public_key = xy.hex()
        assert c.decrypt(raw[1:]) == m


# --------------------------------------------------------------------------------------------
# RSA: OpenSSL and cryptography encrypt, ferrokms decrypts

RSA_DECRYPT = ["ASYMMETRIC_DECRYPT_RSA_2048", "ASYMMETRIC_DECRYPT_RSA_3072"]


@pytest.mark.parametrize("alg", RSA_ALGS)
@pytest.mark.parametrize("usage", RSA_DECRYPT)
def test_openssl_rsa_encrypt_kms_decrypts(client, keys, pubs, tmp_path, usage, alg):
    pub, pem, der = pubs[usage]
    cap = rsa_capacity(USAGES[usage].size, alg)
    for n, from_der in [(1, False), (32, True), (cap, False), (cap, True)]:
        m = os.urandom(n)
        ct = openssl_encrypt(tmp_path, der if from_der else pem, m, OPENSSL_RSA[alg], der=from_der)
        assert len(ct) == USAGES[usage].size // 8
        assert rsa_decrypt(client, keys[usage], alg, ct) == m, (n, from_der)
    # the explicit MGF1 spelling is the same scheme
    if alg != "RSAES_PKCS1_V1_5":
        md = "sha1" if alg == "RSAES_OAEP_SHA_1" else "sha256"
        m = os.urandom(20)
        ct = openssl_encrypt(tmp_path, pem, m, ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", f"rsa_oaep_md:{md}",
                                                "-pkeyopt", f"rsa_mgf1_md:{md}"])
        assert rsa_decrypt(client, keys[usage], alg, ct) == m


@pytest.mark.parametrize("alg", RSA_ALGS)
@pytest.mark.parametrize("usage", RSA_DECRYPT)
def test_cryptography_rsa_encrypt_kms_decrypts(client, keys, pubs, usage, alg):
    pub = pubs[usage][0].key
    for n in (1, 64, rsa_capacity(USAGES[usage].size, alg)):
        m = os.urandom(n)
        assert rsa_decrypt(client, keys[usage], alg, pub.encrypt(m, cryptography_rsa_padding(alg))) == m


@pytest.mark.parametrize("usage", RSA_DECRYPT)
def test_rsa_decrypt_with_the_wrong_padding_or_key(client, keys, pubs, tmp_path, usage):
    pub, pem, _ = pubs[usage]
    k = keys[usage]
    m = os.urandom(16)
    err = "FailedOperation.DecryptError"
    oaep256 = openssl_encrypt(tmp_path, pem, m, OPENSSL_RSA["RSAES_OAEP_SHA_256"])
    oaep1 = openssl_encrypt(tmp_path, pem, m, OPENSSL_RSA["RSAES_OAEP_SHA_1"])
    pkcs1 = openssl_encrypt(tmp_path, pem, m, OPENSSL_RSA["RSAES_PKCS1_V1_5"])
    # OAEP checks its label hash, so these cannot decrypt by chance (PKCS#1 v1.5 of an OAEP
    # block could, about once in 400, so that direction is not asserted)
    for ct, alg in [(oaep256, "RSAES_OAEP_SHA_1"), (oaep1, "RSAES_OAEP_SHA_256"), (pkcs1, "RSAES_OAEP_SHA_256"),
                    (pkcs1, "RSAES_OAEP_SHA_1"), (flip(oaep256, 100), "RSAES_OAEP_SHA_256")]:
        call_error(client, "AsymmetricRsaDecrypt", err, KeyId=k, Algorithm=alg, Ciphertext=b64(ct))
    # encrypted to another RSA key of the same size
    other = openssl_key(tmp_path, "rsa", USAGES[usage].size)
    other_pub = tmp_path / "other.pem"
    other_pub.write_bytes(run(["openssl", "pkey", "-in", str(other), "-pubout"]))
    ct = openssl_encrypt(tmp_path, other_pub, m, OPENSSL_RSA["RSAES_OAEP_SHA_256"])
    call_error(client, "AsymmetricRsaDecrypt", err, KeyId=k, Algorithm="RSAES_OAEP_SHA_256", Ciphertext=b64(ct))


# --------------------------------------------------------------------------------------------
# SM2: OpenSSL (DER) and gmssl (raw) encrypt, ferrokms decrypts every layout


def _layouts(der: bytes) -> dict[str, bytes]:
    raw = sm2_der_to_raw(der)  # 04 || x || y || C3 || C2, the INTEGERs left-padded to 32 bytes
    return {"der": der, "raw-04": raw, "raw": raw[1:]}


def test_openssl_sm2_encrypt_kms_decrypts(client, keys, pubs, tmp_path):
    k = keys["ASYMMETRIC_DECRYPT_SM2"]
    pem = pubs["ASYMMETRIC_DECRYPT_SM2"][1]
    for n in (1, 16, 32, 100, 140):
        m = os.urandom(n)
        der = openssl_encrypt(tmp_path, pem, m, [])
        sm2_der_parse(der)  # OpenSSL wrote GM/T 0009 DER
        for name, ct in _layouts(der).items():
            assert sm2_decrypt(client, k, ct) == m, (n, name)


def test_sm2_short_coordinates(client, keys, pubs, tmp_path):
    """A C1 coordinate below 2^248 is a short DER INTEGER: the DER and the left-padded raw form
    must both decrypt (OpenSSL is run until one comes up)."""
    k = keys["ASYMMETRIC_DECRYPT_SM2"]
    pem = pubs["ASYMMETRIC_DECRYPT_SM2"][1]
    m = b"short coordinate"
    for _ in range(HUNT_LIMIT):
        der = openssl_encrypt(tmp_path, pem, m, [])
        p = sm2_der_parse(der)
        if len(p.x.lstrip(b"\x00")) < 32 or len(p.y.lstrip(b"\x00")) < 32:
            break
    else:
        pytest.fail(f"no short coordinate in {HUNT_LIMIT} OpenSSL encryptions")
    for name, ct in _layouts(der).items():
        assert sm2_decrypt(client, k, ct) == m, name


def test_gmssl_sm2_encrypt_kms_decrypts(client, keys, pubs):
    k = keys["ASYMMETRIC_DECRYPT_SM2"]
    point = pubs["ASYMMETRIC_DECRYPT_SM2"][0].key
    for n in (1, 32, 159):
        m = os.urandom(n)
        ct = gmssl_encrypt(gmssl_for(point), m)  # x || y || C3 || C2, no 04
        assert len(ct) == 96 + n
        assert sm2_decrypt(client, k, ct) == m
        assert sm2_decrypt(client, k, b"\x04" + ct) == m
    # 04 || C1 || C3 || C2 of 257 bytes is over the documented 256
    m = os.urandom(160)
    ct = gmssl_encrypt(gmssl_for(point), m)
    assert sm2_decrypt(client, k, ct) == m  # 256 bytes without the 04: within the limit
    call_error(client, "AsymmetricSm2Decrypt", "InvalidParameterValue", KeyId=k, Ciphertext=b64(b"\x04" + ct))


def test_sm2_tampered_or_foreign_ciphertexts(client, keys, pubs, tmp_path):
    k = keys["ASYMMETRIC_DECRYPT_SM2"]
    pem = pubs["ASYMMETRIC_DECRYPT_SM2"][1]
    m = os.urandom(40)
    raw = sm2_der_to_raw(openssl_encrypt(tmp_path, pem, m, []))
    err = "FailedOperation.DecryptError"
    for where in (65 + 3, 97 + 5, len(raw) - 1):  # C3, C2, C2's last byte
        call_error(client, "AsymmetricSm2Decrypt", err, KeyId=k, Ciphertext=b64(flip(raw, where)))
    # C3 and C2 swapped in place is the C1C2C3 layout: not what Tencent's SM2 means
    c1c2c3 = raw[:65] + raw[97:] + raw[65:97]
    call_error(client, "AsymmetricSm2Decrypt", err, KeyId=k, Ciphertext=b64(c1c2c3))
    # encrypted to another SM2 key
    other = openssl_key(tmp_path, "sm2")
    other_pub = tmp_path / "other.pem"
    other_pub.write_bytes(run(["openssl", "pkey", "-in", str(other), "-pubout"]))
    der = openssl_encrypt(tmp_path, other_pub, m, [])
    for name, ct in _layouts(der).items():
        call_error(client, "AsymmetricSm2Decrypt", err, KeyId=k, Ciphertext=b64(ct))


def test_sm2_c1_not_on_the_curve(client, keys, pubs, tmp_path):
    k = keys["ASYMMETRIC_DECRYPT_SM2"]
    pem = pubs["ASYMMETRIC_DECRYPT_SM2"][1]
    raw = sm2_der_to_raw(openssl_encrypt(tmp_path, pem, b"on the curve", []))
    off = flip(raw, 40)  # y changed: (x, y') is not a point of the curve
    x, y = int.from_bytes(off[1:33], "big"), int.from_bytes(off[33:65], "big")
    p = SM2_CURVE["p"]
    assert (y * y - (x ** 3 + SM2_CURVE["a"] * x + SM2_CURVE["b"])) % p != 0
    der = _tlv(0x30, der_int(off[1:33]) + der_int(off[33:65]) + _tlv(0x04, off[65:97]) + _tlv(0x04, off[97:]))
    for ct in (off, off[1:], der):
        call_error(client, "AsymmetricSm2Decrypt", "FailedOperation.DecryptError", KeyId=k, Ciphertext=b64(ct))


# --------------------------------------------------------------------------------------------
# Signatures: ferrokms signs, others verify (RAW and DIGEST)


def _others_verify(workdir, pub, pem, usage, alg, message, sig) -> dict[str, bool]:
    u = USAGES[usage]
    verdicts = {"openssl dgst": openssl_dgst_verify(workdir, pem, u.hash_name, alg, message, sig),
                "openssl pkeyutl": openssl_pkeyutl_verify(workdir, pem, u.hash_name, alg,
                                                          digest(u.hash_name, message, pub.key), sig)}
    if u.family == "sm2":
        r, s = decode_dss_signature(sig)
        verdicts["gmssl"] = bool(gmssl_for(pub.key).verify_with_sm3(f"{r:064x}{s:064x}", message))
    else:
        verdicts["cryptography"] = cryptography_verify(pub.key, alg, message, sig)
        verdicts["cryptography prehashed"] = cryptography_verify(
            pub.key, alg, digest(u.hash_name, message), sig, prehashed=True)
    return verdicts


@pytest.mark.parametrize("usage,alg", SIGN_CASES, ids=[f"{u}-{a}" for u, a in SIGN_CASES])
def test_kms_signatures_verify_elsewhere(client, keys, pubs, tmp_path, usage, alg):
    pub, pem, _ = pubs[usage]
    k = keys[usage]
    for message in (b"x", os.urandom(1000), os.urandom(4096)):
        raw_sig = sign(client, k, alg, message)
        v = _others_verify(tmp_path, pub, pem, usage, alg, message, raw_sig)
        assert all(v.values()), f"RAW signature refused: {v}"
        d = digest(USAGES[usage].hash_name, message, pub.key)
        digest_sig = sign(client, k, alg, d, "DIGEST")
        v = _others_verify(tmp_path, pub, pem, usage, alg, message, digest_sig)
        assert all(v.values()), f"DIGEST signature refused: {v}"
        # ferrokms agrees the two are signatures of the same message
        assert verify(client, k, alg, message, digest_sig) is True
        assert verify(client, k, alg, d, raw_sig, "DIGEST") is True
        assert verify(client, k, alg, d, digest_sig, "DIGEST") is True
        # a flipped bit: everyone says no
        bad_msg = flip(message, len(message) // 2)
        v = _others_verify(tmp_path, pub, pem, usage, alg, bad_msg, raw_sig)
        assert not any(v.values()), f"flipped message accepted: {v}"
        assert verify(client, k, alg, bad_msg, raw_sig) is False
        assert verify(client, k, alg, flip(d, 0), digest_sig, "DIGEST") is False
        assert verify(client, k, alg, message, flip(raw_sig, len(raw_sig) // 2)) is False


@pytest.mark.parametrize("usage", ["ASYMMETRIC_SIGN_VERIFY_RSA_2048", "ASYMMETRIC_SIGN_VERIFY_RSA_3072"])
def test_rsa_pss_is_randomized_and_pkcs1_deterministic(client, keys, pubs, usage):
    k = keys[usage]
    m = os.urandom(64)
    assert sign(client, k, "RSA_PKCS1_SHA_256", m) == sign(client, k, "RSA_PKCS1_SHA_256", m)
    a, b = sign(client, k, "RSA_PSS_SHA_256", m), sign(client, k, "RSA_PSS_SHA_256", m)
    assert a != b, "two PSS signatures with the same salt"
    # the PSS salt is 32 bytes: a verifier that insists on another salt length refuses it
    pub = pubs[usage][0].key
    from cryptography.exceptions import InvalidSignature
    with pytest.raises(InvalidSignature):
        pub.verify(a, m, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20), hashes.SHA256())
    pub.verify(a, m, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO), hashes.SHA256())


# --------------------------------------------------------------------------------------------
# Signatures made elsewhere


@pytest.mark.parametrize("usage,alg", SIGN_CASES, ids=[f"{u}-{a}" for u, a in SIGN_CASES])
def test_signatures_of_other_keys_are_false(client, keys, tmp_path, usage, alg):
    """OpenSSL (and cryptography, gmssl) sign with a key of the same type that is not the KMS's:
    valid signatures of that key, and false (not an error) for the KMS key, RAW and DIGEST."""
    u = USAGES[usage]
    k = keys[usage]
    priv = openssl_key(tmp_path, u.family, u.size if u.family == "rsa" else 0, u.curve)
    own_pub = tmp_path / "own.pem"
    own_pub.write_bytes(run(["openssl", "pkey", "-in", str(priv), "-pubout"]))
    own_der = run(["openssl", "pkey", "-in", str(priv), "-pubout", "-outform", "DER"])
    message = os.urandom(200)
    sig = openssl_dgst_sign(tmp_path, priv, u.hash_name, alg, message)
    assert openssl_dgst_verify(tmp_path, own_pub, u.hash_name, alg, message, sig), "openssl's own signature"
    assert verify(client, k, alg, message, sig) is False
    own_key, _ = load_public(own_der, u.family)
    assert verify(client, k, alg, digest(u.hash_name, message, own_key), sig, "DIGEST") is False
    if u.family == "sm2":
        text = run(["openssl", "pkey", "-in", str(priv), "-noout", "-text"]).decode()
        g = gmssl_for(own_key)
        g.private_key = _text_field(text, "priv").hex().rjust(64, "0")
        rs = g.sign_with_sm3(message)
        assert g.verify_with_sm3(rs, message), "gmssl's own signature"
        other = encode_dss_signature(int(rs[:64], 16), int(rs[64:], 16))
    else:
        sk = serialization.load_pem_private_key(priv.read_bytes(), password=None)
        h = hashes.SHA384() if alg == "ECDSA384_SHA384" else hashes.SHA256()
        if u.family == "ec":
            other = sk.sign(message, ec.ECDSA(h))
        elif alg == "RSA_PSS_SHA_256":
            other = sk.sign(message, padding.PSS(mgf=padding.MGF1(h), salt_length=32), h)
        else:
            other = sk.sign(message, padding.PKCS1v15(), h)
        assert cryptography_verify(sk.public_key(), alg, message, other), "cryptography's own signature"
    assert verify(client, k, alg, message, other) is False


EC_AND_SM2 = [(u, a) for u, a in SIGN_CASES if USAGES[u].family in ("ec", "sm2")]
CURVE_ORDER = {"secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
               "secp384r1": int("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
                                "581a0db248b0a77aecec196accc52973", 16),
               "secp256k1": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
               "": SM2_CURVE["n"]}


@pytest.mark.parametrize("usage,alg", EC_AND_SM2, ids=[f"{u}-{a}" for u, a in EC_AND_SM2])
def test_reencoded_signatures(client, keys, pubs, tmp_path, usage, alg):
    """(r, n - s) is another valid ECDSA signature of the same key and message (not an SM2DSA one,
    whose check uses r + s): ferrokms gives OpenSSL's verdict. Encodings that are not DER are
    false, never an error (OpenSSL 3.0's `dgst -verify` overlooks trailing bytes after the
    SEQUENCE, so it is no oracle for those; DER is what the spec's examples show)."""
    pub, pem, _ = pubs[usage]
    u = USAGES[usage]
    k = keys[usage]
    message = os.urandom(50)
    sig = sign(client, k, alg, message)
    r, s = decode_dss_signature(sig)
    malleated = encode_dss_signature(r, CURVE_ORDER[u.curve] - s)
    expected = openssl_dgst_verify(tmp_path, pem, u.hash_name, alg, message, malleated)
    assert expected is (u.family == "ec"), "OpenSSL's verdict on (r, n - s)"
    assert verify(client, k, alg, message, malleated) is expected
    ri, si = r.to_bytes((r.bit_length() + 7) // 8, "big"), s.to_bytes((s.bit_length() + 7) // 8, "big")
    not_der = {
        "non-minimal r": _tlv(0x30, _tlv(0x02, b"\x00\x00" + ri) + der_int(si)),
        "trailing byte": sig + b"\x00",
        "r only": _tlv(0x30, der_int(ri)),
        "raw r||s": r.to_bytes(u.size // 8, "big") + s.to_bytes(u.size // 8, "big"),
        "long-form length": b"\x30\x81" + bytes([len(sig) - 2]) + sig[2:],
    }
    for name, variant in not_der.items():
        assert verify(client, k, alg, message, variant) is False, name
    assert verify(client, k, alg, message, sig) is True


def test_secp256k1_with_cryptography(client, keys, pubs):
    """secp256k1 (ferrokms' ASYMMETRIC_SIGN_VERIFY_ECC_SECP256K1) against Python cryptography."""
    usage = "ASYMMETRIC_SIGN_VERIFY_ECC_SECP256K1"
    pub = pubs[usage][0].key
    assert isinstance(pub.curve, ec.SECP256K1)
    k = keys[usage]
    for _ in range(5):
        m = os.urandom(300)
        pub.verify(sign(client, k, "ECC_SECP256K1", m), m, ec.ECDSA(hashes.SHA256()))
        d = hashlib.sha256(m).digest()
        pub.verify(sign(client, k, "ECC_SECP256K1", d, "DIGEST"), d, ec.ECDSA(Prehashed(hashes.SHA256())))
