"""Alibaba KMS dialect, imported key material (BYOK) as a user does it (issue 7; docs/key-types.md
"Imported key material"; spec section 6 "BYOK", section 10):

CreateKey Origin=EXTERNAL -> PendingImport -> GetParametersForImport (RSA_2048 with
RSAES_OAEP_SHA_256 / RSAES_OAEP_SHA_1 / RSAES_PKCS1_V1_5, EC_SM2 with SM2PKE) -> the material
wrapped by `openssl pkeyutl -encrypt -keyform DER` with the base64 DER PublicKey -> ImportKeyMaterial
-> Encrypt / Decrypt. Because the test knows the material, it also opens ferrokms' blobs itself and
makes blobs ferrokms opens (docs/ciphertext-format.md): proof that the imported bytes are the key.
Then expiry, deletion and re-import, and every refusal.
"""
from __future__ import annotations

import datetime as dt
import os
import time
import uuid

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ali_asym import (SM2_SPKI_PREFIX, Files, account_of, blob_header, call, expect, flip, make_blob, new_key,
                      open_blob, openssl_encrypt)
from alikms import ISO_RE, UUID_RE, b64, create_key, describe, tea_client, unb64
from interop_helpers import sm2_der_to_raw

WRAPPINGS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5", "SM2PKE"]
MAX_EXPIRY = 2_147_443_200
BG_CONFIG = "[background]\ninterval_secs = 1\n"


@pytest.fixture
def files(tmp_path):
    return Files(tmp_path)


def _spec(alg: str) -> str:
    return "EC_SM2" if alg == "SM2PKE" else "RSA_2048"


def _iso_to_unix(text: str) -> int:
    assert ISO_RE.match(text), text
    return int(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp())


def get_params(client, key_id: str, alg: str) -> dict:
    r = call(client, "GetParametersForImport", KeyId=key_id, WrappingKeySpec=_spec(alg), WrappingAlgorithm=alg)
    assert r["KeyId"] == key_id, r
    assert unb64(r["ImportToken"]), r
    der = unb64(r["PublicKey"])
    if alg == "SM2PKE":
        assert len(der) == 91 and der.startswith(SM2_SPKI_PREFIX), der.hex()
    else:
        key = serialization.load_der_public_key(der)
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048
    expires = _iso_to_unix(r["TokenExpireTime"])
    assert abs(expires - (time.time() + 24 * 3600)) < 600, r["TokenExpireTime"]
    return r


def wrap(files: Files, params: dict, material: bytes, alg: str) -> str:
    """openssl pkeyutl -encrypt -pubin -keyform DER with GetParametersForImport's PublicKey."""
    return b64(openssl_encrypt(files, unb64(params["PublicKey"]), material, alg))


def import_material(client, files, key_id: str, material: bytes, alg: str = "RSAES_OAEP_SHA_256",
                    expire: int = 0, params: dict | None = None) -> dict:
    params = params or get_params(client, key_id, alg)
    call(client, "ImportKeyMaterial", KeyId=key_id, ImportToken=params["ImportToken"],
         EncryptedKeyMaterial=wrap(files, params, material, alg), KeyMaterialExpireUnix=expire)
    return params


def import_expect(client, files, key_id, material, code, alg="RSAES_OAEP_SHA_256", expire=0, params=None,
                  status=400):
    params = params or get_params(client, key_id, alg)
    return expect(client, "ImportKeyMaterial", code, status, KeyId=key_id, ImportToken=params["ImportToken"],
                  EncryptedKeyMaterial=wrap(files, params, material, alg), KeyMaterialExpireUnix=expire)


def external(client, spec: str = "Aliyun_AES_256") -> dict:
    md = create_key(client, KeySpec=spec, Origin="EXTERNAL")
    assert (md["Origin"], md["KeyState"], md["KeySpec"]) == ("EXTERNAL", "PendingImport", spec), md
    assert md["PrimaryKeyVersion"] == "" and md["MaterialExpireTime"] == "", md
    return md


# ------------------------------------------------------------------------------------------ the flow


@pytest.mark.parametrize("alg", WRAPPINGS)
def test_import_and_use(ali, files, alg):
    md = external(ali)
    k = md["KeyId"]
    expect(ali, "Encrypt", "Rejected.PendingImport", 409, KeyId=k, Plaintext="too early")
    material = os.urandom(32)
    import_material(ali, files, k, material, alg)
    d = describe(ali, k)
    assert d["KeyState"] == "Enabled" and d["MaterialExpireTime"] == "" and d["Origin"] == "EXTERNAL", d
    assert UUID_RE.match(d["PrimaryKeyVersion"]), d
    # ferrokms encrypts with exactly the imported bytes ...
    enc = call(ali, "Encrypt", KeyId=k, Plaintext="bring your own key", EncryptionContext={"app": "byok"})
    assert enc["KeyVersionId"] == d["PrimaryKeyVersion"]
    blob = unb64(enc["CiphertextBlob"])
    h = blob_header(blob)
    assert (h["key_id"], h["version"], h["algorithm"]) == (k, 1, 1), h
    assert open_blob(blob, material, account_of(md), {"app": "byok"}) == b"bring your own key"
    assert call(ali, "Decrypt", CiphertextBlob=enc["CiphertextBlob"],
                EncryptionContext={"app": "byok"})["Plaintext"] == "bring your own key"
    # ... and decrypts what the material's owner sealed locally
    mine = make_blob(material, account_of(md), k, 1, b"sealed outside ferrokms", context={"x": "1"})
    dec = call(ali, "Decrypt", CiphertextBlob=b64(mine), EncryptionContext={"x": "1"})
    assert dec["Plaintext"] == "sealed outside ferrokms" and dec["KeyId"] == k
    other = make_blob(os.urandom(32), account_of(md), k, 1, b"other material")
    expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=b64(other))
    # data keys too
    g = call(ali, "GenerateDataKey", KeyId=k, NumberOfBytes=24)
    assert open_blob(unb64(g["CiphertextBlob"]), material, account_of(md)) == unb64(g["Plaintext"])


@pytest.mark.parametrize("spec,algorithm,n", [("Aliyun_AES_256", 1, 32), ("Aliyun_SM4", 2, 16)])
def test_format_1_blobs_open_and_reencrypt_upgrades_them(ali, ali_old, files, spec, algorithm, n):
    """A format-1 blob (docs/ciphertext-format.md: 12-byte nonce, GCM under the key itself), as
    ferrokms wrote it before format 3, made here with the imported material: both SDKs decrypt it,
    and ReEncrypt returns a format-3 blob, which opens here with the material."""
    md = external(ali, spec)
    k = md["KeyId"]
    material = os.urandom(n)
    import_material(ali, files, k, material)
    ctx = {"x": "1"}
    old_blob = make_blob(material, account_of(md), k, 1, b"format one", algorithm=algorithm, context=ctx, fmt=1)
    assert blob_header(old_blob)["format"] == 1 and len(old_blob) == 37 + 10 + 16
    assert call(ali, "Decrypt", CiphertextBlob=b64(old_blob), EncryptionContext=ctx)["Plaintext"] == "format one"
    assert call(ali_old, "Decrypt", CiphertextBlob=b64(old_blob),
                EncryptionContext='{"x": "1"}')["Plaintext"] == "format one"
    r = call(ali, "ReEncrypt", CiphertextBlob=b64(old_blob), DestinationKeyId=k, SourceEncryptionContext=ctx,
             DestinationEncryptionContext=ctx)
    new = unb64(r["CiphertextBlob"])
    h = blob_header(new)
    assert (h["format"], h["algorithm"], h["payload"], h["key_id"], len(new)) == (3, algorithm, 1, k, 49 + 10 + 16)
    assert open_blob(new, material, account_of(md), ctx) == b"format one"
    assert call(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == "format one"
    # format-3 blobs made here open too, for both algorithms
    mine = make_blob(material, account_of(md), k, 1, b"format three", algorithm=algorithm)
    assert call(ali, "Decrypt", CiphertextBlob=b64(mine))["Plaintext"] == "format three"


def test_import_sm2_wrapped_material_in_raw_form(ali, files):
    """SM2PKE-wrapped material may also come as raw C1 || C3 || C2 (with or without the 0x04 of C1):
    openssl's DER re-laid (docs/key-types.md)."""
    for with_04 in (True, False):
        md = external(ali)
        material = os.urandom(32)
        p = get_params(ali, md["KeyId"], "SM2PKE")
        der = unb64(wrap(files, p, material, "SM2PKE"))
        raw = sm2_der_to_raw(der)
        assert raw[0] == 0x04 and len(raw) == 1 + 64 + 32 + 32
        call(ali, "ImportKeyMaterial", KeyId=md["KeyId"], ImportToken=p["ImportToken"],
             EncryptedKeyMaterial=b64(raw if with_04 else raw[1:]), KeyMaterialExpireUnix=0)
        blob = unb64(call(ali, "Encrypt", KeyId=md["KeyId"], Plaintext="raw")["CiphertextBlob"])
        assert open_blob(blob, material, account_of(md)) == b"raw"


def test_import_old_sdk_sm4(ali_old, files):
    """The whole flow through the old RPC SDK, with an SM4 key (16 bytes of material)."""
    md = external(ali_old, "Aliyun_SM4")
    k = md["KeyId"]
    material = os.urandom(16)
    for alg in ("SM2PKE", "RSAES_OAEP_SHA_256"):
        import_expect(ali_old, files, k, os.urandom(32), "InvalidKeyMaterial", alg)
    p = get_params(ali_old, k, "SM2PKE")
    ekm = wrap(files, p, material, "SM2PKE")
    call(ali_old, "ImportKeyMaterial", KeyId=k, ImportToken=p["ImportToken"], EncryptedKeyMaterial=ekm,
         KeyMaterialExpireUnix=0)
    assert describe(ali_old, k)["KeyState"] == "Enabled"
    enc = call(ali_old, "Encrypt", KeyId=k, Plaintext="sm4 material")
    blob = unb64(enc["CiphertextBlob"])
    assert blob_header(blob)["algorithm"] == 2
    assert open_blob(blob, material, account_of(md)) == b"sm4 material"
    call(ali_old, "DeleteKeyMaterial", KeyId=k)
    assert describe(ali_old, k)["KeyState"] == "PendingImport"
    expect(ali_old, "Decrypt", "Rejected.PendingImport", 409, CiphertextBlob=enc["CiphertextBlob"])
    import_material(ali_old, files, k, material, "RSAES_PKCS1_V1_5")
    assert call(ali_old, "Decrypt", CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == "sm4 material"


# ------------------------------------------------------------------------------------------ expiry


def test_material_expire_time(ali, ali_old, files):
    md = external(ali)
    k = md["KeyId"]
    material = os.urandom(32)
    at = int(time.time()) + 3600
    params = import_material(ali, files, k, material, expire=at)
    d = describe(ali, k)
    assert d["KeyState"] == "Enabled" and _iso_to_unix(d["MaterialExpireTime"]) == at, d
    version = d["PrimaryKeyVersion"]
    blob = call(ali, "Encrypt", KeyId=k, Plaintext="kept")["CiphertextBlob"]
    # the same material again only changes the expiry (the same token may be used again)
    import_material(ali_old, files, k, material, params=params, expire=at + 60)
    d = describe(ali, k)
    assert _iso_to_unix(d["MaterialExpireTime"]) == at + 60 and d["PrimaryKeyVersion"] == version, d
    import_material(ali, files, k, material, "SM2PKE", expire=0)
    d = describe(ali, k)
    assert d["MaterialExpireTime"] == "" and d["PrimaryKeyVersion"] == version and d["KeyState"] == "Enabled", d
    assert call(ali, "Decrypt", CiphertextBlob=blob)["Plaintext"] == "kept"
    assert call(ali, "ListKeyVersions", KeyId=k)["TotalCount"] == 1
    import_material(ali, files, k, material, expire=MAX_EXPIRY)
    assert _iso_to_unix(describe(ali, k)["MaterialExpireTime"]) == MAX_EXPIRY
    # in the past, now, or after 2147443200: 400 InvalidParameter, the expiry unchanged
    for bad in (int(time.time()) - 10, 1, MAX_EXPIRY + 1, 2 ** 40):
        import_expect(ali, files, k, material, "InvalidParameter", expire=bad, params=params)
    assert _iso_to_unix(describe(ali, k)["MaterialExpireTime"]) == MAX_EXPIRY
    expect(ali_old, "ImportKeyMaterial", "InvalidParameter", 400, KeyId=k, ImportToken=params["ImportToken"],
           EncryptedKeyMaterial=wrap(files, params, material, "RSAES_OAEP_SHA_256"), KeyMaterialExpireUnix="soon")


def test_material_expires(make_server, files):
    """When KeyMaterialExpireUnix passes, the background pass deletes the material: PendingImport,
    until the same material is imported again, which opens the old blobs."""
    s = make_server(extra_args=["--no-rate-limit"], config=BG_CONFIG).start()
    c = tea_client(s.endpoint)
    md = external(c)
    k = md["KeyId"]
    material = os.urandom(32)
    import_material(c, files, k, material, expire=int(time.time()) + 3)
    blob = call(c, "Encrypt", KeyId=k, Plaintext="expiring")["CiphertextBlob"]
    deadline = time.time() + 30
    while describe(c, k)["KeyState"] != "PendingImport":
        assert time.time() < deadline, "the material did not expire"
        time.sleep(0.5)
    d = describe(c, k)
    assert d["MaterialExpireTime"] == "" and d["PrimaryKeyVersion"] == "", d
    expect(c, "Encrypt", "Rejected.PendingImport", 409, KeyId=k, Plaintext="x")
    expect(c, "Decrypt", "Rejected.PendingImport", 409, CiphertextBlob=blob)
    import_expect(c, files, k, os.urandom(32), "InvalidKeyMaterial")
    import_material(c, files, k, material, "SM2PKE")
    assert call(c, "Decrypt", CiphertextBlob=blob)["Plaintext"] == "expiring"


# ------------------------------------------------------------------------------------------ re-import


def test_delete_and_reimport(ali, files):
    md = external(ali)
    k = md["KeyId"]
    material = os.urandom(32)
    params = import_material(ali, files, k, material, "RSAES_OAEP_SHA_1")
    enc = call(ali, "Encrypt", KeyId=k, Plaintext="before the deletion", EncryptionContext={"k": "v"})
    g = call(ali, "GenerateDataKey", KeyId=k)
    call(ali, "DeleteKeyMaterial", KeyId=k)
    d = describe(ali, k)
    assert d["KeyState"] == "PendingImport" and d["PrimaryKeyVersion"] == "", d
    for action, p in (("Encrypt", dict(KeyId=k, Plaintext="x")),
                      ("Decrypt", dict(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"k": "v"})),
                      ("GenerateDataKey", dict(KeyId=k)),
                      ("GenerateDataKeyWithoutPlaintext", dict(KeyId=k)),
                      ("Decrypt", dict(CiphertextBlob=g["CiphertextBlob"]))):
        expect(ali, action, "Rejected.PendingImport", 409, **p)
    # other material: refused, even though the key holds none now
    import_expect(ali, files, k, os.urandom(32), "InvalidKeyMaterial", "SM2PKE")
    assert describe(ali, k)["KeyState"] == "PendingImport"
    # the same material, with the first (reusable) token: the old blobs open again
    import_material(ali, files, k, material, "RSAES_OAEP_SHA_1", params=params)
    assert describe(ali, k)["KeyState"] == "Enabled"
    assert call(ali, "Decrypt", CiphertextBlob=enc["CiphertextBlob"],
                EncryptionContext={"k": "v"})["Plaintext"] == "before the deletion"
    assert call(ali, "Decrypt", CiphertextBlob=g["CiphertextBlob"])["Plaintext"] == g["Plaintext"]
    # deleting twice is fine; the key just stays PendingImport
    call(ali, "DeleteKeyMaterial", KeyId=k)
    call(ali, "DeleteKeyMaterial", KeyId=k)
    assert describe(ali, k)["KeyState"] == "PendingImport"


def test_different_material_while_imported(ali, files):
    md = external(ali)
    k = md["KeyId"]
    material = os.urandom(32)
    import_material(ali, files, k, material)
    blob = call(ali, "Encrypt", KeyId=k, Plaintext="stays")["CiphertextBlob"]
    for alg in WRAPPINGS:
        import_expect(ali, files, k, os.urandom(32), "InvalidKeyMaterial", alg)
        import_expect(ali, files, k, flip(material), "InvalidKeyMaterial", alg)
    assert describe(ali, k)["KeyState"] == "Enabled"
    assert call(ali, "Decrypt", CiphertextBlob=blob)["Plaintext"] == "stays"
    assert open_blob(unb64(call(ali, "Encrypt", KeyId=k, Plaintext="y")["CiphertextBlob"]), material,
                     account_of(md)) == b"y"


@pytest.mark.parametrize("n", [0, 1, 16, 24, 31, 33, 64])
def test_material_of_the_wrong_length(ali, files, n):
    md = external(ali)
    if n == 0:
        # nothing to wrap: an empty EncryptedKeyMaterial is a missing one
        p = get_params(ali, md["KeyId"], "RSAES_OAEP_SHA_256")
        expect(ali, "ImportKeyMaterial", "MissingParameter", 400, KeyId=md["KeyId"], ImportToken=p["ImportToken"],
               EncryptedKeyMaterial="", KeyMaterialExpireUnix=0)
    else:
        import_expect(ali, files, md["KeyId"], os.urandom(n), "InvalidKeyMaterial",
                      WRAPPINGS[n % len(WRAPPINGS)])
    d = describe(ali, md["KeyId"])
    assert d["KeyState"] == "PendingImport" and d["PrimaryKeyVersion"] == "", d


def test_import_token_and_wrapping_errors(ali, ali_old, files):
    a, b = external(ali), external(ali)
    material = os.urandom(32)
    pa = get_params(ali, a["KeyId"], "RSAES_OAEP_SHA_256")
    pb = get_params(ali, b["KeyId"], "RSAES_OAEP_SHA_256")
    token = unb64(pa["ImportToken"])
    bad_tokens = [pb["ImportToken"], b64(flip(token)), b64(token[:-1]), b64(os.urandom(len(token))), b64(b"x"),
                  "not base64!"]
    for i, t in enumerate(bad_tokens):
        expect(ali_old if i % 2 else ali, "ImportKeyMaterial", "InvalidImportToken", 400, KeyId=a["KeyId"],
               ImportToken=t, EncryptedKeyMaterial=wrap(files, pa, material, "RSAES_OAEP_SHA_256"),
               KeyMaterialExpireUnix=0)
    # this key's token, but the material wrapped to another token's key, or with another padding
    wrong = [wrap(files, pb, material, "RSAES_OAEP_SHA_256"), wrap(files, pa, material, "RSAES_OAEP_SHA_1"),
             wrap(files, pa, material, "RSAES_PKCS1_V1_5"), b64(flip(unb64(wrap(files, pa, material,
                                                                               "RSAES_OAEP_SHA_256")))),
             b64(os.urandom(256)), b64(os.urandom(6145))]
    for ekm in wrong:
        expect(ali, "ImportKeyMaterial", "InvalidKeyMaterial", 400, KeyId=a["KeyId"], ImportToken=pa["ImportToken"],
               EncryptedKeyMaterial=ekm, KeyMaterialExpireUnix=0)
    expect(ali, "ImportKeyMaterial", "InvalidParameter", 400, KeyId=a["KeyId"], ImportToken=pa["ImportToken"],
           EncryptedKeyMaterial="not base64!", KeyMaterialExpireUnix=0)
    for missing in ("ImportToken", "EncryptedKeyMaterial", "KeyId"):
        p = dict(KeyId=a["KeyId"], ImportToken=pa["ImportToken"],
                 EncryptedKeyMaterial=wrap(files, pa, material, "RSAES_OAEP_SHA_256"), KeyMaterialExpireUnix=0)
        del p[missing]
        expect(ali, "ImportKeyMaterial", "MissingParameter", 400, **p)
    expect(ali, "ImportKeyMaterial", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()),
           ImportToken=pa["ImportToken"], EncryptedKeyMaterial=wrap(files, pa, material, "RSAES_OAEP_SHA_256"),
           KeyMaterialExpireUnix=0)
    # SM2: the material wrapped to another SM2 token's key
    sa, sb = get_params(ali, a["KeyId"], "SM2PKE"), get_params(ali, b["KeyId"], "SM2PKE")
    assert sa["PublicKey"] != sb["PublicKey"], "every GetParametersForImport makes a new wrapping key"
    expect(ali, "ImportKeyMaterial", "InvalidKeyMaterial", 400, KeyId=a["KeyId"], ImportToken=sa["ImportToken"],
           EncryptedKeyMaterial=wrap(files, sb, material, "SM2PKE"), KeyMaterialExpireUnix=0)
    for md in (a, b):
        assert describe(ali, md["KeyId"])["KeyState"] == "PendingImport"
    # and after all that, the right one works
    call(ali, "ImportKeyMaterial", KeyId=a["KeyId"], ImportToken=pa["ImportToken"],
         EncryptedKeyMaterial=wrap(files, pa, material, "RSAES_OAEP_SHA_256"), KeyMaterialExpireUnix=0)
    assert describe(ali, a["KeyId"])["KeyState"] == "Enabled"


def test_get_parameters_for_import_errors(ali, ali_old):
    ext = external(ali)
    for md in (create_key(ali), new_key(ali, "RSA_2048"), new_key(ali, "HMAC_SHA256")):
        for client in (ali, ali_old):
            expect(client, "GetParametersForImport", "Unsupported.Origin", 400, KeyId=md["KeyId"],
                   WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256")
        expect(ali, "DeleteKeyMaterial", "Unsupported.Origin", 400, KeyId=md["KeyId"])
    p = get_params(ali, ext["KeyId"], "RSAES_OAEP_SHA_256")
    expect(ali, "ImportKeyMaterial", "Unsupported.Origin", 400, KeyId=create_key(ali)["KeyId"],
           ImportToken=p["ImportToken"], EncryptedKeyMaterial=b64(os.urandom(256)), KeyMaterialExpireUnix=0)
    for spec, alg in (("RSA_2048", "SM2PKE"), ("EC_SM2", "RSAES_OAEP_SHA_256"), ("EC_SM2", "RSAES_PKCS1_V1_5"),
                      ("RSA_3072", "RSAES_OAEP_SHA_256"), ("RSA_4096", "RSAES_OAEP_SHA_256"),
                      ("EC_P256", "SM2PKE"), ("RSA_2048", "RSAES_OAEP_SHA_512"), ("RSA_2048", "rsaes_oaep_sha_256")):
        expect(ali, "GetParametersForImport", "InvalidParameter", 400, KeyId=ext["KeyId"], WrappingKeySpec=spec,
               WrappingAlgorithm=alg)
    expect(ali, "GetParametersForImport", "MissingParameter", 400, KeyId=ext["KeyId"], WrappingKeySpec="RSA_2048")
    expect(ali, "GetParametersForImport", "MissingParameter", 400, KeyId=ext["KeyId"],
           WrappingAlgorithm="RSAES_OAEP_SHA_256")
    expect(ali, "GetParametersForImport", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()),
           WrappingKeySpec="RSA_2048", WrappingAlgorithm="RSAES_OAEP_SHA_256")
    # asymmetric or HMAC keys cannot be EXTERNAL
    for spec in ("RSA_2048", "EC_SM2", "HMAC_SHA256", "ML_KEM_768"):
        expect(ali_old, "CreateKey", "UnsupportedOperation", 400, KeySpec=spec, Origin="EXTERNAL")
    expect(ali, "CreateKey", "Unsupported.Origin", 400, Origin="external")


def test_pending_import_key(ali, ali_old, files):
    """A key without material: every crypto call 409 Rejected.PendingImport; no versions."""
    ext = external(ali)
    k = ext["KeyId"]
    sym = create_key(ali)["KeyId"]
    blob = call(ali, "Encrypt", KeyId=sym, Plaintext="x")["CiphertextBlob"]
    rsa_pub = b64(rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    for i, (action, p) in enumerate((
        ("Encrypt", dict(KeyId=k, Plaintext="x")),
        ("GenerateDataKey", dict(KeyId=k)),
        ("GenerateDataKeyWithoutPlaintext", dict(KeyId=k, NumberOfBytes=16)),
        ("GenerateAndExportDataKey", dict(KeyId=k, PublicKeyBlob=rsa_pub, WrappingKeySpec="RSA_2048",
                                          WrappingAlgorithm="RSAES_OAEP_SHA_256")),
        ("ReEncrypt", dict(CiphertextBlob=blob, DestinationKeyId=k)),
        ("Encrypt", dict(KeyId=k, Plaintext="x", DryRun="true")),
    )):
        expect(ali_old if i % 2 else ali, action, "Rejected.PendingImport", 409, **p)
    assert call(ali, "ListKeyVersions", KeyId=k)["TotalCount"] == 0
    err = expect(ali, "CreateKeyVersion", "Rejected.UnsupportedOperation", 400, KeyId=k)
    assert err.status == 400
    # and once imported, the same calls work
    import_material(ali, files, k, os.urandom(32), "SM2PKE")
    assert call(ali, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=k)["KeyId"] == k
    expect(ali, "CreateKeyVersion", "Rejected.UnsupportedOperation", 400, KeyId=k)
    expect(ali, "UpdateRotationPolicy", "Rejected.UnsupportedOperation", 400, KeyId=k, EnableAutomaticRotation=True,
           RotationInterval="30d")


def test_import_by_state(ali, files):
    """Spec section 10: ImportKeyMaterial on PendingDeletion is 409 Rejected.StateModifiedFailed; on
    a Disabled key it takes (the same) material and the key stays Disabled."""
    ext = external(ali)
    k = ext["KeyId"]
    material = os.urandom(32)
    p = get_params(ali, k, "RSAES_OAEP_SHA_256")
    call(ali, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=7)
    assert describe(ali, k)["KeyState"] == "PendingDeletion"
    import_expect(ali, files, k, material, "Rejected.StateModifiedFailed", params=p, status=409)
    call(ali, "CancelKeyDeletion", KeyId=k)
    import_material(ali, files, k, material, params=p)
    assert describe(ali, k)["KeyState"] == "Enabled"
    call(ali, "DisableKey", KeyId=k)
    import_material(ali, files, k, material, expire=int(time.time()) + 600)
    d = describe(ali, k)
    assert d["KeyState"] == "Disabled" and d["MaterialExpireTime"], d
    expect(ali, "Encrypt", "Rejected.Disabled", 409, KeyId=k, Plaintext="no")
    call(ali, "EnableKey", KeyId=k)
    assert call(ali, "Encrypt", KeyId=k, Plaintext="ok")["KeyId"] == k


def test_parameters_and_deletion_in_every_state(ali, files):
    """Spec section 10: GetParametersForImport and DeleteKeyMaterial are "ok" in every key state,
    PendingDeletion included."""
    ext = external(ali)
    k = ext["KeyId"]
    material = os.urandom(32)
    import_material(ali, files, k, material)
    call(ali, "DisableKey", KeyId=k)
    get_params(ali, k, "SM2PKE")
    call(ali, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=7)
    get_params(ali, k, "RSAES_OAEP_SHA_1")
    call(ali, "DeleteKeyMaterial", KeyId=k)
    assert describe(ali, k)["KeyState"] == "PendingDeletion"
    call(ali, "CancelKeyDeletion", KeyId=k)
    # No material left: the cancelled key waits for it again.
    assert describe(ali, k)["KeyState"] == "PendingImport"
    expect(ali, "Encrypt", "Rejected.PendingImport", 409, KeyId=k, Plaintext="no")


def test_tokens_are_bound_to_the_account(make_server, files):
    """A token of one account's key is no token for a key of another account (same server)."""
    from conftest import create_account

    s = make_server(extra_args=["--no-rate-limit"]).start()
    a = tea_client(s.endpoint)
    acct = create_account(s)
    b = tea_client(s.endpoint, ak=acct.secret_id, secret=acct.secret_key)
    ka, kb = external(a), external(b)
    pa = get_params(a, ka["KeyId"], "RSAES_OAEP_SHA_256")
    material = os.urandom(32)
    expect(b, "ImportKeyMaterial", "InvalidImportToken", 400, KeyId=kb["KeyId"], ImportToken=pa["ImportToken"],
           EncryptedKeyMaterial=wrap(files, pa, material, "RSAES_OAEP_SHA_256"), KeyMaterialExpireUnix=0)
    expect(b, "GetParametersForImport", "Forbidden.KeyNotFound", 404, KeyId=ka["KeyId"], WrappingKeySpec="RSA_2048",
           WrappingAlgorithm="RSAES_OAEP_SHA_256")
    import_material(a, files, ka["KeyId"], material, params=pa)
    # the same bytes in two accounts' keys are two keys: blobs do not cross
    import_material(b, files, kb["KeyId"], material)
    blob = call(a, "Encrypt", KeyId=ka["KeyId"], Plaintext="a's")["CiphertextBlob"]
    expect(b, "Decrypt", "InvalidParameter", 400, CiphertextBlob=blob)
    assert call(a, "Decrypt", CiphertextBlob=blob)["Plaintext"] == "a's"
