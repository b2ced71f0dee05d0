"""A tiny independent signer for the Alibaba Cloud RPC API (for replay / clock / malformed-auth tests).

* v1: HMAC-SHA1 RPC (`SignatureVersion=1.0`), every parameter in the query string.
* v3: ACS3-HMAC-SHA256, action in `x-acs-action`, parameters in the query.

Both reproduce the worked examples of the spec (section 3.6); see test_ali_errors.py.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import urllib.parse
import uuid

import requests

VERSION = "2016-01-20"


def pe(s: str) -> str:
    """Alibaba percent-encoding: keep A-Z a-z 0-9 - _ . ~, everything else %XY (upper-case)."""
    return urllib.parse.quote(str(s), safe="-_.~")


def utc_now(offset_secs: int = 0) -> str:
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=offset_secs)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def query_string(params: dict) -> str:
    return "&".join(f"{pe(k)}={pe(v)}" for k, v in params.items())


# ------------------------------------------------------------------------------------------ v1

def v1_string_to_sign(params: dict, method: str = "POST") -> str:
    canon = "&".join(f"{pe(k)}={pe(v)}" for k, v in sorted(params.items()) if k != "Signature")
    return f"{method}&{pe('/')}&{pe(canon)}"


def v1_sign(params: dict, secret: str, method: str = "POST") -> str:
    sts = v1_string_to_sign(params, method)
    return base64.b64encode(hmac.new((secret + "&").encode(), sts.encode(), hashlib.sha1).digest()).decode()


def v1_params(action: str, params: dict, ak: str, secret: str, *, nonce: str | None = None,
              timestamp: str | None = None, fmt: str = "JSON", region: str | None = None,
              method: str = "POST") -> dict:
    """All query parameters of a signed v1 request (Signature last)."""
    p = {
        "Action": action,
        "Version": VERSION,
        "Format": fmt,
        "AccessKeyId": ak,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": timestamp or utc_now(),
    }
    if region is not None:
        p["RegionId"] = region
    p.update({k: str(v) for k, v in params.items()})
    p["Signature"] = v1_sign(p, secret, method)
    return p


def _session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # loopback: never through a proxy
    return s


def v1_send(endpoint: str, action: str, params: dict, ak: str, secret: str, *, headers: dict | None = None,
            method: str = "POST", **kw) -> requests.Response:
    """Sign and send a v1 RPC request to http://ENDPOINT/."""
    p = v1_params(action, params, ak, secret, method=method, **kw)
    return send_query(endpoint, p, headers=headers, method=method)


def send_query(endpoint: str, params: dict, *, headers: dict | None = None, method: str = "POST",
               body: bytes = b"") -> requests.Response:
    url = f"http://{endpoint}/?{query_string(params)}"
    with _session() as s:
        return s.request(method, url, headers=headers or {}, data=body, timeout=15)


# ------------------------------------------------------------------------------------------ v3

def sha256_hex(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def v3_headers(endpoint: str, action: str, query: dict, ak: str, secret: str, *, body: bytes = b"",
               nonce: str | None = None, date: str | None = None, extra: dict | None = None,
               method: str = "POST", content_type: str | None = None, unsigned: dict | None = None) -> dict:
    """The header set of an ACS3-HMAC-SHA256 request: all headers signed (like the Python SDK), except
    UNSIGNED ones, which are added after signing (like the Go/Java cores leave accept/user-agent out)."""
    h = {
        "host": endpoint,
        "x-acs-version": VERSION,
        "x-acs-action": action,
        "x-acs-date": date or utc_now(),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "accept": "application/json",
        "x-acs-content-sha256": sha256_hex(body),
    }
    if content_type:
        h["content-type"] = content_type
    h.update(extra or {})
    for name in unsigned or {}:
        h.pop(name, None)
    signed = sorted(h)
    canon_query = "&".join(f"{pe(k)}={pe(v)}" for k, v in sorted(query.items()))
    canon_headers = "".join(f"{name}:{str(h[name]).strip()}\n" for name in signed)
    canon = f"{method}\n/\n{canon_query}\n{canon_headers}\n{';'.join(signed)}\n{sha256_hex(body)}"
    sts = "ACS3-HMAC-SHA256\n" + sha256_hex(canon.encode())
    sig = hmac.new(secret.encode(), sts.encode(), hashlib.sha256).hexdigest()
    h["Authorization"] = f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={';'.join(signed)},Signature={sig}"
    h.update(unsigned or {})
    return h


def v3_send(endpoint: str, action: str, query: dict, ak: str, secret: str, *, body: bytes = b"",
            method: str = "POST", **kw) -> requests.Response:
    query = {k: str(v) for k, v in query.items()}
    h = v3_headers(endpoint, action, query, ak, secret, body=body, method=method, **kw)
    h = {k: v for k, v in h.items() if k != "host"}  # requests sets Host from the URL (same value)
    return send_query(endpoint, query, headers=h, method=method, body=body)
