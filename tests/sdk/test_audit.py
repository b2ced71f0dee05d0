"""The audit log through the real server and both official SDKs: one record per request, allowed
or refused, with its fields and nothing secret; `ferrokms audit verify` passes, and names the file,
line and record of an edited, removed, swapped or inserted record; a log that cannot be written
refuses the requests (fail closed), and the opt-outs answer."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from alikms import tea, tea_client, tea_exc_to_err
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, BIN, tencent_client
from kmsutil import call, uid

WRONG_SECRET = "wrongSecretKey-audit-0000000000001"
PLAINTEXT = b"audit-test-plaintext-never-logged-7f3a"


def records(audit_dir: Path) -> list[tuple[str, int, dict]]:
    """(file name, line number, record) of every line of every audit file, in order."""
    out = []
    for f in sorted(audit_dir.glob("audit-*.jsonl")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            out.append((f.name, n, json.loads(line)))
    return out


def verify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), "audit", "verify", *args], capture_output=True, text=True, timeout=60)


def tc_call(client, action, **fields):
    """(request id, code, response or None) of a Tencent call, which may fail."""
    try:
        r = call(client, action, **fields)
        return r.RequestId, "OK", r
    except TencentCloudSDKException as e:
        return e.requestId, e.code, None


def ali_call(client, action, **params):
    """(request id, code, body or None) of an Alibaba call, which may fail (one request either way)."""
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

    try:
        body = tea(client, action, **params)
        return body["RequestId"], "OK", body
    except AlibabaCloudException as e:
        err = tea_exc_to_err(e)
        return err.request_id, err.code, None


@pytest.fixture
def audited(make_server):
    return make_server(extra_args=["--no-rate-limit"]).start()


def test_one_record_per_request_with_its_fields_and_no_secret_then_tampering_is_named(audited, tmp_path):
    tc = tencent_client(audited.endpoint)
    tc_bad = tencent_client(audited.endpoint, secret_key=WRONG_SECRET)
    ali = tea_client(audited.endpoint)
    ali_bad = tea_client(audited.endpoint, secret=WRONG_SECRET)
    expected = []  # (request id, dialect, action, code, key id or None, authenticated)
    secrets = [ACCESS_KEY_SECRET, WRONG_SECRET, base64.b64encode(PLAINTEXT).decode(), PLAINTEXT.decode()]

    rid, code, r = tc_call(tc, "CreateKey", Alias=uid("audit"))
    key = r.KeyId
    expected.append((rid, "tencent", "CreateKey", "OK", key, True))
    rid, code, r = tc_call(tc, "GenerateDataKey", KeyId=key, KeySpec="AES_256")
    secrets.append(r.Plaintext)
    expected.append((rid, "tencent", "GenerateDataKey", "OK", key, True))
    rid, code, r = tc_call(tc, "Encrypt", KeyId=key, Plaintext=base64.b64encode(PLAINTEXT).decode())
    blob = r.CiphertextBlob
    expected.append((rid, "tencent", "Encrypt", "OK", key, True))
    rid, code, r = tc_call(tc, "Decrypt", CiphertextBlob=blob)
    expected.append((rid, "tencent", "Decrypt", "OK", key, True))
    unknown = str(uuid.uuid4())
    rid, code, _ = tc_call(tc, "DescribeKey", KeyId=unknown)
    assert code.startswith("ResourceUnavailable") or code.startswith("ResourceNotFound"), code
    expected.append((rid, "tencent", "DescribeKey", code, unknown, True))
    rid, code, _ = tc_call(tc_bad, "GenerateDataKey", KeyId=key, KeySpec="AES_256")
    assert code == "AuthFailure.SignatureFailure", code
    expected.append((rid, "tencent", "GenerateDataKey", code, key, False))

    rid, code, body = ali_call(ali, "CreateKey")
    akey = body["KeyMetadata"]["KeyId"]
    expected.append((rid, "alibaba", "CreateKey", "OK", akey, True))
    rid, code, body = ali_call(ali, "GenerateDataKey", KeyId=akey, KeySpec="AES_256")
    secrets.append(body["Plaintext"])
    expected.append((rid, "alibaba", "GenerateDataKey", "OK", akey, True))
    rid, code, body = ali_call(ali, "Encrypt", KeyId=akey, Plaintext=base64.b64encode(PLAINTEXT).decode())
    ablob = body["CiphertextBlob"]
    expected.append((rid, "alibaba", "Encrypt", "OK", akey, True))
    rid, code, body = ali_call(ali, "Decrypt", CiphertextBlob=ablob)
    expected.append((rid, "alibaba", "Decrypt", "OK", akey, True))
    rid, code, _ = ali_call(ali, "DescribeKey", KeyId=unknown)
    assert code == "Forbidden.KeyNotFound", code
    expected.append((rid, "alibaba", "DescribeKey", code, unknown, True))
    rid, code, _ = ali_call(ali_bad, "GenerateDataKey", KeyId=akey, KeySpec="AES_256")
    assert code == "SignatureDoesNotMatch", code
    expected.append((rid, "alibaba", "GenerateDataKey", code, akey, False))

    audited.stop()  # a clean stop signs the tail with a checkpoint
    audit_dir = audited.data_dir / "audit"
    all_records = records(audit_dir)
    requests = [r for _, _, r in all_records if r["kind"] == "request"]
    assert len(requests) == len(expected), [r["action"] for r in requests]
    by_id = {r["request_id"]: r for r in requests}
    assert len(by_id) == len(requests), "a request id recorded twice"
    for rid, dialect, action, code, key_id, authenticated in expected:
        r = by_id[rid]
        assert (r["dialect"], r["action"], r["code"]) == (dialect, action, code), r
        assert r["key_id"] == key_id, r
        assert r["access_key_id"] == ACCESS_KEY_ID, r
        assert (r["account"] is not None) == authenticated, r
        assert r["source"].startswith("127.0.0.1:"), r
        assert r["latency_us"] >= 0 and r["time"].endswith("Z"), r
        assert (r["status"] == 200) == (dialect == "tencent" or code == "OK"), r
    assert by_id[expected[1][0]]["key_version"] == "1"
    raw = "".join(f.read_text() for f in audit_dir.glob("*"))
    for s in secrets:
        assert s not in raw, f"a secret is in the audit files: {s[:8]}..."
    assert not list(audit_dir.glob("*.sealed"))[0].read_text().count("PRIVATE")

    ok = verify("--data-dir", str(audited.data_dir))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ": OK" in ok.stdout and "0 records after it not yet signed" in ok.stdout, ok.stdout

    name, _, _ = all_records[0]
    lines = (audit_dir / name).read_text().splitlines(keepends=True)
    assert len(lines) >= 8

    def tampered(label, change):
        copy = tmp_path / label
        shutil.copytree(audit_dir, copy)
        ls = list(lines)
        change(ls)
        (copy / name).write_text("".join(ls))
        p = verify("--dir", str(copy))
        assert p.returncode != 0, f"{label}: verify passed:\n{p.stdout}"
        assert "does not verify" in p.stderr, p.stderr
        return p.stdout

    out = tampered("edit", lambda ls: ls.__setitem__(3, ls[3].replace('"code":"OK"', '"code":"XX"')))
    assert f"{name}:4: record 4: " in out and "edited" in out, out

    def remove(ls):
        del ls[3]

    out = tampered("remove", remove)
    assert f"{name}:4: record 5: expected record 4 here: records 4 to 4 are missing" in out, out

    def swap(ls):
        ls[3], ls[4] = ls[4], ls[3]

    out = tampered("swap", swap)
    assert f"{name}:4: record 5: expected record 4" in out and f"{name}:5: record 4: " in out, out

    def insert(ls):
        forged = json.loads(ls[2])
        forged["request_id"] = "forged"
        ls.insert(5, json.dumps(forged, separators=(",", ":")) + "\n")

    out = tampered("insert", insert)
    assert f"{name}:6: record 3: " in out, out


def gdk(tc, ali, tkey, akey):
    """A GenerateDataKey through each dialect: (Tencent code, (Alibaba status, code))."""
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

    _, tcode, _ = tc_call(tc, "GenerateDataKey", KeyId=tkey, KeySpec="AES_256")
    try:
        tea(ali, "GenerateDataKey", KeyId=akey, KeySpec="AES_256")
        return tcode, (200, "OK")
    except AlibabaCloudException as e:
        err = tea_exc_to_err(e)
        return tcode, (err.status, err.code)


def break_audit_dir(data_dir: Path) -> Path:
    """Replaces the audit directory by a file (root ignores permissions; this stops root too)."""
    audit, moved = data_dir / "audit", data_dir / "audit.moved"
    audit.rename(moved)
    audit.write_text("not a directory")
    return moved


def restore_audit_dir(data_dir: Path, moved: Path) -> None:
    (data_dir / "audit").unlink()
    moved.rename(data_dir / "audit")


def test_fail_closed_when_the_audit_log_cannot_be_written(make_server):
    # One file per batch, so every write must create a file in the directory.
    s = make_server(extra_args=["--no-rate-limit"], config="[audit]\nmax_file_bytes = 1\n").start()
    tc, ali = tencent_client(s.endpoint), tea_client(s.endpoint)
    tkey = call(tc, "CreateKey", Alias=uid("fc")).KeyId
    akey = tea(ali, "CreateKey")["KeyMetadata"]["KeyId"]
    assert gdk(tc, ali, tkey, akey) == ("OK", (200, "OK"))
    moved = break_audit_dir(s.data_dir)
    for _ in range(3):
        assert gdk(tc, ali, tkey, akey) == ("InternalError", (503, "ServiceUnavailableTemporary"))
    _, code, _ = tc_call(tc, "CreateKey", Alias=uid("fc"))
    assert code == "InternalError"
    assert "audit write failed" in s.log()
    restore_audit_dir(s.data_dir, moved)
    # The first request after finds the log writable again (it is itself refused: refused
    # before it ran, while the log was known broken); then requests are answered.
    gdk(tc, ali, tkey, akey)
    assert gdk(tc, ali, tkey, akey) == ("OK", (200, "OK"))
    s.stop()
    p = verify("--data-dir", str(s.data_dir))
    assert p.returncode == 0, p.stdout + p.stderr
    codes = [r["code"] for _, _, r in records(s.data_dir / "audit") if r["kind"] == "request"]
    # Recorded: the requests before and after, and those refused before they ran (the ones
    # refused for want of a record have none, by definition).
    assert codes[:4] == ["OK"] * 4 and "InternalError" in codes and codes[-2:] == ["OK", "OK"], codes


def test_opt_outs_answer_without_a_record(make_server):
    off = make_server(extra_args=["--no-rate-limit"], config="[audit]\nenabled = false\n").start()
    tc = tencent_client(off.endpoint)
    call(tc, "CreateKey", Alias=uid("off"))
    assert not (off.data_dir / "audit").exists()
    assert "audit log is disabled" in off.log()

    s = make_server(extra_args=["--no-rate-limit"],
                    config="[audit]\nmax_file_bytes = 1\nfail_closed = false\n").start()
    tc, ali = tencent_client(s.endpoint), tea_client(s.endpoint)
    tkey = call(tc, "CreateKey", Alias=uid("open")).KeyId
    akey = tea(ali, "CreateKey")["KeyMetadata"]["KeyId"]
    break_audit_dir(s.data_dir)
    assert gdk(tc, ali, tkey, akey) == ("OK", (200, "OK"))
    assert "answered without an audit record" in s.log()
