"""The activities jobs: close teams past their deadline, pay pending activity rewards."""

from __future__ import annotations

from datetime import datetime

from siyu.core.runtime import Runtime
from siyu.pipeline import activities
from siyu.pipeline.loyalty_jobs import Outcome


def expire_activity_teams(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Expire group-buy teams and assist runs past their deadline (stock and budget go back)."""
    expired = activities.expire_teams(runtime=runtime, workspace_id=workspace_id, now=now)
    return Outcome(f"expired {len(expired)} teams", {"expired": len(expired)})


def pay_activity_rewards(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Pay pending activity rewards through loyalty (each keyed, so never twice)."""
    payout = activities.pay_activity_rewards(runtime=runtime, workspace_id=workspace_id, now=now)
    paid, failed = len(payout.paid), len(payout.failed)
    return Outcome(f"paid {paid} rewards, {failed} refused", {"paid": paid, "failed": failed})
