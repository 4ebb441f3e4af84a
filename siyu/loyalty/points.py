"""The points service: every write locks the member's account, checks its idempotency key, and
appends one immutable entry whose lots and balance follow from :mod:`siyu.loyalty.ledger`.

Callers own the transaction (``with sessions() as s, s.begin()``). On PostgreSQL the account
row is taken ``FOR UPDATE``, so two spends racing for the last points run one after the other;
SQLite serialises writers with ``BEGIN IMMEDIATE`` already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.identity import service as identity
from siyu.loyalty import ledger, points_pg
from siyu.loyalty.ledger import CONTRA, EntryKind
from siyu.loyalty.points_models import (
    CheckInResult,
    EarnRules,
    EntriesPage,
    PointsAccount,
    PointsEntry,
    PointsLot,
    PointsResult,
)
from siyu.loyalty.points_tables import (
    points_accounts,
    points_checkins,
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
    session.execute(
        _insert(session, points_accounts)
        .values(workspace_id=workspace_id, person_id=person_id, balance=0, updated_at=now)
        .on_conflict_do_nothing()
    )
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
    stmt = _insert(session, points_entries).values(**values).on_conflict_do_nothing()
    entry_id = session.execute(stmt.returning(_ent.id)).scalar_one_or_none()
    if entry_id is None:
        return None
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


def _positive(amount: int, name: str = "points") -> int:
    if amount <= 0:
        raise InvalidInputError(f"{name} must be a positive integer", field=name)
    return amount


def earn_points(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    points: int,
    reason: str,
    idempotency_key: str,
    now: datetime,
    source: str | None = None,
    rules: EarnRules | None = None,
) -> PointsResult:
    """Award ``points`` for ``reason``, opening a lot that expires by the workspace's rules.

    A retry with the same key returns the original entry (``replayed``) and earns nothing.
    The day's cap for ``reason`` (rules.daily_caps) cuts the award; a capped-out award
    returns ``entry=None``.

    Raises:
        InvalidInputError: ``points`` is not positive, or the key is missing.
        NotFoundError: no such person in the workspace.
        ConflictError: the key was used for another member or reason.
    """
    _positive(points)
    write = _Write(workspace_id, person_id, EntryKind.EARN, reason, source, idempotency_key)
    fast = _fast(session, write, points, now, rules, capped=True)
    if fast is not None:
        return fast

    def amount_of(_balance: int, rules: EarnRules) -> int:
        cap = rules.daily_caps.get(reason)
        if cap is None:
            return points
        today = _earned_today(session, write, now, rules.timezone)
        return ledger.capped(points, earned_today=today, cap=cap)

    return _post(session, write, now, amount_of, rules=rules)


def _earned_today(session: Session, write: _Write, now: datetime, zone: str) -> int:
    start, end = ledger.day_bounds(ledger.local_day(now, zone), zone)
    total = session.execute(
        select(func.coalesce(func.sum(_ent.amount), 0)).where(
            _ent.workspace_id == write.workspace_id,
            _ent.person_id == write.person_id,
            _ent.reason == write.reason,
            _ent.kind == EntryKind.EARN.value,
            _ent.created_at >= start,
            _ent.created_at < end,
        )
    ).scalar_one()
    return int(total)


def spend_points(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    points: int,
    reason: str,
    idempotency_key: str,
    now: datetime,
    source: str | None = None,
) -> PointsResult:
    """Spend ``points`` from the oldest lots first.

    Raises:
        NotEnoughPointsError: the member holds fewer points (409, field ``points``).
        NotFoundError: no such person in the workspace.
        ConflictError: the key was used for another member or reason.
    """
    _positive(points)
    write = _Write(workspace_id, person_id, EntryKind.SPEND, reason, source, idempotency_key)
    fast = _fast(session, write, -points, now)
    if fast is not None:
        return fast
    return _post(session, write, now, lambda _balance, _rules: -points)


def adjust_points(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    points: int,
    idempotency_key: str,
    now: datetime,
    source: str | None = None,
    reason: str = "manual",
) -> PointsResult:
    """A manual adjustment: positive opens a lot, negative takes FIFO (never below zero)."""
    if points == 0:
        raise InvalidInputError("points must not be 0", field="points")
    write = _Write(workspace_id, person_id, EntryKind.ADJUST, reason, source, idempotency_key)
    fast = _fast(session, write, points, now)
    if fast is not None:
        return fast
    return _post(session, write, now, lambda _b, _r: points)


def earn_for_order(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    order_id: str,
    amount_fen: int,
    now: datetime,
    multiplier_pct: int = 100,
) -> PointsResult:
    """Points for a paid order (per yuan × tier multiplier); keyed by the order, so once only."""
    write = _Write(workspace_id, person_id, EntryKind.EARN, "order", order_id, f"order:{order_id}")

    def amount_of(_balance: int, rules: EarnRules) -> int:
        return ledger.order_points(
            amount_fen, per_yuan=rules.per_yuan, multiplier_pct=multiplier_pct
        )

    return _post(session, write, now, amount_of)


def reverse_order(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    order_id: str,
    refund_id: str,
    now: datetime,
    refund_fen: int | None = None,
    order_fen: int | None = None,
) -> PointsResult:
    """Take back an order's points on refund (in proportion for a partial refund).

    Takes from the order's own lot first, then FIFO; never below zero (what the member already
    spent elsewhere stays spent). Returns ``entry=None`` when nothing is left to take.

    Raises:
        NotFoundError: the order earned no points.
    """
    write = _Write(
        workspace_id,
        person_id,
        EntryKind.REVERSE,
        "refund",
        order_id,
        f"refund:{order_id}:{refund_id}",
    )
    earned = session.execute(
        select(_ent.id, _ent.amount).where(
            _ent.workspace_id == workspace_id, _ent.idempotency_key == f"order:{order_id}"
        )
    ).first()
    if earned is None:
        raise NotFoundError(f"order {order_id} earned no points", field="order_id")
    due = ledger.refund_points(
        int(earned.amount), order_fen=order_fen or 0, refund_fen=refund_fen or 0
    )

    def amount_of(balance: int, _rules: EarnRules) -> int:
        taken = -int(
            session.execute(
                select(func.coalesce(func.sum(_ent.amount), 0)).where(
                    _ent.workspace_id == workspace_id,
                    _ent.kind == EntryKind.REVERSE.value,
                    _ent.lot_id == earned.id,
                )
            ).scalar_one()
        )
        return -min(due, int(earned.amount) - taken, balance)

    return _post(session, write, now, amount_of, lot_id=earned.id)


def check_in(
    *, session: Session, workspace_id: str, person_id: str, now: datetime
) -> CheckInResult:
    """The daily check-in (签到): once per local day, with the streak bonus on its day."""
    rules = get_rules(session=session, workspace_id=workspace_id)
    today = ledger.local_day(now, rules.timezone)
    ck = points_checkins.c
    write = _Write(
        workspace_id,
        person_id,
        EntryKind.EARN,
        "check_in",
        today.isoformat(),
        f"check_in:{person_id}:{today}",
    )
    streak = 1

    def amount_of(_balance: int, _rules: EarnRules) -> int:
        nonlocal streak
        last = session.execute(
            select(ck.day, ck.streak)
            .where(ck.workspace_id == workspace_id, ck.person_id == person_id, ck.day < today)
            .order_by(ck.day.desc())
            .limit(1)
        ).first()
        streak = ledger.streak_of(last.day if last else None, last.streak if last else 0, today)
        session.execute(
            insert(points_checkins).values(
                workspace_id=workspace_id, person_id=person_id, day=today, streak=streak
            )
        )
        return ledger.check_in_points(streak, base=rules.check_in, bonuses=rules.streak_bonus)

    result = _post(session, write, now, amount_of, rules=rules)
    if result.replayed:
        streak = session.execute(
            select(ck.streak).where(
                ck.workspace_id == workspace_id, ck.person_id == person_id, ck.day == today
            )
        ).scalar_one()
    return CheckInResult(day=today.isoformat(), streak=streak, result=result)


def reward(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    reason: str,
    idempotency_key: str,
    now: datetime,
    source: str | None = None,
) -> PointsResult:
    """A rule-priced reward (task, share, referral, birthday, …), within the day's cap."""
    rules = get_rules(session=session, workspace_id=workspace_id)
    if reason not in rules.rewards:
        raise InvalidInputError(f"no reward rule named {reason!r}", field="reason")
    return earn_points(
        session=session,
        workspace_id=workspace_id,
        person_id=person_id,
        points=rules.rewards[reason],
        reason=reason,
        idempotency_key=idempotency_key,
        now=now,
        source=source,
        rules=rules,
    )


def get_account(*, session: Session, workspace_id: str, person_id: str) -> PointsAccount:
    """A member's balance and open lots (an unknown person is a NotFoundError)."""
    balance = session.execute(
        select(_acc.balance).where(_acc.workspace_id == workspace_id, _acc.person_id == person_id)
    ).scalar_one_or_none()
    if balance is None:
        identity.current_person_id(session=session, workspace_id=workspace_id, person_id=person_id)
    lots = sorted(_open_lots(session, workspace_id, person_id), key=lambda lot: lot.id)
    return PointsAccount(
        person_id=person_id,
        balance=int(balance or 0),
        lots=[PointsLot.model_validate(lot, from_attributes=True) for lot in lots],
    )


def list_entries(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    limit: int = 100,
    before_id: int | None = None,
) -> EntriesPage:
    """A member's entries, newest first."""
    query = select(points_entries).where(
        _ent.workspace_id == workspace_id, _ent.person_id == person_id
    )
    if before_id is not None:
        query = query.where(_ent.id < before_id)
    rows = session.execute(query.order_by(_ent.id.desc()).limit(limit)).all()
    entries = [_entry(r) for r in rows]
    return EntriesPage(
        entries=entries, next_before_id=entries[-1].id if len(entries) == limit else None
    )
