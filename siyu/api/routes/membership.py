"""Management API for membership: the tier ladder, members, growth, paid terms, history and
the tier distribution board (secret key)."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.api.deps import (
    AdminWorkspaceDep,
    IdempotencyKeyDep,
    Require,
    RuntimeDep,
    in_transaction,
    retried,
)
from siyu.api.zones import in_zone
from siyu.core.clock import utcnow
from siyu.loyalty import membership
from siyu.loyalty.tier_models import (
    GrowthCreate,
    Member,
    MemberEnrol,
    PaidMembership,
    PaidMembershipCreate,
    RefreshResult,
    TierDistribution,
    TierHistoryEntry,
    TierLadder,
)

tiers_router = APIRouter(prefix="/api/loyalty/tiers", tags=["membership"])
members_router = APIRouter(prefix="/api/loyalty/members", tags=["membership"])


@tiers_router.put("", summary="Define the tier ladder", dependencies=[Require("loyalty:write")])
async def put_tiers(
    body: TierLadder, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> TierLadder:
    """Replaces every tier and the policy; members move at their next evaluation."""
    return await in_transaction(
        runtime, membership.set_tiers, workspace_id=workspace.id, ladder=body, now=utcnow()
    )


@tiers_router.get("", summary="The tier ladder", dependencies=[Require("loyalty:read")])
async def get_tiers(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> TierLadder:
    """Lowest tier first; 404 before any is defined."""
    return await in_transaction(runtime, membership.get_tiers, workspace_id=workspace.id)


@tiers_router.get(
    "/distribution", summary="Members per tier (board)", dependencies=[Require("loyalty:read")]
)
async def distribution(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> TierDistribution:
    """Counts and shares per tier, members in grace, active paid members."""
    return await in_transaction(
        runtime, membership.distribution, workspace_id=workspace.id, now=utcnow()
    )


@tiers_router.post(
    "/refresh",
    summary="Re-evaluate every member (period-end job)",
    dependencies=[Require("loyalty:write")],
)
async def refresh(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> RefreshResult:
    """Downgrades due by now apply; safe to repeat."""
    return await in_transaction(
        runtime, membership.refresh_members, workspace_id=workspace.id, now=utcnow()
    )


@members_router.post(
    "", status_code=201, summary="Enrol a member", dependencies=[Require("loyalty:write")]
)
async def enrol(body: MemberEnrol, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Member:
    """By person id or by member number (member_id) already seen by identify; idempotent."""
    member = await retried(
        runtime, membership.enrol_member, workspace_id=workspace.id, enrol=body, now=utcnow()
    )
    return in_zone(member, workspace.timezone)


@members_router.get(
    "/{person_id}", summary="One member, tier and benefits", dependencies=[Require("loyalty:read")]
)
async def get_member(person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Member:
    """404 when the person is not a member."""
    member = await in_transaction(
        runtime, membership.get_member, workspace_id=workspace.id, person_id=person_id, now=utcnow()
    )
    return in_zone(member, workspace.timezone)


@members_router.get(
    "/{person_id}/history",
    summary="A member's tier history",
    dependencies=[Require("loyalty:read")],
)
async def history(
    person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[TierHistoryEntry]:
    """Oldest first: enrol, upgrades, downgrades."""
    found = await in_transaction(
        runtime, membership.tier_history, workspace_id=workspace.id, person_id=person_id
    )
    return in_zone(found, workspace.timezone)


@members_router.post(
    "/{person_id}/growth",
    summary="Add growth value (成长值)",
    dependencies=[Require("loyalty:write")],
)
async def add_growth(
    person_id: str,
    body: GrowthCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Member:
    """An upgrade applies at once; a retry with the same key adds nothing."""
    member = await retried(
        runtime,
        membership.add_growth,
        workspace_id=workspace.id,
        person_id=person_id,
        growth=body,
        now=utcnow(),
        idempotency_key=idempotency_key,
    )
    return in_zone(member, workspace.timezone)


@members_router.post(
    "/{person_id}/paid",
    status_code=201,
    summary="Buy or renew a paid tier",
    dependencies=[Require("loyalty:write")],
)
async def buy(
    person_id: str,
    body: PaidMembershipCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> PaidMembership:
    """A renewal starts when the current term ends; a retry with the same key answers the first."""
    term = await retried(
        runtime,
        membership.buy_membership,
        workspace_id=workspace.id,
        person_id=person_id,
        purchase=body,
        now=utcnow(),
        idempotency_key=idempotency_key,
    )
    return in_zone(term, workspace.timezone)
