"""The PostgreSQL fast path of an earn, spend or adjustment: one call of ``siyu_points_post``.

The portable path (:func:`siyu.loyalty.points_write._post`) takes four to five round trips and a few
hundred microseconds of SQLAlchemy per write; on PostgreSQL the same steps run inside one
PL/pgSQL call (see :data:`siyu.loyalty.points_tables.POINTS_POST_FUNCTION`). The function reports
what it cannot do itself (no account yet, rules changed, key taken meanwhile) and the caller
then takes the portable path, so results are the same either way.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError
from siyu.loyalty import ledger
from siyu.loyalty.ledger import CONTRA, EntryKind, NotEnoughPointsError
from siyu.loyalty.points_models import EarnRules, PointsEntry, PointsResult
from siyu.loyalty.points_tables import points_rules


@dataclass(frozen=True)
class FastWrite:
    """One earn, spend or adjustment as the fast path takes it."""

    workspace_id: str
    person_id: str
    kind: EntryKind
    points: int  # signed: what the entry adds to the member's account before any cap
    reason: str
    source: str | None
    key: str
    capped: bool  # an earn the day's cap for its reason applies to


@dataclass(frozen=True)
class _Rules:
    stored: str | None  # the stored JSON, compared by the function to catch a change
    rules: EarnRules


_POST = text(
    "SELECT * FROM siyu_points_post(:ws, :person, :kind, :amount, :contra, :reason, :source,"
    " :key, :expires_at, :now, :check_rules, CAST(:rules AS jsonb), :cap, :day_start, :day_end)"
)
_HAS_FUNCTION = text("SELECT to_regproc('siyu_points_post') IS NOT NULL")

# Whether each engine's database has the function (a database migrated before it existed has
# not), asked once per engine.
_AVAILABLE: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
# The rules last read per workspace. Only a hint: the function compares them with the stored
# rules under the account lock and answers ``stale_rules`` when they differ.
_RULES: dict[str, _Rules] = {}


def available(session: Session) -> bool:
    """Whether this session's database is PostgreSQL with ``siyu_points_post`` installed."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        return False
    if bind not in _AVAILABLE:
        _AVAILABLE[bind] = bool(session.execute(_HAS_FUNCTION).scalar_one())
    return _AVAILABLE[bind]


def set_available(engine: Engine, *, available: bool) -> None:
    """Turn the fast path on or off for ``engine`` (benchmarks compare the two paths)."""
    _AVAILABLE[engine] = available


def _rules_of(session: Session, workspace_id: str) -> _Rules:
    known = _RULES.get(workspace_id)
    if known is None:
        stored = session.execute(
            select(points_rules.c.rules).where(points_rules.c.workspace_id == workspace_id)
        ).scalar_one_or_none()
        rules = EarnRules() if stored is None else EarnRules.model_validate(stored)
        known = _Rules(None if stored is None else json.dumps(stored), rules)
        _RULES[workspace_id] = known
    return known


def _params(write: FastWrite, rules: EarnRules, now: datetime) -> dict[str, Any]:
    cap = rules.daily_caps.get(write.reason) if write.capped else None
    start = end = None
    if cap is not None:
        start, end = ledger.day_bounds(ledger.local_day(now, rules.timezone), rules.timezone)
    expires_at = None
    if write.points > 0:
        expires_at = ledger.expiry_of(
            now, policy=rules.expiry, months=rules.expiry_months, zone=rules.timezone
        )
    return {
        "ws": write.workspace_id,
        "person": write.person_id,
        "kind": write.kind.value,
        "amount": write.points,
        "contra": CONTRA[write.kind],
        "reason": write.reason,
        "source": write.source,
        "key": write.key,
        "expires_at": expires_at,
        "now": now,
        "cap": cap,
        "day_start": start,
        "day_end": end,
    }


def post(
    session: Session, write: FastWrite, now: datetime, rules: EarnRules | None
) -> PointsResult | None:
    """The write in one call; None when the caller must take the portable path instead.

    ``rules`` given by the caller are used as they are (the portable path does the same);
    otherwise the workspace's rules are checked against the stored ones inside the call.

    Raises:
        NotEnoughPointsError: a spend asks for more than the member's open lots hold.
    """
    known = None if rules is not None else _rules_of(session, write.workspace_id)
    effective = rules if known is None else known.rules
    params = _params(write, effective or EarnRules(), now)
    params["check_rules"] = known is not None
    params["rules"] = None if known is None else known.stored
    row = session.execute(_POST, params).one()
    return _answer(row, write)


def _answer(row: Any, write: FastWrite) -> PointsResult | None:
    status = row.r_status
    if status == "replayed" and (row.r_person != write.person_id or row.r_reason != write.reason):
        raise ConflictError(
            "this idempotency key was used for another request", field="idempotency_key"
        )
    if status in ("ok", "replayed"):
        return PointsResult(
            entry=_entry(row, write), balance=row.r_balance, replayed=status != "ok"
        )
    if status == "nothing":
        return PointsResult(entry=None, balance=row.r_balance)
    if status == "short":
        asked = -write.points
        raise NotEnoughPointsError(
            f"not enough points: {asked} asked, {row.r_available} available",
            field="points",
            asked=asked,
            available=int(row.r_available),
        )
    if status == "stale_rules":
        _RULES.pop(write.workspace_id, None)
    return None  # no_account, stale_rules, taken_key: the portable path knows what to do


def _entry(row: Any, write: FastWrite) -> PointsEntry:
    return PointsEntry(
        id=row.r_id,
        person_id=row.r_person,
        kind=row.r_kind,
        amount=row.r_amount,
        contra_account=row.r_contra,
        reason=row.r_reason,
        source=row.r_source,
        idempotency_key=write.key,
        lot_id=row.r_lot_id,
        expires_at=row.r_expires_at,
        balance_after=row.r_balance_after,
        created_at=row.r_created_at,
    )
