#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/): real requests signed as the
SDKs sign them (the worked examples of the API specs and unit tests, plus a few more signed here
with the same secrets), request bodies, blobs, public keys, contexts.

Run from anywhere: python3 fuzz/make_seeds.py. The output is deterministic, so the committed
corpus is exactly what this writes.
"""
import base64
import hashlib
import hmac
import json
import os
import struct
from urllib.parse import parse_qsl

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

RSA_PUB = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr1vfkeMYRmJMEJ4ZhPcC
tEXVi7kKDOLc5GC+NfgAXNh/TkSPaT8JfUOuBxWzXUXgZs0eaKjJiL90J0RbD/Kx
r5iJxRZASye0KKOdxS1c4zDF/AlYN2YlW+m3VHY7oz/Ib8LLHVmOoip6RK43qIS8
hM2D3GR/dynDX/N5TSVgrmJ4l/GMoFtxWuSGuNoCSE87tl3KlvJ7PZakZGjezoht
ueJwP5uFOpSMnpfdWD17RJfvEs0OXK/BfqyxFK6Cfo17+eQK/E2lHctsH+vTPEk4
E/VAYxG+TTM5Psua8haVNflLq2ZRBxgP994dw/uS9RVqPjQofLe4Leir6yvDlrv8
GQIDAQAB
-----END PUBLIC KEY-----
"""
SM2_PUB = """-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEXRuKC/VtfWqWrjOzYIYvYjU7KSVq
EH1d4uMQElRCENzgtjSe3QUisjKk9ZYmIbgbS/edNXqRlb/GqG1yEsM/aA==
-----END PUBLIC KEY-----
"""
RSA_DER = base64.b64decode("".join(l for l in RSA_PUB.splitlines() if not l.startswith("-----")))
SM2_DER = base64.b64decode("".join(l for l in SM2_PUB.splitlines() if not l.startswith("-----")))


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def raw(method, target, headers, body=b""):
    """The text form RawRequest::parse reads (fuzz/src/lib.rs)."""
    if isinstance(body, str):
        body = body.encode()
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode() + body


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def hm(key, msg, alg=hashlib.sha256):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, alg).digest()


# --- Tencent TC3 ------------------------------------------------------------------------------

TC_ID = "AKIDEXAMPLEKMS00000000000000000000001"
TC_SECRET = "ExampleSecretKeyForKmsSigning000001"
TC_TS = 1700000000
TC_DATE = "2023-11-14"


def tc3(method, query, host, action, body, content_type="application/json", names=("content-type", "host"),
        sign_host=None):
    if isinstance(body, str):
        body = body.encode()
    values = {"content-type": content_type, "host": sign_host or host, "x-tc-action": action.lower()}
    canon = f"{method}\n/\n{query}\n" + "".join(f"{n}:{values[n].strip()}\n" for n in names)
    canon += "\n" + ";".join(names) + "\n" + sha256_hex(body)
    sts = f"TC3-HMAC-SHA256\n{TC_TS}\n{TC_DATE}/kms/tc3_request\n{sha256_hex(canon.encode())}"
    k = hm(("TC3" + TC_SECRET).encode(), TC_DATE)
    k = hm(k, "kms")
    k = hm(k, "tc3_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    auth = (f"TC3-HMAC-SHA256 Credential={TC_ID}/{TC_DATE}/kms/tc3_request, "
            f"SignedHeaders={';'.join(names)}, Signature={sig}")
    headers = [("Host", host), ("Content-Type", content_type), ("Authorization", auth), ("X-TC-Action", action),
               ("X-TC-Timestamp", str(TC_TS)), ("X-TC-Version", "2019-01-18"), ("X-TC-Region", "ap-guangzhou")]
    target = "/?" + query if query else "/"
    return sig, raw(method, target, headers, body)


GDK_BODY = '{"KeyId": "11111111-2222-3333-4444-555555555555", "KeySpec": "AES_256"}'
sig, req = tc3("POST", "", "kms.tencentcloudapi.com", "GenerateDataKey", GDK_BODY)
assert sig == "be48e0c495503c9c0eafabf6e96767b04ef61ecef4e43b9cfe997f8f21f536e1", sig
write("tc3_verify", "spec-1.4a-post", req)
sig, req = tc3("POST", "", "127.0.0.1:8080", "GenerateDataKey", GDK_BODY)
assert sig == "1ed854078fbf5e8faa806441a703924fa28b07e2eb2c09e27541d0a56ed73511", sig
write("tc3_verify", "spec-1.4b-port", req)
# tencentcloud-sdk-nodejs signs the host without its port.
write("tc3_verify", "node-host-without-port",
      tc3("POST", "", "127.0.0.1:8080", "Encrypt", '{"KeyId":"11111111-2222-3333-4444-555555555555",'
          '"Plaintext":"aGVsbG8="}', sign_host="127.0.0.1")[1])
GET_QUERY = "KeyIds.0=11111111-2222-3333-4444-555555555555&Limit=10&Offset=0"
write("tc3_verify", "get-query",
      tc3("GET", GET_QUERY, "127.0.0.1:8080", "ListKeys", "", "application/x-www-form-urlencoded",
          names=("content-type", "host", "x-tc-action"))[1])

# --- Tencent request bodies (POST) and flattened queries (GET) ----------------------------------

KEY = "11111111-2222-3333-4444-555555555555"
bodies = {
    "encrypt": {"KeyId": KEY, "Plaintext": "aGVsbG8gd29ybGQ=", "EncryptionContext": '{"purpose":"demo"}'},
    "decrypt-rsa": {"CiphertextBlob": "RksBAQA=", "EncryptionContext": '{"a":"1","b":"2"}',
                    "EncryptionPublicKey": RSA_PUB, "EncryptionAlgorithm": "RSAES_OAEP_SHA_256"},
    "decrypt-sm2": {"CiphertextBlob": "RksBAQA=", "EncryptionPublicKey": SM2_PUB, "EncryptionAlgorithm": "SM2"},
    "generate-data-key": {"KeyId": KEY, "NumberOfBytes": 32, "IsHostedByKms": 1, "DataKeyName": "dk",
                          "Tags": [{"TagKey": "env", "TagValue": "prod"}]},
    "re-encrypt": {"CiphertextBlob": "RksBAQA=", "DestinationKeyId": KEY, "SourceEncryptionContext": "{}"},
    "create-key": {"Alias": "demo", "Description": "d", "KeyUsage": "ENCRYPT_DECRYPT", "Type": 1,
                   "Tags": [{"TagKey": "a", "TagValue": "b"}, {"TagKey": "c"}]},
    "list-key-detail": {"Offset": 0, "Limit": 20, "Role": 0, "OrderType": 1, "KeyState": 0, "Origin": "ALL",
                        "SearchKeyAlias": "de", "TagFilters": [{"TagKey": "a", "TagValue": ["b", "c"]}]},
    "batch": {"KeyIds": [KEY, "22222222-2222-3333-4444-555555555555"], "PendingWindowInDays": 7},
}
for name, b in bodies.items():
    write("tencent_request", name, raw("POST", "/", [("Content-Type", "application/json")], json.dumps(b)))
for name, q in {
    "get-list": "KeyIds.0=a&KeyIds.1=b&NumberOfBytes=16&Tags.0.TagKey=k&Tags.0.TagValue=v+w&Alias=123",
    "get-filters": "TagFilters.0.TagKey=a&TagFilters.0.TagValue.0=b&TagFilters.0.TagValue.1=c&Limit=5",
    "get-encrypt": "KeyId=" + KEY + "&Plaintext=aGVsbG8%3D&EncryptionContext=%7B%22a%22%3A%22b%22%7D",
}.items():
    write("tencent_request", name, raw("GET", "/?" + q, [("Content-Type", "application/x-www-form-urlencoded")]))

# --- Alibaba: ACS3, ACS4, RPC v1 (spec section 3.6 and sign/tests.rs) -----------------------------

AK = "testAccessKeyId"
SECRET = "testAccessKeySecret"
NONCE = "3156853299f313e23d1673dc12e1703d"
DATE = "2026-01-20T08:00:00Z"
UA = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"
FORM = "application/x-www-form-urlencoded"
GDK_QUERY = "EncryptionContext=%7B%22purpose%22%3A%22demo+test%22%7D&KeyId=alias%2Fdemo&KeySpec=AES_256"
V3_SIGNED = ("accept;content-type;host;user-agent;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;"
             "x-acs-date;x-acs-signature-nonce;x-acs-version")
V4_SIGNED = ("content-type;host;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;"
             "x-acs-signature-nonce;x-acs-version")


def pe(s):
    out = []
    for b in s.encode():
        c = chr(b)
        out.append(c if c.isascii() and (c.isalnum() or c in "-_.~") else "%%%02X" % b)
    return "".join(out)


def canonical_pairs(pairs):
    return "&".join(f"{pe(k)}={pe(v)}" for k, v in sorted(pairs))


def tea_headers(action, body_sha):
    return [("host", "127.0.0.1:18080"), ("x-acs-version", "2016-01-20"), ("x-acs-action", action),
            ("user-agent", UA), ("x-acs-date", DATE), ("x-acs-signature-nonce", NONCE),
            ("accept", "application/json"), ("content-type", FORM), ("x-acs-content-sha256", body_sha),
            ("x-acs-credentials-provider", "static_ak")]


def acs_canonical(method, query, headers, signed, body):
    cr = f"{method}\n/\n{canonical_pairs(parse_qsl(query, keep_blank_values=True))}\n"
    for name in signed.split(";"):
        vals = sorted(v.strip() for k, v in headers if k.lower() == name)
        cr += f"{name}:{','.join(vals)}\n"
    return cr + "\n" + signed + "\n" + sha256_hex(body)


def acs3(method, query, action, body=b"", signed=V3_SIGNED):
    headers = tea_headers(action, sha256_hex(body))
    sts = "ACS3-HMAC-SHA256\n" + sha256_hex(acs_canonical(method, query, headers, signed, body).encode())
    sig = hmac.new(SECRET.encode(), sts.encode(), hashlib.sha256).hexdigest()
    auth = f"ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={signed},Signature={sig}"
    return sig, raw(method, "/?" + query if query else "/", headers + [("authorization", auth)], body)


def acs4(method, query, action, body=b"", region="cn-hangzhou", product="Kms"):
    headers = tea_headers(action, sha256_hex(body))
    sts = "ACS4-HMAC-SHA256\n" + sha256_hex(acs_canonical(method, query, headers, V4_SIGNED, body).encode())
    k = hm(("aliyun_v4" + SECRET).encode(), "20260120")
    for part in (region, product, "aliyun_v4_request"):
        k = hm(k, part)
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    auth = (f"ACS4-HMAC-SHA256 Credential={AK}/20260120/{region}/{product}/aliyun_v4_request,"
            f"SignedHeaders={V4_SIGNED},Signature={sig}")
    return sig, raw(method, "/?" + query if query else "/", headers + [("authorization", auth)], body)


def rpc(method, params, headers, form=None, sha256=False):
    params = dict(params, SignatureMethod="HMAC-SHA256" if sha256 else "HMAC-SHA1", SignatureVersion="1.0",
                  SignatureNonce=NONCE, Timestamp=DATE, AccessKeyId=AK)
    all_pairs = list(params.items()) + list((form or {}).items())
    sts = f"{method}&%2F&{pe(canonical_pairs(all_pairs))}"
    sig = base64.b64encode(hm((SECRET + "&").encode(), sts, hashlib.sha256 if sha256 else hashlib.sha1)).decode()
    query = "&".join(f"{pe(k)}={pe(v)}" for k, v in list(params.items()) + [("Signature", sig)])
    body = "&".join(f"{pe(k)}={pe(v)}" for k, v in (form or {}).items())
    return sig, raw(method, "/?" + query, headers, body)


sig, req = acs3("POST", GDK_QUERY, "GenerateDataKey")
assert sig == "bc7dd8b339f2bfb5f2ab93527ef39ab373a983668c2e4ea1c6464b7956d7cbd1", sig
write("alibaba_acs3", "spec-3.6a-generate-data-key", req)
sig, req = acs3("POST", "SecretName=db%2Fpass&VersionId=v2", "PutSecretValue", b"SecretData=p%40ss+word%2B1")
assert sig == "12e8679c7529bb47aff64287d3e88b8c6864270ebb2f9c265a7f2ec84270c5a0", sig
write("alibaba_acs3", "spec-3.6b-form-body", req)
write("alibaba_acs3", "tag-list", acs3("POST", "KeyId=k&Tag.1.TagKey=a&Tag.1.TagValue=b&Tag.2.TagKey=c&"
                                        "Format=XML", "TagResource")[1])
write("alibaba_acs3", "get", acs3("GET", "KeyIds.1=a&KeyIds.2=b&PageSize=10", "ListKeys")[1])

sig, req = acs4("POST", GDK_QUERY, "GenerateDataKey")
assert sig == "ce5e0ce2191e30affc23832a1b7b1dab381edd5bfe72a341fd6440e2855f49a6", sig
write("alibaba_acs4", "spec-3.6e-generate-data-key", req)
write("alibaba_acs4", "form-body", acs4("POST", "KeyId=k", "Encrypt", b"Plaintext=aGVsbG8%3D")[1])
write("alibaba_acs4", "other-region", acs4("POST", "KeyId=k", "DescribeKey", region="cn-shanghai")[1])

tea_v2 = [("host", "127.0.0.1:18080"), ("x-acs-version", "2016-01-20"), ("x-acs-action", "GenerateDataKey"),
          ("user-agent", UA), ("content-type", FORM), ("x-acs-credentials-provider", "static_ak")]
C_QUERY = ("Action=GenerateDataKey&Format=json&Version=2016-01-20&Timestamp=2026-01-20T08%3A00%3A00Z"
           "&SignatureNonce=3156853299f313e23d1673dc12e1703d&EncryptionContext=%7B%22purpose%22%3A%22demo+test%22%7D"
           "&KeyId=alias%2Fdemo&KeySpec=AES_256&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0"
           "&AccessKeyId=testAccessKeyId&Signature=oYPJBE4vEwmBBsYWFyZBJpyr7Zk%3D")
write("alibaba_rpc", "spec-3.6c-tea-v2", raw("POST", "/?" + C_QUERY, tea_v2))
D_QUERY = ("KeyId=alias%2Fdemo&KeySpec=AES_256&EncryptionContext=%7B%22purpose%22%3A%20%22demo%20test%22%7D"
           "&Version=2016-01-20&Action=GenerateDataKey&Format=JSON&RegionId=cn-hangzhou"
           "&Timestamp=2026-01-20T08%3A00%3A00Z&SignatureMethod=HMAC-SHA1&SignatureType=&SignatureVersion=1.0"
           "&SignatureNonce=3156853299f313e23d1673dc12e1703d&AccessKeyId=testAccessKeyId"
           "&Signature=nrLjic12ODTYYVn31HrQleIaS%2BQ%3D")
old_sdk = [("host", "127.0.0.1:18080"),
           ("user-agent", "AlibabaCloud (Linux 6.1;x86_64) Python/3.11.7 Core/2.16.1 python-requests/2.18.3"),
           ("x-acs-action", "GenerateDataKey"), ("x-acs-version", "2016-01-20"), ("x-sdk-invoke-type", "normal"),
           ("x-sdk-client", "python/2.0.0")]
write("alibaba_rpc", "spec-3.6d-old-sdk", raw("POST", "/?" + D_QUERY, old_sdk))
rpc_params = {"Action": "Encrypt", "Version": "2016-01-20", "Format": "XML", "KeyId": "k", "Plaintext": "hi"}
write("alibaba_rpc", "sha256-form-body", rpc("POST", rpc_params, [("host", "127.0.0.1:18080"),
                                                                  ("content-type", FORM)],
                                             form={"Recipient": "r+1"}, sha256=True)[1])
write("alibaba_rpc", "get", rpc("GET", {"Action": "ListKeys", "Version": "2016-01-20", "PageNumber": "1"},
                                [("host", "127.0.0.1:18080")])[1])

# --- Ciphertext blobs (docs/ciphertext-format.md) ------------------------------------------------


def blob(alg, payload, version, ct_len, fmt=1):
    """Format 1 (12-byte nonce) or format 3 (24-byte nonce): header, zero nonce, zero body."""
    key_id = bytes(range(16))
    nonce = bytes(12 if fmt == 1 else 24)
    return b"FK" + bytes([fmt, alg, payload]) + key_id + struct.pack(">I", version) + nonce + bytes(ct_len + 16)


write("blob", "aes256-bytes", blob(1, 0, 1, 32))
write("blob", "sm4-text", blob(2, 1, 7, 5))
write("blob", "aes128-empty", blob(3, 0, 1, 0))
write("blob", "aes192", blob(4, 0, 0xFFFFFFFF, 64))
write("blob", "short", b"FK\x01\x01\x00")
write("blob", "v3-aes256-bytes", blob(1, 0, 1, 32, fmt=3))
write("blob", "v3-sm4-text", blob(2, 1, 7, 5, fmt=3))
write("blob", "v3-aes128-empty", blob(3, 0, 1, 0, fmt=3))
write("blob", "v3-aes192", blob(4, 0, 0xFFFFFFFF, 64, fmt=3))
write("blob", "v3-short", b"FK\x03\x01\x00" + bytes(44))

# --- Public keys --------------------------------------------------------------------------------

write("public_key", "rsa-2048.pem", RSA_PUB)
write("public_key", "sm2.pem", SM2_PUB)
write("public_key", "rsa-2048.der", RSA_DER)
write("public_key", "sm2.der", SM2_DER)
write("public_key", "sm2-bare-base64", base64.b64encode(SM2_DER))
write("public_key", "rsa-crlf.pem", RSA_PUB.replace("\n", "\r\n"))

# --- Asymmetric inputs: ciphertexts, signatures, post-quantum blobs, material -----------------

def der(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def pattern(n, seed):
    return bytes((seed * 31 + i * 7) % 256 for i in range(n))


write("asymmetric_input", "rsa-2048-ciphertext", b"\x00\x02" + pattern(254, 1))
write("asymmetric_input", "sm2-raw", b"\x04" + pattern(64 + 32 + 32, 2))
write("asymmetric_input", "sm2-raw-no-04", pattern(64 + 32 + 32, 3))
write("asymmetric_input", "sm2-der", der(0x30, der(2, b"\x00" + pattern(32, 4)) + der(2, pattern(31, 5))
                                          + der(4, pattern(32, 6)) + der(4, pattern(32, 7))))
write("asymmetric_input", "ecdsa-der-signature", der(0x30, der(2, pattern(32, 8)) + der(2, b"\x00" + pattern(32, 9))))
write("asymmetric_input", "digest-32", pattern(32, 10))
write("asymmetric_input", "digest-48", pattern(48, 11))
write("asymmetric_input", "hybrid-blob", b"FK\x02\x01\x00" + pattern(16, 12) + b"\x00\x00\x00\x01" + pattern(1116 + 8, 13))
write("asymmetric_input", "ml-kem-seed-64", pattern(64, 14))
write("asymmetric_input", "pkcs8-shaped", der(0x30, der(2, b"\x00") + der(0x30, der(6, bytes.fromhex("2a8648ce3d0201"))
                                                    + der(6, bytes.fromhex("2a8648ce3d030107"))) + der(4, pattern(40, 15))))

# --- Encryption contexts ------------------------------------------------------------------------

for name, text in {
    "simple": '{"purpose":"demo"}',
    "spaced-unsorted": '{"b": "2", "a": "1"}',
    "escapes": '{"k\\u00e9y":"v\\n\\"q\\"","\\ud83d\\ude00":""}',
    "empty": "{}",
    "blank": "  ",
    "not-strings": '{"a":1,"b":{"c":"d"}}',
}.items():
    write("encryption_context", name, text)

# --- Renderers: the input is read by `arbitrary` (fuzz_targets/alibaba_render.rs), so seeds are
# byte strings that decode to a few maps of strings, numbers, lists and nested objects.
for i, seed in enumerate([
    b"\x01\x00ListKeys\x00r1\x00\x02Keys\x00\x06\x01Key\x00\x05\x02KeyId\x00\x04a<&>\x00",
    b"\x00\x00DescribeKey\x00req\x00\x03KeyMetadata\x00\x06\x04Arn\x00\x04acs:kms\x00Count\x00\x02\xff\x00",
    b"\x01\x01Error\x00id\x00",
    bytes(range(256)),
]):
    write("alibaba_render", f"seed-{i}", seed)

# --- Tencent signature v1 (tencent_v1) ----------------------------------------------------------
# As tencentcloud-sdk-python signs it (abstract_client._build_req_with_old_signature): the sorted
# parameters, values unencoded, after method + host + path + "?"; HMAC under the SecretKey; base64.
import urllib.parse


def v1(method, host, action, extra, sha="HmacSHA256", ts=1700000000):
    p = {"Action": action, "Version": "2019-01-18", "Region": "ap-guangzhou", "Nonce": "123456",
         "Timestamp": str(ts), "SecretId": "AKIDEXAMPLE", "SignatureMethod": sha, "RequestClient": "SDK_PYTHON",
         "Language": "en-US"}
    p.update(extra)
    sts = method + host + "/?" + "&".join(f"{k}={p[k]}" for k in sorted(p))
    alg = hashlib.sha256 if sha == "HmacSHA256" else hashlib.sha1
    p["Signature"] = base64.b64encode(hmac.new(b"ExampleSecretKeyForKmsSigning000001", sts.encode(), alg).digest()).decode()
    form = urllib.parse.urlencode(p)
    if method == "GET":
        return raw("GET", "/?" + form, [("Host", host)])
    return raw("POST", "/", [("Host", host), ("Content-Type", "application/x-www-form-urlencoded")], form)


write("tencent_v1", "post-sha256", v1("POST", "127.0.0.1:8300", "DescribeKey", {"KeyId": "k"}))
write("tencent_v1", "get-sha1", v1("GET", "127.0.0.1:8300", "Encrypt", {"KeyId": "k", "Plaintext": "aGk="},
                                   sha="HmacSHA1"))
write("tencent_v1", "post-tags", v1("POST", "kms.tencentcloudapi.com", "CreateKey",
                                    {"Alias": "a", "Tags.0.TagKey": "k", "Tags.0.TagValue": "v"}))

# --- Regression inputs of findings (docs/security.md, "Fuzzing") ---------------------------------
# SignedHeaders naming one long header many times: the canonical request repeated its value once
# per mention (quadratic in the request's size) until repeated names were refused.
BIG = "a" * 2000
dup_names = ";x-big" * 1000
sig, req = tc3("POST", "", "127.0.0.1:8080", "Encrypt", "{}")
req = req.replace(b"SignedHeaders=content-type;host,", f"SignedHeaders=content-type;host{dup_names},".encode())
req = req.replace(b"\r\n\r\n", f"\r\nX-Big: {BIG}\r\n\r\n".encode(), 1)
write("tc3_verify", "regression-repeated-signed-headers", req)
sig, req = acs3("POST", "KeyId=k", "DescribeKey")
req = req.replace(f"SignedHeaders={V3_SIGNED},".encode(), f"SignedHeaders={V3_SIGNED}{dup_names},".encode())
req = req.replace(b"\r\n\r\n", f"\r\nx-big: {BIG}\r\n\r\n".encode(), 1)
write("alibaba_acs3", "regression-repeated-signed-headers", req)
sig, req = acs4("POST", "KeyId=k", "DescribeKey")
req = req.replace(f"SignedHeaders={V4_SIGNED},".encode(), f"SignedHeaders={V4_SIGNED}{dup_names},".encode())
req = req.replace(b"\r\n\r\n", f"\r\nx-big: {BIG}\r\n\r\n".encode(), 1)
write("alibaba_acs4", "regression-repeated-signed-headers", req)
