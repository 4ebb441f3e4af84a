"""Tracked links of content items: one per item, channel and sharer, in a fission tree."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.content.models import ContentLink, LinkCreate
from siyu.content.service import get_content
from siyu.content.tables import content_links
from siyu.core.errors import ConflictError, NotFoundError

DEFAULT_BASE_URL = "https://siyu.local"
NO_SHARER = "-"
MAX_DEPTH = 50  # a re-share chain deeper than this is refused (a loop or a bot)
_CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"


def link_url(base_url: str, code: str) -> str:
    """The public tracked URL of a link code."""
    return f"{base_url.rstrip('/')}/c/{code}"


def _new_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))


def _link(r: Any, base_url: str) -> ContentLink:
    return ContentLink(
        code=r.code,
        content_id=r.content_id,
        channel=r.channel,
        sharer_id=None if r.sharer_key == NO_SHARER else r.sharer_key,
        parent_code=r.parent_code,
        depth=r.depth,
        created_at=r.created_at,
        url=link_url(base_url, r.code),
    )


def _find_link(
    session: Session, workspace_id: str, content_id: str, channel: str, sharer_key: str
) -> Any:
    k = content_links.c
    return session.execute(
        select(content_links).where(
            k.workspace_id == workspace_id,
            k.content_id == content_id,
            k.channel == channel,
            k.sharer_key == sharer_key,
        )
    ).first()


def _parent_depth(session: Session, workspace_id: str, content_id: str, code: str | None) -> int:
    if code is None:
        return -1
    parent = find_link(session=session, code=code)
    if parent is None or parent[0] != workspace_id or parent[1].content_id != content_id:
        raise NotFoundError(f"no link {code} of content {content_id}", field="parent_code")
    if parent[1].depth >= MAX_DEPTH:
        raise ConflictError(f"share chains stop at depth {MAX_DEPTH}", field="parent_code")
    return parent[1].depth


def link_for(
    *,
    session: Session,
    workspace_id: str,
    content_id: str,
    link: LinkCreate,
    now: datetime,
    base_url: str = DEFAULT_BASE_URL,
) -> tuple[ContentLink, bool]:
    """The sharer's tracked link of the item on a channel, made on first ask; and whether new.

    A sharer keeps one link per item and channel (the first parent wins), so the fission
    chain is a tree. A concurrent twin that wins the unique key is read back.

    Raises:
        NotFoundError: no such item or parent link. ConflictError: the chain is too deep.
    """
    get_content(session=session, workspace_id=workspace_id, content_id=content_id)
    key = link.sharer_id or NO_SHARER
    found = _find_link(session, workspace_id, content_id, link.channel, key)
    if found is not None:
        return _link(found, base_url), False
    depth = _parent_depth(session, workspace_id, content_id, link.parent_code) + 1
    values = {
        "code": _new_code(),
        "workspace_id": workspace_id,
        "content_id": content_id,
        "channel": link.channel,
        "sharer_key": key,
        "parent_code": link.parent_code,
        "depth": depth,
        "created_at": now,
    }
    try:
        with session.begin_nested():
            session.execute(insert(content_links).values(**values))
    except IntegrityError:
        found = _find_link(session, workspace_id, content_id, link.channel, key)
        if found is None:
            raise
        return _link(found, base_url), False
    return _link(_find_link(session, workspace_id, content_id, link.channel, key), base_url), True


def find_link(
    *, session: Session, code: str, base_url: str = DEFAULT_BASE_URL
) -> tuple[str, ContentLink] | None:
    """The workspace and link of a public code, if there is one (any workspace)."""
    k = content_links.c
    row = session.execute(select(content_links).where(k.code == code)).first()
    return (row.workspace_id, _link(row, base_url)) if row is not None else None


def list_links(
    *,
    session: Session,
    workspace_id: str,
    content_id: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
) -> list[ContentLink]:
    """Links (of one item, or all), by depth then age: the fission tree in order."""
    k = content_links.c
    query = select(content_links).where(k.workspace_id == workspace_id)
    if content_id is not None:
        query = query.where(k.content_id == content_id)
    rows = session.execute(query.order_by(k.depth, k.created_at, k.code)).all()
    return [_link(r, base_url) for r in rows]
