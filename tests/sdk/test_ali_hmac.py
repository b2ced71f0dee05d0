"""Alibaba KMS dialect, HMAC keys (issue 7; docs/key-types.md; spec section 6 "HMAC keys"):
CreateKey of HMAC_SHA256/384/512 and HMAC_SM3, GenerateMac / VerifyMac through the Tea SDK and the
old SDK's CommonRequest, MAC lengths, determinism, other keys and messages, wrong algorithm or key,
message limits, key states, DryRun, and MACs across CreateKeyVersion.

The HMAC key never leaves ferrokms, so the MAC cannot be recomputed here; what is checked instead is
what only a real keyed hash gives: a fixed length, the same MAC for the same message and key, other
MACs for other messages, keys and versions, and no MAC that is a plain unkeyed hash of the message.
"""
from __future__ import annotations

import hashlib
import os
import uuid

import pytest

from ali_asym import HMAC_SPECS, MAC, MAC_ALG, MAC_LEN, call, expect, flip, new_key
from alikms import b64, describe, old_client, tea_client, uname, unb64

SM3_OK = True
try:
    hashlib.new("sm3")
except ValueError:  # pragma: no cover - OpenSSL without SM3
    SM3_OK = False

UNKEYED = {"HMAC_SHA256": hashlib.sha256, "HMAC_SHA384": hashlib.sha384, "HMAC_SHA512": hashlib.sha512,
           "HMAC_SM3": (lambda m: hashlib.new("sm3", m)) if SM3_OK else None}


def _mac(client, key: str, spec: str, message: bytes) -> bytes:
    r = call(client, "GenerateMac", KeyId=key, Algorithm=MAC_ALG[spec], Message=b64(message))
    assert r["Algorithm"] == MAC_ALG[spec], r
    return unb64(r["Mac"])


def _verify(client, key: str, spec: str, message: bytes, mac: bytes) -> bool:
    r = call(client, "VerifyMac", KeyId=key, Algorithm=MAC_ALG[spec], Message=b64(message), Mac=b64(mac))
    assert r["Algorithm"] == MAC_ALG[spec], r
    assert isinstance(r["Value"], bool), r
    return r["Value"]


@pytest.mark.parametrize("spec", HMAC_SPECS)
@pytest.mark.parametrize("with_usage", [True, False], ids=["usage", "no-usage"])
def test_create_hmac_key(ali, ali_old, spec, with_usage):
    md = new_key(ali if with_usage else ali_old, spec, MAC if with_usage else None)
    assert md["KeyUsage"] == MAC and md["KeyState"] == "Enabled" and md["Origin"] == "Aliyun_KMS", md
    d = describe(ali, md["KeyId"])
    assert (d["KeySpec"], d["KeyUsage"], d["PrimaryKeyVersion"]) == (spec, MAC, md["PrimaryKeyVersion"]), d


@pytest.mark.parametrize("spec", HMAC_SPECS)
def test_generate_and_verify_mac(ali, ali_old, spec):
    md = new_key(ali, spec, MAC)
    k = md["KeyId"]
    message = os.urandom(100)
    mac = _mac(ali, k, spec, message)
    assert len(mac) == MAC_LEN[spec]
    # deterministic, and the same through the old SDK (HMAC-SHA1 RPC CommonRequest) and by ARN/alias
    alias = uname("mac")
    call(ali, "CreateAlias", AliasName=alias, KeyId=k)
    assert _mac(ali_old, k, spec, message) == mac
    for ref in (alias, md["Arn"]):
        r = call(ali, "GenerateMac", KeyId=ref, Algorithm=MAC_ALG[spec], Message=b64(message))
        assert unb64(r["Mac"]) == mac and r["KeyId"] == k, r
        r = call(ali, "VerifyMac", KeyId=ref, Algorithm=MAC_ALG[spec], Message=b64(message), Mac=b64(mac))
        assert r["Value"] is True and r["KeyId"] == k, r
    # keyed: not the bare hash of the message, and another key gives another MAC
    if UNKEYED[spec] is not None:
        assert mac != UNKEYED[spec](message).digest()
    other = new_key(ali, spec)
    other_mac = _mac(ali, other["KeyId"], spec, message)
    assert len(other_mac) == MAC_LEN[spec] and other_mac != mac
    # another message, another MAC
    macs = {_mac(ali, k, spec, m) for m in (b"a", b"b", message + b"\x00", message[:-1])}
    assert len(macs) == 4 and mac not in macs
    # VerifyMac: true for its own MAC, false (not an error) for anything else
    assert _verify(ali, k, spec, message, mac) is True
    assert _verify(ali_old, k, spec, message, mac) is True
    for bad in (flip(mac), flip(mac, 0), mac[:-1], mac + b"\x00", mac[:16], other_mac, b"\x00" * len(mac)):
        assert _verify(ali, k, spec, message, bad) is False, bad.hex()
    assert _verify(ali, k, spec, message + b"!", mac) is False
    assert _verify(ali_old, other["KeyId"], spec, message, mac) is False


@pytest.mark.parametrize("spec", HMAC_SPECS)
def test_wrong_algorithm_for_the_spec(ali, ali_old, spec):
    md = new_key(ali, spec)
    mac = _mac(ali, md["KeyId"], spec, b"m")
    for alg in ["HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512", "HMAC_SM3", "HMAC_SHA_224", "HMAC_SHA256",
                "hmac_sha_256", "SHA_256", "HMAC_MD5"]:
        if alg == MAC_ALG[spec]:
            continue
        for i, (action, extra) in enumerate((("GenerateMac", {}), ("VerifyMac", {"Mac": b64(mac)}))):
            err = expect(ali_old if i else ali, action, "InvalidParameter", 400, KeyId=md["KeyId"], Algorithm=alg,
                         Message=b64(b"m"), **extra)
            assert "Algorithm" in err.message, err
    expect(ali, "GenerateMac", "MissingParameter", 400, KeyId=md["KeyId"], Message=b64(b"m"))


@pytest.mark.parametrize("spec,usage", [("Aliyun_AES_256", None), ("Aliyun_SM4", None), ("RSA_2048", "SIGN/VERIFY"),
                                        ("RSA_2048", "ENCRYPT/DECRYPT"), ("EC_P256", None), ("EC_SM2", "SIGN/VERIFY"),
                                        ("ML_DSA_65", None)])
def test_mac_with_a_key_that_is_not_hmac(ali, ali_old, spec, usage):
    md = new_key(ali, spec, usage)
    for alg in ("HMAC_SHA_256", "HMAC_SM3"):
        for client in (ali, ali_old):
            err = expect(client, "GenerateMac", "InvalidParameter", 400, KeyId=md["KeyId"], Algorithm=alg,
                         Message=b64(b"m"))
            assert "KeyUsage" in err.message, err
            expect(client, "VerifyMac", "InvalidParameter", 400, KeyId=md["KeyId"], Algorithm=alg, Message=b64(b"m"),
                   Mac=b64(os.urandom(32)))


def test_hmac_key_refuses_other_actions(ali):
    md = new_key(ali, "HMAC_SHA384")
    k, v = md["KeyId"], md["PrimaryKeyVersion"]
    for action, params in (
        ("Encrypt", dict(KeyId=k, Plaintext="x")),
        ("GenerateDataKey", dict(KeyId=k)),
        ("AsymmetricSign", dict(KeyId=k, KeyVersionId=v, Algorithm="ECDSA_SHA_384", Digest=b64(os.urandom(48)))),
        ("AsymmetricEncrypt", dict(KeyId=k, KeyVersionId=v, Algorithm="RSAES_OAEP_SHA_256", Plaintext=b64(b"x"))),
        ("GetPublicKey", dict(KeyId=k, KeyVersionId=v)),
    ):
        expect(ali, action, "InvalidParameter", 400, **params)


def test_message_limits(ali):
    md = new_key(ali, "HMAC_SHA512")
    k = md["KeyId"]
    big = os.urandom(4096)
    mac = _mac(ali, k, "HMAC_SHA512", big)
    assert _verify(ali, k, "HMAC_SHA512", big, mac) is True
    for action, extra in (("GenerateMac", {}), ("VerifyMac", {"Mac": b64(mac)})):
        expect(ali, action, "InvalidParameter", 400, KeyId=k, Algorithm="HMAC_SHA_512", Message=b64(big + b"x"),
               **extra)
        expect(ali, action, "InvalidParameter", 400, KeyId=k, Algorithm="HMAC_SHA_512", Message="not base64!", **extra)
        expect(ali, action, "MissingParameter", 400, KeyId=k, Algorithm="HMAC_SHA_512", **extra)
    expect(ali, "VerifyMac", "InvalidParameter", 400, KeyId=k, Algorithm="HMAC_SHA_512", Message=b64(b"m"),
           Mac="%%notbase64")
    expect(ali, "VerifyMac", "MissingParameter", 400, KeyId=k, Algorithm="HMAC_SHA_512", Message=b64(b"m"))
    expect(ali, "GenerateMac", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()), Algorithm="HMAC_SHA_512",
           Message=b64(b"m"))
    expect(ali, "GenerateMac", "Forbidden.AliasNotFound", 404, KeyId=uname("none"), Algorithm="HMAC_SHA_512",
           Message=b64(b"m"))
    expect(ali, "GenerateMac", "MissingParameter", 400, Algorithm="HMAC_SHA_512", Message=b64(b"m"))


def test_mac_before_create_key_version_still_verifies(ali, ali_old):
    md = new_key(ali, "HMAC_SHA256")
    k = md["KeyId"]
    message = b"made before the new version"
    mac1 = _mac(ali, k, "HMAC_SHA256", message)
    v2 = call(ali, "CreateKeyVersion", KeyId=k)["KeyVersion"]["KeyVersionId"]
    assert describe(ali, k)["PrimaryKeyVersion"] == v2 != md["PrimaryKeyVersion"]
    mac2 = _mac(ali, k, "HMAC_SHA256", message)
    assert mac2 != mac1, "GenerateMac after CreateKeyVersion should use the new version's key"
    assert len(mac2) == 32
    assert _verify(ali, k, "HMAC_SHA256", message, mac1) is True
    assert _verify(ali_old, k, "HMAC_SHA256", message, mac1) is True
    assert _verify(ali, k, "HMAC_SHA256", message, mac2) is True
    assert _verify(ali, k, "HMAC_SHA256", message, flip(mac1)) is False


def test_macs_of_every_version_verify(ali_rot_server):
    c, o = tea_client(ali_rot_server.endpoint), old_client(ali_rot_server.endpoint)
    md = new_key(c, "HMAC_SM3")
    k = md["KeyId"]
    macs = [_mac(c, k, "HMAC_SM3", b"m")]
    for _ in range(3):
        call(c, "CreateKeyVersion", KeyId=k)
        macs.append(_mac(c, k, "HMAC_SM3", b"m"))
    assert len(set(macs)) == 4 and all(len(m) == 32 for m in macs)
    for m in macs:
        assert _verify(o, k, "HMAC_SM3", b"m", m) is True
        assert _verify(c, k, "HMAC_SM3", b"n", m) is False
    assert call(c, "ListKeyVersions", KeyId=k)["TotalCount"] == 4


def test_key_states(ali, ali_old):
    md = new_key(ali, "HMAC_SHA384")
    k = md["KeyId"]
    mac = _mac(ali, k, "HMAC_SHA384", b"m")
    gen = dict(KeyId=k, Algorithm="HMAC_SHA_384", Message=b64(b"m"))
    ver = dict(gen, Mac=b64(mac))
    call(ali, "DisableKey", KeyId=k)
    for client in (ali, ali_old):
        expect(client, "GenerateMac", "Rejected.Disabled", 409, **gen)
        expect(client, "VerifyMac", "Rejected.Disabled", 409, **ver)
    expect(ali, "GenerateMac", "Rejected.Disabled", 409, DryRun="true", **gen)
    call(ali, "EnableKey", KeyId=k)
    assert _mac(ali, k, "HMAC_SHA384", b"m") == mac
    call(ali, "ScheduleKeyDeletion", KeyId=k, PendingWindowInDays=7)
    expect(ali, "GenerateMac", "Rejected.PendingDeletion", 409, **gen)
    expect(ali_old, "VerifyMac", "Rejected.PendingDeletion", 409, **ver)
    call(ali, "CancelKeyDeletion", KeyId=k)
    assert _verify(ali, k, "HMAC_SHA384", b"m", mac) is True


def test_dry_run(ali, ali_old):
    md = new_key(ali, "HMAC_SHA256")
    k = md["KeyId"]
    mac = _mac(ali, k, "HMAC_SHA256", b"m")
    gen = dict(KeyId=k, Algorithm="HMAC_SHA_256", Message=b64(b"m"))
    for client in (ali, ali_old):
        expect(client, "GenerateMac", "DryRunOperationError", 400, DryRun="true", **gen)
        expect(client, "VerifyMac", "DryRunOperationError", 400, DryRun="true", Mac=b64(mac), **gen)
        # a MAC that does not verify is an answer (false): DryRun would succeed
        expect(client, "VerifyMac", "DryRunOperationError", 400, DryRun="true", Mac=b64(flip(mac)), **gen)
    assert unb64(call(ali, "GenerateMac", DryRun="false", **gen)["Mac"]) == mac
    invalid = [
        ("GenerateMac", dict(gen, Algorithm="HMAC_SHA_512")),
        ("GenerateMac", dict(gen, Message=b64(os.urandom(4097)))),
        ("GenerateMac", {k_: v for k_, v in gen.items() if k_ != "Message"}),
        ("VerifyMac", dict(gen, Mac="!!")),
        ("VerifyMac", dict(gen, Algorithm="HMAC_SM3", Mac=b64(mac))),
        ("GenerateMac", dict(gen, KeyId=new_key(ali, "Aliyun_AES_256")["KeyId"])),
    ]
    for i, (action, params) in enumerate(invalid):
        expect(ali if i % 2 else ali_old, action, "ValidationError", 400, DryRun="true", **params)
    expect(ali, "GenerateMac", "Forbidden.KeyNotFound", 404, DryRun="true", **dict(gen, KeyId=str(uuid.uuid4())))
