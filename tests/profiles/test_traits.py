"""The pure core: folding events into profile states, whatever their order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.collect.models import CollectedEvent, MessageType
from siyu.profiles.traits import (
    ProfileState,
    Touch,
    aggregate,
    average_spend_fen,
    combine,
    combine_all,
)
from tests.profiles.events import at, event, identify, order

# Few distinct times, names and values, so ties (the hard case for order-independence) occur.
_times = st.integers(min_value=0, max_value=5).map(at)
_values = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["a", "b", "茶"]))
_traits = st.dictionaries(st.sampled_from(["name", "city", "level", "email", "Phone"]), _values)
_events = st.builds(
    event,
    st.sampled_from(list(MessageType)),
    when=_times,
    name=st.sampled_from([None, "Order Completed", "Product Viewed"]),
    traits=_traits,
    channel=st.sampled_from([None, "wechat", "douyin", "小红书"]),
    campaign=st.sampled_from([None, "618", "双11"]),
    revenue_fen=st.one_of(st.none(), st.integers(0, 10**9)),
)
_batch = st.lists(st.tuples(_events, st.sampled_from(["p1", "p2", "p3"])), max_size=25)


def _split(batch: list[tuple[CollectedEvent, str]]) -> tuple[list[CollectedEvent], list[str]]:
    return [e for e, _ in batch], [p for _, p in batch]


@settings(max_examples=200, deadline=None)
@given(batch=_batch, data=st.data())
def test_order_within_a_batch_does_not_matter(
    batch: list[tuple[CollectedEvent, str]], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(batch))
    assert aggregate(*_split(shuffled)) == aggregate(*_split(batch))


@settings(max_examples=200, deadline=None)
@given(first=_batch, second=_batch)
def test_batches_combine_to_the_whole(
    first: list[tuple[CollectedEvent, str]], second: list[tuple[CollectedEvent, str]]
) -> None:
    whole = aggregate(*_split(first + second))
    a, b = aggregate(*_split(first)), aggregate(*_split(second))
    for person_id, state in whole.items():
        parts = [s[person_id] for s in (a, b) if person_id in s]
        assert combine_all(parts) == state
        assert combine_all(reversed(parts)) == state


@settings(max_examples=100, deadline=None)
@given(batch=_batch)
def test_counts_add_up_and_pii_is_never_kept(batch: list[tuple[CollectedEvent, str]]) -> None:
    states = aggregate(*_split(batch))
    assert sum(s.event_count for s in states.values()) == len(batch)
    for state in states.values():
        assert not {"email", "Phone"} & state.traits.keys()
        assert state.first_seen <= state.last_seen


def test_latest_identify_wins_whatever_the_arrival_order() -> None:
    late_old = identify(at(1), name="old", city="杭州")
    new = identify(at(5), name="new")
    state = aggregate([new, late_old], ["p", "p"])["p"]
    assert {k: t.value for k, t in state.traits.items()} == {"name": "new", "city": "杭州"}


def test_first_touch_is_the_earliest_event_that_has_one() -> None:
    events = [
        event(when=at(3), channel="wechat", campaign="618"),
        event(when=at(1)),
        event(when=at(2), channel="douyin"),
    ]
    state = aggregate(events, ["p"] * 3)["p"]
    assert state.first_seen == at(1)
    assert state.last_seen == at(3)
    assert state.first_channel == Touch(at(2), "douyin")
    assert state.first_campaign == Touch(at(3), "618")


def test_event_names_and_orders() -> None:
    events = [
        event(name="Product Viewed"),
        event(MessageType.PAGE, name="home"),
        event(MessageType.SCREEN),
        identify(at(0), name="x"),
        order(at(2), 1999),
        order(at(1), None),
        event(name="Order Completed", revenue_fen=None),
    ]
    state = aggregate(events, ["p"] * len(events))["p"]
    assert state.event_counts == {
        "Product Viewed": 1,
        "$page": 1,
        "$screen": 1,
        "$identify": 1,
        "Order Completed": 3,
    }
    assert (state.order_count, state.total_spend_fen, state.last_order_at) == (3, 1999, at(2))


def test_average_spend_rounds_half_up() -> None:
    assert average_spend_fen(201, 2) == 101
    assert average_spend_fen(200, 3) == 67
    assert average_spend_fen(100, 3) == 33
    assert average_spend_fen(5, 2) == 3
    assert average_spend_fen(0, 0) is None


def test_combine_keeps_earliest_and_latest() -> None:
    a = ProfileState(at(1), at(2), first_channel=Touch(at(1), "wechat"), last_order_at=at(2))
    b = ProfileState(at(0), at(9), first_channel=Touch(at(1), "douyin"), last_order_at=None)
    both = combine(a, b)
    assert (both.first_seen, both.last_seen, both.last_order_at) == (at(0), at(9), at(2))
    assert both.first_channel == Touch(at(1), "douyin")  # same time: the smaller name wins


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same length"):
        aggregate([event()], [])
