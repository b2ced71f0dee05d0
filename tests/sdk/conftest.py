"""Fixtures that start the real ferrokms binary and point the official SDKs at it.

The binary comes from $FERROKMS_BIN (default: target/debug/ferrokms at the repo root).
Each server gets a fresh temporary data directory and an ephemeral port; it is told the
access key to create through FERROKMS_ACCESS_KEY_ID / FERROKMS_ACCESS_KEY_SECRET.

FERROKMS_TEST_STORE=postgres runs every server on a fresh PostgreSQL database of its own
(`ferrokms serve --store postgres://...`), made on the server FERROKMS_TEST_PG_URL names
(default postgres://postgres@127.0.0.1:5432/test) and dropped at the end of the session.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STORE = os.environ.get("FERROKMS_TEST_STORE", "sqlite")
PG_URL = os.environ.get("FERROKMS_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
_PG_DATABASES: list[str] = []
BIN = Path(os.environ.get("FERROKMS_BIN", REPO / "target" / "debug" / "ferrokms"))

ACCESS_KEY_ID = "AKIDferrokmsTEST000000000000000001"
ACCESS_KEY_SECRET = "ferrokmsTestSecretKey0000000000001"
REGION = "ap-guangzhou"


@dataclass
class Server:
    """A running ferrokms process."""

    data_dir: Path
    log_path: Path
    extra_args: list[str] = field(default_factory=list)
    config: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    port: int = 0
    store_url: str | None = None

    @property
    def endpoint(self) -> str:
        """host:port, as the SDKs take it."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self, port: int = 0) -> "Server":
        args = [str(BIN), "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", str(self.data_dir)]
        if self.store_url and "--store" not in self.extra_args:
            args += ["--store", self.store_url]
        if self.config is not None:
            cfg = self.data_dir.parent / f"{self.data_dir.name}.toml"
            cfg.write_text(self.config)
            args += ["--config", str(cfg)]
        args += self.extra_args
        env = dict(os.environ)
        env.update(
            FERROKMS_ACCESS_KEY_ID=ACCESS_KEY_ID,
            FERROKMS_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET,
            RUST_LOG=env.get("RUST_LOG", "info"),
        )
        env.update(self.env)
        log = open(self.log_path, "ab")
        start_offset = log.tell()
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 30
        pattern = re.compile(rb"listening on http[s]?://127\.0\.0\.1:(\d+)")
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ferrokms exited early:\n{self.log_path.read_text(errors='replace')}")
            found = pattern.findall(self.log_path.read_bytes()[start_offset:])
            if found:
                self.port = int(found[-1])
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("ferrokms did not report its address")
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ferrokms exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("ferrokms /healthz did not answer 200")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill9(self) -> None:
        """SIGKILL: the process gets no chance to flush anything."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self) -> "Server":
        """Start again on the same data directory and port."""
        return self.start(self.port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _pg(url: str, sql: str) -> None:
    p = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed (FERROKMS_TEST_PG_URL={url}): {p.stderr}")


def _with_database(url: str, db: str) -> str:
    head, sep, query = url.partition("?")
    scheme, _, rest = head.partition("://")
    server = rest.split("/", 1)[0]
    return f"{scheme}://{server}/{db}{sep}{query}"


def fresh_store_url() -> str | None:
    """A new, empty PostgreSQL database for one server (FERROKMS_TEST_STORE=postgres), else None."""
    if STORE != "postgres":
        return None
    name = f"ferrokms_t_{uuid.uuid4().hex}"
    _pg(PG_URL, f"CREATE DATABASE {name}")
    _PG_DATABASES.append(name)
    return _with_database(PG_URL, name)


def pytest_sessionfinish(session, exitstatus):
    for name in _PG_DATABASES:
        try:
            _pg(PG_URL, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        except RuntimeError as e:
            print(f"could not drop {name}: {e}")
    _PG_DATABASES.clear()


def _new_server(tmp_path_factory, name: str, **kw) -> Server:
    if not BIN.exists():
        pytest.fail(f"ferrokms binary not found at {BIN}; build it first (cargo build)")
    base = tmp_path_factory.mktemp(name)
    if "store_url" not in kw:
        kw["store_url"] = fresh_store_url()
    return Server(data_dir=base / "data", log_path=base / "server.log", **kw)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One shared server, rate limits off, for most tests."""
    s = _new_server(tmp_path_factory, "shared", extra_args=["--no-rate-limit"]).start()
    yield s
    s.stop()


def _servers(tmp_path_factory):
    """Yields a factory of private servers (own data dir, config, flags), then stops them all."""
    started: list[Server] = []

    def make(**kw) -> Server:
        s = _new_server(tmp_path_factory, "private", **kw)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def make_server(tmp_path_factory):
    """Factory for a private server; stopped after the test."""
    yield from _servers(tmp_path_factory)


_CLIENTS: dict = {}


def tencent_client(endpoint: str, region: str = REGION, secret_id: str = ACCESS_KEY_ID,
                   secret_key: str = ACCESS_KEY_SECRET, language: str | None = None):
    """The official Python SDK's KmsClient, pointed at ferrokms over plain http.

    One client (one keep-alive connection) per endpoint, region and credentials in a test process,
    as an application holds one: the server lets one connection send one signed body for two
    actions within a second (the SDKs do not sign the action), but binds a TC3 signature seen
    over one connection to its action on any other (docs/security.md), and the tests' shared
    constant ids would otherwise sign alike from fresh clients in consecutive tests.
    """
    key = (endpoint, region, secret_id, secret_key, language)
    if key not in _CLIENTS:
        _CLIENTS[key] = _new_tencent_client(*key)
    return _CLIENTS[key]


def _new_tencent_client(endpoint: str, region: str, secret_id: str, secret_key: str, language: str | None):
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile
    from tencentcloud.kms.v20190118 import kms_client

    hp = HttpProfile(protocol="http", endpoint=endpoint)
    cp = ClientProfile(httpProfile=hp)
    if language:
        cp.language = language
    return kms_client.KmsClient(credential.Credential(secret_id, secret_key), region, cp)


@pytest.fixture
def kms(server):
    """A KmsClient (official SDK) on the shared server, region ap-guangzhou."""
    return tencent_client(server.endpoint)


# ---------------------------------------------------------------------------
# Helpers added for the SDK suites (the fixtures above keep their behaviour).
# ---------------------------------------------------------------------------

def server_env() -> dict[str, str]:
    """The environment a ferrokms process of these tests runs with (server or admin CLI)."""
    env = dict(os.environ)
    env.update(FERROKMS_ACCESS_KEY_ID=ACCESS_KEY_ID, FERROKMS_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET)
    return env


def store_args(server: Server) -> list[str]:
    """`--store URL` for `ferrokms admin` when the server's store is not its data directory's."""
    return ["--store", server.store_url] if server.store_url else []


def run_admin(server: Server, *args: str) -> str:
    """Run `ferrokms admin --data-dir <server's dir> ARGS...`; return stdout, fail on non-zero exit."""
    cmd = [str(BIN), "admin", "--data-dir", str(server.data_dir), *store_args(server), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, env=server_env(), timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p.stdout


@dataclass
class Account:
    account_id: str
    secret_id: str
    secret_key: str


def create_account(server: Server) -> Account:
    """A new account with one access key, made through the admin CLI."""
    out = run_admin(server, "create-account").strip()
    assert out, "create-account printed nothing"
    m = re.search(r"(?:AccountId|account_id|account)\s*[=:]\s*(\S+)", out, re.I)
    account_id = m.group(1) if m else out.split()[-1].strip()
    keys = run_admin(server, "create-access-key", "--account", account_id)
    sid = re.search(r"AccessKeyId=(\S+)", keys)
    skey = re.search(r"AccessKeySecret=(\S+)", keys)
    assert sid and skey, f"create-access-key output not understood:\n{keys}"
    return Account(account_id, sid.group(1), skey.group(1))


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory):
    """Like make_server, but the servers live until the end of the session (for module fixtures)."""
    yield from _servers(tmp_path_factory)


@pytest.fixture
def make_client():
    """tencent_client(endpoint, region=..., secret_id=..., secret_key=..., language=...)."""
    return tencent_client


# ---------------------------------------------------------------------------
# Alibaba Cloud KMS dialect (tests/sdk/test_ali_*.py; helpers in alikms.py and acs.py).
# Same server, same port, same access key as the Tencent dialect.
# ---------------------------------------------------------------------------

ALI_ROTATION_CONFIG = "[rotation]\nmin_manual_interval_secs = 0\n"


@pytest.fixture
def ali(server):
    """Tea SDK (alibabacloud-kms20160120) client on the shared server (ACS3, lands in cn-hangzhou)."""
    from alikms import tea_client
    return tea_client(server.endpoint)


@pytest.fixture
def ali_old(server):
    """Old RPC SDK (aliyun-python-sdk-kms) client on the shared server, RegionId cn-hangzhou."""
    from alikms import old_client
    return old_client(server.endpoint)


@pytest.fixture(scope="session")
def ali_rot_server(server_factory):
    """A server whose manual rotation interval is 0 (CreateKeyVersion may be called back to back)."""
    return server_factory(extra_args=["--no-rate-limit"], config=ALI_ROTATION_CONFIG).start()
