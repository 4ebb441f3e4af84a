"""Entering people into journeys, honouring status, window, re-entry rules and limits.

Every entry carries an ``entry_key`` (the triggering message id, the segment change, the
date or the schedule run), unique per person and journey, so a replayed event or a second
scan enters nobody twice; two processes racing on one entry both insert-or-ignore.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from siyu.core.db import insert_ignore
from siyu.core.ids import new_id
from siyu.journeys.actions import LIVE, StateStatus
from siyu.journeys.models import JourneyDefinition
from siyu.journeys.service import Journey, JourneyStatus
from siyu.journeys.tables import journey_states
from siyu.journeys.writes import insert_entries_pg

_CHUNK = 500


@dataclass(slots=True)
class EntryHistory:
    """Entries a person made into one journey (for the re-entry rules)."""

    entries: int = 0
    last_entered: datetime | None = None
    live: bool = False


def _histories(
    session: Session, workspace_id: str, journey_id: str, person_ids: Sequence[str]
) -> dict[str, EntryHistory]:
    s = journey_states.c
    result: dict[str, EntryHistory] = {}
    for start in range(0, len(person_ids), _CHUNK):
        part = person_ids[start : start + _CHUNK]
        # By person only (the key's prefix), journey filtered here: given the journey too,
        # PostgreSQL with a stale estimate skip-scans the key and filters every person.
        rows = session.execute(
            select(s.person_id, s.journey_id, s.entered_at, s.status).where(
                s.workspace_id == workspace_id, s.person_id.in_(part)
            )
        )
        for person_id, journey, entered_at, status in rows:
            if journey != journey_id:
                continue
            h = result.setdefault(person_id, EntryHistory())
            h.entries += 1
            h.last_entered = max(filter(None, (h.last_entered, entered_at)))
            h.live = h.live or status in LIVE
    return result


def may_enter(history: EntryHistory | None, definition: JourneyDefinition, now: datetime) -> bool:
    """Whether a person with this history may enter again now (pure)."""
    if history is None or history.entries == 0:
        return True
    settings = definition.settings
    if history.live or not settings.reentry:
        return False
    if settings.entry_limit is not None and history.entries >= settings.entry_limit:
        return False
    after = settings.reentry_after
    return after is None or history.last_entered is None or history.last_entered + after <= now


def in_window(definition: JourneyDefinition, now: datetime) -> bool:
    """Whether the journey takes entries at ``now``."""
    settings = definition.settings
    if settings.start_at is not None and now < settings.start_at:
        return False
    return settings.end_at is None or now < settings.end_at


def enter_persons(
    *,
    session: Session,
    journey: Journey,
    candidates: Sequence[tuple[str, str]],
    now: datetime,
) -> int:
    """Enter ``(person_id, entry_key)`` pairs into an active journey; how many entered.

    A person appears at most once per call (their first key wins); the journey's current
    version is the one they will follow until they leave.
    """
    definition = journey.definition
    if journey.status is not JourneyStatus.ACTIVE or not in_window(definition, now):
        return 0
    keys: dict[str, str] = {}
    for person_id, key in candidates:
        keys.setdefault(person_id, key)
    persons = list(keys)
    histories = _histories(session, journey.workspace_id, journey.id, persons)
    chosen = [p for p in persons if may_enter(histories.get(p), definition, now)]
    if definition.settings.max_entries is not None:
        so_far = session.execute(
            select(func.count()).where(journey_states.c.journey_id == journey.id)
        ).scalar_one()
        chosen = chosen[: max(0, definition.settings.max_entries - so_far)]
    if not chosen:
        return 0
    numbers = {p: (histories[p].entries if p in histories else 0) + 1 for p in chosen}
    if session.get_bind().dialect.name == "postgresql":
        return insert_entries_pg(
            session,
            workspace_id=journey.workspace_id,
            journey_id=journey.id,
            version=journey.current_version,
            node_id=definition.start,
            entries=[(new_id("jst"), p, numbers[p], keys[p][:200]) for p in chosen],
            now=now,
        )
    rows = [
        {
            "id": new_id("jst"),
            "workspace_id": journey.workspace_id,
            "journey_id": journey.id,
            "version": journey.current_version,
            "person_id": p,
            "entry_no": numbers[p],
            "entry_key": keys[p][:200],
            "node_id": definition.start,
            "status": StateStatus.ACTIVE.value,
            "due_at": now,
            "wait_event": None,
            "variant": None,
            "steps": 0,
            "entered_at": now,
            "updated_at": now,
            "ended_at": None,
        }
        for p in chosen
    ]
    # The returned keys count what went in.
    return len(
        insert_ignore(session, journey_states, rows, returning=list(journey_states.primary_key))
    )
