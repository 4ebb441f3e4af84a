"""The blocking calls of the journeys page: list, dry run, activate and pause."""

from __future__ import annotations

from datetime import datetime, timedelta

from siyu.core.runtime import Runtime
from siyu.journeys import service as journeys
from siyu.journeys.service import Journey, JourneyStatus
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
        return journeys.set_status(
            session=session,
            workspace_id=workspace_id,
            journey_id=journey_id,
            status=status,
            now=now,
        )
