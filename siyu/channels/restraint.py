"""勿扰: the pure rules that decide whether, and when, a message may go to a person.

Consent first (a revoke on the channel holds everything; marketing needs a grant), then
for marketing only: quiet hours in the person's zone (deferred to their end, never dropped)
and frequency caps per calendar day, ISO week and month in that zone, counted over every
journey and the API together. When a cap bites, a request of higher priority may bump
queued, not-yet-sent messages of lower priority (they become held ``lower_priority``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from siyu.channels.models import Channel, HoldReason, MessageStatus, Purpose


class ConsentStatus(StrEnum):
    """A person's recorded answer for one channel."""

    GRANTED = "granted"
    REVOKED = "revoked"


class ChannelCaps(BaseModel):
    """Most marketing messages per person on one channel per calendar window (None = no cap)."""

    model_config = ConfigDict(frozen=True)

    daily: int | None = Field(default=1, ge=0)
    weekly: int | None = Field(default=3, ge=0)
    monthly: int | None = Field(default=None, ge=0)


class RestraintPolicy(BaseModel):
    """A workspace's restraint settings; every field has a sensible default."""

    model_config = ConfigDict(frozen=True)

    default_caps: ChannelCaps = Field(default_factory=ChannelCaps)
    caps: dict[Channel, ChannelCaps] = Field(
        # A webhook reaches the brand's own systems, not the person's phone.
        default_factory=lambda: {Channel.WEBHOOK: ChannelCaps(daily=None, weekly=None)},
        description="Per-channel overrides of default_caps.",
    )
    quiet_hours: bool = True
    quiet_start: time = Field(default=time(21, 0), description="Local start of quiet hours.")
    quiet_end: time = Field(default=time(9, 0), description="Local end (may wrap midnight).")
    zone: str | None = Field(
        default=None,
        description="IANA zone for people without a timezone trait; none = the workspace's.",
    )
    consent_implied: frozenset[Channel] = Field(
        default=frozenset({Channel.MINIPROGRAM, Channel.WEBHOOK}),
        description="Channels whose own opt-in is the consent (a mini program subscription).",
    )
    quiet_exempt: frozenset[Channel] = Field(
        default=frozenset({Channel.WEBHOOK}), description="Channels quiet hours do not apply to."
    )

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {zone!r}") from None
        return zone

    def caps_for(self, channel: Channel) -> ChannelCaps:
        """The caps that apply on ``channel``."""
        return self.caps.get(channel, self.default_caps)


# Statuses that count against caps: everything planned or gone, not held or failed.
COUNTED = frozenset(
    {
        MessageStatus.QUEUED,
        MessageStatus.AWAITING_STAFF,
        MessageStatus.SENDING,
        MessageStatus.SENT,
        MessageStatus.DELIVERED,
    }
)


@dataclass(frozen=True, slots=True)
class SendRecord:
    """One earlier message of the person on the channel, as the rules see it."""

    message_id: str
    send_at: datetime
    priority: int
    purpose: Purpose
    status: MessageStatus


@dataclass(frozen=True, slots=True)
class Ask:
    """The facts of a request the rules need."""

    channel: Channel
    purpose: Purpose
    priority: int
    not_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a request: queue at ``send_at`` (maybe bumping others) or hold."""

    status: MessageStatus
    send_at: datetime
    reason: HoldReason | None = None
    deferred: bool = False  # moved to the end of quiet hours
    bump: tuple[str, ...] = field(default=())


def decide(
    *,
    policy: RestraintPolicy,
    zone: str,
    recent: Sequence[SendRecord],
    ask: Ask,
    consent: ConsentStatus | None,
    now: datetime,
) -> Decision:
    """Decide one request. Pure: ``recent`` is the person's messages on this channel and
    ``zone`` the person's IANA zone (their ``timezone`` trait, else the policy's, else the
    workspace's)."""
    send_at = max(ask.not_before or now, now)
    refused = _consent_refusal(policy, ask, consent)
    if refused is not None:
        return Decision(MessageStatus.HELD, send_at, refused)
    if ask.purpose is Purpose.TRANSACTIONAL:
        return Decision(MessageStatus.QUEUED, send_at)
    tz = ZoneInfo(zone)
    deferred = False
    if policy.quiet_hours and ask.channel not in policy.quiet_exempt:
        end = quiet_end_after(send_at, tz, policy.quiet_start, policy.quiet_end)
        if end is not None:
            send_at, deferred = end, True
    return _apply_caps(policy.caps_for(ask.channel), tz, recent, ask, send_at, deferred)


def _consent_refusal(
    policy: RestraintPolicy, ask: Ask, consent: ConsentStatus | None
) -> HoldReason | None:
    # An explicit revoke wins over everything on that channel, transactional included.
    if consent is ConsentStatus.REVOKED:
        return HoldReason.UNSUBSCRIBED
    needs_grant = ask.purpose is Purpose.MARKETING and ask.channel not in policy.consent_implied
    if needs_grant and consent is not ConsentStatus.GRANTED:
        return HoldReason.NO_CONSENT
    return None


def quiet_end_after(at: datetime, tz: ZoneInfo, start: time, end: time) -> datetime | None:
    """The end of the quiet hours ``at`` falls in (aware UTC), or None if it is not quiet."""
    local = at.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        quiet, day = start <= clock < end, local.date()
    else:  # wraps midnight: 21:00–09:00
        quiet = clock >= start or clock < end
        day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(day, end, tzinfo=tz).astimezone(at.tzinfo)


def _window_keys(tz: ZoneInfo) -> list[tuple[str, Callable[[datetime], object]]]:
    def local(d: datetime) -> date:
        return d.astimezone(tz).date()

    return [
        ("daily", local),
        ("weekly", lambda d: local(d).isocalendar()[:2]),
        ("monthly", lambda d: (local(d).year, local(d).month)),
    ]


_CAP_REASON = {
    "daily": HoldReason.DAILY_CAP,
    "weekly": HoldReason.WEEKLY_CAP,
    "monthly": HoldReason.MONTHLY_CAP,
}


def _apply_caps(
    caps: ChannelCaps,
    tz: ZoneInfo,
    recent: Sequence[SendRecord],
    ask: Ask,
    send_at: datetime,
    deferred: bool,
) -> Decision:
    counted = [r for r in recent if r.purpose is Purpose.MARKETING and r.status in COUNTED]
    bumped: set[str] = set()
    # Smallest window first: a bump inside today also frees this week and this month.
    for name, key_of in _window_keys(tz):
        limit = getattr(caps, name)
        if limit is None:
            continue
        key = key_of(send_at)
        inside = [r for r in counted if r.message_id not in bumped and key_of(r.send_at) == key]
        excess = len(inside) + 1 - limit
        if excess <= 0:
            continue
        victims = _bumpable(inside, ask.priority)[:excess]
        if len(victims) < excess:
            return Decision(MessageStatus.HELD, send_at, _CAP_REASON[name], deferred)
        bumped.update(v.message_id for v in victims)
    return Decision(MessageStatus.QUEUED, send_at, None, deferred, tuple(sorted(bumped)))


def _bumpable(inside: Sequence[SendRecord], priority: int) -> list[SendRecord]:
    # Only queued (not yet handed to a provider) messages of strictly lower priority;
    # the lowest priority first, and among equals the latest planned.
    candidates = [r for r in inside if r.status is MessageStatus.QUEUED and r.priority < priority]
    return sorted(candidates, key=lambda r: (r.priority, -r.send_at.timestamp()))


@dataclass(frozen=True, slots=True)
class PlannedSend:
    """One send a journey dry run expects to make."""

    person_id: str
    channel: Channel
    at: datetime
    priority: int = 0
    purpose: Purpose = Purpose.MARKETING


@dataclass
class CapsForecast:
    """How many of the planned sends the caps would hold (and the others they would bump)."""

    planned: int = 0
    held: int = 0
    bumped: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)


def forecast_caps(
    *,
    policy: RestraintPolicy,
    zone: str,
    existing: Sequence[tuple[str, Channel, SendRecord]],
    planned: Sequence[PlannedSend],
) -> CapsForecast:
    """Replay ``planned`` (in time order) against the caps, consent taken as given.

    ``existing`` are (person_id, channel, record) of messages already in the outbox.
    Quiet hours only move a send, so they are applied; nothing is written.
    """
    book: dict[tuple[str, Channel], list[SendRecord]] = {}
    for person_id, channel, record in existing:
        book.setdefault((person_id, channel), []).append(record)
    out = CapsForecast(planned=len(planned))
    for n, plan in enumerate(sorted(planned, key=lambda p: p.at)):
        records = book.setdefault((plan.person_id, plan.channel), [])
        ask = Ask(plan.channel, plan.purpose, plan.priority, plan.at)
        d = decide(
            policy=policy,
            zone=zone,
            recent=records,
            ask=ask,
            consent=ConsentStatus.GRANTED,
            now=plan.at,
        )
        if d.status is MessageStatus.HELD:
            out.held += 1
            reason = str(d.reason)
            out.by_reason[reason] = out.by_reason.get(reason, 0) + 1
            continue
        if d.bump:  # the bumped ones become held lower_priority
            out.bumped += len(d.bump)
            out.held += len(d.bump)
            reason = str(HoldReason.LOWER_PRIORITY)
            out.by_reason[reason] = out.by_reason.get(reason, 0) + len(d.bump)
            records[:] = [r for r in records if r.message_id not in d.bump]
        records.append(SendRecord(f"plan{n}", d.send_at, plan.priority, plan.purpose, d.status))
    return out
