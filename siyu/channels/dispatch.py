"""Dispatchers: claim due outbox messages, hand them to transports, record what happened.

Crash story (at-least-once towards the provider, never lost):

1. *Claim* — one short transaction marks up to ``batch_size`` due rows SENDING with a lease
   (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers take disjoint rows; SQLite's
   BEGIN IMMEDIATE serialises claimers) and commits. No row lock is held while sending.
2. *Send* — ``transport.send`` runs outside any transaction, with the message's idempotency
   key passed to the provider (header or parameter).
3. *Record* — a second short transaction writes SENT / retry / FAILED, guarded by the
   attempt number so a late writer cannot overwrite a newer claim.

A crash after 1 leaves the row SENDING; when its lease runs out any dispatcher reclaims it
and sends again with the same idempotency key. So a crash between 2 and 3 sends twice only
at a provider that ignores the key (SMTP; see each transport); one that honours it (our
webhook receivers, providers deduplicating on the key) answers the first result. A send
that outlives its lease can likewise be repeated: keep the lease well above the transports'
timeouts.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels.models import (
    Channel,
    Delivery,
    HoldReason,
    MessageStatus,
    OutboundMessage,
    RetryableSendError,
    SendError,
    Transport,
)
from siyu.channels.outbox_models import DispatchReport
from siyu.channels.tables import channel_messages
from siyu.core.crypto import Vault
from siyu.core.db import transaction

m = channel_messages.c


@dataclass
class TokenBucket:
    """A per-channel rate limit: ``rate`` sends a second on average, bursts up to ``burst``.

    Kept by the worker process between passes (a limit per process: divide by the number of
    workers). Time comes from the ``now`` each pass is given.
    """

    rate: float
    burst: int
    tokens: float = field(default=-1.0)
    updated: datetime | None = None

    def available(self, now: datetime) -> int:
        """Whole tokens available at ``now`` (refilled since the last look)."""
        if self.tokens < 0:
            self.tokens = float(self.burst)
        if self.updated is not None and now > self.updated:
            elapsed = (now - self.updated).total_seconds()
            self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.updated = now if self.updated is None else max(self.updated, now)
        return int(self.tokens)

    def take(self, now: datetime) -> bool:
        """Spend one token if there is one."""
        if self.available(now) < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a retryable failure."""

    max_attempts: int = 5
    base_backoff: timedelta = timedelta(seconds=30)
    max_backoff: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)

    def backoff(self, attempt: int, rng: random.Random) -> timedelta:
        """Exponential backoff with "equal jitter": half fixed, half random."""
        ceiling = min(self.max_backoff, self.base_backoff * (1 << max(attempt - 1, 0)))
        return ceiling / 2 + ceiling / 2 * rng.random()


def dispatch_due(
    *,
    session_factory: sessionmaker[Session],
    transports: Mapping[Channel, Transport],
    now: datetime,
    batch_size: int = 100,
    vault: Vault | None = None,
    limits: Mapping[Channel, TokenBucket] | None = None,
    retry: RetryPolicy | None = None,
    rng: random.Random | None = None,
) -> DispatchReport:
    """Send the messages due at ``now`` on the channels that have a transport.

    Args:
        session_factory: sessions on the operational store (each step commits its own).
        transports: the transport of each channel to serve.
        now: aware UTC.
        batch_size: most messages claimed per channel in this pass.
        vault: decrypts phone and email recipients (required if such messages are due).
        limits: per-channel token buckets, kept by the caller between passes.
        retry: attempts, backoff and claim lease.
        rng: jitter source (seeded in tests).
    """
    retry = retry or RetryPolicy()
    rng = rng or random.Random()  # jitter, not security
    report = DispatchReport()
    for channel, transport in transports.items():
        bucket = (limits or {}).get(channel)
        allowed = min(batch_size, bucket.available(now)) if bucket else batch_size
        claimed = _claim(session_factory, channel, allowed, now, retry.lease) if allowed else []
        report.claimed += len(claimed)
        for row in claimed:
            if bucket is not None:
                bucket.take(now)
            _deliver(session_factory, transport, row, vault, now, retry, rng, report)
        if bucket is not None:
            left = _due_count(session_factory, channel, now)
            if left:
                report.rate_limited[channel.value] = left
    return report


def _due(channel: Channel, now: datetime) -> Any:
    return and_(
        m.channel == channel.value,
        or_(
            and_(m.status == MessageStatus.QUEUED.value, m.due_at <= now),
            and_(m.status == MessageStatus.SENDING.value, m.lease_until <= now),
        ),
    )


def _claim(
    factory: sessionmaker[Session], channel: Channel, limit: int, now: datetime, lease: timedelta
) -> list[dict[str, Any]]:
    with transaction(factory) as session:
        query = select(channel_messages).where(_due(channel, now)).order_by(m.due_at).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = [dict(r._mapping) for r in session.execute(query).all()]
        if rows:
            session.execute(
                update(channel_messages)
                .where(m.id.in_([r["id"] for r in rows]))
                .values(
                    status=MessageStatus.SENDING.value,
                    attempts=m.attempts + 1,
                    lease_until=now + lease,
                    updated_at=now,
                )
            )
        for r in rows:
            r["attempts"] += 1
        return rows


def _due_count(factory: sessionmaker[Session], channel: Channel, now: datetime) -> int:
    with factory() as session:
        return int(session.execute(select(func.count()).where(_due(channel, now))).scalar_one())


def outbound(row: Mapping[str, Any], vault: Vault | None) -> OutboundMessage:
    """The transport's view of a claimed row; phone/email decrypted only here."""
    recipient = row["recipient"]
    if row["recipient_encrypted"] is not None:
        if vault is None:
            raise SendError("a vault is needed to decrypt this recipient")
        recipient = vault.decrypt(row["recipient_encrypted"])
    extra = dict(row["extra"] or {})
    extra.update(template_name=row["template"], purpose=row["purpose"], source=row["source"])
    if row["subject"] is not None:
        extra["subject"] = row["subject"]
    return OutboundMessage(
        id=row["id"],
        workspace_id=row["workspace_id"],
        person_id=row["person_id"],
        channel=Channel(row["channel"]),
        recipient=recipient or "",
        template=row["provider_template_id"] or row["template"],
        params=row["params"] or {},
        content=row["content"],
        sender=row["sender"],
        idempotency_key=row["idempotency_key"],
        attempt=row["attempts"],
        extra=extra,
    )


def _deliver(
    factory: sessionmaker[Session],
    transport: Transport,
    row: dict[str, Any],
    vault: Vault | None,
    now: datetime,
    retry: RetryPolicy,
    rng: random.Random,
    report: DispatchReport,
) -> None:
    try:
        delivery = transport.send(outbound(row, vault))
    except RetryableSendError as exc:
        _retry_or_fail(factory, row, str(exc), now, retry, rng, report)
        return
    except SendError as exc:
        _refused(factory, row, exc, now, report)
        return
    except Exception as exc:  # a transport bug must not strand the message: retry it
        _retry_or_fail(factory, row, f"{type(exc).__name__}: {exc}", now, retry, rng, report)
        return
    _sent(factory, row, delivery, now)
    if delivery.status is MessageStatus.SENT:
        report.sent += 1
    else:
        report.awaiting_staff += 1


def _retry_or_fail(
    factory: sessionmaker[Session],
    row: dict[str, Any],
    error: str,
    now: datetime,
    retry: RetryPolicy,
    rng: random.Random,
    report: DispatchReport,
) -> None:
    if row["attempts"] >= retry.max_attempts:
        _finish(factory, row, now, status=MessageStatus.FAILED, last_error=error)
        report.failed += 1
        return
    due = now + retry.backoff(row["attempts"], rng)
    _finish(factory, row, now, status=MessageStatus.QUEUED, last_error=error, due_at=due)
    report.retried += 1


def _refused(
    factory: sessionmaker[Session],
    row: dict[str, Any],
    exc: SendError,
    now: datetime,
    report: DispatchReport,
) -> None:
    # A transport that finds a restraint reason at send time (WeCom's monthly cap on mass
    # sends) says so with ``reason=<HoldReason>``: the message is held, not failed.
    reason = exc.details.get("reason")
    if reason in _HOLD_REASONS:
        _finish(factory, row, now, status=MessageStatus.HELD, reason=reason, last_error=str(exc))
        report.held += 1
        return
    _finish(factory, row, now, status=MessageStatus.FAILED, last_error=str(exc))
    report.failed += 1


_HOLD_REASONS = frozenset(r.value for r in HoldReason)


def _sent(factory: sessionmaker[Session], row: dict[str, Any], d: Delivery, now: datetime) -> None:
    # AWAITING_STAFF: a staff member must still confirm (WeCom); settle_awaiting closes it.
    done = d.status is MessageStatus.SENT
    _finish(
        factory,
        row,
        now,
        status=d.status,
        provider_message_id=d.provider_message_id,
        sent_at=d.accepted_at if done else None,
        last_error=None,
    )


def _finish(
    factory: sessionmaker[Session],
    row: dict[str, Any],
    now: datetime,
    *,
    status: MessageStatus,
    due_at: datetime | None = None,
    **values: Any,
) -> None:
    with transaction(factory) as session:
        session.execute(
            update(channel_messages)
            .where(
                m.id == row["id"],
                m.status == MessageStatus.SENDING.value,
                m.attempts == row["attempts"],  # a newer claim owns the row otherwise
            )
            .values(status=status.value, due_at=due_at, lease_until=None, updated_at=now, **values)
        )
