"""Several ferrokms nodes on one PostgreSQL database (docs/deploy.md, "Between nodes").

Three nodes start at the same moment on a fresh database (FERROKMS_TEST_PG_URL's server), sharing
one keyring (ferrokms.json and its key file copied into each node's data directory). The key
and credential caches are trusted for 60 s here, so what reaches another node within the bound
below does so through the store's change notifications, not the TTL. These tests need
PostgreSQL whatever FERROKMS_TEST_STORE says, and fail without it.
"""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import acs
import pytest
from alikms import tea, tea_client, tea_err
from conftest import (
    ACCESS_KEY_ID, ACCESS_KEY_SECRET, BIN, PG_URL, _PG_DATABASES, _pg, _with_database, Server, server_env,
    tencent_client,
)
from kmsutil import b64, call, create_key, decrypt, encrypt, uid
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

# What docs/deploy.md promises: a change is seen by every node within this (notification delay).
BOUND = 2.0
RATE_LIMITED_ACTION = "GetRegions"  # 30 per second per account, cluster-wide (not a listing: no listing gate)
CONFIG = f"""
[keys]
cache_ttl_ms = 60000
[background]
interval_secs = 1
[rotation]
min_manual_interval_secs = 0
[rate_limits]
enabled = true
default = 100000
[rate_limits.actions]
{RATE_LIMITED_ACTION} = 30
"""


def _fresh_database() -> str:
    name = f"ferrokms_c_{uuid.uuid4().hex}"
    _pg(PG_URL, f"CREATE DATABASE {name}")
    _PG_DATABASES.append(name)
    return _with_database(PG_URL, name)


def psql(url: str, sql: str) -> str:
    p = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


class Cluster:
    def __init__(self, url: str, nodes: list[Server], base):
        self.url = url
        self.nodes = nodes
        self.base = base

    def tc(self, i: int, **kw):
        return tencent_client(self.nodes[i].endpoint, **kw)

    def ali(self, i: int):
        return tea_client(self.nodes[i].endpoint)

    def admin(self, *args: str) -> str:
        cmd = [str(BIN), "admin", "--data-dir", str(self.nodes[0].data_dir), "--store", self.url, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, env=server_env(), timeout=60)
        assert p.returncode == 0, f"{cmd}: {p.stdout}\n{p.stderr}"
        return p.stdout

    def node(self, name: str, extra_args: list[str] | None = None) -> Server:
        d = self.base / name
        d.mkdir()
        data = d / "data"
        data.mkdir()
        seed = self.nodes[0].data_dir
        for f in seed.iterdir():
            if f.name == "ferrokms.json" or (f.name.startswith("root") and f.name.endswith(".key")):
                shutil.copy2(f, data / f.name)
        return Server(data_dir=data, log_path=d / "server.log", config=CONFIG, store_url=self.url,
                      extra_args=extra_args or [])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("cluster")
    # A keyring for the cluster: made by a node on a database of its own, then stopped.
    seed = Server(data_dir=base / "seed" / "data", log_path=base / "seed.log", store_url=_fresh_database(),
                  extra_args=["--no-rate-limit"])
    (base / "seed").mkdir()
    seed.start()
    seed.stop()
    url = _fresh_database()
    c = Cluster(url, [seed], base)
    nodes = [c.node(f"n{i}") for i in range(3)]
    c.nodes = nodes
    # All three at the same moment on the empty database: one account, one access key, three starts.
    errors: list[BaseException] = []

    def start(n: Server):
        try:
            n.start()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=start, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        time.sleep(2.5)  # every node's first heartbeat is in
        yield c
    finally:
        for n in nodes:
            n.stop()


def eventually(check, bound: float = BOUND):
    """CHECK() true within BOUND seconds; answers how long it took."""
    t0 = time.monotonic()
    while True:
        if check():
            return time.monotonic() - t0
        assert time.monotonic() - t0 < bound, f"not seen within {bound} s"
        time.sleep(0.02)


def tc_code(fn) -> str | None:
    try:
        fn()
        return None
    except TencentCloudSDKException as e:
        return e.code


def test_nodes_starting_together_on_an_empty_store_make_one_account(cluster):
    assert psql(cluster.url, "SELECT count(*) FROM accounts") == "1"
    assert psql(cluster.url, f"SELECT count(*) FROM access_keys WHERE id = '{ACCESS_KEY_ID}'") == "1"
    assert sum("created account" in n.log() for n in cluster.nodes) == 1
    for n in cluster.nodes:
        call(tencent_client(n.endpoint), "DescribeKeys", KeyIds=[str(uuid.uuid4())])


def test_a_key_made_on_one_node_is_usable_on_another_at_once(cluster):
    key = create_key(cluster.tc(0))
    blob = encrypt(cluster.tc(2), key, b"hello")
    assert decrypt(cluster.tc(1), blob) == b"hello"


@pytest.mark.parametrize("change", ["disable", "schedule_deletion"])
def test_disabling_on_one_node_refuses_encryption_on_the_others_within_the_bound(cluster, change):
    key = create_key(cluster.tc(0))
    for i in range(3):  # every node has it cached (for 60 s)
        encrypt(cluster.tc(i), key, b"warm")
    call(cluster.tc(1), "DisableKey", KeyId=key)
    if change == "schedule_deletion":
        call(cluster.tc(1), "ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7)
    for i in (0, 2):
        eventually(lambda i=i: tc_code(lambda: encrypt(cluster.tc(i), key, b"x")) is not None)
        assert tc_code(lambda i=i: encrypt(cluster.tc(i), key, b"x")).startswith("ResourceUnavailable")


def test_rotation_on_one_node_is_seen_by_all(cluster):
    a0, a1 = cluster.ali(0), cluster.ali(1)
    key = tea(a0, "CreateKey")["KeyMetadata"]["KeyId"]
    first = tea(a1, "Encrypt", KeyId=key, Plaintext=b64(b"one"))  # cached on node 1
    v2 = tea(a0, "CreateKeyVersion", KeyId=key)["KeyVersion"]["KeyVersionId"]
    blob = tea(a0, "Encrypt", KeyId=key, Plaintext=b64(b"two"))
    assert blob["KeyVersionId"] == v2 != first["KeyVersionId"]
    assert tea(a1, "Decrypt", CiphertextBlob=blob["CiphertextBlob"])["KeyVersionId"] == v2
    # And node 1 encrypts with the new version within the bound (its cache was told).
    eventually(lambda: tea(a1, "Encrypt", KeyId=key, Plaintext=b64(b"x"))["KeyVersionId"] == v2)


def test_a_lost_listener_connection_clears_the_caches(cluster):
    key = create_key(cluster.tc(0))
    for i in range(3):
        encrypt(cluster.tc(i), key, b"warm")
    # A change nobody is told about (triggers off in this session), then every node's listening
    # connection is cut: each must forget what it cached once it notices.
    psql(cluster.url, "SET session_replication_role = replica; "
                      f"UPDATE keys SET state = 'Disabled', revision = revision + 1 WHERE id = '{key}'")
    time.sleep(0.3)
    for i in range(3):
        encrypt(cluster.tc(i), key, b"still cached: nobody was told")
    cut = psql(cluster.url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND query LIKE 'LISTEN%'")
    assert cut == "3", cut
    for i in range(3):
        eventually(lambda i=i: tc_code(lambda: encrypt(cluster.tc(i), key, b"x")) is not None, bound=5)
    # And the listeners are back: a told change reaches every node again.
    key2 = create_key(cluster.tc(0))
    for i in range(3):
        encrypt(cluster.tc(i), key2, b"warm")
    call(cluster.tc(0), "DisableKey", KeyId=key2)
    for i in range(3):
        eventually(lambda i=i: tc_code(lambda: encrypt(cluster.tc(i), key2, b"x")) is not None)


def test_a_nonce_replayed_to_another_node_is_refused(cluster):
    n0, n1 = cluster.nodes[0], cluster.nodes[1]
    h = acs.v3_headers(n0.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET)
    first = acs.send_query(n0.endpoint, {}, headers=h)
    assert first.status_code == 200, first.text
    for other in (n1, cluster.nodes[2]):
        # The very same request (Host included: it is signed) to another node.
        again = acs.send_query(other.endpoint, {}, headers=h)
        assert (again.status_code, again.json().get("Code")) == (400, "SignatureNonceUsed"), again.text
    # A fresh nonce still works everywhere.
    for n in cluster.nodes:
        assert acs.v3_send(n.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET).status_code == 200


def test_a_due_rotation_happens_once_across_the_cluster(cluster):
    a0 = cluster.ali(0)
    key = tea(a0, "CreateKey", EnableAutomaticRotation=True, RotationInterval="604800s")["KeyMetadata"]["KeyId"]
    # Make it due now: every node's background pass (each second) sees it.
    psql(cluster.url, f"UPDATE keys SET next_rotation_at = 1, revision = revision + 1 WHERE id = '{key}'")
    eventually(lambda: tea(a0, "ListKeyVersions", KeyId=key)["TotalCount"] >= 2, bound=10)
    time.sleep(3)  # three more passes on each node
    assert tea(a0, "ListKeyVersions", KeyId=key)["TotalCount"] == 2
    assert sum(n.log().count("rotated key on schedule") for n in cluster.nodes) == 1


def test_a_due_deletion_happens_once_across_the_cluster(cluster):
    tc = cluster.tc(0)
    key = create_key(tc)
    call(tc, "DisableKey", KeyId=key)
    call(tc, "ScheduleKeyDeletion", KeyId=key, PendingWindowInDays=7)
    psql(cluster.url, f"UPDATE keys SET deletion_date = 1, revision = revision + 1 WHERE id = '{key}'")
    eventually(lambda: psql(cluster.url, f"SELECT count(*) FROM keys WHERE id = '{key}'") == "0", bound=10)
    for n in cluster.nodes:
        assert "deleting a due key failed" not in n.log()
        eventually(lambda n=n: tc_code(lambda: call(tencent_client(n.endpoint), "DescribeKey", KeyId=key))
                   == "ResourceUnavailable.CmkNotFound")
    deleted = [line for n in cluster.nodes for line in n.log().splitlines()
               if "deleted key at the end" in line and key in line]
    assert len(deleted) == 1, deleted


def test_the_same_alias_at_the_same_moment_on_two_nodes_one_wins(cluster):
    alias = uid("race")
    clients = [cluster.tc(0), cluster.tc(1)]
    barrier = threading.Barrier(2)

    def make(c):
        barrier.wait()
        return tc_code(lambda: call(c, "CreateKey", Alias=alias))

    with ThreadPoolExecutor(2) as ex:
        codes = list(ex.map(make, clients))
    assert sorted(codes, key=str) == sorted([None, "InvalidParameterValue.AliasAlreadyExists"], key=str), codes


def test_the_same_data_key_name_at_the_same_moment_on_two_nodes_one_wins(cluster):
    key = create_key(cluster.tc(0))
    name = uid("dk")
    clients = [cluster.tc(1), cluster.tc(2)]
    barrier = threading.Barrier(2)

    def make(c):
        barrier.wait()
        return tc_code(lambda: call(c, "ImportDataKey", DataKeyName=name, KeyId=key, ImportType=2,
                                    ImportKeyMaterial=b64(b"k" * 32)))

    with ThreadPoolExecutor(2) as ex:
        codes = list(ex.map(make, clients))
    assert sorted(codes, key=str) == sorted([None, "InvalidParameterValue.DataKeyNameAlreadyExists"], key=str), codes


def test_an_access_key_revoked_with_admin_stops_on_every_node_within_the_bound(cluster):
    out = cluster.admin("create-access-key", "--account",
                        psql(cluster.url, "SELECT id FROM accounts ORDER BY id LIMIT 1"))
    sid = out.split("AccessKeyId=")[1].split()[0]
    skey = out.split("AccessKeySecret=")[1].split()[0]
    clients = [tencent_client(n.endpoint, secret_id=sid, secret_key=skey) for n in cluster.nodes]
    for c in clients:  # cached on every node (for 60 s)
        call(c, "ListKeys")
    cluster.admin("revoke-access-key", sid)
    for c in clients:
        eventually(lambda c=c: tc_code(lambda: call(c, "DescribeKeys", KeyIds=[str(uuid.uuid4())]))
                   == "AuthFailure.SecretIdNotFound")


def _burst(clients, n: int) -> int:
    """N GetRegions spread over CLIENTS at once; answers how many were let through."""
    def one(i):
        code = tc_code(lambda: call(clients[i % len(clients)], RATE_LIMITED_ACTION))
        assert code in (None, "RequestLimitExceeded"), code
        return code is None

    with ThreadPoolExecutor(12) as ex:
        return sum(ex.map(one, range(n)))


def test_rate_limits_hold_across_the_cluster(cluster):
    assert psql(cluster.url, "SELECT count(*) FROM nodes WHERE alive_until >= extract(epoch from now())") == "3"
    clients = [cluster.tc(i) for i in range(3)]
    time.sleep(1.1)
    let_through = _burst(clients, 120)
    # Each node lets through its third of 30 per second of its own; a burst over up to two of
    # each node's windows passes at most 2 x 30 (unshared: every one of the 120).
    assert 10 <= let_through <= 60, let_through


def test_no_rate_limit_still_lets_everything_through(cluster):
    free = cluster.node("free", extra_args=["--no-rate-limit"]).start()
    try:
        assert _burst([tencent_client(free.endpoint)], 120) == 120
    finally:
        free.stop()
