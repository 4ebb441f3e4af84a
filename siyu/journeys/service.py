"""Journeys as records: create, publish versions, activate, pause and resume.

Versioning: a published version is immutable. Publishing a new one changes what *new*
entries follow; a person already in the journey keeps stepping on the version they entered
with until they leave it (no migration by node id — a removed or re-wired node can never
strand or misroute anyone, at the price of old versions living on until their people leave).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id
from siyu.journeys.definition import dump_definition, parse_definition
from siyu.journeys.models import JourneyDefinition
from siyu.journeys.tables import journey_versions, journeys


class JourneyStatus(StrEnum):
    """A journey's life: only an active journey takes entries and steps people."""

    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"  # no entries, nobody steps; due states wait and go on at resume
    ARCHIVED = "archived"


class Journey(BaseModel):
    """A journey and its current version."""

    id: str
    workspace_id: str
    name: str
    status: JourneyStatus
    current_version: int = Field(description="Version new entries follow.")
    trigger_type: str
    definition: JourneyDefinition
    created_at: datetime
    updated_at: datetime


def _model(row: Row[Any], definition: JourneyDefinition) -> Journey:
    return Journey(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        status=JourneyStatus(row.status),
        current_version=row.current_version,
        trigger_type=row.trigger_type,
        definition=definition,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create_journey(
    *, session: Session, workspace_id: str, definition: JourneyDefinition, now: datetime
) -> Journey:
    """Save a new journey as a draft with ``definition`` as version 1.

    Raises:
        ConflictError: the workspace already has a journey of that name.
    """
    journey_id = new_id("jny")
    try:
        with session.begin_nested():
            session.execute(
                journeys.insert().values(
                    workspace_id=workspace_id,
                    id=journey_id,
                    name=definition.name,
                    status=JourneyStatus.DRAFT.value,
                    trigger_type=definition.trigger.type,
                    current_version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
    except IntegrityError as exc:
        raise ConflictError(f"a journey named {definition.name!r} exists", field="name") from exc
    _insert_version(session, workspace_id, journey_id, 1, definition, now)
    return get_journey(session=session, workspace_id=workspace_id, journey_id=journey_id)


def _insert_version(
    session: Session,
    workspace_id: str,
    journey_id: str,
    version: int,
    definition: JourneyDefinition,
    now: datetime,
) -> None:
    session.execute(
        journey_versions.insert().values(
            journey_id=journey_id,
            version=version,
            workspace_id=workspace_id,
            definition=dump_definition(definition),
            published_at=now,
        )
    )


def publish_version(
    *,
    session: Session,
    workspace_id: str,
    journey_id: str,
    definition: JourneyDefinition,
    now: datetime,
) -> Journey:
    """Publish ``definition`` as the next version; people already in keep their version.

    Raises:
        NotFoundError: no such journey.
        InvalidInputError: the trigger type changed (make a new journey instead).
    """
    current = get_journey(session=session, workspace_id=workspace_id, journey_id=journey_id)
    if definition.trigger.type != current.trigger_type:
        raise InvalidInputError("a new version keeps the trigger type", field="trigger.type")
    # Lock the journey row: two publishers get consecutive versions, never the same one.
    latest = session.execute(
        select(journeys.c.current_version).where(journeys.c.id == journey_id).with_for_update()
    ).scalar_one()
    version = int(latest) + 1
    _insert_version(session, workspace_id, journey_id, version, definition, now)
    session.execute(
        update(journeys)
        .where(journeys.c.id == journey_id)
        .values(current_version=version, name=definition.name, updated_at=now)
    )
    return get_journey(session=session, workspace_id=workspace_id, journey_id=journey_id)


def set_status(
    *, session: Session, workspace_id: str, journey_id: str, status: JourneyStatus, now: datetime
) -> Journey:
    """Activate, pause, resume (= activate) or archive a journey.

    Raises:
        ConflictError: an archived journey cannot come back.
    """
    current = get_journey(session=session, workspace_id=workspace_id, journey_id=journey_id)
    if current.status is JourneyStatus.ARCHIVED and status is not JourneyStatus.ARCHIVED:
        raise ConflictError("the journey is archived", field="status")
    session.execute(
        update(journeys)
        .where(journeys.c.id == journey_id)
        .values(status=status.value, updated_at=now)
    )
    return current.model_copy(update={"status": status, "updated_at": now})


def get_journey(*, session: Session, workspace_id: str, journey_id: str) -> Journey:
    """One journey with its current definition.

    Raises:
        NotFoundError: no such journey in the workspace.
    """
    row = session.execute(
        select(journeys).where(journeys.c.id == journey_id, journeys.c.workspace_id == workspace_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no journey {journey_id}", field="journey_id")
    versions = VersionCache()
    return _model(row, versions.get(session, journey_id, row.current_version))


def list_journeys(
    *, session: Session, workspace_id: str, status: JourneyStatus | None = None
) -> list[Journey]:
    """The workspace's journeys (optionally of one status), by name."""
    query = select(journeys).where(journeys.c.workspace_id == workspace_id)
    if status is not None:
        query = query.where(journeys.c.status == status.value)
    versions = VersionCache()
    return [
        _model(row, versions.get(session, row.id, row.current_version))
        for row in session.execute(query.order_by(journeys.c.name))
    ]


class VersionCache:
    """Parsed versions by (journey, version); safe to keep since versions never change."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, int], JourneyDefinition] = {}

    def get(self, session: Session, journey_id: str, version: int) -> JourneyDefinition:
        """The definition of one version."""
        key = (journey_id, version)
        if key not in self._parsed:
            data = session.execute(
                select(journey_versions.c.definition).where(
                    journey_versions.c.journey_id == journey_id,
                    journey_versions.c.version == version,
                )
            ).scalar_one_or_none()
            if data is None:
                raise NotFoundError(f"no version {version} of {journey_id}", field="version")
            self._parsed[key] = parse_definition(data)
        return self._parsed[key]
