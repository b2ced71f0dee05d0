"""Alibaba KMS dialect: Encrypt / Decrypt / ReEncrypt, EncryptionContext, blob tampering, DryRun."""
from __future__ import annotations

import base64
import json
import uuid

import pytest

from alikms import (UUID_RE, b64, create_key, describe, old, old_client, old_expect, tea, tea_client,
                    tea_expect, uname, unb64)
from conftest import create_account


def _tamper(blob: str, pos: int) -> str:
    raw = bytearray(unb64(blob))
    raw[pos] ^= 0x01
    return b64(bytes(raw))


@pytest.mark.parametrize("text", ["hello world", "SGVsbG8=", "ünïcödé 你好 \u00a0 & = + / ? %", "x",
                                  '{"json": ["inside", 1]}'])
def test_encrypt_decrypt_string_verbatim(ali, ali_old, text):
    md = create_key(ali)
    enc = tea(ali, "Encrypt", KeyId=md["KeyId"], Plaintext=text)
    assert enc["KeyId"] == md["KeyId"]
    assert enc["KeyVersionId"] == md["PrimaryKeyVersion"]
    unb64(enc["CiphertextBlob"])
    for c in (ali, ali_old):
        dec = (tea if c is ali else old)(c, "Decrypt", CiphertextBlob=enc["CiphertextBlob"])
        assert dec["Plaintext"] == text
        assert dec["KeyId"] == md["KeyId"]
        assert dec["KeyVersionId"] == md["PrimaryKeyVersion"]


def test_encrypt_old_decrypt_tea(ali, ali_old):
    md = create_key(ali_old)
    enc = old(ali_old, "Encrypt", KeyId=md["KeyId"], Plaintext="from the old sdk")
    assert tea(ali, "Decrypt", CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == "from the old sdk"


def test_encryption_is_randomised(ali):
    k = create_key(ali)["KeyId"]
    a = tea(ali, "Encrypt", KeyId=k, Plaintext="same")["CiphertextBlob"]
    b = tea(ali, "Encrypt", KeyId=k, Plaintext="same")["CiphertextBlob"]
    assert a != b


def test_plaintext_size_limit(ali, ali_old):
    k = create_key(ali)["KeyId"]
    big = "a" * 6144
    blob = tea(ali, "Encrypt", KeyId=k, Plaintext=big)["CiphertextBlob"]
    assert old(ali_old, "Decrypt", CiphertextBlob=blob)["Plaintext"] == big
    tea_expect(ali, "Encrypt", "InvalidParameter", 400, KeyId=k, Plaintext="a" * 6145)
    # the limit is in bytes: 2049 three-byte characters are 6147 bytes
    old_expect(ali_old, "Encrypt", "InvalidParameter", 400, KeyId=k, Plaintext="你" * 2049)
    tea(ali, "Encrypt", KeyId=k, Plaintext="你" * 2048)


def test_missing_parameters(ali, ali_old):
    k = create_key(ali)["KeyId"]
    tea_expect(ali, "Encrypt", "MissingParameter", 400, KeyId=k)
    old_expect(ali_old, "Encrypt", "MissingParameter", 400, Plaintext="x")
    tea_expect(ali, "Decrypt", "MissingParameter", 400)
    tea_expect(ali, "DescribeKey", "MissingParameter", 400)


def test_encryption_context(ali, ali_old):
    k = create_key(ali)["KeyId"]
    ctx = {"purpose": "demo test", "tenant": "ü-42"}
    blob = tea(ali, "Encrypt", KeyId=k, Plaintext="bound", EncryptionContext=ctx)["CiphertextBlob"]
    # same context: dict through Tea, JSON with spaces and another key order through the old SDK
    assert tea(ali, "Decrypt", CiphertextBlob=blob, EncryptionContext=ctx)["Plaintext"] == "bound"
    spaced = json.dumps({"tenant": "ü-42", "purpose": "demo test"}, ensure_ascii=False)
    assert old(ali_old, "Decrypt", CiphertextBlob=blob, EncryptionContext=spaced)["Plaintext"] == "bound"
    escaped = json.dumps({"tenant": "ü-42", "purpose": "demo test"})  # \u00fc escapes
    assert old(ali_old, "Decrypt", CiphertextBlob=blob, EncryptionContext=escaped)["Plaintext"] == "bound"
    # wrong or missing context
    tea_expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=blob)
    tea_expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=blob,
               EncryptionContext={"purpose": "demo test"})
    tea_expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=blob,
               EncryptionContext={**ctx, "extra": "1"})
    old_expect(ali_old, "Decrypt", "InvalidParameter", 400, CiphertextBlob=blob,
               EncryptionContext='{"purpose": "demo test", "tenant": "u-42"}')
    # a context on a blob made without one
    plain = tea(ali, "Encrypt", KeyId=k, Plaintext="unbound")["CiphertextBlob"]
    tea_expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=plain, EncryptionContext=ctx)
    # not a JSON object
    for bad in ("not json", "[1,2]", '"str"', "{"):
        old_expect(ali_old, "Encrypt", "InvalidParameter", 400, KeyId=k, Plaintext="x", EncryptionContext=bad)


def test_tampered_and_truncated_blobs(ali, ali_old):
    k = create_key(ali)["KeyId"]
    blob = tea(ali, "Encrypt", KeyId=k, Plaintext="integrity")["CiphertextBlob"]
    n = len(unb64(blob))
    for pos in (0, n - 1, n - 17, n // 2 + 20):
        tea_expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=_tamper(blob, pos))
    for drop in (1, 16, n - 10):
        old_expect(ali_old, "Decrypt", "InvalidParameter", 400, CiphertextBlob=b64(unb64(blob)[:-drop]))
    for bad in ("!!!not base64!!!", b64(b"short"), b64(b"\x00" * 200)):
        tea_expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=bad)
    assert tea(ali, "Decrypt", CiphertextBlob=blob)["Plaintext"] == "integrity"


def test_other_accounts_blob(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    a = tea_client(s.endpoint)
    acct = create_account(s)
    b = tea_client(s.endpoint, ak=acct.secret_id, secret=acct.secret_key)
    b_old = old_client(s.endpoint, ak=acct.secret_id, secret=acct.secret_key)
    ka = create_key(a)
    kb = create_key(b)
    assert ka["Arn"].split(":")[3] != kb["Arn"].split(":")[3], (ka["Arn"], kb["Arn"])
    blob = tea(a, "Encrypt", KeyId=ka["KeyId"], Plaintext="a's secret")["CiphertextBlob"]
    tea_expect(b, "Decrypt", "InvalidParameter", 400, CiphertextBlob=blob)
    old_expect(b_old, "Decrypt", "InvalidParameter", 400, CiphertextBlob=blob)
    # keys of another account are not found by id either
    tea_expect(b, "DescribeKey", "Forbidden.KeyNotFound", 404, KeyId=ka["KeyId"])
    tea_expect(b, "Encrypt", "Forbidden.KeyNotFound", 404, KeyId=ka["Arn"], Plaintext="x")
    assert tea(a, "Decrypt", CiphertextBlob=blob)["Plaintext"] == "a's secret"
    # B's listings hold only B's keys; alias names are per account
    assert {k["KeyId"] for k in tea(b, "ListKeys", PageSize=100)["Keys"]["Key"]} == {kb["KeyId"]}
    name = uname()
    tea(a, "CreateAlias", AliasName=name, KeyId=ka["KeyId"])
    tea(b, "CreateAlias", AliasName=name, KeyId=kb["KeyId"])
    assert describe(a, name)["KeyId"] == ka["KeyId"]
    assert describe(b_old, name)["KeyId"] == kb["KeyId"]
    # an ARN naming another account never reaches that account's key
    other_acct = ka["Arn"].split(":")[3]
    tea_expect(b, "DescribeKey", "Forbidden.KeyNotFound", 404,
               KeyId=f"acs:kms:cn-hangzhou:{other_acct}:key/{kb['KeyId']}")


def test_reencrypt(ali, ali_old):
    src = create_key(ali)
    dst = create_key(ali)
    alias = uname()
    tea(ali, "CreateAlias", AliasName=alias, KeyId=dst["KeyId"])
    blob = tea(ali, "Encrypt", KeyId=src["KeyId"], Plaintext="moving", EncryptionContext={"a": "1"})["CiphertextBlob"]
    r = tea(ali, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=alias,
            SourceEncryptionContext={"a": "1"}, DestinationEncryptionContext={"b": "2"})
    assert r["KeyId"] == dst["KeyId"]
    assert r["KeyVersionId"] == dst["PrimaryKeyVersion"]
    assert "Plaintext" not in r
    dec = old(ali_old, "Decrypt", CiphertextBlob=r["CiphertextBlob"], EncryptionContext='{"b": "2"}')
    assert dec["Plaintext"] == "moving" and dec["KeyId"] == dst["KeyId"]
    tea_expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=r["CiphertextBlob"])
    # wrong source context
    tea_expect(ali, "ReEncrypt", "InvalidParameter", 400, CiphertextBlob=blob, DestinationKeyId=dst["KeyId"])
    # old SDK, by ARN
    r2 = old(ali_old, "ReEncrypt", CiphertextBlob=blob, DestinationKeyId=dst["Arn"],
             SourceEncryptionContext='{"a":"1"}')
    assert tea(ali, "Decrypt", CiphertextBlob=r2["CiphertextBlob"])["Plaintext"] == "moving"
    # destination disabled / unknown
    tea(ali, "DisableKey", KeyId=dst["KeyId"])
    tea_expect(ali, "ReEncrypt", "Rejected.Disabled", 409, CiphertextBlob=blob, DestinationKeyId=dst["KeyId"],
               SourceEncryptionContext={"a": "1"})
    tea_expect(ali, "ReEncrypt", "Forbidden.KeyNotFound", 404, CiphertextBlob=blob,
               DestinationKeyId=str(uuid.uuid4()), SourceEncryptionContext={"a": "1"})


def test_data_key_blob_reencrypt(ali):
    src = create_key(ali)["KeyId"]
    dst = create_key(ali)["KeyId"]
    g = tea(ali, "GenerateDataKey", KeyId=src)
    r = tea(ali, "ReEncrypt", CiphertextBlob=g["CiphertextBlob"], DestinationKeyId=dst)
    assert tea(ali, "Decrypt", CiphertextBlob=r["CiphertextBlob"])["Plaintext"] == g["Plaintext"]


# ------------------------------------------------------------------------------------------ DryRun


def test_dry_run_encrypt_decrypt_reencrypt(ali, ali_old):
    k = create_key(ali)["KeyId"]
    k2 = create_key(ali)["KeyId"]
    blob = tea(ali, "Encrypt", KeyId=k, Plaintext="x")["CiphertextBlob"]
    tea_expect(ali, "Encrypt", "DryRunOperationError", 400, KeyId=k, Plaintext="x", DryRun="true")
    old_expect(ali_old, "Encrypt", "DryRunOperationError", 400, KeyId=k, Plaintext="x", DryRun="true")
    tea_expect(ali, "Decrypt", "DryRunOperationError", 400, CiphertextBlob=blob, DryRun="true")
    tea_expect(ali, "ReEncrypt", "DryRunOperationError", 400, CiphertextBlob=blob, DestinationKeyId=k2,
               DryRun="true")
    tea_expect(ali, "Encrypt", "DryRunOperationError", 400, KeyId=k, Plaintext="x", DryRun="True")
    old_expect(ali_old, "Decrypt", "DryRunOperationError", 400, CiphertextBlob=blob, DryRun="TRUE")
    # DryRun=false is an ordinary call
    assert tea(ali, "Decrypt", CiphertextBlob=blob, DryRun="false")["Plaintext"] == "x"
    # invalid parameters with DryRun: ValidationError (the seed's DryRun results), not
    # DryRunOperationError; an unknown key keeps its own code
    tea_expect(ali, "Encrypt", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()), Plaintext="x", DryRun="true")
    tea_expect(ali, "Encrypt", "ValidationError", 400, KeyId=k, Plaintext="a" * 6145, DryRun="true")
    tea_expect(ali, "Encrypt", "ValidationError", 400, KeyId=k, DryRun="true")
    tea_expect(ali, "Decrypt", "ValidationError", 400, CiphertextBlob=_tamper(blob, len(unb64(blob)) - 1),
               DryRun="true")
    tea_expect(ali, "Decrypt", "ValidationError", 400, CiphertextBlob=blob, EncryptionContext={"a": "b"},
               DryRun="true")
    # the same mistakes without DryRun keep their ordinary codes
    tea_expect(ali, "Encrypt", "InvalidParameter", 400, KeyId=k, Plaintext="a" * 6145)
    tea_expect(ali, "Encrypt", "MissingParameter", 400, KeyId=k)
    tea(ali, "DisableKey", KeyId=k)
    tea_expect(ali, "Encrypt", "Rejected.Disabled", 409, KeyId=k, Plaintext="x", DryRun="true")


def test_encrypt_on_describe_matches_primary_version(ali):
    md = create_key(ali)
    enc = tea(ali, "Encrypt", KeyId=md["KeyId"], Plaintext="v")
    assert UUID_RE.match(enc["KeyVersionId"])
    assert enc["KeyVersionId"] == describe(ali, md["KeyId"])["PrimaryKeyVersion"]
    assert base64.b64decode(enc["CiphertextBlob"])


@pytest.mark.parametrize("text", ["*~!'()", "a+b c%20d%2A", "++  --", "~/.ssh/id_rsa?x=1&y=2#frag", "\t\n tab"])
def test_signature_canonicalisation_of_odd_characters(ali, ali_old, text):
    """Values whose form-encoding and RFC 3986 encoding differ: both SDKs' signatures must verify."""
    k = create_key(ali)["KeyId"]
    via_old = old(ali_old, "Encrypt", KeyId=k, Plaintext=text, EncryptionContext=json.dumps({"c": text}))
    via_tea = tea(ali, "Encrypt", KeyId=k, Plaintext=text, EncryptionContext={"c": text})
    for blob in (via_old["CiphertextBlob"], via_tea["CiphertextBlob"]):
        assert tea(ali, "Decrypt", CiphertextBlob=blob, EncryptionContext={"c": text})["Plaintext"] == text
        assert old(ali_old, "Decrypt", CiphertextBlob=blob, EncryptionContext=json.dumps({"c": text}))["Plaintext"] == text
