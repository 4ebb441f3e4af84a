"""Management API for coupons: templates, issue, claim, bulk issue, redeem, void, expire."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from siyu.api.deps import (
    AdminWorkspaceDep,
    IdempotencyKeyDep,
    Require,
    RequiredIdempotencyKeyDep,
    RuntimeDep,
    in_transaction,
    retried,
)
from siyu.api.zones import in_zone
from siyu.core.clock import utcnow
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty.coupon_models import (
    BulkIssueResult,
    Coupon,
    CouponStatus,
    CouponTemplate,
    CouponTemplateCreate,
    ExpireResult,
    Redemption,
    RedemptionResult,
)

router = APIRouter(prefix="/api/coupons", tags=["coupons"])


class IssueRequest(BaseModel):
    """Who gets the coupon."""

    person_id: str = Field(min_length=1, max_length=40)


class SegmentIssueRequest(BaseModel):
    """Which segment's members get the coupon."""

    segment_id: str = Field(min_length=1, max_length=200)


class VoidRequest(BaseModel):
    """Why the coupon is voided."""

    reason: str | None = Field(default=None, max_length=2000)


@router.post(
    "/templates",
    status_code=201,
    summary="Create a coupon template",
    dependencies=[Require("coupons:write")],
)
async def create_template(
    body: CouponTemplateCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> CouponTemplate:
    """Amount off or percent off (with a cap), threshold, product scope, validity, limits."""
    created = await in_transaction(
        runtime, coupons.create_template, workspace_id=workspace.id, template=body, now=utcnow()
    )
    return in_zone(created, workspace.timezone)


@router.get("/templates", summary="Coupon templates", dependencies=[Require("coupons:read")])
async def list_templates(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[CouponTemplate]:
    """Oldest first, with how many of each were issued."""
    found = await in_transaction(runtime, coupons.list_templates, workspace_id=workspace.id)
    return in_zone(found, workspace.timezone)


@router.get(
    "/templates/{template_id}",
    summary="One coupon template",
    dependencies=[Require("coupons:read")],
)
async def get_template(
    template_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> CouponTemplate:
    """404 when absent."""
    found = await in_transaction(
        runtime, coupons.get_template, workspace_id=workspace.id, template_id=template_id
    )
    return in_zone(found, workspace.timezone)


@router.post(
    "/templates/{template_id}/issue",
    status_code=201,
    summary="Issue a coupon",
    dependencies=[Require("coupons:write")],
)
async def issue(
    template_id: str,
    body: IssueRequest,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Coupon:
    """409 when out of stock or the person's limit is reached."""
    issued = await retried(
        runtime,
        coupons.issue_coupon,
        workspace_id=workspace.id,
        template_id=template_id,
        person_id=body.person_id,
        now=utcnow(),
        idempotency_key=idempotency_key,
        source="issue",
    )
    return in_zone(issued, workspace.timezone)


@router.post(
    "/templates/{template_id}/claim",
    status_code=201,
    summary="A person claims a coupon",
    dependencies=[Require("coupons:write")],
)
async def claim(
    template_id: str,
    body: IssueRequest,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Coupon:
    """Like issue, recorded as claimed (领券)."""
    claimed = await retried(
        runtime,
        coupons.claim_coupon,
        workspace_id=workspace.id,
        template_id=template_id,
        person_id=body.person_id,
        now=utcnow(),
        idempotency_key=idempotency_key,
    )
    return in_zone(claimed, workspace.timezone)


@router.post(
    "/templates/{template_id}/issue-segment",
    summary="Issue to a segment's members",
    dependencies=[Require("coupons:write")],
)
async def issue_segment(
    template_id: str,
    body: SegmentIssueRequest,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: RequiredIdempotencyKeyDep,
) -> BulkIssueResult:
    """One coupon per member; a retry with the same key issues only to those missed."""
    return await retried(
        runtime,
        coupons.issue_to_segment,
        workspace_id=workspace.id,
        template_id=template_id,
        segment_id=body.segment_id,
        now=utcnow(),
        idempotency_key=idempotency_key,
    )


@router.get("", summary="Coupons of a person or a template", dependencies=[Require("coupons:read")])
async def list_coupons(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    person_id: str | None = None,
    template_id: str | None = None,
    status: CouponStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=coupons.MAX_LIST)] = 100,
) -> list[Coupon]:
    """Newest first; a person's list includes coupons of persons it absorbed."""
    found = await in_transaction(
        runtime,
        coupons.list_coupons,
        workspace_id=workspace.id,
        now=utcnow(),
        person_id=person_id,
        template_id=template_id,
        status=status,
        limit=limit,
    )
    return in_zone(found, workspace.timezone)


@router.post(
    "/expire",
    summary="Mark coupons past their window expired",
    dependencies=[Require("coupons:write")],
)
async def expire(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> ExpireResult:
    """The expiry job; safe to repeat."""
    return await in_transaction(
        runtime, coupons.expire_coupons, workspace_id=workspace.id, now=utcnow()
    )


@router.get("/{coupon_id}", summary="One coupon", dependencies=[Require("coupons:read")])
async def get_coupon(coupon_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Coupon:
    """An issued coupon past its window reads as expired."""
    found = await in_transaction(
        runtime, coupons.get_coupon, workspace_id=workspace.id, coupon_id=coupon_id, now=utcnow()
    )
    return in_zone(found, workspace.timezone)


@router.post(
    "/{coupon_id}/redeem",
    summary="Redeem a coupon against an order",
    dependencies=[Require("coupons:write")],
)
async def redeem(
    coupon_id: str, body: Redemption, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> RedemptionResult:
    """Idempotent per order: the same order again answers the same discount."""
    done = await in_transaction(
        runtime,
        coupons.redeem_coupon,
        workspace_id=workspace.id,
        coupon_id=coupon_id,
        redemption=body,
        now=utcnow(),
    )
    return in_zone(done, workspace.timezone)


@router.post(
    "/{coupon_id}/void", summary="Void an unused coupon", dependencies=[Require("coupons:write")]
)
async def void(
    coupon_id: str, body: VoidRequest, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Coupon:
    """Idempotent; 409 for a redeemed coupon."""
    done = await in_transaction(
        runtime,
        coupons.void_coupon,
        workspace_id=workspace.id,
        coupon_id=coupon_id,
        reason=body.reason,
        now=utcnow(),
    )
    return in_zone(done, workspace.timezone)
