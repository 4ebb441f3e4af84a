"""Types the outbox service returns: templates, consent, ledger balances, stats, dispatch runs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from siyu.channels.models import Channel, HoldReason, MessageStatus, Purpose
from siyu.channels.restraint import ConsentStatus


class TemplatePut(BaseModel):
    """A message template of a workspace, by channel and name."""

    channel: Channel
    name: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=20_000, description="Text with {{ placeholders }}.")
    subject: str | None = Field(default=None, max_length=500, description="Email subject.")
    provider_template_id: str | None = Field(
        default=None, max_length=200, description="SMS template code, WeChat template id…"
    )
    app_id: str | None = Field(default=None, max_length=100, description="Official account/MP.")
    sender: str | None = Field(default=None, max_length=200, description="SMS sign, From…")
    endpoint: str | None = Field(default=None, max_length=1000, description="Webhook URL.")


class Template(TemplatePut):
    """A stored template."""

    updated_at: datetime


class Consent(BaseModel):
    """A person's current consent on one channel."""

    person_id: str
    channel: Channel
    status: ConsentStatus
    source: str = Field(description="Where it came from: 'api', 'sms_reply', 'email_link'…")
    updated_at: datetime


class ConsentChange(BaseModel):
    """One entry of a person's consent history."""

    channel: Channel
    status: ConsentStatus
    source: str
    at: datetime


class SubscriptionBalance(BaseModel):
    """Mini program one-time subscriptions a person has left for a template."""

    person_id: str
    template_id: str
    remaining: int


class Message(BaseModel):
    """An outbox message as operators see it (recipient never in clear)."""

    id: str
    person_id: str
    channel: Channel
    template: str
    purpose: Purpose
    priority: int
    source: str
    status: MessageStatus
    reason: HoldReason | None
    deferred: bool = Field(description="Moved to the end of quiet hours.")
    send_at: datetime
    attempts: int
    provider_message_id: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    redacted_at: datetime | None = Field(
        default=None,
        description="Retention emptied the body and recipient then (docs/privacy.md).",
    )


class SourceStats(BaseModel):
    """What became of the messages one source (journey node, API…) asked for."""

    source: str
    total: int = 0
    by_status: dict[str, int] = Field(default_factory=dict)
    held_by_reason: dict[str, int] = Field(default_factory=dict)

    @property
    def sent(self) -> int:
        """Accepted by a provider (delivered included)."""
        return self.by_status.get("sent", 0) + self.by_status.get("delivered", 0)

    @property
    def failed(self) -> int:
        """Given up."""
        return self.by_status.get("failed", 0)


class DispatchReport(BaseModel):
    """What one dispatcher pass did."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    held: int = Field(default=0, description="Refused at send time for a restraint reason.")
    awaiting_staff: int = Field(default=0, description="Handed to staff to confirm (WeCom).")
    rate_limited: dict[str, int] = Field(
        default_factory=dict, description="Due messages left for a later pass, by channel."
    )
