"""Tier evaluation: replay a member's tier from growth and paid terms, store it with its new
history, and issue the upgrade coupons of a tier reached (once per member and tier).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError, NotFoundError
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty import tiers as rules
from siyu.loyalty.tier_ladder import get_tiers
from siyu.loyalty.tier_models import PaidMembership, RefreshResult, TierLadder
from siyu.loyalty.tier_tables import member_growth, member_tier_history, members, paid_memberships
from siyu.loyalty.tiers import TierChangeKind


def _paid_terms(session: Session, workspace_id: str, person_id: str) -> list[PaidMembership]:
    p = paid_memberships.c
    rows = session.execute(
        select(paid_memberships)
        .where(p.workspace_id == workspace_id, p.person_id == person_id)
        .order_by(p.starts_at)
    )
    return [PaidMembership.model_validate(dict(r._mapping)) for r in rows]


def _evaluate(
    session: Session, workspace_id: str, person_id: str, ladder: TierLadder, now: datetime
) -> str:
    """Replay the member's tier, store it, append new history and grant upgrade coupons."""
    m = members.c
    row = session.execute(
        select(members)
        .where(m.workspace_id == workspace_id, m.person_id == person_id)
        .with_for_update()
    ).one()
    g = member_growth.c
    entries = [
        rules.GrowthPoint(r.at, r.amount)
        for r in session.execute(
            select(g.at, g.amount).where(g.workspace_id == workspace_id, g.person_id == person_id)
        )
    ]
    paid = [
        rules.PaidTerm(p.tier, p.starts_at, p.ends_at)
        for p in _paid_terms(session, workspace_id, person_id)
    ]
    state = rules.replay(
        tiers=[rules.TierRank(code=t.code, min_growth=t.min_growth) for t in ladder.tiers],
        policy=ladder.policy,
        entries=entries,
        enrolled_at=row.enrolled_at,
        now=now,
        paid=paid,
    )
    h = member_tier_history.c
    stored = {
        (r.at, r.to_tier, r.change)
        for r in session.execute(
            select(h.at, h.to_tier, h.change).where(
                h.workspace_id == workspace_id, h.person_id == person_id
            )
        )
    }
    last = max((at for at, _, _ in stored), default=None)
    new = [
        c
        for c in state.changes
        if (last is None or c.at >= last) and (c.at, c.to_tier, c.kind.value) not in stored
    ]
    if new:
        session.execute(
            insert(member_tier_history),
            [
                {
                    "workspace_id": workspace_id,
                    "person_id": person_id,
                    "from_tier": c.from_tier,
                    "to_tier": c.to_tier,
                    "change": c.kind.value,
                    "growth": c.growth,
                    "at": c.at,
                }
                for c in new
            ],
        )
    session.execute(
        update(members)
        .where(m.workspace_id == workspace_id, m.person_id == person_id)
        .values(
            tier=state.tier,
            tier_since=state.since,
            growth=state.growth,
            downgrade_at=state.downgrade_at,
            evaluated_at=now,
        )
    )
    for change in new:
        if change.kind in (TierChangeKind.UPGRADE, TierChangeKind.ENROL):
            _grant_upgrade_coupons(session, workspace_id, person_id, ladder, change, now)
    return (
        "up"
        if any(c.kind is TierChangeKind.UPGRADE for c in new)
        else ("down" if any(c.kind is TierChangeKind.DOWNGRADE for c in new) else "same")
    )


def evaluate(
    *, session: Session, workspace_id: str, person_id: str, ladder: TierLadder, now: datetime
) -> str:
    """Replay one member's tier now (history, upgrade coupons): ``up``, ``down`` or ``same``."""
    return _evaluate(session, workspace_id, person_id, ladder, now)


def _grant_upgrade_coupons(
    session: Session,
    workspace_id: str,
    person_id: str,
    ladder: TierLadder,
    change: rules.TierChange,
    now: datetime,
) -> None:
    tier = next((t for t in ladder.tiers if t.code == change.to_tier), None)
    if tier is None or (change.kind is TierChangeKind.ENROL and tier.min_growth == 0):
        return
    for template_id in tier.upgrade_coupon_template_ids:
        try:
            coupons.issue_coupon(
                session=session,
                workspace_id=workspace_id,
                template_id=template_id,
                person_id=person_id,
                now=now,
                idempotency_key=f"tier:{person_id}:{tier.code}:{template_id}",
                source="upgrade",
            )
        except (ConflictError, NotFoundError):
            continue  # out of stock, over the limit or deleted: the tier still applies


def refresh_members(*, session: Session, workspace_id: str, now: datetime) -> RefreshResult:
    """Re-evaluate every member (the period-end job): downgrades due by ``now`` apply."""
    ladder = get_tiers(session=session, workspace_id=workspace_id)
    m = members.c
    ids = list(session.execute(select(m.person_id).where(m.workspace_id == workspace_id)).scalars())
    moved = [_evaluate(session, workspace_id, pid, ladder, now) for pid in ids]
    return RefreshResult(
        evaluated=len(ids), upgraded=moved.count("up"), downgraded=moved.count("down")
    )
