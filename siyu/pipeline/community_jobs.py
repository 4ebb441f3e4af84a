"""The community jobs: due SOP posts (and reading back their WeCom tasks), group live codes
kept pointing at a group with room, and dormant-group alerts. A workspace without a WeCom
account has nothing to do for the first two."""

from __future__ import annotations

from datetime import datetime

from siyu.channels import wechat_accounts
from siyu.channels.wechat_accounts import AccountKind
from siyu.core.errors import NotFoundError
from siyu.core.runtime import Runtime
from siyu.pipeline import community, community_health, community_sops
from siyu.pipeline.loyalty_jobs import Outcome


def _has_wecom(runtime: Runtime, workspace_id: str) -> bool:
    with runtime.sessions() as session:
        try:
            wechat_accounts.get_account(
                session=session, workspace_id=workspace_id, kind=AccountKind.WECOM
            )
        except NotFoundError:
            return False
    return True


def run_group_sops(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Create the WeCom group mass sends of due SOPs, then read back awaiting ones."""
    if not _has_wecom(runtime, workspace_id):
        return Outcome("no WeCom account", {"created": 0, "confirmed": 0})
    made = community_sops.run_due_sops(runtime=runtime, workspace_id=workspace_id, now=now)
    confirmed = community_sops.poll_sop_tasks(runtime=runtime, workspace_id=workspace_id, now=now)
    return Outcome(
        f"created {len(made)} SOP tasks, {len(confirmed)} confirmed",
        {"created": len(made), "confirmed": len(confirmed)},
    )


def check_group_live_codes(
    runtime: Runtime, workspace_id: str, zone: str, now: datetime
) -> Outcome:
    """Move each group live code to a group with room and point WeCom's join way there."""
    if not _has_wecom(runtime, workspace_id):
        return Outcome("no WeCom account", {"repointed": 0})
    moved = community.check_live_codes(runtime=runtime, workspace_id=workspace_id)
    return Outcome(f"re-pointed {len(moved)} group live codes", {"repointed": len(moved)})


def alert_dormant_groups(runtime: Runtime, workspace_id: str, zone: str, now: datetime) -> Outcome:
    """Open a task per dormant group for its owner (and message them when a WeCom app is
    set)."""
    found = community_health.alert_dormant(runtime=runtime, workspace_id=workspace_id, now=now)
    return Outcome(f"{len(found)} dormant groups", {"dormant": len(found)})
