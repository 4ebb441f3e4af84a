"""The pure attribution core: six models on hand-computed paths, and their properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.analytics.attribution import (
    DIRECT,
    AttributionModel,
    Touch,
    markov_credit,
    markov_removal_effects,
    order_credit,
    split_fen,
)

DAY = 86_400.0
M = AttributionModel

# douyin 10 days before the order, store 3 days before, wecom 1 day before.
PATH = [Touch("douyin", 10 * DAY), Touch("store", 3 * DAY), Touch("wecom", 1 * DAY)]


def test_first_and_last_touch_take_everything() -> None:
    assert order_credit(PATH, M.FIRST_TOUCH) == {"douyin": 1.0}
    assert order_credit(PATH, M.LAST_TOUCH) == {"wecom": 1.0}


def test_linear_shares_equally_and_adds_repeated_channels() -> None:
    credit = order_credit([*PATH, Touch("douyin", 0.5 * DAY)], M.LINEAR)
    assert credit == pytest.approx({"douyin": 0.5, "store": 0.25, "wecom": 0.25})


def test_position_based_is_40_20_40() -> None:
    assert order_credit(PATH, M.POSITION_BASED) == pytest.approx(
        {"douyin": 0.4, "store": 0.2, "wecom": 0.4}
    )
    four = [*PATH, Touch("sms", 0.0)]
    assert order_credit(four, M.POSITION_BASED) == pytest.approx(
        {"douyin": 0.4, "store": 0.1, "wecom": 0.1, "sms": 0.4}
    )
    assert order_credit(PATH[:2], M.POSITION_BASED) == pytest.approx({"douyin": 0.5, "store": 0.5})


def test_time_decay_halves_weight_per_half_life() -> None:
    # Half-life 1 day: weights 2^-10, 2^-3, 2^-1 → normalised.
    credit = order_credit(PATH, M.TIME_DECAY, half_life_seconds=DAY)
    weights = {"douyin": 2**-10, "store": 2**-3, "wecom": 2**-1}
    total = sum(weights.values())
    assert credit == pytest.approx({c: w / total for c, w in weights.items()})
    two = [Touch("a", 2 * DAY), Touch("b", 0.0)]
    assert order_credit(two, M.TIME_DECAY, half_life_seconds=2 * DAY) == pytest.approx(
        {"a": 1 / 3, "b": 2 / 3}
    )


def test_an_order_without_touches_is_direct() -> None:
    for model in M:
        assert order_credit([], model) == {DIRECT: 1.0}


def test_markov_removal_effect_by_hand() -> None:
    # Paths: A→conv, A→B→conv, B→null. Chain: start→A 2/3, start→B 1/3; A→conv 1/2, A→B 1/2;
    # B→conv 1/2, B→null 1/2.  P = 2/3·(1/2 + 1/2·1/2) + 1/3·1/2 = 2/3.
    # Without A: 1/3·1/2 = 1/6 → RE(A) = 1 − (1/6)/(2/3) = 3/4.
    # Without B: 2/3·1/2 = 1/3 → RE(B) = 1/2. Credits: 2 · (3/4, 1/2) / (5/4) = (1.2, 0.8).
    paths = [(("A",), True), (("A", "B"), True), (("B",), False)]
    assert markov_removal_effects(paths) == pytest.approx({"A": 0.75, "B": 0.5})
    assert markov_credit(paths) == pytest.approx({"A": 1.2, "B": 0.8})
    assert order_credit(
        [Touch("A", 2.0), Touch("B", 1.0)], M.MARKOV, removal_effects={"A": 0.75, "B": 0.5}
    ) == pytest.approx({"A": 0.6, "B": 0.4})


def test_markov_with_no_conversions_credits_nothing() -> None:
    assert markov_credit([(("A",), False), (("B", "A"), False)]) == {"A": 0.0, "B": 0.0}


def test_split_fen_is_exact_and_deterministic() -> None:
    assert split_fen(100, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 34, "b": 33, "c": 33}
    assert split_fen(1, {"b": 0.5, "a": 0.5}) == {"a": 1, "b": 0}
    assert split_fen(0, {"a": 1.0}) == {"a": 0}


# -- properties --------------------------------------------------------------------------

channels = st.sampled_from(["douyin", "xiaohongshu", "taobao", "store", "wecom", "wechat_oa"])
touches = st.lists(
    st.builds(Touch, channels, st.floats(0, 90 * DAY, allow_nan=False)), max_size=8
).map(lambda ts: sorted(ts, key=lambda t: -t.age_seconds))
paths = st.lists(
    st.tuples(st.lists(channels, max_size=6).map(tuple), st.booleans()), min_size=1, max_size=40
)


@settings(max_examples=200, deadline=None)
@given(touches, st.sampled_from(list(M)), st.floats(3600, 60 * DAY))
def test_each_orders_credit_sums_to_one(path: list[Touch], model: M, half_life: float) -> None:
    effects = markov_removal_effects([(tuple(t.channel for t in path), True)])
    credit = order_credit(path, model, half_life_seconds=half_life, removal_effects=effects)
    assert math.isclose(sum(credit.values()), 1.0, rel_tol=1e-9)
    assert all(v >= 0 for v in credit.values())
    assert set(credit) <= {t.channel for t in path} | {DIRECT}


@settings(max_examples=200, deadline=None)
@given(paths)
def test_markov_credits_sum_to_the_conversions(
    observed: list[tuple[tuple[str, ...], bool]],
) -> None:
    conversions = sum(1 for _, converted in observed if converted)
    credit = markov_credit(observed)
    assert math.isclose(sum(credit.values()), conversions, rel_tol=1e-9, abs_tol=1e-9)
    assert all(v >= -1e-12 for v in credit.values())
    effects = markov_removal_effects(observed)
    assert all(0.0 <= e <= 1.0 for e in effects.values())


@settings(max_examples=100, deadline=None)
@given(channels, st.integers(1, 20), st.integers(0, 20), st.integers(1, 4))
def test_single_channel_paths_take_all_the_credit(
    channel: str, converted: int, lost: int, length: int
) -> None:
    observed = {((channel,) * length, True): converted, ((channel,) * length, False): lost}
    assert markov_credit(observed) == pytest.approx({channel: converted})
    for model in M:
        touches = [Touch(channel, float(i)) for i in range(length, 0, -1)]
        effects = markov_removal_effects(observed)
        assert order_credit(touches, model, removal_effects=effects) == pytest.approx(
            {channel: 1.0}
        )


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 10**9),
    st.dictionaries(channels, st.floats(0.001, 1.0), min_size=1),
)
def test_split_fen_sums_exactly(amount: int, credit: dict[str, float]) -> None:
    parts = split_fen(amount, credit)
    assert sum(parts.values()) == amount
    total = sum(credit.values())
    for channel, fen in parts.items():
        assert abs(fen - amount * credit[channel] / total) <= 1.0 + 1e-6 * amount
