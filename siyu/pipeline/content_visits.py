"""Tracked content links, opened and shared: each visit is an event through the collect path.

``GET /c/{code}`` records a ``Content Clicked`` event (and ``Content Viewed`` when siyu
serves the landing page itself) under the visitor's anonymous id — the ``siyu_aid`` cookie
siyu.js reads too, so a later identify links the clicker to the person. The event names the
item, channel, sharer and depth; its ``context.campaign`` makes the link the visitor's
first-touch channel. A visitor who shares gets a link of their own one level deeper.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import BaseModel
from sqlalchemy.orm import Session

from siyu.collect import normalize
from siyu.collect.models import CollectedEvent, Identifier, IdType, MessageType
from siyu.content import links
from siyu.content import service as content
from siyu.content.landing import landing_html
from siyu.content.models import Content, ContentLink, ContentStatus, LinkCreate
from siyu.content.performance import CLICKED, SHARED, VIEWED
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline.ingest import GroupCommitter, ingest, ingest_events

ANONYMOUS_COOKIE = "siyu_aid"
"""The cookie siyu.js keeps its anonymous id in (``siyu_`` + ``aid``)."""


class Visit(BaseModel):
    """What a tracked link answered: a redirect to the item's own URL, or its landing page."""

    workspace_id: str
    link: ContentLink
    anonymous_id: str
    redirect_to: str | None
    landing: str | None


def anonymous_id_of(cookie: str | None) -> str:
    """The visitor's anonymous id: the cookie's when it is sane, else a new one."""
    if cookie and 0 < len(cookie) <= 100 and cookie.isprintable() and " " not in cookie:
        return cookie
    return str(uuid.uuid4())


def _open_link(runtime: Runtime, code: str) -> tuple[str, ContentLink, Content]:
    base_url = runtime.settings.public_url
    with runtime.sessions() as session:
        found = links.find_link(session=session, code=code, base_url=base_url)
        if found is None:
            raise NotFoundError(f"no content link {code}", field="code")
        workspace_id, link = found
        item = content.get_content(
            session=session, workspace_id=workspace_id, content_id=link.content_id
        )
    if item.status is ContentStatus.ARCHIVED:
        raise NotFoundError(f"content of link {code} is no longer shown", field="code")
    return workspace_id, link, item


def _message(
    event: str,
    link: ContentLink,
    item: Content,
    anonymous_id: str,
    now: datetime,
    user_agent: str | None,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "campaign": {
            "source": link.channel,
            "medium": "content",
            "name": item.title[:100],
            "content": link.code,
        },
    }
    if user_agent:
        context["userAgent"] = user_agent[:500]
    return {
        "type": "track",
        "event": event,
        "messageId": f"ct:{link.code}:{uuid.uuid4().hex}",
        "anonymousId": anonymous_id,
        "timestamp": now.isoformat(),
        "context": context,
        "properties": {
            "content_id": item.id,
            "content_code": link.code,
            "channel": link.channel,
            "sharer_id": link.sharer_id,
            "depth": link.depth,
            "kind": item.kind.value,
        },
    }


def _ingest(
    runtime: Runtime,
    workspace_id: str,
    messages: list[dict[str, Any]],
    now: datetime,
    committer: GroupCommitter | None,
) -> None:
    result = ingest(
        runtime=runtime,
        workspace_id=workspace_id,
        messages=messages,
        received_at=now,
        committer=committer,
    )
    if result.rejected:
        bad = result.rejected[0]
        raise InvalidInputError(bad.reason, field="anonymous_id")


def visit(
    *,
    runtime: Runtime,
    code: str,
    anonymous_id: str | None,
    now: datetime,
    user_agent: str | None = None,
    committer: GroupCommitter | None = None,
) -> Visit:
    """Record a click on a tracked link (a view too when siyu serves the page); where to go.

    The redirect goes only to the item's own URL, never to an address from the request.

    Raises:
        NotFoundError: no such code, or the item is archived (``code``).
    """
    workspace_id, link, item = _open_link(runtime, code)
    aid = anonymous_id_of(anonymous_id)
    events = [CLICKED] if item.url else [CLICKED, VIEWED]
    messages = [_message(e, link, item, aid, now, user_agent) for e in events]
    _ingest(runtime, workspace_id, messages, now, committer)
    return Visit(
        workspace_id=workspace_id,
        link=link,
        anonymous_id=aid,
        redirect_to=item.url,
        landing=None if item.url else landing_html(item, link.code),
    )


def _visitor(runtime: Runtime, workspace_id: str, anonymous_id: str) -> str:
    key = normalize.make_identifier(
        runtime.vault, IdType.ANONYMOUS_ID, anonymous_id, "anonymous_id"
    )
    with runtime.sessions() as session:
        person = identity.find_person(session=session, workspace_id=workspace_id, identifier=key)
        if person is None:
            raise NotFoundError("open the link before sharing it", field="anonymous_id")
        return identity.current_person_id(
            session=session, workspace_id=workspace_id, person_id=person
        )


def share(
    *,
    runtime: Runtime,
    code: str,
    anonymous_id: str | None,
    now: datetime,
    channel: str = "share",
    committer: GroupCommitter | None = None,
) -> ContentLink:
    """The visitor's own link of the item, one level below ``code``, and a ``Content Shared``
    event under it.

    Raises:
        NotFoundError: no such code, or the visitor never opened it (no anonymous id known).
    """
    workspace_id, parent, item = _open_link(runtime, code)
    if not anonymous_id:
        raise NotFoundError("open the link before sharing it", field="anonymous_id")
    person = _visitor(runtime, workspace_id, anonymous_id)
    with runtime.sessions() as session, session.begin():
        link, _ = links.link_for(
            session=session,
            workspace_id=workspace_id,
            content_id=item.id,
            link=LinkCreate(channel=channel, sharer_id=person, parent_code=parent.code),
            now=now,
            base_url=runtime.settings.public_url,
        )
    message = _message(SHARED, link, item, anonymous_id, now, None)
    message["properties"]["parent_code"] = parent.code
    _ingest(runtime, workspace_id, [message], now, committer)
    return link


class Touch(NamedTuple):
    """A content event of a known person (or a new visitor's anonymous id) at a time."""

    event: str
    link: ContentLink
    at: datetime
    message_id: str
    person_id: str | None = None
    anonymous_id: str | None = None
    identifier: Identifier | None = None  # the person's, when the caller knows it already


def _collected(
    session: Session, workspace_id: str, touch: Touch, known: dict[str, list[Identifier]]
) -> CollectedEvent | None:
    if touch.identifier is not None:
        ids = [touch.identifier]
    elif touch.person_id is not None:
        if touch.person_id not in known:
            held = identity.identifiers_of(
                session=session, workspace_id=workspace_id, person_id=touch.person_id
            )
            known[touch.person_id] = [Identifier(h.type, h.key) for h in held[:1]]
        ids = known[touch.person_id]
        if not ids:
            return None
    elif touch.anonymous_id:
        ids = [Identifier(IdType.ANONYMOUS_ID, touch.anonymous_id)]
    else:
        return None
    link = touch.link
    return CollectedEvent(
        message_id=touch.message_id,
        type=MessageType.TRACK,
        timestamp=touch.at,
        received_at=touch.at,
        identifiers=ids,
        event=touch.event,
        anonymous_id=touch.anonymous_id,
        channel=link.channel,
        campaign=link.content_id,
        properties={
            "content_id": link.content_id,
            "content_code": link.code,
            "channel": link.channel,
            "sharer_id": link.sharer_id,
            "depth": link.depth,
        },
    )


def track_touches(
    *, runtime: Runtime, workspace_id: str, touches: Sequence[Touch], now: datetime
) -> int:
    """Track content events of known persons or visitors (an import, the demo's history)
    through the collect path in one transaction; deduplicated by message id. How many new."""
    with runtime.sessions() as session, session.begin():
        known: dict[str, list[Identifier]] = {}  # a person's identifier, looked up once
        found = [c for t in touches if (c := _collected(session, workspace_id, t, known))]
        return ingest_events(session=session, workspace_id=workspace_id, events=found, now=now)
