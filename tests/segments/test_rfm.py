"""RFM scoring: cut points, scores, the eight segments; properties of the pure core."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from siyu.segments import rfm
from siyu.segments.rfm import Buyer, RfmSegment, RfmSettings

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def _buyer(i: int, days: int, orders: int, spend: int) -> Buyer:
    return Buyer(
        person_id=f"p{i}",
        last_order_at=NOW - timedelta(days=days, hours=1),
        orders=orders,
        spend_fen=spend,
    )


def test_thresholds_score_as_documented() -> None:
    config = RfmSettings(
        method="thresholds",
        recency_days=[30, 60, 90, 180],
        frequency_orders=[1, 2, 3, 5],
        monetary_fen=[5_000, 10_000, 20_000, 50_000],
    )
    buyers = [
        _buyer(0, 10, 8, 90_000),  # 5 5 5
        _buyer(1, 30, 1, 5_000),  # 5 1 1 (on a cut point: not beyond it)
        _buyer(2, 31, 2, 5_001),  # 4 2 2
        _buyer(3, 400, 4, 20_000),  # 1 4 3
    ]
    scores, cuts = rfm.score(buyers, settings=config, now=NOW)
    assert [(s.r, s.f, s.m) for s in scores] == [(5, 5, 5), (5, 1, 1), (4, 2, 2), (1, 4, 3)]
    assert [s.recency_days for s in scores] == [10, 30, 31, 400]
    assert cuts.r_bar == pytest.approx(15 / 4)
    assert scores[0].segment is RfmSegment.IMPORTANT_VALUE
    assert scores[1].segment is RfmSegment.GENERAL_DEVELOP  # recent, one small order
    assert cuts.m_bar == pytest.approx(11 / 4)
    assert scores[3].segment is RfmSegment.IMPORTANT_KEEP  # long gone, frequent, M=3 > 2.75


def test_quantiles_share_a_score_among_ties_and_most_one_time_buyers_are_f_low() -> None:
    buyers = [_buyer(i, i, 1 if i < 60 else 2 + i % 3, 1_000 * (i + 1)) for i in range(100)]
    scores, cuts = rfm.score(buyers, settings=RfmSettings(), now=NOW)
    assert cuts.frequency_orders[:3] == [1.0, 1.0, 1.0]
    assert {s.f for s in scores if s.frequency == 1} == {1}
    assert all(s.segment.value.endswith("客户") for s in scores)
    # Median bar: still only buyers above the typical one are high.
    by_median, _ = rfm.score(buyers, settings=RfmSettings(split="median"), now=NOW)
    assert not any(s.segment is RfmSegment.IMPORTANT_VALUE for s in by_median if s.frequency == 1)
    m_scores = sorted({s.m for s in scores})
    assert m_scores == [1, 2, 3, 4, 5]


def test_every_segment_is_reachable() -> None:
    found = {
        rfm.segment_of(r, f, m) for r in (True, False) for f in (True, False) for m in (True, False)
    }
    assert found == set(RfmSegment)


def test_settings_are_validated() -> None:
    with pytest.raises(ValidationError, match="four ascending"):
        RfmSettings(recency_days=[30, 20, 90, 180])
    with pytest.raises(ValidationError, match="needs recency_days"):
        RfmSettings(method="thresholds", recency_days=[1, 2, 3, 4])
    with pytest.raises(ValidationError):
        RfmSettings(split="mode")  # type: ignore[arg-type]


buyer_rows = st.lists(
    st.tuples(st.integers(0, 720), st.integers(1, 40), st.integers(0, 2_000_000)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(rows=buyer_rows, pick=st.integers(0, 59), more=st.integers(1, 1_000_000))
def test_more_spend_never_lowers_the_m_score(
    rows: list[tuple[int, int, int]], pick: int, more: int
) -> None:
    buyers = [_buyer(i, *row) for i, row in enumerate(rows)]
    i = pick % len(buyers)
    before, _ = rfm.score(buyers, settings=RfmSettings(), now=NOW)
    richer = buyers.copy()
    richer[i] = richer[i].model_copy(update={"spend_fen": buyers[i].spend_fen + more})
    after, _ = rfm.score(richer, settings=RfmSettings(), now=NOW)
    assert after[i].m >= before[i].m


@settings(max_examples=150, deadline=None)
@given(rows=buyer_rows, split=st.sampled_from(["mean", "median"]))
def test_every_buyer_gets_exactly_one_segment_and_scores_stay_in_range(
    rows: list[tuple[int, int, int]], split: str
) -> None:
    buyers = [_buyer(i, *row) for i, row in enumerate(rows)]
    scores, cuts = rfm.score(buyers, settings=RfmSettings(split=split), now=NOW)  # type: ignore[arg-type]
    assert [s.person_id for s in scores] == [b.person_id for b in buyers]
    for s in scores:
        assert min(s.r, s.f, s.m) >= 1 and max(s.r, s.f, s.m) <= 5
        expected = rfm.segment_of(s.r > cuts.r_bar, s.f > cuts.f_bar, s.m > cuts.m_bar)
        assert s.segment is expected
    # A more recent order never scores a lower R.
    for a in scores:
        for b in scores:
            if a.recency_days < b.recency_days:
                assert a.r >= b.r
