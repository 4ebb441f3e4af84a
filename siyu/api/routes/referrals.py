"""Referral (裂变): invite codes, referrals, the tree, rewards, K-factor and leaderboard."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from siyu import pipeline
from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep
from siyu.api.routes.live_codes import run
from siyu.core.clock import utcnow
from siyu.referral import codes
from siyu.referral import service as referral
from siyu.referral.models import (
    InviteCode,
    Milestone,
    ReferralCreate,
    ReferralResult,
    ReferralSettings,
    ReferralSummary,
    Refusal,
    RewardAction,
    RewardPayout,
    TreeNode,
)

router = APIRouter(prefix="/api/referrals", tags=["referrals"])


class MilestoneReached(BaseModel):
    """An invitee reached a milestone (e.g. their first order was paid)."""

    milestone: Milestone
    first_order_fen: int | None = Field(default=None, ge=0, description="The first order's amount.")


@router.get("/settings", summary="Referral rules", dependencies=[Require("referrals:read")])
async def get_settings(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> ReferralSettings:
    """Milestone rewards and anti-fraud limits."""
    return await run(runtime, referral.get_settings, workspace_id=workspace.id)


@router.put(
    "/settings", summary="Replace the referral rules", dependencies=[Require("referrals:write")]
)
async def set_settings(
    body: ReferralSettings, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> ReferralSettings:
    """Idempotent: the same body sets the same rules."""
    return await run(
        runtime, referral.set_settings, workspace_id=workspace.id, settings=body, now=utcnow()
    )


@router.get(
    "/codes/{person_id}",
    summary="A person's invite code and link",
    dependencies=[Require("referrals:read")],
)
async def invite_code(
    person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> InviteCode:
    """Made on first request; the same afterwards."""
    return await run(
        runtime, referral.invite_code, workspace_id=workspace.id, person_id=person_id, now=utcnow()
    )


@router.get(
    "/codes/{person_id}/qr.svg",
    summary="A person's invite link as an SVG QR image",
    dependencies=[Require("referrals:read")],
)
async def invite_qr(person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Response:
    """An SVG of the invite link."""
    code = await run(
        runtime, referral.invite_code, workspace_id=workspace.id, person_id=person_id, now=utcnow()
    )
    return Response(codes.qr_svg(code.link), media_type="image/svg+xml")


@router.post(
    "",
    status_code=201,
    summary="An invitee arrives through an invite code",
    dependencies=[Require("referrals:write")],
)
async def refer(
    body: ReferralCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> ReferralResult:
    """409 with ``reason`` when refused (self-referral, same device/phone, too many per hour,
    already referred); retrying the same request answers the stored referral."""
    return await run_in_threadpool(
        pipeline.refer_person,
        runtime=runtime,
        workspace_id=workspace.id,
        request=body,
        now=utcnow(),
    )


@router.post(
    "/{invitee_id}/milestones",
    summary="An invitee reached a milestone",
    dependencies=[Require("referrals:write")],
)
async def milestone(
    invitee_id: str, body: MilestoneReached, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[RewardAction]:
    """Rewards earned, stored once per idempotency key whatever the retries."""
    return await run(
        runtime,
        referral.record_milestone,
        workspace_id=workspace.id,
        invitee_id=invitee_id,
        milestone=body.milestone,
        first_order_fen=body.first_order_fen,
        now=utcnow(),
    )


@router.get(
    "/rewards/pending",
    summary="Rewards not yet paid through loyalty",
    dependencies=[Require("referrals:read")],
)
async def pending(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[RewardAction]:
    """Settles first orders from profiles first."""
    return await run_in_threadpool(
        pipeline.pending_referral_rewards, runtime=runtime, workspace_id=workspace.id, now=utcnow()
    )


@router.post(
    "/rewards/pay",
    summary="Pay pending rewards through loyalty",
    dependencies=[Require("referrals:write")],
)
async def pay(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> RewardPayout:
    """Points through the ledger, coupons through issue; each keyed, so a retry pays nothing
    twice. Rewards loyalty refuses stay pending and are listed with the reason."""
    return await run_in_threadpool(
        pipeline.pay_referral_rewards, runtime=runtime, workspace_id=workspace.id, now=utcnow()
    )


@router.get(
    "/refusals",
    summary="Referrals refused by anti-fraud rules",
    dependencies=[Require("referrals:read")],
)
async def refusals(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Refusal]:
    """Newest first, each with its reason."""
    return await run(runtime, referral.refusals, workspace_id=workspace.id, limit=limit)


@router.get(
    "/leaderboard",
    summary="K-factor and the top inviters",
    dependencies=[Require("referrals:read")],
)
async def leaderboard(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> ReferralSummary:
    """Inviters ranked by invitees who ordered, then invitees, then GMV."""
    return await run(runtime, referral.summary, workspace_id=workspace.id, limit=limit)


@router.get(
    "/tree/{person_id}",
    summary="Everyone a person brought, level by level",
    dependencies=[Require("referrals:read")],
)
async def subtree(
    person_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    depth: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[TreeNode]:
    """The person (depth 0) and their invitees down to ``depth`` levels."""
    return await run(
        runtime, referral.subtree, workspace_id=workspace.id, person_id=person_id, max_depth=depth
    )


@router.get(
    "/ancestors/{person_id}",
    summary="Who brought a person, up to the root",
    dependencies=[Require("referrals:read")],
)
async def ancestors(
    person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[TreeNode]:
    """Nearest inviter first."""
    return await run(runtime, referral.ancestors, workspace_id=workspace.id, person_id=person_id)
