"""SMS providers against fake gateways on 127.0.0.1 that verify each request's signature.

The fakes check signatures with this file's own implementations, written from the providers'
documented steps (not the code under test), and each algorithm is pinned to the known-answer
example in the provider's documentation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote

import httpx
import pytest

from siyu.channels.models import Channel, OutboundMessage, RetryableSendError, SendError
from siyu.channels.sms import (
    AliyunSms,
    SmsTransport,
    TencentSms,
    aliyun_signature,
    tc3_authorization,
)
from tests.channels.fake_http import Received, serve

AT = datetime(2026, 11, 26, 4, 0, 5, tzinfo=UTC)


def message(**kw: object) -> OutboundMessage:
    base: dict[str, object] = {
        "id": "msg_1",
        "workspace_id": "ws_1",
        "person_id": "p_1",
        "channel": Channel.SMS,
        "recipient": "13800138000",
        "template": "SMS_153055065",
        "params": {"code": "1234", "name": "李雷"},
        "sender": "私域商城",
        "idempotency_key": "journey:j1:n1:p_1",
    }
    return OutboundMessage(**(base | kw))  # type: ignore[arg-type]


# --- the tests' own Aliyun v1 signer, from the documented steps -------------------------------


def _pct(s: str) -> str:
    # RFC 3986 unreserved characters stay; everything else %XX (upper hex); space is %20.
    out = []
    for byte in s.encode():
        ch = chr(byte)
        out.append(ch if ch.isascii() and (ch.isalnum() or ch in "-_.~") else f"%{byte:02X}")
    return "".join(out)


def ref_aliyun_sign(method: str, params: dict[str, str], secret: str) -> str:
    canonical = "&".join(f"{_pct(k)}={_pct(params[k])}" for k in sorted(params))
    to_sign = method + "&" + _pct("/") + "&" + _pct(canonical)
    mac = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def test_aliyun_known_answer_from_the_documentation() -> None:
    # Alibaba Cloud "Signature mechanism" (RPC) example: DescribeRegions, secret testsecret.
    params = {
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "Format": "XML",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "SignatureVersion": "1.0",
        "Timestamp": "2016-02-23T12:46:24Z",
        "Version": "2014-05-26",
    }
    assert aliyun_signature("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="
    assert ref_aliyun_sign("GET", params, "testsecret") == "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def aliyun_gateway(secret: str, seen_nonces: set[str]):
    def handle(req: Received) -> tuple[int, object, dict[str, str]]:
        form = dict(parse_qsl(req.body.decode(), keep_blank_values=True))
        given = form.pop("Signature", "")
        if not hmac.compare_digest(given, ref_aliyun_sign(req.method, form, secret)):
            return 400, {"Code": "IncompleteSignature", "Message": "bad signature"}, {}
        if form["SignatureNonce"] in seen_nonces:
            return 400, {"Code": "SignatureNonceUsed", "Message": "nonce used"}, {}
        seen_nonces.add(form["SignatureNonce"])
        if form["PhoneNumbers"] == "13900000000":
            return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"}, {}
        if form["PhoneNumbers"] == "10000":
            return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "号码格式错误"}, {}
        return 200, {"Code": "OK", "BizId": f"biz-{len(seen_nonces)}", "RequestId": "r"}, {}

    return handle


def test_aliyun_signed_send_and_errors_against_a_verifying_gateway() -> None:
    nonces: set[str] = set()
    with serve(aliyun_gateway("s3cret", nonces)) as gw, httpx.Client(timeout=5) as client:
        provider = AliyunSms("LTAIid", "s3cret", base_url=gw.url, client=client, clock=lambda: AT)
        sms = SmsTransport(provider)
        delivery = sms.send(message())
        assert delivery.provider_message_id == "biz-1"
        form = dict(parse_qsl(gw.received[0].body.decode()))
        assert form["PhoneNumbers"] == "13800138000" and form["SignName"] == "私域商城"
        assert json.loads(form["TemplateParam"]) == {"code": "1234", "name": "李雷"}
        assert form["Timestamp"] == "2026-11-26T04:00:05Z" and form["OutId"] == "journey:j1:n1:p_1"
        # The same key again (a resend after a crash): the gateway refuses the nonce, and that
        # is taken as "already sent" rather than a second SMS.
        assert sms.send(message()).provider_message_id.startswith("replayed:")
        assert len(nonces) == 1
        with pytest.raises(RetryableSendError):
            sms.send(message(recipient="13900000000", idempotency_key="k2"))
        with pytest.raises(SendError) as bad:
            sms.send(message(recipient="10000", idempotency_key="k3"))
        assert not isinstance(bad.value, RetryableSendError)
        wrong = AliyunSms("LTAIid", "wrong", base_url=gw.url, client=client, clock=lambda: AT)
        with pytest.raises(SendError):
            SmsTransport(wrong).send(message(idempotency_key="k4"))


# --- the tests' own TC3-HMAC-SHA256, from Tencent Cloud's documented steps ------------------


def ref_tc3(secret_key: str, service: str, host: str, payload: bytes, timestamp: int) -> str:
    def h(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    date = datetime.fromtimestamp(timestamp, UTC).date().isoformat()
    canonical_request = (
        "POST\n/\n\n"
        + "content-type:application/json; charset=utf-8\n"
        + f"host:{host}\n\n"
        + "content-type;host\n"
        + hashlib.sha256(payload).hexdigest()
    )
    string_to_sign = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n"
        + hashlib.sha256(canonical_request.encode()).hexdigest()
    )
    key = h(h(h(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


DOC_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)


def test_tc3_known_answer_from_the_documentation() -> None:
    # Tencent Cloud API 3.0 "Signature v3" example: CVM DescribeInstances at 1551113065.
    expected = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    secret = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
    assert hashlib.sha256(DOC_PAYLOAD).hexdigest().startswith("35e9c5b0e3ae67532d3c9f17")
    auth = tc3_authorization(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        secret_key=secret,
        service="cvm",
        host="cvm.tencentcloudapi.com",
        content_type="application/json; charset=utf-8",
        payload=DOC_PAYLOAD,
        timestamp=1551113065,
    )
    assert auth == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        f"tc3_request, SignedHeaders=content-type;host, Signature={expected}"
    )
    assert ref_tc3(secret, "cvm", "cvm.tencentcloudapi.com", DOC_PAYLOAD, 1551113065) == expected


def tencent_gateway(secret_key: str):
    def handle(req: Received) -> tuple[int, object, dict[str, str]]:
        ts = int(req.headers["x-tc-timestamp"])
        sig = req.headers["authorization"].rsplit("Signature=", 1)[1]
        if sig != ref_tc3(secret_key, "sms", req.headers["host"], req.body, ts):
            return 200, {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure"}}}, {}
        body = json.loads(req.body)
        if body["PhoneNumberSet"] == ["+8613900000000"]:
            return 200, {"Response": {"Error": {"Code": "RequestLimitExceeded"}}}, {}
        status = {"SerialNo": "2433:1", "PhoneNumber": body["PhoneNumberSet"][0], "Code": "Ok"}
        return 200, {"Response": {"SendStatusSet": [status], "RequestId": "r"}}, {}

    return handle


def test_tencent_signed_send_against_a_verifying_gateway() -> None:
    with serve(tencent_gateway("tk3y")) as gw, httpx.Client(timeout=5) as client:
        provider = TencentSms(
            "AKIDx", "tk3y", "1400006666", base_url=gw.url, client=client, clock=lambda: AT
        )
        delivery = SmsTransport(provider).send(message())
        assert delivery.provider_message_id == "2433:1"
        sent = json.loads(gw.received[0].body)
        assert sent["PhoneNumberSet"] == ["+8613800138000"]
        assert (
            sent["TemplateParamSet"] == ["1234", "李雷"]
            and sent["SessionContext"] == "journey:j1:n1:p_1"
        )
        assert gw.received[0].headers["x-tc-action"] == "SendSms"
        with pytest.raises(RetryableSendError):
            SmsTransport(provider).send(message(recipient="13900000000"))
        wrong = TencentSms(
            "AKIDx", "nope", "1400006666", base_url=gw.url, client=client, clock=lambda: AT
        )
        with pytest.raises(SendError) as refused:
            SmsTransport(wrong).send(message())
        assert "SignatureFailure" in str(refused.value)


def test_an_unreachable_gateway_is_retryable() -> None:
    with serve(tencent_gateway("k")) as gw:
        url = gw.url
    with httpx.Client(timeout=2) as client:
        provider = AliyunSms("id", "s", base_url=url, client=client, clock=lambda: AT)
        with pytest.raises(RetryableSendError):
            SmsTransport(provider).send(message())


def test_percent_encoding_matches_the_documented_rules() -> None:
    from siyu.channels.sms import aliyun_percent_encode

    for raw in ["a b", "*", "~", "/", "a+b", "中", "-_."]:
        assert aliyun_percent_encode(raw) == _pct(raw) == quote(raw, safe="~")
