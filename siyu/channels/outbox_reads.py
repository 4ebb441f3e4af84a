"""What enqueue reads, for a whole batch of requests at once (a handful of statements)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from siyu.channels.models import Channel, EnqueueResult, HoldReason, MessageStatus, Purpose
from siyu.channels.restraint import SendRecord
from siyu.channels.tables import channel_consents, channel_messages
from siyu.core.errors import NotFoundError
from siyu.identity.tables import identity_identifiers, identity_persons
from siyu.profiles.tables import profile_traits

_CHUNK = 500  # bound IN lists (SQLite's variable limit, PostgreSQL plan size)


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def results_by_key(
    session: Session, workspace_id: str, keys: Sequence[str]
) -> dict[str, EnqueueResult]:
    """The stored result of each idempotency key already in the outbox (as duplicates)."""
    m = channel_messages.c
    out: dict[str, EnqueueResult] = {}
    for part in _chunks(sorted(set(keys))):
        rows = session.execute(
            select(m.idempotency_key, m.id, m.status, m.reason).where(
                m.workspace_id == workspace_id, m.idempotency_key.in_(part)
            )
        ).all()
        for r in rows:
            out[r.idempotency_key] = EnqueueResult(
                message_id=r.id,
                status=MessageStatus(r.status),
                reason=HoldReason(r.reason) if r.reason else None,
                duplicate=True,
            )
    return out


def lineages(
    session: Session, workspace_id: str, person_ids: Sequence[str]
) -> dict[str, list[str]]:
    """For each person id: its surviving person first, then every person merged into that.

    Raises:
        NotFoundError: a person id the workspace does not know.
    """
    ps = identity_persons.c
    root_of: dict[str, str] = {}
    for part in _chunks(sorted(set(person_ids))):
        for r in session.execute(
            select(ps.id, ps.survivor_id).where(ps.workspace_id == workspace_id, ps.id.in_(part))
        ):
            root_of[r.id] = r.survivor_id or r.id
    missing = set(person_ids) - root_of.keys()
    if missing:
        raise NotFoundError(f"no person {sorted(missing)[0]}", field="person_id")
    family: dict[str, list[str]] = {root: [root] for root in root_of.values()}
    for part in _chunks(sorted(family)):
        for r in session.execute(
            select(ps.id, ps.survivor_id)
            .where(ps.workspace_id == workspace_id, ps.survivor_id.in_(part))
            .order_by(ps.rank)
        ):
            family[r.survivor_id].append(r.id)
    return {pid: family[root] for pid, root in root_of.items()}


def lock_pairs(session: Session, workspace_id: str, pairs: Iterable[tuple[str, Channel]]) -> None:
    """Serialise enqueues per (person, channel) until the transaction ends.

    Caps count the person's other messages: two concurrent enqueues must not both see room
    for one more. PostgreSQL: transaction-scoped advisory locks, taken in sorted order so two
    batches never deadlock; SQLite: BEGIN IMMEDIATE already serialises every writer.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted(
        {
            int.from_bytes(
                hashlib.blake2b(f"{workspace_id}\x00{p}\x00{c}".encode(), digest_size=8).digest(),
                "big",
                signed=True,
            )
            for p, c in pairs
        }
    )
    for key in keys:
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def identifiers(
    session: Session, workspace_id: str, roots: Sequence[str], kinds: Sequence[str]
) -> dict[tuple[str, str], list[tuple[str, str | None]]]:
    """(person, id type) → [(key, ciphertext)], the newest identifier first."""
    ids = identity_identifiers.c
    out: dict[tuple[str, str], list[tuple[str, str | None]]] = defaultdict(list)
    if not kinds:
        return out
    for part in _chunks(sorted(set(roots))):
        rows = session.execute(
            select(ids.person_id, ids.id_type, ids.key, ids.encrypted)
            .where(
                ids.workspace_id == workspace_id,
                ids.person_id.in_(part),
                ids.id_type.in_(sorted(set(kinds))),
            )
            .order_by(ids.first_seen.desc(), ids.key)
        ).all()
        for r in rows:
            out[(r.person_id, r.id_type)].append((r.key, r.encrypted))
    return out


def consents(
    session: Session, workspace_id: str, person_ids: Sequence[str]
) -> dict[tuple[str, str], set[str]]:
    """(person, channel) → the recorded answers (granted / revoked)."""
    c = channel_consents.c
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for part in _chunks(sorted(set(person_ids))):
        rows = session.execute(
            select(c.person_id, c.channel, c.status).where(
                c.workspace_id == workspace_id, c.person_id.in_(part)
            )
        ).all()
        for r in rows:
            out[(r.person_id, r.channel)].add(r.status)
    return out


def recent(
    session: Session,
    workspace_id: str,
    root_of: dict[str, str],
    start: datetime,
    end: datetime,
) -> dict[tuple[str, str], list[SendRecord]]:
    """(surviving person, channel) → their messages planned between ``start`` and ``end``."""
    m = channel_messages.c
    out: dict[tuple[str, str], list[SendRecord]] = defaultdict(list)
    for part in _chunks(sorted(root_of)):
        rows = session.execute(
            select(m.person_id, m.channel, m.id, m.send_at, m.priority, m.purpose, m.status).where(
                m.workspace_id == workspace_id,
                m.person_id.in_(part),
                m.send_at >= start,
                m.send_at <= end,
            )
        ).all()
        for r in rows:
            record = SendRecord(
                r.id, r.send_at, r.priority, Purpose(r.purpose), MessageStatus(r.status)
            )
            out[(root_of[r.person_id], r.channel)].append(record)
    return out


def zones(session: Session, workspace_id: str, roots: Sequence[str]) -> dict[str, str]:
    """Person → their ``timezone`` trait, where it names a real IANA zone."""
    t = profile_traits.c
    out: dict[str, str] = {}
    for part in _chunks(sorted(set(roots))):
        rows = session.execute(
            select(t.person_id, t.value).where(
                t.workspace_id == workspace_id, t.person_id.in_(part), t.name == "timezone"
            )
        ).all()
        for r in rows:
            if isinstance(r.value, str) and _is_zone(r.value):
                out[r.person_id] = r.value
    return out


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
