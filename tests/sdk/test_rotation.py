"""Key rotation: Enable/DisableKeyRotation, GetKeyRotationStatus, RotateKey."""
from __future__ import annotations

import time

import pytest
from conftest import tencent_client
from kmsutil import (
    UUID_RE, call, call_error, call_error_in, call_error_prefix, create_key, decrypt, describe, encrypt, now, uid,
    unb64,
)

DAY = 86400
UNKNOWN = "00000000-0000-4000-8000-0000000000ff"


def rotation_enabled(client, key_id) -> bool:
    return call(client, "GetKeyRotationStatus", KeyId=key_id).KeyRotationEnabled


def test_rotation_off_by_default(kms):
    k = create_key(kms)
    assert rotation_enabled(kms, k) is False
    assert describe(kms, k).KeyRotationEnabled is False


def test_enable_rotation_default_period(kms):
    k = create_key(kms)
    t0 = now()
    call(kms, "EnableKeyRotation", KeyId=k)
    t1 = now()
    assert rotation_enabled(kms, k) is True
    md = describe(kms, k)
    assert md.KeyRotationEnabled is True
    assert md.RotateDays == 365
    assert t0 + 365 * DAY - 5 <= md.NextRotateTime <= t1 + 365 * DAY + 5


@pytest.mark.parametrize("days", [7, 30, 365])
def test_enable_rotation_period(kms, days):
    k = create_key(kms)
    t0 = now()
    call(kms, "EnableKeyRotation", KeyId=k, RotateDays=days)
    md = describe(kms, k)
    assert md.RotateDays == days
    assert t0 + days * DAY - 5 <= md.NextRotateTime <= now() + days * DAY + 5


@pytest.mark.parametrize("days", [0, 6, 366])
def test_enable_rotation_period_out_of_range(kms, days):
    k = create_key(kms)
    call_error_prefix(kms, "EnableKeyRotation", "InvalidParameterValue", KeyId=k, RotateDays=days)
    assert rotation_enabled(kms, k) is False


def test_disable_rotation(kms):
    k = create_key(kms)
    call(kms, "EnableKeyRotation", KeyId=k, RotateDays=90)
    call(kms, "DisableKeyRotation", KeyId=k)
    assert rotation_enabled(kms, k) is False
    assert describe(kms, k).KeyRotationEnabled is False


def test_rotation_errors(kms):
    for action in ("EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus", "RotateKey"):
        call_error(kms, action, "ResourceUnavailable.CmkNotFound", KeyId=UNKNOWN)
        call_error(kms, action, "InvalidParameterValue.InvalidKeyId", KeyId="nope")
        call_error(kms, action, "MissingParameter")


def test_external_keys_cannot_rotate(kms):
    ext = call(kms, "CreateKey", Alias=uid("ext"), Type=2).KeyId
    call_error(kms, "RotateKey", "UnsupportedOperation.ExternalCmkCanNotRotate", KeyId=ext)
    call_error(kms, "EnableKeyRotation", "UnsupportedOperation.ExternalCmkCanNotRotate", KeyId=ext)


def test_rotate_key_keeps_old_blobs_decryptable(kms):
    k = create_key(kms)
    before = encrypt(kms, k, b"written before rotation")
    ctx = '{"a":"b"}'
    before_ctx = encrypt(kms, k, b"with context", ctx)
    g = call(kms, "GenerateDataKey", KeyId=k, KeySpec="AES_256")
    t0 = now()
    r = call(kms, "RotateKey", KeyId=k)
    assert UUID_RE.match(r.TaskId), r.TaskId
    md = describe(kms, k)
    assert t0 - 1 <= md.LastRotateTime <= now() + 1
    assert md.KeyState == "Enabled"
    # old versions still decrypt
    assert decrypt(kms, before) == b"written before rotation"
    assert decrypt(kms, before_ctx, ctx) == b"with context"
    assert decrypt(kms, g.CiphertextBlob) == unb64(g.Plaintext)
    # new blobs use the new version and decrypt too
    after = encrypt(kms, k, b"written after rotation")
    assert decrypt(kms, after) == b"written after rotation"


def test_rotate_key_without_automatic_rotation(kms):
    k = create_key(kms)
    assert rotation_enabled(kms, k) is False
    call(kms, "RotateKey", KeyId=k)
    assert rotation_enabled(kms, k) is False  # manual rotation does not turn automatic rotation on


def test_reencrypt_after_rotation(kms):
    k = create_key(kms)
    old = encrypt(kms, k, b"re-encrypt me")
    ctx = '{"x":"y"}'
    old_ctx = encrypt(kms, k, b"ctx", ctx)
    call(kms, "RotateKey", KeyId=k)
    r = call(kms, "ReEncrypt", CiphertextBlob=old)
    assert r.ReEncrypted is True
    assert r.KeyId == r.SourceKeyId == k
    assert r.CiphertextBlob != old
    assert decrypt(kms, r.CiphertextBlob) == b"re-encrypt me"
    # a blob already on the newest version is returned unchanged
    again = call(kms, "ReEncrypt", CiphertextBlob=r.CiphertextBlob)
    assert again.ReEncrypted is False
    assert again.CiphertextBlob == r.CiphertextBlob
    # contexts carry over
    rc = call(kms, "ReEncrypt", CiphertextBlob=old_ctx, SourceEncryptionContext=ctx,
              DestinationEncryptionContext=ctx)
    assert rc.ReEncrypted is True
    assert decrypt(kms, rc.CiphertextBlob, ctx) == b"ctx"


def test_rotate_twice_within_a_day_is_limited(kms):
    k = create_key(kms)
    call(kms, "RotateKey", KeyId=k)
    call_error(kms, "RotateKey", "RequestLimitExceeded.RotateRateLimited", KeyId=k)
    # the limit is per key
    other = create_key(kms)
    call(kms, "RotateKey", KeyId=other)


def test_rotate_disabled_key(kms):
    k = create_key(kms)
    call(kms, "DisableKey", KeyId=k)
    call_error_in(kms, "RotateKey", {"ResourceUnavailable.CmkDisabled",
                                     "ResourceUnavailable.CmkStateNotSupport"}, KeyId=k)


@pytest.mark.slow
def test_rotation_interval_is_configurable(make_server):
    s = make_server(extra_args=["--no-rate-limit"],
                    config="[rotation]\nmin_manual_interval_secs = 2\n").start()
    c = tencent_client(s.endpoint)
    k = create_key(c)
    blobs = [encrypt(c, k, b"v1")]
    call(c, "RotateKey", KeyId=k)
    blobs.append(encrypt(c, k, b"v2"))
    call_error(c, "RotateKey", "RequestLimitExceeded.RotateRateLimited", KeyId=k)
    time.sleep(2.5)
    call(c, "RotateKey", KeyId=k)
    blobs.append(encrypt(c, k, b"v3"))
    first_rotation = describe(c, k).LastRotateTime
    assert first_rotation >= now() - 3
    # every version still decrypts, and an old blob re-encrypts to the newest version
    assert [decrypt(c, b) for b in blobs] == [b"v1", b"v2", b"v3"]
    for b in blobs[:2]:
        r = call(c, "ReEncrypt", CiphertextBlob=b)
        assert r.ReEncrypted is True
    assert call(c, "ReEncrypt", CiphertextBlob=blobs[2]).ReEncrypted is False


def test_rotation_survives_restart(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    c = tencent_client(s.endpoint)
    k = create_key(c)
    old = encrypt(c, k, b"old version")
    call(c, "EnableKeyRotation", KeyId=k, RotateDays=30)
    call(c, "RotateKey", KeyId=k)
    new = encrypt(c, k, b"new version")
    md = describe(c, k)
    s.stop()
    s.restart()
    c = tencent_client(s.endpoint)
    md2 = describe(c, k)
    assert (md2.KeyRotationEnabled, md2.RotateDays, md2.LastRotateTime, md2.NextRotateTime) == \
        (True, 30, md.LastRotateTime, md.NextRotateTime)
    assert decrypt(c, old) == b"old version"
    assert decrypt(c, new) == b"new version"
    call_error(c, "RotateKey", "RequestLimitExceeded.RotateRateLimited", KeyId=k)
