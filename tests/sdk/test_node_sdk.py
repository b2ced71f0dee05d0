"""The official Tencent Cloud Node.js SDK (tencentcloud-sdk-nodejs, pinned in tests/node/package.json)
against ferrokms, unchanged.

tests/node/node_modules must have been installed beforehand with `npm ci --prefix tests/node`
(the test runner does this). A missing node or node_modules is a failure, never a skip.

What the pinned SDK sends (see tests/node/smoke.mjs header and test_node_sdk_signing_shape):
`Host: 127.0.0.1:PORT`, but the signature covers `host:127.0.0.1` (no port); `content-type` is
signed as `application/json`; the credential scope's service is `127` (first dot-label of the
endpoint), not `kms`.
"""
from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SDK_DIR = NODE_DIR / "node_modules" / "tencentcloud-sdk-nodejs"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` is not on PATH: the Node.js SDK tests need Node.js >= 18")
    return node


def _require_node_modules() -> None:
    if not (SDK_DIR / "package.json").exists():
        pytest.fail(
            f"{SDK_DIR} is missing: run `npm ci --prefix {NODE_DIR.relative_to(NODE_DIR.parents[1])}` "
            "before the tests (the Node SDK test must not be skipped)"
        )
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]["tencentcloud-sdk-nodejs"]
    installed = json.loads((SDK_DIR / "package.json").read_text())["version"]
    if installed != pinned:
        pytest.fail(f"node_modules has tencentcloud-sdk-nodejs {installed}, package.json pins {pinned}: rerun npm ci")


def _env(endpoint: str, secret_key: str = ACCESS_KEY_SECRET) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(
        FERROKMS_ENDPOINT=endpoint,
        FERROKMS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        FERROKMS_ACCESS_KEY_SECRET=secret_key,
        FERROKMS_REGION=REGION,
    )
    return env


def test_node_sdk_smoke(server):
    """CreateKey, DescribeKey, GenerateDataKey, Encrypt, Decrypt, CmkNotFound and a bad signature."""
    node = _node()
    _require_node_modules()
    proc = subprocess.run(
        [node, "smoke.mjs"], cwd=NODE_DIR, env=_env(server.endpoint),
        capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "SMOKE OK" in proc.stdout, (
        f"node smoke.mjs exited {proc.returncode}:\n{out}\n--- server log tail ---\n{server.log()[-3000:]}"
    )
    assert "FAIL" not in proc.stdout, out


def test_node_smoke_fails_against_wrong_secret(server):
    """The smoke script itself must be able to fail: with a wrong SecretKey every call is refused."""
    node = _node()
    _require_node_modules()
    proc = subprocess.run(
        [node, "smoke.mjs"], cwd=NODE_DIR, env=_env(server.endpoint, secret_key="not-the-secret"),
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "AuthFailure" in proc.stdout, proc.stdout


class _Capture(http.server.BaseHTTPRequestHandler):
    captured: list = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.captured.append((dict(self.headers.items()), body))
        out = json.dumps({"Response": {"Error": {"Code": "ResourceUnavailable.CmkNotFound", "Message": "x"},
                                       "RequestId": "00000000-0000-0000-0000-000000000000"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):  # silence
        pass


def _tc3(secret_key: str, ts: str, date: str, service: str, host: str, content_type: str, body: bytes) -> str:
    canonical = "\n".join([
        "POST", "/", "", f"content-type:{content_type}\nhost:{host}\n", "content-type;host",
        hashlib.sha256(body).hexdigest(),
    ])
    sts = "\n".join(["TC3-HMAC-SHA256", ts, f"{date}/{service}/tc3_request",
                     hashlib.sha256(canonical.encode()).hexdigest()])

    def h(k: bytes, m: str) -> bytes:
        return hmac.new(k, m.encode(), hashlib.sha256).digest()

    k = h(h(h(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


def test_node_sdk_signing_shape():
    """Pins what the installed SDK signs, so a version bump that changes it is noticed.

    Captured with a local HTTP listener (no ferrokms involved)."""
    node = _node()
    _require_node_modules()
    _Capture.captured = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Capture)
    port = httpd.server_address[1]
    t = threading.Thread(target=httpd.handle_request, daemon=True)
    t.start()
    script = (
        "import t from 'tencentcloud-sdk-nodejs';"
        "const c = new t.kms.v20190118.Client({credential:{secretId:process.env.FERROKMS_ACCESS_KEY_ID,"
        "secretKey:process.env.FERROKMS_ACCESS_KEY_SECRET}, region:'ap-guangzhou',"
        "profile:{httpProfile:{protocol:'http://', endpoint:process.env.FERROKMS_ENDPOINT}}});"
        "try { await c.DescribeKey({KeyId:'11111111-2222-3333-4444-555555555555'}); process.exit(3); }"
        "catch (e) { console.log(e.code); }"
    )
    proc = subprocess.run([node, "--input-type=module", "-e", script], cwd=NODE_DIR,
                          env=_env(f"127.0.0.1:{port}"), capture_output=True, text=True, timeout=60)
    t.join(10)
    httpd.server_close()
    assert proc.returncode == 0 and "ResourceUnavailable.CmkNotFound" in proc.stdout, proc.stdout + proc.stderr
    assert len(_Capture.captured) == 1
    headers, body = _Capture.captured[0]
    assert headers["Host"] == f"127.0.0.1:{port}"
    assert headers["Content-Type"] == "application/json"
    assert body == b'{"KeyId":"11111111-2222-3333-4444-555555555555"}'
    auth = headers["Authorization"]
    ts = headers["X-TC-Timestamp"]
    cred = auth.split("Credential=")[1].split(",")[0]
    sid, date, service, term = cred.split("/")
    assert (sid, service, term) == (ACCESS_KEY_ID, "127", "tc3_request"), auth
    assert "SignedHeaders=content-type;host," in auth
    sig = auth.split("Signature=")[1]
    expected = _tc3(ACCESS_KEY_SECRET, ts, date, "127", "127.0.0.1", "application/json", body)
    assert sig == expected, "the SDK no longer signs host-without-port with service 127"
    assert sig != _tc3(ACCESS_KEY_SECRET, ts, date, "127", f"127.0.0.1:{port}", "application/json", body)
