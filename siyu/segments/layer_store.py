"""Reading and writing layered-operation state: settings, RFM scores, lifecycle states.

Session functions; the caller owns the transaction. Rows never leave this module: results
are the pydantic types of :mod:`siyu.segments.rfm` and :mod:`siyu.segments.lifecycle`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from siyu.segments.layer_tables import (
    layer_settings,
    lifecycle_states,
    lifecycle_transitions,
    rfm_scores,
)
from siyu.segments.lifecycle import LifecycleState, Transition, transitions
from siyu.segments.rfm import RfmScore

M = TypeVar("M", bound=BaseModel)


def load_settings(*, session: Session, workspace_id: str, name: str, model: type[M]) -> M:
    """The workspace's stored settings ``name``, or the model's defaults."""
    value = session.execute(
        select(layer_settings.c.value).where(
            layer_settings.c.workspace_id == workspace_id, layer_settings.c.name == name
        )
    ).scalar_one_or_none()
    return model() if value is None else model.model_validate(value)


def load_raw_settings(*, session: Session, workspace_id: str, name: str) -> dict[str, Any] | None:
    """The stored JSON of settings ``name``, or None."""
    value = session.execute(
        select(layer_settings.c.value).where(
            layer_settings.c.workspace_id == workspace_id, layer_settings.c.name == name
        )
    ).scalar_one_or_none()
    return dict(value) if value is not None else None


def save_settings(
    *, session: Session, workspace_id: str, name: str, value: BaseModel, now: datetime
) -> None:
    """Store settings ``name`` for the workspace (replacing any)."""
    session.execute(
        delete(layer_settings).where(
            layer_settings.c.workspace_id == workspace_id, layer_settings.c.name == name
        )
    )
    session.execute(
        insert(layer_settings).values(
            workspace_id=workspace_id,
            name=name,
            value=value.model_dump(mode="json"),
            updated_at=now,
        )
    )


def replace_rfm_scores(
    *, session: Session, workspace_id: str, scores: Sequence[RfmScore], now: datetime
) -> None:
    """Make ``scores`` the workspace's RFM scores."""
    session.execute(delete(rfm_scores).where(rfm_scores.c.workspace_id == workspace_id))
    if scores:
        session.execute(
            insert(rfm_scores),
            [
                s.model_dump(mode="json") | {"workspace_id": workspace_id, "computed_at": now}
                for s in scores
            ],
        )


def rfm_page(
    *, session: Session, workspace_id: str, segment: str | None, limit: int, offset: int
) -> list[RfmScore]:
    """Stored scores, best first (M, F, R descending), optionally of one segment."""
    c = rfm_scores.c
    query = select(
        c.person_id, c.recency_days, c.frequency, c.monetary_fen, c.r, c.f, c.m, c.segment
    ).where(c.workspace_id == workspace_id)
    if segment is not None:
        query = query.where(c.segment == segment)
    query = query.order_by(c.monetary_fen.desc(), c.person_id).limit(limit).offset(offset)
    return [RfmScore.model_validate(row._asdict()) for row in session.execute(query)]


def rfm_counts(*, session: Session, workspace_id: str) -> tuple[dict[str, int], datetime | None]:
    """Buyers per stored segment, and when the scores were computed."""
    c = rfm_scores.c
    rows = session.execute(
        select(c.segment, func.count(), func.max(c.computed_at))
        .where(c.workspace_id == workspace_id)
        .group_by(c.segment)
    ).all()
    at = max((row[2] for row in rows), default=None)
    return {row[0]: int(row[1]) for row in rows}, at


def _previous_states(session: Session, workspace_id: str) -> dict[str, tuple[Any, ...]]:
    c = lifecycle_states.c
    rows = session.execute(
        select(c.person_id, c.stage, c.activity, c.stage_since, c.activity_since).where(
            c.workspace_id == workspace_id
        )
    ).all()
    return {row.person_id: tuple(row[1:]) for row in rows}


def replace_lifecycle_states(
    *, session: Session, workspace_id: str, states: Sequence[LifecycleState], now: datetime
) -> list[Transition]:
    """Make ``states`` the workspace's lifecycle states; record and return the transitions.

    A person missing from ``states`` (merged into another, or gone from the store) drops out
    of the states; their transitions stay as history.
    """
    previous = _previous_states(session, workspace_id)
    found = transitions(
        {person: (row[0], row[1]) for person, row in previous.items()}, states, now=now
    )
    rows = []
    for s in states:
        stage, activity, stage_since, activity_since = previous.get(
            s.person_id, (None, None, now, now)
        )
        rows.append(
            {
                "workspace_id": workspace_id,
                "person_id": s.person_id,
                "stage": s.stage.value,
                "activity": s.activity.value,
                "days_inactive": s.days_inactive,
                "stage_since": stage_since if stage == s.stage.value else now,
                "activity_since": activity_since if activity == s.activity.value else now,
                "updated_at": now,
            }
        )
    session.execute(delete(lifecycle_states).where(lifecycle_states.c.workspace_id == workspace_id))
    if rows:
        session.execute(insert(lifecycle_states), rows)
    if found:
        session.execute(
            insert(lifecycle_transitions),
            [t.model_dump() | {"workspace_id": workspace_id} for t in found],
        )
    return found


def lifecycle_counts(
    *, session: Session, workspace_id: str
) -> tuple[dict[str, int], dict[str, int], datetime | None]:
    """Persons per stage and per activity status, and when they were computed."""
    c = lifecycle_states.c
    rows = session.execute(
        select(c.stage, c.activity, func.count(), func.max(c.updated_at))
        .where(c.workspace_id == workspace_id)
        .group_by(c.stage, c.activity)
    ).all()
    stages: Counter[str] = Counter()
    activities: Counter[str] = Counter()
    for stage, activity, count, _ in rows:
        stages[stage] += int(count)
        activities[activity] += int(count)
    return dict(stages), dict(activities), max((row[3] for row in rows), default=None)


def person_transitions(
    *, session: Session, workspace_id: str, person_ids: Sequence[str], limit: int
) -> list[Transition]:
    """Transitions of the persons, newest first."""
    c = lifecycle_transitions.c
    rows = session.execute(
        select(c.person_id, c.dimension, c.from_value, c.to_value, c.at)
        .where(c.workspace_id == workspace_id, c.person_id.in_(list(person_ids)))
        .order_by(c.at.desc(), c.id.desc())
        .limit(limit)
    ).all()
    return [Transition.model_validate(row._asdict()) for row in rows]


def transition_counts(
    *, session: Session, workspace_id: str, since: datetime
) -> list[tuple[str, str | None, str, int]]:
    """(dimension, from, to, persons) of transitions at or after ``since``."""
    c = lifecycle_transitions.c
    rows = session.execute(
        select(c.dimension, c.from_value, c.to_value, func.count())
        .where(c.workspace_id == workspace_id, c.at >= since)
        .group_by(c.dimension, c.from_value, c.to_value)
        .order_by(func.count().desc())
    ).all()
    return [(row[0], row[1], row[2], int(row[3])) for row in rows]
