"""The root key in a PKCS#11 token (SoftHSM2, set up by scripts/test.sh): a data directory made
on the token, keys of every family through both official SDKs, a restart, decryption; a wrong PIN
or a missing key refuses to start with a clear message; rotation from a file root to the token."""
from __future__ import annotations

import os
import subprocess
import time
import uuid

import pytest

from alikms import tea, tea_client
from conftest import BIN, server_env, tencent_client
from kmsutil import call, call_error, create_key, decrypt, describe, encrypt, uid

MODULE = os.environ.get("FERROKMS_TEST_PKCS11_MODULE")


def fresh_token() -> str:
    if not MODULE or not os.environ.get("SOFTHSM2_CONF"):
        pytest.fail("SoftHSM2 is not set up: run scripts/test.sh (it installs softhsm2 and sets SOFTHSM2_CONF)")
    label = f"t{uuid.uuid4().hex[:20]}"
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", "1234", "--so-pin", "5678"],
                   check=True, capture_output=True)
    return label


def hsm_config(token: str, key: str = "ferrokms-root", pin_file: str | None = None) -> str:
    cfg = f'[root_key]\nsource = "pkcs11"\nmodule = "{MODULE}"\ntoken_label = "{token}"\nkey_label = "{key}"\n'
    if pin_file:
        cfg += f'pin_file = "{pin_file}"\n'
    return cfg


def test_data_directory_on_the_token_survives_a_restart(make_server):
    token = fresh_token()
    s = make_server(config=hsm_config(token), env={"FERROKMS_PKCS11_PIN": "1234"}, extra_args=["--no-rate-limit"])
    s.start()
    kms = tencent_client(s.endpoint)
    sym = create_key(kms)
    sm4_blob = encrypt(kms, sym, b"under the token")
    sm2 = create_key(kms, KeyUsage="ASYMMETRIC_SIGN_VERIFY_SM2")
    rsa = create_key(kms, KeyUsage="ASYMMETRIC_DECRYPT_RSA_2048")
    ali = tea_client(s.endpoint)
    hmac = tea(ali, "CreateKey", KeySpec="HMAC_SHA256", KeyUsage="GENERATE/VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = tea(ali, "GenerateMac", KeyId=hmac, Message="aGVsbG8=", Algorithm="HMAC_SHA_256")["Mac"]
    sig = call(kms, "SignByAsymmetricKey", KeyId=sm2, Algorithm="SM2DSA", Message="aGVsbG8=", MessageType="RAW")
    pub = call(kms, "GetPublicKey", KeyId=rsa).PublicKeyPem
    assert not (s.data_dir / "root.key").exists(), "no root key file in HSM mode"
    s.stop()
    s.restart()
    kms = tencent_client(s.endpoint)
    assert decrypt(kms, sm4_blob) == b"under the token"
    assert call(kms, "VerifyByAsymmetricKey", KeyId=sm2, SignatureValue=sig.Signature, Algorithm="SM2DSA",
                Message="aGVsbG8=", MessageType="RAW").SignatureValid
    assert call(kms, "GetPublicKey", KeyId=rsa).PublicKeyPem == pub
    assert tea(ali, "VerifyMac", KeyId=hmac, Message="aGVsbG8=", Algorithm="HMAC_SHA_256", Mac=mac)["Value"]
    status = subprocess.run([str(BIN), "admin", "--data-dir", str(s.data_dir), "status"], capture_output=True,
                            text=True, env=server_env(), timeout=30)
    assert "sealed: false" in status.stdout


def _refused_start(tmp_path, config: str, pin: str) -> str:
    cfg = tmp_path / "c.toml"
    cfg.write_text(config)
    env = server_env()
    env["FERROKMS_PKCS11_PIN"] = pin
    p = subprocess.run([str(BIN), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
                        "--config", str(cfg)], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode != 0, "the server must refuse to start"
    return p.stderr


def test_wrong_pin_and_missing_key_refuse_to_start(make_server, tmp_path):
    token = fresh_token()
    s = make_server(config=hsm_config(token), env={"FERROKMS_PKCS11_PIN": "1234"}).start()
    s.stop()
    cfg = (s.data_dir.parent / f"{s.data_dir.name}.toml").read_text()
    # Same data directory, wrong PIN.
    (tmp_path / "data").symlink_to(s.data_dir)
    assert "wrong PIN" in _refused_start(tmp_path, cfg, "0000")
    # The data directory names a key the token does not hold (deleted, or another token's).
    meta_path = s.data_dir / "ferrokms.json"
    meta_path.write_text(meta_path.read_text().replace('"ferrokms-root"', '"elsewhere"'))
    assert 'no AES key labelled "elsewhere"' in _refused_start(tmp_path, cfg, "1234")
    other = tmp_path / "other"
    other.mkdir()
    err = _refused_start(other, hsm_config("no-such-token"), "1234")
    assert "no PKCS#11 token labelled" in err


def test_rotation_from_a_file_root_into_the_token(make_server, tmp_path):
    token = fresh_token()
    pin_file = tmp_path / "pin"
    pin_file.write_text("1234\n")
    s = make_server(config=hsm_config(token, pin_file=str(pin_file)).replace('source = "pkcs11"', 'source = "file"'),
                    extra_args=["--no-rate-limit"]).start()
    kms = tencent_client(s.endpoint)
    items = []
    for i in range(20):
        key = create_key(kms)
        items.append((encrypt(kms, key, f"v{i}".encode()), f"v{i}".encode()))
    out = subprocess.run([str(BIN), "admin", "--data-dir", str(s.data_dir), "rotate-root", "--to", "pkcs11",
                          "--module", MODULE, "--token-label", token, "--key-label", "rotated"],
                         capture_output=True, text=True, env=server_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    for _ in range(100):
        st = subprocess.run([str(BIN), "admin", "--data-dir", str(s.data_dir), "status"], capture_output=True,
                            text=True, env=server_env(), timeout=30).stdout
        if "re-sealing: false" in st and "values sealed under root 2" in st and "under root 1" not in st:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(st)
    assert not (s.data_dir / "root.key").exists()
    s.stop()
    s.restart()
    for blob, data in items:
        assert decrypt(kms, blob) == data


def _status_until(data_dir, want, absent) -> str:
    st = ""
    for _ in range(150):
        st = subprocess.run([str(BIN), "admin", "--data-dir", str(data_dir), "status"], capture_output=True,
                            text=True, env=server_env(), timeout=30).stdout
        if "re-sealing: false" in st and want in st and absent not in st:
            return st
        time.sleep(0.2)
    raise AssertionError(st)


def test_hsm_cluster_id_names_the_token_and_follows_a_rotation_to_another_token(make_server):
    """Tencent's HsmClusterId names the token holding the root key (docs/compatibility.md); a
    rotation from one token's key to another token's moves every key there, online."""
    first, second = fresh_token(), fresh_token()
    s = make_server(config=hsm_config(first), env={"FERROKMS_PKCS11_PIN": "1234"},
                    extra_args=["--no-rate-limit"]).start()
    kms = tencent_client(s.endpoint)
    key = call(kms, "CreateKey", Alias=uid("hsm"), HsmClusterId=first)
    assert key.HsmClusterId == first
    assert describe(kms, key.KeyId).HsmClusterId == first
    call_error(kms, "CreateKey", "InvalidParameterValue.InvalidHsmClusterId", Alias=uid("h"),
               HsmClusterId="cls-elsewhere")
    call_error(kms, "GenerateDataKey", "InvalidParameterValue.InvalidHsmClusterId", KeyId=key.KeyId,
               KeySpec="AES_256", HsmClusterId=second)
    assert call(kms, "GenerateDataKey", KeyId=key.KeyId, KeySpec="AES_256", HsmClusterId=first).CiphertextBlob
    listed = call(kms, "ListKeyDetail", HsmClusterId=first, Limit=200)
    assert key.KeyId in [m.KeyId for m in listed.KeyMetadatas]
    assert all(m.HsmClusterId == first for m in listed.KeyMetadatas)
    assert call(kms, "ListKeyDetail", HsmClusterId="cls-elsewhere").TotalCount == 0
    blob = encrypt(kms, key.KeyId, b"moved between tokens")

    out = subprocess.run([str(BIN), "admin", "--data-dir", str(s.data_dir), "rotate-root", "--to", "pkcs11",
                          "--module", MODULE, "--token-label", second, "--key-label", "second-root"],
                         capture_output=True, text=True, env=server_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    _status_until(s.data_dir, "values sealed under root 2", "under root 1")
    assert describe(kms, key.KeyId).HsmClusterId == second
    assert call(kms, "ListKeyDetail", HsmClusterId=first).TotalCount == 0
    s.stop()
    s.restart()
    kms = tencent_client(s.endpoint)
    assert decrypt(kms, blob) == b"moved between tokens"
    assert describe(kms, key.KeyId).HsmClusterId == second
