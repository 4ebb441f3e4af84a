"""The blocking calls behind the content page: the library and its performance, and editing
through the content domain — create, edit with the version check, archive, tracked links
and their poster QR codes (nothing drawn here)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from siyu.analytics.periods import Period
from siyu.content import links
from siyu.content import service as content
from siyu.content.models import (
    Content,
    ContentCreate,
    ContentLink,
    ContentStatus,
    ContentUpdate,
    LinkCreate,
)
from siyu.content.performance import ContentReport
from siyu.core.runtime import Runtime
from siyu.pipeline import content_performance, journey_checks
from siyu.referral import codes

DAYS = 30
QR_SCALE = 6


class Board(BaseModel):
    """The library and its performance over the last :data:`DAYS` days."""

    library: list[Content]
    report: ContentReport


class TrackedLink(BaseModel):
    """A sharer's tracked link of an item and its QR code as a PNG data URL."""

    link: ContentLink
    qr_data_url: str = Field(description="data:image/png;base64,… of the link's QR code.")


def board(
    *, runtime: Runtime, workspace_id: str, now: datetime, span: Period | None = None
) -> Board:
    """Every item (newest change first) and its performance over the range's local days (by
    default the last :data:`DAYS` days up to ``now``)."""
    with runtime.sessions() as session:
        library = content.list_content(session=session, workspace_id=workspace_id, limit=1000)
    start, end = (span.start, span.end) if span else (now - timedelta(days=DAYS), now)
    report = content_performance.content_performance(
        runtime=runtime, workspace_id=workspace_id, start=start, end=end
    )
    return Board(library=library, report=report)


def get(*, runtime: Runtime, workspace_id: str, content_id: str) -> Content:
    """One item as stored now (its version is what an edit is checked against)."""
    with runtime.sessions() as session:
        return content.get_content(
            session=session, workspace_id=workspace_id, content_id=content_id
        )


def create(
    *, runtime: Runtime, workspace_id: str, item: ContentCreate, by: str, now: datetime
) -> Content:
    """Add an item (version 1). Raises InvalidInputError naming the field a kind needs."""
    with runtime.sessions() as session, session.begin():
        return content.create_content(
            session=session, workspace_id=workspace_id, item=item, now=now, by=by
        )


def update(
    *,
    runtime: Runtime,
    workspace_id: str,
    content_id: str,
    changes: ContentUpdate,
    version: int,
    by: str,
    now: datetime,
) -> Content:
    """Save ``changes`` as the next version, only if the item is still at ``version``.

    Raises:
        ConflictError: someone saved in between (the domain's message says at which version),
            or the edit (an archive) would break a live journey's sends (naming them).
    """
    with runtime.sessions() as session, session.begin():
        return journey_checks.update_content(
            session=session,
            workspace_id=workspace_id,
            content_id=content_id,
            changes=changes,
            now=now,
            by=by,
            expected_version=version,
        )


def archive(
    *, runtime: Runtime, workspace_id: str, content_id: str, version: int, by: str, now: datetime
) -> Content:
    """Archive an item (its links then answer 404), checked against ``version`` like an edit."""
    return update(
        runtime=runtime,
        workspace_id=workspace_id,
        content_id=content_id,
        changes=ContentUpdate(status=ContentStatus.ARCHIVED),
        version=version,
        by=by,
        now=now,
    )


def tracked_link(
    *, runtime: Runtime, workspace_id: str, content_id: str, link: LinkCreate, now: datetime
) -> TrackedLink:
    """The sharer's link of the item on a channel (made on first ask, the same one after),
    with the QR code ``GET /api/content/items/{id}/poster.png`` would answer for it."""
    with runtime.sessions() as session, session.begin():
        made, _ = links.link_for(
            session=session,
            workspace_id=workspace_id,
            content_id=content_id,
            link=link,
            now=now,
            base_url=runtime.settings.public_url,
        )
    png = codes.qr_png(made.url, QR_SCALE)
    return TrackedLink(
        link=made, qr_data_url="data:image/png;base64," + base64.b64encode(png).decode()
    )
