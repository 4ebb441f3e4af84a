"""Shared set-up for activity tests: a workspace, persons with ids, activities."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from siyu.activities import service as activities
from siyu.activities.models import Activity, ActivityCreate
from siyu.collect.models import Identifier, IdType
from siyu.identity import service as identity


def persons(session: Session, ws: str, names: list[str], now: datetime) -> list[str]:
    """One person per user id (created ``now``)."""
    return identity.resolve_batch(
        session=session,
        workspace_id=ws,
        links=[[Identifier(IdType.USER_ID, n)] for n in names],
        message_ids=[f"m-{n}" for n in names],
        now=now,
    )


def same_device(session: Session, ws: str, first: str, second: str, now: datetime) -> list[str]:
    """Two accounts seen on one device: OneID keeps them apart and records a conflict."""
    return identity.resolve_batch(
        session=session,
        workspace_id=ws,
        links=[
            [Identifier(IdType.USER_ID, first), Identifier(IdType.DEVICE_ID, f"dev-{first}")],
            [Identifier(IdType.USER_ID, second), Identifier(IdType.DEVICE_ID, f"dev-{first}")],
        ],
        message_ids=[f"m-{first}", f"m-{second}"],
        now=now,
    )


def create(session: Session, ws: str, now: datetime, **fields: Any) -> Activity:
    """An activity running from a day before ``now`` to a week after."""
    body = {"starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=7), **fields}
    return activities.create_activity(
        session=session, workspace_id=ws, activity=ActivityCreate.model_validate(body), now=now
    )
