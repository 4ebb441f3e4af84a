"""Jobs over the whole ledger: expire due lots, and re-derive every balance from the entries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError
from siyu.loyalty import ledger
from siyu.loyalty.ledger import EntryKind
from siyu.loyalty.points_models import ExpiringPoints, ExpiryReport, Mismatch, VerifyReport
from siyu.loyalty.points_tables import points_accounts, points_entries, points_lots
from siyu.loyalty.points_write import _append, _lock, _Write

_acc, _ent, _lot = points_accounts.c, points_entries.c, points_lots.c
BATCH = 500


def due_lots(
    *, session: Session, now: datetime, workspace_id: str | None = None, limit: int = BATCH
) -> list[tuple[str, str, int]]:
    """``(workspace_id, person_id, lot_id)`` of lots with points left whose expiry has come."""
    query = select(_lot.workspace_id, _lot.person_id, _lot.id).where(
        _lot.remaining > 0, _lot.expires_at.is_not(None), _lot.expires_at <= now
    )
    if workspace_id is not None:
        query = query.where(_lot.workspace_id == workspace_id)
    rows = session.execute(query.order_by(_lot.id).limit(limit)).all()
    return [(r.workspace_id, r.person_id, int(r.id)) for r in rows]


def expire_lot(
    *, session: Session, workspace_id: str, person_id: str, lot_id: int, now: datetime
) -> int:
    """Expire what is left of one lot (keyed ``expire:<lot>``, so a rerun does nothing)."""
    balance = _lock(session, workspace_id, person_id, now)
    remaining = session.execute(
        select(_lot.remaining).where(_lot.id == lot_id, _lot.expires_at <= now)
    ).scalar_one_or_none()
    if not remaining:
        return 0
    write = _Write(
        workspace_id, person_id, EntryKind.EXPIRE, "expiry", str(lot_id), f"expire:{lot_id}"
    )
    _append(session, write, amount=-int(remaining), balance=balance, now=now, lot_id=lot_id)
    return int(remaining)


def expire_due(
    *, session: Session, now: datetime, workspace_id: str | None = None, limit: int = BATCH
) -> ExpiryReport:
    """Expire up to ``limit`` due lots in this transaction (call again until ``lots`` is 0)."""
    lots = points = 0
    for ws, person, lot_id in due_lots(
        session=session, now=now, workspace_id=workspace_id, limit=limit
    ):
        expired = expire_lot(
            session=session, workspace_id=ws, person_id=person, lot_id=lot_id, now=now
        )
        lots += expired > 0
        points += expired
    return ExpiryReport(lots=lots, points=points)


def expiring_soon(
    *, session: Session, workspace_id: str, now: datetime, within_days: int = 30, limit: int = 1000
) -> list[ExpiringPoints]:
    """Members whose points expire within ``within_days``, soonest first (for reminders)."""
    first = func.min(_lot.expires_at)
    rows = session.execute(
        select(_lot.person_id, func.sum(_lot.remaining).label("points"), first.label("first"))
        .where(
            _lot.workspace_id == workspace_id,
            _lot.remaining > 0,
            _lot.expires_at > now,
            _lot.expires_at <= now + timedelta(days=within_days),
        )
        .group_by(_lot.person_id)
        .order_by(first, _lot.person_id)
        .limit(limit)
    )
    return [
        ExpiringPoints(person_id=r.person_id, points=int(r.points), first_expires_at=r.first)
        for r in rows
    ]


def _entries(session: Session, workspace_id: str | None) -> Iterator[Any]:
    query = select(
        _ent.workspace_id,
        _ent.person_id,
        _ent.id,
        _ent.kind,
        _ent.amount,
        _ent.created_at,
        _ent.expires_at,
        _ent.lot_id,
        _ent.balance_after,
    )
    if workspace_id is not None:
        query = query.where(_ent.workspace_id == workspace_id)
    order = query.order_by(_ent.workspace_id, _ent.person_id, _ent.id)
    yield from session.execute(order.execution_options(yield_per=5000))


def _derive(rows: list[Any]) -> tuple[ledger.Book | None, str]:
    book = ledger.Book()
    for row in rows:
        entry = ledger.Entry(
            int(row.id),
            EntryKind(row.kind),
            int(row.amount),
            row.created_at,
            row.expires_at,
            row.lot_id,
        )
        try:
            ledger.apply(book, entry)
        except ConflictError as exc:
            return None, f"entry {row.id}: {exc.message}"
        if book.balance != row.balance_after:
            return (
                book,
                f"entry {row.id} says balance {row.balance_after}, replay gives {book.balance}",
            )
    return book, ""


def _stored(session: Session, workspace_id: str | None) -> tuple[dict[Any, int], dict[int, int]]:
    accounts = select(_acc.workspace_id, _acc.person_id, _acc.balance)
    lots = select(_lot.id, _lot.remaining)
    if workspace_id is not None:
        accounts = accounts.where(_acc.workspace_id == workspace_id)
        lots = lots.where(_lot.workspace_id == workspace_id)
    balances = {(r.workspace_id, r.person_id): int(r.balance) for r in session.execute(accounts)}
    return balances, {int(r.id): int(r.remaining) for r in session.execute(lots)}


def verify(*, session: Session, workspace_id: str | None = None) -> VerifyReport:
    """Replay every member's entries and compare with the stored balances and lots.

    A mismatch is any account whose stored balance or lot differs from the replay, an entry
    the replay cannot apply (e.g. a spend past zero), or a balance_after that disagrees.
    """
    balances, remaining = _stored(session, workspace_id)
    mismatches: list[Mismatch] = []
    entries = 0
    for (ws, person), group in groupby(_entries(session, workspace_id), key=lambda r: (r[0], r[1])):
        rows = list(group)
        entries += len(rows)
        book, problem = _derive(rows)
        stored = balances.pop((ws, person), None)
        derived = book.balance if book else None
        if not problem and stored != derived:
            problem = "stored balance differs from the sum of the entries"
        if not problem and book:
            bad = [lot.id for lot in book.lots.values() if remaining.get(lot.id) != lot.remaining]
            problem = f"lots {bad[:5]} differ from the replay" if bad else ""
        if problem:
            mismatches.append(
                Mismatch(
                    workspace_id=ws,
                    person_id=person,
                    stored_balance=stored,
                    derived_balance=derived,
                    detail=problem,
                )
            )
    mismatches.extend(
        Mismatch(
            workspace_id=ws,
            person_id=person,
            stored_balance=b,
            derived_balance=0,
            detail="stored balance without entries",
        )
        for (ws, person), b in balances.items()
        if b != 0
    )
    accounts = _count_accounts(session, workspace_id)
    return VerifyReport(accounts=accounts, entries=entries, mismatches=mismatches)


def _count_accounts(session: Session, workspace_id: str | None) -> int:
    query = select(_acc.person_id)
    if workspace_id is not None:
        query = query.where(_acc.workspace_id == workspace_id)
    return len(session.execute(query).all())
