"""The material library's public functions: items, their versions, quick replies.

Callers pass ``now`` and who acts (``by``); every write is in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.orm import Session

from siyu.content.models import (
    Content,
    ContentCreate,
    ContentKind,
    ContentStatus,
    ContentUpdate,
    ContentVersion,
    QuickReply,
    Variant,
)
from siyu.content.tables import content_items, content_versions
from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id

_VARIANTS: TypeAdapter[list[Variant]] = TypeAdapter(list[Variant])


# -- items ----------------------------------------------------------------------------------


def _require(condition: bool, message: str, field: str) -> None:
    if not condition:
        raise InvalidInputError(message, field=field)


def check_item(item: ContentCreate) -> None:
    """Rules across fields: what each kind needs, one variant per channel, web URLs only.

    Raises:
        InvalidInputError: naming the field (``url``, ``body``, ``media_path``, ``variants``).
    """
    if item.url is not None:
        _require(
            item.url.startswith(("https://", "http://")), "url must be an http(s) address", "url"
        )
    channels = [v.channel for v in item.variants]
    for i, channel in enumerate(channels):
        _require(channel not in channels[:i], f"two {channel} variants", f"variants.{i}.channel")
    match item.kind:
        case ContentKind.LINK:
            _require(item.url is not None, "a link needs a url", "url")
        case ContentKind.ARTICLE | ContentKind.TEXT:
            _require(bool(item.body.strip()), f"an {item.kind} needs a body", "body")
        case ContentKind.POSTER | ContentKind.IMAGE:
            _require(bool(item.media_path), f"a {item.kind} needs a media_path", "media_path")
        case ContentKind.MINIPROGRAM_CARD:
            _require(
                "miniprogram" in channels,
                "a mini-program card needs a miniprogram variant (appid and page)",
                "variants",
            )


def _content(r: Any) -> Content:
    return Content(
        id=r.id,
        kind=r.kind,
        title=r.title,
        body=r.body,
        url=r.url,
        media_path=r.media_path,
        tags=list(r.tags),
        status=r.status,
        variants=_VARIANTS.validate_python(r.variants),
        version=r.version,
        created_at=r.created_at,
        updated_at=r.updated_at,
        updated_by=r.updated_by,
    )


def _snapshot(item: ContentCreate) -> dict[str, Any]:
    return item.model_dump(mode="json")


def _save_version(
    session: Session,
    workspace_id: str,
    content_id: str,
    version: int,
    item: ContentCreate,
    now: datetime,
    by: str,
) -> None:
    session.execute(
        insert(content_versions).values(
            workspace_id=workspace_id,
            content_id=content_id,
            version=version,
            snapshot=_snapshot(item),
            at=now,
            by=by,
        )
    )


def create_content(
    *,
    session: Session,
    workspace_id: str,
    item: ContentCreate,
    now: datetime,
    by: str,
    idempotency_key: str | None = None,
) -> Content:
    """Add an item (version 1); the same idempotency key answers the item made first.

    Raises:
        InvalidInputError: a kind's required field is missing, two variants share a channel.
    """
    t = content_items.c
    if idempotency_key:
        made = session.execute(
            select(t.id).where(t.workspace_id == workspace_id, t.idempotency_key == idempotency_key)
        ).scalar()
        if made is not None:
            return get_content(session=session, workspace_id=workspace_id, content_id=made)
    check_item(item)
    content_id = new_id("ct")
    values = _snapshot(item)
    session.execute(
        insert(content_items).values(
            workspace_id=workspace_id,
            id=content_id,
            version=1,
            created_at=now,
            updated_at=now,
            updated_by=by,
            idempotency_key=idempotency_key,
            **values,
        )
    )
    _save_version(session, workspace_id, content_id, 1, item, now, by)
    return get_content(session=session, workspace_id=workspace_id, content_id=content_id)


def get_content(*, session: Session, workspace_id: str, content_id: str) -> Content:
    """One item. Raises NotFoundError (field ``content_id``)."""
    t = content_items.c
    row = session.execute(
        select(content_items).where(t.workspace_id == workspace_id, t.id == content_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no content {content_id}", field="content_id")
    return _content(row)


def list_content(
    *,
    session: Session,
    workspace_id: str,
    kind: ContentKind | None = None,
    status: ContentStatus | None = None,
    tag: str | None = None,
    q: str | None = None,
    limit: int = 200,
) -> list[Content]:
    """Items, newest change first, filtered by kind, status, tag and a title/body search."""
    t = content_items.c
    query = select(content_items).where(t.workspace_id == workspace_id)
    if kind is not None:
        query = query.where(t.kind == kind.value)
    if status is not None:
        query = query.where(t.status == status.value)
    if q:
        pattern = f"%{q.strip().lower()}%"
        query = query.where(
            or_(func.lower(t.title).like(pattern), func.lower(t.body).like(pattern))
        )
    rows = session.execute(query.order_by(t.updated_at.desc(), t.id)).all()
    items = [_content(r) for r in rows]
    if tag:
        items = [i for i in items if tag in i.tags]
    return items[:limit]


def update_content(
    *,
    session: Session,
    workspace_id: str,
    content_id: str,
    changes: ContentUpdate,
    now: datetime,
    by: str,
    expected_version: int | None = None,
) -> Content:
    """Apply ``changes`` as a new version; ``expected_version`` guards a concurrent edit.

    Raises:
        NotFoundError: no such item. ConflictError: the item moved past ``expected_version``.
        InvalidInputError: the changed item breaks a rule of :func:`check_item`.
    """
    current = get_content(session=session, workspace_id=workspace_id, content_id=content_id)
    if expected_version is not None and expected_version != current.version:
        raise ConflictError(
            f"content {content_id} is at version {current.version}, not {expected_version}",
            field="version",
        )
    merged = ContentCreate.model_validate(
        {
            **current.model_dump(include=set(ContentCreate.model_fields)),
            **changes.model_dump(exclude_unset=True),
        }
    )
    check_item(merged)
    t = content_items.c
    version = current.version + 1
    done = session.execute(
        update(content_items)
        .where(t.workspace_id == workspace_id, t.id == content_id, t.version == current.version)
        .values(**_snapshot(merged), version=version, updated_at=now, updated_by=by)
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise ConflictError(f"content {content_id} changed meanwhile; retry", field="version")
    _save_version(session, workspace_id, content_id, version, merged, now, by)
    return get_content(session=session, workspace_id=workspace_id, content_id=content_id)


def list_versions(*, session: Session, workspace_id: str, content_id: str) -> list[ContentVersion]:
    """Every saved version of an item, newest first."""
    get_content(session=session, workspace_id=workspace_id, content_id=content_id)
    v = content_versions.c
    rows = session.execute(
        select(content_versions)
        .where(v.workspace_id == workspace_id, v.content_id == content_id)
        .order_by(v.version.desc())
    ).all()
    return [ContentVersion(version=r.version, at=r.at, by=r.by, snapshot=r.snapshot) for r in rows]


def titles(*, session: Session, workspace_id: str) -> dict[str, tuple[str, str]]:
    """(title, kind) of every item, by id."""
    t = content_items.c
    rows = session.execute(
        select(t.id, t.title, t.kind).where(t.workspace_id == workspace_id)
    ).all()
    return {r.id: (r.title, r.kind) for r in rows}


# -- quick replies --------------------------------------------------------------------------


def _reply_text(item: Content, channel: str) -> str:
    variant = item.variant(channel)
    text = getattr(variant, "text", "") if variant is not None else ""
    return str(text or item.body)


def quick_replies(
    *, session: Session, workspace_id: str, channel: str, q: str | None = None, limit: int = 20
) -> Sequence[QuickReply]:
    """Published items for a staff member to paste on ``channel``: its variant's text (or
    the body), matched on title, body or tag."""
    items = list_content(
        session=session, workspace_id=workspace_id, status=ContentStatus.PUBLISHED, limit=10_000
    )
    needle = (q or "").strip().lower()
    matched = [
        i
        for i in items
        if not needle
        or needle in i.title.lower()
        or needle in i.body.lower()
        or any(needle in t.lower() for t in i.tags)
    ]
    return [
        QuickReply(
            content_id=i.id,
            kind=i.kind,
            title=i.title,
            text=_reply_text(i, channel),
            url=i.url,
            media_path=i.media_path,
            tags=i.tags,
        )
        for i in matched[:limit]
    ]
