"""Membership follows a merge: growth, the member record, tier history and paid terms move to
the survivor, whose tier is then replayed.

Growth moves as entries, never by rewriting old ones: each growth entry of the absorbed person
gets an opposite entry on it and a copy on the survivor, both at the original time (so the
rolling window sees the growth when it was earned), keyed by the merge so a rerun adds nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from siyu.core.errors import NotFoundError
from siyu.loyalty import membership
from siyu.loyalty.tier_models import MembershipMove
from siyu.loyalty.tier_tables import member_growth, member_tier_history, members, paid_memberships

MERGE_REASON = "merge"
_g, _m = member_growth.c, members.c


def _move_growth(
    session: Session, workspace_id: str, from_person: str, to_person: str, merge_key: str
) -> int:
    rows = session.execute(
        select(_g.id, _g.amount, _g.at, _g.idempotency_key)
        .where(_g.workspace_id == workspace_id, _g.person_id == from_person)
        .order_by(_g.id)
    ).all()
    done = set(
        session.execute(
            select(_g.idempotency_key).where(
                _g.workspace_id == workspace_id, _g.idempotency_key.like(f"{merge_key}:g-%")
            )
        ).scalars()
    )
    entries: list[dict[str, Any]] = []
    moved = 0
    for row in rows:
        out_key, in_key = f"{merge_key}:g-out:{row.id}", f"{merge_key}:g-in:{row.id}"
        ours = (row.idempotency_key or "").startswith(f"{merge_key}:")
        if ours or out_key in done or in_key in done or not row.amount:
            continue  # written by this merge already, or nothing to move
        common = {"workspace_id": workspace_id, "reason": MERGE_REASON, "at": row.at}
        entries.append(
            {**common, "person_id": from_person, "amount": -row.amount, "idempotency_key": out_key}
        )
        entries.append(
            {**common, "person_id": to_person, "amount": row.amount, "idempotency_key": in_key}
        )
        moved += row.amount
    if entries:
        session.execute(insert(member_growth), entries)
    return moved


def _member(session: Session, workspace_id: str, person_id: str) -> Any:
    return session.execute(
        select(members).where(_m.workspace_id == workspace_id, _m.person_id == person_id)
    ).first()


def _move_member_row(
    session: Session, workspace_id: str, from_person: str, to_person: str, now: datetime
) -> bool:
    """The absorbed person's member record becomes (or joins) the survivor's; True if moved."""
    absorbed = _member(session, workspace_id, from_person)
    if absorbed is None:
        return False
    survivor = _member(session, workspace_id, to_person)
    session.execute(
        delete(members).where(_m.workspace_id == workspace_id, _m.person_id == from_person)
    )
    if survivor is None:
        session.execute(
            insert(members).values(
                {**absorbed._mapping, "person_id": to_person, "evaluated_at": now}
            )
        )
    else:
        session.execute(
            update(members)
            .where(_m.workspace_id == workspace_id, _m.person_id == to_person)
            .values(
                enrolled_at=min(survivor.enrolled_at, absorbed.enrolled_at),
                member_no=survivor.member_no or absorbed.member_no,
            )
        )
    for table in (member_tier_history, paid_memberships):
        session.execute(
            update(table)
            .where(table.c.workspace_id == workspace_id, table.c.person_id == from_person)
            .values(person_id=to_person)
        )
    return True


def move_membership(
    *,
    session: Session,
    workspace_id: str,
    from_person: str,
    to_person: str,
    merge_key: str,
    now: datetime,
) -> MembershipMove:
    """Move growth and membership of ``from_person`` to ``to_person``; re-evaluate the tier.

    Growth entries are keyed ``<merge_key>:g-out:<id>`` / ``<merge_key>:g-in:<id>``.
    """
    if from_person == to_person:
        return MembershipMove(growth=0, member_moved=False, tier=None)
    growth = _move_growth(session, workspace_id, from_person, to_person, merge_key)
    moved = _move_member_row(session, workspace_id, from_person, to_person, now)
    if _member(session, workspace_id, to_person) is None:
        return MembershipMove(growth=growth, member_moved=moved, tier=None)
    try:
        ladder = membership.get_tiers(session=session, workspace_id=workspace_id)
    except NotFoundError:
        return MembershipMove(growth=growth, member_moved=moved, tier=None)
    membership.evaluate(session=session, workspace_id=workspace_id, person_id=to_person,
                        ladder=ladder, now=now)  # fmt: skip
    tier = _member(session, workspace_id, to_person).tier
    return MembershipMove(growth=growth, member_moved=moved, tier=tier)
