"""The public surface of channels: enqueue, restraint policy, consent, receipts and stats.

Callers write ``from siyu.channels import service as channels``. The dispatcher
(:func:`siyu.channels.dispatch.dispatch_due`) is run by the worker; transports live in
``sms``, ``email``, ``webhook`` (and the WeChat/WeCom modules).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from siyu.channels import restraint
from siyu.channels.consent import (
    consent_history,
    consents_of,
    set_consent,
    unsubscribe_by_sms_reply,
    unsubscribe_token,
    unsubscribe_with_token,
)
from siyu.channels.models import Channel, MessageStatus, Purpose
from siyu.channels.outbox import enqueue, enqueue_many, get_policy
from siyu.channels.outbox_models import Message, SourceStats
from siyu.channels.restraint import (
    CapsForecast,
    PlannedSend,
    RestraintPolicy,
    SendRecord,
)
from siyu.channels.subscriptions import grant as grant_subscription
from siyu.channels.subscriptions import remaining as subscriptions_remaining
from siyu.channels.tables import channel_messages, channel_policies
from siyu.channels.templates import find_template, list_templates, placeholders, put_template
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.workspaces import service as workspaces

__all__ = [
    "consent_history",
    "consents_of",
    "enqueue",
    "enqueue_many",
    "find_template",
    "forecast_holds",
    "get_policy",
    "grant_subscription",
    "list_messages",
    "list_templates",
    "params_of",
    "placeholders",
    "put_template",
    "record_receipt",
    "set_consent",
    "set_policy",
    "settle_awaiting",
    "stats_by_source",
    "subscriptions_remaining",
    "unsubscribe_by_sms_reply",
    "unsubscribe_token",
    "unsubscribe_with_token",
]

m = channel_messages.c
MAX_PAGE = 500
_LOOKBACK = timedelta(days=32)  # the longest cap window (a calendar month) and a day


def set_policy(
    *, session: Session, workspace_id: str, policy: RestraintPolicy, now: datetime
) -> RestraintPolicy:
    """Replace the workspace's restraint policy (caps, quiet hours, zone…); caller commits."""
    config = policy.model_dump(mode="json")
    t = channel_policies.c
    done = session.execute(
        update(channel_policies)
        .where(t.workspace_id == workspace_id)
        .values(config=config, updated_at=now)
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        session.execute(
            insert(channel_policies).values(
                workspace_id=workspace_id, config=config, updated_at=now
            )
        )
    return policy


def record_receipt(
    *,
    session: Session,
    workspace_id: str,
    delivered: bool,
    at: datetime,
    provider_message_id: str | None = None,
    message_id: str | None = None,
    error: str | None = None,
) -> Message:
    """Record a provider's delivery receipt (by its message id, or ours); idempotent.

    A delivered receipt moves SENT → DELIVERED; a failure receipt moves SENT → FAILED with
    the provider's error. A receipt for a message already in that state changes nothing.

    Raises:
        InvalidInputError: neither id given.
        NotFoundError: no such message in the workspace.
    """
    if not (provider_message_id or message_id):
        raise InvalidInputError("give provider_message_id or message_id", field="message_id")
    where = [m.workspace_id == workspace_id]
    where.append(m.id == message_id if message_id else m.provider_message_id == provider_message_id)
    row_id = session.execute(select(m.id).where(*where)).scalar_one_or_none()
    if row_id is None:
        raise NotFoundError("no such message", field="message_id")
    values = (
        {"status": MessageStatus.DELIVERED.value, "delivered_at": at}
        if delivered
        else {"status": MessageStatus.FAILED.value, "last_error": error or "delivery failed"}
    )
    session.execute(
        update(channel_messages)
        .where(m.id == row_id, m.status == MessageStatus.SENT.value)
        .values(updated_at=at, **values)
    )
    return _messages(session, m.id == row_id)[0]


def settle_awaiting(
    *,
    session: Session,
    workspace_id: str,
    message_id: str,
    sent: bool,
    at: datetime,
    reason: str | None = None,
) -> Message:
    """Close a message that waited on staff (WeCom): SENT when confirmed, else FAILED.

    Idempotent: a message no longer AWAITING_STAFF is left as it is.

    Raises:
        NotFoundError: no such message in the workspace.
    """
    values = (
        {"status": MessageStatus.SENT.value, "sent_at": at}
        if sent
        else {"status": MessageStatus.FAILED.value, "last_error": reason or "staff task lapsed"}
    )
    session.execute(
        update(channel_messages)
        .where(
            m.workspace_id == workspace_id,
            m.id == message_id,
            m.status == MessageStatus.AWAITING_STAFF.value,
        )
        .values(updated_at=at, **values)
    )
    found = _messages(session, m.workspace_id == workspace_id, m.id == message_id)
    if not found:
        raise NotFoundError("no such message", field="message_id")
    return found[0]


def list_messages(
    *, session: Session, workspace_id: str, person_id: str | None = None, limit: int = 100
) -> list[Message]:
    """The newest outbox messages of the workspace (or of one person)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be 1–{MAX_PAGE}", field="limit")
    where = [m.workspace_id == workspace_id]
    if person_id is not None:
        where.append(m.person_id == person_id)
    return _messages(session, *where, limit=limit)


def params_of(
    *, session: Session, workspace_id: str, message_ids: Sequence[str]
) -> dict[str, dict[str, str]]:
    """The template params stored with each of these messages (e.g. the coupon an offer
    send carried), by message id; retention may have emptied them."""
    if not message_ids:
        return {}
    rows = session.execute(
        select(m.id, m.params).where(m.workspace_id == workspace_id, m.id.in_(message_ids))
    ).all()
    return {r.id: dict(r.params or {}) for r in rows}


def _messages(session: Session, *where: object, limit: int = 1) -> list[Message]:
    cols = [getattr(m, f) for f in Message.model_fields]
    rows = session.execute(
        select(*cols).where(*where).order_by(m.created_at.desc(), m.id.desc()).limit(limit)  # type: ignore[arg-type]
    ).all()
    return [Message.model_validate(dict(r._mapping)) for r in rows]


def stats_by_source(
    *,
    session: Session,
    workspace_id: str,
    sources: Sequence[str] | None = None,
    prefix: str | None = None,
) -> list[SourceStats]:
    """Counts per source (``journey:<id>:<node>``…) by status, and held ones by reason.

    Args:
        sources: only these sources; or
        prefix: only sources starting with it (e.g. ``journey:j_01…:``).
    """
    where = [m.workspace_id == workspace_id]
    if sources is not None:
        where.append(m.source.in_(list(sources)))
    if prefix:
        where.append(m.source.startswith(prefix, autoescape=True))
    rows = session.execute(
        select(m.source, m.status, m.reason, func.count())
        .where(*where)
        .group_by(m.source, m.status, m.reason)
        .order_by(m.source)
    ).all()
    out: dict[str, SourceStats] = {}
    for source, status, reason, count in rows:
        stats = out.setdefault(source, SourceStats(source=source))
        stats.total += count
        stats.by_status[status] = stats.by_status.get(status, 0) + count
        if reason is not None:
            stats.held_by_reason[reason] = stats.held_by_reason.get(reason, 0) + count
    return list(out.values())


def forecast_holds(
    *, session: Session, workspace_id: str, planned: Sequence[PlannedSend], now: datetime
) -> CapsForecast:
    """How many of ``planned`` sends the caps would hold, given what is already queued/sent.

    For a journey dry run: nothing is written; consent is not checked (only caps, quiet
    hours and priority bumps).
    """
    policy = get_policy(session=session, workspace_id=workspace_id)
    zone = (
        policy.zone or workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
    )
    existing = _existing(session, workspace_id, planned, now)
    return restraint.forecast_caps(policy=policy, zone=zone, existing=existing, planned=planned)


def _existing(
    session: Session, workspace_id: str, planned: Sequence[PlannedSend], now: datetime
) -> list[tuple[str, Channel, SendRecord]]:
    persons = sorted({p.person_id for p in planned})
    out: list[tuple[str, Channel, SendRecord]] = []
    start = min((p.at for p in planned), default=now) - _LOOKBACK
    counted = [s.value for s in restraint.COUNTED]
    for i in range(0, len(persons), 1000):
        rows = session.execute(
            select(m.person_id, m.channel, m.id, m.send_at, m.priority, m.purpose, m.status).where(
                m.workspace_id == workspace_id,
                m.person_id.in_(persons[i : i + 1000]),
                m.send_at >= start,
                m.status.in_(counted),
                m.purpose == Purpose.MARKETING.value,
            )
        ).all()
        out.extend(
            (
                r.person_id,
                Channel(r.channel),
                SendRecord(
                    r.id, r.send_at, r.priority, Purpose(r.purpose), MessageStatus(r.status)
                ),
            )
            for r in rows
        )
    return out
