"""The types that cross the channels boundary: what to send, what became of it, who carries it.

Journeys, loyalty and the API build a :class:`MessageRequest`; ``channels.service``
records it in the outbox (or holds it back, with a reason) in the caller's
transaction; a dispatcher later hands each due :class:`OutboundMessage` to the
channel's :class:`Transport`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from siyu.core.errors import SiyuError


class Channel(StrEnum):
    """A channel siyu can reach a person on."""

    WECOM = "wecom"  # 1:1 to an external contact through the staff member's WeCom
    WECOM_GROUP = "wecom_group"  # a customer group, through its owner
    MP_TEMPLATE = "mp_template"  # official account template message
    MINIPROGRAM = "miniprogram"  # mini program one-time subscription message
    SMS = "sms"
    EMAIL = "email"
    WEBHOOK = "webhook"


class Purpose(StrEnum):
    """Marketing messages obey consent, caps and quiet hours; transactional ones only consent."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


class MessageStatus(StrEnum):
    """Where an outbox message is in its life."""

    QUEUED = "queued"  # waiting for a dispatcher (maybe until ``not_before``)
    AWAITING_STAFF = "awaiting_staff"  # a WeCom mass send a staff member must confirm
    SENDING = "sending"
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # a receipt says it arrived
    FAILED = "failed"  # gave up: permanent error or retries exhausted
    HELD = "held"  # never sent: consent, cap, quiet hours, no subscription…


class HoldReason(StrEnum):
    """Why a message was held back rather than queued."""

    NO_CONSENT = "no_consent"
    UNSUBSCRIBED = "unsubscribed"
    DAILY_CAP = "daily_cap"
    WEEKLY_CAP = "weekly_cap"
    MONTHLY_CAP = "monthly_cap"
    QUIET_HOURS = "quiet_hours"
    NO_ADDRESS = "no_address"  # the person has no openid / phone / email … for this channel
    NO_SUBSCRIPTION = "no_subscription"  # mini program: no one-time subscription left
    QUOTA = "quota"  # the account's provider quota for the day is spent
    LOWER_PRIORITY = "lower_priority"


class MessageRequest(BaseModel):
    """A wish to send one message to one person; the outbox decides whether and when."""

    model_config = ConfigDict(frozen=True)

    person_id: str
    channel: Channel
    template: str = Field(description="Template name (or provider template id).")
    params: dict[str, str] = Field(default_factory=dict, description="Personalisation values.")
    purpose: Purpose = Purpose.MARKETING
    priority: int = Field(default=0, description="Higher wins when caps bite.")
    source: str = Field(default="api", description="Who asked: 'journey:<id>:<node>', 'api'…")
    idempotency_key: str = Field(max_length=200)
    not_before: datetime | None = Field(default=None, description="Aware UTC; none = now.")


class EnqueueResult(BaseModel):
    """What the outbox did with a request."""

    message_id: str
    status: MessageStatus
    reason: HoldReason | None = None
    duplicate: bool = Field(default=False, description="The idempotency key was seen before.")
    bumped: list[str] = Field(
        default_factory=list,
        description="Queued messages of lower priority this one bumped (now held "
        "lower_priority, never sent).",
    )


class OutboundMessage(BaseModel):
    """A queued message as a transport sees it: the address is resolved, the text rendered."""

    model_config = ConfigDict(frozen=True)

    id: str
    workspace_id: str
    person_id: str
    channel: Channel
    recipient: str = Field(description="openid, external_userid, phone, email or URL.")
    template: str
    params: dict[str, str]
    content: str = Field(default="", description="Rendered text, where the channel takes text.")
    sender: str | None = Field(default=None, description="WeCom staff userid, SMS sign, From…")
    idempotency_key: str
    attempt: int = 1
    extra: dict[str, Any] = Field(default_factory=dict)


class Delivery(BaseModel):
    """A provider's acceptance of a message."""

    provider_message_id: str
    accepted_at: datetime
    status: MessageStatus = Field(
        default=MessageStatus.SENT,
        description="SENT, or AWAITING_STAFF when a staff member must still confirm (WeCom "
        "mass send): the outbox keeps the message open until the staff loop settles it.",
    )


class SendError(SiyuError):
    """A transport could not send; the message is failed for good."""


class RetryableSendError(SendError):
    """A transport could not send this time (timeout, 5xx, rate limit); retry with backoff."""


class Transport(Protocol):
    """Carries messages of one channel to its provider (WeCom, SMS gateway, SMTP…)."""

    channel: Channel

    def send(self, message: OutboundMessage) -> Delivery:
        """Send ``message`` or raise :class:`SendError` / :class:`RetryableSendError`."""
        ...
