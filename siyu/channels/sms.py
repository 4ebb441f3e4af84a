"""SMS through a provider interface, with Aliyun (RPC signature v1) and Tencent Cloud (TC3).

Neither provider de-duplicates on a key of ours; what each offers is used:

* Aliyun rejects a second request with the same ``SignatureNonce`` within 15 minutes, so the
  nonce is derived from the message's idempotency key: a resend after a crash (claim
  → send → crash → reclaim) inside that window is refused with ``SignatureNonceUsed`` and
  taken as already sent. ``OutId`` carries the key for receipts.
* Tencent Cloud has no such guard: ``SessionContext`` carries the key back in receipts, and a
  crash between the provider's acceptance and our commit may send the SMS twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote, urlsplit

import httpx
import orjson

from siyu.channels.models import (
    Channel,
    Delivery,
    OutboundMessage,
    RetryableSendError,
    SendError,
)
from siyu.channels.provider_http import call, json_body, new_client
from siyu.core.clock import utcnow

_NONCE_SPACE = uuid.UUID("8f0c3f4e-2b9a-4c8e-9a51-5f3c1d2e7a60")


class SmsProvider(Protocol):
    """A gateway that sends one templated SMS and answers its message id."""

    def send_sms(
        self,
        *,
        phone: str,
        sign_name: str,
        template_code: str,
        params: Mapping[str, str],
        idempotency_key: str,
    ) -> str:
        """Send; return the provider's id or raise SendError / RetryableSendError."""
        ...


@dataclass
class SmsTransport:
    """The SMS channel over one provider; the template's sender is the SMS sign (签名)."""

    provider: SmsProvider
    default_sign: str = ""
    clock: Callable[[], datetime] = utcnow
    channel: Channel = Channel.SMS

    def send(self, message: OutboundMessage) -> Delivery:
        """Send ``message`` (recipient: the phone number, template: the provider's code)."""
        sign = message.sender or self.default_sign
        if not sign:
            raise SendError("no SMS sign name (template sender or transport default)")
        provider_id = self.provider.send_sms(
            phone=message.recipient,
            sign_name=sign,
            template_code=message.template,
            params=message.params,
            idempotency_key=message.idempotency_key,
        )
        return Delivery(provider_message_id=provider_id, accepted_at=self.clock())


# --- Aliyun: RPC style, signature v1 (HMAC-SHA1 over the canonical query) ------------------


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun wants it: only ``A-Za-z0-9-_.~`` stay as they are."""
    return quote(value, safe="~")


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """``METHOD&%2F&`` + the encoded, sorted, encoded-again canonical query."""
    canonical = "&".join(
        f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in sorted(params.items())
    )
    return f"{method}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"


def aliyun_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    """Base64 HMAC-SHA1 of the string to sign, keyed with ``secret + '&'``."""
    digest = hmac.new(
        f"{secret}&".encode(), aliyun_string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode()


_ALIYUN_RETRY = ("Throttling", "isv.BUSINESS_LIMIT_CONTROL", "ServiceUnavailable", "InternalError")


@dataclass
class AliyunSms:
    """Aliyun 短信服务 ``SendSms`` (POSTed form, so phone numbers stay out of URL logs)."""

    access_key_id: str
    access_key_secret: str
    base_url: str = "https://dysmsapi.aliyuncs.com"
    region: str = "cn-hangzhou"
    client: httpx.Client = field(default_factory=new_client)
    clock: Callable[[], datetime] = utcnow

    def signed_params(
        self, *, phone: str, sign_name: str, template_code: str, params: Mapping[str, str], key: str
    ) -> dict[str, str]:
        """The request parameters with ``Signature`` added."""
        query = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "OutId": key[:64],
            "PhoneNumbers": phone,
            "RegionId": self.region,
            "SignName": sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": str(uuid.uuid5(_NONCE_SPACE, key)),
            "SignatureVersion": "1.0",
            "TemplateCode": template_code,
            "TemplateParam": orjson.dumps(dict(params)).decode(),
            "Timestamp": self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        query["Signature"] = aliyun_signature("POST", query, self.access_key_secret)
        return query

    def send_sms(
        self,
        *,
        phone: str,
        sign_name: str,
        template_code: str,
        params: Mapping[str, str],
        idempotency_key: str,
    ) -> str:
        """Send one SMS; the provider's ``BizId``."""
        form = self.signed_params(
            phone=phone,
            sign_name=sign_name,
            template_code=template_code,
            params=params,
            key=idempotency_key,
        )
        body = "&".join(
            f"{aliyun_percent_encode(k)}={aliyun_percent_encode(v)}" for k, v in form.items()
        )
        response = call(
            self.client,
            "POST",
            self.base_url.rstrip("/") + "/",
            content=body.encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            refuse_4xx=False,  # Aliyun answers errors as 4xx with a JSON Code
        )
        answer = json_body(response)
        code = str(answer.get("Code", ""))
        if code == "OK":
            return str(answer.get("BizId") or answer.get("RequestId"))
        if code == "SignatureNonceUsed":  # our earlier attempt got through: see the module doc
            return f"replayed:{idempotency_key}"
        if code.startswith(_ALIYUN_RETRY):
            raise RetryableSendError(f"aliyun {code}: {answer.get('Message')}")
        raise SendError(f"aliyun {code}: {answer.get('Message')}")


# --- Tencent Cloud: API 3.0, TC3-HMAC-SHA256 ----------------------------------------------


def _hmac256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(*, secret_key: str, date: str, service: str, string_to_sign: str) -> str:
    """Hex HMAC-SHA256 of ``string_to_sign`` under the key derived from date and service."""
    secret_date = _hmac256(f"TC3{secret_key}".encode(), date)
    secret_service = _hmac256(secret_date, service)
    secret_signing = _hmac256(secret_service, "tc3_request")
    return hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    content_type: str,
    payload: bytes,
    timestamp: int,
) -> str:
    """The ``Authorization`` header of a POST to ``/`` with ``payload`` signed at ``timestamp``."""
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signature = tc3_signature(
        secret_key=secret_key, date=date, service=service, string_to_sign=to_sign
    )
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )


_TENCENT_RETRY = ("RequestLimitExceeded", "InternalError", "ResourceUnavailable")
_JSON = "application/json; charset=utf-8"


def e164(phone: str) -> str:
    """``+86…`` for a mainland mobile stored as 11 digits; other numbers get a leading ``+``."""
    if phone.startswith("+"):
        return phone
    return f"+86{phone}" if len(phone) == 11 and phone.startswith("1") else f"+{phone}"


@dataclass
class TencentSms:
    """Tencent Cloud 短信 ``SendSms`` (API version 2021-01-11)."""

    secret_id: str
    secret_key: str
    sdk_app_id: str
    base_url: str = "https://sms.tencentcloudapi.com"
    region: str = "ap-guangzhou"
    client: httpx.Client = field(default_factory=new_client)
    clock: Callable[[], datetime] = utcnow

    def send_sms(
        self,
        *,
        phone: str,
        sign_name: str,
        template_code: str,
        params: Mapping[str, str],
        idempotency_key: str,
    ) -> str:
        """Send one SMS (template parameters in the order given); the ``SerialNo``."""
        payload = orjson.dumps(
            {
                "PhoneNumberSet": [e164(phone)],
                "SmsSdkAppId": self.sdk_app_id,
                "SignName": sign_name,
                "TemplateId": template_code,
                "TemplateParamSet": list(params.values()),
                "SessionContext": idempotency_key,
            }
        )
        host = urlsplit(self.base_url).netloc
        timestamp = int(self.clock().timestamp())
        auth = tc3_authorization(
            secret_id=self.secret_id,
            secret_key=self.secret_key,
            service="sms",
            host=host,
            content_type=_JSON,
            payload=payload,
            timestamp=timestamp,
        )
        headers = {
            "Authorization": auth,
            "Content-Type": _JSON,
            "Host": host,
            "X-TC-Action": "SendSms",
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": "2021-01-11",
            "X-TC-Region": self.region,
        }
        url = self.base_url.rstrip("/") + "/"
        answer = json_body(call(self.client, "POST", url, content=payload, headers=headers))
        return _tencent_serial(answer.get("Response") or {})


def _tencent_serial(response: Mapping[str, object]) -> str:
    error = response.get("Error")
    if isinstance(error, dict):
        code = str(error.get("Code", ""))
        kind = RetryableSendError if code.startswith(_TENCENT_RETRY) else SendError
        raise kind(f"tencent {code}: {error.get('Message')}")
    statuses = response.get("SendStatusSet")
    if not isinstance(statuses, list) or not statuses or not isinstance(statuses[0], dict):
        raise RetryableSendError("tencent answered no SendStatusSet")
    status = statuses[0]
    if str(status.get("Code")) != "Ok":
        raise SendError(f"tencent {status.get('Code')}: {status.get('Message')}")
    return str(status.get("SerialNo"))
