"""Reads and writes of the identity graph shared by the service functions (rows stay in here)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

import orjson
from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from siyu.identity.resolve import IdRef
from siyu.identity.rules import DEFAULT_RULES, Rule
from siyu.identity.tables import (
    identity_identifiers,
    identity_links,
    identity_persons,
    identity_rules,
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


def load_rules(session: Session, workspace_id: str) -> dict[str, Rule]:
    """The workspace's rules, the defaults for any type it has not set."""
    rules = dict(DEFAULT_RULES)
    rows = session.execute(
        select(
            identity_rules.c.id_type, identity_rules.c.priority, identity_rules.c.max_per_person
        ).where(identity_rules.c.workspace_id == workspace_id)
    ).all()
    rules.update({row.id_type: Rule(row.priority, row.max_per_person) for row in rows})
    return rules


def next_numbers(session: Session, workspace_id: str) -> tuple[int, int]:
    """The next link sequence number and the next person rank of the workspace."""
    seq = select(func.max(identity_links.c.seq)).where(
        identity_links.c.workspace_id == workspace_id
    )
    rank = select(func.max(identity_persons.c.rank)).where(
        identity_persons.c.workspace_id == workspace_id
    )
    row = session.execute(select(seq.scalar_subquery(), rank.scalar_subquery())).one()
    return (row[0] or 0) + 1, (row[1] if row[1] is not None else -1) + 1


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
