"""Enrolments and order credits (points and growth) for a whole ingest batch at once.

The same results as calling :func:`membership.enrol_member`, :func:`points.earn_for_order` and
:func:`membership.add_growth` event by event, with a handful of statements per batch instead of
twenty per order: the batch's members, accounts, growth, paid terms, tier history and used keys
are read once, each member's events are replayed in order in memory (the tier reached by one
order sets the multiplier of the next, exactly as event by event), and the entries, lots,
growth, history and member rows are written in bulk. Upgrade coupons are issued per upgrade,
as before. The caller owns the transaction and passes only members' orders (refunds take the
event-by-event path).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from siyu.core.db import insert_ignore
from siyu.loyalty import ledger, points, points_write, tier_evaluate
from siyu.loyalty import tiers as rules
from siyu.loyalty.ledger import CONTRA, EntryKind
from siyu.loyalty.points_models import EarnRules
from siyu.loyalty.points_tables import points_accounts, points_entries, points_lots
from siyu.loyalty.tier_models import TierLadder
from siyu.loyalty.tier_tables import member_growth, member_tier_history, members, paid_memberships

CHUNK = 2000
_acc, _ent, _m, _g = points_accounts.c, points_entries.c, members.c, member_growth.c


@dataclass(frozen=True)
class OrderCredit:
    """One member's paid order: points per yuan × tier multiplier and growth per yuan."""

    person_id: str
    order_id: str
    amount_fen: int
    reason: str  # the growth entry's reason (the event name)
    at: datetime  # when the growth counts (the order's time, never after now)


@dataclass
class _Member:
    row: dict[str, Any]
    growth: list[rules.GrowthPoint]
    paid: list[rules.PaidTerm]
    stored: set[tuple[datetime, str, str]]
    balance: int = 0
    changed: bool = False
    upgrades: list[rules.TierChange] = field(default_factory=list)


@dataclass
class _Writes:
    entries: list[dict[str, Any]] = field(default_factory=list)
    growth: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def _locked_members(session: Session, workspace_id: str, persons: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in _chunks(persons):
        query = select(members).where(_m.workspace_id == workspace_id, _m.person_id.in_(chunk))
        for row in session.execute(query.order_by(_m.person_id).with_for_update()):
            found[row.person_id] = dict(row._mapping)
    return found


def _grouped(session: Session, query: Any, persons: list[str], column: Any) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for chunk in _chunks(persons):
        for row in session.execute(query.where(column.in_(chunk))):
            grouped[row.person_id].append(row)
    return grouped


def _load(session: Session, workspace_id: str, persons: list[str]) -> dict[str, _Member]:
    rows = _locked_members(session, workspace_id, persons)
    ids = sorted(rows)
    h, p = member_tier_history.c, paid_memberships.c
    growth = _grouped(
        session,
        select(_g.person_id, _g.at, _g.amount).where(_g.workspace_id == workspace_id),
        ids,
        _g.person_id,
    )
    paid = _grouped(
        session,
        select(p.person_id, p.tier, p.starts_at, p.ends_at)
        .where(p.workspace_id == workspace_id)
        .order_by(p.starts_at),
        ids,
        p.person_id,
    )
    history = _grouped(
        session,
        select(h.person_id, h.at, h.to_tier, h.change).where(h.workspace_id == workspace_id),
        ids,
        h.person_id,
    )
    return {
        pid: _Member(
            row=row,
            growth=[rules.GrowthPoint(g.at, g.amount) for g in growth[pid]],
            paid=[rules.PaidTerm(t.tier, t.starts_at, t.ends_at) for t in paid[pid]],
            stored={(r.at, r.to_tier, r.change) for r in history[pid]},
        )
        for pid, row in rows.items()
    }


def _lock_accounts(
    session: Session, workspace_id: str, persons: list[str], now: datetime
) -> dict[str, int]:
    """Create the missing accounts of ``persons`` (known members) and lock them all."""
    balances: dict[str, int] = {}
    for chunk in _chunks(persons):
        query = select(_acc.person_id, _acc.balance).where(
            _acc.workspace_id == workspace_id, _acc.person_id.in_(chunk)
        )
        found = dict(session.execute(query).all())
        missing = [pid for pid in chunk if pid not in found]
        if missing:
            insert_ignore(
                session,
                points_accounts,
                [
                    {
                        "workspace_id": workspace_id,
                        "person_id": pid,
                        "balance": 0,
                        "updated_at": now,
                    }
                    for pid in missing
                ],
            )
        locked = session.execute(query.order_by(_acc.person_id).with_for_update())
        balances.update({pid: int(balance) for pid, balance in locked})
    return balances


def _used_keys(session: Session, workspace_id: str, keys: list[str], table: Any) -> set[str]:
    used: set[str] = set()
    for chunk in _chunks(keys):
        used.update(
            session.execute(
                select(table.c.idempotency_key).where(
                    table.c.workspace_id == workspace_id, table.c.idempotency_key.in_(chunk)
                )
            ).scalars()
        )
    return used


def _evaluate(
    member: _Member, ladder: TierLadder, workspace_id: str, now: datetime, out: _Writes
) -> None:
    """:func:`tier_evaluate._evaluate` in memory: replay, new history, upgrades to reward."""
    row = member.row
    state = rules.replay(
        tiers=[rules.TierRank(code=t.code, min_growth=t.min_growth) for t in ladder.tiers],
        policy=ladder.policy,
        entries=member.growth,
        enrolled_at=row["enrolled_at"],
        now=now,
        paid=member.paid,
    )
    last = max((at for at, _, _ in member.stored), default=None)
    new = [
        c
        for c in state.changes
        if (last is None or c.at >= last) and (c.at, c.to_tier, c.kind.value) not in member.stored
    ]
    for c in new:
        member.stored.add((c.at, c.to_tier, c.kind.value))
        out.history.append(
            {"workspace_id": workspace_id, "person_id": row["person_id"], "from_tier": c.from_tier,
             "to_tier": c.to_tier, "change": c.kind.value, "growth": c.growth, "at": c.at}
        )  # fmt: skip
        if c.kind in (rules.TierChangeKind.UPGRADE, rules.TierChangeKind.ENROL):
            member.upgrades.append(c)
    row.update(
        tier=state.tier,
        tier_since=state.since,
        growth=state.growth,
        downgrade_at=state.downgrade_at,
        evaluated_at=now,
    )
    member.changed = True


def _credit(
    member: _Member,
    order: OrderCredit,
    *,
    ladder: TierLadder,
    earn_rules: EarnRules,
    workspace_id: str,
    now: datetime,
    out: _Writes,
    grown: set[str],
) -> None:
    multiplier = {t.code: t.points_multiplier_pct for t in ladder.tiers}
    pct = multiplier.get(member.row["tier"], 100)
    amount = ledger.order_points(order.amount_fen, per_yuan=earn_rules.per_yuan, multiplier_pct=pct)
    key = f"order:{order.order_id}"
    if amount > 0:
        member.balance += amount
        out.entries.append(
            {"workspace_id": workspace_id, "person_id": order.person_id,
             "kind": EntryKind.EARN.value, "amount": amount,
             "contra_account": CONTRA[EntryKind.EARN], "reason": "order",
             "source": order.order_id, "idempotency_key": key, "lot_id": None,
             "expires_at": points_write._expiry(earn_rules, now), "balance_after": member.balance,
             "created_at": now}
        )  # fmt: skip
    growth = order.amount_fen // 100
    if growth and key not in grown:
        grown.add(key)
        member.growth.append(rules.GrowthPoint(order.at, growth))
        out.growth.append(
            {"workspace_id": workspace_id, "person_id": order.person_id, "amount": growth,
             "reason": order.reason, "at": order.at, "idempotency_key": key}
        )  # fmt: skip
        _evaluate(member, ladder, workspace_id, now, out)


def _enrol_rows(
    session: Session, workspace_id: str, enrols: Sequence[tuple[str, str | None]], now: datetime
) -> None:
    if enrols:
        session.execute(
            insert(members),
            [
                {"workspace_id": workspace_id, "person_id": pid, "member_no": no,
                 "source": "identify", "enrolled_at": now, "tier": "", "tier_since": now,
                 "growth": 0, "downgrade_at": None, "evaluated_at": now}
                for pid, no in enrols
            ],
        )  # fmt: skip


def apply_batch(
    *,
    session: Session,
    workspace_id: str,
    ladder: TierLadder,
    enrols: Sequence[tuple[str, str | None]],
    orders: Sequence[OrderCredit],
    now: datetime,
) -> dict[str, str]:
    """Enrol ``enrols`` (person, member number: checked free by the caller), then credit
    ``orders`` (of members, in event order; an order whose key was used is skipped). Returns
    each touched member's tier after.
    """
    _enrol_rows(session, workspace_id, enrols, now)
    persons = sorted({pid for pid, _ in enrols} | {o.person_id for o in orders})
    state = _load(session, workspace_id, persons)
    out = _Writes()
    for pid, _ in enrols:
        _evaluate(state[pid], ladder, workspace_id, now, out)
    fresh = _fresh_orders(session, workspace_id, orders)
    if fresh:
        earn_rules = points.get_rules(session=session, workspace_id=workspace_id)
        balances = _lock_accounts(session, workspace_id, sorted({o.person_id for o in fresh}), now)
        for pid, balance in balances.items():
            state[pid].balance = balance
        keys = sorted({f"order:{o.order_id}" for o in fresh})
        grown = _used_keys(session, workspace_id, keys, member_growth)
        for order in fresh:
            _credit(state[order.person_id], order, ladder=ladder, earn_rules=earn_rules,
                    workspace_id=workspace_id, now=now, out=out, grown=grown)  # fmt: skip
    _write(session, workspace_id, state, out, now)
    for pid, member in state.items():
        for change in member.upgrades:
            tier_evaluate._grant_upgrade_coupons(session, workspace_id, pid, ladder, change, now)
    return {pid: member.row["tier"] for pid, member in state.items()}


def _fresh_orders(
    session: Session, workspace_id: str, orders: Sequence[OrderCredit]
) -> list[OrderCredit]:
    """Orders whose key is free and valid, first of each key only, with a positive amount."""
    candidates = [
        o for o in orders if o.amount_fen > 0 and len(f"order:{o.order_id}") <= points.KEY_MAX
    ]
    used = _used_keys(
        session, workspace_id, sorted({f"order:{o.order_id}" for o in candidates}), points_entries
    )
    fresh: list[OrderCredit] = []
    for order in candidates:
        key = f"order:{order.order_id}"
        if key not in used:
            used.add(key)
            fresh.append(order)
    return fresh


def _write(
    session: Session, workspace_id: str, state: dict[str, _Member], out: _Writes, now: datetime
) -> None:
    if out.entries:
        stmt = insert(points_entries).returning(_ent.id, sort_by_parameter_order=True)
        ids = session.execute(stmt, out.entries).scalars().all()
        session.execute(
            insert(points_lots),
            [
                {"id": entry_id, "workspace_id": workspace_id, "person_id": e["person_id"],
                 "amount": e["amount"], "remaining": e["amount"], "earned_at": now,
                 "expires_at": e["expires_at"]}
                for entry_id, e in zip(ids, out.entries, strict=True)
            ],
        )  # fmt: skip
        credited = sorted({e["person_id"] for e in out.entries})
        session.execute(
            update(points_accounts)
            .where(_acc.workspace_id == workspace_id, _acc.person_id == bindparam("b_pid"))
            .values(balance=bindparam("b_balance"), updated_at=now),
            [{"b_pid": pid, "b_balance": state[pid].balance} for pid in credited],
        )
    if out.growth:
        session.execute(insert(member_growth), out.growth)
    if out.history:
        session.execute(insert(member_tier_history), out.history)
    changed = [m.row for m in state.values() if m.changed]
    if changed:
        session.execute(
            update(members)
            .where(_m.workspace_id == workspace_id, _m.person_id == bindparam("b_pid"))
            .values(
                tier=bindparam("b_tier"),
                tier_since=bindparam("b_tier_since"),
                growth=bindparam("b_growth"),
                downgrade_at=bindparam("b_downgrade_at"),
                evaluated_at=now,
            ),
            [
                {"b_pid": r["person_id"], "b_tier": r["tier"], "b_tier_since": r["tier_since"],
                 "b_growth": r["growth"], "b_downgrade_at": r["downgrade_at"]}
                for r in changed
            ],
        )  # fmt: skip
