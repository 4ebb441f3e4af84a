"""Funnels: hand-checked answers, both engines agree, and a property vs a tiny reference."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.analytics import funnels
from siyu.analytics.engine import Engine
from siyu.analytics.models import (
    Breakdown,
    BreakdownKind,
    FunnelOrder,
    FunnelQuery,
    FunnelResult,
    FunnelStep,
    PropertyFilter,
)
from tests.analytics.conftest import Engines
from tests.analytics.events import T0, WORKSPACE, Row, random_rows

H = timedelta(hours=1)
D = timedelta(days=1)


def _query(steps: list[str], **kw: object) -> FunnelQuery:
    fields: dict[str, object] = {
        "steps": [FunnelStep(event=s) for s in steps],
        "window": timedelta(days=1),
        "start": T0,
        "end": T0 + timedelta(days=30),
    }
    fields.update(kw)
    return FunnelQuery.model_validate(fields)


def _run(
    engine: Engine, query: FunnelQuery, person_map: list[tuple[str, str]] | None = None
) -> FunnelResult:
    table = engine.run(
        workspace_id=WORKSPACE,
        sql=funnels.funnel_sql(query, engine.dialect),
        person_map=person_map or [],
    )
    return funnels.read_funnel(table, query)


def _counts(result: FunnelResult) -> list[int]:
    return [s.persons for s in result.total.steps]


def _both(engines: Engines, rows: list[Row], query: FunnelQuery, **kw: object) -> list[int]:
    duck, ch = engines(rows)
    a, b = _run(duck, query, **kw), _run(ch, query, **kw)  # type: ignore[arg-type]
    assert a == b
    return _counts(a)


def _person(p: str, *steps: tuple[float, str]) -> list[Row]:
    return [Row(p, name, T0 + hours * H) for hours, name in steps]


def test_loose_and_strict_on_hand_built_persons(engines: Engines) -> None:
    rows = [
        *_person("a", (0, "A"), (1, "B"), (2, "C")),  # 3 both
        *_person("b", (0, "A"), (1, "C"), (2, "B"), (3, "C")),  # loose 3, strict 1
        *_person("c", (0, "A"), (1, "X"), (2, "B")),  # X is no step: 2 both
        *_person("d", (0, "A"), (25, "B")),  # outside the 1-day window: 1
        *_person("e", (0, "A"), (24, "B")),  # window edge is inclusive: 2
        *_person("f", (0, "A"), (20, "B"), (26, "A"), (27, "C")),  # new start, old B: 2
        *_person("g", (0, "B"), (1, "C")),  # no step 1: not counted
    ]
    loose = _both(engines, rows, _query(["A", "B", "C"]))
    strict = _both(engines, rows, _query(["A", "B", "C"], order=FunnelOrder.STRICT))
    assert loose == [6, 5, 2]
    assert strict == [6, 4, 1]


def test_steps_repeating_one_event_and_property_filters(engines: Engines) -> None:
    rows = [
        Row("a", "Viewed", T0),
        Row("a", "Viewed", T0 + H),
        Row("b", "Viewed", T0),
        Row("c", "Viewed", T0),
        Row("c", "Order", T0 + H, revenue_fen=9_999),
        Row("d", "Viewed", T0),
        Row("d", "Order", T0 + H, revenue_fen=10_000),
    ]
    assert _both(engines, rows, _query(["Viewed", "Viewed"])) == [4, 1]
    big = FunnelStep(
        event="Order", filters=[PropertyFilter(property="revenue_fen", op="gte", value=10_000)]
    )
    query = _query(["Viewed", "Order"]).model_copy(
        update={"steps": [FunnelStep(event="Viewed"), big]}
    )
    assert _both(engines, rows, query) == [4, 1]


def test_merged_persons_count_once_and_chain_across_devices(engines: Engines) -> None:
    rows = [*_person("phone", (0, "A")), *_person("tablet", (1, "B"))]
    assert _both(engines, rows, _query(["A", "B"])) == [1, 0]
    assert _both(engines, rows, _query(["A", "B"]), person_map=[("tablet", "phone")]) == [1, 1]


def test_median_times_and_breakdowns_agree(engines: Engines) -> None:
    rows = random_rows(persons=150, events=4_000, seed=7)
    duck, ch = engines(rows)
    names = ["Product Viewed", "Product Added", "Order Completed"]
    for breakdown in (
        None,
        Breakdown(kind=BreakdownKind.FIRST_TOUCH_CHANNEL),
        Breakdown(kind=BreakdownKind.PROPERTY, property="city"),
    ):
        for order in FunnelOrder:
            query = _query(names, window=timedelta(days=3), order=order, breakdown=breakdown)
            a, b = _run(duck, query), _run(ch, query)
            assert a == b
            assert a.total.steps[0].persons > 0 and a.total.steps[-1].persons > 0
            assert a.total.steps[1].median_seconds_from_previous is not None
            if breakdown is not None:
                assert sum(s.steps[0].persons for s in a.breakdown) == a.total.steps[0].persons


def test_level_is_windowfunnel_level(engines: Engines) -> None:
    """The DuckDB fold's levels equal chdb's windowFunnel on random data (both modes)."""
    rows = random_rows(persons=300, events=6_000, seed=8)
    duck, ch = engines(rows)
    for order in FunnelOrder:
        query = _query(
            ["Landing", "Product Viewed", "Product Added", "Order Completed"], order=order
        )
        assert _run(duck, query) == _run(ch, query)


LONG_FUNNELS = [
    ["Landing", "Product Viewed"],
    ["Landing", "Product Viewed", "Product Added", "Order Completed", "Referral Sent"],
    # six steps, one event twice: every packed pair and the unpaired last gap
    [
        "Landing",
        "Product Viewed",
        "Product Added",
        "Product Viewed",
        "Order Completed",
        "Referral Sent",
    ],
]


@pytest.mark.parametrize("steps", LONG_FUNNELS, ids=lambda s: f"{len(s)}-steps")
def test_every_funnel_length_agrees_with_windowfunnel(engines: Engines, steps: list[str]) -> None:
    """DuckDB packs the fold's values in pairs; ClickHouse keeps one per tuple element and
    takes the level from windowFunnel: counts and median times agree for 2 to 6 steps."""
    rows = random_rows(persons=60, events=5_000, seed=11)
    duck, ch = engines(rows)
    for order in FunnelOrder:
        query = _query(steps, order=order, window=timedelta(days=3))
        a, b = _run(duck, query), _run(ch, query)
        assert a == b
        if order is FunnelOrder.LOOSE:  # the last step is reached: its time is compared too
            assert a.total.steps[-1].persons > 0


# -- a tiny reference evaluator ------------------------------------------------------------


def reference_level(events: list[tuple[int, int]], k: int, window: int, strict: bool) -> int:
    """windowFunnel ('strict_increase'), transcribed: events are (time, step 1..k)."""
    # (start, time) of the latest chain reaching each level
    reached: list[tuple[int, int] | None] = [None] * k
    started = False
    for t, s in sorted(events, key=lambda e: (e[0], -e[1])):
        i = s - 1
        before = reached[i - 1] if i else None
        if i == 0:
            reached[0], started = (t, t), True
        elif strict and started and before is None:
            break
        elif before is not None and before[1] < t <= before[0] + window:
            reached[i] = (before[0], t)
    return sum(r is not None for r in reached)


event_lists = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 20), st.integers(1, 3)), max_size=30
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=event_lists, window=st.integers(1, 8), strict=st.booleans())
def test_matches_reference_evaluator(
    engines: Engines, events: list[tuple[int, int, int]], window: int, strict: bool
) -> None:
    seen: set[tuple[int, int]] = set()
    rows = []
    for person, hour, step in events:
        if (person, hour) in seen:  # one event per person and hour: no ties to break
            continue
        seen.add((person, hour))
        rows.append(Row(f"p{person}", "ABC"[step - 1], T0 + hour * H))
    query = _query(
        ["A", "B", "C"],
        window=timedelta(hours=window),
        order=FunnelOrder.STRICT if strict else FunnelOrder.LOOSE,
    )
    levels = [
        reference_level(
            [(int(r.at.timestamp()), "ABC".index(r.event) + 1) for r in rows if r.person == p],  # type: ignore[arg-type]
            3,
            window * 3600,
            strict,
        )
        for p in {r.person for r in rows}
    ]
    expected = [sum(level >= j for level in levels) for j in (1, 2, 3)]
    duck, _ = engines(rows)
    assert _counts(_run(duck, query)) == expected


def test_bad_queries_are_refused() -> None:
    with pytest.raises(ValueError, match="end"):
        _query(["A", "B"], end=T0)
    with pytest.raises(ValueError):
        _query(["A"])
    with pytest.raises(ValueError, match="property"):
        Breakdown(kind=BreakdownKind.PROPERTY)
    with pytest.raises(ValueError, match="numbers"):
        PropertyFilter(property="revenue_fen", op="gte", value="x")
