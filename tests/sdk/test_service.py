"""GetServiceStatus, GetRegions, ListAlgorithms, and actions ferrokms does not offer."""
from __future__ import annotations

import re

from kmsutil import UUID_RE, call, call_error, create_key, uid

CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def test_get_service_status(kms):
    r = call(kms, "GetServiceStatus")
    assert r.ServiceEnabled is True
    assert r.IsAllowedDataKeyHosted is True
    assert UUID_RE.match(r.RequestId), r.RequestId
    assert isinstance(r.CmkUserCount, int)


def test_get_service_status_counts_new_keys(kms):
    before = call(kms, "GetServiceStatus").CmkUserCount
    create_key(kms)
    create_key(kms)
    after = call(kms, "GetServiceStatus").CmkUserCount
    assert after == before + 2


def test_get_regions(kms):
    r = call(kms, "GetRegions")
    regions = r.Regions
    assert isinstance(regions, list) and regions
    assert all(isinstance(x, str) and x for x in regions)
    assert len(set(regions)) == len(regions), "duplicate regions"
    for expected in ("ap-guangzhou", "ap-shanghai", "ap-beijing"):
        assert expected in regions


def test_every_listed_region_is_served(kms, make_client, server):
    """Each region GetRegions names answers requests (and keys can be made there)."""
    for region in call(kms, "GetRegions").Regions:
        c = make_client(server.endpoint, region=region)
        key_id = create_key(c)
        assert call(c, "DescribeKey", KeyId=key_id).KeyMetadata.KeyId == key_id


def test_list_algorithms(kms):
    r = call(kms, "ListAlgorithms")
    sym = r.SymmetricAlgorithms
    assert sym, "no symmetric algorithm listed"
    names = {a.Algorithm for a in sym}
    assert names & {"SM4", "AES_256"}, names
    for a in sym:
        assert a.KeyUsage == "ENCRYPT_DECRYPT"
    for group in (r.AsymmetricAlgorithms or [], r.AsymmetricSignVerifyAlgorithms or []):
        for a in group:
            assert a.Algorithm and a.KeyUsage and a.KeyUsage.startswith("ASYMMETRIC_")


def test_white_box_is_unsupported(kms):
    call_error(kms, "CreateWhiteBoxKey", "UnsupportedOperation", Alias=uid("wb"), Algorithm="AES_256")


def test_white_box_unsupported_through_call_json(kms):
    from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
    try:
        kms.call_json("CreateWhiteBoxKey", {"Alias": uid("wb"), "Algorithm": "SM4"})
    except TencentCloudSDKException as e:
        assert e.code == "UnsupportedOperation", (e.code, e.message)
    else:
        raise AssertionError("CreateWhiteBoxKey succeeded")


def test_member_account_is_unsupported(kms):
    key_id = create_key(kms)
    call_error(kms, "DescribeKey", "UnsupportedOperation", KeyId=key_id,
               MemberAccount={"MemberAppId": 1250000000, "MemberUin": 100000000001})


def test_messages_are_english_whatever_the_language_header(server, make_client):
    for lang in (None, "zh-CN", "en-US"):  # None = the SDK default, zh-CN
        c = make_client(server.endpoint, language=lang)
        e = call_error(c, "DescribeKey", "ResourceUnavailable.CmkNotFound",
                       KeyId="00000000-0000-4000-8000-000000000000")
        assert e.message and not CJK.search(e.message), (lang, e.message)
