"""Helpers shared by test_interop, test_durability and test_secrets_at_rest.

* `call` / `error_code`: typed calls through the official Python SDK (request model + client method).
* Keys made with the `openssl` CLI, and decryption of the wrapped data keys ferrokms returns
  (GenerateDataKey / Decrypt / GetDataKeyPlaintext with EncryptionPublicKey) by two independent
  implementations each: the openssl CLI and Python `cryptography` (RSA) or `gmssl` (SM2).
* A strict DER reader/writer for the GM/T 0009 SM2 ciphertext
  SEQUENCE { INTEGER x, INTEGER y, OCTET STRING C3, OCTET STRING C2 }.
"""
from __future__ import annotations

import base64
import json
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.kms.v20190118 import models

# --------------------------------------------------------------------------------------------
# SDK calls


def call(client, action: str, **params):
    """Call `action` with the SDK's own request model; returns the response model."""
    req = getattr(models, f"{action}Request")()
    req.from_json_string(json.dumps(params))
    return getattr(client, action)(req)


def error_code(client, action: str, **params) -> str:
    """Call `action`, which must fail; returns the error code."""
    try:
        resp = call(client, action, **params)
    except TencentCloudSDKException as e:
        return e.code
    pytest.fail(f"{action} should have failed but succeeded: {resp.to_json_string()}")


def b64d(s: str | None) -> bytes:
    assert s is not None, "expected a base64 field, got None"
    return base64.b64decode(s, validate=True)


def b64e(b: bytes) -> str:
    return base64.b64encode(b).decode()


def create_cmk(client, **params) -> str:
    params.setdefault("Alias", f"t-{uuid.uuid4().hex[:20]}")
    resp = call(client, "CreateKey", **params)
    assert resp.KeyId, resp.to_json_string()
    return resp.KeyId


# --------------------------------------------------------------------------------------------
# openssl helpers


def run(args: list[str], stdin: bytes | None = None) -> bytes:
    p = subprocess.run(args, input=stdin, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return p.stdout


@dataclass
class KeyPair:
    kind: str            # "rsa" | "sm2" | "ec"
    bits: int
    priv: Path           # PKCS#8 PEM private key
    pub_pem: str         # PEM SubjectPublicKeyInfo
    sm2_d_hex: str = ""  # SM2: private scalar, 64 hex chars
    sm2_xy_hex: str = ""  # SM2: public point x||y (no 04), 128 hex chars


def _text_field(text: str, name: str) -> bytes:
    m = re.search(rf"^{name}:\s*\n((?:\s+[0-9a-f:]+\n)+)", text, re.M)
    assert m, f"no {name} in openssl output:\n{text}"
    return bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))


def make_key(directory: Path, kind: str, bits: int = 0, curve: str = "") -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{kind}{bits or curve}"
    priv = directory / f"{name}.pem"
    if kind == "rsa":
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{bits}", "-out", str(priv)])
    elif kind == "sm2":
        run(["openssl", "genpkey", "-algorithm", "SM2", "-out", str(priv)])
        bits = 256
    elif kind == "ec":
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}", "-out", str(priv)])
        bits = 256
    else:
        raise ValueError(kind)
    pub = run(["openssl", "pkey", "-in", str(priv), "-pubout"]).decode()
    kp = KeyPair(kind=kind, bits=bits, priv=priv, pub_pem=pub)
    if kind == "sm2":
        text = run(["openssl", "pkey", "-in", str(priv), "-noout", "-text"]).decode()
        d = int.from_bytes(_text_field(text, "priv"), "big")
        pt = _text_field(text, "pub")
        assert pt[0] == 4 and len(pt) == 65, pt.hex()
        kp.sm2_d_hex = f"{d:064x}"
        kp.sm2_xy_hex = pt[1:].hex()
    return kp


RSA_OPTS = {
    "RSAES_PKCS1_V1_5": ["-pkeyopt", "rsa_padding_mode:pkcs1"],
    "RSAES_OAEP_SHA_1": ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1",
                         "-pkeyopt", "rsa_mgf1_md:sha1"],
    "RSAES_OAEP_SHA_256": ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
                           "-pkeyopt", "rsa_mgf1_md:sha256"],
}
RSA_ALGS = list(RSA_OPTS)
SM2_ALGS = ["SM2", "SM2_C1C3C2_ASN1"]


def rsa_max_bytes(bits: int, alg: str) -> int:
    k = bits // 8
    return {"RSAES_PKCS1_V1_5": k - 11, "RSAES_OAEP_SHA_1": k - 2 * 20 - 2,
            "RSAES_OAEP_SHA_256": k - 2 * 32 - 2}[alg]


def openssl_decrypt(key: KeyPair, ct: bytes, opts: list[str], workdir: Path) -> bytes:
    workdir.mkdir(parents=True, exist_ok=True)
    ct_file = workdir / "ct.bin"
    out = workdir / "pt.bin"
    ct_file.write_bytes(ct)
    if out.exists():
        out.unlink()
    run(["openssl", "pkeyutl", "-decrypt", "-inkey", str(key.priv), "-in", str(ct_file), "-out", str(out), *opts])
    return out.read_bytes()


def cryptography_rsa_decrypt(key: KeyPair, ct: bytes, alg: str) -> bytes:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    sk = serialization.load_pem_private_key(key.priv.read_bytes(), password=None)
    if alg == "RSAES_PKCS1_V1_5":
        pad = padding.PKCS1v15()
    else:
        h = hashes.SHA1() if alg == "RSAES_OAEP_SHA_1" else hashes.SHA256()
        pad = padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)
    return sk.decrypt(ct, pad)


def gmssl_sm2(d_hex: str, xy_hex: str):
    """gmssl's SM2 in mode=1 (C1C3C2) for a key. The point is set after construction: the
    constructor's `public_key.lstrip("04")` strips every leading hex 0 and 4 of a point whose x
    starts with byte 04 (1 key in 256), and gmssl then computes with a wrong point."""
    from gmssl import sm2

    c = sm2.CryptSM2(private_key=d_hex, public_key="", mode=1)
    c.public_key = xy_hex
    assert len(c.public_key) == 128, xy_hex
    return c


def gmssl_encrypt(c, pt: bytes) -> bytes:
    """gmssl's SM2 encryption, x || y || C3 || C2 (no 04), done as GB/T 32918.4 says: when the KDF
    output t is all zero, gmssl returns None (about 1 one-byte message in 256) where the standard
    goes back to step A1 with a new k; so do that here."""
    for _ in range(32):
        ct = c.encrypt(pt)
        if ct is not None:
            assert len(ct) == 96 + len(pt), len(ct)
            return ct
    raise AssertionError("gmssl: SM2 KDF output all zero 32 times in a row")


def gmssl_decrypt_raw(key: KeyPair, raw_with_04: bytes) -> bytes:
    """gmssl mode=1 (C1C3C2), fed x||y||C3||C2 without the 04. gmssl never checks C3, so do it here."""
    from gmssl import sm3

    assert raw_with_04[0] == 0x04, f"raw SM2 ciphertext must start with 04, got {raw_with_04[:1].hex()}"
    body = raw_with_04[1:]
    c = gmssl_sm2(key.sm2_d_hex, key.sm2_xy_hex)
    m = c.decrypt(body)
    assert m is not None, "gmssl: KDF output was all zero"
    xy = c._kg(int(key.sm2_d_hex, 16), body[:64].hex())  # x2||y2 as hex
    c3 = sm3.sm3_hash(list(bytes.fromhex(xy[:64]) + m + bytes.fromhex(xy[64:128])))
    assert c3 == body[64:96].hex(), "C3 (SM3 of x2||M||y2) does not match: wrong layout or wrong key"
    return m


def unwrap(key: KeyPair, alg: str, wrapped: bytes, workdir: Path) -> bytes:
    """Decrypt a wrapped data key with both independent implementations; they must agree."""
    if alg in RSA_OPTS:
        assert key.kind == "rsa"
        assert len(wrapped) == key.bits // 8, f"RSA ciphertext is {len(wrapped)} bytes, modulus {key.bits // 8}"
        a = openssl_decrypt(key, wrapped, RSA_OPTS[alg], workdir)
        b = cryptography_rsa_decrypt(key, wrapped, alg)
    elif alg == "SM2":
        a = gmssl_decrypt_raw(key, wrapped)
        b = openssl_decrypt(key, sm2_raw_to_der(wrapped), [], workdir)
    elif alg == "SM2_C1C3C2_ASN1":
        sm2_der_parse(wrapped)  # strict shape checks
        a = openssl_decrypt(key, wrapped, [], workdir)
        b = gmssl_decrypt_raw(key, sm2_der_to_raw(wrapped))
    else:
        raise ValueError(alg)
    assert a == b, f"{alg}: the two implementations disagree"
    return a


# --------------------------------------------------------------------------------------------
# strict DER for SM2 ciphertexts


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


def der_int(value: bytes) -> bytes:
    v = value.lstrip(b"\x00") or b"\x00"
    if v[0] & 0x80:
        v = b"\x00" + v
    return _tlv(0x02, v)


def _read_tlv(buf: bytes, pos: int) -> tuple[int, bytes, int]:
    assert pos + 2 <= len(buf), "DER: truncated"
    tag = buf[pos]
    first = buf[pos + 1]
    pos += 2
    if first < 0x80:
        n = first
    else:
        k = first & 0x7F
        assert 1 <= k <= 4, f"DER: bad length-of-length {k}"
        lb = buf[pos:pos + k]
        assert len(lb) == k, "DER: truncated length"
        assert lb[0] != 0, "DER: length not minimal (leading 00)"
        n = int.from_bytes(lb, "big")
        assert n >= 0x80, "DER: long-form length used for a short length"
        pos += k
    content = buf[pos:pos + n]
    assert len(content) == n, "DER: truncated content"
    return tag, content, pos + n


@dataclass
class Sm2Der:
    x: bytes   # INTEGER content octets as encoded (may be 33 bytes with 00, or short)
    y: bytes
    c3: bytes
    c2: bytes


def sm2_der_parse(der: bytes) -> Sm2Der:
    tag, seq, end = _read_tlv(der, 0)
    assert tag == 0x30, f"DER: expected SEQUENCE, got tag {tag:#x}"
    assert end == len(der), f"DER: {len(der) - end} trailing bytes after the SEQUENCE"
    parts = []
    pos = 0
    while pos < len(seq):
        t, c, pos = _read_tlv(seq, pos)
        parts.append((t, c))
    assert [t for t, _ in parts] == [0x02, 0x02, 0x04, 0x04], f"DER: element tags {[hex(t) for t, _ in parts]}"
    for name, (_, c) in zip("xy", parts[:2]):
        assert len(c) >= 1
        assert not (c[0] & 0x80), f"DER: INTEGER {name} is negative"
        if len(c) > 1:
            assert not (c[0] == 0 and not (c[1] & 0x80)), f"DER: INTEGER {name} not minimal: {c[:2].hex()}"
        assert len(c) <= 33, f"DER: INTEGER {name} is {len(c)} bytes"
    assert len(parts[2][1]) == 32, f"DER: C3 is {len(parts[2][1])} bytes, not 32"
    return Sm2Der(parts[0][1], parts[1][1], parts[2][1], parts[3][1])


def sm2_der_to_raw(der: bytes) -> bytes:
    p = sm2_der_parse(der)
    x = int.from_bytes(p.x, "big").to_bytes(32, "big")
    y = int.from_bytes(p.y, "big").to_bytes(32, "big")
    return b"\x04" + x + y + p.c3 + p.c2


def sm2_raw_to_der(raw: bytes) -> bytes:
    assert raw[0] == 0x04 and len(raw) > 97, f"raw SM2 ciphertext: len {len(raw)}, first byte {raw[:1].hex()}"
    x, y, c3, c2 = raw[1:33], raw[33:65], raw[65:97], raw[97:]
    return _tlv(0x30, der_int(x) + der_int(y) + _tlv(0x04, c3) + _tlv(0x04, c2))
