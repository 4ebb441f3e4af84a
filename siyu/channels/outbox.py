"""The transactional outbox: one message row per request, in the caller's transaction.

``enqueue`` (one request) and ``enqueue_many`` (a batch, a handful of statements in all)
resolve the person's address on the channel, render the template, apply the restraint rules
and write the rows — queued for a dispatcher, or held with their reason. They never commit:
a journey writes its state change and its messages together, or neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.channels import outbox_reads as reads
from siyu.channels import restraint, subscriptions, templates
from siyu.channels.addresses import ADDRESS_TYPE, Address, pick_address
from siyu.channels.models import (
    Channel,
    EnqueueResult,
    HoldReason,
    MessageRequest,
    MessageStatus,
)
from siyu.channels.outbox_models import Template
from siyu.channels.restraint import ConsentStatus, RestraintPolicy, SendRecord
from siyu.channels.tables import channel_messages, channel_policies
from siyu.core.errors import InvalidInputError
from siyu.core.ids import new_id
from siyu.workspaces import service as workspaces

LOOKBACK = timedelta(days=32)  # covers the longest cap window (a calendar month)
MAX_BATCH = 5000


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
    return enqueue_many(session=session, workspace_id=workspace_id, requests=[request], now=now)[0]


def enqueue_many(
    *, session: Session, workspace_id: str, requests: Sequence[MessageRequest], now: datetime
) -> list[EnqueueResult]:
    """:func:`enqueue` for a batch (up to 5,000), in order; same rules, far fewer statements.

    Requests of one person are decided in order, each seeing the ones before it (caps,
    bumps). A key repeated inside the batch answers the first one's result as a duplicate.
    Any bad request fails the whole batch (nothing is written; the caller rolls back).
    """
    if len(requests) > MAX_BATCH:
        raise InvalidInputError(f"at most {MAX_BATCH} requests per batch", field="requests")
    for request in requests:
        if request.not_before is not None and request.not_before.tzinfo is None:
            raise InvalidInputError("not_before must be timezone-aware", field="not_before")
    keys = [r.idempotency_key for r in requests]
    results = reads.results_by_key(session, workspace_id, keys)
    firsts: dict[str, MessageRequest] = {}  # the first request of each new key, in order
    for request in requests:
        if request.idempotency_key not in results:
            firsts.setdefault(request.idempotency_key, request)
    fresh = list(firsts.values())
    if fresh:
        lineage = reads.lineages(session, workspace_id, [r.person_id for r in fresh])
        reads.lock_pairs(
            session, workspace_id, {(lineage[r.person_id][0], r.channel) for r in fresh}
        )
        results.update(
            reads.results_by_key(session, workspace_id, [r.idempotency_key for r in fresh])
        )
        fresh = [r for r in fresh if r.idempotency_key not in results]
        results.update(_write(session, workspace_id, fresh, lineage, now))
    out, seen = [], set()
    for key in keys:
        result = results[key]
        out.append(result.model_copy(update={"duplicate": True}) if key in seen else result)
        seen.add(key)
    return out


@dataclass
class _Batch:
    """Everything the decisions of one batch need, read up front."""

    policy: RestraintPolicy
    zone: str
    lineage: dict[str, list[str]]
    templates: dict[tuple[Channel, str], Template | None]
    identifiers: dict[tuple[str, str], list[tuple[str, str | None]]]
    consents: dict[tuple[str, str], set[str]]
    book: dict[tuple[str, str], list[SendRecord]]
    person_zones: dict[str, str] = field(default_factory=dict)
    subscriptions: dict[tuple[str, str], int] = field(default_factory=dict)


def _load(
    session: Session,
    workspace_id: str,
    requests: Sequence[MessageRequest],
    lineage: dict[str, list[str]],
    now: datetime,
) -> _Batch:
    policy = get_policy(session=session, workspace_id=workspace_id)
    zone = (
        policy.zone or workspaces.get_workspace(session=session, workspace_id=workspace_id).timezone
    )
    found = {
        (r.channel, r.template): templates.find_template(
            session=session, workspace_id=workspace_id, channel=r.channel, name=r.template
        )
        for r in {(r.channel, r.template): r for r in requests}.values()
    }
    roots = sorted({lineage[r.person_id][0] for r in requests})
    everyone = sorted({p for r in requests for p in lineage[r.person_id]})
    kinds = sorted({ADDRESS_TYPE[r.channel].value for r in requests if r.channel in ADDRESS_TYPE})
    times = [max(r.not_before or now, now) for r in requests]
    root_of = {p: lineage[r.person_id][0] for r in requests for p in lineage[r.person_id]}
    return _Batch(
        policy=policy,
        zone=zone,
        lineage=lineage,
        templates=found,
        identifiers=reads.identifiers(session, workspace_id, roots, kinds),
        consents=reads.consents(session, workspace_id, everyone),
        person_zones=reads.zones(session, workspace_id, roots),
        book=reads.recent(
            session, workspace_id, root_of, min(times) - LOOKBACK, max(times) + LOOKBACK
        ),
    )


def _write(
    session: Session,
    workspace_id: str,
    requests: Sequence[MessageRequest],
    lineage: dict[str, list[str]],
    now: datetime,
) -> dict[str, EnqueueResult]:
    if not requests:
        return {}
    batch = _load(session, workspace_id, requests, lineage, now)
    rows: list[dict[str, Any]] = []
    bumped: set[str] = set()
    bumps: dict[str, tuple[str, ...]] = {}  # by idempotency key: the messages it bumped
    for request in requests:
        row, decision = _plan(session, workspace_id, batch, request, now)
        rows.append(row)
        bumped.update(decision.bump)
        bumps[request.idempotency_key] = decision.bump
    mine = {row["id"]: row for row in rows}
    for message_id in bumped & mine.keys():  # bumped by a later request of this batch
        mine[message_id].update(
            status=MessageStatus.HELD.value, reason=HoldReason.LOWER_PRIORITY.value, due_at=None
        )
    _insert(session, rows)
    if bumped - mine.keys():
        _bump_stored(session, workspace_id, sorted(bumped - mine.keys()), now)
    for row in rows:
        if (
            row["status"] == MessageStatus.QUEUED.value
            and row["channel"] == Channel.MINIPROGRAM.value
        ):
            _spend_subscription(session, workspace_id, row, now)
    return {
        row["idempotency_key"]: EnqueueResult(
            message_id=row["id"],
            status=MessageStatus(row["status"]),
            reason=HoldReason(row["reason"]) if row["reason"] else None,
            bumped=list(bumps[row["idempotency_key"]]),
        )
        for row in rows
    }


def _plan(
    session: Session, workspace_id: str, batch: _Batch, request: MessageRequest, now: datetime
) -> tuple[dict[str, Any], restraint.Decision]:
    family = batch.lineage[request.person_id]
    template = batch.templates[(request.channel, request.template)]
    rendered = _render(template, request)
    address = pick_address(batch.identifiers, family[0], request, template)
    decision = _decide(batch, family, request, address, now)
    template_id = rendered["provider_template_id"]
    if decision.status is MessageStatus.QUEUED and request.channel is Channel.MINIPROGRAM:
        decision = _check_subscription(
            session, workspace_id, batch, family[0], template_id, decision
        )
    row = _row(workspace_id, family[0], request, template, address, now)
    row.update(rendered)
    row.update(_status_columns(decision))
    book = batch.book[(family[0], request.channel.value)]
    book[:] = [
        SendRecord(r.message_id, r.send_at, r.priority, r.purpose, MessageStatus.HELD)
        if r.message_id in decision.bump
        else r
        for r in book
    ]
    book.append(
        SendRecord(row["id"], decision.send_at, request.priority, request.purpose, decision.status)
    )
    return row, decision


def _render(template: Template | None, request: MessageRequest) -> dict[str, Any]:
    if template is None:
        if request.channel is Channel.EMAIL:
            raise InvalidInputError(f"no email template {request.template!r}", field="template")
        # No stored template: the name is the provider's template id, params go as data.
        return {"content": "", "subject": None, "provider_template_id": request.template}
    subject = template.subject
    return {
        "content": templates.render(template.body, request.params),
        "subject": templates.render(subject, request.params) if subject else None,
        "provider_template_id": template.provider_template_id or template.name,
    }


def _decide(
    batch: _Batch,
    family: list[str],
    request: MessageRequest,
    address: Address | None,
    now: datetime,
) -> restraint.Decision:
    at = max(request.not_before or now, now)
    if address is None:
        return restraint.Decision(MessageStatus.HELD, at, HoldReason.NO_ADDRESS)
    answers = set().union(*(batch.consents.get((p, request.channel.value), set()) for p in family))
    consent = None
    if answers:  # a revoke on any of the merged persons wins
        revoked = ConsentStatus.REVOKED.value in answers
        consent = ConsentStatus.REVOKED if revoked else ConsentStatus.GRANTED
    return restraint.decide(
        policy=batch.policy,
        zone=batch.person_zones.get(family[0], batch.zone),
        recent=batch.book[(family[0], request.channel.value)],
        ask=restraint.Ask(request.channel, request.purpose, request.priority, request.not_before),
        consent=consent,
        now=now,
    )


def _check_subscription(
    session: Session,
    workspace_id: str,
    batch: _Batch,
    person_id: str,
    template_id: str,
    decision: restraint.Decision,
) -> restraint.Decision:
    key = (person_id, template_id)
    if key not in batch.subscriptions:
        batch.subscriptions[key] = subscriptions.remaining(
            session=session, workspace_id=workspace_id, person_id=person_id, template_id=template_id
        ).remaining
    if batch.subscriptions[key] > 0:
        batch.subscriptions[key] -= 1
        return decision
    return restraint.Decision(MessageStatus.HELD, decision.send_at, HoldReason.NO_SUBSCRIPTION)


def _row(
    workspace_id: str,
    person_id: str,
    request: MessageRequest,
    template: Template | None,
    address: Address | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": new_id("msg"),
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
        "extra": {"app_id": address.app_id} if address and address.app_id else {},
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


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    # Every key is new under the (person, channel) locks; a key reused by another person in a
    # racing transaction still hits the unique constraint, and the caller's transaction fails
    # rather than answer with someone else's message.
    dialect = session.get_bind().dialect.name
    build = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for i in range(0, len(rows), 500):
        session.execute(build(channel_messages), rows[i : i + 500])


def _spend_subscription(
    session: Session, workspace_id: str, row: dict[str, Any], now: datetime
) -> None:
    taken = subscriptions.take(
        session=session,
        workspace_id=workspace_id,
        person_id=row["person_id"],
        template_id=row["provider_template_id"],
        now=now,
    )
    if not taken:  # spent by a concurrent grant/take path: hold, never send without one
        _hold(session, [row["id"]], HoldReason.NO_SUBSCRIPTION, now)
        row.update(status=MessageStatus.HELD.value, reason=HoldReason.NO_SUBSCRIPTION.value)


def _bump_stored(
    session: Session, workspace_id: str, message_ids: list[str], now: datetime
) -> None:
    # A bumped mini program message had spent a one-time subscription: give it back.
    m = channel_messages.c
    held = session.execute(
        update(channel_messages)
        .where(m.id.in_(message_ids), m.status == MessageStatus.QUEUED.value)
        .values(
            status=MessageStatus.HELD.value,
            reason=HoldReason.LOWER_PRIORITY.value,
            due_at=None,
            updated_at=now,
        )
        .returning(m.channel, m.person_id, m.provider_template_id)
    ).all()
    for r in held:
        if r.channel == Channel.MINIPROGRAM.value:
            subscriptions.refund(
                session=session,
                workspace_id=workspace_id,
                person_id=r.person_id,
                template_id=r.provider_template_id,
                now=now,
            )


def _hold(session: Session, message_ids: list[str], reason: HoldReason, now: datetime) -> None:
    # Only rows still QUEUED are held. A dispatcher that claimed a bumped one in the meantime
    # (its send_at had come) sends it: the window then holds one more than the cap. Rare, as
    # a bump needs a queued message in the same window; the alternative is locking claims
    # against enqueues.
    m = channel_messages.c
    session.execute(
        update(channel_messages)
        .where(m.id.in_(message_ids), m.status == MessageStatus.QUEUED.value)
        .values(status=MessageStatus.HELD.value, reason=reason.value, due_at=None, updated_at=now)
    )
