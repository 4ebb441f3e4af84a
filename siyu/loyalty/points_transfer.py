"""Points follow a merge: every open lot of the absorbed person moves to the survivor.

Each lot moves as two entries keyed by the merge: ``transfer_out`` empties the lot on the
absorbed person, ``transfer_in`` opens a lot of the same size and expiry on the survivor; both
have the contra account ``system:transfer``, so nothing is created or lost and a rerun (or a
retried batch) moves nothing twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.loyalty.ledger import EntryKind
from siyu.loyalty.points_models import PointsTransfer
from siyu.loyalty.points_tables import points_accounts, points_lots
from siyu.loyalty.points_write import _append, _lock, _Write

_acc, _lot = points_accounts.c, points_lots.c
MERGE_REASON = "merge"


def _has_account(session: Session, workspace_id: str, person_id: str) -> bool:
    found = session.execute(
        select(_acc.balance).where(_acc.workspace_id == workspace_id, _acc.person_id == person_id)
    ).first()
    return found is not None


def move_points(
    *,
    session: Session,
    workspace_id: str,
    from_person: str,
    to_person: str,
    merge_key: str,
    now: datetime,
) -> PointsTransfer:
    """Move every open lot of ``from_person`` to ``to_person`` (same amount, same expiry).

    ``merge_key`` names the merge (e.g. ``merge:42``); entries are keyed
    ``<merge_key>:out:<lot>`` and ``<merge_key>:in:<lot>``. The two accounts are locked in id
    order, so two moves never wait on each other in a cycle.
    """
    if from_person == to_person or not _has_account(session, workspace_id, from_person):
        return PointsTransfer(points=0, lots=0)
    balances = {
        person: _lock(session, workspace_id, person, now)
        for person in sorted((from_person, to_person))
    }
    lots = session.execute(
        select(_lot.id, _lot.remaining, _lot.expires_at)
        .where(_lot.workspace_id == workspace_id, _lot.person_id == from_person, _lot.remaining > 0)
        .order_by(_lot.id)
    ).all()
    moved = 0
    for lot in lots:
        amount = int(lot.remaining)
        out = _Write(
            workspace_id,
            from_person,
            EntryKind.TRANSFER_OUT,
            MERGE_REASON,
            to_person,
            f"{merge_key}:out:{lot.id}",
        )
        took = _append(
            session, out, amount=-amount, balance=balances[from_person], now=now, lot_id=lot.id
        )
        if took.replayed:
            continue
        balances[from_person] -= amount
        into = _Write(
            workspace_id,
            to_person,
            EntryKind.TRANSFER_IN,
            MERGE_REASON,
            f"{from_person}:lot:{lot.id}",
            f"{merge_key}:in:{lot.id}",
        )
        _append(
            session,
            into,
            amount=amount,
            balance=balances[to_person],
            now=now,
            expires_at=lot.expires_at,
        )
        balances[to_person] += amount
        moved += amount
    return PointsTransfer(points=moved, lots=len(lots))
