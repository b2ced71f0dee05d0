"""`ferrokms bench`, the load tool of docs/benchmarks.md: every workload runs against a real
server with signed requests (TC3 and ACS3) and reports its figures with no failed request."""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, BIN

SERVER_WORKLOADS = [
    "generate-data-key", "generate-data-key-rsa", "generate-data-key-hosted", "encrypt", "decrypt",
    "ali-generate-data-key", "ali-export-rsa", "ali-export-sm2",
    # asymmetric, MAC and post-quantum keys: each answer is checked (the plaintext is the one
    # encrypted, the verification says true), so 0 errors means every request did its work
    "rsa-decrypt", "sm2-decrypt", "ecdsa-sign", "ecdsa-verify", "sm2-sign", "rsa-sign", "mldsa-sign",
    "mlkem-decrypt", "ali-generate-mac",
]
LOCAL_WORKLOADS = [
    "local-rsa-oaep", "local-sm2", "local-rsa-decrypt", "local-sm2-decrypt", "local-ecdsa-sign",
    "local-ecdsa-verify", "local-sm2-sign", "local-rsa-sign", "local-mldsa-sign", "local-mlkem-decrypt",
    "local-hmac",
]
LINE = re.compile(r"connections=(\d+) seconds=[\d.]+ requests=(\d+) errors=(\d+) rps=(\d+) "
                  r"p50_ms=[\d.]+ p99_ms=[\d.]+ p999_ms=[\d.]+")


def bench(*args: str) -> re.Match:
    env = dict(os.environ, FERROKMS_ACCESS_KEY_ID=ACCESS_KEY_ID, FERROKMS_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET)
    r = subprocess.run([str(BIN), "bench", "--duration", "0.5", "--warmup", "0.2", *args],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    m = LINE.search(r.stdout)
    assert m, f"no report line in:\n{r.stdout}\n{r.stderr}"
    return m


@pytest.mark.parametrize("workload", SERVER_WORKLOADS)
def test_bench_drives_the_server_without_errors(server, workload):
    m = bench("--endpoint", server.endpoint, "--workload", workload, "--connections", "2")
    connections, requests, errors, _ = m.groups()
    assert connections == "2" and int(requests) > 0
    assert errors == "0", f"{workload}: {errors} failed requests"


@pytest.mark.parametrize("workload", LOCAL_WORKLOADS)
def test_bare_loops_run_without_a_server(workload):
    m = bench("--workload", workload, "--connections", "1", "--endpoint", "127.0.0.1:9")
    assert int(m.group(2)) > 0
    assert m.group(3) == "0", f"{workload}: {m.group(3)} failed operations"


def test_bench_reports_failures(server):
    # A wrong secret: every request fails its signature, and the tool says so instead of a rate.
    env_secret = "wrong-secret-wrong-secret-000000"
    r = subprocess.run([str(BIN), "bench", "--endpoint", server.endpoint, "--workload", "encrypt",
                        "--key-id", "11111111-2222-3333-4444-555555555555", "--duration", "0.3",
                        "--warmup", "0.1", "--connections", "1", "--secret-id", ACCESS_KEY_ID,
                        "--secret-key", env_secret], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    m = LINE.search(r.stdout)
    assert m and int(m.group(3)) == int(m.group(2)) > 0, r.stdout
    assert "AuthFailure.SignatureFailure" in r.stderr


CPU = re.compile(r" cpu_us_per_op=([\d.]+)")


def test_cpu_per_operation_is_reported(server):
    # The server's CPU per request with --server-pid (scripts/bench-asymmetric.sh's CPU ratio),
    # and a local loop's own; without --server-pid a server run reports none.
    line = bench("--endpoint", server.endpoint, "--workload", "ecdsa-verify", "--connections", "2",
                 "--server-pid", str(server.proc.pid)).string
    assert float(CPU.search(line).group(1)) > 0, line
    assert float(CPU.search(bench("--workload", "local-hmac", "--connections", "1").string).group(1)) > 0
    assert not CPU.search(bench("--endpoint", server.endpoint, "--workload", "encrypt").string)


def test_decrypt_over_many_keys_unseals_each_with_a_cache_of_one(make_server):
    # The cold path of scripts/bench-hsm.sh: a cache of one key, requests over five keys in turn,
    # each answer checked (the plaintext is the one encrypted under that key).
    s = make_server(config="[keys]\ncache_capacity = 1\n", extra_args=["--no-rate-limit"]).start()
    m = bench("--endpoint", s.endpoint, "--workload", "decrypt", "--keys", "5", "--connections", "2")
    assert int(m.group(2)) > 0
    assert m.group(3) == "0", f"{m.group(3)} failed requests"


def test_bench_ends_on_time_when_the_server_goes_away(make_server):
    # The server killed during the measured window: every connection is closed, and the tool
    # must still end after its duration and say the requests failed (it used to spin on the
    # dead connections without yielding, starving its own timer, and never end).
    s = make_server(extra_args=["--no-rate-limit"]).start()
    env = dict(os.environ, FERROKMS_ACCESS_KEY_ID=ACCESS_KEY_ID, FERROKMS_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET)
    p = subprocess.Popen([str(BIN), "bench", "--endpoint", s.endpoint, "--workload", "generate-data-key",
                          "--duration", "3", "--warmup", "0.2", "--connections", "4"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.2)
        s.kill9()
        out, err = p.communicate(timeout=30)
    finally:
        p.kill()
    m = LINE.search(out)
    assert m, f"no report line in:\n{out}\n{err}"
    assert int(m.group(3)) >= 1, out
