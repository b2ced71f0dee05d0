"""Caller-side key pairs for EncryptionPublicKey, and the matching local decryption.

RSA through `cryptography`; SM2 (GM/T 0003) through gmssl's curve arithmetic and SM3, with the
C3 hash checked here (gmssl's own decrypt does not check it).
"""
from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from gmssl import sm2 as gsm2
from gmssl import sm3

# ---------------------------------------------------------------- RSA


def rsa_keypair(bits: int = 2048):
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return key, pem


def rsa_decrypt(key, algorithm: str, ciphertext: bytes) -> bytes:
    if algorithm == "RSAES_PKCS1_V1_5":
        pad = padding.PKCS1v15()
    elif algorithm == "RSAES_OAEP_SHA_1":
        pad = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    elif algorithm == "RSAES_OAEP_SHA_256":
        pad = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    else:
        raise ValueError(algorithm)
    return key.decrypt(ciphertext, pad)


def p256_public_pem() -> str:
    """A NIST P-256 public key: an EC key that is neither RSA nor SM2."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# ---------------------------------------------------------------- DER helpers


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def _read_tlv(data: bytes, pos: int):
    tag = data[pos]
    ln = data[pos + 1]
    pos += 2
    if ln & 0x80:
        n = ln & 0x7F
        ln = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, data[pos:pos + ln], pos + ln


def _pem(der: bytes) -> str:
    b = base64.b64encode(der).decode()
    lines = [b[i:i + 64] for i in range(0, len(b), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


# ---------------------------------------------------------------- SM2

_TABLE = gsm2.default_ecc_table
_N = int(_TABLE["n"], 16)
OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
OID_SM2_CURVE = bytes.fromhex("2a811ccf5501822d")    # 1.2.156.10197.1.301


class Sm2Key:
    def __init__(self):
        d = secrets.randbelow(_N - 2) + 1
        self.d_hex = "%064x" % d
        self._crypt = gsm2.CryptSM2(private_key=self.d_hex, public_key="", mode=1)
        self.pub_hex = self._crypt._kg(d, _TABLE["g"])  # x || y, 128 hex chars

    def spki_der(self) -> bytes:
        alg = _tlv(0x30, _tlv(0x06, OID_EC_PUBLIC_KEY) + _tlv(0x06, OID_SM2_CURVE))
        point = b"\x04" + bytes.fromhex(self.pub_hex)
        return _tlv(0x30, alg + _tlv(0x03, b"\x00" + point))

    def public_pem(self) -> str:
        return _pem(self.spki_der())

    def decrypt_c1c3c2(self, ct: bytes) -> bytes:
        """ct = x(32) || y(32) || C3(32) || C2, without the 0x04 byte; C3 is verified."""
        c1, c3, c2 = ct[:64], ct[64:96], ct[96:]
        xy = self._crypt._kg(int(self.d_hex, 16), c1.hex())
        t = bytes.fromhex(sm3.sm3_kdf(xy.encode(), len(c2)))
        assert any(t), "SM2 KDF gave all zeros"
        m = bytes(a ^ b for a, b in zip(c2, t))
        x2, y2 = bytes.fromhex(xy[:64]), bytes.fromhex(xy[64:128])
        c3_expected = bytes.fromhex(sm3.sm3_hash(list(x2 + m + y2)))
        assert c3 == c3_expected, "SM2 C3 (SM3 hash) does not match: wrong key or corrupt ciphertext"
        return m

    def encrypt_c1c3c2(self, data: bytes) -> bytes:
        """gmssl's own encryption (no 0x04), for self-tests of decrypt_c1c3c2."""
        from interop_helpers import gmssl_encrypt, gmssl_sm2

        return gmssl_encrypt(gmssl_sm2(self.d_hex, self.pub_hex), data)


def sm2_raw_to_parts(ct: bytes):
    """Split the GM/T 0003 `04 || x || y || C3 || C2` form; asserts the 0x04 byte."""
    assert ct[0] == 0x04, f"SM2 ciphertext does not start with 0x04: {ct[:4].hex()}"
    return ct[1:]


def sm2_asn1_to_c1c3c2(der: bytes) -> bytes:
    """GM/T 0009 SEQUENCE { INTEGER x, INTEGER y, OCTET STRING C3, OCTET STRING C2 } -> x||y||C3||C2."""
    tag, body, end = _read_tlv(der, 0)
    assert tag == 0x30 and end == len(der), "SM2 ASN.1 ciphertext is not one DER SEQUENCE"
    pos = 0
    fields = []
    for want in (0x02, 0x02, 0x04, 0x04):
        t, v, pos = _read_tlv(body, pos)
        assert t == want, f"SM2 ASN.1 field tag {t:#x}, expected {want:#x}"
        fields.append(v)
    assert pos == len(body), "trailing bytes inside the SM2 ASN.1 SEQUENCE"
    x, y, c3, c2 = fields
    x = int.from_bytes(x, "big").to_bytes(32, "big")
    y = int.from_bytes(y, "big").to_bytes(32, "big")
    assert len(c3) == 32, "C3 is not 32 bytes"
    return x + y + c3 + c2
