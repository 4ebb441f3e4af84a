"""Collect's effects: dedupe accepted messages, keep them durably, move them to the event store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import CollectedEvent
from siyu.collect.tables import collect_messages, event_inbox
from siyu.core.eventstore import EVENT_SCHEMA, EventStore

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHUNK = 500


def _micros(value: datetime | None) -> int | None:
    if value is None:
        return None
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def claim_new(
    *, session: Session, workspace_id: str, events: Sequence[CollectedEvent], now: datetime
) -> list[CollectedEvent]:
    """Record the message ids and return only the events never seen before (in order).

    Duplicates inside the batch and ids committed earlier (a retried batch) are dropped.
    """
    unique = list({e.message_id: e for e in reversed(events)}.values())[::-1]
    if not unique:
        return []
    dialect = session.get_bind().dialect.name
    table_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    fresh: set[str] = set()
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        statement = (
            table_insert(collect_messages)
            .values(
                [
                    {"workspace_id": workspace_id, "message_id": e.message_id, "received_at": now}
                    for e in chunk
                ]
            )
            .on_conflict_do_nothing()
            .returning(collect_messages.c.message_id)
        )
        fresh.update(session.execute(statement).scalars())
    return [e for e in unique if e.message_id in fresh]


def event_row(workspace_id: str, event: CollectedEvent, person_id: str) -> dict[str, Any]:
    """The event-store row of an event (times as epoch microseconds, JSON as text)."""
    return {
        "workspace_id": workspace_id,
        "message_id": event.message_id,
        "type": event.type.value,
        "event": event.event,
        "person_id": person_id,
        "anonymous_id": event.anonymous_id,
        "user_id": event.user_id,
        "group_id": event.group_id,
        "ids": [f"{i.type.value}:{i.key}" for i in event.identifiers],
        "properties": orjson.dumps(event.properties).decode(),
        "traits": orjson.dumps(_without_pii(event.traits)).decode(),
        "context": orjson.dumps(event.context).decode(),
        "channel": event.channel,
        "campaign": event.campaign,
        "revenue_fen": event.revenue_fen,
        "timestamp": _micros(event.timestamp),
        "received_at": _micros(event.received_at),
        "sent_at": _micros(event.sent_at),
    }


_PII_TRAITS = frozenset({"phone", "mobile", "email"})


def _without_pii(traits: dict[str, Any]) -> dict[str, Any]:
    # Phone and email travel as hashed, encrypted identifiers; never copy them in clear.
    if _PII_TRAITS.isdisjoint(traits):
        return traits
    return {k: v for k, v in traits.items() if k not in _PII_TRAITS}


def enqueue(
    *,
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
) -> None:
    """Keep events durably in the inbox, in the caller's transaction."""
    rows = [
        {
            "workspace_id": workspace_id,
            "person_id": person_id,
            "payload": orjson.dumps(event_row(workspace_id, event, person_id)),
            "created_at": now,
        }
        for event, person_id in zip(events, person_ids, strict=True)
    ]
    if rows:
        session.execute(insert(event_inbox), rows)


def inbox_row_to_event(row: dict[str, Any]) -> dict[str, Any]:
    """An inbox payload shaped like an event-store row (times as aware datetimes)."""
    out = dict(row)
    for name in ("timestamp", "received_at", "sent_at"):
        if out[name] is not None:
            out[name] = _EPOCH + timedelta(microseconds=out[name])
    return out


def _rows_table(payloads: Sequence[bytes]) -> pa.Table:
    return pa.Table.from_pylist([orjson.loads(p) for p in payloads], schema=EVENT_SCHEMA)


def flush_inbox(*, factory: sessionmaker[Session], store: EventStore, limit: int = 50_000) -> int:
    """Move up to ``limit`` inbox rows to the event store; returns how many moved.

    The rows are deleted in the same transaction that read them, after the store has made
    the segment durable; a crash in between leaves them in the inbox, and compaction drops
    the duplicate message ids a second flush would write.
    """
    with factory() as session, session.begin():
        rows = session.execute(
            select(event_inbox.c.seq, event_inbox.c.payload)
            .order_by(event_inbox.c.seq)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        store.append(_rows_table([r.payload for r in rows]))
        seqs = [r.seq for r in rows]
        for start in range(0, len(seqs), _CHUNK * 10):
            session.execute(
                delete(event_inbox).where(event_inbox.c.seq.in_(seqs[start : start + _CHUNK * 10]))
            )
        return len(rows)


def flush_all(*, factory: sessionmaker[Session], store: EventStore) -> int:
    """Flush until the inbox is empty; returns how many rows moved."""
    total = 0
    while moved := flush_inbox(factory=factory, store=store):
        total += moved
    return total


def pending_events(
    *, session: Session, workspace_id: str, person_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows of these persons still in the inbox (not yet in the event store)."""
    payloads = session.execute(
        select(event_inbox.c.payload).where(
            event_inbox.c.workspace_id == workspace_id,
            event_inbox.c.person_id.in_(list(person_ids)),
        )
    ).scalars()
    return [orjson.loads(p) for p in payloads]


def inbox_size(*, session: Session) -> int:
    """How many events wait in the inbox."""
    return int(session.execute(select(func.count()).select_from(event_inbox)).scalar_one())
