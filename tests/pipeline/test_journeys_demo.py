"""The demo brand's three journeys: seeded once with the brand's own figures, the win-back
journey split A/B/holdout over the at-risk segment, and nothing leaving the machine."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from siyu.analytics import service as analytics
from siyu.analytics.models import RepurchaseQuery
from siyu.channels.tables import channel_messages
from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.demo import build
from siyu.demo.journeys import seed_journeys
from siyu.journeys import service as journeys
from siyu.journeys.models import ActionNode, SendMessageSpec, WaitNode
from siyu.journeys.tables import journey_states
from siyu.pipeline import content_performance, journey_jobs
from siyu.segments import service as segments

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, str]]:
    rt = open_runtime(Settings(data_dir=tmp_path_factory.mktemp("demo")))
    keys, _ = build.prepare_workspace(rt, users=300, seed=11, rebuild=False, now=NOW)
    build.build_demo(rt, workspace_id=keys.workspace_id, users=300, seed=11, now=NOW)
    yield rt, keys.workspace_id
    rt.close()


def test_three_active_journeys_with_the_brands_figures(demo: tuple[Runtime, str]) -> None:
    rt, ws = demo
    with rt.sessions() as s:
        found = {j.name: j for j in journeys.list_journeys(session=s, workspace_id=ws)}
    assert len(found) == 3
    assert {j.status for j in found.values()} == {journeys.JourneyStatus.ACTIVE}
    assert {j.trigger_type for j in found.values()} == {"event", "segment_entered"}
    query = RepurchaseQuery(start=NOW - timedelta(days=365), end=NOW, within_days=90)
    median = analytics.run_repurchase(runtime=rt, workspace_id=ws, query=query)
    assert median.interval_days_median
    repurchase = next(j for j in found.values() if j.name.startswith("复购"))
    wait = repurchase.definition.node_map()["wait_next"]
    assert isinstance(wait, WaitNode)
    assert wait.timeout == timedelta(days=math.ceil(median.interval_days_median))
    # Seeding again makes nothing new.
    again = seed_journeys(rt, workspace_id=ws, now=NOW)
    assert sorted(again.journeys.values()) == sorted(j.id for j in found.values())


def test_winback_splits_at_risk_members_and_messages_stay_queued(
    demo: tuple[Runtime, str],
) -> None:
    rt, ws = demo
    with rt.sessions() as s:
        winback = next(
            j for j in journeys.list_journeys(session=s, workspace_id=ws) if "挽回" in j.name
        )
        at_risk = segments.get_segment(
            session=s,
            workspace_id=ws,
            segment_id=winback.definition.trigger.segment_id,  # type: ignore[union-attr]
        )
    assert at_risk.members > 10
    journey_jobs.advance_journeys(rt, NOW)
    assert journey_jobs.Dispatcher(rt)(rt, NOW) == 0  # no transport configured: nothing sent
    with rt.sessions() as s:
        variants = Counter(
            s.execute(
                select(journey_states.c.variant).where(journey_states.c.journey_id == winback.id)
            ).scalars()
        )
        m = channel_messages.c
        today = m.idempotency_key.not_like("demo:journey-history:%")  # not last month's
        statuses = Counter(s.execute(select(m.status).where(today)).scalars())
        sms = Counter(s.execute(select(m.status).where(today, m.channel == "sms")).scalars())
    assert sum(variants.values()) == at_risk.members
    # Weights 45/45/10 over a dozen or so people (person ids are random, so the split is
    # too): both arms are used and the two arms together outnumber the holdout.
    assert {"A_wecom", "B_sms"} <= set(variants) <= {"A_wecom", "B_sms", "holdout"}
    assert variants["A_wecom"] + variants["B_sms"] > variants["holdout"]
    assert statuses["sent"] == 0
    # Most opted in to SMS (queued, waiting for a configured transport); any others are held
    # for want of consent — never sent, since no SMS transport is configured.
    assert sms["queued"] > 0 and set(sms) <= {"queued", "held"}
    with rt.sessions() as s:
        reasons = set(s.execute(select(m.reason).where(m.status == "held")).scalars())
        carrying = s.execute(
            select(m.params).where(today, m.source.like(f"journey:{winback.id}:sms%"))
        ).scalars()
        assert {p.get("content_code") is not None for p in carrying} == {True}
    assert None not in reasons  # every held message says why


def test_the_journeys_carry_content_with_reach_clicks_and_orders(
    demo: tuple[Runtime, str],
) -> None:
    rt, ws = demo
    with rt.sessions() as s:
        found = journeys.list_journeys(session=s, workspace_id=ws)
    carried = {
        node.action.content_id
        for j in found
        for node in j.definition.nodes
        if isinstance(node, ActionNode) and isinstance(node.action, SendMessageSpec)
        and node.action.content_id
    }  # fmt: skip
    assert len(carried) == 3  # welcome, repurchase and win-back each carry an item
    report = content_performance.content_performance(
        runtime=rt, workspace_id=ws, start=NOW - timedelta(days=30), end=NOW
    )
    items = {i.content_id: i for i in report.items if i.content_id in carried}
    assert set(items) == carried
    assert all(i.reach > 0 for i in items.values())  # last month's journey sends went out
    assert sum(i.clicks for i in items.values()) > 0
    assert sum(i.orders for i in items.values()) > 0
    with rt.sessions() as s:
        m = channel_messages.c
        history = Counter(
            s.execute(
                select(m.status).where(m.idempotency_key.like("demo:journey-history:%"))
            ).scalars()
        )
    assert history["sent"] > 0 and set(history) <= {"sent", "held"}  # none left to go out
