"""Date-trait and schedule triggers: who enters when, and never twice for one date or run."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from siyu.journeys.engine import advance_due
from siyu.journeys.models import DateTraitTrigger, ScheduleTrigger
from siyu.journeys.triggers import date_matches, last_run, scan_triggers, trait_date
from siyu.profiles.tables import profile_traits
from siyu.segments import service as segments
from siyu.segments.models import SegmentCreate, Trait
from tests.journeys.conftest import NOW, WS, make_journey

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXIT = [{"type": "exit", "id": "x"}]


def test_date_matching() -> None:
    birthday = DateTraitTrigger(trait="birthday", annual=True)
    assert date_matches(date(1990, 11, 28), birthday, date(2026, 11, 28))
    assert not date_matches(date(1990, 11, 27), birthday, date(2026, 11, 28))
    assert date_matches(date(2000, 2, 29), birthday, date(2027, 2, 28))  # not a leap year
    week_before = DateTraitTrigger(trait="expires", offset_days=-7)
    assert date_matches(date(2026, 12, 5), week_before, date(2026, 11, 28))
    assert not date_matches(date(2027, 12, 5), week_before, date(2026, 11, 28))
    assert trait_date("2026-12-05T00:00:00+08:00") == date(2026, 12, 5)
    assert trait_date("soon") is None and trait_date(20261205) is None


def test_last_run_of_schedules() -> None:
    daily = ScheduleTrigger(segment_id="s", every="day", at=time(10, 0))
    # NOW is 12:00 in Shanghai: today's 10:00 run is due
    assert last_run(daily, NOW, SHANGHAI) == datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
    assert last_run(daily, NOW - timedelta(hours=3), SHANGHAI) == datetime(
        2026, 11, 27, 10, 0, tzinfo=SHANGHAI
    )
    weekly = ScheduleTrigger(segment_id="s", every="week", weekday=0, at=time(9, 0))
    assert last_run(weekly, NOW, SHANGHAI) is None  # Monday's run is 5 days back: missed
    once = ScheduleTrigger(segment_id="s", once_at=NOW - timedelta(hours=1))
    assert last_run(once, NOW, SHANGHAI) == NOW - timedelta(hours=1)
    assert last_run(once, NOW + timedelta(days=2), SHANGHAI) is None


def test_scan_enters_birthdays_and_schedules_once(db: sessionmaker[Session]) -> None:
    make_journey(
        db, EXIT, name="birthday",
        trigger={"type": "date_trait", "trait": "birthday", "annual": True, "at": "09:00"},
    )  # fmt: skip
    with db() as session, session.begin():
        session.execute(
            insert(profile_traits),
            [
                {"workspace_id": WS, "person_id": p, "name": "birthday", "value": v,
                 "observed_at": NOW}
                for p, v in [("p_1", "1990-11-28"), ("p_2", "1991-11-29"), ("p_3", "x")]
            ],
        )  # fmt: skip
        segment = segments.create_segment(
            session=session, workspace_id=WS, now=NOW,
            segment=SegmentCreate(name="vip", definition=Trait(name="vip", op="eq", value=True)),
        )  # fmt: skip
        segments.store_members(session=session, workspace_id=WS, segment_id=segment.id,
                               person_ids=["p_7", "p_8"], now=NOW)  # fmt: skip
    make_journey(
        db, EXIT, name="daily",
        trigger={"type": "schedule", "segment_id": segment.id, "every": "day", "at": "11:00"},
        settings={"reentry": True},
    )  # fmt: skip

    def scan(now: datetime) -> int:
        with db() as session, session.begin():
            entered = scan_triggers(session=session, workspace_id=WS, now=now)
        advance_due(session_factory=db, workspace_id=WS, now=now)  # they leave at once
        return entered

    early = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai: nothing yet
    assert scan(early) == 2  # yesterday's 11:00 daily run is still within its grace
    assert scan(NOW) == 3  # birthday p_1 + today's run for p_7, p_8
    assert scan(NOW + timedelta(minutes=5)) == 0  # same date, same run: nobody twice
