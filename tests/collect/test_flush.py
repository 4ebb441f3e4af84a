"""Moving the inbox to the event store: a flush that dies between writing its segment and
committing the inbox delete leaves the batches in the inbox; the next flush must not write
them again (found by the database-outage fault run: readers saw duplicates until a full
compaction)."""

from __future__ import annotations

import base64
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect import service
from siyu.collect.normalize import parse_message
from siyu.collect.tables import event_inbox
from siyu.core.crypto import Vault
from siyu.core.eventstore import DuckDBEventStore

VAULT = Vault(base64.b64decode(base64.b64encode(b"k" * 32)))
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def enqueue(db: sessionmaker[Session], ids: range) -> None:
    events = [
        parse_message(
            {"type": "track", "event": "E", "messageId": f"m{i}", "anonymousId": "a"},
            vault=VAULT,
            received_at=NOW,
        )
        for i in ids
    ]
    with db() as session, session.begin():
        service.enqueue(
            session=session,
            workspace_id="w",
            events=events,
            person_ids=["p"] * len(events),
            now=NOW,
        )


def message_counts(store: DuckDBEventStore) -> Counter[str]:
    table = store.query("w", "SELECT message_id FROM events")
    return Counter(table.column("message_id").to_pylist())


def commit_fails_once(db: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions whose first commit dies as if the database went away after the append."""
    failed: list[bool] = []

    def boom(session: Session) -> None:
        if not failed:
            failed.append(True)
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

    def factory(**kwargs: Any) -> Session:
        session = db(**kwargs)
        event.listen(session, "before_commit", boom)
        return session

    return cast(sessionmaker[Session], factory)


def test_a_flush_run_again_after_a_lost_commit_writes_nothing_twice(
    db: sessionmaker[Session], tmp_path: Path
) -> None:
    store = DuckDBEventStore(tmp_path)
    enqueue(db, range(0, 5))
    enqueue(db, range(5, 8))
    with pytest.raises(OperationalError):
        service.flush_inbox(factory=commit_fails_once(db), store=store)
    assert message_counts(store) == Counter({f"m{i}": 1 for i in range(8)})  # segment kept
    enqueue(db, range(8, 10))  # a new batch arrives before the retry
    # All ten leave the inbox; only the two new ones are written.
    assert service.flush_all(factory=db, store=store) == 10
    assert message_counts(store) == Counter({f"m{i}": 1 for i in range(10)})
    with db() as session:
        assert session.execute(select(func.count()).select_from(event_inbox)).scalar_one() == 0


def test_inbox_seqs_are_never_reused(db: sessionmaker[Session], tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path)
    enqueue(db, range(0, 3))
    service.flush_all(factory=db, store=store)
    # The newest row is gone: SQLite without AUTOINCREMENT would hand its seq out again, and
    # the store (which remembers that seq as appended) would then skip the new batch.
    enqueue(db, range(3, 6))
    service.flush_all(factory=db, store=store)
    assert sum(message_counts(store).values()) == 6
