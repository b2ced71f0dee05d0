"""The symmetric CiphertextBlob of docs/ciphertext-format.md, written from that document alone with
Python's `cryptography` (OpenSSL): header parsing for formats 1 and 3, and sealing and opening
with known key material (BYOK tests), so the tests check ferrokms against an implementation that
is not ferrokms. scripts/extended_nonce_vectors.py uses the same derivations to print the Rust
known-answer vectors.

Format 1: 37-byte header (FK, 1, algorithm, payload, key id, version, 12-byte nonce), AES-GCM or
SM4-GCM under the key version's key. Format 3: 49-byte header with a 24-byte nonce N; the AEAD is
GCM under a per-message key derived from the key and N[:12], with N[12:] as the GCM nonce:
- algorithm 1 (AES-256): XAES-256-GCM (c2sp.org/XAES-256-GCM);
- algorithms 3, 4 (AES-128, AES-192): HKDF-SHA256(IKM = key, no salt,
  info = "ferrokms/blob/3/AES-128-GCM" or ".../AES-192-GCM" || N[:12]) of the key's length;
- algorithm 2 (SM4): HMAC-SM3(key, "ferrokms/blob/3/SM4-GCM" || N[:12]), first 16 bytes.
AAD (both formats): header || account (u64 BE) || len(context) (u32 BE) || canonical context.
"""
from __future__ import annotations

import json
import os
import struct
import uuid

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"FK"
HEADER_LEN = {1: 37, 3: 49}
NONCE_LEN = {1: 12, 3: 24}
TAG_LEN = 16
ALGORITHMS = {1: "AES-256-GCM", 2: "SM4-GCM", 3: "AES-128-GCM", 4: "AES-192-GCM"}
KEY_LEN = {1: 32, 2: 16, 3: 16, 4: 24}
LABELS = {2: b"ferrokms/blob/3/SM4-GCM", 3: b"ferrokms/blob/3/AES-128-GCM", 4: b"ferrokms/blob/3/AES-192-GCM"}


def canonical(context: dict | str | None) -> bytes:
    """The canonical encryption context: sorted keys, no whitespace; empty when there is none."""
    if isinstance(context, str):
        context = json.loads(context) if context.strip() else None
    if not context:
        return b""
    return json.dumps(context, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_header(blob: bytes) -> dict:
    """The header fields of a symmetric blob (format 1 or 3); AssertionError if it is neither."""
    assert blob[:2] == MAGIC and blob[2] in HEADER_LEN, blob[:4].hex()
    fmt = blob[2]
    n = HEADER_LEN[fmt]
    assert len(blob) >= n + TAG_LEN, len(blob)
    return {"format": fmt, "algorithm": blob[3], "payload": blob[4], "key_id": str(uuid.UUID(bytes=blob[5:21])),
            "version": struct.unpack(">I", blob[21:25])[0], "nonce": blob[25:n], "header": blob[:n],
            "body": blob[n:]}


def blob_len(fmt: int, plaintext_len: int) -> int:
    return HEADER_LEN[fmt] + plaintext_len + TAG_LEN


# --- the per-message keys of format 3 ---------------------------------------------------------


def _aes_block(key: bytes, block: bytes) -> bytes:
    e = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return e.update(block) + e.finalize()


def xaes_derive(key: bytes, n1: bytes) -> bytes:
    """XAES-256-GCM's key derivation (c2sp.org/XAES-256-GCM, steps 1-5) from K and N[:12]."""
    assert len(key) == 32 and len(n1) == 12
    l = int.from_bytes(_aes_block(key, bytes(16)), "big")
    k1 = (l << 1) & ((1 << 128) - 1)
    if l >> 127:
        k1 ^= 0x87
    k1b = k1.to_bytes(16, "big")
    m1 = b"\x00\x01X\x00" + n1
    m2 = b"\x00\x02X\x00" + n1
    xor = lambda a, b: bytes(x ^ y for x, y in zip(a, b))
    return _aes_block(key, xor(m1, k1b)) + _aes_block(key, xor(m2, k1b))


def hkdf_derive(algorithm: int, key: bytes, n1: bytes) -> bytes:
    """AES-128 / AES-192 keys: HKDF-SHA256 (RFC 5869), no salt, info = label || N[:12]."""
    assert algorithm in (3, 4) and len(key) == KEY_LEN[algorithm] and len(n1) == 12
    return HKDF(algorithm=hashes.SHA256(), length=len(key), salt=None, info=LABELS[algorithm] + n1).derive(key)


def sm4_derive(key: bytes, n1: bytes) -> bytes:
    """SM4 keys: HMAC-SM3(K, label || N[:12]), truncated to 16 bytes."""
    assert len(key) == 16 and len(n1) == 12
    h = hmac.HMAC(key, hashes.SM3())
    h.update(LABELS[2] + n1)
    return h.finalize()[:16]


def derive(algorithm: int, key: bytes, n1: bytes) -> bytes:
    """The per-message GCM key of a format-3 blob."""
    if algorithm == 1:
        return xaes_derive(key, n1)
    if algorithm == 2:
        return sm4_derive(key, n1)
    return hkdf_derive(algorithm, key, n1)


# --- GCM ----------------------------------------------------------------------------------------


def gcm_seal(algorithm: int, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
    algo = algorithms.SM4(key) if algorithm == 2 else algorithms.AES(key)
    e = Cipher(algo, modes.GCM(nonce)).encryptor()
    e.authenticate_additional_data(aad)
    return e.update(plaintext) + e.finalize() + e.tag


def gcm_open(algorithm: int, key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> bytes:
    """Raises cryptography's InvalidTag if the tag does not verify."""
    algo = algorithms.SM4(key) if algorithm == 2 else algorithms.AES(key)
    d = Cipher(algo, modes.GCM(nonce, sealed[-TAG_LEN:])).decryptor()
    d.authenticate_additional_data(aad)
    return d.update(sealed[:-TAG_LEN]) + d.finalize()


def aead_seal(fmt: int, algorithm: int, key: bytes, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """ciphertext || tag of format FMT's AEAD for ALGORITHM."""
    if fmt == 1:
        return gcm_seal(algorithm, key, nonce, aad, plaintext)
    return gcm_seal(algorithm, derive(algorithm, key, nonce[:12]), nonce[12:], aad, plaintext)


def aead_open(fmt: int, algorithm: int, key: bytes, nonce: bytes, aad: bytes, sealed: bytes) -> bytes:
    if fmt == 1:
        return gcm_open(algorithm, key, nonce, aad, sealed)
    return gcm_open(algorithm, derive(algorithm, key, nonce[:12]), nonce[12:], aad, sealed)


# --- whole blobs ----------------------------------------------------------------------------------


def aad(header: bytes, account: int, context: dict | str | None = None) -> bytes:
    ctx = canonical(context)
    return header + struct.pack(">QI", account, len(ctx)) + ctx


def open_blob(blob: bytes, material: bytes, account: int, context: dict | str | None = None) -> bytes:
    """Opens a CiphertextBlob (format 1 or 3) with the key MATERIAL."""
    h = parse_header(blob)
    return aead_open(h["format"], h["algorithm"], material, h["nonce"], aad(h["header"], account, context),
                     h["body"])


def make_blob(material: bytes, account: int, key_id: str, version: int, plaintext: bytes, *, fmt: int = 3,
              algorithm: int = 1, payload: int = 0, context: dict | str | None = None,
              nonce: bytes | None = None) -> bytes:
    """A CiphertextBlob of format FMT made locally with the key MATERIAL."""
    nonce = os.urandom(NONCE_LEN[fmt]) if nonce is None else nonce
    assert len(nonce) == NONCE_LEN[fmt]
    header = MAGIC + bytes([fmt, algorithm, payload]) + uuid.UUID(key_id).bytes + struct.pack(">I", version) + nonce
    return header + aead_seal(fmt, algorithm, material, nonce, aad(header, account, context), plaintext)
