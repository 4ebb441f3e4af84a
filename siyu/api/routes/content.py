"""The material library (素材库): items, variants, tracked links and posters, performance,
quick replies (secret key as Bearer); and the public tracked-link redirect ``/c/{code}``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.accounts.models import Principal
from siyu.api.deps import (
    AdminWorkspaceDep,
    IdempotencyKeyDep,
    PrincipalDep,
    Require,
    RuntimeDep,
    in_transaction,
    retried,
)
from siyu.content import links
from siyu.content import service as content
from siyu.content.models import (
    Content,
    ContentCreate,
    ContentKind,
    ContentLink,
    ContentStatus,
    ContentUpdate,
    ContentVersion,
    LinkCreate,
    QuickReply,
    Variant,
)
from siyu.content.performance import ContentReport
from siyu.core.clock import ensure_utc, utcnow
from siyu.core.errors import InvalidInputError
from siyu.pipeline import content_performance, content_visits, journey_checks
from siyu.referral import codes

router = APIRouter(prefix="/api/content", tags=["content"])
public = APIRouter(tags=["content"])

COOKIE_SECONDS = 2 * 365 * 86_400  # as long as siyu.js keeps its own cookie


def _by(principal: Principal) -> str:
    return principal.user_id or principal.key_id or principal.kind


# -- items ----------------------------------------------------------------------------------


@router.post(
    "/items", status_code=201, summary="Add a content item", dependencies=[Require("content:write")]
)
async def create_item(
    body: ContentCreate,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Content:
    """An article, poster, image, mini-program card, link or text snippet, with variants."""
    return await retried(
        runtime,
        content.create_content,
        workspace_id=principal.workspace.id,
        item=body,
        now=utcnow(),
        by=_by(principal),
        idempotency_key=idempotency_key,
    )


@router.get("/items", summary="Content items", dependencies=[Require("content:read")])
async def list_items(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    kind: ContentKind | None = None,
    status: ContentStatus | None = None,
    tag: str | None = None,
    q: Annotated[str | None, Query(max_length=100, description="In title or body.")] = None,
) -> list[Content]:
    """Newest change first."""
    return await in_transaction(
        runtime,
        content.list_content,
        workspace_id=workspace.id,
        kind=kind,
        status=status,
        tag=tag,
        q=q,
    )


@router.get("/items/{content_id}", summary="One item", dependencies=[Require("content:read")])
async def get_item(content_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> Content:
    """404 when there is no such item."""
    return await in_transaction(
        runtime, content.get_content, workspace_id=workspace.id, content_id=content_id
    )


@router.patch(
    "/items/{content_id}", summary="Edit an item", dependencies=[Require("content:write")]
)
async def update_item(
    content_id: str,
    body: ContentUpdate,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    version: Annotated[
        int | None, Query(ge=1, description="409 unless the item is still at this version.")
    ] = None,
) -> Content:
    """Saves a new version (the old one stays in /versions). 409 when the edit — archiving,
    back to draft, dropping a variant — would break the sends of a live (active or paused)
    journey, naming the journeys."""
    return await in_transaction(
        runtime,
        journey_checks.update_content,
        workspace_id=principal.workspace.id,
        content_id=content_id,
        changes=body,
        now=utcnow(),
        by=_by(principal),
        expected_version=version,
    )


@router.put(
    "/items/{content_id}/variants",
    summary="Replace an item's channel variants",
    dependencies=[Require("content:write")],
)
async def put_variants(
    content_id: str, body: list[Variant], runtime: RuntimeDep, principal: PrincipalDep
) -> Content:
    """One variant per channel; each validated for its channel (SMS length, appid, page…).
    409 when a live journey sends a variant left out, naming the journeys."""
    return await in_transaction(
        runtime,
        journey_checks.update_content,
        workspace_id=principal.workspace.id,
        content_id=content_id,
        changes=ContentUpdate(variants=body),
        now=utcnow(),
        by=_by(principal),
    )


@router.get(
    "/items/{content_id}/versions",
    summary="An item's saved versions",
    dependencies=[Require("content:read")],
)
async def versions(
    content_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[ContentVersion]:
    """Newest first; each with who saved it and when."""
    return await in_transaction(
        runtime, content.list_versions, workspace_id=workspace.id, content_id=content_id
    )


# -- links and posters ----------------------------------------------------------------------


@router.post(
    "/items/{content_id}/links",
    summary="A sharer's tracked link of an item",
    dependencies=[Require("content:write")],
)
async def create_link(
    content_id: str, body: LinkCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> ContentLink:
    """Made on first ask; the same sharer and channel get the same link again."""
    link, _ = await retried(
        runtime,
        links.link_for,
        workspace_id=workspace.id,
        content_id=content_id,
        link=body,
        now=utcnow(),
        base_url=runtime.settings.public_url,
    )
    return link


@router.get(
    "/items/{content_id}/links",
    summary="An item's links: its fission chain",
    dependencies=[Require("content:read")],
)
async def list_links(
    content_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[ContentLink]:
    """By depth, then age; ``parent_code`` links each re-share to the link it came through."""
    await in_transaction(
        runtime, content.get_content, workspace_id=workspace.id, content_id=content_id
    )
    return await in_transaction(
        runtime,
        links.list_links,
        workspace_id=workspace.id,
        content_id=content_id,
        base_url=runtime.settings.public_url,
    )


@router.get(
    "/items/{content_id}/poster.png",
    summary="A QR code of a sharer's tracked link (for a poster)",
    response_class=Response,
    dependencies=[Require("content:write")],
)
async def poster_png(
    content_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    sharer_id: Annotated[str | None, Query(max_length=40)] = None,
    channel: Annotated[str, Query(max_length=20, pattern=r"^[a-z0-9_]+$")] = "poster",
    scale: Annotated[int, Query(ge=1, le=40)] = 8,
) -> Response:
    """A PNG encoding the sharer's link on ``channel`` (made on first ask, like POST /links)."""
    link, _ = await retried(
        runtime,
        links.link_for,
        workspace_id=workspace.id,
        content_id=content_id,
        link=LinkCreate(channel=channel, sharer_id=sharer_id),
        now=utcnow(),
        base_url=runtime.settings.public_url,
    )
    return Response(codes.qr_png(link.url, scale), media_type="image/png")


# -- performance and quick replies ----------------------------------------------------------


@router.get(
    "/performance",
    summary="Reach, views, clicks, shares, new contacts, orders and GMV per item and channel",
    dependencies=[Require("content:read")],
)
async def performance(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    start: datetime | None = None,
    end: datetime | None = None,
    window_days: Annotated[int, Query(ge=1, le=90)] = content_performance.DEFAULT_WINDOW_DAYS,
    content_id: str | None = None,
) -> ContentReport:
    """Default period: the last 30 days. Orders go to the last content view or click within
    ``window_days`` before them (the item, its channel and its sharer)."""
    until = ensure_utc(end) if end else utcnow()
    since = ensure_utc(start) if start else until - timedelta(days=30)
    return await run_in_threadpool(
        content_performance.content_performance,
        runtime=runtime,
        workspace_id=workspace.id,
        start=since,
        end=until,
        window_days=window_days,
        content_id=content_id,
    )


@router.get(
    "/quick-replies",
    summary="Published items for staff to paste in a chat",
    dependencies=[Require("content:read")],
)
async def quick_replies(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    channel: Annotated[str, Query(pattern=r"^[a-z_]+$", max_length=20)] = "wecom",
    q: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[QuickReply]:
    """Each with the channel's variant text (or the body); matched on title, body or tag."""
    return list(
        await in_transaction(
            runtime,
            content.quick_replies,
            workspace_id=workspace.id,
            channel=channel,
            q=q,
            limit=limit,
        )
    )


# -- the public tracked link ----------------------------------------------------------------


def _with_cookie(response: Response, request: Request, anonymous_id: str) -> Response:
    response.set_cookie(
        content_visits.ANONYMOUS_COOKIE,
        anonymous_id,
        max_age=COOKIE_SECONDS,
        path="/",
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@public.get(
    "/c/{code}",
    summary="A tracked content link: records the click, then the item's page",
    response_class=Response,
)
async def open_link(code: str, request: Request, runtime: RuntimeDep) -> Response:
    """302 to the item's own URL, or its landing page; keeps the visitor's ``siyu_aid``."""
    if len(code) > 20:
        raise InvalidInputError("not a link code", field="code")
    visit = await run_in_threadpool(
        content_visits.visit,
        runtime=runtime,
        code=code,
        anonymous_id=request.cookies.get(content_visits.ANONYMOUS_COOKIE),
        now=utcnow(),
        user_agent=request.headers.get("user-agent"),
        committer=request.app.state.committer,
    )
    response: Response
    if visit.redirect_to is not None:
        response = RedirectResponse(visit.redirect_to, status_code=302)
    else:
        response = HTMLResponse(visit.landing or "")
    response.headers["Cache-Control"] = "no-store"
    return _with_cookie(response, request, visit.anonymous_id)


@public.post("/c/{code}/share", summary="The visitor's own link to share onwards")
async def share_link(code: str, request: Request, runtime: RuntimeDep) -> ContentLink:
    """A link one level deeper in the item's fission chain, for the visitor (``siyu_aid``)."""
    if len(code) > 20:
        raise InvalidInputError("not a link code", field="code")
    return await run_in_threadpool(
        content_visits.share,
        runtime=runtime,
        code=code,
        anonymous_id=request.cookies.get(content_visits.ANONYMOUS_COOKIE),
        now=utcnow(),
        committer=request.app.state.committer,
    )
