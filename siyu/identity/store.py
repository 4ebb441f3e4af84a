"""Reads and writes of the identity graph shared by the service functions (rows stay in here)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import or_, text, update
from sqlalchemy.orm import Session

from siyu.identity.resolve import IdRef
from siyu.identity.rules import DEFAULT_RULES, Rule
from siyu.identity.tables import (
    identity_identifiers,
    identity_persons,
)

CHUNK = 500  # most values in one IN list: SQLite's and PostgreSQL's planners both stay fast
T = TypeVar("T")


def chunked(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``."""
    batch: list[T] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def lock_workspace(session: Session, workspace_id: str) -> None:
    """Serialise identity writers of one workspace (PostgreSQL; SQLite writers already are)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(f"identity:{workspace_id}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


class Driver:
    """The session's own database connection, with SQL and times in the form its driver takes.

    For the ingest path: plain SQL on the driver's cursor (inside the session's transaction)
    skips SQLAlchemy's per-statement and per-row processing, which cost more there than the
    database work itself.
    """

    def __init__(self, session: Session) -> None:
        conn = session.connection()
        self.postgres = conn.dialect.name == "postgresql"
        self.dbapi: Any = conn.connection.dbapi_connection

    def sql(self, statement: str) -> str:
        """``statement`` written with ``?`` placeholders, in the driver's paramstyle."""
        return statement.replace("?", "%s") if self.postgres else statement

    def time(self, value: datetime) -> datetime | str:
        """``value`` as a UTC column takes it (SQLite: the text SQLAlchemy stores, µs included)."""
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        utc = value.astimezone(UTC)
        return utc if self.postgres else utc.strftime("%Y-%m-%d %H:%M:%S.%f")

    def rows(self, statement: str, params: Sequence[Any]) -> list[Any]:
        """All rows of one query, as the driver's tuples."""
        cursor = self.dbapi.cursor()
        try:
            cursor.execute(self.sql(statement), tuple(params))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def each(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """Run ``statement`` once per row (the driver's executemany); nothing if no rows."""
        if not rows:
            return
        cursor = self.dbapi.cursor()
        try:
            cursor.executemany(self.sql(statement), rows)
        finally:
            cursor.close()

    @staticmethod
    def in_list(statement: str, values: Sequence[object]) -> str:
        """``statement`` with its ``{}`` replaced by one placeholder per value."""
        return statement.format(", ".join("?" * len(values)))


def load_rules(session: Session, workspace_id: str) -> dict[str, Rule]:
    """The workspace's rules, the defaults for any type it has not set."""
    rules = dict(DEFAULT_RULES)
    rows = Driver(session).rows(
        "SELECT id_type, priority, max_per_person FROM identity_rules WHERE workspace_id = ?",
        (workspace_id,),
    )
    rules.update({id_type: Rule(priority, limit) for id_type, priority, limit in rows})
    return rules


def next_numbers(session: Session, workspace_id: str) -> tuple[int, int]:
    """The next link sequence number and the next person rank of the workspace."""
    [(seq, rank)] = Driver(session).rows(
        "SELECT (SELECT max(seq) FROM identity_links WHERE workspace_id = ?), "
        "(SELECT max(rank) FROM identity_persons WHERE workspace_id = ?)",
        (workspace_id, workspace_id),
    )
    return (seq or 0) + 1, (rank if rank is not None else -1) + 1


def link_json(link: Sequence[IdRef]) -> str:
    """A link as stored: JSON ``[[type, key], …]``."""
    return orjson.dumps([[t, k] for t, k in link]).decode()


def repoint(session: Session, workspace_id: str, absorbed: Sequence[str], root: str) -> None:
    """Point persons ``absorbed`` (and all they absorbed) and their identifiers at ``root``."""
    repoint_persons(session, workspace_id, absorbed, root)
    ids = identity_identifiers.c
    for part in chunked(absorbed):
        session.execute(
            update(identity_identifiers)
            .where(ids.workspace_id == workspace_id, ids.person_id.in_(part))
            .values(person_id=root)
        )


def repoint_persons(
    session: Session, workspace_id: str, absorbed: Sequence[str], root: str
) -> None:
    """Mark persons ``absorbed``, and every person they had absorbed, as merged into ``root``."""
    ps = identity_persons.c
    for part in chunked(absorbed):
        session.execute(
            update(identity_persons)
            .where(ps.workspace_id == workspace_id)
            .where(or_(ps.id.in_(part), ps.survivor_id.in_(part)))
            .values(survivor_id=root)
        )
