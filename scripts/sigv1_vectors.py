"""Prints the signature v1 vectors of crates/ferrokms-tencent/src/sign_v1.rs (tests), computed with the
official SDK: AbstractClient._build_req_with_old_signature and Sign.sign of
tencentcloud-sdk-python-common 3.1.195 (tests/requirements.txt), time.time() and random.randint pinned.

    .venv/bin/python scripts/sigv1_vectors.py
"""
import urllib.parse
from unittest import mock

from tencentcloud.common import credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign
from tencentcloud.kms.v20190118 import kms_client

SECRET_ID = "AKIDEXAMPLEKMS00000000000000000000001"
SECRET_KEY = "ExampleSecretKeyForKmsSigning000001"
PARAMS = {"Alias": "a b", "Tags": [{"TagKey": "team", "TagValue": "x&y=z"}], "KeyUsage": "ENCRYPT_DECRYPT"}

for sign_method in ("HmacSHA1", "HmacSHA256"):
    for req_method in ("POST", "GET"):
        hp = HttpProfile(protocol="http", endpoint="127.0.0.1:8080", reqMethod=req_method)
        client = kms_client.KmsClient(credential.Credential(SECRET_ID, SECRET_KEY), "ap-guangzhou",
                                      ClientProfile(signMethod=sign_method, httpProfile=hp))
        client.request_client = "SDK_PYTHON_3.1.192"
        req = RequestInternal("127.0.0.1:8080", req_method, "/", header={})
        with mock.patch("time.time", return_value=1700000000.0), mock.patch("random.randint", return_value=12345):
            client._build_req_with_old_signature("CreateKey", PARAMS, req, {})
        sent = dict(urllib.parse.parse_qsl(req.data))
        signature = sent.pop("Signature")
        print(sign_method, req_method)
        print("  form:          ", req.data)
        print("  string to sign:", client._format_sign_string(sent))
        print("  signature:     ", signature)

key = "Gu5t9xGARNpq86cd98joQYCN3Cozk1qA"
sts = ("GETcvm.tencentcloudapi.com/?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Limit=20&Nonce=11886"
       "&Offset=0&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&Timestamp=1465185768"
       "&Version=2017-03-12")
print("public example, HmacSHA1:", Sign.sign(key, sts, "HmacSHA1"))
sts = ("GETcvm.api.qcloud.com/v2/index.php?Action=DescribeInstances&InstanceIds.0=ins-09dx96dg&Nonce=11886"
       "&Region=ap-guangzhou&SecretId=AKIDz8krbsJ5yKBZQpn74WFkmLPx3gnPhESA&SignatureMethod=HmacSHA256"
       "&Timestamp=1465185768")
print("public example, HmacSHA256:", Sign.sign(key, sts, "HmacSHA256"))
