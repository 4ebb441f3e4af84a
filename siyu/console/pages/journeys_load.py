"""The blocking calls of the journeys pages: list, dry run, activate and pause, a journey's
statistics, and publishing an edited definition."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel

from siyu.core.runtime import Runtime
from siyu.journeys import service as journeys
from siyu.journeys import stats
from siyu.journeys.definition import load_definition
from siyu.journeys.models import JourneyDefinition
from siyu.journeys.service import Journey, JourneyStatus
from siyu.journeys.stats import JourneyStats
from siyu.pipeline import journey_checks
from siyu.pipeline.journeys import JourneyDryRun, dry_run_journey

DRY_RUN_DAYS = 7


def listing(*, runtime: Runtime, workspace_id: str) -> list[Journey]:
    """The workspace's journeys, by name."""
    with runtime.sessions() as session:
        return journeys.list_journeys(session=session, workspace_id=workspace_id)


def dry_run(
    *, runtime: Runtime, workspace_id: str, journey_id: str, now: datetime
) -> JourneyDryRun:
    """What the journey would have done over the last seven days, caps included."""
    return dry_run_journey(
        runtime=runtime,
        workspace_id=workspace_id,
        journey_id=journey_id,
        since=now - timedelta(days=DRY_RUN_DAYS),
        until=now,
        now=now,
    )


def set_status(
    *, runtime: Runtime, workspace_id: str, journey_id: str, status: JourneyStatus, now: datetime
) -> Journey:
    """Launch (activate) or pause a journey."""
    with runtime.sessions() as session, session.begin():
        return journey_checks.set_status(
            session=session,
            workspace_id=workspace_id,
            journey_id=journey_id,
            status=status,
            now=now,
        )


class JourneyBoard(BaseModel):
    """A journey and its statistics, as the canvas shows them."""

    journey: Journey
    stats: JourneyStats


def board(*, runtime: Runtime, workspace_id: str, journey_id: str) -> JourneyBoard:
    """The journey's current version and its per-node and per-variant statistics.

    Raises:
        NotFoundError: no such journey in the workspace.
    """
    with runtime.sessions() as session:
        journey = journeys.get_journey(
            session=session, workspace_id=workspace_id, journey_id=journey_id
        )
        found = stats.journey_stats(
            session=session, workspace_id=workspace_id, journey_id=journey_id
        )
    return JourneyBoard(journey=journey, stats=found)


def validate(*, text: str) -> JourneyDefinition:
    """The editor's text (JSON or YAML) as a definition; InvalidInputError names the field."""
    return load_definition(text, fmt="auto")


def publish(
    *, runtime: Runtime, workspace_id: str, journey_id: str, text: str, now: datetime
) -> Journey:
    """Validate the editor's text and publish it as the journey's next version."""
    definition = validate(text=text)
    with runtime.sessions() as session, session.begin():
        return journey_checks.publish_version(
            session=session,
            workspace_id=workspace_id,
            journey_id=journey_id,
            definition=definition,
            now=now,
        )
