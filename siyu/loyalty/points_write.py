"""How one points write is made: lock the member's account, recall its idempotency key, append
the entry whose lots and balance follow from :mod:`siyu.loyalty.ledger` (portable path), or
all of it in one PostgreSQL call (:mod:`siyu.loyalty.points_pg`); and the earn rules it reads.

Callers own the transaction. On PostgreSQL the account row is taken ``FOR UPDATE``, so two
spends racing for the last points run one after the other; SQLite serialises writers with
``BEGIN IMMEDIATE`` already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.core.db import insert_ignore
from siyu.core.errors import ConflictError, InvalidInputError
from siyu.identity import service as identity
from siyu.loyalty import ledger, points_pg
from siyu.loyalty.ledger import CONTRA, EntryKind
from siyu.loyalty.points_models import EarnRules, PointsEntry, PointsResult
from siyu.loyalty.points_tables import (
    points_accounts,
    points_entries,
    points_lots,
    points_rules,
)

KEY_MAX = 255
_acc, _ent, _lot = points_accounts.c, points_entries.c, points_lots.c


@dataclass
class _Write:
    workspace_id: str
    person_id: str
    kind: EntryKind
    reason: str
    source: str | None
    key: str


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _check_key(key: str) -> None:
    if not key or len(key) > KEY_MAX:
        raise InvalidInputError(
            f"an idempotency key of 1–{KEY_MAX} characters is required", field="idempotency_key"
        )


def _lock(session: Session, workspace_id: str, person_id: str, now: datetime) -> int:
    """Lock the member's account row (creating it for a known person); its balance."""
    query = (
        select(_acc.balance)
        .where(_acc.workspace_id == workspace_id, _acc.person_id == person_id)
        .with_for_update()
    )
    balance = session.execute(query).scalar_one_or_none()
    if balance is not None:
        return int(balance)
    identity.current_person_id(session=session, workspace_id=workspace_id, person_id=person_id)
    account = {
        "workspace_id": workspace_id,
        "person_id": person_id,
        "balance": 0,
        "updated_at": now,
    }
    insert_ignore(session, points_accounts, account)
    return int(session.execute(query).scalar_one())


def _entry(row: Any) -> PointsEntry:
    return PointsEntry.model_validate(row, from_attributes=True)


def _existing(session: Session, write: _Write) -> PointsEntry | None:
    row = session.execute(
        select(points_entries).where(
            _ent.workspace_id == write.workspace_id, _ent.idempotency_key == write.key
        )
    ).first()
    return None if row is None else _same_request(write, row)


def _same_request(write: _Write, row: Any) -> PointsEntry:
    if row.person_id != write.person_id or row.reason != write.reason:
        raise ConflictError(
            "this idempotency key was used for another request", field="idempotency_key"
        )
    return _entry(row)


def _lock_and_recall_query() -> Any:
    found = points_entries.alias("found")
    rules = (
        select(points_rules.c.rules)
        .where(points_rules.c.workspace_id == bindparam("ws"))
        .scalar_subquery()
        .label("earn_rules")
    )
    on_key = and_(
        found.c.workspace_id == _acc.workspace_id, found.c.idempotency_key == bindparam("key")
    )
    return (
        select(_acc.balance, rules, found)
        .select_from(points_accounts.outerjoin(found, on_key))
        .where(_acc.workspace_id == bindparam("ws"), _acc.person_id == bindparam("person"))
        .with_for_update(of=points_accounts)
    )


# Built once: constructing this join on every write cost more than running it.
_LOCK_AND_RECALL = _lock_and_recall_query()


def _lock_and_recall(
    session: Session, write: _Write, now: datetime
) -> tuple[int, PointsEntry | None, EarnRules]:
    """Lock the account, look the key up and read the rules in one round trip."""
    params = {"ws": write.workspace_id, "person": write.person_id, "key": write.key}
    row = session.execute(_LOCK_AND_RECALL, params).first()
    if row is None:
        balance = _lock(session, write.workspace_id, write.person_id, now)
        earn_rules = get_rules(session=session, workspace_id=write.workspace_id)
        return balance, _existing(session, write), earn_rules
    stored = EarnRules() if row.earn_rules is None else EarnRules.model_validate(row.earn_rules)
    return int(row.balance), None if row.id is None else _same_request(write, row), stored


_OPEN_LOTS = select(points_lots).where(
    _lot.workspace_id == bindparam("ws"), _lot.person_id == bindparam("person"), _lot.remaining > 0
)


def _open_lots(session: Session, workspace_id: str, person_id: str) -> list[ledger.Lot]:
    rows = session.execute(_OPEN_LOTS, {"ws": workspace_id, "person": person_id})
    return [ledger.Lot(r.id, r.amount, r.remaining, r.earned_at, r.expires_at) for r in rows]


def _conflicting_key() -> ConflictError:
    # The same key, committed meanwhile for another member.
    return ConflictError(
        "this idempotency key was used for another request", field="idempotency_key"
    )


def _write_portable(
    session: Session, values: dict[str, Any], takes: list[tuple[int, int]]
) -> int | None:
    inserted = insert_ignore(session, points_entries, values, returning=[_ent.id])
    if not inserted:
        return None
    entry_id: int = inserted[0].id
    if values["amount"] > 0:
        session.execute(
            insert(points_lots).values(
                id=entry_id,
                workspace_id=values["workspace_id"],
                person_id=values["person_id"],
                amount=values["amount"],
                remaining=values["amount"],
                earned_at=values["created_at"],
                expires_at=values["expires_at"],
            )
        )
    for taken_lot, taken in takes:
        session.execute(
            update(points_lots).where(_lot.id == taken_lot).values(remaining=_lot.remaining - taken)
        )
    session.execute(
        update(points_accounts)
        .where(_acc.workspace_id == values["workspace_id"], _acc.person_id == values["person_id"])
        .values(balance=values["balance_after"], updated_at=values["created_at"])
    )
    return int(entry_id)


# On PostgreSQL the whole append is one statement: the entry, its lot or the lots it takes
# from, and the balance, in data-modifying CTEs (one round trip instead of four or more).
_WRITE_PG = text(
    """
WITH e AS (
  INSERT INTO points_entries (workspace_id, person_id, kind, amount, contra_account, reason,
    source, idempotency_key, lot_id, expires_at, balance_after, created_at)
  VALUES (:workspace_id, :person_id, :kind, :amount, :contra_account, :reason, :source,
    :idempotency_key, :lot_id, :expires_at, :balance_after, :created_at)
  ON CONFLICT DO NOTHING RETURNING id
), opened AS (
  INSERT INTO points_lots (id, workspace_id, person_id, amount, remaining, earned_at, expires_at)
  SELECT id, :workspace_id, :person_id, :amount, :amount, :created_at, :expires_at
  FROM e WHERE CAST(:amount AS bigint) > 0
), taken AS (
  UPDATE points_lots SET remaining = points_lots.remaining - t.taken
  FROM unnest(CAST(:lot_ids AS bigint[]), CAST(:takens AS bigint[])) AS t(id, taken)
  WHERE points_lots.id = t.id AND EXISTS (SELECT 1 FROM e)
), account AS (
  UPDATE points_accounts SET balance = :balance_after, updated_at = :created_at
  WHERE workspace_id = :workspace_id AND person_id = :person_id AND EXISTS (SELECT 1 FROM e)
)
SELECT id FROM e
"""
)


def _write_pg(session: Session, values: dict[str, Any], takes: list[tuple[int, int]]) -> int | None:
    params = {
        **values,
        "lot_ids": [lot for lot, _ in takes],
        "takens": [taken for _, taken in takes],
    }
    entry_id = session.execute(_WRITE_PG, params).scalar_one_or_none()
    if entry_id is None:
        return None
    return int(entry_id)


def _append(
    session: Session,
    write: _Write,
    *,
    amount: int,
    balance: int,
    now: datetime,
    expires_at: datetime | None = None,
    lot_id: int | None = None,
) -> PointsResult:
    """Append the entry (its lots and balance follow) to a locked account."""
    takes: list[tuple[int, int]] = []
    if amount < 0:
        book = ledger.Book(
            {lot.id: lot for lot in _open_lots(session, write.workspace_id, write.person_id)}
        )
        takes = ledger.apply(book, ledger.Entry(0, write.kind, amount, now, lot_id=lot_id))
    values = {
        "workspace_id": write.workspace_id,
        "person_id": write.person_id,
        "kind": write.kind.value,
        "amount": amount,
        "contra_account": CONTRA[write.kind],
        "reason": write.reason,
        "source": write.source,
        "idempotency_key": write.key,
        "lot_id": lot_id,
        "expires_at": expires_at if amount > 0 else None,
        "balance_after": balance + amount,
        "created_at": now,
    }
    if session.get_bind().dialect.name == "postgresql":
        entry_id = _write_pg(session, values, takes)
    else:
        entry_id = _write_portable(session, values, takes)
    if entry_id is None:
        # The key was committed after our lock statement's snapshot (PostgreSQL re-reads only
        # the locked row when a lock wait ends): answer with that entry, or refuse a stranger's.
        existing = _existing(session, write)
        if existing is None:
            raise _conflicting_key()
        return PointsResult(entry=existing, balance=balance, replayed=True)
    return PointsResult(entry=PointsEntry(id=entry_id, **values), balance=balance + amount)


def _post(
    session: Session,
    write: _Write,
    now: datetime,
    amount_of: Callable[[int, EarnRules], int],
    rules: EarnRules | None = None,
    **extra: Any,
) -> PointsResult:
    """Lock, answer a retry with the original, else append ``amount_of(balance, rules)``.

    An amount of 0 writes nothing; a positive amount opens a lot expiring by the rules.
    """
    _check_key(write.key)
    balance, existing, stored_rules = _lock_and_recall(session, write, now)
    if existing is not None:
        return PointsResult(entry=existing, balance=balance, replayed=True)
    rules = rules or stored_rules
    amount = amount_of(balance, rules)
    if amount == 0:
        return PointsResult(entry=None, balance=balance)
    expires_at = _expiry(rules, now) if amount > 0 else None
    return _append(
        session, write, amount=amount, balance=balance, now=now, expires_at=expires_at, **extra
    )


def _fast(
    session: Session,
    write: _Write,
    points: int,
    now: datetime,
    rules: EarnRules | None = None,
    *,
    capped: bool = False,
) -> PointsResult | None:
    """The write in one PostgreSQL call when it can be (see :mod:`points_pg`), else None."""
    _check_key(write.key)
    if not points_pg.available(session):
        return None
    fast = points_pg.FastWrite(
        write.workspace_id,
        write.person_id,
        write.kind,
        points,
        write.reason,
        write.source,
        write.key,
        capped,
    )
    return points_pg.post(session, fast, now, rules)


def get_rules(*, session: Session, workspace_id: str) -> EarnRules:
    """The workspace's earn rules (defaults until set)."""
    stored = session.execute(
        select(points_rules.c.rules).where(points_rules.c.workspace_id == workspace_id)
    ).scalar_one_or_none()
    return EarnRules.model_validate(stored) if stored is not None else EarnRules()


def set_rules(*, session: Session, workspace_id: str, rules: EarnRules, now: datetime) -> EarnRules:
    """Replace the workspace's earn rules."""
    stmt = _insert(session, points_rules).values(
        workspace_id=workspace_id, rules=rules.model_dump(mode="json"), updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[points_rules.c.workspace_id],
            set_={"rules": stmt.excluded.rules, "updated_at": now},
        )
    )
    return rules


def _expiry(rules: EarnRules, now: datetime) -> datetime | None:
    return ledger.expiry_of(
        now, policy=rules.expiry, months=rules.expiry_months, zone=rules.timezone
    )
