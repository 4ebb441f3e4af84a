"""Dry run: entrants from the event store or segment, sends per channel and day, caps hook."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.service import events_table
from siyu.core.errors import InvalidInputError
from siyu.core.eventstore import DuckDBEventStore
from siyu.journeys.definition import parse_definition
from siyu.journeys.dryrun import PlannedSend, dry_run
from siyu.journeys.models import JourneyDefinition, SplitNode
from siyu.journeys.stepping import assign_variant
from siyu.journeys.tables import journey_states
from siyu.segments import service as segments
from siyu.segments.models import SegmentCreate, Trait
from tests.journeys.conftest import NOW, WS, event

NODES = [
    {"type": "action", "id": "m1", "next": "w",
     "action": {"type": "send_message", "channel": "wecom", "template": "hello"}},
    {"type": "wait", "id": "w", "duration": "P2D", "next": "ab"},
    {"type": "split", "id": "ab", "variants": [
        {"name": "sms", "weight": 1, "next": "m2"},
        {"name": "hold", "weight": 1, "next": "x", "holdout": True}]},
    {"type": "action", "id": "m2", "next": "x",
     "action": {"type": "send_message", "channel": "sms", "template": "again"}},
    {"type": "exit", "id": "x"},
]  # fmt: skip


def _definition(trigger: dict[str, object], **settings: object) -> JourneyDefinition:
    return parse_definition(
        {"name": "dry", "trigger": trigger, "start": "m1", "nodes": NODES, "settings": settings}
    )


def test_event_trigger_counts_events_and_sends(db: sessionmaker[Session], tmp_path: Path) -> None:
    store = DuckDBEventStore(tmp_path / "events")
    days = [NOW + timedelta(days=d) for d in (0, 0, 1, 3, 9)]
    people = ["p_1", "p_2", "p_1", "p_3", "p_4"]  # p_1 twice: no re-entry
    rows = [event("Order Completed", f"o{i}", at, sku="A") for i, at in enumerate(days)]
    store.append(events_table(WS, [*rows, event("Other", "z", NOW)], [*people, "p_9"]))
    definition = _definition(
        {"type": "event", "spec": {"event": "Order Completed",
                                   "where": [{"path": "properties.sku", "op": "eq", "value": "A"}]}}
    )  # fmt: skip
    held: list[PlannedSend] = []

    def caps(sends: Sequence[PlannedSend]) -> int:
        held.extend(sends)
        return sum(1 for s in sends if s.channel.value == "sms")

    with db() as session:
        result = dry_run(session=session, workspace_id=WS, definition=definition,
                         since=NOW, until=NOW + timedelta(days=7), journey_id="jny_x",
                         events=store, caps=caps)  # fmt: skip
    assert result.entries == 3  # p_1, p_2, p_3 (p_4's event is after the range)
    assert result.entries_by_day == {date(2026, 11, 28): 2, date(2026, 12, 1): 1}
    wecom = {(m.day, m.messages) for m in result.messages if m.channel == "wecom"}
    assert wecom == {(date(2026, 11, 28), 2), (date(2026, 12, 1), 1)}
    split = definition.node_map()["ab"]
    assert isinstance(split, SplitNode)
    to_sms = [
        p for p in ("p_1", "p_2", "p_3") if assign_variant("jny_x", p, split.variants).name == "sms"
    ]
    sms = [m for m in result.messages if m.channel == "sms"]
    # sends 2 days after entry; p_3 entered on day 3, its SMS on day 5 is still in range
    assert sum(m.messages for m in sms) == len(to_sms)
    assert result.held_back == len(to_sms) and len(held) == result.messages_total
    with db() as session:
        assert session.execute(select(func.count()).select_from(journey_states)).scalar_one() == 0


def test_segment_trigger_uses_current_members(db: sessionmaker[Session]) -> None:
    with db() as session, session.begin():
        segment = segments.create_segment(
            session=session, workspace_id=WS, now=NOW,
            segment=SegmentCreate(name="s", definition=Trait(name="vip", op="eq", value=True)),
        )  # fmt: skip
        segments.store_members(session=session, workspace_id=WS, segment_id=segment.id,
                               person_ids=[f"p_{i}" for i in range(10)], now=NOW)  # fmt: skip
    definition = _definition({"type": "segment_entered", "segment_id": segment.id})
    with db() as session:
        result = dry_run(session=session, workspace_id=WS, definition=definition,
                         since=NOW, until=NOW + timedelta(days=1))  # fmt: skip
    assert result.entries == 10
    assert [(m.channel, m.messages) for m in result.messages] == [("wecom", 10)]  # SMS: day 2
    with pytest.raises(InvalidInputError) as caught, db() as session:
        dry_run(session=session, workspace_id=WS, definition=definition,
                since=NOW, until=NOW - timedelta(days=1))  # fmt: skip
    assert caught.value.field == "until"
