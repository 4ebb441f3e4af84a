"""Splitting a wrong merge: restore the absorbed person and block the pair from re-merging."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.collect.models import IdType
from siyu.core.errors import InvalidInputError
from siyu.identity import store
from siyu.identity.models import IdentifierRef, SplitResult
from siyu.identity.tables import (
    identity_block_members,
    identity_blocks,
    identity_identifiers,
    identity_merges,
    identity_persons,
)


def _subtree(
    session: Session, workspace_id: str, lineage: list[str], top: str
) -> tuple[set[str], int]:
    """``top`` and the persons it absorbed (active merges), and the id of ``top``'s own merge."""
    ms = identity_merges.c
    children: dict[str, list[str]] = defaultdict(list)
    own_merge = -1
    for part in store.chunked(lineage):
        rows = session.execute(
            select(ms.id, ms.survivor_id, ms.absorbed_id).where(
                ms.workspace_id == workspace_id, ms.split_at.is_(None), ms.absorbed_id.in_(part)
            )
        )
        for merge_id, survivor, absorbed in rows:
            children[survivor].append(absorbed)
            if absorbed == top:
                own_merge = merge_id
    found, stack = {top}, [top]
    while stack:
        for child in children.pop(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found, own_merge


def split(
    session: Session,
    *,
    workspace_id: str,
    root: str,
    lineage: list[str],
    absorbed_person_id: str,
    now: datetime,
    reason: str,
) -> SplitResult:
    """Undo the merge of ``absorbed_person_id`` into the person ``root`` (see service)."""
    if absorbed_person_id not in lineage[1:]:
        raise InvalidInputError(
            f"{absorbed_person_id} is not a person {root} absorbed", field="absorbed_person_id"
        )
    restored, own_merge = _subtree(session, workspace_id, lineage, absorbed_person_id)
    ids, ps = identity_identifiers.c, identity_persons.c
    held = session.execute(
        select(ids.id_type, ids.key, ids.origin_person_id).where(
            ids.workspace_id == workspace_id, ids.person_id == root
        )
    ).all()
    moved = [(t, k) for t, k, origin in held if origin in restored]
    kept = [(t, k) for t, k, origin in held if origin not in restored]
    for part in store.chunked(sorted(restored)):
        session.execute(
            update(identity_identifiers)
            .where(ids.workspace_id == workspace_id, ids.person_id == root)
            .where(ids.origin_person_id.in_(part))
            .values(person_id=absorbed_person_id)
        )
        session.execute(
            update(identity_persons)
            .where(ps.workspace_id == workspace_id, ps.id.in_(part))
            .values(survivor_id=absorbed_person_id)
        )
    session.execute(
        update(identity_persons)
        .where(ps.workspace_id == workspace_id, ps.id == absorbed_person_id)
        .values(survivor_id=None)
    )
    session.execute(
        update(identity_merges)
        .where(identity_merges.c.id == own_merge)
        .values(split_at=now, split_reason=reason)
    )
    _block(session, workspace_id, (root, absorbed_person_id), (kept, moved), reason, now)
    return SplitResult(
        person_id=root,
        restored_person_id=absorbed_person_id,
        restored_persons=sorted(restored),
        moved=[IdentifierRef(type=IdType(t), key=k) for t, k in sorted(moved)],
    )


def _block(
    session: Session,
    workspace_id: str,
    pair: tuple[str, str],
    sides: tuple[list[tuple[str, str]], list[tuple[str, str]]],
    reason: str,
    now: datetime,
) -> None:
    block_id = session.execute(
        insert(identity_blocks)
        .values(
            workspace_id=workspace_id,
            person_id=pair[0],
            other_person_id=pair[1],
            reason=reason,
            created_at=now,
        )
        .returning(identity_blocks.c.id)
    ).scalar_one()
    rows = [
        {"block_id": block_id, "side": side, "id_type": t, "key": k, "workspace_id": workspace_id}
        for side, refs in enumerate(sides)
        for t, k in refs
    ]
    if rows:
        session.execute(insert(identity_block_members), rows)
