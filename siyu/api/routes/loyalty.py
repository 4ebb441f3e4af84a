"""Management API for points: balances, entries, earn/spend/adjust, orders and refunds, check-in,
rewards, rules, expiry and the ledger audit (secret key as Bearer).

Every write takes an ``Idempotency-Key`` header; a retry with the same key answers with the
original entry (``replayed: true``) and never earns twice.
"""

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
)
from siyu.api.limits import INT64_MAX
from siyu.core.clock import utcnow
from siyu.loyalty import mall, points, points_audit
from siyu.loyalty.points_models import (
    CheckInResult,
    EarnRules,
    EntriesPage,
    ExpiringPoints,
    ExpiryReport,
    MallItem,
    MallItemCreate,
    MallRedemption,
    PointsAccount,
    PointsResult,
    VerifyReport,
)

router = APIRouter(prefix="/api/loyalty", tags=["loyalty"])


class PointsChange(BaseModel):
    """Points to earn or spend, and why."""

    points: int = Field(gt=0, le=100_000_000, description="A positive whole number of points.")
    reason: str = Field(min_length=1, max_length=40, description="e.g. task, share, mall.")
    source: str | None = Field(default=None, max_length=255, description="What caused it.")


class Adjustment(BaseModel):
    """A manual adjustment (negative takes points away, never below zero)."""

    points: int = Field(
        ge=-100_000_000,
        le=100_000_000,
        description="Signed points; not 0 (at most 10^8 either way).",
    )
    source: str | None = Field(default=None, max_length=255, description="Operator or ticket.")


class OrderPaid(BaseModel):
    """A paid order that earns points."""

    order_id: str = Field(min_length=1, max_length=200)
    amount_fen: int = Field(ge=0, le=INT64_MAX, description="Amount paid, in fen (分).")
    multiplier_pct: int = Field(default=100, ge=0, le=10_000, description="Tier multiplier, %.")


class OrderRefunded(BaseModel):
    """A refund that takes an order's points back (in proportion when partial)."""

    order_id: str = Field(min_length=1, max_length=200)
    refund_id: str = Field(min_length=1, max_length=200)
    refund_fen: int | None = Field(default=None, ge=0, description="Omit for a full refund.")
    order_fen: int | None = Field(default=None, gt=0, description="The order's amount paid.")


class RewardRequest(BaseModel):
    """A rule-priced reward (task, share, referral, birthday)."""

    reason: str = Field(min_length=1, max_length=40)
    source: str | None = Field(default=None, max_length=255)


_MEMBER = "/members/{person_id}"


@router.get(
    _MEMBER + "/points",
    summary="A member's balance and open lots",
    dependencies=[Require("loyalty:read")],
)
async def get_account(person_id: str, runtime: RuntimeDep, ws: AdminWorkspaceDep) -> PointsAccount:
    """Unknown person → 404."""
    return await in_transaction(
        runtime, points.get_account, workspace_id=ws.id, person_id=person_id
    )


@router.get(
    _MEMBER + "/points/entries",
    summary="A member's ledger entries, newest first",
    dependencies=[Require("loyalty:read")],
)
async def list_entries(
    person_id: str,
    runtime: RuntimeDep,
    ws: AdminWorkspaceDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(description="From next_before_id.")] = None,
) -> EntriesPage:
    """Entries are immutable; the balance after each one is kept on it."""
    return await in_transaction(
        runtime,
        points.list_entries,
        workspace_id=ws.id,
        person_id=person_id,
        limit=limit,
        before_id=before_id,
    )


@router.post(
    _MEMBER + "/points/earn", summary="Award points", dependencies=[Require("loyalty:write")]
)
async def earn(
    person_id: str,
    body: PointsChange,
    key: RequiredIdempotencyKeyDep,
    runtime: RuntimeDep,
    ws: AdminWorkspaceDep,
) -> PointsResult:
    """Capped by the day's cap for ``reason``; ``entry`` is null once the cap is reached."""
    return await in_transaction(
        runtime,
        points.earn_points,
        workspace_id=ws.id,
        person_id=person_id,
        points=body.points,
        reason=body.reason,
        source=body.source,
        idempotency_key=key,
        now=utcnow(),
    )


@router.post(
    _MEMBER + "/points/spend",
    summary="Spend points (oldest lots first)",
    dependencies=[Require("loyalty:write")],
)
async def spend(
    person_id: str,
    body: PointsChange,
    key: RequiredIdempotencyKeyDep,
    runtime: RuntimeDep,
    ws: AdminWorkspaceDep,
) -> PointsResult:
    """Not enough points → 409 with ``field: points``, ``asked`` and ``available``."""
    return await in_transaction(
        runtime,
        points.spend_points,
        workspace_id=ws.id,
        person_id=person_id,
        points=body.points,
        reason=body.reason,
        source=body.source,
        idempotency_key=key,
        now=utcnow(),
    )


@router.post(
    _MEMBER + "/points/adjust",
    summary="Adjust points by hand",
    dependencies=[Require("loyalty:write")],
)
async def adjust(
    person_id: str,
    body: Adjustment,
    key: RequiredIdempotencyKeyDep,
    runtime: RuntimeDep,
    ws: AdminWorkspaceDep,
) -> PointsResult:
    """Recorded as an ``adjust`` entry with the operator's note as source."""
    return await in_transaction(
        runtime,
        points.adjust_points,
        workspace_id=ws.id,
        person_id=person_id,
        points=body.points,
        source=body.source,
        idempotency_key=key,
        now=utcnow(),
    )


@router.post(
    _MEMBER + "/points/orders",
    summary="Points for a paid order",
    dependencies=[Require("loyalty:write")],
)
async def order_paid(
    person_id: str,
    body: OrderPaid,
    runtime: RuntimeDep,
    ws: AdminWorkspaceDep,
    _key: IdempotencyKeyDep = None,
) -> PointsResult:
    """Keyed by the order id: the same order never earns twice."""
    return await in_transaction(
        runtime,
        points.earn_for_order,
        workspace_id=ws.id,
        person_id=person_id,
        order_id=body.order_id,
        amount_fen=body.amount_fen,
        multiplier_pct=body.multiplier_pct,
        now=utcnow(),
    )


@router.post(
    _MEMBER + "/points/refunds",
    summary="Take back an order's points on refund",
    dependencies=[Require("loyalty:write")],
)
async def order_refunded(
    person_id: str,
    body: OrderRefunded,
    runtime: RuntimeDep,
    ws: AdminWorkspaceDep,
    _key: IdempotencyKeyDep = None,
) -> PointsResult:
    """Keyed by order and refund id; never takes the balance below zero."""
    return await in_transaction(
        runtime,
        points.reverse_order,
        workspace_id=ws.id,
        person_id=person_id,
        order_id=body.order_id,
        refund_id=body.refund_id,
        refund_fen=body.refund_fen,
        order_fen=body.order_fen,
        now=utcnow(),
    )


@router.post(
    _MEMBER + "/check-in", summary="Daily check-in (签到)", dependencies=[Require("loyalty:write")]
)
async def check_in(
    person_id: str, runtime: RuntimeDep, ws: AdminWorkspaceDep, _key: IdempotencyKeyDep = None
) -> CheckInResult:
    """Once per local day; the streak bonus is paid on its day."""
    return await in_transaction(
        runtime, points.check_in, workspace_id=ws.id, person_id=person_id, now=utcnow()
    )


@router.post(
    _MEMBER + "/points/rewards",
    summary="A rule-priced reward",
    dependencies=[Require("loyalty:write")],
)
async def reward(
    person_id: str,
    body: RewardRequest,
    key: RequiredIdempotencyKeyDep,
    runtime: RuntimeDep,
    ws: AdminWorkspaceDep,
) -> PointsResult:
    """Priced by the workspace's rules; an unknown reason → 400."""
    return await in_transaction(
        runtime,
        points.reward,
        workspace_id=ws.id,
        person_id=person_id,
        reason=body.reason,
        source=body.source,
        idempotency_key=key,
        now=utcnow(),
    )


@router.get(
    "/points/rules", summary="The workspace's earn rules", dependencies=[Require("loyalty:read")]
)
async def get_rules(runtime: RuntimeDep, ws: AdminWorkspaceDep) -> EarnRules:
    """Defaults until set."""
    return await in_transaction(runtime, points.get_rules, workspace_id=ws.id)


@router.put(
    "/points/rules",
    summary="Replace the workspace's earn rules",
    dependencies=[Require("loyalty:write")],
)
async def set_rules(rules: EarnRules, runtime: RuntimeDep, ws: AdminWorkspaceDep) -> EarnRules:
    """Applies to points earned from now on."""
    return await in_transaction(
        runtime, points.set_rules, workspace_id=ws.id, rules=rules, now=utcnow()
    )


@router.post(
    "/points/expire", summary="Expire due lots now", dependencies=[Require("loyalty:write")]
)
async def expire(runtime: RuntimeDep, ws: AdminWorkspaceDep) -> ExpiryReport:
    """One batch; call again until ``lots`` is 0 (``siyu loyalty expire`` loops for you)."""
    return await in_transaction(runtime, points_audit.expire_due, workspace_id=ws.id, now=utcnow())


@router.get(
    "/points/expiring",
    summary="Members whose points expire soon",
    dependencies=[Require("loyalty:read")],
)
async def expiring(
    runtime: RuntimeDep,
    ws: AdminWorkspaceDep,
    days: Annotated[int, Query(ge=1, le=366, description="Window from now, in days.")] = 30,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[ExpiringPoints]:
    """Soonest first: what an expiry reminder (or a journey) sends."""
    return await in_transaction(
        runtime,
        points_audit.expiring_soon,
        workspace_id=ws.id,
        now=utcnow(),
        within_days=days,
        limit=limit,
    )


@router.get(
    "/points/verify",
    summary="Re-derive every balance from the entries",
    dependencies=[Require("loyalty:read")],
)
async def verify(runtime: RuntimeDep, ws: AdminWorkspaceDep) -> VerifyReport:
    """``mismatches`` must be empty."""
    return await in_transaction(runtime, points_audit.verify, workspace_id=ws.id)


class RedeemRequest(BaseModel):
    """Who redeems the item."""

    person_id: str = Field(min_length=1, max_length=40)


@router.post(
    "/mall/items",
    status_code=201,
    summary="Put an item in the points mall",
    dependencies=[Require("loyalty:write")],
)
async def create_item(item: MallItemCreate, runtime: RuntimeDep, ws: AdminWorkspaceDep) -> MallItem:
    """Goods, or a coupon template issued on redemption."""
    return await in_transaction(
        runtime, mall.create_item, workspace_id=ws.id, item=item, now=utcnow()
    )


@router.get(
    "/mall/items", summary="The points mall's items", dependencies=[Require("loyalty:read")]
)
async def list_items(runtime: RuntimeDep, ws: AdminWorkspaceDep) -> list[MallItem]:
    """Oldest first; ``stock`` is what is left."""
    return await in_transaction(runtime, mall.list_items, workspace_id=ws.id)


@router.post(
    "/mall/items/{item_id}/redeem",
    summary="Redeem an item for points",
    dependencies=[Require("loyalty:write")],
)
async def redeem(
    item_id: str,
    body: RedeemRequest,
    key: RequiredIdempotencyKeyDep,
    runtime: RuntimeDep,
    ws: AdminWorkspaceDep,
) -> MallRedemption:
    """409 with ``field: points`` when short of points, or ``reason`` out_of_stock / limit."""
    return await in_transaction(
        runtime,
        mall.redeem,
        workspace_id=ws.id,
        item_id=item_id,
        person_id=body.person_id,
        idempotency_key=key,
        now=utcnow(),
    )
