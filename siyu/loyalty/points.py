"""The points service: earn, spend, adjust, order points and refunds, check-in, rewards, and a
member's account and entries. Each write goes through :mod:`siyu.loyalty.points_write`.

Callers own the transaction (``with sessions() as s, s.begin()``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.identity import service as identity
from siyu.loyalty import ledger
from siyu.loyalty.ledger import EntryKind
from siyu.loyalty.points_models import (
    CheckInResult,
    EarnRules,
    EntriesPage,
    PointsAccount,
    PointsLot,
    PointsResult,
)
from siyu.loyalty.points_tables import points_checkins, points_entries
from siyu.loyalty.points_write import (
    KEY_MAX,
    _acc,
    _ent,
    _entry,
    _fast,
    _open_lots,
    _post,
    _Write,
    get_rules,
    set_rules,
)

__all__ = [
    "KEY_MAX",
    "adjust_points",
    "check_in",
    "earn_for_order",
    "earn_points",
    "get_account",
    "get_rules",
    "list_entries",
    "reverse_order",
    "reward",
    "set_rules",
    "spend_points",
]


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
