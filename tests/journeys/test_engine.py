"""The journey engine on SQLite and PostgreSQL: entry, re-entry, waits, goals, versions, pause."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.journeys import service as journeys
from siyu.journeys.definition import parse_definition
from siyu.journeys.engine import advance_due
from siyu.journeys.reactions import (
    _react_state,
    complete_staff_task,
    on_events,
    on_segment_changes,
)
from siyu.journeys.tables import journey_states
from tests.journeys.conftest import NOW, WS, event, make_journey, record, recorded, reset_recorder

EXIT = {"type": "exit", "id": "x"}
TAG = {"type": "action", "id": "t", "action": {"type": "add_tag", "tag": "new"}, "next": "w"}
SEND = {
    "type": "action",
    "id": "m",
    "action": {"type": "send_message", "channel": "sms", "template": "hi"},
    "next": "x",
}


def _events(db: sessionmaker[Session], pairs: list[tuple[Any, str]], now: Any = NOW) -> Any:
    with db() as session, session.begin():
        return on_events(
            session=session,
            workspace_id=WS,
            events=[e for e, _ in pairs],
            person_ids=[p for _, p in pairs],
            now=now,
        )


def _advance(db: sessionmaker[Session], now: Any) -> Any:
    return advance_due(
        session_factory=db, workspace_id=WS, now=now, batch_size=2, apply_actions=record
    )


def _states(db: sessionmaker[Session]) -> list[tuple[str, int, str, str]]:
    s = journey_states.c
    with db() as session:
        rows = session.execute(select(s.person_id, s.entry_no, s.node_id, s.status))
        return sorted((r.person_id, r.entry_no, r.node_id, r.status) for r in rows)


def test_event_entry_wait_and_send(db: sessionmaker[Session], db_engine: Engine) -> None:
    reset_recorder(db_engine)
    make_journey(db, [TAG, {"type": "wait", "id": "w", "duration": "P1D", "next": "m"}, SEND, EXIT])
    signed = [(event("Signed Up", f"m{i}"), f"p_{i}") for i in range(5)]
    assert _events(db, [*signed, (event("Other", "o1"), "p_9")]).entered == 5
    assert _events(db, signed[:2]).entered == 0  # replayed message ids enter nobody twice
    first = _advance(db, NOW)
    assert (first.stepped, first.transitions, first.batches) == (5, 10, 3)
    assert recorded(db) == [("add_tag", f"p_{i}") for i in range(5)]
    assert _advance(db, NOW + timedelta(hours=23)).stepped == 0
    later = _advance(db, NOW + timedelta(days=1))
    assert (later.stepped, later.transitions) == (5, 2 * 5)
    assert [r for r in recorded(db) if r[0] == "send_message"] == [
        ("send_message", f"p_{i}") for i in range(5)
    ]
    assert {s[2:] for s in _states(db)} == {("x", "exited")}


def test_reentry_rules(db: sessionmaker[Session], db_engine: Engine) -> None:
    reset_recorder(db_engine)
    make_journey(db, [EXIT], name="once")
    make_journey(
        db,
        [EXIT],
        name="again",
        trigger={"type": "event", "spec": {"event": "Visit"}},
        settings={"reentry": True, "reentry_after": "P7D", "entry_limit": 2},
    )
    for day in range(20):
        now = NOW + timedelta(days=day)
        _events(db, [(event("Signed Up", f"s{day}", now), "p_1")], now)
        _events(db, [(event("Visit", f"v{day}", now), "p_1")], now)
        _advance(db, now)
    s = journey_states.c
    with db() as session:
        entries = sorted(session.execute(select(s.journey_id, s.entered_at)).all())
    per_journey: dict[str, list[Any]] = {}
    for journey_id, at in entries:
        per_journey.setdefault(journey_id, []).append(at)
    once, again = sorted(per_journey.values(), key=len)
    assert once == [NOW]
    assert again == [NOW, NOW + timedelta(days=7)]  # re-entry after 7 days, limit 2


def test_no_second_entry_while_still_inside(db: sessionmaker[Session]) -> None:
    make_journey(
        db,
        [{"type": "wait", "id": "w", "duration": "P3D", "next": "x"}, EXIT],
        settings={"reentry": True},
    )
    _events(db, [(event("Signed Up", "a"), "p_1")])
    _advance(db, NOW)
    assert _events(db, [(event("Signed Up", "b"), "p_1")]).entered == 0
    _advance(db, NOW + timedelta(days=3))
    assert _events(db, [(event("Signed Up", "c"), "p_1")]).entered == 1


def test_wait_for_event_wakes_or_times_out(db: sessionmaker[Session], db_engine: Engine) -> None:
    reset_recorder(db_engine)
    wait = {
        "type": "wait",
        "id": "w",
        "until_event": {
            "event": "Coupon Used",
            "where": [{"path": "properties.amount", "op": "gte", "value": 10}],
        },
        "timeout": "P2D",
        "next": "m",
        "timeout_next": "x",
    }
    make_journey(db, [wait, SEND, EXIT])
    _events(db, [(event("Signed Up", "a"), "p_1"), (event("Signed Up", "b"), "p_2")])
    _advance(db, NOW)
    soon = NOW + timedelta(hours=5)
    too_small = event("Coupon Used", "c0", soon, amount=5)
    woke = _events(db, [(too_small, "p_1"), (event("Coupon Used", "c1", soon, amount=20), "p_1")])
    assert woke.woken == 1
    _advance(db, soon)
    assert recorded(db) == [("send_message", "p_1")]
    _advance(db, NOW + timedelta(days=2))
    assert _states(db) == [("p_1", 1, "x", "exited"), ("p_2", 1, "x", "exited")]
    assert recorded(db) == [("send_message", "p_1")]  # p_2 timed out: no message


def test_goal_event_converts_from_anywhere(db: sessionmaker[Session]) -> None:
    make_journey(
        db,
        [
            {"type": "wait", "id": "w", "duration": "P1D", "next": "g"},
            {"type": "goal", "id": "g", "event": {"event": "Order Completed"}, "within": "P3D"},
        ],
    )
    _events(db, [(event("Signed Up", f"s{i}"), f"p_{i}") for i in range(3)])
    _advance(db, NOW)
    out = _events(db, [(event("Order Completed", "o0", NOW + timedelta(hours=1)), "p_0")])
    assert out.converted == 1
    _advance(db, NOW + timedelta(days=1))
    _events(db, [(event("Order Completed", "o1", NOW + timedelta(days=2)), "p_1")])
    _advance(db, NOW + timedelta(days=5))
    assert [s[3] for s in _states(db)] == ["converted", "converted", "exited"]


def test_new_version_does_not_strand_people(db: sessionmaker[Session], db_engine: Engine) -> None:
    reset_recorder(db_engine)
    journey = make_journey(
        db, [TAG, {"type": "wait", "id": "w", "duration": "P1D", "next": "m"}, SEND, EXIT]
    )
    _events(db, [(event("Signed Up", "a"), "p_old")])
    _advance(db, NOW)
    v2 = parse_definition(
        {
            "name": "j",
            "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
            "start": "only",
            "nodes": [{"type": "exit", "id": "only"}],
        }
    )
    with db() as session, session.begin():
        published = journeys.publish_version(
            session=session, workspace_id=WS, journey_id=journey.id, definition=v2, now=NOW
        )
    assert published.current_version == 2
    _events(db, [(event("Signed Up", "b"), "p_new")])
    _advance(db, NOW + timedelta(days=1))
    # the old entrant finishes v1 (its wait and message); the new one follows v2
    assert _states(db) == [("p_new", 1, "only", "exited"), ("p_old", 1, "x", "exited")]
    assert recorded(db) == [("add_tag", "p_old"), ("send_message", "p_old")]


def test_pause_holds_entries_and_steps_until_resume(db: sessionmaker[Session]) -> None:
    journey = make_journey(db, [{"type": "wait", "id": "w", "duration": "PT1H", "next": "x"}, EXIT])
    _events(db, [(event("Signed Up", "a"), "p_1")])
    _advance(db, NOW)

    def status(value: journeys.JourneyStatus) -> None:
        with db() as session, session.begin():
            journeys.set_status(
                session=session, workspace_id=WS, journey_id=journey.id, status=value, now=NOW
            )

    status(journeys.JourneyStatus.PAUSED)
    assert _events(db, [(event("Signed Up", "b"), "p_2")]).entered == 0
    assert _advance(db, NOW + timedelta(hours=2)).stepped == 0
    status(journeys.JourneyStatus.ACTIVE)
    assert _advance(db, NOW + timedelta(hours=2)).stepped == 1
    assert _states(db) == [("p_1", 1, "x", "exited")]


def test_segment_entry_and_staff_task(db: sessionmaker[Session], db_engine: Engine) -> None:
    reset_recorder(db_engine)
    task = {
        "type": "staff_task",
        "id": "k",
        "task": "问候",
        "sla": "PT4H",
        "next": "x",
        "fallback": "m",
    }
    make_journey(db, [task, SEND, EXIT], trigger={"type": "segment_entered", "segment_id": "seg_1"})
    with db() as session, session.begin():
        entered = on_segment_changes(
            session=session,
            workspace_id=WS,
            segment_id="seg_1",
            entered=["p_1", "p_2"],
            left=["p_3"],
            now=NOW,
        )
    assert entered == 2
    _advance(db, NOW)
    with db() as session, session.begin():
        s = journey_states.c
        state_id = session.execute(select(s.id).where(s.person_id == "p_1")).scalar_one()
        assert complete_staff_task(
            session=session, workspace_id=WS, task_key=f"journey:{state_id}:k:1", now=NOW
        )
    _advance(db, NOW + timedelta(hours=5))
    assert recorded(db) == [("send_message", "p_2"), ("staff_task", "p_1"), ("staff_task", "p_2")]
    with db() as session:
        count = session.execute(select(func.count()).select_from(journey_states)).scalar_one()
    assert count == 2


def test_an_event_racing_a_worker_is_not_lost(db: sessionmaker[Session]) -> None:
    journey = make_journey(
        db,
        [
            {"type": "wait", "id": "w", "duration": "P1D", "next": "g"},
            {"type": "goal", "id": "g", "event": {"event": "Order Completed"}},
        ],
    )
    _events(db, [(event("Signed Up", "a"), "p_1")])
    _advance(db, NOW)
    with db() as session:
        stale = session.execute(journey_states.select()).one()  # read by ingest…
    _advance(db, NOW + timedelta(days=1))  # …then a worker moves the state on
    later = NOW + timedelta(days=1, hours=1)
    with db() as session, session.begin():
        definition = journeys.VersionCache().get(session, journey.id, 1)
        kind = _react_state(
            session, stale, definition, [event("Order Completed", "o", later)], later
        )
    assert kind == "converted"  # the guarded update lost, the state was re-read and converted
    assert _states(db) == [("p_1", 1, "g", "converted")]
