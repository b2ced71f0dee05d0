"""Connection limits and timeouts ([http] in the configuration), and graceful shutdown.

Each test starts its own server with short timeouts (1-3 s) so that it finishes in seconds;
everything is on loopback and every loop is bounded in time. Raw sockets play the attacker
(idle sockets, slowloris heads, dribbled bodies); the official SDK plays the good client.
"""
from __future__ import annotations

import json
import re
import resource
import signal
import socket
import time

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, Server, tencent_client
from kmsutil import call, create_key, describe, uid
from tc3 import VERSION, authorization
from test_tls_and_config import https_client, procs, tls_cert  # noqa: F401  (fixtures)


def http_config(max_connections: int = 50, header: int = 1, idle: int = 2, body: int = 2,
                shutdown: int = 3) -> str:
    return (
        "[http]\n"
        f"max_connections = {max_connections}\n"
        f"header_read_timeout_secs = {header}\n"
        f"idle_timeout_secs = {idle}\n"
        f"body_read_timeout_secs = {body}\n"
        f"shutdown_timeout_secs = {shutdown}\n"
    )


def start(make_server, **kw) -> Server:
    return make_server(extra_args=["--no-rate-limit"], config=http_config(**kw)).start()


def connect(s: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Reads until the server closes the connection; the time it took, or None if still open."""
    t0 = time.monotonic()
    deadline = t0 + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - t0
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - t0
        except socket.timeout:
            return None


def is_closed_now(sock: socket.socket) -> bool:
    """Whether the server has closed this (otherwise silent) connection, without waiting."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    finally:
        sock.setblocking(True)


def signed_head(s: Server, action: str, body: bytes, ali: bool = False) -> bytes:
    """The head of a TC3-signed POST (or, with ali, an Alibaba-dialect one) for `body`."""
    host = s.endpoint
    ts = int(time.time())
    if ali:
        lines = [
            "POST / HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
            f"x-acs-action: {action}", "x-acs-version: 2016-01-20", f"Content-Length: {len(body)}",
        ]
    else:
        auth = authorization(ACCESS_KEY_ID, ACCESS_KEY_SECRET, ts, host, body)
        lines = [
            "POST / HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
            f"Authorization: {auth}", f"X-TC-Action: {action}", f"X-TC-Version: {VERSION}",
            f"X-TC-Timestamp: {ts}", "X-TC-Region: ap-guangzhou", f"Content-Length: {len(body)}",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket, seconds: float) -> tuple[int, dict, bytes] | None:
    """One HTTP/1.1 response (status, lowercase headers, body), or None if none came in time."""
    deadline = time.monotonic() + seconds
    buf = b""
    while b"\r\n\r\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None
        if not chunk:
            return None
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status, headers, rest[:length]


def exit_code_within(s: Server, seconds: float) -> int | None:
    assert s.proc is not None
    try:
        return s.proc.wait(timeout=seconds)
    except Exception:  # subprocess.TimeoutExpired
        return None


# ------------------------------------------------------------------ timeouts

def test_idle_sockets_are_closed(make_server):
    """Sockets that never send a byte go after the header-read timeout (1 s); a keep-alive
    connection that has had its answer goes after the idle timeout (2 s), not before."""
    s = start(make_server, header=1, idle=2)
    silent = [connect(s) for _ in range(20)]
    keep_alive = connect(s)
    keep_alive.sendall(f"GET /healthz HTTP/1.1\r\nHost: {s.endpoint}\r\n\r\n".encode())
    r = read_response(keep_alive, 5)
    assert r is not None and r[0] == 200, r
    t0 = time.monotonic()
    for sock in silent:
        took = closed_within(sock, 4 - (time.monotonic() - t0))
        assert took is not None, "a socket that sent nothing was still open 4 s later (header timeout 1 s)"
    assert time.monotonic() - t0 < 4
    idle_for = time.monotonic() - t0
    took = closed_within(keep_alive, 5)
    assert took is not None, "an idle keep-alive connection was still open 5 s past the idle timeout"
    assert idle_for + took >= 1.5, f"keep-alive closed after {idle_for + took:.1f} s, before the 2 s idle timeout"
    for sock in silent + [keep_alive]:
        sock.close()
    assert call(tencent_client(s.endpoint), "GenerateRandom", NumberOfBytes=8).Plaintext


def test_slowloris_head_is_cut(make_server):
    """A request head dribbled a byte every 0.3 s is cut by the header-read timeout (1 s)."""
    s = start(make_server, header=1, idle=30)
    sock = connect(s)
    t0 = time.monotonic()
    sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    closed_after = None
    while time.monotonic() - t0 < 8:
        try:
            sock.sendall(b"a")
        except OSError:
            closed_after = time.monotonic() - t0
            break
        if closed_within(sock, 0.3) is not None:
            closed_after = time.monotonic() - t0
            break
    sock.close()
    assert closed_after is not None, "a slowloris head was still open after 8 s (header timeout 1 s)"
    assert closed_after < 4, f"slowloris head cut only after {closed_after:.1f} s"


def test_slow_body_is_cut_tencent(make_server):
    """Headers complete, body dribbling: the body-read timeout (2 s) answers the Tencent
    envelope's error and closes the connection."""
    s = start(make_server, header=5, idle=30, body=2)
    body = json.dumps({"Alias": uid("slow"), "Description": "slow"}).encode()
    sock = connect(s)
    sock.sendall(signed_head(s, "CreateKey", body))
    t0 = time.monotonic()
    response = None
    for i in range(len(body) - 1):  # never the last byte
        try:
            sock.sendall(body[i:i + 1])
        except OSError:
            break
        response = read_response(sock, 0.5)
        if response is not None or time.monotonic() - t0 > 8:
            break
    took = time.monotonic() - t0
    assert response is not None, f"no answer to a dribbled body after {took:.1f} s (body timeout 2 s)"
    status, headers, payload = response
    assert took < 5, f"dribbled body cut only after {took:.1f} s"
    error = json.loads(payload)["Response"]["Error"]
    assert error["Code"] == "InvalidRequest", error
    assert headers.get("connection", "").lower() == "close", headers
    assert closed_within(sock, 3) is not None, "connection left open after the body timeout"
    sock.close()


def test_slow_body_is_cut_alibaba(make_server):
    s = start(make_server, header=5, idle=30, body=1)
    body = b'{"KeyId": "x"}'
    sock = connect(s)
    sock.sendall(signed_head(s, "DescribeKey", body, ali=True))
    sock.sendall(body[:3])
    response = read_response(sock, 5)
    sock.close()
    assert response is not None, "no answer to an Alibaba request whose body stalled (body timeout 1 s)"
    status, _, payload = response
    assert status == 408, (status, payload)
    assert json.loads(payload)["Code"] == "RequestTimeout", payload


# ------------------------------------------------------------------ connection limit

def test_idle_flood_does_not_lock_out_a_good_client(make_server):
    """max_connections = 50 and 200 idle sockets: the idlest are closed to make room, a signed
    request through the official SDK succeeds promptly, and no more than the limit stay open."""
    s = start(make_server, max_connections=50, header=20, idle=30)
    flood = [connect(s) for _ in range(200)]
    try:
        t0 = time.monotonic()
        key_id = create_key(tencent_client(s.endpoint))
        took = time.monotonic() - t0
        assert took < 3, f"CreateKey behind 200 idle sockets took {took:.1f} s"
        deadline = time.monotonic() + 3
        while True:
            still_open = sum(not is_closed_now(sock) for sock in flood)
            if still_open <= 50 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert still_open <= 50, f"{still_open} of 200 idle sockets still open with max_connections = 50"
        assert describe(tencent_client(s.endpoint), key_id).KeyId == key_id
    finally:
        for sock in flood:
            sock.close()


def test_open_file_limit_caps_connections(make_server):
    """With RLIMIT_NOFILE = 256 the limit is lowered to fit it, so 300 idle sockets cannot take
    the last descriptor: a good request still goes through."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    s = make_server(extra_args=["--no-rate-limit"], config=http_config(max_connections=4096, header=20, idle=30))
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
    try:
        s.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert re.search(r"max_connections lowered", s.log()), s.log()
    flood = [connect(s) for _ in range(300)]
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        try:
            out = call(tencent_client(s.endpoint), "GenerateRandom", NumberOfBytes=8)
        except TencentCloudSDKException as e:
            pytest.fail(f"good request failed behind 300 idle sockets at RLIMIT_NOFILE 256: {e}")
        assert out.Plaintext
        assert time.monotonic() - t0 < 3
    finally:
        for sock in flood:
            sock.close()


# ------------------------------------------------------------------ graceful shutdown

def test_sigterm_with_half_sent_request_exits_zero(make_server):
    """SIGTERM with a half-sent request head and an idle keep-alive open: both are closed at
    once (no request is in flight), the process exits 0, and logs the start and end."""
    s = start(make_server, header=30, idle=30, shutdown=5)
    half = connect(s)
    half.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
    keep_alive = connect(s)
    keep_alive.sendall(f"GET /healthz HTTP/1.1\r\nHost: {s.endpoint}\r\n\r\n".encode())
    assert read_response(keep_alive, 5) is not None
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    code = exit_code_within(s, 5)
    took = time.monotonic() - t0
    half.close()
    keep_alive.close()
    assert code == 0, f"exit code {code} {took:.1f} s after SIGTERM:\n{s.log()[-2000:]}"
    assert took < 3, f"exit took {took:.1f} s though nothing was in flight"
    log = s.log()
    assert "shutting down" in log and "shutdown complete" in log, log[-2000:]


def test_sigterm_lets_in_flight_request_finish(make_server):
    """SIGTERM while a CreateKey's body is still arriving (in time): the request is answered,
    the process exits 0 within the deadline, and both keys are there after a restart."""
    s = start(make_server, header=10, idle=30, body=10, shutdown=8)
    before = create_key(tencent_client(s.endpoint))
    body = json.dumps({"Alias": uid("sigterm"), "Description": "in flight at SIGTERM"}).encode()
    sock = connect(s)
    sock.sendall(signed_head(s, "CreateKey", body))
    sock.sendall(body[:5])
    time.sleep(0.3)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    for i in range(5, len(body), 8):
        time.sleep(0.1)
        sock.sendall(body[i:i + 8])
    response = read_response(sock, 5)
    sock.close()
    assert response is not None, f"in-flight request not answered after SIGTERM:\n{s.log()[-2000:]}"
    status, _, payload = response
    assert status == 200, payload
    during = json.loads(payload)["Response"].get("KeyId")
    assert during, payload
    code = exit_code_within(s, 8)
    assert code == 0, f"exit code {code}:\n{s.log()[-2000:]}"
    assert time.monotonic() - t0 < 8
    s.restart()
    c = tencent_client(s.endpoint)
    assert describe(c, before).KeyId == before
    assert describe(c, during).KeyId == during


def test_sigterm_cuts_stalled_request_at_deadline(make_server):
    """A request whose body stalls is cut at the shutdown deadline (1 s), still exit 0, and data
    written before SIGTERM survives."""
    s = start(make_server, header=10, idle=30, body=30, shutdown=1)
    before = create_key(tencent_client(s.endpoint))
    body = json.dumps({"Alias": uid("stalled"), "Description": "never finished"}).encode()
    sock = connect(s)
    sock.sendall(signed_head(s, "CreateKey", body))
    sock.sendall(body[:5])
    time.sleep(0.3)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    code = exit_code_within(s, 6)
    took = time.monotonic() - t0
    sock.close()
    assert code == 0, f"exit code {code} {took:.1f} s after SIGTERM:\n{s.log()[-2000:]}"
    assert 0.8 <= took < 4, f"stalled request cut after {took:.1f} s (deadline 1 s)"
    assert "shutdown deadline reached" in s.log()
    s.restart()
    assert describe(tencent_client(s.endpoint), before).KeyId == before


# ------------------------------------------------------------------ TLS

def test_tls_handshake_is_bounded_and_tls_still_serves(procs, tls_cert):  # noqa: F811
    """On the TLS listener, a socket that never starts its handshake is closed after the
    header-read timeout; the SDK over HTTPS still works."""
    cert, key = tls_cert
    s = procs(config=f'[tls]\ncert = "{cert}"\nkey = "{key}"\n' + http_config(header=1, idle=2),
              cafile=cert).start()
    assert s.scheme == "https"
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    took = closed_within(sock, 4)
    sock.close()
    assert took is not None, "a silent socket on the TLS port was still open 4 s later (header timeout 1 s)"
    c = https_client(s.endpoint, cert)
    k = create_key(c)
    assert describe(c, k).KeyId == k
