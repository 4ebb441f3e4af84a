"""The ingest path's reads and writes of the identity graph, in the database driver's own terms.

Statements are plain SQL run through ``exec_driver_sql`` with parameters already in the driver's
form (times as SQLAlchemy stores them), and rows are inserted or updated with the driver's
``executemany``: on the ingest hot path SQLAlchemy's per-row processing cost more than the
database work itself. Only the persons a batch can change are read at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from siyu.collect.models import Identifier
from siyu.identity.resolve import Graph, IdRef, Outcome, Person
from siyu.identity.store import Driver, chunked, link_json

_OWNERS = "SELECT key, id_type, person_id FROM identity_identifiers WHERE workspace_id = ? AND "
_COUNTS = (
    "SELECT i.person_id, i.id_type, count(*), p.rank FROM identity_identifiers i "
    "JOIN identity_persons p ON p.id = i.person_id "
    "WHERE i.workspace_id = ? AND i.person_id IN ({}) GROUP BY i.person_id, i.id_type, p.rank"
)
_TAGS = (
    "SELECT b.block_id, b.side, i.person_id FROM identity_block_members b "
    "JOIN identity_identifiers i "
    "ON i.workspace_id = b.workspace_id AND i.key = b.key AND i.id_type = b.id_type "
    "WHERE b.workspace_id = ? AND i.person_id IN ({})"
)
_INSERT_LINK = (
    "INSERT INTO identity_links (workspace_id, seq, message_id, identifiers, created_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_INSERT_PERSON = (
    "INSERT INTO identity_persons (id, workspace_id, rank, created_at, message_id, survivor_id) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_IDENTIFIER = (
    "INSERT INTO identity_identifiers (workspace_id, key, id_type, person_id, origin_person_id, "
    "masked, encrypted, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_MERGE = (
    "INSERT INTO identity_merges (workspace_id, survivor_id, absorbed_id, message_id, reason, "
    "merged_at) VALUES (?, ?, ?, ?, 'link', ?)"
)
_INSERT_CONFLICT = (
    "INSERT INTO identity_conflicts (workspace_id, message_id, person_id, other_person_id, "
    "id_type, identifiers, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# Every target is a root at the end of the batch, never itself absorbed, so the order of the
# rows does not matter and no chains form.
_REPOINT_PERSON = "UPDATE identity_persons SET survivor_id = ? WHERE workspace_id = ? AND id = ?"
_REPOINT_ABSORBED = (
    "UPDATE identity_persons SET survivor_id = ? WHERE workspace_id = ? AND survivor_id = ?"
)
_REPOINT_IDENTIFIERS = (
    "UPDATE identity_identifiers SET person_id = ? WHERE workspace_id = ? AND person_id = ?"
)


def load_owners(session: Session, workspace_id: str, refs: Collection[IdRef]) -> dict[IdRef, str]:
    """The person holding each known identifier of ``refs`` now (a surviving person)."""
    db = Driver(session)
    keys = list({str(key) for _, key in refs})
    found: list[Any] = []
    if db.postgres:  # one statement over an array
        found += db.rows(_OWNERS + "key = ANY(?)", (workspace_id, keys))
    else:
        for part in chunked(keys):
            found += db.rows(db.in_list(_OWNERS + "key IN ({})", part), (workspace_id, *part))
    owners: dict[IdRef, str] = {}
    for key, id_type, pid in found:
        ref = (id_type, key)
        if ref in refs:
            owners[ref] = pid
    return owners


def load_persons(session: Session, workspace_id: str, pids: Iterable[str]) -> dict[str, Person]:
    """The persons ``pids`` (surviving ones) with their counts per type and block sides."""
    db = Driver(session)
    persons: dict[str, Person] = {}
    for part in chunked(sorted(pids)):
        for pid, id_type, n, rank in db.rows(db.in_list(_COUNTS, part), (workspace_id, *part)):
            persons.setdefault(pid, Person(pid, rank)).counts[id_type] = n
        for block_id, side, pid in db.rows(db.in_list(_TAGS, part), (workspace_id, *part)):
            persons[pid].tags.add((block_id, side))
    return persons


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
    """Store a batch: its effective links, new persons and identifiers, merges and conflicts."""
    db = Driver(session)
    at = db.time(now)
    ws, root = workspace_id, graph.root
    db.each(
        _INSERT_LINK,
        [
            (ws, first_seq + n, message_ids[i], link_json(links[i]), at)
            for n, i in enumerate(outcome.effective)
        ],
    )
    db.each(
        _INSERT_PERSON,
        [
            (pid, ws, rank, at, message_ids[i], None if root(pid) == pid else root(pid))
            for pid, rank, i in outcome.created
        ],
    )
    identifiers = []
    for a in outcome.attached:
        d = details[a.ref]
        identifiers.append(
            (ws, d.key, d.type.value, root(a.person), a.person, d.masked, d.encrypted, at)
        )
    db.each(_INSERT_IDENTIFIER, identifiers)
    db.each(
        _INSERT_MERGE,
        [(ws, m.survivor, m.absorbed, message_ids[m.link], at) for m in outcome.merges],
    )
    _repoint(db, ws, graph, outcome)
    db.each(
        _INSERT_CONFLICT,
        [
            (ws, message_ids[c.link], root(c.person), root(c.other_person), c.id_type,
             link_json(c.identifiers), c.reason, at)
            for c in outcome.conflicts
        ],
    )  # fmt: skip


def _repoint(db: Driver, workspace_id: str, graph: Graph, outcome: Outcome) -> None:
    """Point stored persons absorbed in this batch, and all they held, at their final root."""
    created = {pid for pid, _, _ in outcome.created}
    targets: dict[str, list[str]] = defaultdict(list)
    for m in outcome.merges:
        if m.absorbed not in created:
            targets[graph.root(m.absorbed)].append(m.absorbed)
    rows = [(root, workspace_id, old) for root, olds in targets.items() for old in olds]
    db.each(_REPOINT_PERSON, rows)
    db.each(_REPOINT_ABSORBED, rows)
    db.each(_REPOINT_IDENTIFIERS, rows)
