"""Helpers for the Tencent-dialect suites of asymmetric, post-quantum and imported keys:
test_asymmetric, test_interop_asymmetric, test_pq, test_byok, test_asymmetric_cross_dialect and
the key-material scans of test_secrets_at_rest.

* The Tencent KeyUsage names of docs/key-types.md, and what each one is (family, size or curve,
  encryption or signing, the Tencent algorithm names).
* GetPublicKey's answer parsed by Python `cryptography` (RSA, EC, ML-KEM, ML-DSA) or, for SM2
  (which `cryptography` does not know), from the DER here.
* SM3, and the SM2 signature input e = SM3(Z_A || M) per GB/T 32918.2 computed from the public key
  alone (checked against OpenSSL in test_interop_asymmetric's oracle test).
* `openssl` command lines (keys, encryption, dgst/pkeyutl verification) over files in a directory.

Calls go through the official SDK with kmsutil's typed `call` (a field the request model does not
know fails the test); interop_helpers supplies `run` (openssl) and the strict SM2 ciphertext DER.
"""
from __future__ import annotations

import base64
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from gmssl import sm2 as gsm2
from gmssl import sm3 as gsm3

from interop_helpers import _read_tlv, run
from kmsutil import b64, call, uid, unb64

# --------------------------------------------------------------------------------------------
# The key usages (docs/key-types.md)


@dataclass(frozen=True)
class Usage:
    name: str           # Tencent KeyUsage
    family: str         # rsa | ec | sm2 | mlkem | mldsa
    size: int           # RSA modulus bits; EC field bits; 768 / 65 for ML-KEM / ML-DSA
    curve: str          # `cryptography` curve name for EC keys ("" otherwise)
    purpose: str        # "decrypt" or "sign"
    algorithm: str      # the Algorithm name ListAlgorithms gives the usage
    sign_algs: tuple[str, ...] = ()   # SignByAsymmetricKey Algorithm values for the key
    hash_name: str = ""               # hash a DIGEST message is made with ("sm3" for SM2)


USAGES = {u.name: u for u in [
    Usage("ASYMMETRIC_DECRYPT_RSA_2048", "rsa", 2048, "", "decrypt", "RSA_2048"),
    Usage("ASYMMETRIC_DECRYPT_RSA_3072", "rsa", 3072, "", "decrypt", "RSA_3072"),  # ferrokms' name
    Usage("ASYMMETRIC_DECRYPT_SM2", "sm2", 256, "", "decrypt", "SM2"),
    Usage("ASYMMETRIC_Encrypt_Decrypt_Kyber_AES", "mlkem", 768, "", "decrypt", "Kyber_AES"),
    Usage("ASYMMETRIC_SIGN_VERIFY_RSA_2048", "rsa", 2048, "", "sign", "RSA_2048",
          ("RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"), "sha256"),
    Usage("ASYMMETRIC_SIGN_VERIFY_RSA_3072", "rsa", 3072, "", "sign", "RSA_3072",
          ("RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"), "sha256"),
    Usage("ASYMMETRIC_SIGN_VERIFY_SM2", "sm2", 256, "", "sign", "SM2", ("SM2DSA",), "sm3"),
    Usage("ASYMMETRIC_SIGN_VERIFY_ECC", "ec", 256, "secp256r1", "sign", "ECC", ("ECC_P256_R1",), "sha256"),
    Usage("ASYMMETRIC_SIGN_VERIFY_ECDSA384", "ec", 384, "secp384r1", "sign", "ECDSA384_SHA384",
          ("ECDSA384_SHA384",), "sha384"),
    Usage("ASYMMETRIC_SIGN_VERIFY_ECC_SECP256K1", "ec", 256, "secp256k1", "sign", "ECC_SECP256K1",  # ferrokms' name
          ("ECC_SECP256K1",), "sha256"),
    Usage("ASYMMETRIC_SIGN_VERIFY_DILITHIUM", "mldsa", 65, "", "sign", "Dilithium"),
]}
# The usages Tencent documents for CreateKey (spec 3.1), and those only in its ListAlgorithms examples.
TENCENT_DOCUMENTED = ["ASYMMETRIC_DECRYPT_RSA_2048", "ASYMMETRIC_DECRYPT_SM2", "ASYMMETRIC_SIGN_VERIFY_SM2",
                      "ASYMMETRIC_SIGN_VERIFY_ECC", "ASYMMETRIC_SIGN_VERIFY_RSA_2048",
                      "ASYMMETRIC_SIGN_VERIFY_ECDSA384", "ASYMMETRIC_SIGN_VERIFY_RSA_3072",
                      "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES", "ASYMMETRIC_SIGN_VERIFY_DILITHIUM"]
FERROKMS_EXTENSIONS = ["ASYMMETRIC_DECRYPT_RSA_3072", "ASYMMETRIC_SIGN_VERIFY_ECC_SECP256K1"]
# Classic (non-PQ) signing usages with the SignByAsymmetricKey algorithms they take.
SIGN_CASES = [(u.name, a) for u in USAGES.values() if u.family in ("rsa", "ec", "sm2") for a in u.sign_algs]

OID_RSA = "1.2.840.113549.1.1.1"
OID_EC = "1.2.840.10045.2.1"
OID_SM2_CURVE = "1.2.156.10197.1.301"
OID_ML_KEM_768 = "2.16.840.1.101.3.4.4.2"
OID_ML_DSA_65 = "2.16.840.1.101.3.4.3.18"
SM2_ID = b"1234567812345678"


def new_key(client, usage: str, **fields) -> str:
    """CreateKey with this KeyUsage; checks the answer names it and the key is Enabled."""
    fields.setdefault("Description", f"tc {usage}")
    r = call(client, "CreateKey", Alias=_alias(), KeyUsage=usage, **fields)
    assert r.KeyUsage == usage, r.to_json_string()
    assert r.KeyState == "Enabled", r.to_json_string()
    return r.KeyId


def _alias() -> str:
    return uid("asym")


# --------------------------------------------------------------------------------------------
# Public keys


@dataclass
class PublicKey:
    key_id: str
    der: bytes
    pem: str
    key: object          # a `cryptography` public key, or Sm2Point
    oids: tuple[str, ...]  # algorithm OID (and parameter OID, if any) of the SPKI


@dataclass(frozen=True)
class Sm2Point:
    x: int
    y: int

    @property
    def xy(self) -> bytes:
        return self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")


def _oid(content: bytes) -> str:
    first = content[0]
    parts = [first // 40, first % 40] if first < 80 else [2, first - 80]
    v = 0
    for b in content[1:]:
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(v)
            v = 0
    return ".".join(map(str, parts))


def spki_parts(der: bytes) -> tuple[tuple[str, ...], bytes]:
    """(OIDs of the AlgorithmIdentifier, BIT STRING content without its unused-bits byte); strict."""
    tag, body, end = _read_tlv(der, 0)
    assert tag == 0x30 and end == len(der), "SPKI is not one DER SEQUENCE"
    tag, alg, pos = _read_tlv(body, 0)
    assert tag == 0x30, "SPKI: no AlgorithmIdentifier"
    tag, bits, pos = _read_tlv(body, pos)
    assert tag == 0x03 and pos == len(body), "SPKI: no BIT STRING, or trailing bytes"
    assert bits[0] == 0, "SPKI: BIT STRING with unused bits"
    oids = []
    p = 0
    while p < len(alg):
        t, c, p = _read_tlv(alg, p)
        if t == 0x06:
            oids.append(_oid(c))
        else:
            assert t == 0x05 and c == b"", f"SPKI: unexpected parameter tag {t:#x}"
    return tuple(oids), bits[1:]


def pem_body(pem: str) -> bytes:
    lines = pem.strip().splitlines()
    assert lines[0] == "-----BEGIN PUBLIC KEY-----", lines[0]
    assert lines[-1] == "-----END PUBLIC KEY-----", lines[-1]
    body = lines[1:-1]
    assert all(len(ln) == 64 for ln in body[:-1]) and 0 < len(body[-1]) <= 64, "PEM lines are not 64 wide"
    return base64.b64decode("".join(body), validate=True)


def load_public(der: bytes, family: str):
    oids, bits = spki_parts(der)
    if family == "sm2":
        assert oids == (OID_EC, OID_SM2_CURVE), oids
        assert len(bits) == 65 and bits[0] == 4, f"SM2 point: {len(bits)} bytes, first {bits[:1].hex()}"
        return Sm2Point(int.from_bytes(bits[1:33], "big"), int.from_bytes(bits[33:], "big")), oids
    return serialization.load_der_public_key(der), oids


def get_public(client, key_id: str, family: str) -> PublicKey:
    r = call(client, "GetPublicKey", KeyId=key_id)
    assert r.KeyId == key_id, r.to_json_string()
    der = unb64(r.PublicKey)
    assert pem_body(r.PublicKeyPem) == der, "PublicKeyPem is not the same key as PublicKey"
    key, oids = load_public(der, family)
    return PublicKey(key_id, der, r.PublicKeyPem, key, oids)


def write_pub(directory: Path, pub: PublicKey) -> tuple[Path, Path]:
    """The key as PEM and DER files for openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    pem, der = directory / f"{pub.key_id}.pem", directory / f"{pub.key_id}.der"
    pem.write_text(pub.pem)
    der.write_bytes(pub.der)
    return pem, der


# --------------------------------------------------------------------------------------------
# SM2 / SM3 (GB/T 32918, GB/T 32905)

SM2_CURVE = {k: int(v, 16) for k, v in gsm2.default_ecc_table.items() if k in ("n", "p", "a", "b")}
SM2_G = bytes.fromhex(gsm2.default_ecc_table["g"])  # x || y


def sm3(data: bytes) -> bytes:
    return bytes.fromhex(gsm3.sm3_hash(list(data)))


def sm2_za(pub: Sm2Point, ident: bytes = SM2_ID) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A)."""
    entl = (len(ident) * 8).to_bytes(2, "big")
    a = SM2_CURVE["a"].to_bytes(32, "big")
    b = SM2_CURVE["b"].to_bytes(32, "big")
    return sm3(entl + ident + a + b + SM2_G + pub.xy)


def sm2_e(pub: Sm2Point, message: bytes) -> bytes:
    """The SM2DSA signature input for the default id: e = SM3(Z_A || M)."""
    return sm3(sm2_za(pub) + message)


def gmssl_for(pub: Sm2Point) -> gsm2.CryptSM2:
    """gmssl with the point set after construction: its constructor's lstrip("04") would mangle an
    x coordinate starting with hex 0 or 4 (../shared/design/dependencies.md, pitfall 1)."""
    c = gsm2.CryptSM2(private_key="", public_key="", mode=1)
    c.public_key = pub.xy.hex()
    return c


# --------------------------------------------------------------------------------------------
# Digests, signatures, bytes


def digest(hash_name: str, message: bytes, pub=None) -> bytes:
    """What a DIGEST message is for this hash: SHA-256/384 of M, or for SM2 e = SM3(Z_A || M)."""
    if hash_name == "sm3":
        return sm2_e(pub, message)
    return hashlib.new(hash_name, message).digest()


def flip(data: bytes, index: int = -1, bit: int = 0x01) -> bytes:
    i = index % len(data)
    return data[:i] + bytes([data[i] ^ bit]) + data[i + 1:]


def sign(client, key_id: str, algorithm: str, message: bytes, message_type: str | None = None) -> bytes:
    fields = dict(KeyId=key_id, Algorithm=algorithm, Message=b64(message))
    if message_type is not None:
        fields["MessageType"] = message_type
    return unb64(call(client, "SignByAsymmetricKey", **fields).Signature)


def verify(client, key_id: str, algorithm: str, message: bytes, signature: bytes,
           message_type: str | None = None) -> bool:
    fields = dict(KeyId=key_id, Algorithm=algorithm, Message=b64(message), SignatureValue=b64(signature))
    if message_type is not None:
        fields["MessageType"] = message_type
    valid = call(client, "VerifyByAsymmetricKey", **fields).SignatureValid
    assert isinstance(valid, bool), f"SignatureValid is {valid!r}, not a bool"
    return valid


def cryptography_verify(pub, algorithm: str, message: bytes, signature: bytes, prehashed: bool = False) -> bool:
    """Python `cryptography`'s verdict on a signature of an RSA or EC key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    h = hashes.SHA384() if algorithm == "ECDSA384_SHA384" else hashes.SHA256()
    data_alg = Prehashed(h) if prehashed else h
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pad = (padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
                   if algorithm == "RSA_PSS_SHA_256" else padding.PKCS1v15())
            pub.verify(signature, message, pad, data_alg)
        else:
            assert isinstance(pub, ec.EllipticCurvePublicKey)
            pub.verify(signature, message, ec.ECDSA(data_alg))
        return True
    except InvalidSignature:
        return False


def openssl_sign_opts(algorithm: str) -> list[str]:
    """openssl dgst/pkeyutl -sigopt for the Tencent algorithm (PSS: salt = digest length, enforced)."""
    if algorithm == "RSA_PSS_SHA_256":
        return ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest",
                "-sigopt", "rsa_mgf1_md:sha256"]
    if algorithm == "RSA_PKCS1_SHA_256":
        return ["-sigopt", "rsa_padding_mode:pkcs1"]
    if algorithm == "SM2DSA":
        return ["-sigopt", "distid:1234567812345678"]
    return []


def openssl_dgst_verify(workdir: Path, pub_pem: Path, hash_name: str, algorithm: str, message: bytes,
                        signature: bytes) -> bool:
    """`openssl dgst -<hash> -verify` over the raw message: True iff OpenSSL says Verified OK."""
    workdir.mkdir(parents=True, exist_ok=True)
    msg, sig = workdir / "msg.bin", workdir / "sig.bin"
    msg.write_bytes(message)
    sig.write_bytes(signature)
    p = subprocess.run(["openssl", "dgst", f"-{hash_name}", "-verify", str(pub_pem), *openssl_sign_opts(algorithm),
                        "-signature", str(sig), str(msg)], capture_output=True, timeout=60)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    if p.returncode == 0:
        assert "Verified OK" in out, out
        return True
    assert "Verification failure" in out or "verify" in out.lower(), f"openssl dgst failed oddly: {out}"
    return False


def openssl_pkeyutl_verify(workdir: Path, pub_pem: Path, hash_name: str, algorithm: str, dgst: bytes,
                           signature: bytes) -> bool:
    """`openssl pkeyutl -verify` over a digest the test computed: True iff Signature Verified Successfully."""
    workdir.mkdir(parents=True, exist_ok=True)
    d, sig = workdir / "digest.bin", workdir / "sig.bin"
    d.write_bytes(dgst)
    sig.write_bytes(signature)
    # SM2: the input is e itself, so no distid (pkeyutl takes one only with -rawin)
    opts = [] if algorithm == "SM2DSA" else [o.replace("-sigopt", "-pkeyopt") for o in openssl_sign_opts(algorithm)]
    if algorithm.startswith("RSA_"):
        opts += ["-pkeyopt", f"digest:{hash_name}"]
    p = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub_pem), *opts,
                        "-in", str(d), "-sigfile", str(sig)], capture_output=True, timeout=60)
    out = p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")
    if p.returncode == 0:
        assert "Signature Verified Successfully" in out, out
        return True
    return False


def openssl_encrypt(workdir: Path, pub_file: Path, plaintext: bytes, opts: list[str], der: bool = False) -> bytes:
    """`openssl pkeyutl -encrypt -pubin` to a public key file (PEM, or DER with -keyform DER)."""
    workdir.mkdir(parents=True, exist_ok=True)
    pt, ct = workdir / "enc-in.bin", workdir / "enc-out.bin"
    pt.write_bytes(plaintext)
    if ct.exists():
        ct.unlink()
    form = ["-keyform", "DER"] if der else []
    run(["openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", str(pub_file), *form, *opts,
         "-in", str(pt), "-out", str(ct)])
    return ct.read_bytes()


# openssl options for the RSA paddings as a user writes them (OAEP's MGF1 follows the OAEP digest).
OPENSSL_RSA = {
    "RSAES_PKCS1_V1_5": ["-pkeyopt", "rsa_padding_mode:pkcs1"],
    "RSAES_OAEP_SHA_1": ["-pkeyopt", "rsa_padding_mode:oaep"],
    "RSAES_OAEP_SHA_256": ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256"],
}


def cryptography_rsa_padding(algorithm: str):
    if algorithm == "RSAES_PKCS1_V1_5":
        return padding.PKCS1v15()
    h = hashes.SHA1() if algorithm == "RSAES_OAEP_SHA_1" else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)


def rsa_capacity(bits: int, algorithm: str) -> int:
    k = bits // 8
    return {"RSAES_PKCS1_V1_5": k - 11, "RSAES_OAEP_SHA_1": k - 42, "RSAES_OAEP_SHA_256": k - 66}[algorithm]


def openssl_key(workdir: Path, family: str, size: int = 0, curve: str = "") -> Path:
    """A private key made by openssl (PEM, PKCS#8), for signatures that are not the KMS key's."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"{family}{size}{curve}.pem"
    if family == "rsa":
        run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{size}", "-out", str(out)])
    elif family == "sm2":
        run(["openssl", "genpkey", "-algorithm", "SM2", "-out", str(out)])
    else:
        name = {"secp256r1": "P-256", "secp384r1": "P-384", "secp256k1": "secp256k1"}[curve]
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{name}", "-out", str(out)])
    return out


def openssl_dgst_sign(workdir: Path, priv: Path, hash_name: str, algorithm: str, message: bytes) -> bytes:
    workdir.mkdir(parents=True, exist_ok=True)
    msg, sig = workdir / "osign-msg.bin", workdir / "osign-sig.bin"
    msg.write_bytes(message)
    run(["openssl", "dgst", f"-{hash_name}", "-sign", str(priv), *openssl_sign_opts(algorithm),
         "-out", str(sig), str(msg)])
    return sig.read_bytes()
