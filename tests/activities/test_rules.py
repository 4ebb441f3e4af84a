"""The pure rules: weighted pick, bargain cuts to the floor, check-in streaks."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.activities import rules


def test_pick_maps_every_roll_to_its_weight_band() -> None:
    weights = [1, 3, 6]
    picks = Counter(rules.pick(weights, roll) for roll in range(sum(weights)))
    assert picks == {0: 1, 1: 3, 2: 6}
    with pytest.raises(ValueError, match="roll"):
        rules.pick(weights, 10)


@given(st.integers(0, 1_000_000), st.integers(1, 30))
def test_bargain_cuts_fall_and_reach_the_floor_exactly(gap: int, helpers: int) -> None:
    cuts, left = [], gap
    for k in range(helpers, 0, -1):
        cut = rules.bargain_cut(left, k)
        cuts.append(cut)
        left -= cut
    assert left == 0
    assert all(c >= 0 for c in cuts)
    assert cuts[:-1] == sorted(cuts[:-1], reverse=True)


def test_bargain_example() -> None:
    cuts, left = [], 1000
    for k in (4, 3, 2, 1):
        cuts.append(rules.bargain_cut(left, k))
        left -= cuts[-1]
    assert cuts == [400, 300, 200, 100]


def test_streak_counts_back_from_the_day() -> None:
    days = [date(2026, 11, d) for d in (1, 3, 4, 5)]
    assert rules.streak(days, date(2026, 11, 5)) == 3
    assert rules.streak(days, date(2026, 11, 1)) == 1
    assert rules.streak(days, date(2026, 11, 2)) == 0
