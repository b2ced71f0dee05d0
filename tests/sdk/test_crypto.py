"""Encrypt, Decrypt, ReEncrypt (with EncryptionContext), blob integrity, GenerateRandom."""
from __future__ import annotations

import base64
import json
import os

import pytest
from kmsutil import (
    b64, call, call_error, call_error_in, call_error_prefix, create_key, decrypt, encrypt,
    tamper_blob, truncate_blob, unb64,
)
from wrapkeys import Sm2Key, rsa_decrypt, rsa_keypair, sm2_asn1_to_c1c3c2, sm2_raw_to_parts

CTX = '{"app":"billing","env":"prod"}'


@pytest.fixture
def key(kms):
    return create_key(kms)


# ------------------------------------------------------------------ Encrypt / Decrypt

@pytest.mark.parametrize("size", [1, 16, 1000, 4096])
def test_round_trip(kms, key, size):
    data = os.urandom(size)
    r = call(kms, "Encrypt", KeyId=key, Plaintext=b64(data))
    assert r.KeyId == key
    assert r.CiphertextBlob
    if size >= 16:  # the plaintext does not appear in the blob, raw or base64-encoded
        raw_blob = b"".join(base64.b64decode(s) for s in r.CiphertextBlob.split("-k-"))
        assert data not in raw_blob and b64(data).rstrip("=") not in r.CiphertextBlob
    d = call(kms, "Decrypt", CiphertextBlob=r.CiphertextBlob)
    assert d.KeyId == key
    assert unb64(d.Plaintext) == data


def test_same_plaintext_encrypts_differently(kms, key):
    a, b = encrypt(kms, key, b"same"), encrypt(kms, key, b"same")
    assert a != b
    assert decrypt(kms, a) == decrypt(kms, b) == b"same"


def test_plaintext_over_4096_bytes(kms, key):
    call_error(kms, "Encrypt", "InvalidParameterValue.InvalidPlaintext", KeyId=key,
               Plaintext=b64(os.urandom(4097)))


def test_plaintext_not_base64(kms, key):
    call_error(kms, "Encrypt", "InvalidParameterValue.InvalidPlaintext", KeyId=key,
               Plaintext="this is not base64!!")


def test_encrypt_key_errors(kms):
    call_error(kms, "Encrypt", "InvalidParameterValue.InvalidKeyId", KeyId="nope", Plaintext="eA==")
    call_error(kms, "Encrypt", "ResourceUnavailable.CmkNotFound",
               KeyId="11111111-2222-4333-8444-555555555555", Plaintext="eA==")
    call_error(kms, "Encrypt", "MissingParameter", Plaintext="eA==")


def test_encrypt_missing_plaintext(kms, key):
    call_error(kms, "Encrypt", "MissingParameter", KeyId=key)


def test_encrypt_pending_import_key(kms):
    ext = call(kms, "CreateKey", Alias="ext-" + os.urandom(8).hex(), Type=2).KeyId
    call_error(kms, "Encrypt", "ResourceUnavailable.CmkStateNotSupport", KeyId=ext, Plaintext="eA==")


# ------------------------------------------------------------------ EncryptionContext

def test_context_match(kms, key):
    blob = encrypt(kms, key, b"ctx", CTX)
    assert decrypt(kms, blob, CTX) == b"ctx"


def test_context_reordered_and_respaced(kms, key):
    blob = encrypt(kms, key, b"ctx", CTX)
    reordered = '{"env":"prod","app":"billing"}'
    spaced = '{ "env" : "prod" ,\n "app": "billing" }'
    assert decrypt(kms, blob, reordered) == b"ctx"
    assert decrypt(kms, blob, spaced) == b"ctx"
    assert decrypt(kms, blob, json.dumps({"env": "prod", "app": "billing"}, indent=2)) == b"ctx"


@pytest.mark.parametrize("ctx", ['{"app":"billing","env":"dev"}', '{"app":"billing"}',
                                 '{"app":"billing","env":"prod","x":"y"}', "{}"])
def test_context_mismatch(kms, key, ctx):
    blob = encrypt(kms, key, b"ctx", CTX)
    call_error(kms, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=blob,
               EncryptionContext=ctx)


def test_context_missing_at_decrypt(kms, key):
    blob = encrypt(kms, key, b"ctx", CTX)
    call_error(kms, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=blob)


def test_context_given_only_at_decrypt(kms, key):
    blob = encrypt(kms, key, b"no ctx")
    call_error(kms, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=blob,
               EncryptionContext=CTX)


@pytest.mark.parametrize("ctx", ["not json", "[1,2]", '"a string"', '{"a":1}', '{"a":{"b":"c"}}',
                                 '{"a":null}', "123"])
def test_context_not_an_object_of_strings(kms, key, ctx):
    call_error(kms, "Encrypt", "InvalidParameterValue", KeyId=key, Plaintext="eA==",
               EncryptionContext=ctx)


def test_context_length_limit(kms, key):
    ok = json.dumps({"k": "v" * (1024 - 10)}, separators=(",", ":"))
    assert len(ok) <= 1024
    blob = encrypt(kms, key, b"long ctx", ok)
    assert decrypt(kms, blob, ok) == b"long ctx"
    too_long = json.dumps({"k": "v" * 1100}, separators=(",", ":"))
    call_error(kms, "Encrypt", "InvalidParameterValue", KeyId=key, Plaintext="eA==",
               EncryptionContext=too_long)


def test_context_unicode(kms, key):
    ctx = json.dumps({"用途": "账单"}, ensure_ascii=False)
    blob = encrypt(kms, key, b"u", ctx)
    assert decrypt(kms, blob, json.dumps({"用途": "账单"})) == b"u"  # \\u escapes, same pairs


# ------------------------------------------------------------------ Blob integrity

def test_tampered_blob(kms, key):
    blob = encrypt(kms, key, b"integrity")
    call_error(kms, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=tamper_blob(blob))


def test_tampered_blob_anywhere_never_decrypts(kms, key):
    blob = encrypt(kms, key, b"integrity" * 4)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    positions = sorted({1, len(blob) // 4, len(blob) // 2, (3 * len(blob)) // 4, len(blob) - 6})
    for pos in positions:
        ch = blob[pos]
        if ch not in alphabet:
            continue
        repl = alphabet[(alphabet.index(ch) + 1) % 64]
        bad = blob[:pos] + repl + blob[pos + 1:]
        call_error_in(kms, "Decrypt", {"FailedOperation.DecryptError",
                                       "InvalidParameterValue.InvalidCiphertext",
                                       "ResourceUnavailable.CmkNotFound"}, CiphertextBlob=bad)


def test_truncated_blob(kms, key):
    blob = encrypt(kms, key, b"truncate me, please")
    call_error_in(kms, "Decrypt", {"FailedOperation.DecryptError",
                                   "InvalidParameterValue.InvalidCiphertext"},
                  CiphertextBlob=truncate_blob(blob, 4))
    call_error(kms, "Decrypt", "InvalidParameterValue.InvalidCiphertext", CiphertextBlob=blob[:8])


@pytest.mark.parametrize("blob", ["hello", "!!!not base64!!!", b64(b"short"), b64(os.urandom(200)),
                                  "aGk=-k-aGk=-k-aGk="])
def test_garbage_blob(kms, blob):
    call_error(kms, "Decrypt", "InvalidParameterValue.InvalidCiphertext", CiphertextBlob=blob)


def test_decrypt_missing_blob(kms):
    call_error(kms, "Decrypt", "MissingParameter")


def test_decrypt_ignores_algorithm_without_public_key(kms, key):
    blob = encrypt(kms, key, b"clear")
    r = call(kms, "Decrypt", CiphertextBlob=blob, EncryptionAlgorithm="SM2")
    assert unb64(r.Plaintext) == b"clear"


# ------------------------------------------------------------------ Decrypt to a public key

@pytest.mark.parametrize("alg", ["RSAES_PKCS1_V1_5", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"])
def test_decrypt_wrapped_to_rsa(kms, key, alg):
    priv, pem = rsa_keypair(2048)
    data = os.urandom(48)
    blob = encrypt(kms, key, data)
    r = call(kms, "Decrypt", CiphertextBlob=blob, EncryptionPublicKey=pem, EncryptionAlgorithm=alg)
    wrapped = unb64(r.Plaintext)
    assert len(wrapped) == 256
    assert rsa_decrypt(priv, alg, wrapped) == data


def test_decrypt_wrapped_to_sm2_default(kms, key):
    k = Sm2Key()
    data = os.urandom(32)
    blob = encrypt(kms, key, data)
    r = call(kms, "Decrypt", CiphertextBlob=blob, EncryptionPublicKey=k.public_pem())
    ct = unb64(r.Plaintext)
    assert len(ct) == 1 + 64 + 32 + len(data)
    assert k.decrypt_c1c3c2(sm2_raw_to_parts(ct)) == data


def test_decrypt_wrapped_to_sm2_asn1(kms, key):
    k = Sm2Key()
    data = os.urandom(20)
    blob = encrypt(kms, key, data)
    r = call(kms, "Decrypt", CiphertextBlob=blob, EncryptionPublicKey=k.public_pem(),
             EncryptionAlgorithm="SM2_C1C3C2_ASN1")
    assert k.decrypt_c1c3c2(sm2_asn1_to_c1c3c2(unb64(r.Plaintext))) == data


def test_decrypt_wrapped_bad_public_key(kms, key):
    blob = encrypt(kms, key, b"x")
    call_error(kms, "Decrypt", "InvalidParameterValue", CiphertextBlob=blob,
               EncryptionPublicKey="-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
               EncryptionAlgorithm="RSAES_OAEP_SHA_256")


# ------------------------------------------------------------------ ReEncrypt

def test_reencrypt_to_other_key(kms):
    src, dst = create_key(kms), create_key(kms)
    blob = encrypt(kms, src, b"move me")
    r = call(kms, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=dst)
    assert r.ReEncrypted is True
    assert r.KeyId == dst
    assert r.SourceKeyId == src
    assert r.CiphertextBlob != blob
    d = call(kms, "Decrypt", CiphertextBlob=r.CiphertextBlob)
    assert d.KeyId == dst and unb64(d.Plaintext) == b"move me"


def test_reencrypt_same_key_without_rotation_is_a_no_op(kms, key):
    blob = encrypt(kms, key, b"stay")
    r = call(kms, "ReEncrypt", CiphertextBlob=blob)
    assert r.ReEncrypted is False
    assert r.CiphertextBlob == blob
    assert r.KeyId == r.SourceKeyId == key


def test_reencrypt_contexts(kms):
    src, dst = create_key(kms), create_key(kms)
    blob = encrypt(kms, src, b"ctx move", CTX)
    new_ctx = '{"stage":"2"}'
    call_error(kms, "ReEncrypt", "FailedOperation.DecryptError", CiphertextBlob=blob,
               DestinationKeyId=dst)
    call_error(kms, "ReEncrypt", "FailedOperation.DecryptError", CiphertextBlob=blob,
               DestinationKeyId=dst, SourceEncryptionContext='{"app":"other"}')
    r = call(kms, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=dst,
             SourceEncryptionContext='{"env":"prod","app":"billing"}',
             DestinationEncryptionContext=new_ctx)
    assert r.ReEncrypted is True
    assert decrypt(kms, r.CiphertextBlob, new_ctx) == b"ctx move"
    call_error(kms, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=r.CiphertextBlob)
    call_error(kms, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=r.CiphertextBlob,
               EncryptionContext=CTX)


def test_reencrypt_destination_states(kms):
    src = create_key(kms)
    blob = encrypt(kms, src, b"dest states")
    disabled = create_key(kms)
    call(kms, "DisableKey", KeyId=disabled)
    call_error(kms, "ReEncrypt", "ResourceUnavailable.CmkDisabled", CiphertextBlob=blob,
               DestinationKeyId=disabled)
    archived = create_key(kms)
    call(kms, "ArchiveKey", KeyId=archived)
    call_error(kms, "ReEncrypt", "ResourceUnavailable.CmkArchived", CiphertextBlob=blob,
               DestinationKeyId=archived)
    call_error(kms, "ReEncrypt", "ResourceUnavailable.CmkNotFound", CiphertextBlob=blob,
               DestinationKeyId="11111111-2222-4333-8444-555555555555")
    call_error(kms, "ReEncrypt", "InvalidParameterValue.InvalidKeyId", CiphertextBlob=blob,
               DestinationKeyId="nope")


def test_reencrypt_disabled_source(kms):
    src, dst = create_key(kms), create_key(kms)
    blob = encrypt(kms, src, b"src disabled")
    call(kms, "DisableKey", KeyId=src)
    call_error(kms, "ReEncrypt", "ResourceUnavailable.CmkDisabled", CiphertextBlob=blob,
               DestinationKeyId=dst)


def test_reencrypt_garbage(kms, key):
    call_error(kms, "ReEncrypt", "InvalidParameterValue.InvalidCiphertext", CiphertextBlob="garbage",
               DestinationKeyId=key)
    blob = encrypt(kms, key, b"t")
    call_error(kms, "ReEncrypt", "FailedOperation.DecryptError", CiphertextBlob=tamper_blob(blob),
               DestinationKeyId=key)


def test_reencrypt_data_key_blob(kms):
    src, dst = create_key(kms), create_key(kms)
    g = call(kms, "GenerateDataKey", KeyId=src, KeySpec="AES_256")
    r = call(kms, "ReEncrypt", CiphertextBlob=g.CiphertextBlob, DestinationKeyId=dst)
    assert decrypt(kms, r.CiphertextBlob) == unb64(g.Plaintext)


# ------------------------------------------------------------------ GenerateRandom

@pytest.mark.parametrize("n", [1, 32, 1024])
def test_generate_random(kms, n):
    r = call(kms, "GenerateRandom", NumberOfBytes=n)
    assert len(unb64(r.Plaintext)) == n


def test_generate_random_differs(kms):
    a = unb64(call(kms, "GenerateRandom", NumberOfBytes=32).Plaintext)
    b = unb64(call(kms, "GenerateRandom", NumberOfBytes=32).Plaintext)
    assert a != b
    assert a != bytes(32)


@pytest.mark.parametrize("n", [0, 1025])
def test_generate_random_range(kms, n):
    call_error_prefix(kms, "GenerateRandom", "InvalidParameterValue", NumberOfBytes=n)


def test_generate_random_missing(kms):
    call_error(kms, "GenerateRandom", "MissingParameter")


def test_blob_is_plain_ascii(kms, key):
    """CiphertextBlob is base64 text (possibly in -k- segments): every segment decodes."""
    blob = encrypt(kms, key, b"fmt")
    for seg in blob.split("-k-"):
        base64.b64decode(seg, validate=True)
