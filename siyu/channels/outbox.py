"""The transactional outbox: one message row per request, in the caller's transaction.

``enqueue`` resolves the person's address on the channel, renders the template, applies the
restraint rules and writes the row — queued for a dispatcher, or held with its reason. It
never commits: a journey writes its state change and its message together, or neither.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.channels import consent as consents
from siyu.channels import restraint, subscriptions, templates
from siyu.channels.models import (
    Channel,
    EnqueueResult,
    HoldReason,
    MessageRequest,
    MessageStatus,
    Purpose,
)
from siyu.channels.outbox_models import Template
from siyu.channels.restraint import RestraintPolicy, SendRecord
from siyu.channels.tables import channel_messages, channel_policies
from siyu.collect.models import IdType
from siyu.core.errors import InvalidInputError
from siyu.core.ids import new_id
from siyu.identity import service as identity
from siyu.identity.tables import identity_identifiers
from siyu.workspaces import service as workspaces

_ADDRESS_TYPE: dict[Channel, IdType] = {
    Channel.SMS: IdType.PHONE,
    Channel.EMAIL: IdType.EMAIL,
    Channel.MP_TEMPLATE: IdType.WECHAT_OPENID,
    Channel.MINIPROGRAM: IdType.MP_OPENID,
    Channel.WECOM: IdType.WECOM_EXTERNAL_USERID,
}
_LOOKBACK = timedelta(days=32)  # covers the longest cap window (a calendar month)


@dataclass(frozen=True)
class Address:
    """Where a message goes: clear (openid, URL) or encrypted (phone, email)."""

    recipient: str | None = None
    encrypted: str | None = None
    app_id: str | None = None


def get_policy(*, session: Session, workspace_id: str) -> RestraintPolicy:
    """The workspace's restraint policy (defaults when never set)."""
    t = channel_policies.c
    config = session.execute(
        select(t.config).where(t.workspace_id == workspace_id)
    ).scalar_one_or_none()
    return RestraintPolicy.model_validate(config) if config else RestraintPolicy()


def enqueue(
    *, session: Session, workspace_id: str, request: MessageRequest, now: datetime
) -> EnqueueResult:
    """Write ``request`` to the outbox (queued or held) in the caller's transaction.

    Idempotent on ``(workspace_id, request.idempotency_key)``: a repeated request returns
    the first result with ``duplicate=True`` and writes nothing.

    Raises:
        NotFoundError: no such person (or workspace).
        InvalidInputError: a naive ``not_before``, or params that do not fill the template.
    """
    if request.not_before is not None and request.not_before.tzinfo is None:
        raise InvalidInputError("not_before must be timezone-aware", field="not_before")
    seen = _by_key(session, workspace_id, request.idempotency_key)
    if seen is not None:
        return seen
    lineage = identity.person_ids_of(
        session=session, workspace_id=workspace_id, person_id=request.person_id
    )
    _lock_person(session, workspace_id, lineage[0], request.channel)
    seen = _by_key(session, workspace_id, request.idempotency_key)  # a racer may have won
    if seen is not None:
        return seen
    template = templates.find_template(
        session=session, workspace_id=workspace_id, channel=request.channel, name=request.template
    )
    rendered = _render(template, request)
    address = _address(session, workspace_id, lineage[0], request, template)
    template_id = rendered["provider_template_id"]
    decision = _decide(session, workspace_id, lineage, request, address, template_id, now)
    message_id = new_id("msg")
    row = _row(message_id, workspace_id, lineage[0], request, template, address, now)
    row.update(rendered)
    row.update(_status_columns(decision))
    if not _insert(session, row):
        again = _by_key(session, workspace_id, request.idempotency_key)
        assert again is not None  # the conflicting row is committed and visible now
        return again
    status, reason = decision.status, decision.reason
    if status is MessageStatus.QUEUED and request.channel is Channel.MINIPROGRAM:
        status, reason = _spend_subscription(session, workspace_id, message_id, row, now)
    if status is MessageStatus.QUEUED and decision.bump:
        _bump(session, decision.bump, now)
    return EnqueueResult(message_id=message_id, status=status, reason=reason)


def _by_key(session: Session, workspace_id: str, key: str) -> EnqueueResult | None:
    m = channel_messages.c
    row = session.execute(
        select(m.id, m.status, m.reason).where(
            m.workspace_id == workspace_id, m.idempotency_key == key
        )
    ).first()
    if row is None:
        return None
    return EnqueueResult(
        message_id=row.id,
        status=MessageStatus(row.status),
        reason=HoldReason(row.reason) if row.reason else None,
        duplicate=True,
    )


def _lock_person(session: Session, workspace_id: str, person_id: str, channel: Channel) -> None:
    # Caps count the person's other messages: two concurrent enqueues for the same person
    # and channel must not both see room for one more. PostgreSQL: a transaction-scoped
    # advisory lock; SQLite: BEGIN IMMEDIATE already serialises every writer.
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"{workspace_id}\x00{person_id}\x00{channel}".encode(), digest_size=8)
    key = int.from_bytes(digest.digest(), "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _render(template: Template | None, request: MessageRequest) -> dict[str, Any]:
    if template is None:
        if request.channel is Channel.EMAIL:
            raise InvalidInputError(f"no email template {request.template!r}", field="template")
        # No stored template: the name is the provider's template id, params go as data.
        return {"content": "", "subject": None, "provider_template_id": request.template}
    return {
        "content": templates.render(template.body, request.params),
        "subject": templates.render(template.subject, request.params) if template.subject else None,
        "provider_template_id": template.provider_template_id or template.name,
    }


def _address(
    session: Session,
    workspace_id: str,
    person_id: str,
    request: MessageRequest,
    template: Template | None,
) -> Address | None:
    if request.channel is Channel.WEBHOOK:
        return Address(recipient=template.endpoint) if template and template.endpoint else None
    if request.channel is Channel.WECOM_GROUP:
        chat = request.params.get("chat_id")
        return Address(recipient=chat) if chat else None
    kind = _ADDRESS_TYPE[request.channel]
    ids = identity_identifiers.c
    rows = session.execute(
        select(ids.key, ids.encrypted)
        .where(ids.workspace_id == workspace_id, ids.person_id == person_id, ids.id_type == kind)
        .order_by(ids.first_seen.desc(), ids.key)  # the newest phone/email/openid first
    ).all()
    app_id = template.app_id if template else None
    for r in rows:
        if r.encrypted is not None:
            return Address(encrypted=r.encrypted)
        if kind in (IdType.WECHAT_OPENID, IdType.MP_OPENID):
            app, _, openid = str(r.key).partition(":")
            if openid and (app_id is None or app == app_id):
                return Address(recipient=openid, app_id=app)
            continue
        return Address(recipient=r.key)
    return None


def _decide(
    session: Session,
    workspace_id: str,
    lineage: list[str],
    request: MessageRequest,
    address: Address | None,
    template_id: str,
    now: datetime,
) -> restraint.Decision:
    at = max(request.not_before or now, now)
    if address is None:
        return restraint.Decision(MessageStatus.HELD, at, HoldReason.NO_ADDRESS)
    policy = get_policy(session=session, workspace_id=workspace_id)
    zone = (
        policy.zone or workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
    )
    answer = consents.consent_of(
        session=session, workspace_id=workspace_id, person_ids=lineage, channel=request.channel
    )
    decision = restraint.decide(
        policy=policy,
        zone=zone,
        recent=recent_sends(session, workspace_id, lineage, request.channel, at),
        ask=restraint.Ask(request.channel, request.purpose, request.priority, request.not_before),
        consent=answer,
        now=now,
    )
    if decision.status is MessageStatus.QUEUED and request.channel is Channel.MINIPROGRAM:
        return _check_subscription(session, workspace_id, lineage[0], template_id, decision)
    return decision


def _check_subscription(
    session: Session,
    workspace_id: str,
    person_id: str,
    template_id: str,
    decision: restraint.Decision,
) -> restraint.Decision:
    left = subscriptions.remaining(
        session=session, workspace_id=workspace_id, person_id=person_id, template_id=template_id
    )
    if left.remaining > 0:
        return decision
    return restraint.Decision(MessageStatus.HELD, decision.send_at, HoldReason.NO_SUBSCRIPTION)


def recent_sends(
    session: Session, workspace_id: str, lineage: list[str], channel: Channel, at: datetime
) -> list[SendRecord]:
    """The person's messages on ``channel`` planned within a month either side of ``at``."""
    m = channel_messages.c
    rows = session.execute(
        select(m.id, m.send_at, m.priority, m.purpose, m.status).where(
            m.workspace_id == workspace_id,
            m.person_id.in_(lineage),
            m.channel == channel.value,
            m.send_at >= at - _LOOKBACK,
            m.send_at <= at + _LOOKBACK,
        )
    ).all()
    return [
        SendRecord(r.id, r.send_at, r.priority, Purpose(r.purpose), MessageStatus(r.status))
        for r in rows
    ]


def _row(
    message_id: str,
    workspace_id: str,
    person_id: str,
    request: MessageRequest,
    template: Template | None,
    address: Address | None,
    now: datetime,
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if address and address.app_id:
        extra["app_id"] = address.app_id
    return {
        "id": message_id,
        "workspace_id": workspace_id,
        "person_id": person_id,
        "channel": request.channel.value,
        "template": request.template,
        "params": dict(request.params),
        "purpose": request.purpose.value,
        "priority": request.priority,
        "source": request.source,
        "idempotency_key": request.idempotency_key,
        "recipient": address.recipient if address else None,
        "recipient_encrypted": address.encrypted if address else None,
        "sender": template.sender if template else None,
        "extra": extra,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _status_columns(decision: restraint.Decision) -> dict[str, Any]:
    queued = decision.status is MessageStatus.QUEUED
    return {
        "status": decision.status.value,
        "reason": decision.reason.value if decision.reason else None,
        "deferred": decision.deferred,
        "send_at": decision.send_at,
        "due_at": decision.send_at if queued else None,
    }


def _insert(session: Session, row: dict[str, Any]) -> bool:
    dialect = session.get_bind().dialect.name
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = build(channel_messages).values(**row).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT SQLAlchemy executes this way.
    return session.execute(stmt.returning(channel_messages.c.id)).first() is not None


def _spend_subscription(
    session: Session, workspace_id: str, message_id: str, row: dict[str, Any], now: datetime
) -> tuple[MessageStatus, HoldReason | None]:
    taken = subscriptions.take(
        session=session,
        workspace_id=workspace_id,
        person_id=row["person_id"],
        template_id=row["provider_template_id"],
        now=now,
    )
    if taken:
        return MessageStatus.QUEUED, None
    _hold(session, [message_id], HoldReason.NO_SUBSCRIPTION, now)
    return MessageStatus.HELD, HoldReason.NO_SUBSCRIPTION


def _bump(session: Session, message_ids: tuple[str, ...], now: datetime) -> None:
    # Only rows still QUEUED are bumped. A dispatcher that claimed one in the meantime (its
    # send_at had come) sends it: the window then holds one more than the cap. Rare, since
    # a bump needs a queued message of the same day; the alternative is locking the claim
    # against enqueues.
    _hold(session, list(message_ids), HoldReason.LOWER_PRIORITY, now)


def _hold(session: Session, message_ids: list[str], reason: HoldReason, now: datetime) -> None:
    m = channel_messages.c
    session.execute(
        update(channel_messages)
        .where(m.id.in_(message_ids), m.status == MessageStatus.QUEUED.value)
        .values(status=MessageStatus.HELD.value, reason=reason.value, due_at=None, updated_at=now)
    )
