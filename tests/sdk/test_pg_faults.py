"""Faults of a PostgreSQL deployment: several nodes on one database, a node SIGKILLed under load,
PostgreSQL restarted under load, a node started before its PostgreSQL.

Each test has a private PostgreSQL server in a temporary directory (pgtmp.PrivatePg): they stop
and restart it, which the shared server of FERROKMS_TEST_PG_URL must never see. Nodes share one
database the way an operator sets them up: the first node makes the root key, the others get a
copy of its ferrokms.json and key file in their own data directory.
"""
from __future__ import annotations

import shutil
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

import pgtmp
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION, Server, _new_tencent_client, tencent_client
from interop_helpers import b64d, call, create_cmk

pytestmark = [
    pytest.mark.skipif(not pgtmp.available(), reason="no PostgreSQL server binaries (initdb, pg_ctl)"),
    pytest.mark.timeout(300),
]


@pytest.fixture
def pg():
    p = pgtmp.PrivatePg().start()
    yield p
    p.destroy()


# Requests give up waiting for a connection after 2 s (default 10 s), so that a short outage
# shows its errors.
CONFIG = "[store]\nacquire_timeout_ms = 2000\n"


def nodes(make_server, url: str, n: int, **kw) -> list[Server]:
    """n started nodes on the database `url`, sharing the first one's root key."""
    kw.setdefault("config", CONFIG)
    first = make_server(store_url=url, extra_args=["--no-rate-limit"], **kw).start()
    out = [first]
    for _ in range(n - 1):
        s = make_server(store_url=url, extra_args=["--no-rate-limit"], **kw)
        share_keyring(first, s)
        out.append(s.start())
    return out


def share_keyring(src: Server, dst: Server) -> None:
    dst.data_dir.mkdir(parents=True, mode=0o700)
    for f in src.data_dir.iterdir():
        if f.name == "ferrokms.json" or (f.name.startswith("root") and f.name.endswith(".key")):
            shutil.copy2(f, dst.data_dir / f.name)


def readyz(s: Server) -> int:
    try:
        with urllib.request.urlopen(f"{s.url}/readyz", timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


def fresh(s: Server):
    """A client of its own (one connection per thread), not the cached one of tencent_client."""
    return _new_tencent_client(s.endpoint, REGION, ACCESS_KEY_ID, ACCESS_KEY_SECRET, None)


def test_kill9_one_node_under_load(make_server, pg):
    """Three nodes under load (hosted GenerateDataKey, CreateKey); one is SIGKILLed: the other two
    keep answering without an error, and every write any node acknowledged, the killed one's too,
    is readable from the survivors."""
    url = pg.create_db("faults")
    ns = nodes(make_server, url, 3)
    k = create_cmk(tencent_client(ns[0].endpoint))
    acked_dk: list[tuple[str, bytes]] = []
    acked_keys: list[str] = []
    errors: dict[int, list[str]] = {i: [] for i in range(3)}
    after_kill = [0, 0, 0]
    killed = threading.Event()
    stop = threading.Event()
    lock = threading.Lock()

    def worker(i: int, t: int):
        c = fresh(ns[i])
        n = 0
        while not stop.is_set():
            n += 1
            try:
                if n % 5 == 0:
                    kid = create_cmk(c, Description=f"n{i} t{t} {n}")
                    with lock:
                        acked_keys.append(kid)
                else:
                    r = call(c, "GenerateDataKey", KeyId=k, KeySpec="AES_256", IsHostedByKms=1,
                             DataKeyName=f"k9-{i}-{t}-{n}-{uuid.uuid4().hex[:6]}")
                    with lock:
                        acked_dk.append((r.DataKeyId, b64d(r.Plaintext)))
                if killed.is_set():
                    after_kill[i] += 1
            except Exception as e:  # noqa: BLE001 - the killed node's clients fail any way they can
                if i == 0 and killed.is_set():
                    return
                errors[i].append(repr(e))
                if len(errors[i]) > 20:
                    return

    threads = [threading.Thread(target=worker, args=(i, t)) for i in range(3) for t in range(3)]
    for th in threads:
        th.start()
    time.sleep(3)
    killed.set()
    ns[0].kill9()
    time.sleep(3)
    stop.set()
    for th in threads:
        th.join(timeout=60)
    assert not errors[1] and not errors[2], f"surviving nodes failed: {errors[1][:3]} {errors[2][:3]}"
    assert after_kill[1] > 0 and after_kill[2] > 0, f"survivors did not serve after the kill: {after_kill}"
    assert len(acked_dk) > 10, acked_dk
    for j, (dk, pt) in enumerate(acked_dk):
        c = tencent_client(ns[1 + j % 2].endpoint)
        assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=dk).Plaintext) == pt, dk
    for j, kid in enumerate(acked_keys):
        c = tencent_client(ns[1 + j % 2].endpoint)
        assert call(c, "DescribeKey", KeyId=kid).KeyMetadata.KeyState == "Enabled"
    # the killed node comes back on the same database and sees everything
    ns[0].restart()
    c = fresh(ns[0])
    for dk, pt in acked_dk[-20:]:
        assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=dk).Plaintext) == pt


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restart_under_load(make_server, pg, mode):
    """PostgreSQL stopped (fast: connections cut; immediate: a crash) under load from two nodes and
    both dialects: while it is down every failure is the dialect's retryable error (Tencent
    InternalError, Alibaba 503 ServiceUnavailableTemporary) and /readyz is 503; after it is back
    the nodes recover by themselves (no restart), /readyz is 200, and every acknowledged hosted
    data key is complete; so is every data key row in the database (no half-written record)."""
    from alikms import tea, tea_client, tea_exc_to_err

    url = pg.create_db("faults")
    ns = nodes(make_server, url, 2)
    k = create_cmk(tencent_client(ns[0].endpoint))
    acked: list[tuple[str, bytes]] = []
    bad: list[str] = []
    failures: dict[str, int] = {}
    phase = {"now": "before"}
    ok_after = [0]
    stop = threading.Event()
    lock = threading.Lock()

    def tencent_worker(s: Server, t: int):
        c = fresh(s)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                r = call(c, "GenerateDataKey", KeyId=k, KeySpec="AES_256", IsHostedByKms=1,
                         DataKeyName=f"pr-{s.port}-{t}-{n}-{uuid.uuid4().hex[:6]}")
                with lock:
                    acked.append((r.DataKeyId, b64d(r.Plaintext)))
                    if phase["now"] == "after":
                        ok_after[0] += 1
            except TencentCloudSDKException as e:
                with lock:
                    failures[f"tencent {e.code}"] = failures.get(f"tencent {e.code}", 0) + 1
                    if e.code != "InternalError":
                        bad.append(f"{phase['now']}: Tencent {e.code}: {e.message}")
                time.sleep(0.05)

    def alibaba_worker(s: Server):
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

        c = tea_client(s.endpoint, read_timeout=30000, connect_timeout=5000)
        ak = tea(c, "CreateKey")["KeyMetadata"]["KeyId"]  # its own region (cn-hangzhou)
        while not stop.is_set():
            try:
                tea(c, "GenerateDataKey", KeyId=ak, NumberOfBytes=32)  # needs the key: a store read
                tea(c, "CreateKey")
            except AlibabaCloudException as e:
                err = tea_exc_to_err(e)
                with lock:
                    failures[f"alibaba {err.status} {err.code}"] = failures.get(f"alibaba {err.status} {err.code}", 0) + 1
                    if (err.status, err.code) != (503, "ServiceUnavailableTemporary"):
                        bad.append(f"{phase['now']}: Alibaba {err}")
                time.sleep(0.05)

    threads = [threading.Thread(target=tencent_worker, args=(s, t)) for s in ns for t in range(2)]
    threads += [threading.Thread(target=alibaba_worker, args=(s,)) for s in ns]
    for th in threads:
        th.start()
    try:
        time.sleep(2)
        assert [readyz(s) for s in ns] == [200, 200]
        phase["now"] = "down"
        pg.stop(mode)
        pg.wait_down()
        deadline = time.time() + 20
        while time.time() < deadline and any(readyz(s) != 503 for s in ns):
            time.sleep(0.2)
        assert [readyz(s) for s in ns] == [503, 503], "/readyz must say 503 while PostgreSQL is down"
        time.sleep(5)
        pg.start()
        deadline = time.time() + 60
        while time.time() < deadline and any(readyz(s) != 200 for s in ns):
            time.sleep(0.2)
        assert [readyz(s) for s in ns] == [200, 200], "/readyz must be 200 again once PostgreSQL is back"
        phase["now"] = "after"
        deadline = time.time() + 30
        while time.time() < deadline and ok_after[0] < 20:
            time.sleep(0.2)
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=60)
    assert not bad, f"non-retryable errors ({failures}):\n" + "\n".join(bad[:10])
    assert any(f.startswith("tencent ") for f in failures), f"no request failed while PostgreSQL was down: {failures}"
    assert ok_after[0] >= 20, f"the nodes did not recover: {ok_after[0]} successes after the restart ({failures})"
    c = tencent_client(ns[1].endpoint)
    for dk, pt in acked:
        assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=dk).Plaintext) == pt, dk
    # every row is a whole data key: the ones whose answer was lost too
    rows = [r for r in pg.sql("SELECT id FROM data_keys", db="faults").split() if r]
    assert len(rows) >= len(acked)
    for dk in rows:
        md = call(c, "DescribeDataKey", DataKeyId=dk).DataKeyMetadata
        assert md is not None and md.KeyState == "Enabled", dk
        assert len(b64d(call(c, "GetDataKeyPlaintext", DataKeyId=dk).Plaintext)) == 32, dk


def test_node_started_before_postgres_waits(make_server, pg):
    """A node whose PostgreSQL does not answer says so in its log and keeps trying; it serves as
    soon as PostgreSQL is up (a new data directory, so the root key is made only then)."""
    url = pg.create_db("faults")
    pg.stop("fast")
    pg.wait_down()
    s = make_server(store_url=url, extra_args=["--no-rate-limit"])
    started: list[object] = []
    th = threading.Thread(target=lambda: started.append(_start(s)))
    th.start()
    deadline = time.time() + 20
    while time.time() < deadline and "unreachable" not in (s.log() if s.log_path.exists() else ""):
        time.sleep(0.1)
    log = s.log()
    assert "unreachable" in log and "retrying" in log, f"no clear message while PostgreSQL is down:\n{log}"
    assert "listening on" not in log
    assert s.proc is not None and s.proc.poll() is None, f"the node gave up:\n{log}"
    pg.start()
    th.join(timeout=60)
    assert started and started[0] is True, f"the node did not come up once PostgreSQL did: {started}\n{s.log()}"
    c = tencent_client(s.endpoint)
    k = create_cmk(c)
    assert call(c, "DescribeKey", KeyId=k).KeyMetadata.KeyState == "Enabled"
    assert readyz(s) == 200


def _start(s: Server):
    try:
        s.start()
        return True
    except Exception as e:  # noqa: BLE001
        return e


def test_a_nonce_refused_for_want_of_postgres_may_be_sent_again(make_server, pg):
    """An Alibaba request whose nonce could not be recorded (PostgreSQL down: 503) used up the
    nonce nowhere, so the client may send that nonce again once PostgreSQL is back: it is
    answered, not refused as a replay (SignatureNonceUsed). A nonce that was recorded is still
    refused the second time."""
    import acs

    url = pg.create_db("nonces")
    (s,) = nodes(make_server, url, 1)
    # verified once, so the access key is cached and the request gets as far as its nonce
    assert acs.v3_send(s.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET).status_code == 200
    nonce = "pg-down-" + uuid.uuid4().hex
    pg.stop("fast")
    pg.wait_down()
    down = acs.v3_send(s.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET, nonce=nonce)
    assert (down.status_code, down.json().get("Code")) == (503, "ServiceUnavailableTemporary"), down.text
    pg.start()
    deadline = time.time() + 60
    while time.time() < deadline and readyz(s) != 200:
        time.sleep(0.2)
    again = None
    for _ in range(20):  # the first statements after the restart may still meet a dead connection
        again = acs.v3_send(s.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET, nonce=nonce)
        if again.status_code != 503:
            break
        time.sleep(0.5)
    assert again.status_code == 200, again.text
    replay = acs.v3_send(s.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET, nonce=nonce)
    assert (replay.status_code, replay.json().get("Code")) == (400, "SignatureNonceUsed"), replay.text
