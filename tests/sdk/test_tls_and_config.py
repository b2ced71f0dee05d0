"""TLS, the configuration file, the admin CLI and the first start's dev credentials.

The TLS server and the first-start server are started by ServerProc below, not by
conftest.Server: that one polls /healthz over plain http, and the first start must run without
FERROKMS_ACCESS_KEY_ID/SECRET in the environment.
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, BIN, REGION, server_env, store_args, tencent_client
from kmsutil import call, call_error, create_key, decrypt, describe, encrypt, list_all_keys, unb64
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.kms.v20190118 import kms_client

LISTEN_RE = re.compile(r"listening on (https?)://127\.0\.0\.1:(\d+)")


# ------------------------------------------------------------------ helpers

class ServerProc:
    """ferrokms serve, stdout and stderr in separate files; waits for /healthz over http or https."""

    def __init__(self, base: Path, data_dir: Path, config: str | None = None, env: dict | None = None,
                 extra_args: list[str] | None = None, cafile: Path | None = None):
        self.base = base
        self.data_dir = data_dir
        self.config = config
        self.env = env if env is not None else server_env()
        self.extra_args = extra_args or []
        self.cafile = cafile
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.scheme = ""
        self.runs = 0
        self.out_path = self.err_path = base

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def start(self) -> "ServerProc":
        self.runs += 1
        self.out_path = self.base / f"stdout.{self.runs}.log"
        self.err_path = self.base / f"stderr.{self.runs}.log"
        args = [str(BIN), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)]
        if self.config is not None:
            cfg = self.base / "ferrokms.toml"
            cfg.write_text(self.config)
            args += ["--config", str(cfg)]
        args += self.extra_args
        env = dict(self.env)
        env.setdefault("RUST_LOG", "info")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            self._check_alive()
            m = LISTEN_RE.search(self.stdout() + "\n" + self.stderr())
            if m:
                self.scheme, self.port = m.group(1), int(m.group(2))
                break
            time.sleep(0.05)
        else:
            raise RuntimeError(f"ferrokms did not report its address:\n{self.stdout()}\n{self.stderr()}")
        ctx = ssl.create_default_context(cafile=str(self.cafile)) if self.scheme == "https" else None
        while time.time() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(f"{self.scheme}://{self.endpoint}/healthz", timeout=2,
                                            context=ctx) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"ferrokms /healthz did not answer 200 over {self.scheme}")

    def _check_alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"ferrokms exited early ({self.proc.returncode}):\n{self.stdout()}\n{self.stderr()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def procs(tmp_path):
    """Factory for ServerProc in a fresh directory; every one is stopped after the test."""
    started: list[ServerProc] = []

    def make(**kw) -> ServerProc:
        if not BIN.exists():
            pytest.fail(f"ferrokms binary not found at {BIN}")
        base = tmp_path / f"srv{len(started)}"
        base.mkdir()
        p = ServerProc(base, base / "data", **kw)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def run_bin(*args: str, env: dict | None = None, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run the binary to completion; a process that does not exit in time fails the test."""
    cmd = [str(BIN), *args]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=env or server_env(), timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(cmd)} did not exit within {timeout}s:\n{e.stdout}\n{e.stderr}")


def admin(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_bin("admin", "--data-dir", str(data_dir), *args)


def admin_ok(data_dir: Path, *args: str) -> str:
    p = admin(data_dir, *args)
    assert p.returncode == 0, f"admin {args} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return p.stdout


def https_client(endpoint: str, cafile: Path | None, secret_id: str = ACCESS_KEY_ID,
                 secret_key: str = ACCESS_KEY_SECRET, protocol: str = "https"):
    hp = HttpProfile(protocol=protocol, endpoint=endpoint, reqTimeout=10)
    if cafile is not None:
        hp.certification = str(cafile)
    return kms_client.KmsClient(credential.Credential(secret_id, secret_key), REGION,
                                ClientProfile(httpProfile=hp))


def sdk_error(fn, *args, **kw) -> TencentCloudSDKException:
    try:
        result = fn(*args, **kw)
    except TencentCloudSDKException as e:
        return e
    pytest.fail(f"expected an SDK error, got {result}")


# ------------------------------------------------------------------ TLS

@pytest.fixture
def tls_cert(tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("the openssl CLI is required to make the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    p = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return cert, key


@pytest.fixture
def tls_server(procs, tls_cert):
    cert, key = tls_cert
    s = procs(config=f'[tls]\ncert = "{cert}"\nkey = "{key}"\n', cafile=cert).start()
    assert s.scheme == "https", f"server with [tls] announced {s.scheme}://:\n{s.stdout()}{s.stderr()}"
    return s, cert


def test_tls_sdk_round_trip(tls_server):
    s, cert = tls_server
    c = https_client(s.endpoint, cert)
    k = create_key(c)
    dk = call(c, "GenerateDataKey", KeyId=k, KeySpec="AES_256")
    pt = unb64(dk.Plaintext)
    assert len(pt) == 32
    assert unb64(call(c, "Decrypt", CiphertextBlob=dk.CiphertextBlob).Plaintext) == pt
    assert describe(c, k).KeyId == k


def test_tls_certificate_is_verified(tls_server):
    """Without the test CA the SDK's default trust store must reject the self-signed certificate."""
    s, _ = tls_server
    e = sdk_error(call, https_client(s.endpoint, None), "GenerateRandom", NumberOfBytes=8)
    assert e.code == "ClientNetworkError", (e.code, e.message)
    assert "certificate" in (e.message or "").lower() or "ssl" in (e.message or "").lower(), e.message


def test_plain_http_to_tls_port_fails(tls_server):
    s, cert = tls_server
    with pytest.raises((OSError, http.client.HTTPException)):
        with urllib.request.urlopen(f"http://{s.endpoint}/healthz", timeout=5) as r:
            pytest.fail(f"plain http to the TLS port answered {r.status}")
    e = sdk_error(call, https_client(s.endpoint, None, protocol="http"), "GenerateRandom", NumberOfBytes=8)
    assert e.code == "ClientNetworkError", (e.code, e.message)
    # the server is still up and serving TLS afterwards
    assert call(https_client(s.endpoint, cert), "GenerateRandom", NumberOfBytes=8).Plaintext


def _curl(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("curl") is None:
        pytest.fail("curl is required for the HTTP/2 check but is not installed")
    return subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", *args],
                          capture_output=True, text=True, timeout=30,
                          env={**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})


def test_tls_negotiates_http2_and_http1(tls_server):
    s, cert = tls_server
    p = _curl("--http2", "--cacert", str(cert), f"https://{s.endpoint}/healthz")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "2 200", f"curl --http2 got {p.stdout!r} (want HTTP/2, 200)"
    p = _curl("--http1.1", "--cacert", str(cert), f"https://{s.endpoint}/healthz")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "1.1 200", f"curl --http1.1 got {p.stdout!r}"


def test_tls_missing_cert_file_exits(tmp_path):
    p = run_bin("serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
                "--config", str(_write(tmp_path / "c.toml",
                                       f'[tls]\ncert = "{tmp_path}/nope.pem"\nkey = "{tmp_path}/nope.key"\n')))
    assert p.returncode != 0, f"serve with a missing certificate exited 0:\n{p.stdout}\n{p.stderr}"
    assert "nope" in p.stderr + p.stdout, f"message does not name the missing file:\n{p.stderr}"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------------ configuration

def test_unknown_config_key_exits(tmp_path):
    cfg = _write(tmp_path / "c.toml", "bogus = 1\n")
    p = run_bin("serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), "--config", str(cfg))
    assert p.returncode != 0, f"serve with `bogus = 1` exited 0:\n{p.stdout}\n{p.stderr}"
    assert "bogus" in p.stderr, f"message does not name the unknown key:\n{p.stderr}"
    assert "listening" not in p.stdout + p.stderr


def test_unknown_key_in_section_exits(tmp_path):
    cfg = _write(tmp_path / "c.toml", "[keys]\nsymetric_algorithm = \"SM4\"\n")
    p = run_bin("serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), "--config", str(cfg))
    assert p.returncode != 0, f"serve with a misspelt [keys] field exited 0:\n{p.stdout}\n{p.stderr}"
    assert "symetric_algorithm" in p.stderr, p.stderr


def test_invalid_symmetric_algorithm_exits(tmp_path):
    cfg = _write(tmp_path / "c.toml", '[keys]\nsymmetric_algorithm = "DES"\n')
    p = run_bin("serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), "--config", str(cfg))
    assert p.returncode != 0, f"serve with symmetric_algorithm = DES exited 0:\n{p.stdout}\n{p.stderr}"
    assert "symmetric_algorithm" in p.stderr and "DES" in p.stderr, p.stderr
    assert "listening" not in p.stdout + p.stderr


def test_sm4_symmetric_algorithm(make_server):
    s = make_server(config='[keys]\nsymmetric_algorithm = "SM4"\n', extra_args=["--no-rate-limit"]).start()
    c = tencent_client(s.endpoint)
    names = {a.Algorithm for a in (call(c, "ListAlgorithms").SymmetricAlgorithms or [])}
    assert names == {"SM4"}, f"ListAlgorithms with SM4 configured: {names}"
    k = create_key(c)
    assert describe(c, k).Type == 4, describe(c, k).to_json_string()
    blob = encrypt(c, k, b"sm4 plaintext", context='{"app":"t"}')
    assert decrypt(c, blob, context='{"app":"t"}') == b"sm4 plaintext"
    dk = call(c, "GenerateDataKey", KeyId=k, KeySpec="AES_128")
    assert decrypt(c, dk.CiphertextBlob) == unb64(dk.Plaintext)

    # Back on the default (AES_256) configuration, the SM4 key keeps its algorithm and its blobs.
    s.stop()
    s.config = None
    s.restart()
    c = tencent_client(s.endpoint)
    assert {a.Algorithm for a in call(c, "ListAlgorithms").SymmetricAlgorithms} == {"AES_256"}
    assert describe(c, k).Type == 4
    assert decrypt(c, blob, context='{"app":"t"}') == b"sm4 plaintext"
    assert decrypt(c, encrypt(c, k, b"again")) == b"again"
    assert describe(c, create_key(c)).Type == 2


def test_default_symmetric_algorithm_is_aes(server, kms):
    assert {a.Algorithm for a in call(kms, "ListAlgorithms").SymmetricAlgorithms} == {"AES_256"}
    assert describe(kms, create_key(kms)).Type == 2


RATE3 = "[rate_limits]\ndefault = 3\n"


def _burst_describe(c, key_id: str, n: int) -> list[str | None]:
    codes: list[str | None] = []
    for _ in range(n):
        try:
            call(c, "DescribeKey", KeyId=key_id)
            codes.append(None)
        except TencentCloudSDKException as e:
            codes.append(e.code)
    return codes


def test_rate_limit_default_three(make_server):
    s = make_server(config=RATE3).start()
    c = tencent_client(s.endpoint)
    k = create_key(c)
    time.sleep(1.1)
    codes = _burst_describe(c, k, 8)
    assert set(codes) <= {None, "RequestLimitExceeded"}, codes
    assert codes[:3] == [None, None, None], f"the first 3 DescribeKey calls must pass: {codes}"
    assert "RequestLimitExceeded" in codes, f"8 DescribeKey in a burst with default = 3: {codes}"
    assert codes.count(None) <= 6, codes  # a burst spans at most two one-second windows
    time.sleep(1.1)
    assert describe(c, k).KeyId == k, "the quota did not refill after a second"


def test_no_rate_limit_flag_overrides_config(make_server):
    s = make_server(config=RATE3, extra_args=["--no-rate-limit"]).start()
    c = tencent_client(s.endpoint)
    k = create_key(c)
    codes = _burst_describe(c, k, 15)
    assert codes == [None] * 15, codes


# ------------------------------------------------------------------ admin CLI

def test_admin_nonexistent_data_dir(tmp_path):
    missing = tmp_path / "no-such-dir"
    p = admin(missing, "list-accounts")
    assert p.returncode != 0, f"list-accounts on a missing data dir exited 0:\n{p.stdout}"
    assert str(missing) in p.stderr, f"message does not name the directory:\n{p.stderr}"
    assert not missing.exists(), "admin created the data directory"


def test_admin_accounts_and_access_keys_on_running_server(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    c1 = tencent_client(s.endpoint)
    k1 = create_key(c1)

    out = admin_ok(s.data_dir, *store_args(s), "create-account")
    m = re.search(r"AccountId=(\d+)", out)
    assert m, f"create-account output: {out!r}"
    account = m.group(1)
    assert account in admin_ok(s.data_dir, *store_args(s), "list-accounts")

    out = admin_ok(s.data_dir, *store_args(s), "create-access-key", "--account", account)
    sid = re.search(r"^AccessKeyId=(\S+)$", out, re.M)
    skey = re.search(r"^AccessKeySecret=(\S+)$", out, re.M)
    assert sid and skey, f"create-access-key output: {out!r}"
    sid, skey = sid.group(1), skey.group(1)

    listed = admin_ok(s.data_dir, *store_args(s), "list-access-keys")
    line = next((ln for ln in listed.splitlines() if sid in ln), None)
    assert line is not None, f"{sid} not in list-access-keys:\n{listed}"
    assert account in line and "active" in line, line
    assert skey not in listed, "list-access-keys shows the secret"

    # the new credentials work against the running server, in their own account
    c2 = tencent_client(s.endpoint, secret_id=sid, secret_key=skey)
    k2 = create_key(c2)
    assert describe(c2, k2).KeyId == k2
    call_error(c2, "DescribeKey", "ResourceUnavailable.CmkNotFound", KeyId=k1)
    call_error(c1, "DescribeKey", "ResourceUnavailable.CmkNotFound", KeyId=k2)
    assert k1 not in list_all_keys(c2) and k2 in list_all_keys(c2)
    assert k2 not in list_all_keys(c1)

    # revocation reaches the running server within ~1.5 s, even while the key keeps being used
    admin_ok(s.data_dir, *store_args(s), "revoke-access-key", sid)
    revoked_at = time.time()
    line = next(ln for ln in admin_ok(s.data_dir, *store_args(s), "list-access-keys").splitlines() if sid in ln)
    assert "revoked" in line, line
    last: str | None = None
    while time.time() - revoked_at < 1.5:
        try:
            call(c2, "GenerateRandom", NumberOfBytes=8)
            last = None
        except TencentCloudSDKException as e:
            last = e.code
            break
        time.sleep(0.1)
    assert last == "AuthFailure.SecretIdNotFound", \
        f"revoked key still accepted {time.time() - revoked_at:.2f}s after revoke (last error {last})"
    call_error(c2, "DescribeKey", "AuthFailure.SecretIdNotFound", KeyId=k2)
    assert describe(c1, k1).KeyId == k1  # the first account is untouched

    p = admin(s.data_dir, *store_args(s), "revoke-access-key", "AKIDdoesNotExist0000000000000000")
    assert p.returncode != 0, f"revoke of an unknown id exited 0:\n{p.stdout}\n{p.stderr}"
    assert "AKIDdoesNotExist0000000000000000" in p.stderr, p.stderr


def test_admin_create_access_key_unknown_account(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    p = admin(s.data_dir, *store_args(s), "create-access-key", "--account", "999999")
    assert p.returncode != 0, f"create-access-key for a missing account exited 0:\n{p.stdout}"
    assert "999999" in p.stderr, p.stderr
    assert "AccessKeySecret" not in p.stdout


# ------------------------------------------------------------------ first start

def _env_without_credentials() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FERROKMS_ACCESS_KEY_ID", None)
    env.pop("FERROKMS_ACCESS_KEY_SECRET", None)
    return env


def test_first_start_prints_dev_credentials_once(procs):
    s = procs(env=_env_without_credentials(), extra_args=["--no-rate-limit"]).start()
    out = s.stdout()
    sid = re.search(r"SecretId[^:\n]*:\s*(AKID\S+)", out)
    skey = re.search(r"SecretKey[^:\n]*:\s*(\S+)", out)
    assert sid and skey, f"first start did not print the credentials on stdout:\n{out}"
    sid, skey = sid.group(1), skey.group(1)
    assert len(skey) >= 16, skey
    assert (out + s.stderr()).count(skey) == 1, "the secret is printed more than once"
    assert skey not in s.stderr(), "the secret went to the log (stderr)"

    c = tencent_client(s.endpoint, secret_id=sid, secret_key=skey)
    k = create_key(c)
    assert decrypt(c, encrypt(c, k, b"dev")) == b"dev"

    s.stop()
    s.start()
    both = s.stdout() + s.stderr()
    assert skey not in both, "restart printed the secret again"
    assert not re.search(r"SecretKey|AccessKeySecret", both), f"restart printed credentials:\n{both}"
    # same credentials, same key, after the restart
    c = tencent_client(s.endpoint, secret_id=sid, secret_key=skey)
    assert describe(c, k).KeyId == k
    call_error(tencent_client(s.endpoint, secret_id=sid, secret_key=skey[:-1] + ("A" if skey[-1] != "A" else "B")),
               "GenerateRandom", "AuthFailure.SignatureFailure", NumberOfBytes=8)


def test_refuses_to_initialise_over_existing_keys(tmp_path):
    """A data directory with root.key or a database but no ferrokms.json is someone's keys:
    the server must not create a new root key over them."""
    import subprocess
    from conftest import BIN
    for leftover in ["root.key", "ferrokms.db"]:
        d = tmp_path / leftover.replace(".", "-")
        d.mkdir()
        (d / leftover).write_bytes(b"precious")
        r = subprocess.run([str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(d)],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0
        assert "refusing" in r.stderr and leftover in r.stderr
        assert (d / leftover).read_bytes() == b"precious"
        assert not (d / "ferrokms.json").exists()
