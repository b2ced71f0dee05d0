"""Secrets at rest: no plaintext a client sent or received, and not the access-key secret, may be
found in any file of the data directory (SQLite database, -wal, -shm, journals, anything else)
or in the server log; not in raw bytes, hex, or base64 (any alignment, standard or URL-safe). On
the PostgreSQL store (FERROKMS_TEST_STORE=postgres) a pg_dump of the database is scanned too:
PostgreSQL must see only sealed material.

Variants: a graceful stop (SIGTERM, RUST_LOG=info), a crash (SIGKILL, RUST_LOG=debug) that leaves
the SQLite WAL behind, and a passphrase root key (no root.key file; the passphrase is not stored
either, and a wrong one is refused at start). All restart afterwards to prove the data really was
persisted (a server keeping everything in memory would pass the scan trivially).

Key material (the SIGTERM and SIGKILL variants): after RSA, EC (P-256, P-384, secp256k1), SM2,
ML-KEM-768 and ML-DSA-65 keys were made and used through the Tencent dialect and an HMAC_SHA256
key through the Alibaba one, no file of the data directory (nor the log) may hold, raw or in any
hex / base64 run: a PKCS#8, PKCS#1 or SEC1 private-key structure; a prime factor of an RSA
modulus; an EC private scalar of a P-256 / P-384 / secp256k1 key; the FIPS 203 / 204 seed of an
ML-KEM / ML-DSA key; the HMAC key. Only public values are known to the test, so each window of
the right length is tried against them (see `KeyMaterial`). SM2 private scalars (SM2 keys are
stored as the bare 32-byte scalar) are searched in a small data directory of their own, as a
window costs an SM2 scalar multiplication in pure Python; P-384 and secp256k1 scalars only as
PKCS#8 / SEC1 structures (their stored format), a window of theirs costing 0.3-0.8 ms.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import stat
import subprocess
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, mlkem, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from asym_helpers import OPENSSL_RSA, get_public, gmssl_for, new_key, openssl_encrypt, sign, verify, write_pub
from conftest import ACCESS_KEY_SECRET, BIN, server_env, tencent_client
from interop_helpers import b64d, b64e, call, create_cmk, make_key, run


def encodings(secret: bytes) -> dict[str, bytes]:
    """Byte strings that betray `secret` when found in a file."""
    forms = {"raw": secret, "hex": secret.hex().encode(), "HEX": secret.hex().upper().encode()}
    for k in range(3):  # base64 of the secret at each of the 3 alignments inside a longer stream
        enc = base64.b64encode(b"\0" * k + secret)
        full = (k + len(secret)) // 3 * 4
        core = enc[4 if k else 0:full]
        if len(core) >= 12:
            forms[f"base64@{k}"] = core
            forms[f"base64url@{k}"] = core.replace(b"+", b"-").replace(b"/", b"_")
    return forms


def scan(paths: list[Path], secrets: dict[str, bytes]) -> list[str]:
    needles = [(label, form, enc) for label, s in secrets.items() for form, enc in encodings(s).items()]
    found = []
    for p in paths:
        data = p.read_bytes()
        for label, form, enc in needles:
            if enc in data:
                found.append(f"{label} ({form}) in {p}")
    return found


def data_files(d: Path) -> list[Path]:
    return sorted(p for p in d.rglob("*") if p.is_file())


def store_dump(s, tmp_path: Path) -> list[Path]:
    """A PostgreSQL server's store (FERROKMS_TEST_STORE=postgres) as PostgreSQL holds it: a
    pg_dump of its database (bytea as hex) to scan with the data directory; nothing for SQLite,
    whose database is in the data directory."""
    if not s.store_url:
        return []
    out = tmp_path / f"pg_dump-{uuid.uuid4().hex[:8]}.sql"
    p = subprocess.run(["pg_dump", "--data-only", s.store_url], capture_output=True, timeout=120)
    assert p.returncode == 0, f"pg_dump failed: {p.stderr.decode(errors='replace')}"
    out.write_bytes(p.stdout)
    assert b"COPY public.data_keys" in p.stdout, "the dump holds no data_keys table"
    return [out]


def test_scanner_finds_planted_secrets(tmp_path):
    """The scan itself must be able to fail."""
    s = os.urandom(32)
    for i, blob in enumerate([b"xx" + s + b"yy", b"a" + base64.b64encode(b"q" + s) + b"=",
                              b"{" + s.hex().encode() + b"}",
                              base64.urlsafe_b64encode(b"12" + s)]):
        (tmp_path / f"f{i}").write_bytes(blob)
        assert scan([tmp_path / f"f{i}"], {"s": s}), blob
    (tmp_path / "clean").write_bytes(os.urandom(4096))
    assert not scan([tmp_path / "clean"], {"s": s})


def _drive(c) -> tuple[dict[str, bytes], list[tuple[str, bytes]]]:
    """Use the server with known plaintexts; returns (secrets, hosted (DataKeyId, plaintext))."""
    secrets: dict[str, bytes] = {"access-key-secret": ACCESS_KEY_SECRET.encode()}
    hosted: list[tuple[str, bytes]] = []
    k = create_cmk(c, Description="secrets at rest")

    marker = b"FERROKMS-AT-REST-MARKER-" + uuid.uuid4().hex.encode()
    secrets["encrypt-marker"] = marker
    blob = call(c, "Encrypt", KeyId=k, Plaintext=b64e(marker)).CiphertextBlob
    assert b64d(call(c, "Decrypt", CiphertextBlob=blob).Plaintext) == marker

    binary = os.urandom(48)
    secrets["encrypt-binary"] = binary
    ctx = '{"app":"secrets-at-rest"}'
    blob = call(c, "Encrypt", KeyId=k, Plaintext=b64e(binary), EncryptionContext=ctx).CiphertextBlob
    assert b64d(call(c, "Decrypt", CiphertextBlob=blob, EncryptionContext=ctx).Plaintext) == binary
    # ReEncrypt passes the plaintext through the server too
    rblob = call(c, "ReEncrypt", CiphertextBlob=blob, SourceEncryptionContext=ctx,
                 DestinationKeyId=k, DestinationEncryptionContext=ctx).CiphertextBlob
    assert b64d(call(c, "Decrypt", CiphertextBlob=rblob, EncryptionContext=ctx).Plaintext) == binary

    for i, spec in enumerate([dict(KeySpec="AES_256"), dict(KeySpec="AES_128"), dict(NumberOfBytes=64)]):
        r = call(c, "GenerateDataKey", KeyId=k, **spec)
        pt = b64d(r.Plaintext)
        secrets[f"data-key-{i}"] = pt
        assert b64d(call(c, "Decrypt", CiphertextBlob=r.CiphertextBlob).Plaintext) == pt

    for i in range(3):
        r = call(c, "GenerateDataKey", KeyId=k, KeySpec="AES_256", IsHostedByKms=1,
                 DataKeyName=f"rest-{i}-{uuid.uuid4().hex[:8]}")
        pt = b64d(r.Plaintext)
        secrets[f"hosted-{i}"] = pt
        hosted.append((r.DataKeyId, pt))
        assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId).Plaintext) == pt

    imported = os.urandom(32)
    secrets["imported-plaintext"] = imported
    r = call(c, "ImportDataKey", DataKeyName=f"rest-imp-{uuid.uuid4().hex[:8]}", ImportType=2,
             ImportKeyMaterial=b64e(imported), KeyId=k)
    assert r.DataKeyId, r.to_json_string()
    hosted.append((r.DataKeyId, imported))
    assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId).Plaintext) == imported
    return secrets, hosted


def _drive_alibaba(endpoint: str, secrets: dict[str, bytes]) -> None:
    """The Alibaba dialect seals Encrypt's Plaintext string verbatim: it must not reach the disk
    either, nor must its data keys (plain, and exported to a public key)."""
    from alikms import tea, tea_client
    ali = tea_client(endpoint)
    k = tea(ali, "CreateKey")["KeyMetadata"]["KeyId"]
    text = "ALIBABA-AT-REST-MARKER-" + uuid.uuid4().hex
    secrets["alibaba-encrypt-text"] = text.encode()
    blob = tea(ali, "Encrypt", KeyId=k, Plaintext=text)["CiphertextBlob"]
    assert tea(ali, "Decrypt", CiphertextBlob=blob)["Plaintext"] == text
    g = tea(ali, "GenerateDataKey", KeyId=k, NumberOfBytes=40)
    secrets["alibaba-data-key"] = b64d(g["Plaintext"])
    assert tea(ali, "Decrypt", CiphertextBlob=g["CiphertextBlob"])["Plaintext"] == g["Plaintext"]


@pytest.mark.parametrize("mode", ["sigterm", "sigkill", "pkcs11"])
def test_no_plaintext_at_rest(make_server, mode, tmp_path):
    """sigterm / sigkill: a file root; pkcs11: the root in a SoftHSM2 token (killed with -9)."""
    env = {"RUST_LOG": "info" if mode == "sigterm" else "debug"}
    config = None
    if mode == "pkcs11":
        from test_hsm_root import fresh_token, hsm_config
        config = hsm_config(fresh_token())
        env["FERROKMS_PKCS11_PIN"] = "1234"
    s = make_server(extra_args=["--no-rate-limit"], env=env, config=config).start()
    c = tencent_client(s.endpoint)
    secrets, hosted = _drive(c)
    _drive_alibaba(s.endpoint, secrets)
    material = _drive_key_material(s.endpoint, secrets, tmp_path)
    if mode == "sigterm":
        s.stop()
    else:
        s.kill9()
    if mode == "pkcs11":
        assert not list(s.data_dir.glob("root*.key")), "no root key file with the root in a token"
    files = data_files(s.data_dir)
    assert files, f"the data dir {s.data_dir} is empty after use"
    files += store_dump(s, tmp_path)
    found = scan(files + [s.log_path], secrets)
    names = ", ".join(f"{p.name} ({p.stat().st_size} B)" for p in files)
    assert not found, "secrets found at rest:\n  " + "\n  ".join(found) + f"\nfiles: {names}"
    found = scan_key_material(files + [s.log_path], material)
    assert not found, "key material found at rest:\n  " + "\n  ".join(found) + f"\nfiles: {names}"

    # the data really is on disk: a new process gets the hosted keys back, and the same keys
    s.restart()
    c = tencent_client(s.endpoint)
    for dk_id, pt in hosted:
        assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=dk_id).Plaintext) == pt
    material.check_still_usable(s.endpoint)


def test_data_dir_permissions(make_server):
    """docs/security.md: the data directory is 0700 and root.key 0600."""
    s = make_server(extra_args=["--no-rate-limit"]).start()
    s.stop()
    mode = stat.S_IMODE(s.data_dir.stat().st_mode)
    assert mode & 0o077 == 0, f"data dir mode {mode:o}"
    root = s.data_dir / "root.key"
    assert root.exists(), [p.name for p in data_files(s.data_dir)]
    rmode = stat.S_IMODE(root.stat().st_mode)
    assert rmode & 0o077 == 0, f"root.key mode {rmode:o}"


def test_passphrase_root_key_at_rest(make_server):
    passphrase = "at-rest passphrase " + uuid.uuid4().hex
    s = make_server(extra_args=["--no-rate-limit"], config='[root_key]\nsource = "passphrase"\n',
                    env={"FERROKMS_ROOT_PASSPHRASE": passphrase, "RUST_LOG": "debug"}).start()
    c = tencent_client(s.endpoint)
    secrets, hosted = _drive(c)
    secrets["root-passphrase"] = passphrase.encode()
    s.kill9()
    files = data_files(s.data_dir)
    assert "root.key" not in {p.name for p in files}, "passphrase source must not write root.key"
    found = scan(files + [s.log_path], secrets)
    assert not found, "secrets found at rest:\n  " + "\n  ".join(found)

    # a wrong passphrase is refused at start (run directly: the fixture's restart would wait 30 s)
    cfg = s.data_dir.parent / "wrong-passphrase.toml"
    cfg.write_text('[root_key]\nsource = "passphrase"\n')
    env = dict(server_env(), FERROKMS_ROOT_PASSPHRASE="a wrong passphrase " + uuid.uuid4().hex)
    try:
        p = subprocess.run([str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(s.data_dir),
                            "--config", str(cfg)], env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("ferrokms kept running with a wrong root passphrase")
    assert p.returncode != 0, p.stdout + p.stderr
    assert "listening on" not in p.stdout + p.stderr
    s.restart()
    c = tencent_client(s.endpoint)
    for dk_id, pt in hosted:
        assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=dk_id).Plaintext) == pt


# --------------------------------------------------------------------------------------------
# Private keys and HMAC keys at rest

OIDS = {  # DER of the AlgorithmIdentifier OIDs a PKCS#8 key of each kind starts with
    "rsaEncryption": bytes.fromhex("06092a864886f70d010101"),
    "id-ecPublicKey": bytes.fromhex("06072a8648ce3d0201"),
    "id-alg-ml-kem-768": bytes.fromhex("0609608648016503040402"),
    "id-ml-dsa-65": bytes.fromhex("0609608648016503040312"),
    "SM2": bytes.fromhex("06082a811ccf5501822d"),  # OpenSSL may name SM2 keys by the curve OID alone
}
# PrivateKeyInfo / OneAsymmetricKey: SEQUENCE { INTEGER 0|1, SEQUENCE { OID ...
PKCS8 = re.compile(rb"\x30(?:[\x00-\x7f]|\x81[\x80-\xff]|\x82..)\x02\x01[\x00\x01]\x30[\x00-\x7f](\x06.{0,12})", re.S)
# RSAPrivateKey (PKCS#1): SEQUENCE { INTEGER 0, INTEGER n (2048 bits: 257 bytes, 3072: 385) ...
PKCS1 = re.compile(rb"\x30\x82..\x02\x01\x00\x02\x82\x01[\x01\x81]\x00[\x80-\xff]", re.S)
# ECPrivateKey (SEC1): SEQUENCE { INTEGER 1, OCTET STRING privateKey (32 or 48 bytes) ...
SEC1 = re.compile(rb"\x30(?:[\x00-\x7f]|\x81[\x80-\xff])\x02\x01\x01\x04[\x20\x30]", re.S)
HEX_RUN = re.compile(rb"[0-9a-fA-F]{64,}")
B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{43,}={0,2}")
# A uniformly random 32-byte string has fewer than 19 distinct byte values with probability
# 4.6e-12: the (slow) EC scalar checks skip windows below that, which are SQLite structure.
RANDOM_LOOKING = 19
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass
class KeyMaterial:
    """Public facts about the keys made, enough to recognise their private halves:
    * RSA: the modulus n (a window is a prime factor if it divides n);
    * P-256 and SM2: the public point Q (a window d is the scalar if d G = Q). SM2 needs the pure
      Python `Sm2Comb` (0.2-0.4 ms a window), so SM2 scalars are searched in a data directory of
      their own (test_no_sm2_scalar_at_rest) rather than in the big one. P-384 and secp256k1
      scalars are not tried (0.3-0.8 ms a window through `cryptography`); their documented
      format, PKCS#8, is what the structure scan finds;
    * ML-KEM-768: rho, the last 32 bytes of ek, is SHA3-512(d || 3)[:32] for the seed's d
      (FIPS 203 K-PKE.KeyGen); ML-DSA-65: rho, the first 32 bytes of pk, is SHAKE256(xi || 6 || 5)[:32]
      (FIPS 204 KeyGen_internal). Both shortcuts are checked against `cryptography` below;
    * HMAC: a message and its MAC (a window is the key if it gives that MAC)."""
    rsa_moduli: list[int] = field(default_factory=list)
    p256_points: list[bytes] = field(default_factory=list)   # X9.62 uncompressed
    sm2_points: list[tuple[int, int]] = field(default_factory=list)
    mlkem_rho: list[bytes] = field(default_factory=list)
    mldsa_rho: list[bytes] = field(default_factory=list)
    macs: list[tuple[bytes, bytes]] = field(default_factory=list)
    usable: list = field(default_factory=list)  # checks that the same keys still work after a restart

    def check_still_usable(self, endpoint: str) -> None:
        for check in self.usable:
            check(endpoint)


class Sm2Comb:
    """d G on the SM2 curve in pure Python, fast enough to try every window of a data directory:
    a table T[j][b] = b 256^j G (affine), so d G is one mixed Jacobian-affine addition per byte
    of d. Checked against OpenSSL-made SM2 keys in the planted-material test."""

    _table = None

    def __init__(self):
        from asym_helpers import SM2_CURVE, SM2_G
        self.p, self.a = SM2_CURVE["p"], SM2_CURVE["a"]
        if Sm2Comb._table is None:
            base = (int.from_bytes(SM2_G[:32], "big"), int.from_bytes(SM2_G[32:], "big"))
            table = []
            for _ in range(32):
                row, acc = [None, base], (base[0], base[1], 1)
                for _ in range(2, 257):
                    acc = self._add(acc, base)
                    row.append(self._affine(acc))
                table.append(row[:256])
                base = row[256]  # 256 * base
            Sm2Comb._table = table
        self.table = Sm2Comb._table

    def _affine(self, pt):
        x, y, z = pt
        zi = pow(z, -1, self.p)
        return x * zi * zi % self.p, y * zi * zi * zi % self.p

    def _double(self, pt):
        x, y, z = pt
        p = self.p
        yy = y * y % p
        s_ = 4 * x * yy % p
        zz = z * z % p
        m_ = (3 * x * x + self.a * zz * zz) % p
        x3 = (m_ * m_ - 2 * s_) % p
        return x3, (m_ * (s_ - x3) - 8 * yy * yy) % p, 2 * y * z % p

    def _add(self, pt, q):
        """Jacobian pt + affine q (pt not infinity); None for infinity."""
        x1, y1, z1 = pt
        p = self.p
        zz = z1 * z1 % p
        h = (q[0] * zz - x1) % p
        r = (q[1] * z1 * zz - y1) % p
        if h == 0:
            return self._double(pt) if r == 0 else None
        hh = h * h % p
        hhh = h * hh % p
        v = x1 * hh % p
        x3 = (r * r - hhh - 2 * v) % p
        return x3, (r * (v - x3) - y1 * hhh) % p, z1 * h % p

    def times_g(self, d: bytes):
        """d G as an affine (x, y), or None for the point at infinity."""
        p, table = self.p, self.table
        x1 = None
        for j, b in enumerate(reversed(d)):
            if not b:
                continue
            x2, y2 = table[j][b]
            if x1 is None:
                x1, y1, z1 = x2, y2, 1
                continue
            zz = z1 * z1 % p
            h = (x2 * zz - x1) % p
            r = (y2 * z1 * zz - y1) % p
            if h == 0:  # the same point (or its negation): not on the fast path
                pt = self._add((x1, y1, z1), (x2, y2))
                if pt is None:
                    x1 = None
                else:
                    x1, y1, z1 = pt
                continue
            hh = h * h % p
            hhh = h * hh % p
            v = x1 * hh % p
            x3 = (r * r - hhh - 2 * v) % p
            y1 = (r * (v - x3) - y1 * hhh) % p
            x1, z1 = x3, z1 * h % p
        return None if x1 is None else self._affine((x1, y1, z1))


def views(data: bytes) -> list[bytes]:
    """The bytes of a file, and the bytes its hex and base64 runs decode to (every alignment)."""
    out = [data]
    for m in HEX_RUN.finditer(data):
        for start in (0, 1):
            chunk = m.group()[start:]
            out.append(bytes.fromhex(chunk[:len(chunk) // 2 * 2].decode()))
    for m in B64_RUN.finditer(data):
        text = m.group().rstrip(b"=").replace(b"-", b"+").replace(b"_", b"/")
        for start in range(4):
            chunk = text[start:]
            chunk = chunk[:len(chunk) // 4 * 4]
            if chunk:
                out.append(base64.b64decode(chunk))
    return out


def _point(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def key_material_findings(views_: list[bytes], m: KeyMaterial) -> list[str]:
    """What of `m`'s private material the byte strings hold. Every window of every view is tried
    once (a set per window length: SQLite's WAL repeats whole pages)."""
    found = []
    for view in views_:
        for match in PKCS8.finditer(view):
            found += [f"PKCS#8 {name} private key" for name, der in OIDS.items() if match.group(1).startswith(der)]
        found += ["PKCS#1 RSA private key" for _ in PKCS1.finditer(view)]
        found += ["SEC1 EC private key" for _ in SEC1.finditer(view)]

    def windows(n: int) -> set[bytes]:
        return {v[i:i + n] for v in views_ for i in range(len(v) - n + 1)}

    sm2 = Sm2Comb() if m.sm2_points else None
    sm2_points, p256_points = set(m.sm2_points), set(m.p256_points)
    for w in windows(32):
        if any(hmac.compare_digest(hmac.digest(w, msg, "sha256"), mac) for msg, mac in m.macs):
            found.append("an HMAC-SHA256 key")
        if m.mlkem_rho and hashlib.sha3_512(w + b"\x03").digest()[:32] in m.mlkem_rho:
            found.append("an ML-KEM-768 seed")
        if m.mldsa_rho and hashlib.shake_256(w + b"\x06\x05").digest(32) in m.mldsa_rho:
            found.append("an ML-DSA-65 seed")
        if len(set(w)) < RANDOM_LOOKING:
            continue
        d = int.from_bytes(w, "big")
        if p256_points and 0 < d < P256_ORDER and _point(ec.derive_private_key(d, ec.SECP256R1())) in p256_points:
            found.append("a P-256 private scalar")
        if sm2 and sm2.times_g(w) in sm2_points:
            found.append("an SM2 private scalar")
    for bits in {n.bit_length() for n in m.rsa_moduli}:
        moduli = [n for n in m.rsa_moduli if n.bit_length() == bits]
        for w in windows(bits // 16):
            if w[0] & 0x80 and w[-1] & 1:  # an RSA prime has its top and bottom bits set
                q = int.from_bytes(w, "big")
                if any(n % q == 0 for n in moduli):
                    found.append(f"a prime factor of an RSA-{bits} modulus")
    return found


def scan_key_material(paths: list[Path], material: KeyMaterial) -> list[str]:
    """Findings over all the files, and, for any, which files hold them (scanned alone)."""
    all_views = [v for p in paths for v in views(p.read_bytes())]
    found = key_material_findings(all_views, material)
    if not found or len(paths) == 1:
        return [f"{what} in {paths[0].name}" for what in found] if found else []
    return [f"{what} in {p.name}" for p in paths for what in key_material_findings(views(p.read_bytes()), material)]


def test_key_material_scanner_finds_planted_material(tmp_path):
    """The key-material scan must be able to fail: each kind of material written into a file
    (raw, hex or base64, among random bytes) is found, and random bytes are clean. The seed
    shortcuts are checked against `cryptography`'s ML-KEM / ML-DSA, the SM2 arithmetic against
    keys OpenSSL made."""
    m = KeyMaterial()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    m.rsa_moduli.append(rsa_key.public_key().public_numbers().n)
    ec_keys = {c: ec.generate_private_key(c()) for c in (ec.SECP256R1, ec.SECP384R1, ec.SECP256K1)}
    p256 = ec_keys[ec.SECP256R1]
    m.p256_points.append(_point(p256))
    sm2 = make_key(tmp_path / "sm2", "sm2")
    m.sm2_points.append((int(sm2.sm2_xy_hex[:64], 16), int(sm2.sm2_xy_hex[64:], 16)))
    sm2_pkcs8 = run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-in", str(sm2.priv), "-outform", "DER"])
    sm2_sec1 = run(["openssl", "ec", "-in", str(sm2.priv), "-outform", "DER"])
    kem_seed, dsa_seed, mac_key = os.urandom(64), os.urandom(32), os.urandom(32)
    m.mlkem_rho.append(mlkem.MLKEM768PrivateKey.from_seed_bytes(kem_seed).public_key().public_bytes_raw()[-32:])
    m.mldsa_rho.append(mldsa.MLDSA65PrivateKey.from_seed_bytes(dsa_seed).public_key().public_bytes_raw()[:32])
    m.macs.append((b"probe", hmac.digest(mac_key, b"probe", "sha256")))

    def der(key, fmt):
        return key.private_bytes(serialization.Encoding.DER, fmt, serialization.NoEncryption())

    pkcs8, traditional = serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL
    planted = {
        "PKCS#8 rsaEncryption": der(rsa_key, pkcs8),
        "PKCS#1 RSA": der(rsa_key, traditional),
        "prime factor of an RSA-2048": rsa_key.private_numbers().p.to_bytes(128, "big"),
        "PKCS#8 id-ecPublicKey": der(ec_keys[ec.SECP256K1], pkcs8),
        "SEC1 EC": der(ec_keys[ec.SECP384R1], traditional),
        "P-256 private scalar": p256.private_numbers().private_value.to_bytes(32, "big"),
        "SM2 private scalar": bytes.fromhex(sm2.sm2_d_hex),
        "PKCS#8 id-ecPublicKey private key": sm2_pkcs8,
        "SEC1 EC private key": sm2_sec1,
        "ML-KEM-768 seed": kem_seed,
        "ML-DSA-65 seed": dsa_seed,
        "HMAC-SHA256 key": mac_key,
    }
    for label, secret in planted.items():
        for form, blob in {"raw": secret, "hex": secret.hex().encode(), "base64": base64.b64encode(b"x" + secret)}.items():
            f = tmp_path / f"planted-{len(list(tmp_path.iterdir()))}"
            f.write_bytes(os.urandom(100) + blob + os.urandom(100))
            # (the SM2 arithmetic, slow in Python, is run for the SM2 scalar only)
            found = scan_key_material([f], m if label == "SM2 private scalar" else replace(m, sm2_points=[]))
            assert any(label in x for x in found), f"{label} ({form}) not found: {found}"
    clean = tmp_path / "clean"
    clean.write_bytes(os.urandom(4000))
    assert scan_key_material([clean], m) == []


def _drive_key_material(endpoint: str, secrets: dict[str, bytes], workdir: Path) -> KeyMaterial:
    """Make and use every kind of private key, an HMAC key and imported material; returns the
    public facts the scan needs, and adds every plaintext the server saw to `secrets`."""
    from alikms import tea, tea_client

    c = tencent_client(endpoint)
    m = KeyMaterial()

    def mark(name: str) -> bytes:
        secrets[name] = os.urandom(24) + name.encode()
        return secrets[name]

    # RSA: decryption of what cryptography encrypted, and a signature
    k = new_key(c, "ASYMMETRIC_DECRYPT_RSA_2048")
    pub = get_public(c, k, "rsa").key
    m.rsa_moduli.append(pub.public_numbers().n)
    pt = mark("rsa-decrypted")
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    ct = pub.encrypt(pt, oaep)
    r = call(c, "AsymmetricRsaDecrypt", KeyId=k, Algorithm="RSAES_OAEP_SHA_256", Ciphertext=b64e(ct))
    assert b64d(r.Plaintext) == pt
    m.usable.append(lambda ep, k=k, ct=ct, pt=pt: _check(
        b64d(call(tencent_client(ep), "AsymmetricRsaDecrypt", KeyId=k, Algorithm="RSAES_OAEP_SHA_256",
                  Ciphertext=b64e(ct)).Plaintext) == pt))
    k = new_key(c, "ASYMMETRIC_SIGN_VERIFY_RSA_3072")
    m.rsa_moduli.append(get_public(c, k, "rsa").key.public_numbers().n)
    _sign_and_keep(c, m, k, "RSA_PSS_SHA_256", mark("rsa-signed"))

    # EC: signatures on each curve
    for usage, alg in [("ASYMMETRIC_SIGN_VERIFY_ECC", "ECC_P256_R1"), ("ASYMMETRIC_SIGN_VERIFY_ECDSA384", "ECDSA384_SHA384"),
                       ("ASYMMETRIC_SIGN_VERIFY_ECC_SECP256K1", "ECC_SECP256K1")]:
        k = new_key(c, usage)
        pub = get_public(c, k, "ec").key
        if alg == "ECC_P256_R1":
            m.p256_points.append(pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        msg = mark(f"{usage}-signed")
        h = hashes.SHA384() if alg == "ECDSA384_SHA384" else hashes.SHA256()
        pub.verify(sign(c, k, alg, msg), msg, ec.ECDSA(h))
        _sign_and_keep(c, m, k, alg, msg)

    # SM2: decryption (of OpenSSL's DER) and a signature
    k = new_key(c, "ASYMMETRIC_DECRYPT_SM2")
    pem, _ = write_pub(workdir, get_public(c, k, "sm2"))
    pt = mark("sm2-decrypted")
    der = openssl_encrypt(workdir, pem, pt, [])
    assert b64d(call(c, "AsymmetricSm2Decrypt", KeyId=k, Ciphertext=b64e(der)).Plaintext) == pt
    k = new_key(c, "ASYMMETRIC_SIGN_VERIFY_SM2")
    point = get_public(c, k, "sm2").key
    msg = mark("sm2-signed")
    r_, s_ = decode_dss_signature(sign(c, k, "SM2DSA", msg))
    assert gmssl_for(point).verify_with_sm3(f"{r_:064x}{s_:064x}", msg)
    _sign_and_keep(c, m, k, "SM2DSA", msg)

    # ML-KEM and ML-DSA
    k = new_key(c, "ASYMMETRIC_Encrypt_Decrypt_Kyber_AES")
    m.mlkem_rho.append(get_public(c, k, "mlkem").key.public_bytes_raw()[-32:])
    pt = mark("pq-plaintext")
    blob = call(c, "PostQuantumCryptoEncrypt", KeyId=k, PlainText=b64e(pt)).CiphertextBlob
    assert b64d(call(c, "PostQuantumCryptoDecrypt", CiphertextBlob=blob).PlainText) == pt
    m.usable.append(lambda ep, blob=blob, pt=pt: _check(
        b64d(call(tencent_client(ep), "PostQuantumCryptoDecrypt", CiphertextBlob=blob).PlainText) == pt))
    k = new_key(c, "ASYMMETRIC_SIGN_VERIFY_DILITHIUM")
    dsa_pub = get_public(c, k, "mldsa").key
    m.mldsa_rho.append(dsa_pub.public_bytes_raw()[:32])
    msg = mark("mldsa-signed")
    sig = b64d(call(c, "PostQuantumCryptoSign", KeyId=k, Message=b64e(msg)).Signature)
    dsa_pub.verify(sig, msg)
    m.usable.append(lambda ep, k=k, msg=msg, sig=sig: _check(call(
        tencent_client(ep), "PostQuantumCryptoVerify", KeyId=k, Message=b64e(msg), SignatureValue=b64e(sig)
    ).SignatureValid is True))

    # HMAC, through the Alibaba dialect
    ali = tea_client(endpoint)
    hk = tea(ali, "CreateKey", KeySpec="HMAC_SHA256")["KeyMetadata"]["KeyId"]
    for i in range(2):
        msg = mark(f"hmac-message-{i}")
        mac = b64d(tea(ali, "GenerateMac", KeyId=hk, Algorithm="HMAC_SHA_256", Message=b64e(msg))["Mac"])
        assert len(mac) == 32
        m.macs.append((msg, mac))
        assert tea(ali, "VerifyMac", KeyId=hk, Algorithm="HMAC_SHA_256", Message=b64e(msg), Mac=b64e(mac))["Value"] is True
    m.usable.append(lambda ep, hk=hk, msg=msg, mac=mac: _check(tea(
        tea_client(ep), "GenerateMac", KeyId=hk, Algorithm="HMAC_SHA_256", Message=b64e(msg))["Mac"] == b64e(mac)))

    # imported material (BYOK): the test knows it, so the plaintext scan looks for it too
    k = create_cmk(c, Type=2)
    p = call(c, "GetParametersForImport", KeyId=k, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    wrapping = workdir / "wrapping.der"
    wrapping.write_bytes(b64d(p.PublicKey))
    imported = os.urandom(32)
    secrets["imported-key-material"] = imported
    wrapped = openssl_encrypt(workdir, wrapping, imported, OPENSSL_RSA["RSAES_OAEP_SHA_256"], der=True)
    call(c, "ImportKeyMaterial", KeyId=k, ImportToken=p.ImportToken, EncryptedKeyMaterial=b64e(wrapped))
    pt = mark("byok-plaintext")
    blob = call(c, "Encrypt", KeyId=k, Plaintext=b64e(pt)).CiphertextBlob
    assert b64d(call(c, "Decrypt", CiphertextBlob=blob).Plaintext) == pt
    return m


def _sign_and_keep(c, m: KeyMaterial, key_id: str, alg: str, msg: bytes) -> None:
    """Sign now; after the restart the same key must verify it (the private half was persisted)."""
    sig = sign(c, key_id, alg, msg)
    assert verify(c, key_id, alg, msg, sig)
    m.usable.append(lambda ep: _check(verify(tencent_client(ep), key_id, alg, msg, sig) is True))


def _check(ok: bool) -> None:
    assert ok, "a key made before the restart no longer works"


def test_no_sm2_scalar_at_rest(make_server, tmp_path):
    """SM2 keys (stored as their bare scalar, sealed) of both usages, used, then a crash: no
    window of the data directory or log is an SM2 private scalar (d G = Q), and nothing else of
    the key-material scan is found either; the keys still work after a restart."""
    s = make_server(extra_args=["--no-rate-limit"], env={"RUST_LOG": "debug"}).start()
    c = tencent_client(s.endpoint)
    m = KeyMaterial()
    secrets: dict[str, bytes] = {}
    enc, sig_key = new_key(c, "ASYMMETRIC_DECRYPT_SM2"), new_key(c, "ASYMMETRIC_SIGN_VERIFY_SM2")
    for k in (enc, sig_key):
        point = get_public(c, k, "sm2").key
        m.sm2_points.append((point.x, point.y))
    pem, _ = write_pub(tmp_path, get_public(c, enc, "sm2"))
    for i in range(3):
        pt = secrets[f"sm2-plaintext-{i}"] = os.urandom(40)
        der = openssl_encrypt(tmp_path, pem, pt, [])
        assert b64d(call(c, "AsymmetricSm2Decrypt", KeyId=enc, Ciphertext=b64e(der)).Plaintext) == pt
        _sign_and_keep(c, m, sig_key, "SM2DSA", os.urandom(64))
    s.kill9()
    files = data_files(s.data_dir)
    assert files, f"the data dir {s.data_dir} is empty after use"
    files += store_dump(s, tmp_path)
    found = scan(files + [s.log_path], secrets) + scan_key_material(files + [s.log_path], m)
    assert not found, "SM2 key material found at rest:\n  " + "\n  ".join(found)
    s.restart()
    m.check_still_usable(s.endpoint)
