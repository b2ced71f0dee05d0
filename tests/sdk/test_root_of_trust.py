"""The root of trust through the official SDKs: a passphrase data directory starts sealed and is
unsealed (and sealed again) over the admin socket; the root key is rotated online, while clients
keep working, survives kill -9 halfway through re-sealing, and old roots are retired.
"""
from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from alikms import tea, tea_client, tea_expect
from conftest import BIN, server_env, store_args, tencent_client
from kmsutil import call, create_key, decrypt, encrypt

PASSPHRASE = "correct horse battery staple"
NEW_PASSPHRASE = "a completely different passphrase"


def admin(server, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """`ferrokms admin --data-dir DIR ARGS` with `stdin`; the environment has no passphrase."""
    env = server_env()
    env.pop("FERROKMS_ROOT_PASSPHRASE", None)
    cmd = [str(BIN), "admin", "--data-dir", str(server.data_dir), *store_args(server), *args]
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def status(server) -> dict:
    out = admin(server, "status").stdout
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    counts = {int(k.split()[-1]): int(v) for k, v in fields.items() if k.startswith("values sealed under root")}
    return {"sealed": fields["sealed"] == "true", "active": int(fields["active root"]),
            "roots": [int(r) for r in fields["roots"].split(", ")], "resealing": fields["re-sealing"] == "true",
            "counts": counts}


def wait_resealed(server, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = status(server)
        if not s["resealing"] and s["counts"]:
            return s
        time.sleep(0.2)
    raise AssertionError(f"re-sealing did not finish: {status(server)}")


def http_status(server, path: str) -> int:
    try:
        with urllib.request.urlopen(f"{server.url}{path}", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def passphrase_server(make_server):
    return make_server(config='[root_key]\nsource = "passphrase"\n', env={"FERROKMS_ROOT_PASSPHRASE": PASSPHRASE})


def test_sealed_start_refuses_every_request_until_unsealed(make_server):
    s = passphrase_server(make_server).start()
    kms = tencent_client(s.endpoint)
    key = create_key(kms)
    blob = encrypt(kms, key, b"sealed secret")
    ali = tea_client(s.endpoint)
    ali_key = tea(ali, "CreateKey")["KeyMetadata"]["KeyId"]
    ali_blob = tea(ali, "Encrypt", KeyId=ali_key, Plaintext="alibaba secret")["CiphertextBlob"]
    s.stop()
    s.env = {}  # restart without the passphrase: sealed
    s.restart()
    assert "sealed" in s.log()
    assert http_status(s, "/healthz") == 200, "liveness does not depend on the seal"
    assert http_status(s, "/readyz") == 503
    with pytest.raises(TencentCloudSDKException) as e:
        call(kms, "Decrypt", CiphertextBlob=blob)
    assert e.value.code == "ResourceUnavailable" and e.value.requestId
    tea_expect(ali, "Decrypt", "ServiceUnavailableTemporary", 503, CiphertextBlob=ali_blob)
    assert status(s)["sealed"]

    wrong = admin(s, "unseal", stdin="not the passphrase at all\n", check=False)
    assert wrong.returncode != 0 and "wrong passphrase" in wrong.stderr
    assert status(s)["sealed"]
    with pytest.raises(TencentCloudSDKException):
        call(kms, "Decrypt", CiphertextBlob=blob)

    admin(s, "unseal", stdin=PASSPHRASE + "\n")
    assert http_status(s, "/readyz") == 200
    assert decrypt(kms, blob) == b"sealed secret"
    assert tea(ali, "Decrypt", CiphertextBlob=ali_blob)["Plaintext"] == "alibaba secret"

    # Sealing again drops everything (the cached key too) and refuses requests at once.
    admin(s, "seal")
    assert http_status(s, "/readyz") == 503
    with pytest.raises(TencentCloudSDKException) as e:
        call(kms, "Decrypt", CiphertextBlob=blob)
    assert e.value.code == "ResourceUnavailable"
    f = s.data_dir.parent / "pass.txt"
    f.write_text(PASSPHRASE + "\n")
    admin(s, "unseal", "--passphrase-file", str(f))
    assert decrypt(kms, blob) == b"sealed secret"


def test_admin_socket_is_private_and_single(make_server):
    s = make_server().start()
    sock = s.data_dir / "admin.sock"
    assert oct(sock.stat().st_mode & 0o777) == "0o600"
    other = make_server()
    other.data_dir = s.data_dir  # a second server on the same data directory is refused
    with pytest.raises(RuntimeError, match="another ferrokms serves this data directory"):
        other.start()
    s.kill9()
    s.restart()  # the socket file a killed server left is taken over
    assert not status(s)["sealed"]


def _many_keys(kms, n: int) -> list[tuple[str, str, bytes]]:
    out = []
    for i in range(n):
        key = create_key(kms)
        data = f"value {i}".encode()
        out.append((key, encrypt(kms, key, data), data))
    return out


def _all_decrypt(kms, items) -> None:
    for _, blob, data in items:
        assert decrypt(kms, blob) == data


def test_rotate_root_online_then_retire(make_server):
    s = make_server(config="[admin]\nretire_grace_secs = 0\n", extra_args=["--no-rate-limit"]).start()
    kms = tencent_client(s.endpoint)
    items = _many_keys(kms, 40)
    ali = tea_client(s.endpoint)
    ali_key = tea(ali, "CreateKey")["KeyMetadata"]["KeyId"]
    ali_blob = tea(ali, "Encrypt", KeyId=ali_key, Plaintext="alibaba secret")["CiphertextBlob"]
    assert (s.data_dir / "root.key").exists()

    # Clients keep working through the rotation.
    errors: list[str] = []
    stop = threading.Event()

    def traffic():
        client = tencent_client(s.endpoint)
        i = 0
        while not stop.is_set():
            key, blob, data = items[i % len(items)]
            try:
                assert decrypt(client, blob) == data
                create_key(client)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            i += 1

    t = threading.Thread(target=traffic)
    t.start()
    try:
        out = admin(s, "rotate-root", "--to", "file").stdout
        assert "root 2 is active" in out
        st = wait_resealed(s)
    finally:
        stop.set()
        t.join()
    assert not errors, errors[:3]
    assert st["active"] == 2 and st["roots"] == [1, 2]
    assert set(st["counts"]) == {2}, f"every value under root 2: {st['counts']}"
    assert not (s.data_dir / "root.key").exists(), "the replaced key file is removed (kept wrapped)"
    assert (s.data_dir / "root-2.key").exists()
    _all_decrypt(kms, items)

    # To a passphrase root: the next start needs that passphrase.
    admin(s, "rotate-root", "--to", "passphrase", stdin=NEW_PASSPHRASE + "\n")
    wait_resealed(s)
    retired = admin(s, "retire-roots").stdout
    assert "root 1 retired" in retired and "root 2 retired" in retired
    meta = json.loads((s.data_dir / "ferrokms.json").read_text())
    assert [r["id"] for r in meta["roots"]] == [3] and meta["active"] == 3
    assert not (s.data_dir / "root-2.key").exists()
    s.stop()
    s.restart()
    assert status(s)["sealed"], "a passphrase root without the passphrase starts sealed"
    admin(s, "unseal", stdin=NEW_PASSPHRASE + "\n")
    _all_decrypt(kms, items)
    assert tea(ali, "Decrypt", CiphertextBlob=ali_blob)["Plaintext"] == "alibaba secret"
    # The audit log's signing key moved with the root: the log still opens and verifies.
    s.stop()
    verify = subprocess.run([str(BIN), "audit", "verify", "--data-dir", str(s.data_dir)], capture_output=True,
                            text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_rotation_interrupted_by_kill9_resumes_at_start(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    kms = tencent_client(s.endpoint)
    items = _many_keys(kms, 300)
    admin(s, "rotate-root", "--to", "file")
    s.kill9()  # halfway through the re-seal pass: each value is its own durable write
    first_run = len(s.log())
    s.restart()
    st = wait_resealed(s)
    resumed = re.findall(r"re-seal pass done resealed=(\d+)", s.log()[first_run:])
    assert resumed and int(resumed[0]) > 0, "the restarted server finished what the killed one began"
    assert st["active"] == 2 and set(st["counts"]) == {2}, st
    _all_decrypt(kms, items)
    kept = admin(s, "retire-roots").stdout
    assert "root 1 kept" in kept, "within the grace period root 1 stays"


def test_rotation_refused_while_sealed_and_bad_targets(make_server):
    s = make_server().start()
    bad = admin(s, "rotate-root", "--to", "tape", check=False)
    assert bad.returncode != 0 and "file, passphrase or pkcs11" in bad.stderr
    short = admin(s, "rotate-root", "--to", "passphrase", stdin="short\n", check=False)
    assert short.returncode != 0 and "at least 12 characters" in short.stderr
    assert status(s)["roots"] == [1], "a refused rotation adds no root"
    admin(s, "seal")
    sealed = admin(s, "rotate-root", "--to", "file", check=False)
    assert sealed.returncode != 0 and "sealed" in sealed.stderr
