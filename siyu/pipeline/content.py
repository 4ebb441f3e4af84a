"""Content in messages: a send naming a content item carries its channel variant and the
recipient's own tracked link (the recipient is the sharer when they pass it on).

Called by :mod:`siyu.pipeline.journeys` for every message action, inside the batch's
transaction: a missing item or variant fails that person's action, naming the field.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from siyu.channels.models import MessageRequest
from siyu.content import links
from siyu.content import service as content
from siyu.content.models import (
    Content,
    ContentLink,
    ContentStatus,
    EmailVariant,
    LinkCreate,
    MiniProgramVariant,
    OfficialAccountVariant,
    SmsVariant,
    Variant,
)
from siyu.core.config import get_settings
from siyu.core.errors import ConflictError, InvalidInputError


def with_code(page: str, code: str) -> str:
    """A mini-program page path carrying the link code (``sc``), so its open is tracked."""
    return f"{page}{'&' if '?' in page else '?'}sc={code}"


def variant_params(item: Content, variant: Variant, link: ContentLink) -> dict[str, str]:
    """What a template may use: ``content_title``, ``content_text``, ``content_link``,
    ``content_message`` (text and link, ready to send) and the variant's own fields."""
    text = str(getattr(variant, "text", "") or item.body)
    params = {
        "content_title": item.title,
        "content_text": text,
        "content_link": link.url,
        "content_code": link.code,
        "content_message": f"{text}\n{link.url}" if text else link.url,
    }
    match variant:
        case MiniProgramVariant():
            params |= {
                "content_appid": variant.appid,
                "content_title": variant.title,
                "content_page": with_code(variant.page, link.code),
                "content_message": variant.title,
            }
            if variant.thumb_path:
                params["content_image"] = variant.thumb_path
        case OfficialAccountVariant():
            params |= {"content_title": variant.title, "content_digest": variant.digest}
        case EmailVariant():
            params["content_subject"] = variant.subject
        case SmsVariant():
            params["content_message"] = f"{variant.text} {link.url}"
        case _:
            image = getattr(variant, "image_path", None)
            if image:
                params["content_image"] = str(image)
    return params


def render_message(
    *,
    session: Session,
    workspace_id: str,
    request: MessageRequest,
    now: datetime,
    base_url: str | None = None,
) -> MessageRequest:
    """``request`` with its content's variant and the recipient's tracked link in its params
    (unchanged when it names no ``content_id``).

    Raises:
        NotFoundError: no such item (``content_id``).
        ConflictError: the item is not published (``content_id``).
        InvalidInputError: the item has no variant for the channel (``content_variant``).
    """
    content_id = request.params.get("content_id")
    if not content_id:
        return request
    item = content.get_content(session=session, workspace_id=workspace_id, content_id=content_id)
    if item.status is not ContentStatus.PUBLISHED:
        raise ConflictError(
            f"content {content_id} is {item.status}, not published", field="content_id"
        )
    wanted = request.params.get("content_variant") or request.channel.value
    variant = item.variant(wanted)
    if variant is None:
        raise InvalidInputError(
            f"content {content_id} has no {wanted} variant", field="content_variant"
        )
    link, _ = links.link_for(
        session=session,
        workspace_id=workspace_id,
        content_id=content_id,
        link=LinkCreate(channel=request.channel.value, sharer_id=request.person_id),
        now=now,
        base_url=base_url or get_settings().public_url,
    )
    params = {**request.params, **variant_params(item, variant, link)}
    return request.model_copy(update={"params": params})
