"""Collect's effects: dedupe accepted messages, keep them durably, move them to the event store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import CollectedEvent
from siyu.collect.tables import collect_messages, event_inbox
from siyu.core.eventstore import EVENT_SCHEMA, EventStore

_CHUNK = 500

_CLAIM_PG = text(
    "INSERT INTO collect_messages (workspace_id, message_id, received_at) "
    "SELECT :workspace_id, m, :received_at FROM unnest(CAST(:ids AS text[])) AS m "
    "ON CONFLICT DO NOTHING RETURNING message_id"
)


def _claim_postgresql(
    session: Session, workspace_id: str, ids: list[str], now: datetime
) -> set[str]:
    # One statement over an array; RETURNING tells exactly which ids were new even when a
    # concurrent transaction inserts the same id (it waits for that one, then skips).
    params = {"workspace_id": workspace_id, "received_at": now, "ids": ids}
    return set(session.execute(_CLAIM_PG, params).scalars())


def _claim_sqlite(session: Session, workspace_id: str, ids: list[str], now: datetime) -> set[str]:
    # SQLite transactions here begin IMMEDIATE, so no other writer runs between the read and
    # the insert: the ids not found are exactly the new ones.
    seen: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        seen.update(
            session.execute(
                select(collect_messages.c.message_id).where(
                    collect_messages.c.workspace_id == workspace_id,
                    collect_messages.c.message_id.in_(chunk),
                )
            ).scalars()
        )
    fresh = [i for i in ids if i not in seen]
    if fresh:
        stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it
        session.connection().exec_driver_sql(
            "INSERT INTO collect_messages (workspace_id, message_id, received_at) VALUES (?, ?, ?)",
            [(workspace_id, i, stamp) for i in fresh],
        )
    return set(fresh)


def claim_new(
    *, session: Session, workspace_id: str, events: Sequence[CollectedEvent], now: datetime
) -> list[CollectedEvent]:
    """Record the message ids and return only the events never seen before (in order).

    Duplicates inside the batch and ids committed earlier (a retried batch) are dropped.
    """
    unique = list({e.message_id: e for e in reversed(events)}.values())[::-1]
    if not unique:
        return []
    ids = [e.message_id for e in unique]
    if session.get_bind().dialect.name == "postgresql":
        fresh = _claim_postgresql(session, workspace_id, ids, now)
    else:
        fresh = _claim_sqlite(session, workspace_id, ids, now)
    return [e for e in unique if e.message_id in fresh]


def events_table(
    workspace_id: str, events: Sequence[CollectedEvent], person_ids: Sequence[str]
) -> pa.Table:
    """The event-store rows of ``events`` (built column by column: the hot path)."""
    dumps = orjson.dumps
    columns: dict[str, list[Any]] = {
        "workspace_id": [workspace_id] * len(events),
        "message_id": [e.message_id for e in events],
        "type": [e.type.value for e in events],
        "event": [e.event for e in events],
        "person_id": list(person_ids),
        "anonymous_id": [e.anonymous_id for e in events],
        "user_id": [e.user_id for e in events],
        "group_id": [e.group_id for e in events],
        "ids": [[f"{i.type.value}:{i.key}" for i in e.identifiers] for e in events],
        "properties": [dumps(e.properties).decode() for e in events],
        "traits": [dumps(_without_pii(e.traits)).decode() for e in events],
        "context": [dumps(e.context).decode() for e in events],
        "channel": [e.channel for e in events],
        "campaign": [e.campaign for e in events],
        "revenue_fen": [e.revenue_fen for e in events],
        "timestamp": [e.timestamp for e in events],
        "received_at": [e.received_at for e in events],
        "sent_at": [e.sent_at for e in events],
    }
    return pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)


def _to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


def _from_ipc(payload: bytes) -> pa.Table:
    return pa.ipc.open_stream(payload).read_all()


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
    """Keep events durably in the inbox, in the caller's transaction.

    The whole batch is one inbox row holding its event-store rows as an Arrow IPC stream:
    one small insert per batch instead of one per event, and no re-parsing at flush time.
    """
    if not events:
        return
    session.execute(
        insert(event_inbox),
        {
            "workspace_id": workspace_id,
            "rows": len(events),
            "payload": _to_ipc(events_table(workspace_id, events, person_ids)),
            "created_at": now,
        },
    )


def flush_inbox(*, factory: sessionmaker[Session], store: EventStore, limit: int = 200_000) -> int:
    """Move inbox batches (about ``limit`` events) to the event store; returns events moved.

    The batches are deleted in the same transaction that read them, after the store has
    made the segment durable; a crash in between leaves them in the inbox, and the next
    flush finds their seqs recorded in the store and only deletes them (appended once).
    """
    with factory() as session, session.begin():
        rows = session.execute(
            select(
                event_inbox.c.seq,
                event_inbox.c.workspace_id,
                event_inbox.c.rows,
                event_inbox.c.payload,
            )
            .order_by(event_inbox.c.seq)
            .limit(max(limit // 100, 1))
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        store.append_once({r.seq: _from_ipc(r.payload) for r in rows})
        flushed_workspaces = {r.workspace_id for r in rows}
        session.execute(delete(event_inbox).where(event_inbox.c.seq.in_([r.seq for r in rows])))
    for workspace_id in sorted(flushed_workspaces):
        store.compact_small(workspace_id)
    return sum(r.rows for r in rows)


def flush_all(*, factory: sessionmaker[Session], store: EventStore) -> int:
    """Flush until the inbox is empty; returns how many events moved."""
    total = 0
    while moved := flush_inbox(factory=factory, store=store):
        total += moved
    return total


def pending_events(
    *, session: Session, workspace_id: str, person_ids: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows of these persons still in the inbox (not yet in the event store)."""
    payloads = session.execute(
        select(event_inbox.c.payload).where(event_inbox.c.workspace_id == workspace_id)
    ).scalars()
    wanted = pa.array(list(person_ids), pa.string())
    found: list[dict[str, Any]] = []
    for payload in payloads:
        table = _from_ipc(payload)
        found.extend(table.filter(pc.is_in(table.column("person_id"), wanted)).to_pylist())
    return found


def inbox_size(*, session: Session) -> int:
    """How many events wait in the inbox."""
    total = session.execute(select(func.sum(event_inbox.c.rows))).scalar_one()
    return int(total or 0)
