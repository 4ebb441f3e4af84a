"""Bulk writes of tag assignments: a target set in, the difference applied, history recorded.

Every change of who holds a tag goes through :func:`replace_pairs` or :func:`add_pairs` /
:func:`remove_pairs`, so a history row is written for each gain and loss, whatever decided it
(an operator, a rule, a model).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from siyu.profiles.tag_models import TagChanges
from siyu.profiles.tag_tables import person_tags, tag_history

Pair = tuple[str, str]  # (person_id, tag_id)
_CHUNK = 1000


@dataclass(frozen=True)
class Why:
    """Who or what made a change, recorded on every history row."""

    source: str  # manual | rule | model
    reason: str | None = None
    actor: str | None = None


def chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size`` (for IN lists under every backend's limit)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def current_pairs(session: Session, workspace_id: str, tag_ids: Collection[str]) -> set[Pair]:
    """Who holds any of ``tag_ids`` now, as (person, tag) pairs."""
    pt = person_tags.c
    found: set[Pair] = set()
    for part in chunks(sorted(tag_ids)):
        rows = session.execute(
            select(pt.person_id, pt.tag_id).where(
                pt.workspace_id == workspace_id, pt.tag_id.in_(part)
            )
        )
        found.update((row.person_id, row.tag_id) for row in rows)
    return found


def replace_pairs(
    session: Session,
    workspace_id: str,
    *,
    scope: Collection[str],
    target: set[Pair],
    groups: dict[str, str],
    why: Why,
    now: datetime,
) -> TagChanges:
    """Make the holders of the tags in ``scope`` exactly ``target``.

    Args:
        session: an open session; the caller commits.
        workspace_id: the workspace.
        scope: the tags whose holders are replaced.
        target: (person, tag) pairs that must hold afterwards (tags within ``scope``).
        groups: tag id → its group id.
        why: recorded on each history row.
        now: time of the change.
    """
    current = current_pairs(session, workspace_id, scope)
    lost = sorted(current - target)
    gained = sorted(target - current)
    remove_pairs(session, workspace_id, lost, groups=groups, why=why, now=now)
    add_pairs(session, workspace_id, gained, groups=groups, why=why, now=now)
    return TagChanges(gained=len(gained), lost=len(lost))


def add_pairs(
    session: Session,
    workspace_id: str,
    pairs: Sequence[Pair],
    *,
    groups: dict[str, str],
    why: Why,
    now: datetime,
) -> None:
    """Insert assignments known to be absent, with their history."""
    if not pairs:
        return
    rows = [
        {
            "workspace_id": workspace_id,
            "tag_id": tag_id,
            "person_id": person_id,
            "group_id": groups[tag_id],
            "source": why.source,
            "assigned_by": why.actor,
            "assigned_at": now,
        }
        for person_id, tag_id in pairs
    ]
    for part in chunks(rows, 5000):
        session.execute(insert(person_tags), list(part))
    _record(session, workspace_id, pairs, "gained", groups=groups, why=why, now=now)


def remove_pairs(
    session: Session,
    workspace_id: str,
    pairs: Sequence[Pair],
    *,
    groups: dict[str, str],
    why: Why,
    now: datetime,
) -> None:
    """Delete assignments known to be present, with their history."""
    if not pairs:
        return
    pt = person_tags.c
    stmt = delete(person_tags).where(
        and_(
            pt.workspace_id == bindparam("ws"),
            pt.tag_id == bindparam("tag"),
            pt.person_id == bindparam("person"),
        )
    )
    params = [
        {"ws": workspace_id, "tag": tag_id, "person": person_id} for person_id, tag_id in pairs
    ]
    for part in chunks(params, 5000):
        session.connection().execute(stmt, list(part))
    _record(session, workspace_id, pairs, "lost", groups=groups, why=why, now=now)


def _record(
    session: Session,
    workspace_id: str,
    pairs: Iterable[Pair],
    change: str,
    *,
    groups: dict[str, str],
    why: Why,
    now: datetime,
) -> None:
    rows = [
        {
            "workspace_id": workspace_id,
            "person_id": person_id,
            "tag_id": tag_id,
            "group_id": groups[tag_id],
            "change": change,
            "source": why.source,
            "actor": why.actor,
            "reason": why.reason,
            "at": now,
        }
        for person_id, tag_id in pairs
    ]
    for part in chunks(rows, 5000):
        session.execute(insert(tag_history), list(part))
