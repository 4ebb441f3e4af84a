"""Dry run: who would enter a journey over a date range and what it would send, per channel
and day — computed with the engine's own pure stepping, writing nothing.

Entrants: event triggers count the matching events in the event store over the range (with
re-entry rules applied); segment triggers take the current members (entering at ``since``);
schedules take the current members at each run; date traits the persons whose date falls in
the range. Each entrant is walked through the definition with :func:`stepping.step` — the
same split hash, waits and branches on the person's current facts; waits for an event are
assumed to time out (the event store cannot say who would do it). A ``caps`` callback (the
channels restraint) says how many of the planned sends it would hold back.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.channels.models import Channel, Purpose
from siyu.collect.models import CollectedEvent, MessageType
from siyu.core.errors import InvalidInputError
from siyu.core.eventstore import EventStore
from siyu.journeys.actions import Facts, SendMessage, StaffTask, StateStatus, StepState
from siyu.journeys.conditions import matches
from siyu.journeys.entry import EntryHistory, in_window, may_enter
from siyu.journeys.facts import load_facts
from siyu.journeys.models import (
    DateTraitTrigger,
    EventTrigger,
    JourneyDefinition,
    ScheduleTrigger,
    SegmentEnteredTrigger,
)
from siyu.journeys.stepping import step
from siyu.journeys.triggers import date_matches, members_of, trait_date
from siyu.profiles.tables import profile_traits

MAX_RANGE = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class PlannedSend:
    """One message the journey would send (what a caps function judges)."""

    person_id: str
    channel: Channel
    at: datetime
    purpose: Purpose
    priority: int


CapsFn = Callable[[Sequence[PlannedSend]], int]
"""Returns how many of the planned sends frequency caps, consent and quiet hours would hold."""


class ChannelDay(BaseModel):
    """Messages of one channel on one local day."""

    day: date
    channel: str
    messages: int


class DryRun(BaseModel):
    """What a journey would do over [since, until)."""

    since: datetime
    until: datetime
    entries: int = Field(description="Entries in the range.")
    entries_by_day: dict[date, int]
    messages: list[ChannelDay] = Field(description="Sends per channel per local day in range.")
    messages_total: int
    staff_tasks: int
    held_back: int | None = Field(default=None, description="By the caps function, if given.")
    notes: list[str] = Field(default_factory=list)


_ENTRIES_SQL = {
    "duckdb": "SELECT person_id, timestamp, properties, context, traits, revenue_fen, "
    "channel, campaign, message_id FROM events WHERE type = $type AND ($event IS NULL OR "
    "event = $event) AND timestamp >= $since AND timestamp < $until ORDER BY timestamp",
    "clickhouse": "SELECT person_id, timestamp, properties, context, traits, revenue_fen, "
    "channel, campaign, message_id FROM events WHERE type = {type:String} AND "
    "({event:Nullable(String)} IS NULL OR event = {event:Nullable(String)}) AND "
    "timestamp >= {since:DateTime64(6, 'UTC')} AND timestamp < {until:DateTime64(6, 'UTC')} "
    "ORDER BY timestamp",
}
"""The trigger's events in [since, until), per event-store dialect."""


def _event_entries(
    events: EventStore, workspace_id: str, trigger: EventTrigger, since: datetime, until: datetime
) -> Iterator[tuple[str, datetime]]:
    name = trigger.spec.event
    kind, event = (name[1:], None) if name.startswith("$") else ("track", name)
    table = events.query(
        workspace_id,
        _ENTRIES_SQL[events.dialect],
        {"type": kind, "event": event, "since": since, "until": until},
    )
    for row in table.to_pylist():
        collected = CollectedEvent(
            message_id=row["message_id"], type=MessageType(kind), timestamp=row["timestamp"],
            received_at=row["timestamp"], event=event,
            properties=json.loads(row["properties"] or "{}"),
            context=json.loads(row["context"] or "{}"), traits=json.loads(row["traits"] or "{}"),
            revenue_fen=row["revenue_fen"], channel=row["channel"], campaign=row["campaign"],
        )  # fmt: skip
        if row["person_id"] and matches(trigger.spec, collected):
            yield row["person_id"], row["timestamp"]


def _days(since: datetime, until: datetime, zone: ZoneInfo) -> Iterator[date]:
    day, last = since.astimezone(zone).date(), until.astimezone(zone).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _candidates(
    session: Session,
    workspace_id: str,
    definition: JourneyDefinition,
    window: tuple[datetime, datetime],
    events: EventStore | None,
) -> list[tuple[str, datetime]]:
    since, until = window
    trigger = definition.trigger
    zone = ZoneInfo(definition.settings.zone)
    match trigger:
        case EventTrigger():
            if events is None:
                raise InvalidInputError("an event trigger needs the event store", field="events")
            return list(_event_entries(events, workspace_id, trigger, since, until))
        case SegmentEnteredTrigger():
            return [(p, since) for p in members_of(session, workspace_id, trigger.segment_id)]
        case ScheduleTrigger():
            members = list(members_of(session, workspace_id, trigger.segment_id))
            return [(p, run) for run in _runs(trigger, since, until, zone) for p in members]
        case DateTraitTrigger():
            return _date_candidates(session, workspace_id, trigger, since, until, zone)
    return []  # segment_left: who will leave is not knowable in advance


def _runs(
    trigger: ScheduleTrigger, since: datetime, until: datetime, zone: ZoneInfo
) -> list[datetime]:
    if trigger.once_at is not None:
        return [trigger.once_at] if since <= trigger.once_at < until else []
    runs = []
    for day in _days(since, until, zone):
        if trigger.every == "week" and day.weekday() != trigger.weekday:
            continue
        run = datetime.combine(day, trigger.at, tzinfo=zone)
        if since <= run < until:
            runs.append(run)
    return runs


def _date_candidates(
    session: Session,
    workspace_id: str,
    trigger: DateTraitTrigger,
    since: datetime,
    until: datetime,
    zone: ZoneInfo,
) -> list[tuple[str, datetime]]:
    t = profile_traits.c
    dated = [
        (person_id, found)
        for person_id, value in session.execute(
            select(t.person_id, t.value).where(
                t.workspace_id == workspace_id, t.name == trigger.trait
            )
        )
        if (found := trait_date(value)) is not None
    ]
    result: list[tuple[str, datetime]] = []
    for day in _days(since, until, zone):
        at = datetime.combine(day, trigger.at, tzinfo=zone)
        if since <= at < until:
            result.extend((p, at) for p, found in dated if date_matches(found, trigger, day))
    return result


def _walk(
    definition: JourneyDefinition, journey_id: str, person_id: str, facts: Facts, at: datetime
) -> tuple[list[tuple[datetime, object]], datetime]:
    """Every action of one entry with its time, and when the entry would end."""
    state = StepState(id="dry", journey_id=journey_id, person_id=person_id, entry_no=1,
                      node_id=definition.start, status=StateStatus.ACTIVE)  # fmt: skip
    done: list[tuple[datetime, object]] = []
    for _ in range(len(definition.nodes) + 1):
        outcome = step(state, definition, facts, at)
        done.extend((at, action) for action in outcome.actions)
        if outcome.status is not StateStatus.WAITING or outcome.due_at is None:
            return done, at
        state.node_id, state.status, state.variant = (
            outcome.node_id,
            outcome.status,
            outcome.variant,
        )
        at = outcome.due_at
    return done, at


def dry_run(
    *,
    session: Session,
    workspace_id: str,
    definition: JourneyDefinition,
    since: datetime,
    until: datetime,
    journey_id: str | None = None,
    events: EventStore | None = None,
    caps: CapsFn | None = None,
) -> DryRun:
    """What ``definition`` would do over [since, until); reads only, writes nothing.

    Args:
        journey_id: the saved journey's id (the split hash uses it); None for an unsaved
            draft (then its name stands in, and variants may differ once saved).
        events: the event store, needed for event triggers.
        caps: the channels restraint: how many planned sends it would hold back.

    Raises:
        InvalidInputError: a bad range, or an event trigger without an event store.
    """
    if until <= since or until - since > MAX_RANGE:
        raise InvalidInputError("until must be after since, at most 366 days", field="until")
    zone = ZoneInfo(definition.settings.zone)
    candidates = _candidates(session, workspace_id, definition, (since, until), events)
    facts = load_facts(session=session, workspace_id=workspace_id,
                       person_ids=[p for p, _ in candidates])  # fmt: skip
    histories: dict[str, tuple[EntryHistory, datetime]] = {}
    entries: Counter[date] = Counter()
    sends: list[PlannedSend] = []
    tasks = 0
    for person_id, at in sorted(candidates, key=lambda c: c[1]):
        history, ends = histories.get(person_id, (EntryHistory(), at))
        history.live = ends > at
        if not in_window(definition, at) or not may_enter(history, definition, at):
            continue
        actions, ends = _walk(definition, journey_id or definition.name, person_id,
                              facts[person_id], at)  # fmt: skip
        history.entries, history.last_entered = history.entries + 1, at
        histories[person_id] = (history, ends)
        entries[at.astimezone(zone).date()] += 1
        for when, action in actions:
            tasks += isinstance(action, StaffTask)
            if isinstance(action, SendMessage) and when < until:
                request = action.request
                sends.append(PlannedSend(person_id, request.channel, when, request.purpose,
                                         request.priority))  # fmt: skip
    per_day = Counter((s.at.astimezone(zone).date(), s.channel.value) for s in sends)
    notes = []
    if any(getattr(n, "until_event", None) for n in definition.nodes):
        notes.append("waits for an event are assumed to time out")
    return DryRun(
        since=since,
        until=until,
        entries=sum(entries.values()),
        entries_by_day=dict(sorted(entries.items())),
        messages=[
            ChannelDay(day=d, channel=c, messages=n) for (d, c), n in sorted(per_day.items())
        ],
        messages_total=len(sends),
        staff_tasks=tasks,
        held_back=caps(sends) if caps is not None else None,
        notes=notes,
    )
