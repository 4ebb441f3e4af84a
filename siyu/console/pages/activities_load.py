"""The blocking calls behind the activities page."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from siyu.activities import service as activities
from siyu.activities.models import Activity, ActivityCreate, ActivityStats
from siyu.core.runtime import Runtime
from siyu.pipeline import activities as flow


class ActivityCard(BaseModel):
    """An activity and its funnel, cost and ROI."""

    activity: Activity
    stats: ActivityStats


def board(*, runtime: Runtime, workspace_id: str) -> list[ActivityCard]:
    """Every activity (newest first) with its stats."""
    with runtime.sessions() as session:
        found = activities.list_activities(session=session, workspace_id=workspace_id)
    return [
        ActivityCard(
            activity=activity,
            stats=flow.activity_stats(
                runtime=runtime, workspace_id=workspace_id, activity_id=activity.id
            ),
        )
        for activity in found
    ]


def create(
    *, runtime: Runtime, workspace_id: str, activity: ActivityCreate, now: datetime
) -> Activity:
    """Store a new activity."""
    with runtime.sessions() as session, session.begin():
        return activities.create_activity(
            session=session, workspace_id=workspace_id, activity=activity, now=now
        )


def set_paused(*, runtime: Runtime, workspace_id: str, activity_id: str, paused: bool) -> Activity:
    """Pause or resume an activity."""
    with runtime.sessions() as session, session.begin():
        return activities.set_paused(
            session=session, workspace_id=workspace_id, activity_id=activity_id, paused=paused
        )


def end(*, runtime: Runtime, workspace_id: str, activity_id: str, now: datetime) -> Activity:
    """End an activity now."""
    with runtime.sessions() as session, session.begin():
        return activities.end_activity(
            session=session, workspace_id=workspace_id, activity_id=activity_id, now=now
        )
