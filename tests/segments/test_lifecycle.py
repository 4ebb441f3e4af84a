"""Lifecycle stages, activity status and transitions (pure core)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from siyu.segments import lifecycle
from siyu.segments.lifecycle import Activity, LifecycleSettings, PersonFacts, Stage

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
SETTINGS = LifecycleSettings()


def _facts(**kwargs: object) -> PersonFacts:
    base: dict[str, object] = {"person_id": "p", "last_seen": NOW - timedelta(days=1)}
    return PersonFacts.model_validate(base | kwargs)


@pytest.mark.parametrize(
    ("kwargs", "stage"),
    [
        ({}, Stage.STRANGER),
        ({"views": 2}, Stage.STRANGER),
        ({"views": 3}, Stage.POTENTIAL),
        ({"interactions": 1}, Stage.POTENTIAL),
        ({"orders": 1}, Stage.FIRST_PURCHASE),
        ({"orders": 5}, Stage.REPEAT),
        ({"orders": 1, "member": True}, Stage.MEMBER),
        ({"member": True, "referred_buyers": 2}, Stage.ADVOCATE),
    ],
)
def test_stage_is_the_furthest_step_reached(kwargs: dict[str, object], stage: Stage) -> None:
    assert lifecycle.stage_of(_facts(**kwargs), SETTINGS) is stage


def test_activity_from_days_since_last_event() -> None:
    def activity(**kwargs: object) -> Activity:
        return lifecycle.activity_of(_facts(**kwargs), SETTINGS, NOW)

    assert activity() is Activity.ACTIVE
    assert activity(last_seen=NOW - timedelta(days=30)) is Activity.ACTIVE
    assert activity(last_seen=NOW - timedelta(days=31)) is Activity.AT_RISK
    assert activity(last_seen=NOW - timedelta(days=91)) is Activity.CHURNED
    back = NOW - timedelta(days=5)
    assert activity(returned_at=back, before_return_at=back - timedelta(days=91)) is (
        Activity.WON_BACK
    )
    assert activity(returned_at=back, before_return_at=back - timedelta(days=60)) is (
        Activity.ACTIVE
    )


def test_transitions_record_first_placement_and_changes_only() -> None:
    states = lifecycle.classify(
        [_facts(person_id="a", orders=1), _facts(person_id="b", orders=2)],
        settings=SETTINGS,
        now=NOW,
    )
    previous = {"a": ("first_purchase", "active"), "b": ("first_purchase", "at_risk")}
    found = lifecycle.transitions(previous, states, now=NOW)
    assert [(t.person_id, t.dimension, t.from_value, t.to_value) for t in found] == [
        ("b", "stage", "first_purchase", "repeat"),
        ("b", "activity", "at_risk", "active"),
    ]
    first = lifecycle.transitions({}, states[:1], now=NOW)
    assert [(t.dimension, t.from_value) for t in first] == [("stage", None), ("activity", None)]


def test_settings_need_churn_beyond_active() -> None:
    with pytest.raises(ValidationError, match="churned_days"):
        LifecycleSettings(active_days=30, churned_days=30)


@settings(max_examples=200, deadline=None)
@given(
    orders=st.integers(0, 20),
    views=st.integers(0, 10),
    interactions=st.integers(0, 5),
    member=st.booleans(),
    referred=st.integers(0, 3),
    idle=st.integers(0, 400),
)
def test_more_behaviour_never_moves_a_person_back(
    orders: int, views: int, interactions: int, member: bool, referred: int, idle: int
) -> None:
    order = list(Stage)[::-1]  # stranger … advocate
    facts = _facts(
        orders=orders,
        views=views,
        interactions=interactions,
        member=member,
        referred_buyers=referred,
        last_seen=NOW - timedelta(days=idle),
    )
    more = facts.model_copy(update={"orders": orders + 1})
    rank = order.index(lifecycle.stage_of(facts, SETTINGS))
    assert order.index(lifecycle.stage_of(more, SETTINGS)) >= rank
    states = lifecycle.classify([facts], settings=SETTINGS, now=NOW)
    assert len(states) == 1
    assert states[0].days_inactive == idle
