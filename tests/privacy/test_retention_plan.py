"""The outbox retention batch reads ``ix_channel_messages_unredacted`` (SQLite and PostgreSQL):
the plan names the partial index and sorts nothing, so a batch stops after the rows it takes
instead of scanning the table; batches take the oldest planned messages first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels import retention
from siyu.channels.tables import channel_messages

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BEFORE = NOW - timedelta(days=180)
INDEX = "ix_channel_messages_unredacted"


def _message(i: int, workspace_id: str, send_at: datetime, redacted: bool) -> dict[str, Any]:
    return {
        "id": f"m_{workspace_id}_{i:05d}",
        "workspace_id": workspace_id,
        "person_id": f"p_{i % 50}",
        "channel": "sms",
        "template": "t",
        "params": {"content_id": "c1", "name": "x"},
        "content": "" if redacted else "hello",
        "purpose": "marketing",
        "priority": 0,
        "source": "test",
        "idempotency_key": f"k{i}",
        "status": "sent" if i % 10 else "queued",
        "deferred": False,
        "recipient": None if redacted else "o-123",
        "extra": {},
        "send_at": send_at,
        "attempts": 1,
        "created_at": send_at,
        "updated_at": send_at,
        "redacted_at": NOW - timedelta(days=1) if redacted else None,
    }


def _seed(session: Session) -> None:
    rows = []
    for ws in ("w1", "w2"):
        for i in range(1500):
            # A year of messages, newest first in id order (ids need not follow send_at);
            # the oldest third was redacted by an earlier pass.
            send_at = NOW - timedelta(hours=6 * i)
            rows.append(_message(i, ws, send_at, redacted=i >= 1000))
    session.execute(insert(channel_messages), rows)


def _plan(session: Session, limit: int) -> str:
    query = retention.redactable("w1", BEFORE, limit)
    dialect = session.get_bind().dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    connection = session.connection()
    if dialect.name == "postgresql":
        connection.exec_driver_sql("ANALYZE channel_messages")
        lines = connection.exec_driver_sql("EXPLAIN " + sql).scalars()
        return "\n".join(lines)
    connection.exec_driver_sql("ANALYZE")
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
    return "\n".join(str(row[-1]) for row in rows)


def test_the_batch_query_reads_the_partial_index_and_sorts_nothing(
    db: sessionmaker[Session],
) -> None:
    with db() as session, session.begin():
        _seed(session)
    with db() as session, session.begin():
        plan = _plan(session, 100)
    assert INDEX in plan, plan
    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan  # PostgreSQL, SQLite
    assert "Seq Scan" not in plan and "SCAN" not in plan, plan  # a range: SEARCH / Index Scan


def test_batches_take_the_oldest_planned_messages_first(db: sessionmaker[Session]) -> None:
    with db() as session, session.begin():
        _seed(session)
    m = channel_messages.c
    with db() as session, session.begin():
        changed = retention.redact_messages(
            session=session, workspace_id="w1", before=BEFORE, now=NOW, limit=30
        )
    assert changed == (30, 0)
    with db() as session:
        done = session.execute(
            select(m.send_at).where(m.workspace_id == "w1", m.redacted_at == NOW)
        ).scalars()
        left = session.execute(
            select(m.send_at).where(
                m.workspace_id == "w1", m.redacted_at.is_(None), m.status == "sent"
            )
        ).scalars()
        assert max(done) < min(left)  # the 30 oldest settled ones still unredacted
        others = session.execute(select(m.id).where(m.workspace_id == "w2", m.redacted_at == NOW))
        assert others.all() == []
