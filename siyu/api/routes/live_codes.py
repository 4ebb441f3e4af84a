"""Channel live codes (渠道活码), staff, stores and customer credit (secret key as Bearer)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from siyu import pipeline
from siyu.api.deps import AdminWorkspaceDep, IdempotencyKeyDep, Require, RuntimeDep
from siyu.core.clock import ensure_utc, utcnow
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.referral import codes, livecodes
from siyu.referral.models import (
    CreditRow,
    LiveCode,
    LiveCodeCreate,
    LiveCodeStats,
    Owner,
    OwnerSet,
    ScanCreate,
    ScanResult,
    Staff,
    StaffCreate,
    Store,
    StoreCreate,
)

router = APIRouter(prefix="/api/live-codes", tags=["live codes"])
T = TypeVar("T")


def _in_tx(runtime: Runtime, call: Callable[..., T], /, **kwargs: Any) -> T:
    with runtime.sessions() as session, session.begin():
        return call(session=session, **kwargs)


async def run(runtime: Runtime, call: Callable[..., T], **kwargs: Any) -> T:
    """One service call in its own transaction, off the event loop."""
    return await run_in_threadpool(_in_tx, runtime, call, **kwargs)


@router.post(
    "/stores", status_code=201, summary="Add a store", dependencies=[Require("live_codes:write")]
)
async def create_store(
    body: StoreCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Store:
    """A store (门店) customers and staff can belong to."""
    return await run(
        runtime, livecodes.create_store, workspace_id=workspace.id, store=body, now=utcnow()
    )


@router.get("/stores", summary="Stores", dependencies=[Require("live_codes:read")])
async def list_stores(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Store]:
    """Every store, by name."""
    return await run(runtime, livecodes.list_stores, workspace_id=workspace.id)


@router.post(
    "/staff",
    status_code=201,
    summary="Add a staff member",
    dependencies=[Require("live_codes:write")],
)
async def create_staff(
    body: StaffCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Staff:
    """A staff member (导购) with shifts and a daily add cap."""
    return await run(
        runtime, livecodes.create_staff, workspace_id=workspace.id, staff=body, now=utcnow()
    )


@router.get("/staff", summary="Staff", dependencies=[Require("live_codes:read")])
async def list_staff(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Staff]:
    """Every staff member, by name."""
    return await run(runtime, livecodes.list_staff, workspace_id=workspace.id)


@router.post(
    "/staff/{staff_id}/duty",
    summary="Put a staff member on or off duty",
    dependencies=[Require("live_codes:write")],
)
async def set_duty(
    staff_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    active: Annotated[bool, Query(description="true: on duty; false: off duty.")],
) -> Staff:
    """Off-duty staff are skipped by rotation; backups take their contacts."""
    return await run(
        runtime,
        livecodes.set_staff_active,
        workspace_id=workspace.id,
        staff_id=staff_id,
        active=active,
    )


@router.get(
    "/credit",
    summary="Customers, GMV and repurchase per staff member or store",
    dependencies=[Require("live_codes:read")],
)
async def credit(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    by: Annotated[Literal["staff", "store"], Query(description="staff or store")] = "staff",
) -> list[CreditRow]:
    """Orders from every channel are credited to the customer's owner (导购归属)."""
    return await run(runtime, livecodes.credit, workspace_id=workspace.id, by=by)


@router.get(
    "/owners/{person_id}",
    summary="A customer's owning staff and store",
    dependencies=[Require("live_codes:read")],
)
async def get_owner(person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Owner:
    """404 when the customer has no owner yet."""
    owner = await run(runtime, livecodes.get_owner, workspace_id=workspace.id, person_id=person_id)
    if owner is None:
        raise NotFoundError(f"person {person_id} has no owner", field="person_id")
    return owner


@router.put(
    "/owners/{person_id}",
    summary="Set a customer's owner (WeCom contact or by hand)",
    dependencies=[Require("live_codes:write")],
)
async def set_owner(
    person_id: str, body: OwnerSet, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Owner:
    """409 when another staff member owns the customer and ``replace`` is false."""
    return await run(
        runtime,
        livecodes.set_owner,
        workspace_id=workspace.id,
        person_id=person_id,
        staff_id=body.staff_id,
        source=body.source,
        replace=body.replace,
        now=utcnow(),
    )


class EventRange(BaseModel):
    """A time range of events to attribute."""

    start: datetime
    end: datetime


@router.post(
    "/attribute-events",
    summary="Credit scans that arrived as track events",
    dependencies=[Require("live_codes:write")],
)
async def attribute_events(
    body: EventRange, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[ScanResult]:
    """``Live Code Scanned`` / ``Live Code Contact Added`` events whose scene is in
    ``context.campaign.content`` (or ``properties.scene``); keyed by message id."""
    if body.end <= body.start:
        raise InvalidInputError("end must be after start", field="end")
    return await run_in_threadpool(
        pipeline.attribute_live_code_events,
        runtime=runtime,
        workspace_id=workspace.id,
        start=ensure_utc(body.start),
        end=ensure_utc(body.end),
    )


@router.post(
    "",
    status_code=201,
    summary="Create a channel live code",
    dependencies=[Require("live_codes:write")],
)
async def create_live_code(
    body: LiveCodeCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> LiveCode:
    """A named code for one acquisition channel, rotating among staff."""
    return await run(
        runtime,
        livecodes.create_live_code,
        workspace_id=workspace.id,
        code=body,
        now=utcnow(),
        idempotency_key=idempotency_key,
    )


@router.get("", summary="Live codes", dependencies=[Require("live_codes:read")])
async def list_live_codes(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[LiveCode]:
    """Every live code, newest first."""
    return await run(runtime, livecodes.list_live_codes, workspace_id=workspace.id)


@router.get("/{code_id}", summary="One live code", dependencies=[Require("live_codes:read")])
async def get_live_code(
    code_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> LiveCode:
    """404 when there is no such code."""
    return await run(runtime, livecodes.get_live_code, workspace_id=workspace.id, code_id=code_id)


@router.get(
    "/{code_id}/qr.png",
    summary="The code as a PNG QR image",
    response_class=Response,
    dependencies=[Require("live_codes:read")],
)
async def qr_png(
    code_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    scale: Annotated[int, Query(ge=1, le=40)] = 8,
) -> Response:
    """A PNG carrying the code's URL and scene parameter."""
    code = await run(runtime, livecodes.get_live_code, workspace_id=workspace.id, code_id=code_id)
    return Response(codes.qr_png(code.url, scale), media_type="image/png")


@router.get(
    "/{code_id}/qr.svg",
    summary="The code as an SVG QR image",
    response_class=Response,
    dependencies=[Require("live_codes:read")],
)
async def qr_svg(
    code_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    scale: Annotated[int, Query(ge=1, le=40)] = 8,
) -> Response:
    """An SVG carrying the code's URL and scene parameter."""
    code = await run(runtime, livecodes.get_live_code, workspace_id=workspace.id, code_id=code_id)
    return Response(codes.qr_svg(code.url, scale), media_type="image/svg+xml")


@router.post(
    "/{code_id}/scans",
    status_code=201,
    summary="A scan or contact add through a code",
    dependencies=[Require("live_codes:write")],
)
async def record_scan(
    code_id: str,
    body: ScanCreate,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> ScanResult:
    """Sets the person's first-touch channel and, for a new customer, their owning staff."""
    return await run_in_threadpool(
        pipeline.record_live_code_scan,
        runtime=runtime,
        workspace_id=workspace.id,
        code_id=code_id,
        scan=body,
        now=utcnow(),
        idempotency_key=idempotency_key,
    )


@router.get(
    "/{code_id}/stats",
    summary="Scans, adds, first orders and GMV of a code",
    dependencies=[Require("live_codes:read")],
)
async def stats(code_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> LiveCodeStats:
    """Orders and GMV of the customers this code brought, from every channel."""
    return await run(runtime, livecodes.live_code_stats, workspace_id=workspace.id, code_id=code_id)
