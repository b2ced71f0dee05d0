"""Post-quantum keys through the Tencent dialect (official Python SDK):
PostQuantumCryptoEncrypt / Decrypt (ML-KEM-768 + AES-256-GCM, usage
`ASYMMETRIC_Encrypt_Decrypt_Kyber_AES`; note the `PlainText` spelling) and PostQuantumCryptoSign /
Verify (ML-DSA-65, usage `ASYMMETRIC_SIGN_VERIFY_DILITHIUM`).

Independent implementations: Python `cryptography` (OpenSSL 3.5+ inside its wheel) verifies the
ML-DSA signatures with GetPublicKey's key, and builds a post-quantum blob of its own from the
documented format (docs/ciphertext-format.md: ML-KEM-768 encapsulation to GetPublicKey's `ek`,
AES-256-GCM under the shared secret) that ferrokms must open. The other direction (opening a
ferrokms body elsewhere) needs the decapsulation key, which never leaves the KMS: a Rust test of
the crypto crate covers it with the seed.
"""
from __future__ import annotations

import os
import struct
import uuid

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import tc3
from asym_helpers import flip, get_public, new_key
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, create_account, tencent_client
from interop_helpers import make_key, unwrap
from kmsutil import b64, call, call_error, create_key, describe, unb64

KEM = "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES"
DSA = "ASYMMETRIC_SIGN_VERIFY_DILITHIUM"
HEADER = 25                      # "FK", format 2, KEM 1, payload kind, key id (16), version (u32 BE)
KEM_CT, NONCE, TAG = 1088, 12, 16
OVERHEAD = HEADER + KEM_CT + NONCE + TAG
ML_DSA_65_SIGNATURE = 3309
BAD_BLOB = "InvalidParameterValue.InvalidCiphertext"
DECRYPT_ERROR = "FailedOperation.DecryptError"


@pytest.fixture(scope="module")
def client(server):
    return tencent_client(server.endpoint)


@pytest.fixture(scope="module")
def kem(client):
    return new_key(client, KEM)


@pytest.fixture(scope="module")
def dsa(client):
    return new_key(client, DSA)


@pytest.fixture(scope="module")
def wrap_keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("pq-wrap-keys")
    return {"rsa2048": make_key(d, "rsa", 2048), "rsa3072": make_key(d, "rsa", 3072), "sm2": make_key(d, "sm2")}


def pq_encrypt(client, key_id: str, data: bytes) -> bytes:
    r = call(client, "PostQuantumCryptoEncrypt", KeyId=key_id, PlainText=b64(data))
    assert r.KeyId == key_id, r.to_json_string()
    return unb64(r.CiphertextBlob)


def pq_decrypt(client, blob: bytes, **fields) -> tuple[str, bytes]:
    r = call(client, "PostQuantumCryptoDecrypt", CiphertextBlob=b64(blob), **fields)
    return r.KeyId, unb64(r.PlainText)


def header(key_id: str, version: int = 1, payload: int = 0) -> bytes:
    return b"FK\x02\x01" + bytes([payload]) + uuid.UUID(key_id).bytes + struct.pack(">I", version)


# --------------------------------------------------------------------------------------------
# Encrypt / Decrypt


@pytest.mark.parametrize("n", [1, 32, 1000, 4096])
def test_round_trip(client, kem, n):
    data = os.urandom(n)
    blob = pq_encrypt(client, kem, data)
    assert len(blob) == OVERHEAD + n, len(blob)
    assert blob[:HEADER] == header(kem), blob[:HEADER].hex()
    assert pq_decrypt(client, blob) == (kem, data)
    # a fresh encapsulation and nonce every time
    again = pq_encrypt(client, kem, data)
    assert again[HEADER:HEADER + KEM_CT] != blob[HEADER:HEADER + KEM_CT]
    assert again[HEADER + KEM_CT:HEADER + KEM_CT + NONCE] != blob[HEADER + KEM_CT:HEADER + KEM_CT + NONCE]
    assert pq_decrypt(client, again) == (kem, data)


def test_plaintext_limits(client, kem, server):
    call_error(client, "PostQuantumCryptoEncrypt", "InvalidParameterValue.InvalidPlaintext", KeyId=kem,
               PlainText=b64(os.urandom(4097)))
    call_error(client, "PostQuantumCryptoEncrypt", "MissingParameter", KeyId=kem, PlainText="")
    call_error(client, "PostQuantumCryptoEncrypt", "MissingParameter", KeyId=kem)
    for text in ("not base64!", "%%%%", "YWJj$"):
        call_error(client, "PostQuantumCryptoEncrypt", "InvalidParameterValue.InvalidPlaintext", KeyId=kem,
                   PlainText=text)
    # the field is `PlainText`: Encrypt's spelling is not a field of this action
    r = tc3.post(server.endpoint, "PostQuantumCryptoEncrypt", {"KeyId": kem, "Plaintext": b64(b"x")},
                 ACCESS_KEY_ID, ACCESS_KEY_SECRET).json()["Response"]
    assert r.get("Error", {}).get("Code") == "UnknownParameter", r
    # and the answer of Decrypt spells it `PlainText` too (the SDK model reads that field)
    r = tc3.post(server.endpoint, "PostQuantumCryptoDecrypt",
                 {"CiphertextBlob": b64(pq_encrypt(client, kem, b"spelling"))},
                 ACCESS_KEY_ID, ACCESS_KEY_SECRET).json()["Response"]
    assert unb64(r["PlainText"]) == b"spelling" and "Plaintext" not in r, r


WRAPS = [("rsa2048", "RSAES_PKCS1_V1_5"), ("rsa2048", "RSAES_OAEP_SHA_1"), ("rsa2048", "RSAES_OAEP_SHA_256"),
         ("rsa3072", "RSAES_OAEP_SHA_256"), ("sm2", "SM2"), ("sm2", "SM2_C1C3C2_ASN1"), ("sm2", None)]


@pytest.mark.parametrize("keyname,alg", WRAPS, ids=[f"{k}-{a}" for k, a in WRAPS])
def test_decrypt_to_encryption_public_key(client, kem, wrap_keys, tmp_path, keyname, alg):
    """The plaintext comes back encrypted to the caller's key; the test opens it with the private
    half (openssl and cryptography for RSA, gmssl and openssl for SM2; `SM2` is the default)."""
    key = wrap_keys[keyname]
    data = os.urandom(64)
    fields = {"EncryptionPublicKey": key.pub_pem}
    if alg is not None:
        fields["EncryptionAlgorithm"] = alg
    key_id, wrapped = pq_decrypt(client, pq_encrypt(client, kem, data), **fields)
    assert key_id == kem
    assert wrapped != data
    assert unwrap(key, alg or "SM2", wrapped, tmp_path) == data


def test_encryption_public_key_limits(client, kem, wrap_keys, tmp_path):
    big = pq_encrypt(client, kem, os.urandom(300))
    call_error(client, "PostQuantumCryptoDecrypt", "InvalidParameterValue", CiphertextBlob=b64(big),
               EncryptionPublicKey=wrap_keys["rsa2048"].pub_pem, EncryptionAlgorithm="RSAES_PKCS1_V1_5")
    call_error(client, "PostQuantumCryptoDecrypt", "InvalidParameterValue", CiphertextBlob=b64(big),
               EncryptionPublicKey=wrap_keys["rsa2048"].pub_pem, EncryptionAlgorithm="RSAES_OAEP_SHA_512")
    call_error(client, "PostQuantumCryptoDecrypt", "InvalidParameterValue", CiphertextBlob=b64(big),
               EncryptionPublicKey="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    call_error(client, "PostQuantumCryptoDecrypt", "InvalidParameterValue", CiphertextBlob=b64(big),
               EncryptionPublicKey=wrap_keys["sm2"].pub_pem, EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    # SM2 has no such limit: the largest plaintext wraps
    data = os.urandom(4096)
    _, wrapped = pq_decrypt(client, pq_encrypt(client, kem, data), EncryptionPublicKey=wrap_keys["sm2"].pub_pem,
                            EncryptionAlgorithm="SM2_C1C3C2_ASN1")
    assert unwrap(wrap_keys["sm2"], "SM2_C1C3C2_ASN1", wrapped, tmp_path) == data


def test_blob_kinds_do_not_mix(client, kem):
    """A post-quantum blob is no CiphertextBlob of Decrypt / ReEncrypt, and the other way round."""
    pq = b64(pq_encrypt(client, kem, b"post-quantum"))
    call_error(client, "Decrypt", BAD_BLOB, CiphertextBlob=pq)
    call_error(client, "ReEncrypt", BAD_BLOB, CiphertextBlob=pq, DestinationKeyId=create_key(client))
    sym = create_key(client)
    for blob in (call(client, "Encrypt", KeyId=sym, Plaintext=b64(b"classic")).CiphertextBlob,
                 call(client, "GenerateDataKey", KeyId=sym, KeySpec="AES_256").CiphertextBlob):
        call_error(client, "PostQuantumCryptoDecrypt", BAD_BLOB, CiphertextBlob=blob)


TAMPER = {
    "payload kind": 4, "key id": 5, "key id end": 20, "version": 24,
    "kem ciphertext": HEADER, "kem ciphertext end": HEADER + KEM_CT - 1,
    "nonce": HEADER + KEM_CT, "aes ciphertext": HEADER + KEM_CT + NONCE, "tag": -1,
}


@pytest.mark.parametrize("where", sorted(TAMPER))
def test_tampered_blob(client, kem, where):
    blob = pq_encrypt(client, kem, os.urandom(48))
    call_error(client, "PostQuantumCryptoDecrypt", DECRYPT_ERROR, CiphertextBlob=b64(flip(blob, TAMPER[where])))


def test_malformed_blobs(client, kem):
    blob = pq_encrypt(client, kem, os.urandom(48))
    for i in range(4):  # magic, format, KEM
        call_error(client, "PostQuantumCryptoDecrypt", BAD_BLOB, CiphertextBlob=b64(flip(blob, i)))
    call_error(client, "PostQuantumCryptoDecrypt", BAD_BLOB, CiphertextBlob=b64(blob[:4] + b"\x07" + blob[5:]))
    for n in (1, 5, HEADER):
        call_error(client, "PostQuantumCryptoDecrypt", BAD_BLOB, CiphertextBlob=b64(blob[:n]))
    for text in ("not base64!", "%%%%"):
        call_error(client, "PostQuantumCryptoDecrypt", BAD_BLOB, CiphertextBlob=text)
    call_error(client, "PostQuantumCryptoDecrypt", "MissingParameter", CiphertextBlob="")
    for cut in (HEADER + 1, HEADER + KEM_CT, len(blob) - 1):
        call_error(client, "PostQuantumCryptoDecrypt", DECRYPT_ERROR, CiphertextBlob=b64(blob[:cut]))
    call_error(client, "PostQuantumCryptoDecrypt", DECRYPT_ERROR, CiphertextBlob=b64(blob + b"\x00"))
    # the header names a version the key does not have
    for v in (0, 2, 0xFFFFFFFF):
        forged = blob[:21] + struct.pack(">I", v) + blob[25:]
        call_error(client, "PostQuantumCryptoDecrypt", DECRYPT_ERROR, CiphertextBlob=b64(forged))


def test_header_naming_another_key(client, kem):
    """The body stays; the header names another ML-KEM key of the account, an RSA key, an
    unknown key: none opens it."""
    blob = pq_encrypt(client, kem, b"bound to its key")
    for other in (new_key(client, KEM), new_key(client, "ASYMMETRIC_DECRYPT_RSA_2048"), str(uuid.uuid4())):
        forged = header(other) + blob[HEADER:]
        call_error(client, "PostQuantumCryptoDecrypt", DECRYPT_ERROR, CiphertextBlob=b64(forged))


def test_other_account(client, kem, server):
    acct = create_account(server)
    other = tencent_client(server.endpoint, secret_id=acct.secret_id, secret_key=acct.secret_key)
    blob = b64(pq_encrypt(client, kem, b"tenant data"))
    call_error(other, "PostQuantumCryptoDecrypt", DECRYPT_ERROR, CiphertextBlob=blob)
    call_error(other, "PostQuantumCryptoEncrypt", "ResourceUnavailable.CmkNotFound", KeyId=kem, PlainText=b64(b"x"))


def test_wrong_keys(client, kem, dsa):
    wrong = "InvalidParameterValue.InvalidKeyUsage"
    for k in (create_key(client), new_key(client, "ASYMMETRIC_DECRYPT_RSA_2048"), new_key(client, "ASYMMETRIC_DECRYPT_SM2"),
              dsa, new_key(client, "ASYMMETRIC_SIGN_VERIFY_ECC")):
        call_error(client, "PostQuantumCryptoEncrypt", wrong, KeyId=k, PlainText=b64(b"x"))
    for k in (kem, create_key(client), new_key(client, "ASYMMETRIC_DECRYPT_SM2")):
        call_error(client, "PostQuantumCryptoSign", wrong, KeyId=k, Message=b64(b"x"))
        call_error(client, "PostQuantumCryptoVerify", wrong, KeyId=k, Message=b64(b"x"), SignatureValue=b64(b"x"))
    # a signing key of another type: these actions take no Algorithm, and Tencent's KeyUsage names
    # the key type (ASYMMETRIC_SIGN_VERIFY_ECC is not ..._DILITHIUM), so it is the key usage that is
    # wrong, as for an RSA or SM2 encryption key given to PostQuantumCryptoEncrypt above
    for usage in ("ASYMMETRIC_SIGN_VERIFY_ECC", "ASYMMETRIC_SIGN_VERIFY_SM2", "ASYMMETRIC_SIGN_VERIFY_RSA_2048"):
        k = new_key(client, usage)
        call_error(client, "PostQuantumCryptoSign", wrong, KeyId=k, Message=b64(b"x"))
        call_error(client, "PostQuantumCryptoVerify", wrong, KeyId=k, Message=b64(b"x"), SignatureValue=b64(b"x"))
    # and the classic actions refuse the ML-KEM key
    call_error(client, "Encrypt", wrong, KeyId=kem, Plaintext=b64(b"x"))
    call_error(client, "AsymmetricRsaDecrypt", "InvalidParameterValue", KeyId=kem, Algorithm="RSAES_OAEP_SHA_256",
               Ciphertext=b64(os.urandom(256)))


def test_disabled_keys(client):
    k, s = new_key(client, KEM), new_key(client, DSA)
    blob = b64(pq_encrypt(client, k, b"made while enabled"))
    sig = call(client, "PostQuantumCryptoSign", KeyId=s, Message=b64(b"m")).Signature
    for key in (k, s):
        call(client, "DisableKey", KeyId=key)
    off = "ResourceUnavailable.CmkDisabled"
    call_error(client, "PostQuantumCryptoEncrypt", off, KeyId=k, PlainText=b64(b"x"))
    call_error(client, "PostQuantumCryptoDecrypt", off, CiphertextBlob=blob)
    call_error(client, "GetPublicKey", off, KeyId=k)
    call_error(client, "PostQuantumCryptoSign", off, KeyId=s, Message=b64(b"m"))
    call_error(client, "PostQuantumCryptoVerify", off, KeyId=s, Message=b64(b"m"), SignatureValue=sig)
    for key in (k, s):
        call(client, "EnableKey", KeyId=key)
    assert pq_decrypt(client, unb64(blob)) == (k, b"made while enabled")
    assert call(client, "PostQuantumCryptoVerify", KeyId=s, Message=b64(b"m"), SignatureValue=sig).SignatureValid is True


def test_blob_built_by_another_implementation(client, kem):
    """cryptography encapsulates to GetPublicKey's ML-KEM-768 key and seals with AES-256-GCM under
    the shared secret, the AAD being header || account (u64 BE) || len(context) (u32 BE) ||
    context (empty): ferrokms opens it. With any other AAD it does not."""
    pub = get_public(client, kem, "mlkem").key
    account = int(describe(client, kem).CreatorUin)
    data = os.urandom(200)

    def build(aad_account: int, payload: int = 0, pt: bytes = data) -> bytes:
        h = header(kem, payload=payload)
        shared, ct = pub.encapsulate()
        assert len(shared) == 32 and len(ct) == KEM_CT
        nonce = os.urandom(NONCE)
        aad = h + struct.pack(">QI", aad_account, 0)
        return h + ct + nonce + AESGCM(shared).encrypt(nonce, pt, aad)

    assert pq_decrypt(client, build(account)) == (kem, data)
    assert pq_decrypt(client, build(account, pt=b"x")) == (kem, b"x")
    call_error(client, "PostQuantumCryptoDecrypt", DECRYPT_ERROR, CiphertextBlob=b64(build(account + 1)))
    blob = build(account)
    wrong_ct = blob[:HEADER] + pub.encapsulate()[1] + blob[HEADER + KEM_CT:]
    call_error(client, "PostQuantumCryptoDecrypt", DECRYPT_ERROR, CiphertextBlob=b64(wrong_ct))


# --------------------------------------------------------------------------------------------
# Sign / Verify (ML-DSA-65)


def pq_sign(client, key_id: str, message: bytes) -> bytes:
    return unb64(call(client, "PostQuantumCryptoSign", KeyId=key_id, Message=b64(message)).Signature)


def pq_verify(client, key_id: str, message: bytes, signature: bytes) -> bool:
    v = call(client, "PostQuantumCryptoVerify", KeyId=key_id, Message=b64(message),
             SignatureValue=b64(signature)).SignatureValid
    assert isinstance(v, bool), v
    return v


@pytest.mark.parametrize("n", [1, 100, 4096])
def test_sign_verify(client, dsa, n):
    pub = get_public(client, dsa, "mldsa").key
    m = os.urandom(n)
    sig = pq_sign(client, dsa, m)
    assert len(sig) == ML_DSA_65_SIGNATURE
    assert pq_verify(client, dsa, m, sig) is True
    pub.verify(sig, m)  # FIPS 204 ML-DSA-65, pure, empty context: checked by OpenSSL through cryptography
    with pytest.raises(InvalidSignature):
        pub.verify(sig, m, b"a context")
    with pytest.raises(InvalidSignature):
        pub.verify(sig, flip(m))
    assert pq_verify(client, dsa, flip(m), sig) is False
    for i in (0, 1000, -1):
        assert pq_verify(client, dsa, m, flip(sig, i)) is False
    for bad in (sig[:-1], sig + b"\x00", b"\x00", os.urandom(ML_DSA_65_SIGNATURE)):
        assert pq_verify(client, dsa, m, bad) is False


def test_signatures_of_other_keys(client, dsa):
    m = b"whose signature?"
    other = new_key(client, DSA)
    assert pq_verify(client, dsa, m, pq_sign(client, other, m)) is False
    foreign = mldsa.MLDSA65PrivateKey.generate()
    sig = foreign.sign(m)
    foreign.public_key().verify(sig, m)
    assert pq_verify(client, dsa, m, sig) is False


def test_sign_limits(client, dsa):
    bad = "InvalidParameterValue"
    call_error(client, "PostQuantumCryptoSign", bad, KeyId=dsa, Message=b64(os.urandom(4097)))
    call_error(client, "PostQuantumCryptoVerify", bad, KeyId=dsa, Message=b64(os.urandom(4097)),
               SignatureValue=b64(os.urandom(ML_DSA_65_SIGNATURE)))
    call_error(client, "PostQuantumCryptoSign", "MissingParameter", KeyId=dsa, Message="")
    call_error(client, "PostQuantumCryptoVerify", "MissingParameter", KeyId=dsa, Message=b64(b"m"))
    for text in ("not base64!", "%%%%"):
        call_error(client, "PostQuantumCryptoSign", bad, KeyId=dsa, Message=text)
        call_error(client, "PostQuantumCryptoVerify", bad, KeyId=dsa, Message=b64(b"m"), SignatureValue=text)
    # the classic signing action has no ML-DSA algorithm
    for alg in ("RSA_PSS_SHA_256", "ECC_P256_R1", "SM2DSA", "ML_DSA_65", "Dilithium"):
        call_error(client, "SignByAsymmetricKey", bad, KeyId=dsa, Algorithm=alg, Message=b64(b"m"))


def test_unknown_keys(client):
    k = str(uuid.uuid4())
    nf = "ResourceUnavailable.CmkNotFound"
    call_error(client, "PostQuantumCryptoEncrypt", nf, KeyId=k, PlainText=b64(b"x"))
    call_error(client, "PostQuantumCryptoSign", nf, KeyId=k, Message=b64(b"x"))
    call_error(client, "PostQuantumCryptoVerify", nf, KeyId=k, Message=b64(b"x"), SignatureValue=b64(b"x"))
