"""Reads and writes of the identity graph shared by the service functions (rows stay in here)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson
from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from siyu.collect.models import Identifier
from siyu.identity.resolve import Graph, IdRef, Outcome, Person
from siyu.identity.rules import DEFAULT_RULES, Rule
from siyu.identity.tables import (
    identity_block_members,
    identity_conflicts,
    identity_identifiers,
    identity_links,
    identity_merges,
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


def load_graph(session: Session, workspace_id: str, refs: set[IdRef]) -> Graph:
    """The persons holding any of ``refs``, with their counts per type and block sides."""
    ids = identity_identifiers.c
    graph = Graph()
    for keys in chunked({str(key) for _, key in refs}):
        rows = session.execute(
            select(ids.key, ids.id_type, ids.person_id).where(
                ids.workspace_id == workspace_id, ids.key.in_(keys)
            )
        )
        graph.owner.update(
            {(r.id_type, r.key): r.person_id for r in rows if (r.id_type, r.key) in refs}
        )
    persons = sorted(set(graph.owner.values()))
    for pids in chunked(persons):
        _load_persons(session, workspace_id, pids, graph.persons)
    return graph


def _load_persons(
    session: Session, workspace_id: str, pids: list[str], persons: dict[str, Person]
) -> None:
    ids, ps, bm = identity_identifiers.c, identity_persons.c, identity_block_members.c
    rows = session.execute(
        select(ids.person_id, ids.id_type, func.count(), ps.rank)
        .join(identity_persons, ps.id == ids.person_id)
        .where(ids.workspace_id == workspace_id, ids.person_id.in_(pids))
        .group_by(ids.person_id, ids.id_type, ps.rank)
    ).all()
    for pid, id_type, n, rank in rows:
        persons.setdefault(pid, Person(pid, rank)).counts[id_type] = n
    tags = session.execute(
        select(bm.block_id, bm.side, ids.person_id)
        .join(
            identity_identifiers,
            (ids.workspace_id == bm.workspace_id)
            & (ids.key == bm.key)
            & (ids.id_type == bm.id_type),
        )
        .where(bm.workspace_id == workspace_id, ids.person_id.in_(pids))
    ).all()
    for block_id, side, pid in tags:
        persons[pid].tags.add((block_id, side))


def link_json(link: Sequence[IdRef]) -> str:
    """A link as stored: JSON ``[[type, key], …]``."""
    return orjson.dumps([[t, k] for t, k in link]).decode()


def write_outcome(
    session: Session,
    *,
    workspace_id: str,
    graph: Graph,
    outcome: Outcome,
    links: Sequence[Sequence[IdRef]],
    message_ids: Sequence[str],
    details: Mapping[IdRef, Identifier],
    first_seq: int,
    now: datetime,
) -> None:
    """Store a batch: its links, new persons and identifiers, merges and conflicts."""
    session.execute(
        insert(identity_links),
        [
            {
                "workspace_id": workspace_id,
                "seq": first_seq + i,
                "message_id": message_ids[i],
                "identifiers": link_json(link),
                "created_at": now,
            }
            for i, link in enumerate(links)
        ],
    )
    _write_persons(session, workspace_id, graph, outcome, message_ids, now)
    _write_identifiers(session, workspace_id, graph, outcome, details, now)
    _write_merges(session, workspace_id, graph, outcome, message_ids, now)
    if outcome.conflicts:
        session.execute(
            insert(identity_conflicts),
            [
                {
                    "workspace_id": workspace_id,
                    "message_id": message_ids[c.link],
                    "person_id": graph.root(c.person),
                    "other_person_id": graph.root(c.other_person),
                    "id_type": c.id_type,
                    "identifiers": link_json(c.identifiers),
                    "reason": c.reason,
                    "created_at": now,
                }
                for c in outcome.conflicts
            ],
        )


def _write_persons(
    session: Session,
    workspace_id: str,
    graph: Graph,
    outcome: Outcome,
    message_ids: Sequence[str],
    now: datetime,
) -> None:
    if not outcome.created:
        return
    rows: list[dict[str, Any]] = []
    for pid, rank, link_no in outcome.created:
        root = graph.root(pid)
        rows.append(
            {
                "id": pid,
                "workspace_id": workspace_id,
                "rank": rank,
                "created_at": now,
                "message_id": message_ids[link_no],
                "survivor_id": None if root == pid else root,
            }
        )
    session.execute(insert(identity_persons), rows)


def _write_identifiers(
    session: Session,
    workspace_id: str,
    graph: Graph,
    outcome: Outcome,
    details: Mapping[IdRef, Identifier],
    now: datetime,
) -> None:
    if not outcome.attached:
        return
    rows: list[dict[str, Any]] = []
    for a in outcome.attached:
        detail = details[a.ref]
        rows.append(
            {
                "workspace_id": workspace_id,
                "key": detail.key,
                "id_type": detail.type.value,
                "person_id": graph.root(a.person),
                "origin_person_id": a.person,
                "masked": detail.masked,
                "encrypted": detail.encrypted,
                "first_seen": now,
            }
        )
    session.execute(insert(identity_identifiers), rows)


def _write_merges(
    session: Session,
    workspace_id: str,
    graph: Graph,
    outcome: Outcome,
    message_ids: Sequence[str],
    now: datetime,
) -> None:
    if not outcome.merges:
        return
    session.execute(
        insert(identity_merges),
        [
            {
                "workspace_id": workspace_id,
                "survivor_id": m.survivor,
                "absorbed_id": m.absorbed,
                "message_id": message_ids[m.link],
                "reason": "link",
                "merged_at": now,
            }
            for m in outcome.merges
        ],
    )
    created = {pid for pid, _, _ in outcome.created}
    by_root: dict[str, list[str]] = defaultdict(list)
    for m in outcome.merges:
        if m.absorbed not in created:
            by_root[graph.root(m.absorbed)].append(m.absorbed)
    for root, absorbed in by_root.items():
        repoint(session, workspace_id, absorbed, root)


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
