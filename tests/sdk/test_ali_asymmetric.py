"""Alibaba KMS dialect, asymmetric keys (issue 7; docs/key-types.md; spec sections 6, 8, 10, 13):
CreateKey of every asymmetric spec and usage, DescribeKey, ListKeys filters, GetPublicKey (id,
alias, ARN; versions), CreateKeyVersion, key states, wrong usage / algorithm / lengths, DryRun,
and the refusal of automatic rotation. Interop with openssl / cryptography is in
test_ali_asym_interop.py, HMAC keys in test_ali_hmac.py, imported keys in test_ali_byok.py.
"""
from __future__ import annotations

import json
import os
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, mldsa, mlkem, rsa

from ali_asym import (ALL_ENC_ALGS, ALL_SIGN_ALGS, ASYMMETRIC, ED, ENC_ALGS, MAC, OAEP_MAX,
                      RSA_BYTES, SIGN_ALGS, SM2_SPKI_PREFIX, SV, Files, call, call_err, cryptography_verify, digest_for,
                      expect, flip, load_public, new_key, openssl, pem_to_der, public_pem)
from alikms import UUID_RE, b64, describe, old_client, tea_client, uname, unb64

#: What CreateKey gives a spec without KeyUsage (docs/key-types.md: "encrypt/decrypt where the
#: spec has it, else its only one").
DEFAULT_USAGE = {"RSA_2048": ED, "RSA_3072": ED, "EC_SM2": ED, "EC_P256": SV, "EC_P256K": SV, "EC_P384": SV,
                 "ML_KEM_768": ED, "ML_DSA_65": SV}

#: Specs and usages CreateKey must refuse (400 InvalidParameter).
INVALID_COMBOS = [
    ("EC_P256", ED), ("EC_P256K", ED), ("EC_P384", ED), ("ML_DSA_65", ED), ("ML_KEM_768", SV),
    ("RSA_2048", MAC), ("RSA_3072", MAC), ("EC_SM2", MAC), ("EC_P256", MAC), ("ML_DSA_65", MAC),
    ("HMAC_SHA256", ED), ("HMAC_SHA256", SV), ("HMAC_SM3", SV), ("HMAC_SHA512", ED),
    ("Aliyun_AES_256", SV), ("Aliyun_AES_256", MAC), ("Aliyun_SM4", SV),
    ("RSA_2048", "SIGN"), ("RSA_2048", "ENCRYPT_DECRYPT"), ("RSA_2048", "sign/verify"),
    ("RSA_2048", "ASYMMETRIC_SIGN_VERIFY_RSA_2048"), ("EC_P256", "SIGN_VERIFY"),
    ("RSA_4096", None), ("EC_P521", None), ("rsa_2048", None), ("EC_SECP256K1", None), ("SM2", None),
    ("HMAC_SHA_256", None), ("HMAC_SHA224", None), ("ML_KEM_1024", None), ("ML_DSA_44", None),
    ("ASYMMETRIC_SIGN_VERIFY_ECC", None),
]


def _version(md: dict) -> str:
    v = md["PrimaryKeyVersion"]
    assert UUID_RE.match(v), md
    return v


def _sign(client, md, alg, message, version=None):
    version = version or md["PrimaryKeyVersion"]
    pem = public_pem(client, md["KeyId"], version) if alg == "SM2DSA" else None
    digest = digest_for(alg, message, pem)
    r = call(client, "AsymmetricSign", KeyId=md["KeyId"], KeyVersionId=version, Algorithm=alg, Digest=b64(digest))
    assert r["KeyId"] == md["KeyId"] and r["KeyVersionId"] == version, r
    return digest, unb64(r["Value"])


def _verify(client, md, alg, digest, sig, version=None) -> bool:
    version = version or md["PrimaryKeyVersion"]
    r = call(client, "AsymmetricVerify", KeyId=md["KeyId"], KeyVersionId=version, Algorithm=alg,
             Digest=b64(digest), Value=b64(sig))
    assert r["KeyId"] == md["KeyId"] and r["KeyVersionId"] == version, r
    assert isinstance(r["Value"], bool), r
    return r["Value"]


# ------------------------------------------------------------------------------------------ CreateKey


@pytest.mark.parametrize("spec,usage", ASYMMETRIC, ids=[f"{s}-{u[:4]}" for s, u in ASYMMETRIC])
def test_create_and_describe_every_spec_and_usage(ali, spec, usage):
    md = new_key(ali, spec, usage, Description=f"{spec} {usage}")
    assert md["KeyState"] == "Enabled" and md["Origin"] == "Aliyun_KMS", md
    assert md["KeyUsage"] == usage and md["KeySpec"] == spec, md
    assert md["AutomaticRotation"] == "Disabled" and md["ProtectionLevel"] == "SOFTWARE", md
    assert md["Arn"] == f"acs:kms:cn-hangzhou:{md['Arn'].split(':')[3]}:key/{md['KeyId']}", md
    version = _version(md)
    alias = uname("asym")
    call(ali, "CreateAlias", AliasName=alias, KeyId=md["KeyId"])
    for ref in (md["KeyId"], alias, md["Arn"]):
        d = describe(ali, ref)
        assert (d["KeyId"], d["KeySpec"], d["KeyUsage"], d["PrimaryKeyVersion"], d["KeyState"]) == \
            (md["KeyId"], spec, usage, version, "Enabled"), d
        assert d["Description"] == f"{spec} {usage}"
    versions = call(ali, "ListKeyVersions", KeyId=md["KeyId"])
    assert versions["TotalCount"] == 1
    assert [v["KeyVersionId"] for v in versions["KeyVersions"]["KeyVersion"]] == [version]
    dv = call(ali, "DescribeKeyVersion", KeyId=md["KeyId"], KeyVersionId=version)["KeyVersion"]
    assert dv["KeyId"] == md["KeyId"] and dv["KeyVersionId"] == version


@pytest.mark.parametrize("spec", sorted(DEFAULT_USAGE))
def test_create_key_default_usage(ali, spec):
    md = new_key(ali, spec)
    assert md["KeyUsage"] == DEFAULT_USAGE[spec], md
    assert describe(ali, md["KeyId"])["KeyUsage"] == DEFAULT_USAGE[spec]


@pytest.mark.parametrize("spec,usage", [("RSA_2048", SV), ("EC_SM2", ED), ("EC_P256K", None), ("ML_DSA_65", SV)])
def test_create_key_old_sdk(ali, ali_old, spec, usage):
    md = new_key(ali_old, spec, usage)
    assert md["KeyUsage"] == (usage or DEFAULT_USAGE[spec]), md
    d = describe(ali, md["KeyId"])
    assert d["KeySpec"] == spec and d["PrimaryKeyVersion"] == md["PrimaryKeyVersion"], d
    assert public_pem(ali_old, md["KeyId"], md["PrimaryKeyVersion"]) == public_pem(ali, md["KeyId"],
                                                                                    md["PrimaryKeyVersion"])


def test_create_key_invalid_combinations_write_nothing(make_server):
    """Every refused CreateKey is 400 InvalidParameter (both SDKs), and no key is made."""
    s = make_server(extra_args=["--no-rate-limit"]).start()
    c, o = tea_client(s.endpoint), old_client(s.endpoint)
    for i, (spec, usage) in enumerate(INVALID_COMBOS):
        params = {"KeySpec": spec} if usage is None else {"KeySpec": spec, "KeyUsage": usage}
        err = expect(c if i % 2 == 0 else o, "CreateKey", "InvalidParameter", 400, **params)
        assert ("KeyUsage" if usage is not None else "KeySpec") in err.message, (params, err)
    # asymmetric and HMAC keys neither import material nor rotate on a schedule
    for spec in ("RSA_2048", "EC_SM2", "EC_P256", "ML_KEM_768", "HMAC_SHA256"):
        expect(c, "CreateKey", "UnsupportedOperation", 400, KeySpec=spec, Origin="EXTERNAL")
        expect(o, "CreateKey", "UnsupportedOperation", 400, KeySpec=spec, EnableAutomaticRotation=True,
               RotationInterval="30d")
    body = call(c, "ListKeys", PageSize=100)
    assert body["TotalCount"] == 0 and body["Keys"]["Key"] == [], body


# ------------------------------------------------------------------------------------------ ListKeys filters


def _listed(client, filters) -> set[str]:
    ids, page = set(), 1
    while True:
        body = call(client, "ListKeys", Filters=json.dumps(filters), PageNumber=page, PageSize=5)
        got = [k["KeyId"] for k in body["Keys"]["Key"]]
        ids |= set(got)
        if page * 5 >= body["TotalCount"]:
            assert len(ids) == body["TotalCount"], (filters, body)
            return ids
        page += 1


def test_list_keys_by_spec_and_usage(make_server):
    s = make_server(extra_args=["--no-rate-limit"]).start()
    c, o = tea_client(s.endpoint), old_client(s.endpoint)
    made: dict[str, tuple[str, str]] = {}
    for spec, usage in ASYMMETRIC + [("HMAC_SHA256", MAC), ("HMAC_SM3", MAC), ("Aliyun_AES_256", ED),
                                     ("Aliyun_SM4", ED)]:
        made[new_key(c, spec, usage)["KeyId"]] = (spec, usage)

    def where(pred):
        return {k for k, (spec, usage) in made.items() if pred(spec, usage)}

    cases = [
        ([{"Key": "KeySpec", "Values": ["RSA_2048"]}], where(lambda s, u: s == "RSA_2048")),
        ([{"Key": "KeySpec", "Values": ["EC_P256", "EC_P256K", "EC_P384"]}], where(lambda s, u: s.startswith("EC_P"))),
        ([{"Key": "KeySpec", "Values": ["ML_KEM_768", "ML_DSA_65"]}], where(lambda s, u: s.startswith("ML_"))),
        ([{"Key": "KeySpec", "Values": ["HMAC_SHA256"]}], where(lambda s, u: s == "HMAC_SHA256")),
        ([{"Key": "KeyUsage", "Values": [SV]}], where(lambda s, u: u == SV)),
        ([{"Key": "KeyUsage", "Values": [ED]}], where(lambda s, u: u == ED)),
        ([{"Key": "KeyUsage", "Values": [MAC]}], where(lambda s, u: u == MAC)),
        ([{"Key": "KeyUsage", "Values": [SV, MAC]}], where(lambda s, u: u in (SV, MAC))),
        ([{"Key": "KeyUsage", "Values": [ED, SV]}], where(lambda s, u: u in (ED, SV))),
        ([{"Key": "KeySpec", "Values": ["RSA_2048", "RSA_3072", "EC_SM2"]}, {"Key": "KeyUsage", "Values": [ED]}],
         where(lambda s, u: s in ("RSA_2048", "RSA_3072", "EC_SM2") and u == ED)),
        ([{"Key": "KeySpec", "Values": ["EC_P256"]}, {"Key": "KeyUsage", "Values": [ED]}], set()),
        ([{"Key": "KeySpec", "Values": ["RSA_3072"]}, {"Key": "KeyState", "Values": ["Enabled"]}],
         where(lambda s, u: s == "RSA_3072")),
    ]
    for filters, want in cases:
        assert _listed(c, filters) == want, filters
    assert _listed(o, cases[4][0]) == cases[4][1]
    for bad in ([{"Key": "KeySpec", "Values": ["RSA_4096"]}], [{"Key": "KeyUsage", "Values": ["SIGN_VERIFY"]}]):
        expect(c, "ListKeys", "InvalidParameter", 400, Filters=json.dumps(bad))


# ------------------------------------------------------------------------------------------ GetPublicKey


def _check_public_key(spec: str, pem: str, files: Files) -> None:
    """The PEM is an SPKI of SPEC's kind, as cryptography and openssl read it."""
    der = pem_to_der(pem)
    if spec == "EC_SM2":
        # cryptography has no SM2 curve: the exact form of spec section 13, and openssl's reading
        assert len(der) == 91 and der.startswith(SM2_SPKI_PREFIX), der.hex()
        text = openssl("pkey", "-pubin", "-in", files.write(pem, ".pem"), "-noout", "-text").stdout.decode()
        assert "ASN1 OID: SM2" in text, text
        return
    key = load_public(pem)
    if spec.startswith("RSA_"):
        assert isinstance(key, rsa.RSAPublicKey) and key.key_size == int(spec[4:]), spec
        assert key.public_numbers().e == 65537
    elif spec.startswith("EC_P"):
        want = {"EC_P256": "secp256r1", "EC_P256K": "secp256k1", "EC_P384": "secp384r1"}[spec]
        assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == want, (spec, key.curve.name)
    elif spec == "ML_KEM_768":
        assert isinstance(key, mlkem.MLKEM768PublicKey), type(key)
        assert len(key.public_bytes_raw()) == 1184
    elif spec == "ML_DSA_65":
        assert isinstance(key, mldsa.MLDSA65PublicKey), type(key)
        assert len(key.public_bytes_raw()) == 1952
    if not spec.startswith("ML_"):  # OpenSSL 3.0 knows no ML-KEM / ML-DSA
        out = openssl("pkey", "-pubin", "-in", files.write(pem, ".pem"), "-outform", "DER").stdout
        assert out == der, f"{spec}: openssl re-encodes the SPKI differently"


@pytest.mark.parametrize("spec,usage", ASYMMETRIC, ids=[f"{s}-{u[:4]}" for s, u in ASYMMETRIC])
def test_get_public_key(ali, ali_old, tmp_path, spec, usage):
    md = new_key(ali, spec, usage)
    version = _version(md)
    alias = uname("pub")
    call(ali, "CreateAlias", AliasName=alias, KeyId=md["KeyId"])
    pems = set()
    for client, ref in ((ali, md["KeyId"]), (ali, alias), (ali, md["Arn"]), (ali_old, alias), (ali_old, md["Arn"])):
        r = call(client, "GetPublicKey", KeyId=ref, KeyVersionId=version)
        assert r["KeyId"] == md["KeyId"] and r["KeyVersionId"] == version, r
        pems.add(r["PublicKey"])
    assert len(pems) == 1, "id, alias and ARN gave different public keys"
    _check_public_key(spec, pems.pop(), Files(tmp_path))
    # another key of the same spec has another public key
    other = new_key(ali, spec, usage)
    assert public_pem(ali, other["KeyId"], other["PrimaryKeyVersion"]) != public_pem(ali, md["KeyId"], version)


def test_get_public_key_errors(ali, ali_old):
    md = new_key(ali, "EC_P256")
    other = new_key(ali, "EC_P256")
    k = md["KeyId"]
    expect(ali, "GetPublicKey", "MissingParameter", 400, KeyId=k)
    expect(ali_old, "GetPublicKey", "MissingParameter", 400, KeyId=k)
    expect(ali, "GetPublicKey", "MissingParameter", 400, KeyVersionId=md["PrimaryKeyVersion"])
    for bad in (str(uuid.uuid4()), other["PrimaryKeyVersion"], "v1", "1"):
        expect(ali, "GetPublicKey", "Forbidden.KeyVersionNotFound", 404, KeyId=k, KeyVersionId=bad)
    expect(ali_old, "GetPublicKey", "Forbidden.KeyVersionNotFound", 404, KeyId=k, KeyVersionId=str(uuid.uuid4()))
    expect(ali, "GetPublicKey", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()),
           KeyVersionId=md["PrimaryKeyVersion"])
    expect(ali, "GetPublicKey", "Forbidden.AliasNotFound", 404, KeyId=uname("none"),
           KeyVersionId=md["PrimaryKeyVersion"])
    # keys without a public half: 400 InvalidParameter (KeyUsage)
    for spec in ("Aliyun_AES_256", "Aliyun_SM4", "HMAC_SHA256"):
        sym = new_key(ali, spec)
        err = expect(ali, "GetPublicKey", "InvalidParameter", 400, KeyId=sym["KeyId"],
                     KeyVersionId=sym["PrimaryKeyVersion"])
        assert "KeyUsage" in err.message, err


# ------------------------------------------------------------------------------------------ versions


@pytest.mark.parametrize("spec,usage", [("RSA_2048", SV), ("RSA_2048", ED), ("EC_SM2", ED), ("EC_SM2", SV),
                                        ("EC_P256", SV), ("EC_P384", SV), ("ML_DSA_65", SV), ("ML_KEM_768", ED)])
def test_create_key_version_makes_a_new_key_pair(ali, spec, usage):
    """A new version has a new public key; each version works by its KeyVersionId."""
    md = new_key(ali, spec, usage)
    k, v1 = md["KeyId"], _version(md)
    pub1 = public_pem(ali, k, v1)
    nv = call(ali, "CreateKeyVersion", KeyId=k)["KeyVersion"]
    v2 = nv["KeyVersionId"]
    assert UUID_RE.match(v2) and v2 != v1 and nv["KeyId"] == k, nv
    assert describe(ali, k)["PrimaryKeyVersion"] == v2
    assert {v["KeyVersionId"] for v in call(ali, "ListKeyVersions", KeyId=k)["KeyVersions"]["KeyVersion"]} == {v1, v2}
    pub2 = public_pem(ali, k, v2)
    assert pub2 != pub1
    assert public_pem(ali, k, v1) == pub1, "the old version's public key changed"
    if usage == SV:
        alg = SIGN_ALGS[spec][0]
        msg = os.urandom(64)
        d1, s1 = _sign(ali, md, alg, msg, v1)
        d2, s2 = _sign(ali, md, alg, msg, v2)
        assert _verify(ali, md, alg, d1, s1, v1) is True
        assert _verify(ali, md, alg, d2, s2, v2) is True
        if alg != "SM2DSA":  # (SM2: the digest depends on the version's public key)
            assert _verify(ali, md, alg, d1, s1, v2) is False, "version 2 verified version 1's signature"
            assert _verify(ali, md, alg, d2, s2, v1) is False
        if alg.startswith(("RSA_", "ECDSA_")):
            assert cryptography_verify(pub1, alg, d1, s1) and cryptography_verify(pub2, alg, d2, s2)
            assert not cryptography_verify(pub2, alg, d1, s1), "version 1 signed with version 2's key"
    elif spec != "ML_KEM_768":
        alg = ENC_ALGS[spec][0]
        pt = os.urandom(32)
        c1 = call(ali, "AsymmetricEncrypt", KeyId=k, KeyVersionId=v1, Algorithm=alg, Plaintext=b64(pt))
        c2 = call(ali, "AsymmetricEncrypt", KeyId=k, KeyVersionId=v2, Algorithm=alg, Plaintext=b64(pt))
        assert c1["KeyVersionId"] == v1 and c2["KeyVersionId"] == v2
        for c, v in ((c1, v1), (c2, v2)):
            r = call(ali, "AsymmetricDecrypt", KeyId=k, KeyVersionId=v, Algorithm=alg, CiphertextBlob=c["CiphertextBlob"])
            assert unb64(r["Plaintext"]) == pt and r["KeyVersionId"] == v
        expect(ali, "AsymmetricDecrypt", "InvalidParameter", 400, KeyId=k, KeyVersionId=v2, Algorithm=alg,
               CiphertextBlob=c1["CiphertextBlob"])


def test_many_versions(ali_rot_server):
    c = tea_client(ali_rot_server.endpoint)
    md = new_key(c, "EC_P256K")
    versions = [md["PrimaryKeyVersion"]]
    for _ in range(3):
        versions.append(call(c, "CreateKeyVersion", KeyId=md["Arn"])["KeyVersion"]["KeyVersionId"])
    pems = [public_pem(c, md["KeyId"], v) for v in versions]
    assert len(set(versions)) == 4 and len(set(pems)) == 4
    msg = b"signed by every version"
    for v, pem in zip(versions, pems):
        d, sig = _sign(c, md, "ECDSA_SHA_256", msg, v)
        assert cryptography_verify(pem, "ECDSA_SHA_256", d, sig)
        assert [_verify(c, md, "ECDSA_SHA_256", d, sig, w) for w in versions] == [w == v for w in versions]


# ------------------------------------------------------------------------------------------ rotation


@pytest.mark.parametrize("spec", ["RSA_2048", "EC_SM2", "EC_P256", "ML_DSA_65", "ML_KEM_768", "HMAC_SHA256"])
def test_automatic_rotation_refused(ali, ali_old, spec):
    md = new_key(ali, spec)
    for client in (ali, ali_old):
        expect(client, "UpdateRotationPolicy", "UnsupportedOperation", 400, KeyId=md["KeyId"],
               EnableAutomaticRotation=True, RotationInterval="30d")
    d = describe(ali, md["KeyId"])
    assert d["AutomaticRotation"] == "Disabled" and d["NextRotationDate"] == "" and d["RotationInterval"] == "", d
    # turning it off is fine
    call(ali, "UpdateRotationPolicy", KeyId=md["KeyId"], EnableAutomaticRotation=False)
    assert describe(ali, md["KeyId"])["AutomaticRotation"] == "Disabled"


# ------------------------------------------------------------------------------------------ states


def test_key_states(ali, ali_old):
    sign = new_key(ali, "RSA_2048", SV)
    enc = new_key(ali, "EC_SM2", ED)
    sv, ev = sign["PrimaryKeyVersion"], enc["PrimaryKeyVersion"]
    d = b64(os.urandom(32))
    sig = call(ali, "AsymmetricSign", KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="RSA_PKCS1_SHA_256",
               Digest=d)["Value"]
    ct = call(ali, "AsymmetricEncrypt", KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="SM2PKE",
              Plaintext=b64(b"state"))["CiphertextBlob"]
    calls = [
        ("GetPublicKey", dict(KeyId=sign["KeyId"], KeyVersionId=sv)),
        ("AsymmetricSign", dict(KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="RSA_PKCS1_SHA_256", Digest=d)),
        ("AsymmetricVerify", dict(KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="RSA_PKCS1_SHA_256", Digest=d,
                                  Value=sig)),
        ("GetPublicKey", dict(KeyId=enc["KeyId"], KeyVersionId=ev)),
        ("AsymmetricEncrypt", dict(KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="SM2PKE", Plaintext=b64(b"x"))),
        ("AsymmetricDecrypt", dict(KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="SM2PKE", CiphertextBlob=ct)),
    ]
    for k in (sign, enc):
        call(ali, "DisableKey", KeyId=k["KeyId"])
    for i, (action, params) in enumerate(calls):
        expect(ali if i % 2 else ali_old, action, "Rejected.Disabled", 409, **params)
        expect(ali, action, "Rejected.Disabled", 409, DryRun="true", **params)
    expect(ali, "CreateKeyVersion", "Rejected.Disabled", 409, KeyId=sign["KeyId"])
    for k in (sign, enc):
        call(ali, "EnableKey", KeyId=k["KeyId"])
    assert call(ali, "AsymmetricVerify", **calls[2][1])["Value"] is True
    assert unb64(call(ali, "AsymmetricDecrypt", **calls[5][1])["Plaintext"]) == b"state"
    for k in (sign, enc):
        call(ali, "ScheduleKeyDeletion", KeyId=k["KeyId"], PendingWindowInDays=7)
    for action, params in calls:
        expect(ali, action, "Rejected.PendingDeletion", 409, **params)
    for k in (sign, enc):
        call(ali, "CancelKeyDeletion", KeyId=k["KeyId"])
    assert call(ali, "AsymmetricVerify", **calls[2][1])["Value"] is True


# ------------------------------------------------------------------------------------------ bad input


def test_wrong_usage(ali, ali_old):
    """The wrong kind of key for the action: 400 InvalidParameter naming KeyUsage."""
    sign = new_key(ali, "RSA_2048", SV)
    enc = new_key(ali, "RSA_2048", ED)
    sm2s = new_key(ali, "EC_SM2", SV)
    kem = new_key(ali, "ML_KEM_768")
    aes = new_key(ali, "Aliyun_AES_256")
    mac = new_key(ali, "HMAC_SHA256")
    d = b64(os.urandom(32))
    pt = b64(b"wrong usage")
    rsa_ct = call(ali, "AsymmetricEncrypt", KeyId=enc["KeyId"], KeyVersionId=enc["PrimaryKeyVersion"],
                  Algorithm="RSAES_OAEP_SHA_256", Plaintext=pt)["CiphertextBlob"]
    blob = call(ali, "Encrypt", KeyId=aes["KeyId"], Plaintext="x")["CiphertextBlob"]
    bad = []
    for k in (sign, sm2s, aes, mac):
        bad.append(("AsymmetricEncrypt", dict(KeyId=k["KeyId"], KeyVersionId=k["PrimaryKeyVersion"],
                                              Algorithm="RSAES_OAEP_SHA_256", Plaintext=pt)))
        bad.append(("AsymmetricDecrypt", dict(KeyId=k["KeyId"], KeyVersionId=k["PrimaryKeyVersion"],
                                              Algorithm="RSAES_OAEP_SHA_256", CiphertextBlob=rsa_ct)))
    for k in (enc, kem, aes, mac):
        bad.append(("AsymmetricSign", dict(KeyId=k["KeyId"], KeyVersionId=k["PrimaryKeyVersion"],
                                           Algorithm="RSA_PSS_SHA_256", Digest=d)))
        bad.append(("AsymmetricVerify", dict(KeyId=k["KeyId"], KeyVersionId=k["PrimaryKeyVersion"],
                                             Algorithm="RSA_PSS_SHA_256", Digest=d, Value=d)))
    for k in (sign, enc, sm2s, kem):
        bad.append(("Encrypt", dict(KeyId=k["KeyId"], Plaintext="x")))
        bad.append(("GenerateDataKey", dict(KeyId=k["KeyId"])))
        bad.append(("GenerateDataKeyWithoutPlaintext", dict(KeyId=k["KeyId"])))
        bad.append(("ReEncrypt", dict(CiphertextBlob=blob, DestinationKeyId=k["KeyId"])))
    for i, (action, params) in enumerate(bad):
        err = expect(ali_old if i % 3 == 0 else ali, action, "InvalidParameter", 400, **params)
        assert "KeyUsage" in err.message, (action, params, err)
    # an asymmetric ciphertext is no CiphertextBlob
    expect(ali, "Decrypt", "InvalidParameter", 400, CiphertextBlob=rsa_ct)
    # and the keys still do what they are for
    assert unb64(call(ali, "AsymmetricDecrypt", KeyId=enc["KeyId"], KeyVersionId=enc["PrimaryKeyVersion"],
                      Algorithm="RSAES_OAEP_SHA_256", CiphertextBlob=rsa_ct)["Plaintext"]) == b"wrong usage"


@pytest.mark.parametrize("spec,usage", ASYMMETRIC, ids=[f"{s}-{u[:4]}" for s, u in ASYMMETRIC])
def test_wrong_algorithm(ali, spec, usage):
    """Every algorithm the spec does not have: 400 InvalidParameter naming Algorithm."""
    md = new_key(ali, spec, usage)
    k, v = md["KeyId"], md["PrimaryKeyVersion"]
    if usage == SV:
        good = SIGN_ALGS[spec]
        for alg in ALL_SIGN_ALGS + ["RSA_PSS_SHA_384", "ECDSA_SHA_512", "ECDSA", "rsa_pss_sha_256", "SM3"]:
            if alg in good:
                continue
            digest = os.urandom(48 if alg == "ECDSA_SHA_384" else 32)
            for action, extra in (("AsymmetricSign", {}), ("AsymmetricVerify", {"Value": b64(b"\x30\x00")})):
                err = expect(ali, action, "InvalidParameter", 400, KeyId=k, KeyVersionId=v, Algorithm=alg,
                             Digest=b64(digest), **extra)
                assert "Algorithm" in err.message, (spec, alg, err)
    else:
        good = ENC_ALGS.get(spec, [])
        for alg in ALL_ENC_ALGS + ["RSAES_PKCS1_V1_5", "SM2", "SM2_C1C3C2_ASN1", "RSAES_OAEP_SHA_512", "ML_KEM_768"]:
            if alg in good:
                continue
            err = expect(ali, "AsymmetricEncrypt", "InvalidParameter", 400, KeyId=k, KeyVersionId=v, Algorithm=alg,
                         Plaintext=b64(b"x"))
            assert "Algorithm" in err.message, (spec, alg, err)
            err = expect(ali, "AsymmetricDecrypt", "InvalidParameter", 400, KeyId=k, KeyVersionId=v, Algorithm=alg,
                         CiphertextBlob=b64(os.urandom(RSA_BYTES.get(spec, 120))))
            assert "Algorithm" in err.message, (spec, alg, err)
    # missing Algorithm
    action = "AsymmetricSign" if usage == SV else "AsymmetricEncrypt"
    field = {"Digest": b64(os.urandom(32))} if usage == SV else {"Plaintext": b64(b"x")}
    expect(ali, action, "MissingParameter", 400, KeyId=k, KeyVersionId=v, **field)


@pytest.mark.parametrize("spec,alg", [("RSA_2048", "RSA_PSS_SHA_256"), ("RSA_3072", "RSA_PKCS1_SHA_256"),
                                      ("EC_P256", "ECDSA_SHA_256"), ("EC_P256K", "ECDSA_SHA_256"),
                                      ("EC_P384", "ECDSA_SHA_384"), ("EC_SM2", "SM2DSA")])
def test_digest_length(ali, ali_old, spec, alg):
    """A Digest must be the algorithm's hash length (32; 48 for SHA-384)."""
    md = new_key(ali, spec, SV)
    k, v = md["KeyId"], md["PrimaryKeyVersion"]
    n = 48 if alg == "ECDSA_SHA_384" else 32
    r = call(ali, "AsymmetricSign", KeyId=k, KeyVersionId=v, Algorithm=alg, Digest=b64(os.urandom(n)))
    assert unb64(r["Value"])
    for wrong in sorted({1, n - 1, n + 1, 64, 16, 80 - n}):
        for action, extra in (("AsymmetricSign", {}), ("AsymmetricVerify", {"Value": r["Value"]})):
            expect(ali, action, "InvalidParameter", 400, KeyId=k, KeyVersionId=v, Algorithm=alg,
                   Digest=b64(os.urandom(wrong)), **extra)
    expect(ali_old, "AsymmetricSign", "InvalidParameter", 400, KeyId=k, KeyVersionId=v, Algorithm=alg,
           Digest=b64(os.urandom(n + 16)))
    for action, extra in (("AsymmetricSign", {}), ("AsymmetricVerify", {"Value": r["Value"]})):
        expect(ali, action, "InvalidParameter", 400, KeyId=k, KeyVersionId=v, Algorithm=alg, Digest="not base64!",
               **extra)
        expect(ali, action, "MissingParameter", 400, KeyId=k, KeyVersionId=v, Algorithm=alg, **extra)
    expect(ali, "AsymmetricVerify", "MissingParameter", 400, KeyId=k, KeyVersionId=v, Algorithm=alg,
           Digest=b64(os.urandom(n)))
    expect(ali, "AsymmetricVerify", "InvalidParameter", 400, KeyId=k, KeyVersionId=v, Algorithm=alg,
           Digest=b64(os.urandom(n)), Value="%%%")


@pytest.mark.parametrize("spec,alg", [("RSA_2048", "RSA_PSS_SHA_256"), ("EC_P256", "ECDSA_SHA_256"),
                                      ("EC_P384", "ECDSA_SHA_384"), ("EC_SM2", "SM2DSA"), ("ML_DSA_65", "ML_DSA_65")])
def test_bad_signatures_are_false_not_errors(ali, spec, alg):
    md = new_key(ali, spec, SV)
    msg = os.urandom(100)
    digest, sig = _sign(ali, md, alg, msg)
    assert _verify(ali, md, alg, digest, sig) is True
    for bad in (flip(sig), flip(sig, 0), flip(sig, len(sig) // 2), sig[:-1], sig + b"\x00", b"\x00",
                os.urandom(len(sig)), b"\x30\x06\x02\x01\x01\x02\x01\x01"):
        assert _verify(ali, md, alg, digest, bad) is False, bad.hex()[:40]
    assert _verify(ali, md, alg, flip(digest), sig) is False
    # another key of the same spec does not verify it
    other = new_key(ali, spec, SV)
    assert _verify(ali, other, alg, digest, sig) is False


def test_ciphertext_and_plaintext_limits(ali, ali_old):
    rsa_key = new_key(ali, "RSA_2048", ED)
    rsa3 = new_key(ali, "RSA_3072", ED)
    sm2 = new_key(ali, "EC_SM2", ED)
    for md in (rsa_key, rsa3):
        spec = md["KeySpec"]
        for alg in ENC_ALGS[spec]:
            n = OAEP_MAX[(spec, alg)]
            params = dict(KeyId=md["KeyId"], KeyVersionId=md["PrimaryKeyVersion"], Algorithm=alg)
            pt = os.urandom(n)
            ct = unb64(call(ali, "AsymmetricEncrypt", Plaintext=b64(pt), **params)["CiphertextBlob"])
            assert len(ct) == RSA_BYTES[spec]
            assert unb64(call(ali_old, "AsymmetricDecrypt", CiphertextBlob=b64(ct), **params)["Plaintext"]) == pt
            err = expect(ali, "AsymmetricEncrypt", "InvalidParameter", 400, Plaintext=b64(os.urandom(n + 1)), **params)
            assert "Plaintext" in err.message, err
            # ciphertexts: one byte longer or shorter than the modulus, tampered, random, too long, not base64
            for bad in (ct + b"\x00", ct[:-1], flip(ct), flip(ct, 0), os.urandom(len(ct)), os.urandom(6145)):
                expect(ali, "AsymmetricDecrypt", "InvalidParameter", 400, CiphertextBlob=b64(bad), **params)
            expect(ali, "AsymmetricDecrypt", "InvalidParameter", 400, CiphertextBlob="not base64!", **params)
            expect(ali, "AsymmetricDecrypt", "MissingParameter", 400, **params)
            expect(ali, "AsymmetricEncrypt", "InvalidParameter", 400, Plaintext="not base64!", **params)
            expect(ali, "AsymmetricEncrypt", "MissingParameter", 400, **params)
    params = dict(KeyId=sm2["KeyId"], KeyVersionId=sm2["PrimaryKeyVersion"], Algorithm="SM2PKE")
    ct = unb64(call(ali, "AsymmetricEncrypt", Plaintext=b64(b"s" * 100), **params)["CiphertextBlob"])
    for bad in (flip(ct), ct[:-1], ct + b"\x00", os.urandom(len(ct)), os.urandom(6145)):
        expect(ali, "AsymmetricDecrypt", "InvalidParameter", 400, CiphertextBlob=b64(bad), **params)


def test_sm2pke_largest_plaintext(ali):
    """SM2PKE takes plaintexts of up to 6047 bytes (spec section 9), and what AsymmetricEncrypt
    makes of them AsymmetricDecrypt opens."""
    md = new_key(ali, "EC_SM2", ED)
    params = dict(KeyId=md["KeyId"], KeyVersionId=md["PrimaryKeyVersion"], Algorithm="SM2PKE")
    for n in (1, 2000, 6000, 6047):
        pt = os.urandom(n)
        ct = call(ali, "AsymmetricEncrypt", Plaintext=b64(pt), **params)["CiphertextBlob"]
        assert unb64(call(ali, "AsymmetricDecrypt", CiphertextBlob=ct, **params)["Plaintext"]) == pt, n


def test_version_of_another_key(ali):
    """A KeyVersionId names a version of the key given, not any version."""
    a = new_key(ali, "RSA_2048", SV)
    b = new_key(ali, "RSA_2048", SV)
    d = b64(os.urandom(32))
    expect(ali, "AsymmetricSign", "Forbidden.KeyVersionNotFound", 404, KeyId=a["KeyId"],
           KeyVersionId=b["PrimaryKeyVersion"], Algorithm="RSA_PSS_SHA_256", Digest=d)
    expect(ali, "AsymmetricVerify", "Forbidden.KeyVersionNotFound", 404, KeyId=a["KeyId"],
           KeyVersionId=str(uuid.uuid4()), Algorithm="RSA_PSS_SHA_256", Digest=d, Value=d)
    expect(ali, "AsymmetricSign", "MissingParameter", 400, KeyId=a["KeyId"], Algorithm="RSA_PSS_SHA_256", Digest=d)
    expect(ali, "AsymmetricSign", "Forbidden.KeyNotFound", 404, KeyId=str(uuid.uuid4()),
           KeyVersionId=a["PrimaryKeyVersion"], Algorithm="RSA_PSS_SHA_256", Digest=d)


# ------------------------------------------------------------------------------------------ DryRun


def test_dry_run(ali, ali_old):
    """Valid: 400 DryRunOperationError; invalid parameters: 400 ValidationError; an unknown key or
    version keeps its 404 (as the existing DryRun tests of Encrypt / GenerateDataKey expect)."""
    sign = new_key(ali, "EC_P256")
    enc = new_key(ali, "RSA_3072", ED)
    sv, ev = sign["PrimaryKeyVersion"], enc["PrimaryKeyVersion"]
    digest = os.urandom(32)
    sig = call(ali, "AsymmetricSign", KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="ECDSA_SHA_256",
               Digest=b64(digest))["Value"]
    ct = call(ali, "AsymmetricEncrypt", KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="RSAES_OAEP_SHA_1",
              Plaintext=b64(b"dry"))["CiphertextBlob"]
    valid = [
        ("GetPublicKey", dict(KeyId=sign["KeyId"], KeyVersionId=sv)),
        ("AsymmetricSign", dict(KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="ECDSA_SHA_256", Digest=b64(digest))),
        ("AsymmetricVerify", dict(KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="ECDSA_SHA_256",
                                  Digest=b64(digest), Value=sig)),
        # a signature that does not verify is an answer (false), so this too would succeed
        ("AsymmetricVerify", dict(KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="ECDSA_SHA_256",
                                  Digest=b64(flip(digest)), Value=sig)),
        ("AsymmetricEncrypt", dict(KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="RSAES_OAEP_SHA_256",
                                   Plaintext=b64(b"x"))),
        ("AsymmetricDecrypt", dict(KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="RSAES_OAEP_SHA_1",
                                   CiphertextBlob=ct)),
    ]
    for action, params in valid:
        expect(ali, action, "DryRunOperationError", 400, DryRun="true", **params)
        expect(ali_old, action, "DryRunOperationError", 400, DryRun="true", **params)
        assert call(ali, action, DryRun="false", **params)["KeyId"] == params["KeyId"]
    invalid = [
        ("AsymmetricSign", dict(KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="ECDSA_SHA_256",
                                Digest=b64(os.urandom(31)))),
        ("AsymmetricSign", dict(KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="RSA_PSS_SHA_256", Digest=b64(digest))),
        ("AsymmetricSign", dict(KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="ECDSA_SHA_256")),
        ("AsymmetricVerify", dict(KeyId=sign["KeyId"], KeyVersionId=sv, Algorithm="ECDSA_SHA_256",
                                  Digest=b64(digest), Value="!!")),
        ("AsymmetricSign", dict(KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="RSA_PSS_SHA_256", Digest=b64(digest))),
        ("GetPublicKey", dict(KeyId=sign["KeyId"])),
        ("AsymmetricEncrypt", dict(KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="SM2PKE", Plaintext=b64(b"x"))),
        ("AsymmetricEncrypt", dict(KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="RSAES_OAEP_SHA_256",
                                   Plaintext=b64(os.urandom(319)))),
        ("AsymmetricDecrypt", dict(KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="RSAES_OAEP_SHA_256",
                                   CiphertextBlob=ct)),
        ("AsymmetricDecrypt", dict(KeyId=enc["KeyId"], KeyVersionId=ev, Algorithm="RSAES_OAEP_SHA_1",
                                   CiphertextBlob=b64(flip(unb64(ct))))),
    ]
    for i, (action, params) in enumerate(invalid):
        expect(ali if i % 2 else ali_old, action, "ValidationError", 400, DryRun="true", **params)
        assert call_code(ali, action, **params) in ("InvalidParameter", "MissingParameter")
    expect(ali, "AsymmetricSign", "Forbidden.KeyNotFound", 404, DryRun="true", KeyId=str(uuid.uuid4()),
           KeyVersionId=sv, Algorithm="ECDSA_SHA_256", Digest=b64(digest))
    expect(ali, "GetPublicKey", "Forbidden.KeyVersionNotFound", 404, DryRun="true", KeyId=sign["KeyId"],
           KeyVersionId=str(uuid.uuid4()))


def call_code(client, action, **params) -> str:
    return call_err(client, action, **params).code
