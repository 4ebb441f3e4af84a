"""Journeys saved and launched with their references checked against the workspace.

A definition validates on its own (:mod:`siyu.journeys.models`), but a ``send_message`` that
names a content item can only be checked against the library, which journeys may not import
(journeys and content are siblings). So every entry point that saves or launches a journey —
API, CLI, console, demo — goes through these functions: a content item that does not exist,
is archived, or lacks the variant the send uses is refused at save, naming the node's field
(``nodes.3.action.content_id``), instead of failing every person's send later. Launching
(activating, or publishing a version of an active journey) also refuses a draft item, since
only published items go out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from siyu.content import service as content
from siyu.content.models import Content, ContentStatus
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
