"""Fission funnel: a hand-built referral dataset answered by hand, a generated one checked
against a small Python reference, both engines agreeing, and the SQL snapshots."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from statistics import median

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError

from siyu.analytics import fission
from siyu.analytics.engine import ChdbEngine, Dialect, DuckDBEngine, Engine
from siyu.analytics.models import FissionBreakdown, FissionQuery, FissionResult
from siyu.core.eventstore import DuckDBEventStore
from tests.analytics.events import T0, WORKSPACE, Row, table_of
from tests.analytics.snapshots import assert_snapshot

D = timedelta(days=1)
H = timedelta(hours=1)
END = T0 + 10 * D
QUERY = FissionQuery(
    start=T0, end=END, breakdown=FissionBreakdown.REFERRER_FIRST_TOUCH_CHANNEL, top=10
)


@dataclass
class Ev:
    """A row plus the identifiers it carries (``member_id:…``)."""

    row: Row
    ids: list[str] = field(default_factory=list)


def _member(person: str, member: str, at: datetime) -> Ev:
    return Ev(Row(person, None, at, type="identify"), [f"member_id:{member}"])


def _click(person: str, member: str, at: datetime, event: str = "Referral Link Clicked") -> Ev:
    return Ev(Row(person, event, at, properties={"referrer_member_id": member}))


def _share(person: str, member: str, at: datetime) -> Ev:
    return Ev(Row(person, "Referral Sent", at, properties={"referrer_member_id": member}))


def _order(person: str, at: datetime, fen: int) -> Ev:
    return Ev(Row(person, "Order Completed", at, revenue_fen=fen))


def _landing(person: str, channel: str, at: datetime) -> Ev:
    return Ev(Row(person, "Landing", at, channel=channel, type="page"))


def stored(tmp_path: Path, evs: list[Ev]) -> tuple[Engine, Engine]:
    """Both engines over the events (``ids`` filled in), compacted as in production."""
    table = table_of([e.row for e in evs])
    ids = pa.array([e.ids for e in evs], pa.list_(pa.string()))
    store = DuckDBEventStore(tmp_path / "events")
    store.append(table.set_column(table.schema.get_field_index("ids"), "ids", ids))
    store.compact(WORKSPACE)
    return DuckDBEngine(store), ChdbEngine(store)


def run(engine: Engine, query: FissionQuery, person_map: list[tuple[str, str]]) -> FissionResult:
    sql = fission.fission_sql(query, engine.dialect)
    table = engine.run(workspace_id=WORKSPACE, sql=sql, person_map=person_map)
    return fission.read_fission(table, query)


HAND = [
    # Referrers: r1 (M1, wecom) and r2 (M2, douyin) and r4 (M4, no channel) share in range;
    # r3 (M3, store) shared before the range but their invitee clicks inside it.
    _landing("r1", "wecom", T0 - 40 * D),
    _member("r1", "M1", T0 - 30 * D),
    _landing("r2", "douyin", T0 - 20 * D),
    _member("r2", "M2", T0 - 20 * D),
    _landing("r3", "store", T0 - 20 * D),
    _member("r3", "M3", T0 - 20 * D),
    _member("r4", "M4", T0 - 20 * D),
    _order("x9", T0 + D, 999),  # a later, conflicting holder of M1: r1 stays the referrer
    Ev(_order("x9", T0 + D, 0).row, ["member_id:M1"]),
    _share("r1", "M1", T0 + H),
    _share("r1", "M1", T0 + 2 * H),
    _share("r2", "M2", T0 + H),
    _share("r4", "M4", T0 + H),
    _share("r3", "M3", T0 - D),
    # i1: click → identify 1 h later → order next day; an order after the window is not credited.
    _click("i1", "M1", T0 + D),
    _click("i1", "M1", T0 + D + 2 * 60 * timedelta(seconds=1), "Referral Accepted"),
    _member("i1", "N1", T0 + D + H),
    _order("i1", T0 + 2 * D, 1500),
    _order("i1", T0 + 9 * D, 700),
    # i2 (clicks as i2a, merged into i2): first click is r1's, a later one r2's; signs up on
    # day 3; an order before signing up is not credited, one on day 5 is.
    _click("i2a", "M1", T0 + D),
    _click("i2", "M2", T0 + 2 * D),
    Ev(Row("i2", "Signed Up", T0 + 3 * D)),
    _order("i2", T0 + 3 * D - H, 800),
    _order("i2", T0 + 5 * D, 2000),
    # i3 registers after the window; i4 was a member before clicking: neither registers.
    _click("i3", "M2", T0 + 2 * D),
    _member("i3", "N3", T0 + 12 * D),
    _order("i3", T0 + 3 * D, 500),
    _member("i4", "N4", T0 - 5 * D),
    _click("i4", "M2", T0 + 2 * D),
    _order("i4", T0 + 3 * D, 500),
    # i5 is r3's; registers, never orders.
    _click("i5", "M3", T0 + D),
    Ev(Row("i5", "Signed Up", T0 + D + H)),
    # i7 accepts r2's invitation; registers and orders exactly at the window's end (inclusive).
    _click("i7", "M2", T0 + 4 * D, "Referral Accepted"),
    _member("i7", "N7", T0 + 11 * D),
    _order("i7", T0 + 11 * D, 1000),
    # Not invitees: r1 clicking their own link, an unknown member id, a click after the range.
    _click("r1", "M1", T0 + D),
    _click("i6", "M9", T0 + D),
    _click("i8", "M1", END),
]


def test_hand_built_referrals_give_the_figures_worked_out_by_hand(tmp_path: Path) -> None:
    duck, ch = stored(tmp_path, HAND)
    result = run(duck, QUERY, [("i2a", "i2")])
    assert result == run(ch, QUERY, [("i2a", "i2")])
    total = result.total
    assert [s.persons for s in total.steps] == [3, 6, 4, 3]
    assert [s.conversion_from_previous for s in total.steps] == [1.0, 1.5, 4 / 6, 3 / 4]
    assert (total.shares, total.orders, total.gmv_fen, total.k_factor) == (4, 3, 4500, 1.0)
    # Click → registration: 1 h, 2 d, 1 h, 7 d; registration → first order: 23 h, 2 d, 0.
    assert total.steps[2].median_seconds_from_previous == (3600 + 2 * 86400) / 2
    assert total.steps[3].median_seconds_from_previous == 23 * 3600
    by_channel = {s.breakdown_value: [p.persons for p in s.steps] for s in result.breakdown}
    assert by_channel == {
        "wecom": [1, 2, 2, 2],
        "douyin": [1, 3, 1, 1],
        None: [1, 0, 0, 0],
        "store": [0, 1, 1, 0],
    }
    # person, member id, channel, shares, invitees, registered, ordered, orders, GMV
    top = [tuple(r.model_dump().values()) for r in result.top_referrers]
    assert top == [
        ("r1", "M1", "wecom", 2, 2, 2, 2, 2, 3500),
        ("r2", "M2", "douyin", 1, 3, 1, 1, 1, 1000),
        ("r3", "M3", "store", 0, 1, 1, 0, 0, 0),
        ("r4", "M4", None, 1, 0, 0, 0, 0, 0),
    ]


def test_a_shorter_window_and_top_limit(tmp_path: Path) -> None:
    duck, ch = stored(tmp_path, HAND)
    query = QUERY.model_copy(update={"window": timedelta(days=1), "top": 1, "breakdown": None})
    result = run(duck, query, [("i2a", "i2")])
    assert result == run(ch, query, [("i2a", "i2")])
    # Within a day of the click: i1 and i5 register; only i1 orders (23 h after).
    assert [s.persons for s in result.total.steps] == [3, 6, 2, 1]
    assert [r.person_id for r in result.top_referrers] == ["r1"] and result.breakdown == []


def test_nothing_to_count_is_zero_on_both_engines(tmp_path: Path) -> None:
    duck, ch = stored(tmp_path, [_order("p", T0, 100)])
    result = run(duck, QUERY, [])
    assert result == run(ch, QUERY, [])
    assert [s.persons for s in result.total.steps] == [0, 0, 0, 0]
    assert result.total.k_factor == 0 and result.top_referrers == []


# -- generated data against a Python reference -------------------------------------------


def generated(seed: int) -> list[Ev]:
    """Referrers, invitees (some sharing, some already members) and orders; each person's
    events within six days of their own start, every timestamp distinct."""
    rng = np.random.default_rng(seed)
    evs: list[Ev] = []

    def at(base: int) -> datetime:
        # A unique microsecond per event keeps ties out of attribution and medians.
        offset = timedelta(seconds=base + int(rng.integers(0, 6 * 86_400)))
        return T0 - 2 * D + offset + timedelta(microseconds=len(evs) + 1)

    for k in range(60):
        person, base = f"p{k:03d}", int(rng.integers(0, 12 * 86_400))
        evs.append(_landing(person, ("douyin", "store", "wecom")[k % 3], at(base)))
        if rng.random() < 0.5:
            evs.append(_member(person, f"M{k}", at(base)))
        if rng.random() < 0.5:
            evs.extend(_share(person, f"M{k}", at(base)) for _ in range(int(rng.integers(1, 4))))
        for _ in range(int(rng.integers(0, 3))):
            event = ("Referral Link Clicked", "Referral Accepted")[int(rng.integers(0, 2))]
            evs.append(_click(person, f"M{int(rng.integers(0, 70))}", at(base), event))
        if rng.random() < 0.6:
            evs.append(Ev(Row(person, "Signed Up", at(base))))
        evs.extend(_order(person, at(base), int(rng.integers(1, 50)) * 100) for _ in range(3))
    return evs


def reference(evs: list[Ev], query: FissionQuery) -> tuple[list[int], int, int, float | None]:
    """Steps, orders, GMV and the click → registration median, straight from the rules."""
    w = query.window
    holder: dict[str, tuple[datetime, str]] = {}
    registered: dict[str, datetime] = {}
    for e in evs:
        r = e.row
        for i in e.ids if r.at < query.end + w else []:
            holder[i[10:]] = min(holder.get(i[10:], (r.at, r.person)), (r.at, r.person))
        if r.event == "Signed Up" or (r.type == "identify" and e.ids):
            registered[r.person] = min(registered.get(r.person, r.at), r.at)
    in_range = [e.row for e in evs if query.start <= e.row.at < query.end]
    shares = [r for r in in_range if r.event == "Referral Sent"]
    first: dict[str, tuple[datetime, str]] = {}
    for r in in_range:
        ref = holder.get(str(r.properties.get("referrer_member_id")))
        if r.event in query.click_events and ref and ref[1] != r.person:
            first[r.person] = min(first.get(r.person, (r.at, ref[1])), (r.at, ref[1]))
    reg = {
        p: registered[p]
        for p, (c, _) in first.items()
        if p in registered and c <= registered[p] <= c + w
    }
    credited: dict[str, list[int]] = defaultdict(list)
    for e in evs:
        r = e.row
        if r.person not in reg or r.event != "Order Completed":
            continue
        if reg[r.person] <= r.at <= first[r.person][0] + w:
            credited[r.person].append(r.revenue_fen or 0)
    gaps = [(reg[p] - first[p][0]).total_seconds() for p in reg]
    steps = [len({r.person for r in shares}), len(first), len(reg), len(credited)]
    orders = sum(len(v) for v in credited.values())
    return steps, orders, sum(sum(v) for v in credited.values()), median(gaps) if gaps else None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_referrals_match_the_reference_on_both_engines(tmp_path: Path, seed: int) -> None:
    evs = generated(seed)
    duck, ch = stored(tmp_path, evs)
    query = QUERY.model_copy(update={"window": timedelta(days=5)})
    result = run(duck, query, [])
    assert result == run(ch, query, [])
    steps, orders, gmv, gap = reference(evs, query)
    assert [s.persons for s in result.total.steps] == steps
    assert (result.total.orders, result.total.gmv_fen) == (orders, gmv)
    assert result.total.steps[2].median_seconds_from_previous == pytest.approx(gap, abs=1e-3)
    assert steps[1] > 10 and steps[3] > 0  # the data exercises every step
    assert sum(s.steps[1].persons for s in result.breakdown) == steps[1]


# -- the query model and the SQL ---------------------------------------------------------


def test_query_refuses_bad_input_naming_the_field() -> None:
    with pytest.raises(ValidationError, match="'end' must be after 'start'"):
        FissionQuery(start=END, end=T0)
    with pytest.raises(ValidationError, match="window"):
        FissionQuery(start=T0, end=END, window=timedelta(0))
    with pytest.raises(ValidationError) as caught:
        FissionQuery(start=T0, end=END, referrer_property="bad name")
    assert caught.value.errors()[0]["loc"] == ("referrer_property",)
    with pytest.raises(ValidationError) as caught:
        FissionQuery(start=T0, end=END, click_events=[])
    assert caught.value.errors()[0]["loc"] == ("click_events",)


@pytest.mark.parametrize("dialect", list(Dialect))
def test_fission_sql_snapshot(dialect: Dialect) -> None:
    assert_snapshot(f"fission_by_channel.{dialect.value}", fission.fission_sql(QUERY, dialect))
    plain = FissionQuery(start=T0, end=END, window=timedelta(days=3), top=0)
    assert_snapshot(f"fission_plain.{dialect.value}", fission.fission_sql(plain, dialect))
