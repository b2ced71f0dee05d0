"""Helpers for the Alibaba suites of asymmetric, HMAC and imported keys (issue 7):
test_ali_asymmetric.py, test_ali_asym_interop.py, test_ali_hmac.py, test_ali_byok.py,
test_ali_asym_cross_dialect.py.

* `call` / `call_err` / `expect`: one action through the Tea SDK or the old RPC SDK (whichever
  client is given), on top of alikms.py; the old SDK has no GenerateMac / VerifyMac request
  classes, so those go through its own `CommonRequest` (same HMAC-SHA1 RPC signing).
* Checks by implementations that are not ferrokms: the `openssl` CLI (OpenSSL 3), Python
  `cryptography`, `gmssl` / `hashlib` (SM2, SM3).
* SM2DSA digests: e = SM3(Z_A || M), Z_A per GB/T 32918.2 with the default id 1234567812345678.
* The ciphertext blob of docs/ciphertext-format.md, opened and made locally with known key
  material (BYOK), through tests/sdk/blobfmt.py.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (Prehashed, decode_dss_signature,
                                                             encode_dss_signature)
from gmssl import sm2 as gsm2

import blobfmt
from alikms import (AliError, OldClient, arn_parts, b64, check, old, old_err, tea, tea_err, unb64)

# --------------------------------------------------------------------------------------------
# The key types of docs/key-types.md, in Alibaba's terms

ED, SV, MAC = "ENCRYPT/DECRYPT", "SIGN/VERIFY", "GENERATE/VERIFY_MAC"

#: Every asymmetric (spec, usage) pair CreateKey accepts.
ASYMMETRIC = [
    ("RSA_2048", ED), ("RSA_2048", SV),
    ("RSA_3072", ED), ("RSA_3072", SV),
    ("EC_SM2", ED), ("EC_SM2", SV),
    ("EC_P256", SV), ("EC_P256K", SV), ("EC_P384", SV),
    ("ML_KEM_768", ED), ("ML_DSA_65", SV),
]
HMAC_SPECS = ["HMAC_SHA256", "HMAC_SHA384", "HMAC_SHA512", "HMAC_SM3"]
#: The MAC algorithm of each HMAC spec and its output length.
MAC_ALG = {"HMAC_SHA256": "HMAC_SHA_256", "HMAC_SHA384": "HMAC_SHA_384", "HMAC_SHA512": "HMAC_SHA_512",
           "HMAC_SM3": "HMAC_SM3"}
MAC_LEN = {"HMAC_SHA256": 32, "HMAC_SHA384": 48, "HMAC_SHA512": 64, "HMAC_SM3": 32}

#: AsymmetricEncrypt / AsymmetricDecrypt algorithms of each encryption spec.
ENC_ALGS = {"RSA_2048": ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"],
            "RSA_3072": ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"],
            "EC_SM2": ["SM2PKE"]}
#: AsymmetricSign / AsymmetricVerify algorithms of each signing spec.
SIGN_ALGS = {"RSA_2048": ["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"],
             "RSA_3072": ["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"],
             "EC_P256": ["ECDSA_SHA_256"], "EC_P256K": ["ECDSA_SHA_256"], "EC_P384": ["ECDSA_SHA_384"],
             "EC_SM2": ["SM2DSA"], "ML_DSA_65": ["ML_DSA_65"]}
ALL_SIGN_ALGS = ["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256", "ECDSA_SHA_256", "ECDSA_SHA_384", "SM2DSA", "ML_DSA_65"]
ALL_ENC_ALGS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "SM2PKE"]

#: RSA modulus bytes and OAEP capacity (spec section 9).
RSA_BYTES = {"RSA_2048": 256, "RSA_3072": 384}
OAEP_MAX = {("RSA_2048", "RSAES_OAEP_SHA_256"): 190, ("RSA_2048", "RSAES_OAEP_SHA_1"): 214,
            ("RSA_3072", "RSAES_OAEP_SHA_256"): 318, ("RSA_3072", "RSAES_OAEP_SHA_1"): 342}
SM2PKE_MAX = 6047

#: The curve orders (the standards' constants), for the (r, n - s) form of an ECDSA signature.
CURVE_ORDER = {
    "EC_P256": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "EC_P256K": 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141,
    "EC_P384": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
                   "581A0DB248B0A77AECEC196ACCC52973", 16),
}
CURVE_CLASS = {"EC_P256": ec.SECP256R1, "EC_P256K": ec.SECP256K1, "EC_P384": ec.SECP384R1}
OPENSSL_CURVE = {"EC_P256": "prime256v1", "EC_P256K": "secp256k1", "EC_P384": "secp384r1"}

# --------------------------------------------------------------------------------------------
# Calls through either SDK


def is_old(client) -> bool:
    return isinstance(client, OldClient)


def _old_common(c: OldClient, action: str, params: dict):
    """The old SDK's generic request (aliyunsdkcore CommonRequest): HMAC-SHA1 RPC, like its typed ones."""
    from aliyunsdkcore.request import CommonRequest

    req = CommonRequest(domain=c.endpoint, version="2016-01-20", action_name=action)
    req.set_protocol_type("http")
    req.set_method("POST")
    req.set_accept_format("JSON")
    for k, v in params.items():
        req.add_query_param(k, v)
    return req


#: Actions the old SDK 2.16.5 has no request class for.
OLD_COMMON = {"GenerateMac", "VerifyMac"}


def call(client, action: str, **params) -> dict:
    """ACTION through the Tea SDK (tea_client) or the old RPC SDK (old_client); the body as a dict."""
    if not is_old(client):
        return tea(client, action, **params)
    if action in OLD_COMMON:
        raw = client.acs.do_action_with_exception(_old_common(client, action, params))
        body = json.loads(raw)
        assert isinstance(body.get("RequestId"), str) and body["RequestId"], body
        return body
    return old(client, action, **params)


def call_err(client, action: str, **params) -> AliError:
    if not is_old(client):
        return tea_err(client, action, **params)
    if action in OLD_COMMON:
        from aliyunsdkcore.acs_exception.exceptions import ServerException

        try:
            body = call(client, action, **params)
        except ServerException as e:
            err = AliError(status=e.get_http_status(), code=e.get_error_code(), message=e.get_error_msg(),
                           request_id=e.get_request_id(), exc=e)
            assert err.request_id, f"{action}: error {err} came without a RequestId"
            return err
        pytest.fail(f"{action} should have failed but succeeded: {body}")
    return old_err(client, action, **params)


def expect(client, action: str, code: str, status: int | None = None, **params) -> AliError:
    """ACTION must fail with exactly CODE (and HTTP STATUS)."""
    return check(call_err(client, action, **params), code, status)


def new_key(client, spec: str, usage: str | None = None, **params) -> dict:
    """CreateKey of SPEC (and USAGE); returns KeyMetadata, checked to be what was asked for."""
    if usage is not None:
        params["KeyUsage"] = usage
    md = call(client, "CreateKey", KeySpec=spec, **params)["KeyMetadata"]
    assert md["KeySpec"] == spec, md
    if usage is not None:
        assert md["KeyUsage"] == usage, md
    return md


def public_pem(client, key_id: str, version: str) -> str:
    body = call(client, "GetPublicKey", KeyId=key_id, KeyVersionId=version)
    pem = body["PublicKey"]
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n") and pem.rstrip().endswith("-----END PUBLIC KEY-----"), pem
    return pem


def pem_to_der(pem: str) -> bytes:
    lines = [ln for ln in pem.strip().splitlines() if not ln.startswith("-----")]
    return base64.b64decode("".join(lines), validate=True)


def account_of(md: dict) -> int:
    return int(arn_parts(md["Arn"])["account"])


def flip(data: bytes, index: int = -1) -> bytes:
    """DATA with one bit of byte INDEX flipped."""
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def digest_for(alg: str, message: bytes, pub_pem: str | None = None) -> bytes:
    """What AsymmetricSign takes as Digest for ALG: the hash of MESSAGE (SM2DSA: SM3(Z_A || M);
    ML_DSA_65, ferrokms' extension: the message itself)."""
    if alg in ("RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256", "ECDSA_SHA_256"):
        return hashlib.sha256(message).digest()
    if alg == "ECDSA_SHA_384":
        return hashlib.sha384(message).digest()
    if alg == "SM2DSA":
        assert pub_pem is not None
        x, y = sm2_point(pem_to_der(pub_pem))
        return sm2_e(x, y, message)
    if alg == "ML_DSA_65":
        return message
    raise ValueError(alg)


# --------------------------------------------------------------------------------------------
# SM2 / SM3

SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")
SM2_ID = b"1234567812345678"
_T = gsm2.default_ecc_table
SM2_N = int(_T["n"], 16)


def sm3(data: bytes) -> bytes:
    """SM3 by hashlib (OpenSSL) where it has it; checked against gmssl's own SM3."""
    from gmssl import sm3 as gsm3

    ours = bytes.fromhex(gsm3.sm3_hash(list(data)))
    try:
        theirs = hashlib.new("sm3", data).digest()
    except ValueError:
        return ours
    assert ours == theirs, "gmssl and OpenSSL disagree on SM3"
    return ours


def sm2_point(spki_der: bytes) -> tuple[bytes, bytes]:
    """(x, y) of an SM2 SPKI of the exact form of spec section 13 (91 bytes, fixed 26-byte prefix)."""
    assert len(spki_der) == 91 and spki_der.startswith(SM2_SPKI_PREFIX), spki_der.hex()
    point = spki_der[len(SM2_SPKI_PREFIX):]
    assert point[0] == 0x04
    return point[1:33], point[33:65]


def sm2_za(x: bytes, y: bytes, uid: bytes = SM2_ID) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2, 5.5)."""
    entl = (len(uid) * 8).to_bytes(2, "big")
    a, b = bytes.fromhex(_T["a"]), bytes.fromhex(_T["b"])
    g = bytes.fromhex(_T["g"])
    return sm3(entl + uid + a + b + g[:32] + g[32:] + x + y)


def sm2_e(x: bytes, y: bytes, message: bytes) -> bytes:
    return sm3(sm2_za(x, y) + message)


def sm2_verify_digest(x: bytes, y: bytes, e: bytes, der_sig: bytes) -> bool:
    """gmssl's SM2 verification of DER signature DER_SIG over the digest e."""
    r, s = decode_dss_signature(der_sig)
    v = gsm2.CryptSM2(private_key="", public_key="00")
    v.public_key = (x + y).hex()  # set directly: gmssl's constructor strips leading '0'/'4' digits
    return bool(v.verify("%064x%064x" % (r, s), e))


# --------------------------------------------------------------------------------------------
# openssl CLI


def openssl_bin() -> str:
    """The openssl CLI (OpenSSL 3 needed: SM2 distid, pkeyutl -rawin); skips the test without it."""
    path = shutil.which("openssl")
    if not path:
        pytest.skip("the openssl CLI is not installed")
    out = subprocess.run([path, "version"], capture_output=True, text=True).stdout
    m = re.match(r"OpenSSL (\d+)\.", out)
    if not m or int(m.group(1)) < 3:
        pytest.skip(f"OpenSSL 3 is needed, found {out.strip()!r}")
    return path


def openssl(*args, stdin: bytes | None = None, ok: bool = True) -> subprocess.CompletedProcess:
    p = subprocess.run([openssl_bin(), *map(str, args)], input=stdin, capture_output=True, timeout=60)
    if ok and p.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))} failed ({p.returncode}): "
                             f"{p.stderr.decode(errors='replace')}")
    return p


class Files:
    """Unique files in a directory (tmp_path)."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def write(self, data: bytes | str, suffix: str = ".bin") -> Path:
        p = self.dir / f"{uuid.uuid4().hex}{suffix}"
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    def path(self, suffix: str = ".bin") -> Path:
        return self.dir / f"{uuid.uuid4().hex}{suffix}"


#: openssl pkeyutl -encrypt options for each wrapping / encryption algorithm (OpenSSL 3: the MGF1
#: digest follows rsa_oaep_md unless set).
OPENSSL_ENC_OPTS = {
    "RSAES_OAEP_SHA_256": ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256"],
    "RSAES_OAEP_SHA_1": ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1"],
    "RSAES_PKCS1_V1_5": ["-pkeyopt", "rsa_padding_mode:pkcs1"],
    "SM2PKE": [],
}


def openssl_encrypt(files: Files, public: str | bytes, data: bytes, alg: str) -> bytes:
    """`openssl pkeyutl -encrypt` to PUBLIC (a PEM string, or DER SPKI bytes)."""
    if isinstance(public, str):
        key, form = files.write(public, ".pem"), "PEM"
    else:
        key, form = files.write(public, ".der"), "DER"
    src, out = files.write(data), files.path()
    openssl("pkeyutl", "-encrypt", "-pubin", "-keyform", form, "-inkey", key, "-in", src, "-out", out,
            *OPENSSL_ENC_OPTS[alg])
    return out.read_bytes()


def openssl_asn1(files: Files, der: bytes) -> list[tuple[int, str, int]]:
    """`openssl asn1parse` of DER: (depth, type, content length) of each element."""
    out = openssl("asn1parse", "-inform", "DER", "-in", files.write(der)).stdout.decode()
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*\d+:d=(\d+)\s+hl=\s*\d+\s+l=\s*(\d+)\s+(?:prim|cons):\s+(\S+(?: \S+)?)", line)
        assert m, line
        rows.append((int(m.group(1)), m.group(3).strip(), int(m.group(2))))
    return rows


def assert_sm2pke_der(files: Files, ct: bytes, plaintext_len: int) -> None:
    """CT is the DER SEQUENCE {INTEGER x, INTEGER y, OCTET STRING C3 (32), OCTET STRING C2} as OpenSSL
    parses it, with C2 as long as the plaintext."""
    rows = openssl_asn1(files, ct)
    assert [(d, t) for d, t, _ in rows] == [(0, "SEQUENCE"), (1, "INTEGER"), (1, "INTEGER"),
                                            (1, "OCTET STRING"), (1, "OCTET STRING")], rows
    assert rows[3][2] == 32, rows
    assert rows[4][2] == plaintext_len, rows


SIG_DIGEST = {"RSA_PSS_SHA_256": "sha256", "RSA_PKCS1_SHA_256": "sha256", "ECDSA_SHA_256": "sha256",
              "ECDSA_SHA_384": "sha384", "SM2DSA": "sm3"}
PSS_OPTS = ["rsa_padding_mode:pss", "rsa_pss_saltlen:digest", "rsa_mgf1_md:sha256"]


def openssl_dgst_verify(files: Files, pub_pem: str, alg: str, message: bytes, sig: bytes) -> bool:
    """`openssl dgst -<hash> -verify` of SIG over MESSAGE (SM2DSA: -sm3 with distid 1234567812345678)."""
    args = ["dgst", f"-{SIG_DIGEST[alg]}", "-verify", files.write(pub_pem, ".pem"),
            "-signature", files.write(sig)]
    if alg == "RSA_PSS_SHA_256":
        for o in PSS_OPTS:
            args += ["-sigopt", o]
    if alg == "SM2DSA":
        args += ["-sigopt", f"distid:{SM2_ID.decode()}"]
    p = openssl(*args, files.write(message), ok=False)
    verified = p.returncode == 0 and b"Verified OK" in p.stdout
    # A tampered DER signature that no longer decodes canonically is refused as an error
    # ("Error verifying data"), not as a mismatch: a refusal all the same. (Arguments that
    # break every call would fail the positive checks, which need "Verified OK".)
    refused = b"Verification failure" in p.stdout + p.stderr or b"Error verifying data" in p.stdout + p.stderr
    assert verified or refused, (p.stdout, p.stderr)
    return verified


def openssl_pkeyutl_verify(files: Files, pub_pem: str, alg: str, digest: bytes, sig: bytes) -> bool:
    """`openssl pkeyutl -verify` of SIG over a DIGEST (for SM2, OpenSSL takes the digest as e)."""
    args = ["pkeyutl", "-verify", "-pubin", "-inkey", files.write(pub_pem, ".pem"), "-in", files.write(digest),
            "-sigfile", files.write(sig)]
    if alg.startswith("RSA_"):
        args += ["-pkeyopt", "digest:sha256"]
    if alg == "RSA_PSS_SHA_256":
        for o in PSS_OPTS:
            args += ["-pkeyopt", o]
    p = openssl(*args, ok=False)
    verified = p.returncode == 0 and b"Signature Verified Successfully" in p.stdout
    assert verified or b"Signature Verification Failure" in p.stdout + p.stderr, (p.stdout, p.stderr)
    return verified


def openssl_keypair(files: Files, spec: str) -> tuple[Path, str]:
    """A key pair of SPEC's type made by openssl: (private PEM path, public PEM)."""
    priv = files.path(".pem")
    if spec.startswith("RSA_"):
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{spec[4:]}", "-out", priv)
    elif spec == "EC_SM2":
        openssl("genpkey", "-algorithm", "SM2", "-out", priv)
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{OPENSSL_CURVE[spec]}", "-out", priv)
    return priv, openssl("pkey", "-in", priv, "-pubout").stdout.decode()


def openssl_sign(files: Files, priv: Path, alg: str, message: bytes) -> bytes:
    args = ["dgst", f"-{SIG_DIGEST[alg]}", "-sign", priv]
    if alg == "RSA_PSS_SHA_256":
        for o in PSS_OPTS:
            args += ["-sigopt", o]
    if alg == "SM2DSA":
        args += ["-sigopt", f"distid:{SM2_ID.decode()}"]
    out = files.path()
    openssl(*args, "-out", out, files.write(message))
    return out.read_bytes()


# --------------------------------------------------------------------------------------------
# Python `cryptography`


def load_public(pub_pem: str):
    return serialization.load_pem_public_key(pub_pem.encode())


def cryptography_verify(pub_pem: str, alg: str, digest: bytes, sig: bytes) -> bool:
    """`cryptography`'s verification of SIG over the prehashed DIGEST (RSA and ECDSA)."""
    key = load_public(pub_pem)
    h = hashes.SHA384() if alg == "ECDSA_SHA_384" else hashes.SHA256()
    try:
        if alg == "RSA_PSS_SHA_256":
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(sig, digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), Prehashed(h))
        elif alg == "RSA_PKCS1_SHA_256":
            assert isinstance(key, rsa.RSAPublicKey)
            key.verify(sig, digest, padding.PKCS1v15(), Prehashed(h))
        else:
            assert isinstance(key, ec.EllipticCurvePublicKey)
            key.verify(sig, digest, ec.ECDSA(Prehashed(h)))
    except InvalidSignature:
        return False
    return True


def other_high_s(der_sig: bytes, spec: str) -> bytes:
    """The other valid ECDSA signature of the same (r, s): (r, n - s), DER."""
    r, s = decode_dss_signature(der_sig)
    return encode_dss_signature(r, CURVE_ORDER[spec] - s)


# --------------------------------------------------------------------------------------------
# The ciphertext blob (docs/ciphertext-format.md), for keys whose material the test knows (BYOK)

BLOB_ALG = blobfmt.ALGORITHMS


def blob_header(blob: bytes) -> dict:
    """The header fields of a CiphertextBlob (format 1 or 3; tests/sdk/blobfmt.py)."""
    return blobfmt.parse_header(blob)


def open_blob(blob: bytes, material: bytes, account: int, context: dict | None = None) -> bytes:
    """Opens a CiphertextBlob with the key MATERIAL, per docs/ciphertext-format.md."""
    return blobfmt.open_blob(blob, material, account, context)


def make_blob(material: bytes, account: int, key_id: str, version: int, plaintext: bytes, *,
              algorithm: int = 1, payload: int = 1, context: dict | None = None, fmt: int = 3) -> bytes:
    """A CiphertextBlob (format FMT) made locally with the key MATERIAL (payload 1: Alibaba's sealed
    text)."""
    return blobfmt.make_blob(material, account, key_id, version, plaintext, fmt=fmt, algorithm=algorithm,
                             payload=payload, context=context)


__all__ = [n for n in dir() if not n.startswith("_")] + ["b64", "unb64"]
