"""An independent TC3-HMAC-SHA256 signer, for raw requests the official SDK cannot make
(expired timestamps, wrong scopes, odd bodies, missing headers).

It follows docs section 1.3 of the spec and is checked against the spec's worked example
(see test_errors.py::test_tc3_signer_matches_spec_vector).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timezone

import requests

ALGORITHM = "TC3-HMAC-SHA256"
VERSION = "2019-01-18"
JSON = "application/json"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signature(secret_key: str, timestamp: int, host: str, body: bytes,
              content_type: str = JSON, service: str = "kms", date: str | None = None,
              method: str = "POST", query: str = "") -> str:
    """Lowercase hex TC3 signature over the given raw body bytes."""
    if date is None:
        date = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    canonical_headers = f"content-type:{content_type}\nhost:{host}\n"
    canonical_request = "\n".join(
        [method, "/", query, canonical_headers, "content-type;host", payload_hash])
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    k_date = _hmac(("TC3" + secret_key).encode(), date)
    k_service = _hmac(k_date, service)
    k_signing = _hmac(k_service, "tc3_request")
    return hmac.new(k_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(secret_id: str, secret_key: str, timestamp: int, host: str, body: bytes,
                  content_type: str = JSON, service: str = "kms", date: str | None = None) -> str:
    if date is None:
        date = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")
    sig = signature(secret_key, timestamp, host, body, content_type, service, date)
    return (f"{ALGORITHM} Credential={secret_id}/{date}/{service}/tc3_request, "
            f"SignedHeaders=content-type;host, Signature={sig}")


def post(endpoint: str, action: str, params: dict | bytes | str | None, secret_id: str,
         secret_key: str, region: str | None = "ap-guangzhou", timestamp: int | None = None,
         version: str = VERSION, content_type: str = JSON, host: str | None = None,
         service: str = "kms", extra_headers: dict | None = None,
         tamper_signature: bool = False, omit: tuple[str, ...] = (),
         fresh_connection: bool = False) -> requests.Response:
    """Send one signed POST to http://endpoint/ and return the raw requests.Response.

    params may be a dict (JSON-encoded with the Python SDK's separators), or raw bytes/str
    sent verbatim. omit names headers to leave out (e.g. "X-TC-Action", "Authorization").
    Requests go over one shared keep-alive session (as a client's would), or over a connection of
    their own with fresh_connection (what a replaying attacker does).
    """
    if params is None:
        params = {}
    if isinstance(params, dict):
        body = json.dumps(params).encode()
    elif isinstance(params, str):
        body = params.encode()
    else:
        body = params
    ts = int(time.time()) if timestamp is None else timestamp
    host = host or endpoint
    auth = authorization(secret_id, secret_key, ts, host, body, content_type, service)
    if tamper_signature:
        head, sig = auth.rsplit("Signature=", 1)
        auth = head + "Signature=" + ("0" if sig[0] != "0" else "1") + sig[1:]
    headers = {
        "Host": host,
        "Content-Type": content_type,
        "Authorization": auth,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Timestamp": str(ts),
        "X-TC-Language": "en-US",
        "X-TC-TraceId": str(uuid.uuid4()),
        "X-TC-RequestClient": "ferrokms-tests",
    }
    if region is not None:
        headers["X-TC-Region"] = region
    if extra_headers:
        headers.update(extra_headers)
    for name in omit:
        headers.pop(name, None)
    if fresh_connection:
        with requests.Session() as session:
            session.trust_env = False  # never go through a proxy for loopback
            return session.post(f"http://{endpoint}/", data=body, headers=headers, timeout=30)
    return _shared_session().post(f"http://{endpoint}/", data=body, headers=headers, timeout=30)


_SESSION: requests.Session | None = None


def _shared_session() -> requests.Session:
    global _SESSION
    if _SESSION is None:
        _SESSION = requests.Session()
        _SESSION.trust_env = False  # never go through a proxy for loopback
    return _SESSION
