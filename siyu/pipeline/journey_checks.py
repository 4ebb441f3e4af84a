"""Journeys saved and launched with their references checked against the workspace.

A definition validates on its own (:mod:`siyu.journeys.models`), but a ``send_message`` that
names a content item can only be checked against the library, which journeys may not import
(journeys and content are siblings). So every entry point that saves or launches a journey —
API, CLI, console, demo — goes through these functions: a content item that does not exist,
is archived, or lacks the variant the send uses is refused at save, naming the node's field
(``nodes.3.action.content_id``), instead of failing every person's send later. Launching
(activating, or publishing a version of an active journey) also refuses a draft item, since
only published items go out.

The other way round, an edit of a content item (archiving it, taking it back to draft, or
dropping a variant) that a live journey — active or paused — sends with its current version
is refused with a 409 naming the journeys (:func:`update_content`): pause is temporary, so
a paused journey's sends must still work when it resumes. Retire the journey (or publish a
version without the send) first; there is no ``force``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from siyu.content import service as content
from siyu.content.models import Content, ContentStatus, ContentUpdate
from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.journeys import service as journeys
from siyu.journeys.models import ActionNode, JourneyDefinition, SendMessageSpec
from siyu.journeys.service import Journey, JourneyStatus


def check_references(
    *, session: Session, workspace_id: str, definition: JourneyDefinition, launching: bool = False
) -> None:
    """Refuse a definition whose sends name content the workspace cannot send.

    Raises:
        InvalidInputError: no such item (``nodes.N.action.content_id``), or the item has no
            variant for the send (``nodes.N.action.content_variant``).
        ConflictError: the item is archived, or a draft when ``launching``
            (``nodes.N.action.content_id``).
    """
    items: dict[str, Content | None] = {}
    for index, node in enumerate(definition.nodes):
        if not isinstance(node, ActionNode) or not isinstance(node.action, SendMessageSpec):
            continue
        spec = node.action
        if spec.content_id is None:
            continue
        field = f"nodes.{index}.action.content_id"
        if spec.content_id not in items:
            try:
                items[spec.content_id] = content.get_content(
                    session=session, workspace_id=workspace_id, content_id=spec.content_id
                )
            except NotFoundError:
                items[spec.content_id] = None
        _check_item(items[spec.content_id], spec, field, launching)


def _check_item(item: Content | None, spec: SendMessageSpec, field: str, launching: bool) -> None:
    if item is None:
        raise InvalidInputError(f"{field}: no content item {spec.content_id!r}", field=field)
    refused = item.status is ContentStatus.ARCHIVED or (
        launching and item.status is not ContentStatus.PUBLISHED
    )
    if refused:
        raise ConflictError(
            f"{field}: content item {spec.content_id!r} is {item.status.value}", field=field
        )
    wanted = (spec.content_variant or spec.channel).value
    if item.variant(wanted) is None:
        at = field.replace("content_id", "content_variant")
        raise InvalidInputError(
            f"{at}: content item {spec.content_id!r} has no {wanted} variant", field=at
        )


def create_journey(
    *, session: Session, workspace_id: str, definition: JourneyDefinition, now: datetime
) -> Journey:
    """:func:`siyu.journeys.service.create_journey` once its content references hold."""
    check_references(session=session, workspace_id=workspace_id, definition=definition)
    return journeys.create_journey(
        session=session, workspace_id=workspace_id, definition=definition, now=now
    )


def publish_version(
    *,
    session: Session,
    workspace_id: str,
    journey_id: str,
    definition: JourneyDefinition,
    now: datetime,
) -> Journey:
    """:func:`siyu.journeys.service.publish_version` once its content references hold
    (as for a launch when the journey is active: the version goes live at once)."""
    current = journeys.get_journey(session=session, workspace_id=workspace_id,
                                   journey_id=journey_id)  # fmt: skip
    live = current.status is JourneyStatus.ACTIVE
    check_references(session=session, workspace_id=workspace_id, definition=definition,
                     launching=live)  # fmt: skip
    return journeys.publish_version(
        session=session, workspace_id=workspace_id, journey_id=journey_id,
        definition=definition, now=now,
    )  # fmt: skip


def set_status(
    *, session: Session, workspace_id: str, journey_id: str, status: JourneyStatus, now: datetime
) -> Journey:
    """:func:`siyu.journeys.service.set_status`; activating (or resuming) checks the current
    version's content references first."""
    if status is JourneyStatus.ACTIVE:
        current = journeys.get_journey(session=session, workspace_id=workspace_id,
                                       journey_id=journey_id)  # fmt: skip
        if current.status is not JourneyStatus.ARCHIVED:  # that one the service refuses
            check_references(session=session, workspace_id=workspace_id,
                             definition=current.definition, launching=True)  # fmt: skip
    return journeys.set_status(session=session, workspace_id=workspace_id,
                               journey_id=journey_id, status=status, now=now)  # fmt: skip


LIVE = (JourneyStatus.ACTIVE, JourneyStatus.PAUSED)


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
    """:func:`siyu.content.service.update_content`, refused when the edited item could no
    longer be sent by a live (active or paused) journey's current version: archived, back to
    draft, or without the variant a send uses (a send that was already broken before the edit
    does not block it). Checked on the edited item inside the caller's transaction, so a
    refusal leaves nothing saved.

    Raises:
        ConflictError: on ``status`` (or ``variants``), naming the journeys that send it.
    """
    before = content.get_content(session=session, workspace_id=workspace_id,
                                 content_id=content_id)  # fmt: skip
    edited = content.update_content(
        session=session, workspace_id=workspace_id, content_id=content_id, changes=changes,
        now=now, by=by, expected_version=expected_version,
    )  # fmt: skip
    live = [
        journey
        for status in LIVE
        for journey in journeys.list_journeys(
            session=session, workspace_id=workspace_id, status=status
        )
    ]
    blocking = [
        j for j in live if _breaks(j.definition, edited) and not _breaks(j.definition, before)
    ]
    if blocking:
        field = "status" if edited.status is not ContentStatus.PUBLISHED else "variants"
        names = ", ".join(f"{j.name!r} ({j.id}, {j.status.value})" for j in blocking)
        raise ConflictError(
            f"{field}: content item {content_id!r} is sent by live journeys: {names}; "
            "archive them, or publish versions without this send, first",
            field=field,
        )
    return edited


def _breaks(definition: JourneyDefinition, item: Content) -> bool:
    """Whether a send of ``definition`` names ``item`` and could not send it as it is now."""
    for index, node in enumerate(definition.nodes):
        if not isinstance(node, ActionNode) or not isinstance(node.action, SendMessageSpec):
            continue
        if node.action.content_id != item.id:
            continue
        try:
            _check_item(item, node.action, f"nodes.{index}.action.content_id", launching=True)
        except (ConflictError, InvalidInputError):
            return True
    return False
