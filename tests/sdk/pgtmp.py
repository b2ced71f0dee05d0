"""A private PostgreSQL server in a temporary directory, for tests that stop, kill or restart it.

Never the shared server of FERROKMS_TEST_PG_URL: these tests take theirs down on purpose. The
binaries are Debian's versioned ones (`/usr/lib/postgresql/<v>/bin`, not on PATH) or whatever
`initdb` PATH has. initdb refuses to run as root, so as root the server runs as the `postgres`
user (or `nobody`), which owns the temporary directory.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def pg_bin(name: str) -> str | None:
    """The path of a PostgreSQL server binary (initdb, pg_ctl), or None if none is installed."""
    found = shutil.which(name)
    if found:
        return found
    for cand in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return cand
    return None


def available() -> bool:
    return pg_bin("initdb") is not None and pg_bin("pg_ctl") is not None and shutil.which("psql") is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"]
    raise RuntimeError("running as root and no postgres or nobody user to run PostgreSQL as")


class PrivatePg:
    """initdb'd on construction; start(), stop(mode), restart(); url(db) for ferrokms."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ferrokms-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.prefix = _run_as()
        if self.prefix:
            user = self.prefix[2]
            pw = pwd.getpwnam(user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        self._run(pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        p = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
        return p

    @property
    def server_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def start(self) -> "PrivatePg":
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=on -c max_connections=200"
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l", str(self.dir / "log"), "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """mode: smart, fast (connections cut, clean shutdown) or immediate (no checkpoint: a crash)."""
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def sql(self, sql: str, db: str = "postgres") -> str:
        p = subprocess.run(["psql", self.url(db), "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {p.stderr}")
        return p.stdout

    def create_db(self, name: str) -> str:
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)

    def dump(self, db: str) -> bytes:
        p = subprocess.run(["pg_dump", self.url(db)], capture_output=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"pg_dump: {p.stderr.decode(errors='replace')}")
        return p.stdout

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait_down(self, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)
