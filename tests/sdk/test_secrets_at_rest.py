"""Secrets at rest: no plaintext a client sent or received, and not the access-key secret, may be
found in any file of the data directory (SQLite database, -wal, -shm, journals, anything else)
or in the server log; not in raw bytes, hex, or base64 (any alignment, standard or URL-safe).

Variants: a graceful stop (SIGTERM, RUST_LOG=info), a crash (SIGKILL, RUST_LOG=debug) that leaves
the SQLite WAL behind, and a passphrase root key (no root.key file; the passphrase is not stored
either, and a wrong one is refused at start). All restart afterwards to prove the data really was
persisted (a server keeping everything in memory would pass the scan trivially).
"""
from __future__ import annotations

import base64
import os
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import ACCESS_KEY_SECRET, BIN, server_env, tencent_client
from interop_helpers import b64d, b64e, call, create_cmk


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


@pytest.mark.parametrize("mode", ["sigterm", "sigkill"])
def test_no_plaintext_at_rest(make_server, mode):
    s = make_server(extra_args=["--no-rate-limit"],
                    env={"RUST_LOG": "info" if mode == "sigterm" else "debug"}).start()
    c = tencent_client(s.endpoint)
    secrets, hosted = _drive(c)
    _drive_alibaba(s.endpoint, secrets)
    if mode == "sigterm":
        s.stop()
    else:
        s.kill9()
    files = data_files(s.data_dir)
    assert files, f"the data dir {s.data_dir} is empty after use"
    found = scan(files + [s.log_path], secrets)
    names = ", ".join(f"{p.name} ({p.stat().st_size} B)" for p in files)
    assert not found, "secrets found at rest:\n  " + "\n  ".join(found) + f"\nfiles: {names}"

    # the data really is on disk: a new process gets the hosted keys back
    s.restart()
    c = tencent_client(s.endpoint)
    for dk_id, pt in hosted:
        assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=dk_id).Plaintext) == pt


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
