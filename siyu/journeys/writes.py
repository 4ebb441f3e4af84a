"""The scheduler's two bulk writes (state write-back, step log), as fast as each store allows.

Row-by-row through SQLAlchemy's parameter processing costs more than the stepping itself,
so per batch: on PostgreSQL one ``UPDATE … FROM unnest(arrays)`` and one ``INSERT … SELECT
FROM unnest(arrays)`` (a single statement each, whatever the batch size); on SQLite the
driver's ``executemany`` with values already in SQLAlchemy's SQLite storage format (aware
UTC → ``YYYY-MM-DD HH:MM:SS.ffffff``), which the engine's own reads and comparisons use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session


class StateChange(NamedTuple):
    """A stepped state's new place."""

    id: str
    node_id: str
    status: str
    due_at: datetime | None
    wait_event: str | None
    variant: str | None
    ended_at: datetime | None


class LogRow(NamedTuple):
    """One row of the step log."""

    journey_id: str
    version: int
    node_id: str
    state_id: str
    variant: str | None
    kind: str


_PG_UPDATE = text(
    """
    UPDATE journey_states AS s
    SET node_id = v.node_id, status = v.status, due_at = v.due_at, wait_event = v.wait_event,
        variant = v.variant, ended_at = v.ended_at, steps = s.steps + 1, updated_at = :now
    FROM unnest(CAST(:ids AS varchar[]), CAST(:nodes AS varchar[]), CAST(:statuses AS varchar[]),
                CAST(:dues AS timestamptz[]), CAST(:waits AS varchar[]),
                CAST(:variants AS varchar[]), CAST(:ends AS timestamptz[]))
         AS v(id, node_id, status, due_at, wait_event, variant, ended_at)
    WHERE s.id = v.id
    """
)

_PG_LOG = text(
    """
    INSERT INTO journey_events (workspace_id, journey_id, version, node_id, state_id, variant,
                                kind, at)
    SELECT :ws, v.journey_id, v.version, v.node_id, v.state_id, v.variant, v.kind, :now
    FROM unnest(CAST(:journeys AS varchar[]), CAST(:versions AS integer[]),
                CAST(:nodes AS varchar[]), CAST(:states AS varchar[]),
                CAST(:variants AS varchar[]), CAST(:kinds AS varchar[]))
         AS v(journey_id, version, node_id, state_id, variant, kind)
    """
)

_SQLITE_UPDATE = (
    "UPDATE journey_states SET node_id = ?, status = ?, due_at = ?, wait_event = ?, "
    "variant = ?, ended_at = ?, steps = steps + 1, updated_at = ? WHERE id = ?"
)
_SQLITE_LOG = (
    "INSERT INTO journey_events (workspace_id, journey_id, version, node_id, state_id, "
    "variant, kind, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _sqlite_time(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME storage format, so reads and comparisons agree.
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def write_back(session: Session, changes: Sequence[StateChange], now: datetime) -> None:
    """Store the new place of every stepped state (steps + 1, updated_at = now)."""
    if not changes:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        columns = list(zip(*changes, strict=True))
        keys = ("ids", "nodes", "statuses", "dues", "waits", "variants", "ends")
        conn.execute(_PG_UPDATE, {"now": now, **dict(zip(keys, map(list, columns), strict=True))})
        return
    stamp = _sqlite_time(now)
    rows: list[Any] = [
        (c.node_id, c.status, _sqlite_time(c.due_at), c.wait_event, c.variant,
         _sqlite_time(c.ended_at), stamp, c.id)
        for c in changes
    ]  # fmt: skip
    conn.exec_driver_sql(_SQLITE_UPDATE, rows)


def append_log(session: Session, workspace_id: str, rows: Sequence[LogRow], now: datetime) -> None:
    """Append step-log rows, all at ``now``."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        columns = list(zip(*rows, strict=True))
        keys = ("journeys", "versions", "nodes", "states", "variants", "kinds")
        params = dict(zip(keys, map(list, columns), strict=True))
        conn.execute(_PG_LOG, {"ws": workspace_id, "now": now, **params})
        return
    stamp = _sqlite_time(now)
    conn.exec_driver_sql(_SQLITE_LOG, [(workspace_id, *row, stamp) for row in rows])


_PG_ENTER = text(
    """
    INSERT INTO journey_states (id, workspace_id, journey_id, version, person_id, entry_no,
        entry_key, node_id, status, due_at, steps, entered_at, updated_at)
    SELECT v.id, :ws, :journey, :version, v.person_id, v.entry_no, v.entry_key, :node,
        'active', :now, 0, :now, :now
    FROM unnest(CAST(:ids AS varchar[]), CAST(:persons AS varchar[]),
                CAST(:entry_nos AS integer[]), CAST(:keys AS varchar[]))
         AS v(id, person_id, entry_no, entry_key)
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)


def insert_entries_pg(
    session: Session,
    *,
    workspace_id: str,
    journey_id: str,
    version: int,
    node_id: str,
    entries: Sequence[tuple[str, str, int, str]],
    now: datetime,
) -> int:
    """PostgreSQL: insert new active states (id, person, entry_no, key) in one statement;
    those hitting a unique constraint are skipped. How many went in."""
    ids, persons, numbers, keys = (list(c) for c in zip(*entries, strict=True))
    params = {"ws": workspace_id, "journey": journey_id, "version": version, "node": node_id,
              "now": now, "ids": ids, "persons": persons, "entry_nos": numbers,
              "keys": keys}  # fmt: skip
    return len(session.connection().execute(_PG_ENTER, params).all())
