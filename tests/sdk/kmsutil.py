"""Small helpers shared by the SDK suites test_service/keys/crypto/datakey/hosted/rotation/errors/
tccli: typed requests, error assertions, unique names.

(Other suites in this directory use interop_helpers.py; please do not overwrite this file.)
"""
from __future__ import annotations

import base64
import json
import re
import time
import uuid

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.kms.v20190118 import models

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def uid(prefix: str = "t") -> str:
    """A unique alias / data key name: letters, digits and '-', under 60 characters."""
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes:
    assert text is not None, "expected a base64 field, got None"
    return base64.b64decode(text, validate=True)


def now() -> int:
    return int(time.time())


def req(action: str, **fields):
    """The SDK's typed <Action>Request model, filled from keyword fields (JSON shapes)."""
    cls = getattr(models, f"{action}Request")
    r = cls()
    r.from_json_string(json.dumps(fields))
    sent = r._serialize()
    missing = {k for k in set(fields) - set(sent) if fields[k] is not None}
    # A field the model does not know would silently not be sent: that is a test bug.
    assert not missing, f"{action}Request has no field {missing}"
    return r


def call(client, action: str, **fields):
    """Call ACTION through the official client's typed method; returns the typed response."""
    return getattr(client, action)(req(action, **fields))


def _fail(client, action: str, fields: dict) -> TencentCloudSDKException:
    try:
        resp = call(client, action, **fields)
    except TencentCloudSDKException as e:
        assert e.requestId, f"{action}: error {e.code} came without a RequestId"
        return e
    pytest.fail(f"{action}({fields}) should have failed, got {resp.to_json_string()}")


def expect_error(code: str, fn, *args, **kwargs) -> TencentCloudSDKException:
    """Run fn and assert it raises TencentCloudSDKException with exactly this code."""
    try:
        result = fn(*args, **kwargs)
    except TencentCloudSDKException as e:
        assert e.code == code, f"expected {code}, got {e.code}: {e.message}"
        assert e.requestId, f"error {e.code} came without a RequestId"
        return e
    pytest.fail(f"expected {code}, got success: {result}")


def call_error(client, action: str, code: str, **fields) -> TencentCloudSDKException:
    """Call ACTION (typed) and assert the error code exactly."""
    e = _fail(client, action, fields)
    assert e.code == code, f"{action}: expected {code}, got {e.code}: {e.message}"
    return e


def call_error_prefix(client, action: str, prefix: str, **fields) -> TencentCloudSDKException:
    """Call ACTION (typed) and assert the error code is PREFIX or PREFIX.<something>.

    Used only where neither the spec nor docs/compatibility.md fixes the sub-code.
    """
    e = _fail(client, action, fields)
    assert e.code == prefix or (e.code or "").startswith(prefix + "."), (
        f"{action}: expected {prefix}[.*], got {e.code}: {e.message}")
    return e


def call_error_in(client, action: str, codes, **fields) -> TencentCloudSDKException:
    """Call ACTION (typed) and assert the error code is one of CODES (where docs leave it open)."""
    e = _fail(client, action, fields)
    assert e.code in set(codes), f"{action}: expected one of {sorted(codes)}, got {e.code}: {e.message}"
    return e


def create_key(client, **fields) -> str:
    """CreateKey with a unique alias (unless given); returns the KeyId."""
    fields.setdefault("Alias", uid("k"))
    r = call(client, "CreateKey", **fields)
    assert r.KeyId, r.to_json_string()
    return r.KeyId


def describe(client, key_id: str):
    return call(client, "DescribeKey", KeyId=key_id).KeyMetadata


def state(client, key_id: str) -> str:
    return describe(client, key_id).KeyState


def encrypt(client, key_id: str, data: bytes, context: str | None = None) -> str:
    fields = {"KeyId": key_id, "Plaintext": b64(data)}
    if context is not None:
        fields["EncryptionContext"] = context
    return call(client, "Encrypt", **fields).CiphertextBlob


def decrypt(client, blob: str, context: str | None = None) -> bytes:
    fields = {"CiphertextBlob": blob}
    if context is not None:
        fields["EncryptionContext"] = context
    return unb64(call(client, "Decrypt", **fields).Plaintext)


def schedule_deletion(client, key_id: str, days: int = 7):
    """Disable, then schedule deletion: the key ends PendingDelete."""
    call(client, "DisableKey", KeyId=key_id)
    return call(client, "ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=days)


def hosted_data_key(client, key_id: str, name: str | None = None, **fields):
    """GenerateDataKey with IsHostedByKms=1; returns the typed response."""
    fields.setdefault("KeySpec", "AES_256")
    return call(client, "GenerateDataKey", KeyId=key_id, IsHostedByKms=1,
                DataKeyName=name or uid("dk"), **fields)


def describe_data_key(client, data_key_id: str):
    return call(client, "DescribeDataKey", DataKeyId=data_key_id).DataKeyMetadata


def _last_segment(blob: str) -> tuple[str, bytes]:
    """(framing prefix, raw bytes of the sealed part): the last `-k-` segment, or the whole blob."""
    if "-k-" in blob:
        head, _, last = blob.rpartition("-k-")
        return head + "-k-", base64.b64decode(last)
    return "", base64.b64decode(blob)


def tamper_blob(blob: str) -> str:
    """Flip one bit of the sealed bytes' last byte (the AEAD tag), keeping the blob's framing."""
    head, raw = _last_segment(blob)
    return head + b64(raw[:-1] + bytes([raw[-1] ^ 0x01]))


def truncate_blob(blob: str, drop: int) -> str:
    """Drop DROP bytes from the end of the sealed bytes, keeping the framing."""
    head, raw = _last_segment(blob)
    return head + b64(raw[:-drop])


def _pages(client, action: str, items: str, ident: str, filters: dict) -> list[str]:
    out: list[str] = []
    offset = 0
    while True:
        r = call(client, action, Offset=offset, Limit=200, **filters)
        page = [getattr(x, ident) for x in (getattr(r, items) or [])]
        out += page
        offset += len(page)
        if not page or offset >= (r.TotalCount or 0):
            return out


def list_all_keys(client, **filters) -> list[str]:
    """Every KeyId that ListKeys returns, following the pages."""
    return _pages(client, "ListKeys", "Keys", "KeyId", filters)


def list_all_key_ids(client, **filters) -> list[str]:
    """Every KeyId that ListKeyDetail returns for FILTERS, following the pages."""
    return _pages(client, "ListKeyDetail", "KeyMetadatas", "KeyId", filters)


def list_all_data_key_ids(client, **filters) -> list[str]:
    """Every DataKeyId that ListDataKeyDetail returns for FILTERS, following the pages."""
    return _pages(client, "ListDataKeyDetail", "DataKeyMetadatas", "DataKeyId", filters)
