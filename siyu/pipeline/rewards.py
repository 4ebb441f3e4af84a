"""A reward paid through loyalty (points or a coupon), keyed so a retry pays nothing twice.

Referral milestones and activity prizes both end here; each caller then marks its own
reward paid in the same transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from siyu.loyalty import coupon_service, points


def grant_reward(
    *,
    session: Session,
    workspace_id: str,
    person_id: str,
    points_amount: int | None,
    coupon_template: str | None,
    idempotency_key: str,
    reason: str,
    source: str,
    now: datetime,
) -> None:
    """Earn ``points_amount`` points (source ``source``) or issue ``coupon_template``
    (source ``reason``): exactly one of the two is given."""
    if points_amount is not None:
        points.earn_points(session=session, workspace_id=workspace_id, person_id=person_id,
                           points=points_amount, reason=reason, idempotency_key=idempotency_key,
                           now=now, source=source)  # fmt: skip
        return
    assert coupon_template is not None
    coupon_service.issue_coupon(session=session, workspace_id=workspace_id,
                                template_id=coupon_template, person_id=person_id, now=now,
                                idempotency_key=idempotency_key, source=reason)  # fmt: skip
