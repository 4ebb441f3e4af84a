"""Time-driven entries: date traits (birthday, membership expiry, points expiring) and
schedules (one-off or daily/weekly runs for a segment). A worker calls :func:`scan_triggers`
every few minutes; entry keys (the date, the run) make a second scan enter nobody twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.journeys.entry import enter_persons
from siyu.journeys.models import DateTraitTrigger, ScheduleTrigger
from siyu.journeys.service import Journey, JourneyStatus, list_journeys
from siyu.profiles.tables import profile_traits
from siyu.segments import service as segments

GRACE = timedelta(days=1)  # a run missed for less than this (worker down) still happens


def trait_date(value: Any) -> date | None:
    """The date in a trait value (``1990-05-12`` or an ISO datetime), else None."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def date_matches(found: date, trigger: DateTraitTrigger, today: date) -> bool:
    """Whether a person with this trait date enters ``today`` (local date)."""
    target = today - timedelta(days=trigger.offset_days)
    if not trigger.annual:
        return found == target
    if (found.month, found.day) == (2, 29) and not _leap(target.year):
        return (target.month, target.day) == (2, 28)  # leap-day birthdays on 28 February
    return (found.month, found.day) == (target.month, target.day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def last_run(trigger: ScheduleTrigger, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The latest scheduled run at or before ``now`` within :data:`GRACE`, else None."""
    if trigger.once_at is not None:
        run = trigger.once_at
    else:
        local = now.astimezone(zone)
        day = local.date()
        if trigger.every == "week":
            assert trigger.weekday is not None
            day -= timedelta(days=(day.weekday() - trigger.weekday) % 7)
        run = datetime.combine(day, trigger.at, tzinfo=zone)
        if run > local:
            run -= timedelta(days=7 if trigger.every == "week" else 1)
    return run if run <= now < run + GRACE else None


def members_of(session: Session, workspace_id: str, segment_id: str) -> Iterator[str]:
    """Every current member of a segment, page by page."""
    after: str | None = None
    while True:
        page = segments.members_page(
            session=session, workspace_id=workspace_id, segment_id=segment_id, after=after
        )
        yield from page.items
        if page.next_after is None:
            return
        after = page.next_after


def _scan_schedule(
    session: Session, journey: Journey, trigger: ScheduleTrigger, now: datetime
) -> int:
    run = last_run(trigger, now, ZoneInfo(journey.definition.settings.zone))
    if run is None:
        return 0
    key = f"schedule:{run.isoformat()}"
    people = [(p, key) for p in members_of(session, journey.workspace_id, trigger.segment_id)]
    return enter_persons(session=session, journey=journey, candidates=people, now=now)


def _scan_date(session: Session, journey: Journey, trigger: DateTraitTrigger, now: datetime) -> int:
    local = now.astimezone(ZoneInfo(journey.definition.settings.zone))
    if local.time() < trigger.at:
        return 0
    t = profile_traits.c
    rows = session.execute(
        select(t.person_id, t.value).where(
            t.workspace_id == journey.workspace_id, t.name == trigger.trait
        )
    )
    key = f"date:{local.date().isoformat()}"
    people = [
        (person_id, key)
        for person_id, value in rows
        if (found := trait_date(value)) is not None and date_matches(found, trigger, local.date())
    ]
    return enter_persons(session=session, journey=journey, candidates=people, now=now)


def scan_triggers(*, session: Session, workspace_id: str, now: datetime) -> int:
    """Enter everyone a date-trait or schedule journey takes now; how many entered."""
    entered = 0
    for journey in list_journeys(
        session=session, workspace_id=workspace_id, status=JourneyStatus.ACTIVE
    ):
        trigger = journey.definition.trigger
        if isinstance(trigger, ScheduleTrigger):
            entered += _scan_schedule(session, journey, trigger, now)
        elif isinstance(trigger, DateTraitTrigger):
            entered += _scan_date(session, journey, trigger, now)
    return entered
