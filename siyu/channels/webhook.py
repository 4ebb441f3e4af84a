"""Signed webhooks: POST JSON with ``X-Siyu-Signature: t=<unix>,v1=<hex HMAC-SHA256>``.

The signature covers ``f"{t}."`` followed by the exact body bytes, so a receiver verifies
what it received before parsing it, and rejects stale timestamps (replays). The
``Idempotency-Key`` header carries the message's key: a receiver that honours it turns a
resend after a crash into a no-op.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import orjson

from siyu.channels.models import Channel, Delivery, OutboundMessage
from siyu.channels.provider_http import call, new_client
from siyu.core.clock import utcnow
from siyu.core.errors import AuthError

SIGNATURE_HEADER = "X-Siyu-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def signature_header(secret: bytes, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(
    *,
    secret: bytes,
    header: str,
    body: bytes,
    now: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> int:
    """Check a received webhook; its timestamp if genuine and fresh.

    Raises:
        AuthError: malformed header, wrong signature, or a timestamp outside the tolerance.
    """
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        raise AuthError("malformed signature header") from None
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        raise AuthError("signature timestamp outside the tolerance")
    expected = signature_header(secret, timestamp, body).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise AuthError("signature does not match")
    return timestamp


@dataclass
class WebhookTransport:
    """The webhook channel: the message as JSON to the template's endpoint."""

    secret: bytes
    client: httpx.Client = field(default_factory=new_client)
    clock: Callable[[], datetime] = utcnow
    channel: Channel = Channel.WEBHOOK

    def payload(self, message: OutboundMessage) -> bytes:
        """The JSON body sent for ``message``."""
        return orjson.dumps(
            {
                "id": message.id,
                "workspace_id": message.workspace_id,
                "person_id": message.person_id,
                "template": message.template,
                "params": message.params,
                "content": message.content,
                "source": message.extra.get("source"),
                "attempt": message.attempt,
            }
        )

    def send(self, message: OutboundMessage) -> Delivery:
        """POST the signed payload; 2xx is delivery, 429/5xx/timeouts retry, other 4xx fail."""
        body = self.payload(message)
        now = self.clock()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature_header(self.secret, int(now.timestamp()), body),
            "Idempotency-Key": message.idempotency_key,
        }
        response = call(self.client, "POST", message.recipient, content=body, headers=headers)
        provider_id = response.headers.get("X-Request-Id") or message.id
        return Delivery(provider_message_id=provider_id, accepted_at=now)
