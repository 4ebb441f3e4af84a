"""Journeys reacting to what happened: events (entry, wake-up, goal), segment changes, staff.

These only enter people or move a waiting state to the node it should run next with
``due_at = now``; the scheduler (:mod:`siyu.journeys.engine`) runs nodes and their actions.
Each move is guarded by the state's ``steps`` counter, so it loses cleanly to a worker that
stepped the state in between.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import CursorResult, insert, update
from sqlalchemy.orm import Session

from siyu.collect.models import CollectedEvent
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.journeys.actions import StateStatus
from siyu.journeys.conditions import matches
from siyu.journeys.engine import states_for
from siyu.journeys.entry import enter_persons
from siyu.journeys.models import (
    EventTrigger,
    GoalNode,
    JourneyDefinition,
    SegmentEnteredTrigger,
    SegmentLeftTrigger,
    StaffTaskNode,
    WaitNode,
)
from siyu.journeys.service import JourneyStatus, VersionCache, list_journeys
from siyu.journeys.tables import journey_events, journey_states

_s = journey_states.c


class EventsOutcome(BaseModel):
    """What a batch of events did to journeys."""

    entered: int = 0
    woken: int = 0
    converted: int = 0


def on_events(
    *,
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
) -> EventsOutcome:
    """Enter event-triggered journeys, wake event waits, convert on goal events.

    Args:
        session: the ingest transaction (the caller commits).
        workspace_id: the workspace.
        events: the newly collected events, in order.
        person_ids: the person each event resolved to (same order).
        now: the ingest time.
    """
    if len(events) != len(person_ids):
        raise InvalidInputError("one person id per event", field="person_ids")
    outcome = EventsOutcome(
        entered=_enter_on_events(session, workspace_id, events, person_ids, now)
    )
    by_person: dict[str, list[CollectedEvent]] = defaultdict(list)
    for event, person_id in zip(events, person_ids, strict=True):
        by_person[person_id].append(event)
    versions = VersionCache()
    for state in states_for(session, workspace_id, sorted(by_person)):
        definition = versions.get(session, state.journey_id, state.version)
        kind = _react_state(session, state, definition, by_person[state.person_id], now)
        outcome.woken += kind == "woken"
        outcome.converted += kind == "converted"
    return outcome


def _react_state(
    session: Session,
    state: Any,
    definition: JourneyDefinition,
    events: list[CollectedEvent],
    now: datetime,
) -> str | None:
    """The first reaction of one state to its person's events; a state a worker stepped
    meanwhile (the guarded update lost) is read again and tried once more."""
    for _attempt in range(2):
        # The event a person entered on is not also their goal or wake-up (an order entering a
        # repurchase journey whose timestamp equals the entry time would convert it at once).
        later = sorted(
            (
                e
                for e in events
                if e.timestamp >= state.entered_at and e.message_id != state.entry_key
            ),
            key=_at,
        )
        kind = next(filter(None, (_react(session, state, definition, e, now) for e in later)), None)
        if kind != "lost":
            return kind
        state = session.execute(
            journey_states.select().where(_s.id == state.id, _s.due_at.is_not(None))
        ).one_or_none()
        if state is None:
            return None  # it ended meanwhile
    return None


def _at(event: CollectedEvent) -> datetime:
    return event.timestamp


def _enter_on_events(
    session: Session,
    workspace_id: str,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str],
    now: datetime,
) -> int:
    entered = 0
    for journey in list_journeys(
        session=session, workspace_id=workspace_id, status=JourneyStatus.ACTIVE
    ):
        trigger = journey.definition.trigger
        if isinstance(trigger, EventTrigger):
            pairs = [
                (p, e.message_id)
                for e, p in zip(events, person_ids, strict=True)
                if matches(trigger.spec, e)
            ]
            entered += enter_persons(session=session, journey=journey, candidates=pairs, now=now)
    return entered


def _react(
    session: Session,
    state: Any,
    definition: JourneyDefinition,
    event: CollectedEvent,
    now: datetime,
) -> str | None:
    nodes = definition.node_map()
    here = nodes[state.node_id]
    goal = next(
        (n for n in definition.nodes if isinstance(n, GoalNode) and matches(n.event, event)), None
    )
    if goal is not None:
        if not _move(session, state, goal.id, StateStatus.CONVERTED, None, now):
            return "lost"
        _log(session, state, goal.id, "converted", now)
        if state.status == StateStatus.WAITING.value and state.node_id != goal.id:
            _log(session, state, state.node_id, "ended", now)  # left its wait for good
        return "converted"
    waiting = state.status == StateStatus.WAITING.value
    if (
        waiting
        and isinstance(here, WaitNode)
        and here.until_event
        and matches(here.until_event, event)
    ):
        return "woken" if _move(session, state, here.next, StateStatus.ACTIVE, now, now) else "lost"
    return None


def _move(
    session: Session,
    state: Any,
    node_id: str,
    status: StateStatus,
    due_at: datetime | None,
    now: datetime,
) -> bool:
    ended = now if due_at is None else None
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(journey_states)
        .where(_s.id == state.id, _s.steps == state.steps)
        .values(
            node_id=node_id,
            status=status.value,
            due_at=due_at,
            wait_event=None,
            steps=_s.steps + 1,
            updated_at=now,
            ended_at=ended,
        )
    )
    return result.rowcount == 1


def _log(session: Session, state: Any, node_id: str, kind: str, now: datetime) -> None:
    session.execute(
        insert(journey_events).values(
            workspace_id=state.workspace_id,
            journey_id=state.journey_id,
            version=state.version,
            node_id=node_id,
            state_id=state.id,
            variant=state.variant,
            kind=kind,
            at=now,
        )
    )


def on_segment_changes(
    *,
    session: Session,
    workspace_id: str,
    segment_id: str,
    entered: Sequence[str],
    left: Sequence[str],
    now: datetime,
) -> int:
    """Enter journeys triggered by entering or leaving ``segment_id``; how many entered."""
    done = 0
    key = f"segment:{segment_id}:{now.isoformat()}"
    for journey in list_journeys(
        session=session, workspace_id=workspace_id, status=JourneyStatus.ACTIVE
    ):
        trigger = journey.definition.trigger
        if isinstance(trigger, SegmentEnteredTrigger) and trigger.segment_id == segment_id:
            people = entered
        elif isinstance(trigger, SegmentLeftTrigger) and trigger.segment_id == segment_id:
            people = left
        else:
            continue
        done += enter_persons(
            session=session, journey=journey, candidates=[(p, key) for p in people], now=now
        )
    return done


def complete_staff_task(
    *, session: Session, workspace_id: str, task_key: str, now: datetime, lapsed: bool = False
) -> bool:
    """A staff member did the task ``task_key`` (the StaffTask action's key): go on by ``next``
    (``lapsed``: the task lapsed or failed in WeCom — take ``fallback`` now, not at the SLA).

    Returns False when the task already lapsed (the person took the fallback) or was done.

    Raises:
        NotFoundError: no such task.
    """
    parts = task_key.split(":")
    if len(parts) != 4 or parts[0] != "journey":
        raise NotFoundError(f"no staff task {task_key}", field="task_key")
    rows = session.execute(
        journey_states.select().where(_s.id == parts[1], _s.workspace_id == workspace_id)
    ).all()
    if not rows:
        raise NotFoundError(f"no staff task {task_key}", field="task_key")
    state = rows[0]
    node = VersionCache().get(session, state.journey_id, state.version).node_map().get(parts[2])
    if not isinstance(node, StaffTaskNode):
        raise NotFoundError(f"no staff task {task_key}", field="task_key")
    if state.node_id != node.id or state.status != StateStatus.WAITING.value:
        return False
    return _move(
        session, state, node.fallback if lapsed else node.next, StateStatus.ACTIVE, now, now
    )
