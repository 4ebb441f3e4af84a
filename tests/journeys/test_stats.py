"""Journey statistics: node counts from a real run, Wilson intervals, A/B significance."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from siyu.journeys.engine import advance_due
from siyu.journeys.reactions import on_events
from siyu.journeys.stats import journey_stats, two_proportion_p, wilson
from siyu.journeys.tables import journey_states
from tests.journeys.conftest import NOW, WS, event, make_journey


def test_wilson_matches_the_textbook_value() -> None:
    # 81 of 263: the Wilson 95 % interval is 0.2553–0.3662 (Newcombe 1998, example).
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    assert wilson(0, 0) == (0.0, 0.0)
    assert wilson(0, 10)[0] == 0.0


def test_two_proportion_p_is_the_z_test() -> None:
    a, b = (60, 500), (40, 500)
    p1, p2, pooled = 60 / 500, 40 / 500, 100 / 1000
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (2 / 500))
    expected = math.erfc(abs(z) / math.sqrt(2))
    assert two_proportion_p(a, b) == pytest.approx(expected, rel=1e-9)
    assert two_proportion_p((0, 10), (0, 10)) is None


def test_stats_of_a_split_journey(db: sessionmaker[Session]) -> None:
    journey = make_journey(
        db,
        [
            {
                "type": "split",
                "id": "s",
                "variants": [
                    {"name": "A", "weight": 1, "next": "m"},
                    {"name": "hold", "weight": 1, "next": "g", "holdout": True},
                ],
            },
            {
                "type": "action",
                "id": "m",
                "action": {"type": "send_message", "channel": "sms", "template": "t"},
                "next": "g",
            },
            {"type": "goal", "id": "g", "event": {"event": "Order Completed"}, "within": "P7D"},
        ],
    )
    people = [f"p_{i}" for i in range(200)]
    with db() as session, session.begin():
        on_events(
            session=session,
            workspace_id=WS,
            events=[event("Signed Up", f"s{i}") for i in range(200)],
            person_ids=people,
            now=NOW,
        )
    advance_due(session_factory=db, workspace_id=WS, now=NOW)
    s = journey_states.c
    with db() as session:
        variant_of = dict(session.execute(select(s.person_id, s.variant)).all())
    in_a = [p for p in people if variant_of[p] == "A"]
    held = [p for p in people if variant_of[p] == "hold"]
    buyers = in_a[: len(in_a) // 2] + held[:5]
    later = NOW + timedelta(days=1)
    with db() as session, session.begin():
        on_events(
            session=session,
            workspace_id=WS,
            events=[event("Order Completed", f"o{p}", later) for p in buyers],
            person_ids=buyers,
            now=later,
        )
    with db() as session:
        result = journey_stats(session=session, workspace_id=WS, journey_id=journey.id)
    nodes = {n.node_id: n for n in result.nodes}
    assert (nodes["s"].entered, nodes["s"].passed) == (200, 200)
    assert (nodes["m"].entered, nodes["m"].sent, nodes["m"].passed) == (len(in_a),) * 3
    goal = nodes["g"]
    assert (goal.entered, goal.converted) == (200, len(buyers))
    assert goal.waiting == 200 - len(buyers)
    a, hold = result.variants
    assert (a.variant, a.control, a.converted, a.entered) == ("A", False, len(in_a) // 2, len(in_a))
    assert (hold.control, hold.converted) == (True, 5)
    assert a.low < a.rate < a.high
    assert a.p_value is not None and a.p_value < 1e-6  # 50 % against ~5 %
    assert result.entries == 200 and result.converted == len(buyers)
