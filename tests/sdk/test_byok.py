"""Imported key material (BYOK) through the Tencent dialect, as a user does it (official Python SDK
and the `openssl` CLI): CreateKey Type=2 -> GetParametersForImport -> wrap 32 random bytes with
`openssl pkeyutl -encrypt -pubin` (PKCS#1 v1.5, OAEP SHA-1, OAEP SHA-256; the public key as DER
or PEM) -> ImportKeyMaterial -> Encrypt / Decrypt; DeleteImportedKeyMaterial and re-import;
every refusal with its code, the key unchanged after it.

Since the test knows the material, it also opens ferrokms' CiphertextBlob with Python's AES
from docs/ciphertext-format.md alone (tests/sdk/blobfmt.py), and builds ones that ferrokms opens:
format 3, and format 1 as ferrokms wrote it before.

(Expiry of material by the background task is covered by a Rust test; nothing here sleeps.)
"""
from __future__ import annotations

import os
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import blobfmt
from asym_helpers import OPENSSL_RSA, flip, openssl_encrypt, openssl_key
from conftest import create_account, tencent_client
from interop_helpers import run
from kmsutil import b64, call, call_error, create_key, decrypt, describe, encrypt, list_all_key_ids, now, unb64

ALGS = list(OPENSSL_RSA)
MAX_VALID_TO = 2147443200
BAD_MATERIAL = "InvalidParameterValue.InvalidImportKeyMaterial"
NOT_EXTERNAL = "UnsupportedOperation.NotExternalCmk"
STATE = "ResourceUnavailable.CmkStateNotSupport"


@pytest.fixture(scope="module")
def client(server):
    return tencent_client(server.endpoint)


class Params:
    """GetParametersForImport's answer, checked, with the wrapping key written for openssl."""

    def __init__(self, client, key_id: str, alg: str, workdir):
        before = now()
        r = call(client, "GetParametersForImport", KeyId=key_id, WrappingAlgorithm=alg, WrappingKeySpec="RSA_2048")
        assert r.KeyId == key_id
        self.alg, self.token = alg, r.ImportToken
        assert unb64(self.token), "empty ImportToken"
        self.der = unb64(r.PublicKey)
        pub = serialization.load_der_public_key(self.der)
        assert isinstance(pub, rsa.RSAPublicKey) and pub.key_size == 2048, pub
        assert before + 86400 - 2 <= r.ParametersValidTo <= now() + 86400 + 2, r.ParametersValidTo  # 24 hours
        self.workdir = workdir / f"wrap-{uuid.uuid4().hex[:8]}"
        self.workdir.mkdir(parents=True)
        self.der_file = self.workdir / "wrapping.der"
        self.der_file.write_bytes(self.der)
        self.pem_file = self.workdir / "wrapping.pem"
        self.pem_file.write_bytes(run(["openssl", "pkey", "-pubin", "-inform", "DER", "-in", str(self.der_file)]))

    def wrap(self, material: bytes, form: str = "der", alg: str | None = None) -> str:
        f = self.der_file if form == "der" else self.pem_file
        return b64(openssl_encrypt(self.workdir, f, material, OPENSSL_RSA[alg or self.alg], der=form == "der"))


def import_material(client, key_id: str, p: Params, material: bytes, valid_to: int | None = None,
                    form: str = "der") -> None:
    fields = dict(KeyId=key_id, ImportToken=p.token, EncryptedKeyMaterial=p.wrap(material, form))
    if valid_to is not None:
        fields["ValidTo"] = valid_to
    call(client, "ImportKeyMaterial", **fields)


def external_key(client) -> str:
    r = call(client, "CreateKey", Alias=f"byok-{uuid.uuid4().hex[:20]}", Type=2)
    assert r.KeyState == "PendingImport", r.to_json_string()
    md = describe(client, r.KeyId)
    assert (md.KeyState, md.Origin, md.KeyUsage, md.ValidTo) == ("PendingImport", "EXTERNAL", "ENCRYPT_DECRYPT", 0)
    return r.KeyId


def imported_key(client, tmp_path, material: bytes | None = None) -> tuple[str, bytes]:
    k = external_key(client)
    material = material or os.urandom(32)
    import_material(client, k, Params(client, k, "RSAES_OAEP_SHA_256", tmp_path), material)
    return k, material


# --------------------------------------------------------------------------------------------
# The user's path


@pytest.mark.parametrize("form", ["der", "pem"])
@pytest.mark.parametrize("alg", ALGS)
def test_import_then_use(client, tmp_path, alg, form):
    k = external_key(client)
    call_error(client, "Encrypt", STATE, KeyId=k, Plaintext=b64(b"not yet"))
    call_error(client, "GenerateDataKey", STATE, KeyId=k, KeySpec="AES_256")
    material = os.urandom(32)
    import_material(client, k, Params(client, k, alg, tmp_path), material, valid_to=0, form=form)
    md = describe(client, k)
    assert (md.KeyState, md.Origin, md.ValidTo) == ("Enabled", "EXTERNAL", 0)
    data = os.urandom(100)
    assert decrypt(client, encrypt(client, k, data)) == data
    dk = call(client, "GenerateDataKey", KeyId=k, KeySpec="AES_256")
    assert decrypt(client, dk.CiphertextBlob) == unb64(dk.Plaintext)
    assert k in list_all_key_ids(client, Origin="EXTERNAL")


def test_valid_to_is_shown_and_reimport_only_changes_it(client, tmp_path):
    k = external_key(client)
    material = os.urandom(32)
    later = now() + 3600
    import_material(client, k, Params(client, k, "RSAES_OAEP_SHA_256", tmp_path), material, valid_to=later)
    assert describe(client, k).ValidTo == later
    blob = encrypt(client, k, b"under the first import")
    for valid_to in (0, now() + 7200, MAX_VALID_TO):
        import_material(client, k, Params(client, k, "RSAES_OAEP_SHA_1", tmp_path), material, valid_to=valid_to)
        md = describe(client, k)
        assert (md.KeyState, md.ValidTo) == ("Enabled", valid_to)
        assert decrypt(client, blob) == b"under the first import"


def test_delete_and_reimport_the_same_material(client, tmp_path):
    k, material = imported_key(client, tmp_path)
    data = os.urandom(64)
    blob = encrypt(client, k, data, context='{"app":"byok"}')
    dk = call(client, "GenerateDataKey", KeyId=k, NumberOfBytes=48)
    call(client, "DeleteImportedKeyMaterial", KeyId=k)
    md = describe(client, k)
    assert (md.KeyState, md.ValidTo) == ("PendingImport", 0)
    call_error(client, "Decrypt", STATE, CiphertextBlob=blob, EncryptionContext='{"app":"byok"}')
    call_error(client, "Encrypt", STATE, KeyId=k, Plaintext=b64(b"x"))
    # the same material, wrapped under a new token (and another padding), brings the key back
    p = Params(client, k, "RSAES_PKCS1_V1_5", tmp_path)
    import_material(client, k, p, material, form="pem")
    assert describe(client, k).KeyState == "Enabled"
    assert decrypt(client, blob, context='{"app":"byok"}') == data
    assert decrypt(client, dk.CiphertextBlob) == unb64(dk.Plaintext)
    # a token may be used again until it expires (docs/key-types.md)
    call(client, "DeleteImportedKeyMaterial", KeyId=k)
    import_material(client, k, p, material)
    assert decrypt(client, blob, context='{"app":"byok"}') == data


def test_different_material_is_refused(client, tmp_path):
    k, material = imported_key(client, tmp_path)
    later = now() + 5000
    import_material(client, k, Params(client, k, "RSAES_OAEP_SHA_256", tmp_path), material, valid_to=later)
    blob = encrypt(client, k, b"first material")
    p = Params(client, k, "RSAES_OAEP_SHA_256", tmp_path)
    for other in (os.urandom(32), flip(material, 0), flip(material, -1)):
        call_error(client, "ImportKeyMaterial", "InvalidParameterValue.MaterialNotMatch", KeyId=k, ImportToken=p.token,
                   EncryptedKeyMaterial=p.wrap(other), ValidTo=0)
    md = describe(client, k)
    assert (md.KeyState, md.ValidTo) == ("Enabled", later), "a refused import changed the key"
    assert decrypt(client, blob) == b"first material"
    # still refused once the material is gone: the key remembers what it held
    call(client, "DeleteImportedKeyMaterial", KeyId=k)
    call_error(client, "ImportKeyMaterial", "InvalidParameterValue.MaterialNotMatch", KeyId=k, ImportToken=p.token,
               EncryptedKeyMaterial=p.wrap(os.urandom(32)))
    assert describe(client, k).KeyState == "PendingImport"
    import_material(client, k, p, material)
    assert decrypt(client, blob) == b"first material"


def test_token_of_another_key_or_account(client, server, tmp_path):
    a, b = external_key(client), external_key(client)
    pa = Params(client, a, "RSAES_OAEP_SHA_256", tmp_path)
    material = os.urandom(32)
    call_error(client, "ImportKeyMaterial", "InvalidParameterValue", KeyId=b, ImportToken=pa.token,
               EncryptedKeyMaterial=pa.wrap(material))
    acct = create_account(server)
    other = tencent_client(server.endpoint, secret_id=acct.secret_id, secret_key=acct.secret_key)
    theirs = external_key(other)
    pt = Params(other, theirs, "RSAES_OAEP_SHA_256", tmp_path)
    call_error(client, "ImportKeyMaterial", "InvalidParameterValue", KeyId=b, ImportToken=pt.token,
               EncryptedKeyMaterial=pt.wrap(material))
    # nor can the other account import into (or even see) this account's key
    call_error(other, "ImportKeyMaterial", "ResourceUnavailable.CmkNotFound", KeyId=a, ImportToken=pa.token,
               EncryptedKeyMaterial=pa.wrap(material))
    call_error(other, "GetParametersForImport", "ResourceUnavailable.CmkNotFound", KeyId=a,
               WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    assert describe(client, b).KeyState == "PendingImport"
    # the token works for the key it was made for
    import_material(client, a, pa, material)
    assert describe(client, a).KeyState == "Enabled"


def test_tampered_or_malformed_token(client, tmp_path):
    k = external_key(client)
    p = Params(client, k, "RSAES_OAEP_SHA_256", tmp_path)
    wrapped = p.wrap(os.urandom(32))
    raw = unb64(p.token)
    for token in (b64(flip(raw, 0)), b64(flip(raw, len(raw) // 2)), b64(flip(raw, -1)), b64(raw[:-1]), b64(raw[:8]),
                  "not base64!"):
        call_error(client, "ImportKeyMaterial", "InvalidParameterValue", KeyId=k, ImportToken=token,
                   EncryptedKeyMaterial=wrapped)
    call_error(client, "ImportKeyMaterial", "MissingParameter", KeyId=k, EncryptedKeyMaterial=wrapped)
    call_error(client, "ImportKeyMaterial", "MissingParameter", KeyId=k, ImportToken=p.token)
    call_error(client, "ImportKeyMaterial", "InvalidParameterValue", KeyId=k, ImportToken=p.token,
               EncryptedKeyMaterial="%%%%")
    assert describe(client, k).KeyState == "PendingImport"


def test_not_an_external_key(client, tmp_path):
    ext = external_key(client)
    p = Params(client, ext, "RSAES_OAEP_SHA_256", tmp_path)
    for k in (create_key(client), create_key(client, KeyUsage="ASYMMETRIC_SIGN_VERIFY_ECC")):
        call_error(client, "GetParametersForImport", NOT_EXTERNAL, KeyId=k, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                   WrappingKeySpec="RSA_2048")
        call_error(client, "ImportKeyMaterial", NOT_EXTERNAL, KeyId=k, ImportToken=p.token,
                   EncryptedKeyMaterial=p.wrap(os.urandom(32)))
        call_error(client, "DeleteImportedKeyMaterial", NOT_EXTERNAL, KeyId=k)
        assert describe(client, k).KeyState == "Enabled"
    call_error(client, "GetParametersForImport", "ResourceUnavailable.CmkNotFound", KeyId=str(uuid.uuid4()),
               WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")


@pytest.mark.parametrize("n", [0, 1, 16, 31, 33, 64, 190])
def test_material_of_the_wrong_length(client, tmp_path, n):
    k = external_key(client)
    p = Params(client, k, "RSAES_OAEP_SHA_256", tmp_path)
    if n == 0:  # OAEP of nothing is a valid ciphertext of the empty string
        wrapped = b64(openssl_encrypt(p.workdir, p.der_file, b"", OPENSSL_RSA["RSAES_OAEP_SHA_256"], der=True))
    else:
        wrapped = p.wrap(os.urandom(n))
    call_error(client, "ImportKeyMaterial", BAD_MATERIAL, KeyId=k, ImportToken=p.token, EncryptedKeyMaterial=wrapped)
    assert describe(client, k).KeyState == "PendingImport"


def test_material_that_does_not_unwrap(client, tmp_path):
    k = external_key(client)
    p = Params(client, k, "RSAES_OAEP_SHA_256", tmp_path)
    material = os.urandom(32)
    # wrapped with another padding than the token's (OAEP checks its label hash: never by chance)
    for alg in ("RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"):
        call_error(client, "ImportKeyMaterial", BAD_MATERIAL, KeyId=k, ImportToken=p.token,
                   EncryptedKeyMaterial=p.wrap(material, alg=alg))
    # wrapped to another key, or garbage of the modulus size, or of another size
    foreign = openssl_key(tmp_path, "rsa", 2048)
    foreign_pub = tmp_path / "foreign.pem"
    foreign_pub.write_bytes(run(["openssl", "pkey", "-in", str(foreign), "-pubout"]))
    for blob in (openssl_encrypt(tmp_path, foreign_pub, material, OPENSSL_RSA["RSAES_OAEP_SHA_256"]),
                 os.urandom(256), os.urandom(100), unb64(p.wrap(material))[:-1]):
        call_error(client, "ImportKeyMaterial", BAD_MATERIAL, KeyId=k, ImportToken=p.token, EncryptedKeyMaterial=b64(blob))
    assert describe(client, k).KeyState == "PendingImport"
    import_material(client, k, p, material)
    assert describe(client, k).KeyState == "Enabled"


def test_valid_to_bounds(client, tmp_path):
    k = external_key(client)
    p = Params(client, k, "RSAES_OAEP_SHA_256", tmp_path)
    material = os.urandom(32)
    for valid_to in (1, now() - 60, now(), MAX_VALID_TO + 1, 2 ** 40):
        call_error(client, "ImportKeyMaterial", "InvalidParameterValue", KeyId=k, ImportToken=p.token,
                   EncryptedKeyMaterial=p.wrap(material), ValidTo=valid_to)
    md = describe(client, k)
    assert (md.KeyState, md.ValidTo) == ("PendingImport", 0), "a refused import changed the key"
    import_material(client, k, p, material, valid_to=MAX_VALID_TO)
    assert describe(client, k).ValidTo == MAX_VALID_TO


def test_wrapping_parameters(client, tmp_path):
    k = external_key(client)
    bad = "InvalidParameterValue"
    for spec in ("RSA_4096", "RSA_3072", "EC_SM2", "SM2", "rsa_2048"):
        call_error(client, "GetParametersForImport", bad, KeyId=k, WrappingAlgorithm="RSAES_OAEP_SHA_256",
                   WrappingKeySpec=spec)
    for alg in ("RSAES_OAEP_SHA_512", "SM2PKE", "RSA_PSS_SHA_256", "rsaes_oaep_sha_256"):
        call_error(client, "GetParametersForImport", bad, KeyId=k, WrappingAlgorithm=alg, WrappingKeySpec="RSA_2048")
    call_error(client, "GetParametersForImport", "MissingParameter", KeyId=k, WrappingAlgorithm="RSAES_OAEP_SHA_256")
    call_error(client, "GetParametersForImport", "MissingParameter", KeyId=k, WrappingKeySpec="RSA_2048")
    # every call makes a fresh wrapping key pair and token
    a, b = Params(client, k, "RSAES_OAEP_SHA_256", tmp_path), Params(client, k, "RSAES_OAEP_SHA_256", tmp_path)
    assert a.der != b.der and a.token != b.token
    # and a token goes with its own wrapping key: b's token does not unwrap what a's key wrapped
    call_error(client, "ImportKeyMaterial", BAD_MATERIAL, KeyId=k, ImportToken=b.token,
               EncryptedKeyMaterial=a.wrap(os.urandom(32)))


def test_imported_keys_do_not_rotate(client, tmp_path):
    k, _ = imported_key(client, tmp_path)
    call_error(client, "RotateKey", "UnsupportedOperation.ExternalCmkCanNotRotate", KeyId=k)
    call_error(client, "EnableKeyRotation", "UnsupportedOperation.ExternalCmkCanNotRotate", KeyId=k)


def test_same_material_in_two_keys_is_not_interchangeable(client, tmp_path):
    material = os.urandom(32)
    a, _ = imported_key(client, tmp_path, material)
    b, _ = imported_key(client, tmp_path, material)
    raw = unb64(encrypt(client, a, b"belongs to a"))
    forged = raw[:5] + uuid.UUID(b).bytes + raw[21:]  # the blob's header names key b instead
    call_error(client, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=b64(forged))
    assert decrypt(client, b64(raw)) == b"belongs to a"


# --------------------------------------------------------------------------------------------
# The ciphertext format, opened and built with the material the test imported


@pytest.mark.parametrize("context", [None, '{"b":"2","a":"1"}'])
def test_blob_opens_with_the_documented_format(client, tmp_path, context):
    """docs/ciphertext-format.md, format 3: FK, 3, algorithm 1 (AES-256), payload 0, key id,
    version, 24-byte nonce; XAES-256-GCM with AAD = header || account || len(context) || canonical
    context (sorted keys, no spaces). Opened here with Python's AES (tests/sdk/blobfmt.py)."""
    k, material = imported_key(client, tmp_path)
    account = int(describe(client, k).CreatorUin)
    data = os.urandom(77)
    raw = unb64(encrypt(client, k, data, context=context))
    assert len(raw) == 49 + len(data) + 16
    h = blobfmt.parse_header(raw)
    assert (h["format"], h["algorithm"], h["payload"], h["key_id"], h["version"]) == (3, 1, 0, k, 1)
    assert raw[:5] == b"FK\x03\x01\x00" and raw[5:21] == uuid.UUID(k).bytes
    assert blobfmt.open_blob(raw, material, account, context) == data
    # and the other way: a format-3 blob sealed here with the same material opens in ferrokms
    mine = blobfmt.make_blob(material, account, k, 1, b"sealed by the test", context=context)
    assert decrypt(client, b64(mine), context=context) == b"sealed by the test"
    wrong = blobfmt.make_blob(material, account + 1, k, 1, b"x", context=context)
    call_error(client, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=b64(wrong),
               **({"EncryptionContext": context} if context else {}))


@pytest.mark.parametrize("context", [None, '{"b":"2","a":"1"}'])
def test_format_1_blobs_still_open_and_reencrypt_upgrades_them(client, tmp_path, context):
    """A format-1 blob (12-byte nonce, AES-256-GCM under the key itself), as ferrokms wrote before
    format 3, built here with the imported material: Decrypt opens it, and ReEncrypt to the same
    key, version and context returns a format-3 blob of the same plaintext."""
    k, material = imported_key(client, tmp_path)
    account = int(describe(client, k).CreatorUin)
    old = blobfmt.make_blob(material, account, k, 1, b"written by format 1", fmt=1, context=context)
    assert old[:3] == b"FK\x01" and len(old) == 37 + 19 + 16
    ctx = {"EncryptionContext": context} if context else {}
    assert decrypt(client, b64(old), context=context) == b"written by format 1"
    r = call(client, "ReEncrypt", CiphertextBlob=b64(old), DestinationKeyId=k,
             **({"SourceEncryptionContext": context, "DestinationEncryptionContext": context} if context else {}))
    assert r.ReEncrypted is True and r.KeyId == k
    new = unb64(r.CiphertextBlob)
    h = blobfmt.parse_header(new)
    assert (h["format"], h["key_id"], len(new)) == (3, k, 49 + 19 + 16)
    assert blobfmt.open_blob(new, material, account, context) == b"written by format 1"
    assert decrypt(client, r.CiphertextBlob, context=context) == b"written by format 1"
    # a format-3 blob to the same key and context comes back as it is
    again = call(client, "ReEncrypt", CiphertextBlob=r.CiphertextBlob, DestinationKeyId=k,
                 **({"SourceEncryptionContext": context, "DestinationEncryptionContext": context} if context else {}))
    assert again.CiphertextBlob == r.CiphertextBlob and again.ReEncrypted is False
    # tampered or relabelled format-1 blobs do not open
    call_error(client, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=b64(flip(old, 30)), **ctx)
    call_error(client, "Decrypt", "FailedOperation.DecryptError", CiphertextBlob=b64(old[:2] + b"\x03" + old[3:]),
               **ctx)


def test_sm4_keys_take_16_bytes(make_server, tmp_path):
    """With `symmetric_algorithm = "SM4"` an EXTERNAL key takes 128 bits of material (SM regions)."""
    s = make_server(extra_args=["--no-rate-limit"], config='[keys]\nsymmetric_algorithm = "SM4"\n').start()
    c = tencent_client(s.endpoint)
    k = external_key(c)
    p = Params(c, k, "RSAES_OAEP_SHA_256", tmp_path)
    call_error(c, "ImportKeyMaterial", BAD_MATERIAL, KeyId=k, ImportToken=p.token, EncryptedKeyMaterial=p.wrap(os.urandom(32)))
    import_material(c, k, p, os.urandom(16))
    md = describe(c, k)
    assert (md.KeyState, md.Type) == ("Enabled", 4)
    assert decrypt(c, encrypt(c, k, b"sm4")) == b"sm4"
