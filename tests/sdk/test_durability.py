"""Crash durability: whatever ferrokms answered before a SIGKILL is there after a restart.

Each test runs its own server (make_server, --no-rate-limit, manual rotation allowed at any time)
and kills it with SIGKILL between a write and the read-back, so nothing can be flushed on the way
out: a response the client received must mean the write is on disk.
"""
from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from conftest import Server, tencent_client
from interop_helpers import b64d, b64e, call, create_cmk

ROUNDS = 15
CONFIG = "[rotation]\nmin_manual_interval_secs = 0\n"


@pytest.fixture
def srv(make_server) -> Server:
    return make_server(extra_args=["--no-rate-limit"], config=CONFIG).start()


def crash_and_restart(s: Server):
    """SIGKILL, start again on the same data dir and port; a fresh client (no stale keep-alive)."""
    s.kill9()
    s.restart()
    return tencent_client(s.endpoint)


def _decrypt(c, blob: str, **kw) -> bytes:
    return b64d(call(c, "Decrypt", CiphertextBlob=blob, **kw).Plaintext)


def test_graceful_restart_baseline(srv):
    """SIGTERM + restart keeps a key and its blobs (the easy case; the SIGKILL tests build on it)."""
    c = tencent_client(srv.endpoint)
    k = create_cmk(c)
    blob = call(c, "Encrypt", KeyId=k, Plaintext=b64e(b"graceful")).CiphertextBlob
    srv.stop()
    srv.restart()
    c = tencent_client(srv.endpoint)
    assert call(c, "DescribeKey", KeyId=k).KeyMetadata.KeyState == "Enabled"
    assert _decrypt(c, blob) == b"graceful"


def test_create_key_survives_sigkill(srv):
    c = tencent_client(srv.endpoint)
    made: list[tuple[str, str, str, bytes]] = []  # key, alias, blob, plaintext
    for i in range(ROUNDS):
        alias = f"dur-{i}-{uuid.uuid4().hex[:8]}"
        k = create_cmk(c, Alias=alias, Description=f"round {i}")
        pt = f"before the crash {i} ".encode() + os.urandom(8)
        ctx = '{"round":"%d"}' % i
        blob = call(c, "Encrypt", KeyId=k, Plaintext=b64e(pt), EncryptionContext=ctx).CiphertextBlob
        made.append((k, alias, blob, pt))
        c = crash_and_restart(srv)
        md = call(c, "DescribeKey", KeyId=k).KeyMetadata
        assert (md.KeyId, md.Alias, md.KeyState, md.Description) == (k, alias, "Enabled", f"round {i}"), \
            f"round {i}: {md.to_json_string()}"
        assert _decrypt(c, blob, EncryptionContext=ctx) == pt, f"round {i}"
    # everything from every round is still there after the last crash
    for i, (k, alias, blob, pt) in enumerate(made):
        assert call(c, "DescribeKey", KeyId=k).KeyMetadata.Alias == alias
        assert _decrypt(c, blob, EncryptionContext='{"round":"%d"}' % i) == pt


def test_hosted_data_key_survives_sigkill(srv):
    c = tencent_client(srv.endpoint)
    k = create_cmk(c)
    made: list[tuple[str, str, bytes, str]] = []
    for i in range(ROUNDS):
        name = f"dur-dk-{i}-{uuid.uuid4().hex[:8]}"
        n = 16 + i
        r = call(c, "GenerateDataKey", KeyId=k, NumberOfBytes=n, IsHostedByKms=1, DataKeyName=name,
                 Description=f"dk {i}")
        assert r.DataKeyId, r.to_json_string()
        pt = b64d(r.Plaintext)
        assert len(pt) == n
        made.append((r.DataKeyId, name, pt, r.CiphertextBlob))
        c = crash_and_restart(srv)
        md = call(c, "DescribeDataKey", DataKeyId=r.DataKeyId).DataKeyMetadata
        assert md is not None, f"round {i}: DescribeDataKey returned no metadata"
        assert (md.DataKeyId, md.DataKeyName, md.KeyId, md.NumberOfBytes, md.KeyState) == \
            (r.DataKeyId, name, k, n, "Enabled"), f"round {i}: {md.to_json_string()}"
        assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=r.DataKeyId).Plaintext) == pt, f"round {i}"
        assert _decrypt(c, r.CiphertextBlob) == pt
    for dk_id, name, pt, blob in made:
        assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=dk_id).Plaintext) == pt
        assert call(c, "DescribeDataKey", DataKeyId=dk_id).DataKeyMetadata.DataKeyName == name


def test_rotation_survives_sigkill(srv):
    """A veteran key rotated every round: all versions' blobs keep decrypting, the rotation is
    visible in DescribeKey after the crash, and ReEncrypt moves an old blob to the new version."""
    c = tencent_client(srv.endpoint)
    k = create_cmk(c)
    blobs: list[tuple[str, bytes]] = []
    last_rotate = 0
    for i in range(ROUNDS):
        pt_old = f"version {i} ".encode() + os.urandom(8)
        old_blob = call(c, "Encrypt", KeyId=k, Plaintext=b64e(pt_old)).CiphertextBlob
        blobs.append((old_blob, pt_old))
        before = call(c, "DescribeKey", KeyId=k).KeyMetadata
        r = call(c, "RotateKey", KeyId=k)
        assert r.RequestId
        c = crash_and_restart(srv)
        md = call(c, "DescribeKey", KeyId=k).KeyMetadata
        assert md.KeyState == "Enabled"
        assert md.LastRotateTime and md.LastRotateTime >= max(before.CreateTime or 0, last_rotate), \
            f"round {i}: rotation not visible after the crash: {md.to_json_string()}"
        last_rotate = md.LastRotateTime
        # the rotation was kept: an old-version blob is re-encrypted under the new version
        rr = call(c, "ReEncrypt", CiphertextBlob=old_blob)
        assert rr.ReEncrypted is True, f"round {i}: ReEncrypt of a pre-rotation blob says not re-encrypted"
        assert _decrypt(c, rr.CiphertextBlob) == pt_old
        # a new blob (new version) and every older one decrypt
        pt_new = f"after rotation {i}".encode()
        new_blob = call(c, "Encrypt", KeyId=k, Plaintext=b64e(pt_new)).CiphertextBlob
        assert _decrypt(c, new_blob) == pt_new
        for j, (b, p) in enumerate(blobs):
            assert _decrypt(c, b) == p, f"round {i}: blob of version {j} no longer decrypts"


def test_concurrent_hosted_generate_then_sigkill(srv):
    """Threads create hosted data keys while the server is SIGKILLed: every DataKeyId whose response
    arrived is describable and returns its plaintext after the restart; keys whose request was cut
    off are either absent or complete."""
    threads_n = 6
    for rnd in range(5):
        c = tencent_client(srv.endpoint)
        k = create_cmk(c)
        got: list[tuple[str, str, bytes]] = []
        inflight: set[str] = set()
        lock = threading.Lock()
        stop = threading.Event()

        def worker(t: int):
            cl = tencent_client(srv.endpoint)
            n = 0
            while not stop.is_set() and n < 2000:
                name = f"cc-{rnd}-{t}-{n}-{uuid.uuid4().hex[:6]}"
                n += 1
                with lock:
                    inflight.add(name)
                try:
                    r = call(cl, "GenerateDataKey", KeyId=k, KeySpec="AES_256", IsHostedByKms=1,
                             DataKeyName=name)
                except Exception:  # the server went away mid-request
                    return
                pt = b64d(r.Plaintext)
                with lock:
                    inflight.discard(name)
                    got.append((r.DataKeyId, name, pt))

        ts = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads_n)]
        for t in ts:
            t.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            with lock:
                if len(got) >= 40 + 20 * rnd:
                    break
            time.sleep(0.01)
        srv.kill9()
        stop.set()
        for t in ts:
            t.join(30)
        assert got, f"round {rnd}: no GenerateDataKey answered before the kill:\n{srv.log()[-2000:]}"
        srv.restart()
        c = tencent_client(srv.endpoint)
        for dk_id, name, pt in got:
            md = call(c, "DescribeDataKey", DataKeyId=dk_id).DataKeyMetadata
            assert md is not None and md.DataKeyName == name, f"round {rnd}: {dk_id} lost after SIGKILL"
            assert b64d(call(c, "GetDataKeyPlaintext", DataKeyId=dk_id).Plaintext) == pt
        # requests cut off by the kill: a name that exists must be a complete, usable data key
        for name in sorted(inflight):
            r = call(c, "ListDataKeyDetail", SearchKeyAlias=name, Limit=10)
            for md in r.DataKeyMetadatas or []:
                if md.DataKeyName != name:
                    continue
                g = call(c, "GetDataKeyPlaintext", DataKeyId=md.DataKeyId)
                assert len(b64d(g.Plaintext)) == 32, f"half-written data key {name}"
            # and the name is either taken (complete key above) or free
            try:
                call(c, "GenerateDataKey", KeyId=k, KeySpec="AES_256", IsHostedByKms=1, DataKeyName=name)
            except TencentCloudSDKException as e:
                assert e.code == "InvalidParameterValue.DataKeyNameAlreadyExists", (name, e.code, e.message)
                assert any(md.DataKeyName == name for md in (r.DataKeyMetadatas or [])), \
                    f"{name} is taken but not listed"


def test_alibaba_writes_survive_sigkill(make_server):
    """Through the Alibaba dialect: a key, its alias, a new version, a tag, deletion protection and
    a scheduled deletion that a response acknowledged are all there after a SIGKILL."""
    from alikms import tea, tea_client
    s = make_server(extra_args=["--no-rate-limit"], config="[rotation]\nmin_manual_interval_secs = 0\n").start()
    for i in range(5):
        ali = tea_client(s.endpoint)
        k = tea(ali, "CreateKey", Description=f"round {i}")["KeyMetadata"]["KeyId"]
        alias = f"alias/durable-{i}-{uuid.uuid4().hex[:8]}"
        tea(ali, "CreateAlias", AliasName=alias, KeyId=k)
        old = tea(ali, "Encrypt", KeyId=alias, Plaintext="before")["CiphertextBlob"]
        v2 = tea(ali, "CreateKeyVersion", KeyId=k)["KeyVersion"]["KeyVersionId"]
        tea(ali, "TagResource", KeyId=k, Tags='[{"TagKey":"round","TagValue":"%d"}]' % i)
        tea(ali, "SetDeletionProtection", KeyId=k, EnableDeletionProtection="true",
            DeletionProtectionDescription=f"keep {i}")
        doomed = tea(ali, "CreateKey")["KeyMetadata"]["KeyId"]
        tea(ali, "ScheduleKeyDeletion", KeyId=doomed, PendingWindowInDays=7)
        crash_and_restart(s)
        ali = tea_client(s.endpoint)
        md = tea(ali, "DescribeKey", KeyId=alias)["KeyMetadata"]
        assert md["KeyId"] == k and md["PrimaryKeyVersion"] == v2
        assert (md["DeletionProtection"], md["DeletionProtectionDescription"]) == ("Enabled", f"keep {i}")
        assert tea(ali, "Decrypt", CiphertextBlob=old)["Plaintext"] == "before"
        tags = tea(ali, "ListResourceTags", KeyId=k)["Tags"]["Tag"]
        assert [(t["TagKey"], t["TagValue"]) for t in tags] == [("round", str(i))]
        assert tea(ali, "DescribeKey", KeyId=doomed)["KeyMetadata"]["KeyState"] == "PendingDeletion"
