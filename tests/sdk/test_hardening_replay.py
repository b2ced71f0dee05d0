"""Replays (issue: hardening, findings 3 and 4).

- A captured TC3 request resent with another X-TC-Action: the SDKs sign only
  `content-type;host`, so nothing but the server's memory of the signature can tell. It is
  refused (AuthFailure.SignatureFailure) when the other action changes something or answers
  secrets; an identical resend (an SDK retry) is still answered, and so is another action over
  the connection that first carried the signature, or a read of metadata from anywhere (clients
  sharing an access key send `{}` to several such actions within a second, which sign alike).
- The memory of signatures and of Alibaba nonces is bounded per account: one tenant filling its
  share never makes another tenant's requests fail, and requests for actions ferrokms does not
  implement do not use up nonces.
"""
from __future__ import annotations

import json
import time

import requests

import acs
import tc3
from conftest import ACCESS_KEY_ID, ACCESS_KEY_SECRET, create_account, tencent_client
from kmsutil import create_key, state


def tc3_send(server, action, body, ts, secret_id=ACCESS_KEY_ID, secret_key=ACCESS_KEY_SECRET, **kw):
    """One signed request over a connection of its own, as a replaying attacker sends it."""
    r = tc3.post(server.endpoint, action, body, secret_id, secret_key, timestamp=ts, fresh_connection=True, **kw)
    assert r.status_code == 200
    return r.json()["Response"]


def next_second() -> None:
    """Waits for the clock's next second: SDK calls after it cannot sign like the requests before."""
    time.sleep(1.05 - time.time() % 1)


def signed_headers(server, action, body: bytes, ts, region="ap-guangzhou") -> dict:
    auth = tc3.authorization(ACCESS_KEY_ID, ACCESS_KEY_SECRET, ts, server.endpoint, body)
    return {"Host": server.endpoint, "Content-Type": tc3.JSON, "Authorization": auth, "X-TC-Action": action,
            "X-TC-Version": tc3.VERSION, "X-TC-Timestamp": str(ts), "X-TC-Region": region}


def code(resp) -> str | None:
    return resp.get("Error", {}).get("Code")


def test_a_signed_request_cannot_be_resent_as_another_action(server, kms):
    key = create_key(kms)
    ts = int(time.time())
    body = {"KeyId": key}
    first = tc3_send(server, "DescribeKey", body, ts)
    assert code(first) is None, first
    for other in ("DisableKey", "ArchiveKey", "ScheduleKeyDeletion", "EnableKeyRotation", "GetDataKeyPlaintext"):
        replay = tc3_send(server, other, body, ts)
        assert code(replay) == "AuthFailure.SignatureFailure", (other, replay)
        assert replay["RequestId"]
    next_second()
    assert state(kms, key) == "Enabled", "the replays changed nothing"
    # An identical resend (what an SDK retry sends) is answered as the first time.
    again = tc3_send(server, "DescribeKey", body, ts)
    assert code(again) is None and again["KeyMetadata"]["KeyId"] == key


def test_clients_sharing_a_key_may_send_one_body_to_several_reads(server):
    """`{}` signs alike for GetRegions, ListAlgorithms and ListKeys within one second: reads of
    metadata are let through from anywhere; an action that changes something is not."""
    ts = int(time.time())
    for action in ("GetRegions", "ListAlgorithms", "ListKeys", "GetServiceStatus"):
        assert code(tc3_send(server, action, {}, ts)) is None, action
    assert code(tc3_send(server, "CreateKey", {}, ts)) == "AuthFailure.SignatureFailure"


def test_a_write_seen_first_may_be_followed_by_a_read(server, kms):
    key = create_key(kms)
    ts = int(time.time())
    assert code(tc3_send(server, "DisableKey", {"KeyId": key}, ts)) is None
    described = tc3_send(server, "DescribeKey", {"KeyId": key}, ts)
    assert described["KeyMetadata"]["KeyState"] == "Disabled"


def test_clients_of_two_regions_may_send_the_same_request(server, kms):
    """Region is not bound: two clients (regions) sending one body within one second sign alike."""
    ts = int(time.time())
    body = {"KeyId": create_key(kms)}
    assert code(tc3_send(server, "DescribeKey", body, ts)) is None
    assert code(tc3_send(server, "DescribeKey", body, ts, region="ap-shanghai")) == "ResourceUnavailable.CmkNotFound"


def test_the_first_action_seen_wins_also_for_writes(server, kms):
    key = create_key(kms)
    ts = int(time.time())
    assert code(tc3_send(server, "DisableKey", {"KeyId": key}, ts)) is None
    assert code(tc3_send(server, "EnableKey", {"KeyId": key}, ts)) == "AuthFailure.SignatureFailure"
    next_second()
    assert state(kms, key) == "Disabled"


def test_one_connection_may_send_one_body_for_two_actions(server, kms):
    """What an SDK client does when it disables a key and describes it within one second: the
    two requests sign alike. Over the connection that carried the first, both are answered."""
    key = create_key(kms)
    ts = int(time.time())
    body = json.dumps({"KeyId": key}).encode()
    with requests.Session() as s:
        s.trust_env = False
        url = f"http://{server.endpoint}/"
        first = s.post(url, data=body, headers=signed_headers(server, "DisableKey", body, ts), timeout=30)
        second = s.post(url, data=body, headers=signed_headers(server, "DescribeKey", body, ts), timeout=30)
    assert "Error" not in first.json()["Response"], first.text
    meta = second.json()["Response"]
    assert "Error" not in meta, second.text
    assert meta["KeyMetadata"]["KeyState"] == "Disabled"
    # The same signature from anywhere else is still bound to DisableKey.
    assert code(tc3_send(server, "EnableKey", {"KeyId": key}, ts)) == "AuthFailure.SignatureFailure"


def test_one_tenant_filling_its_signature_share_does_not_refuse_another(make_server):
    # 64 shards: a share of 640 is 10 per shard, so ~650 distinct requests fill it.
    s = make_server(extra_args=["--no-rate-limit"],
                    config="[tencent]\nsignature_capacity = 64000\nsignature_share_per_account = 640\n").start()
    other = create_account(s)
    ts = int(time.time())
    codes = []
    for i in range(1500):
        # Each body differs in its whitespace, so each is a new signature.
        codes.append(code(tc3_send(s, "GetServiceStatus", "{" + " " * i + "}", ts)))
        if codes[-1] == "RequestLimitExceeded":
            break
    assert codes[-1] == "RequestLimitExceeded", set(codes)
    assert set(codes) <= {None, "RequestLimitExceeded"}
    b = tencent_client(s.endpoint, secret_id=other.secret_id, secret_key=other.secret_key)
    for _ in range(20):
        create_key(b)
    # Identical resends of what A already sent still pass: they take no new room.
    assert code(tc3_send(s, "GetServiceStatus", "{}", ts)) is None


def ali_code(r) -> tuple[int, str | None]:
    return r.status_code, r.json().get("Code")


def test_one_tenant_filling_its_nonce_share_does_not_refuse_another(make_server):
    s = make_server(extra_args=["--no-rate-limit"],
                    config="[alibaba]\nnonce_capacity = 64000\nnonce_share_per_account = 640\n").start()
    other = create_account(s)
    results = []
    for _ in range(1500):
        results.append(ali_code(acs.v3_send(s.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET)))
        if results[-1][0] == 503:
            break
    assert results[-1] == (503, "ServiceUnavailableTemporary"), results[-1]
    assert {r for r in results[:-1]} == {(200, None)}
    for _ in range(20):
        r = acs.v3_send(s.endpoint, "ListKeys", {}, other.secret_id, other.secret_key)
        assert r.status_code == 200, r.text


def test_unsupported_actions_do_not_use_up_nonces(make_server):
    s = make_server(extra_args=["--no-rate-limit"],
                    config="[alibaba]\nnonce_capacity = 6400\nnonce_share_per_account = 640\n").start()
    for _ in range(1200):
        r = acs.v3_send(s.endpoint, "CreateSecret", {"SecretName": "x", "SecretData": "y", "VersionId": "1"},
                        ACCESS_KEY_ID, ACCESS_KEY_SECRET)
        assert r.status_code != 503, r.text
        assert r.json()["Code"] == "UnsupportedOperation", r.text
    assert acs.v3_send(s.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET).status_code == 200


def test_a_nonce_is_still_used_once(server):
    nonce = "n-" + str(time.time_ns())
    first = acs.v3_send(server.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET, nonce=nonce)
    assert first.status_code == 200, first.text
    again = acs.v3_send(server.endpoint, "ListKeys", {}, ACCESS_KEY_ID, ACCESS_KEY_SECRET, nonce=nonce)
    assert ali_code(again) == (400, "SignatureNonceUsed")
    assert json.loads(again.text)["RequestId"]
