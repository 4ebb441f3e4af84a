"""The GMV decomposition math: exact, order-free, and right on hand-computed cases."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.analytics.gmv import decompose_fen, lmdi, round_to_total, shapley


def _parts(visitors: int, buyers: int, orders: int, gmv: int) -> dict[str, int]:
    return {"visitors": visitors, "buyers": buyers, "orders": orders, "gmv_fen": gmv}


def test_only_traffic_moved() -> None:
    # Double the visitors, same conversion, frequency and AOV: all of ΔGMV is traffic.
    parts, method = decompose_fen(_parts(100, 10, 20, 40_000), _parts(200, 20, 40, 80_000))
    assert method == "lmdi"
    assert parts == {"traffic": 40_000, "conversion": 0, "frequency": 0, "aov": 0}


def test_lmdi_by_hand() -> None:
    # Traffic ×2 and AOV ×1.5: GMV 40_000 → 120_000. L(120000, 40000) = 80000 / ln 3.
    parts, _ = decompose_fen(_parts(100, 10, 20, 40_000), _parts(200, 20, 40, 120_000))
    weight = 80_000 / math.log(3)
    assert parts["traffic"] == round(weight * math.log(2))  # 50_474
    assert parts["aov"] == round(weight * math.log(1.5))  # 29_526
    assert parts["conversion"] == parts["frequency"] == 0
    assert sum(parts.values()) == 80_000


def test_a_period_without_orders_uses_shapley() -> None:
    parts, method = decompose_fen(_parts(50, 0, 0, 0), _parts(100, 10, 10, 30_000))
    assert method == "shapley"
    assert sum(parts.values()) == 30_000
    parts, method = decompose_fen(_parts(0, 0, 0, 0), _parts(0, 0, 0, 0))
    assert parts == {"traffic": 0, "conversion": 0, "frequency": 0, "aov": 0}


def test_round_to_total() -> None:
    assert round_to_total([0.5, 0.5, 0.0], 1) == [1, 0, 0]
    assert sum(round_to_total([10.4, -3.3, 2.9], 10)) == 10


positive = st.floats(0.01, 1e6, allow_nan=False, allow_infinity=False)
factors = st.lists(positive, min_size=4, max_size=4)


@settings(max_examples=200, deadline=None)
@given(factors, factors)
def test_lmdi_and_shapley_are_exact(before: list[float], after: list[float]) -> None:
    change = math.prod(after) - math.prod(before)
    for parts in (lmdi(before, after), shapley(before, after)):
        # Exact up to float representation of the parts, which may dwarf the change.
        scale = max(abs(math.prod(after)), abs(math.prod(before)), *map(abs, parts), 1.0)
        assert math.isclose(sum(parts), change, abs_tol=1e-9 * scale)


counts = st.tuples(
    st.integers(0, 10_000), st.integers(0, 1_000), st.integers(0, 5), st.integers(0, 50_000)
)


def _consistent(raw: tuple[int, int, int, int]) -> dict[str, int]:
    visitors, buyers, per_buyer, aov = raw
    buyers = min(buyers, visitors)
    orders = buyers * per_buyer
    return _parts(visitors, buyers, orders, orders * aov)


@settings(max_examples=300, deadline=None)
@given(counts, counts)
def test_whole_fen_parts_sum_exactly_to_the_change(
    a: tuple[int, int, int, int], b: tuple[int, int, int, int]
) -> None:
    before, after = _consistent(a), _consistent(b)
    parts, _ = decompose_fen(before, after)
    assert sum(parts.values()) == after["gmv_fen"] - before["gmv_fen"]


@pytest.mark.parametrize("factor", range(4))
def test_a_single_moving_factor_takes_all(factor: int) -> None:
    before = [10.0, 0.5, 2.0, 300.0]
    after = list(before)
    after[factor] *= 1.7
    parts = lmdi(before, after)
    assert parts[factor] == pytest.approx(math.prod(after) - math.prod(before))
    assert all(abs(p) < 1e-9 for i, p in enumerate(parts) if i != factor)
