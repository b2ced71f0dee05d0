"""Helpers for the Alibaba Cloud KMS (API 2016-01-20) suites tests/sdk/test_ali_*.py.

Two official clients drive the same ferrokms server (same port, same access key as the Tencent
dialect):

* the current Tea/Darabonba SDK `alibabacloud-kms20160120` (ACS3-HMAC-SHA256 by default, no region
  on the wire, so requests land in the server's `[alibaba] default_region`);
* the older RPC SDK `aliyun-python-sdk-kms` + `aliyun-python-sdk-core` (HMAC-SHA1 RPC, sends
  `RegionId`, hands back raw JSON bytes).

`tea(...)` / `old(...)` call one action by its API name with API (PascalCase) parameter names and
return the response body as a plain dict; `tea_err(...)` / `old_err(...)` expect a failure and return
a small `AliError` (status, code, message, request id, body) for assertions.
"""
from __future__ import annotations

import base64
import importlib
import json
import re
import uuid
import warnings
from dataclasses import dataclass, field

import pytest

from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET

TEA_REGION = "cn-hangzhou"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ARN_RE = re.compile(r"^acs:kms:(?P<region>[a-z0-9-]+):(?P<account>\d+):key/(?P<key>.+)$")


def uname(prefix: str = "t") -> str:
    """A unique alias name, `alias/<prefix>-<hex>`."""
    return f"alias/{prefix}-{uuid.uuid4().hex[:20]}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes:
    assert isinstance(text, str), f"expected a base64 string, got {text!r}"
    return base64.b64decode(text, validate=True)


# --------------------------------------------------------------------------------------------
# Errors, common to both SDKs


@dataclass
class AliError:
    status: int | None
    code: str
    message: str
    request_id: str | None
    body: dict = field(default_factory=dict)
    exc: Exception | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message} ({self.body})"


def check(err: AliError, code: str, status: int | None = None) -> AliError:
    assert err.code == code, f"expected {code} ({status}), got {err}"
    if status is not None:
        assert err.status == status, f"{code}: expected HTTP {status}, got {err}"
    return err


# --------------------------------------------------------------------------------------------
# Tea SDK (alibabacloud-kms20160120 3.3.1)


def tea_client(endpoint: str, ak: str = ACCESS_KEY_ID, secret: str = ACCESS_KEY_SECRET,
               region_id: str = TEA_REGION, **config):
    from alibabacloud_kms20160120.client import Client
    from alibabacloud_tea_openapi.utils_models import Config

    cfg = Config(access_key_id=ak, access_key_secret=secret, endpoint=endpoint, protocol="http",
                 region_id=region_id, **config)
    return Client(cfg)


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


def tea_request(action: str, params: dict):
    from alibabacloud_kms20160120 import models

    req = getattr(models, f"{action}Request")().from_map(params)
    sent = req.to_map()
    missing = set(params) - set(sent)
    assert not missing, f"{action}Request does not know {missing}: test bug"
    return req


def tea_raw(client, action: str, **params):
    """Call ACTION through the Tea client's typed method; returns the typed response (status, body)."""
    method = getattr(client, _snake(action))
    if params or action not in {"DescribeRegions", "DescribeAccountKmsStatus", "OpenKmsService",
                                "GetChallenge"}:
        return method(tea_request(action, params))
    return method()


def tea(client, action: str, **params) -> dict:
    """Call ACTION (Tea SDK); returns the response body as a dict (API field names)."""
    resp = tea_raw(client, action, **params)
    assert resp.status_code == 200, resp.status_code
    body = resp.body.to_map()
    assert isinstance(body.get("RequestId"), str) and body["RequestId"], body
    return body


def tea_exc_to_err(e) -> AliError:
    data = e.data if isinstance(getattr(e, "data", None), dict) else {}
    status = getattr(e, "status_code", None)
    if status is None:
        status = data.get("statusCode")
    return AliError(status=status, code=e.code, message=str(e.message),
                    request_id=data.get("RequestId"), body=data, exc=e)


def tea_err(client, action: str, **params) -> AliError:
    """Call ACTION (Tea SDK), which must fail with an HTTP error; returns the error."""
    from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
    from darabonba.exceptions import UnretryableException
    from Tea.exceptions import TeaException

    try:
        resp = tea_raw(client, action, **params)
    except AlibabaCloudException as e:
        err = tea_exc_to_err(e)
        assert err.request_id, f"{action}: error {err} came without a RequestId"
        return err
    except UnretryableException as e:
        # the ACS4 (gateway SPI) path wraps the server's error in UnretryableException
        inner = e.inner_exception
        assert isinstance(inner, TeaException), f"{action}: transport failure {e!r}"
        err = tea_exc_to_err(inner)
        assert err.request_id, f"{action}: error {err} came without a RequestId"
        return err
    pytest.fail(f"{action} should have failed but succeeded: {resp.body.to_map()}")


def tea_expect(client, action: str, code: str, status: int | None = None, **params) -> AliError:
    return check(tea_err(client, action, **params), code, status)


# --------------------------------------------------------------------------------------------
# Old RPC SDK (aliyun-python-sdk-kms 2.16.5 + aliyun-python-sdk-core 2.16.1)


@dataclass
class OldClient:
    """An AcsClient plus the ferrokms endpoint every request is pointed at."""

    acs: object
    endpoint: str
    region: str


def old_client(endpoint: str, ak: str = ACCESS_KEY_ID, secret: str = ACCESS_KEY_SECRET,
               region: str = TEA_REGION) -> OldClient:
    from aliyunsdkcore.client import AcsClient

    return OldClient(AcsClient(ak, secret, region), endpoint, region)


def old_request(c: OldClient, action: str, params: dict):
    mod = importlib.import_module(f"aliyunsdkkms.request.v20160120.{action}Request")
    req = getattr(mod, f"{action}Request")()
    for k, v in params.items():
        setter = getattr(req, f"set_{k}", None)
        assert setter is not None, f"{action}Request has no set_{k}: test bug"
        setter(v)
    req.set_endpoint(c.endpoint)
    req.set_protocol_type("http")
    req.set_accept_format("JSON")
    return req


def old(c: OldClient, action: str, **params) -> dict:
    """Call ACTION (old SDK); parses the JSON bytes; raises aliyunsdkcore ServerException on errors."""
    raw = c.acs.do_action_with_exception(old_request(c, action, params))
    body = json.loads(raw)
    assert isinstance(body.get("RequestId"), str) and body["RequestId"], body
    return body


def old_err(c: OldClient, action: str, **params) -> AliError:
    from aliyunsdkcore.acs_exception.exceptions import ServerException

    try:
        body = old(c, action, **params)
    except ServerException as e:
        err = AliError(status=e.get_http_status(), code=e.get_error_code(), message=e.get_error_msg(),
                       request_id=e.get_request_id(), exc=e)
        assert err.request_id, f"{action}: error {err} came without a RequestId"
        return err
    pytest.fail(f"{action} should have failed but succeeded: {body}")


def old_expect(c: OldClient, action: str, code: str, status: int | None = None, **params) -> AliError:
    return check(old_err(c, action, **params), code, status)


def old_format(c: OldClient, action: str, fmt: str, **params) -> tuple[int, dict, bytes]:
    """Call ACTION with `set_accept_format(fmt)`; returns (HTTP status, headers, raw body)."""
    req = old_request(c, action, params)
    req.set_accept_format(fmt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status, headers, body, _exc = c.acs._implementation_of_do_action(req)
    return status, headers, body


# --------------------------------------------------------------------------------------------
# Convenience


def create_key(client, **params) -> dict:
    """CreateKey through whichever SDK `client` is; returns KeyMetadata."""
    body = old(client, "CreateKey", **params) if isinstance(client, OldClient) else tea(client, "CreateKey", **params)
    md = body["KeyMetadata"]
    assert UUID_RE.match(md["KeyId"]), md
    return md


def describe(client, key_id: str) -> dict:
    fn = old if isinstance(client, OldClient) else tea
    return fn(client, "DescribeKey", KeyId=key_id)["KeyMetadata"]


def key_state(client, key_id: str) -> str:
    return describe(client, key_id)["KeyState"]


def arn_parts(arn: str) -> dict:
    m = ARN_RE.match(arn)
    assert m, f"not a key ARN: {arn!r}"
    return m.groupdict()


def spki_b64(pub_pem: str) -> str:
    """Base64 of the DER SubjectPublicKeyInfo inside a PEM `PUBLIC KEY` block."""
    lines = [ln for ln in pub_pem.strip().splitlines() if not ln.startswith("-----")]
    der = base64.b64decode("".join(lines))
    assert der[0] == 0x30
    return b64(der)
