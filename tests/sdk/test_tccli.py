"""The official tccli, run as a subprocess against ferrokms (plain http via --endpoint http://...)."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION
from kmsutil import uid

TCCLI = Path(sys.executable).parent / "tccli"


@pytest.fixture
def tccli(server, tmp_path):
    """Run `tccli kms ACTION --Param value ...`; returns (exit code, parsed JSON or None, all output)."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("TENCENTCLOUD_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"))}
    env.update(HOME=str(home), NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")

    def run(action: str, *, region: str = REGION, secret_id: str = ACCESS_KEY_ID,
            secret_key: str = ACCESS_KEY_SECRET, **params):
        cmd = [str(TCCLI), "kms", action, "--endpoint", server.url, "--secretId", secret_id,
               "--secretKey", secret_key, "--region", region]
        for k, v in params.items():
            cmd += [f"--{k}", v if isinstance(v, str) else json.dumps(v)]
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        out = p.stdout + p.stderr
        try:
            parsed = json.loads(p.stdout)
        except ValueError:
            parsed = None
        return p.returncode, parsed, out

    return run


def test_tccli_is_installed():
    assert TCCLI.exists(), f"tccli not found at {TCCLI}; pip install -r tests/requirements.txt"


def test_create_and_describe_key(tccli):
    alias = uid("cli")
    rc, out, text = tccli("CreateKey", Alias=alias, Description="made by tccli",
                          Tags=[{"TagKey": "via", "TagValue": "tccli"}])
    assert rc == 0, text
    assert out["Alias"] == alias and out["KeyState"] == "Enabled" and out["TagCode"] == 0
    assert out["RequestId"]
    rc, out2, text = tccli("DescribeKey", KeyId=out["KeyId"])
    assert rc == 0, text
    assert out2["KeyMetadata"]["Alias"] == alias
    assert out2["KeyMetadata"]["Description"] == "made by tccli"


def test_generate_data_key(tccli, kms):
    rc, key, text = tccli("CreateKey", Alias=uid("cli"))
    assert rc == 0, text
    rc, out, text = tccli("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_256")
    assert rc == 0, text
    assert len(base64.b64decode(out["Plaintext"])) == 32
    assert out["KeyId"] == key["KeyId"]
    # the SDK decrypts what tccli generated
    from kmsutil import decrypt
    assert decrypt(kms, out["CiphertextBlob"]) == base64.b64decode(out["Plaintext"])
    rc, out, text = tccli("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_128", NumberOfBytes=20,
                          EncryptionContext='{"k":"v"}')
    assert rc == 0, text
    assert len(base64.b64decode(out["Plaintext"])) == 20
    rc, dec, text = tccli("Decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext='{"k":"v"}')
    assert rc == 0, text
    assert dec["Plaintext"] == out["Plaintext"]


def test_hosted_data_key(tccli):
    rc, key, text = tccli("CreateKey", Alias=uid("cli"))
    assert rc == 0, text
    name = uid("clidk")
    rc, out, text = tccli("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_256", IsHostedByKms=1,
                          DataKeyName=name)
    assert rc == 0, text
    assert out["DataKeyId"]
    rc, md, text = tccli("DescribeDataKey", DataKeyId=out["DataKeyId"])
    assert rc == 0, text
    assert md["DataKeyMetadata"]["DataKeyName"] == name
    rc, _, text = tccli("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_256", IsHostedByKms=1,
                        DataKeyName=name)
    assert rc != 0
    assert "InvalidParameterValue.DataKeyNameAlreadyExists" in text


def test_encrypt_decrypt_round_trip(tccli):
    rc, key, text = tccli("CreateKey", Alias=uid("cli"))
    assert rc == 0, text
    secret = base64.b64encode(b"tccli says hello").decode()
    rc, enc, text = tccli("Encrypt", KeyId=key["KeyId"], Plaintext=secret)
    assert rc == 0, text
    rc, dec, text = tccli("Decrypt", CiphertextBlob=enc["CiphertextBlob"])
    assert rc == 0, text
    assert dec["Plaintext"] == secret
    assert dec["KeyId"] == key["KeyId"]


def test_error_exits_non_zero_with_code(tccli):
    rc, _, text = tccli("Decrypt", CiphertextBlob="definitely-not-a-blob")
    assert rc != 0
    assert "InvalidParameterValue.InvalidCiphertext" in text, text
    assert "requestId:" in text and "requestId:None" not in text, text


def test_not_found_error(tccli):
    rc, _, text = tccli("DescribeKey", KeyId="00000000-0000-4000-8000-000000000123")
    assert rc != 0
    assert "ResourceUnavailable.CmkNotFound" in text, text


def test_bad_credentials(tccli):
    rc, _, text = tccli("GetRegions", secret_key="wrong-secret-000000000000000000000")
    assert rc != 0
    assert "AuthFailure.SignatureFailure" in text, text


def test_unknown_region(tccli):
    rc, _, text = tccli("GetRegions", region="xx-nowhere-1")
    assert rc != 0
    assert "UnsupportedRegion" in text, text


def test_service_actions(tccli):
    rc, out, text = tccli("GetServiceStatus")
    assert rc == 0, text
    assert out["ServiceEnabled"] is True
    rc, out, text = tccli("GetRegions")
    assert rc == 0, text
    assert "ap-guangzhou" in out["Regions"]
    rc, out, text = tccli("GenerateRandom", NumberOfBytes=24)
    assert rc == 0, text
    assert len(base64.b64decode(out["Plaintext"])) == 24
