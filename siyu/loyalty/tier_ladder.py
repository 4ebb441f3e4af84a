"""Tier ladders: a workspace's tiers (growth thresholds, benefits) and tier policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from siyu.core.errors import NotFoundError
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty.tier_models import TierDefinition, TierLadder
from siyu.loyalty.tier_tables import loyalty_tier_policies, loyalty_tiers
from siyu.loyalty.tiers import TierPolicy


def set_tiers(
    *, session: Session, workspace_id: str, ladder: TierLadder, now: datetime
) -> TierLadder:
    """Replace the workspace's tiers and policy; members move at their next evaluation.

    Raises:
        NotFoundError: an upgrade or birthday coupon template does not exist.
    """
    for tier in ladder.tiers:
        for template_id in [*tier.upgrade_coupon_template_ids, tier.birthday_coupon_template_id]:
            if template_id:
                coupons.get_template(
                    session=session, workspace_id=workspace_id, template_id=template_id
                )
    session.execute(delete(loyalty_tiers).where(loyalty_tiers.c.workspace_id == workspace_id))
    session.execute(
        insert(loyalty_tiers),
        [{"workspace_id": workspace_id, **t.model_dump()} for t in ladder.tiers],
    )
    p = loyalty_tier_policies.c
    session.execute(delete(loyalty_tier_policies).where(p.workspace_id == workspace_id))
    session.execute(
        insert(loyalty_tier_policies).values(
            workspace_id=workspace_id, updated_at=now, **ladder.policy.model_dump()
        )
    )
    return get_tiers(session=session, workspace_id=workspace_id)


def get_tiers(*, session: Session, workspace_id: str) -> TierLadder:
    """The workspace's ladder, lowest tier first.

    Raises:
        NotFoundError: no tiers are defined yet.
    """
    t = loyalty_tiers.c
    rows = session.execute(
        select(loyalty_tiers).where(t.workspace_id == workspace_id).order_by(t.min_growth, t.code)
    ).all()
    if not rows:
        raise NotFoundError(
            "no membership tiers are defined (PUT /api/loyalty/tiers)", field="tiers"
        )
    p = loyalty_tier_policies.c
    policy = session.execute(
        select(loyalty_tier_policies).where(p.workspace_id == workspace_id)
    ).first()
    return TierLadder(
        policy=TierPolicy.model_validate(dict(policy._mapping)) if policy else TierPolicy(),
        tiers=[TierDefinition.model_validate(dict(row._mapping)) for row in rows],
    )
