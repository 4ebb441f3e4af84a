"""Pure referral rules: rotation, anti-fraud, the tree, milestone rewards."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from siyu.referral import rules
from siyu.referral.models import (
    Milestone,
    MilestoneRule,
    ReferralSettings,
    RewardSpec,
    Shift,
    StaffAssignment,
)

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)  # 12:00 Saturday in Asia/Shanghai


def test_shift_in_local_time_and_across_midnight() -> None:
    day = Shift(weekdays=[5], start=time(9), end=time(18))
    assert rules.on_shift([day], NOW, "Asia/Shanghai")
    assert not rules.on_shift([day], NOW + timedelta(hours=7), "Asia/Shanghai")  # 19:00
    night = Shift(weekdays=[5], start=time(22), end=time(2))
    assert rules.on_shift([night], NOW + timedelta(hours=13), "Asia/Shanghai")  # Sun 01:00
    assert not rules.on_shift([night], NOW, "Asia/Shanghai")
    assert rules.on_shift([], NOW, "Asia/Shanghai")


def test_rotation_weights_caps_and_backup() -> None:
    a = [
        StaffAssignment(staff_id="a", weight=2),
        StaffAssignment(staff_id="b", weight=1),
        StaffAssignment(staff_id="c", backup=True),
    ]
    states = {"a": rules.StaffState(adds_today=1), "b": rules.StaffState(adds_today=1)}
    states["c"] = rules.StaffState()
    assert rules.pick_staff(a, states, NOW) == "a"
    states["a"] = rules.StaffState(daily_cap=1, adds_today=1)
    assert rules.pick_staff(a, states, NOW) == "b"
    states["b"] = rules.StaffState(active=False)
    assert rules.pick_staff(a, states, NOW) == "c"
    states["c"] = rules.StaffState(shifts=[Shift(start=time(0), end=time(1))])
    assert rules.pick_staff(a, states, NOW) is None


def test_weighted_round_robin_shares() -> None:
    a = [StaffAssignment(staff_id="a", weight=3), StaffAssignment(staff_id="b", weight=1)]
    adds = {"a": 0, "b": 0}
    for _ in range(40):
        states = {k: rules.StaffState(adds_today=v) for k, v in adds.items()}
        picked = rules.pick_staff(a, states, NOW)
        assert picked is not None
        adds[picked] += 1
    assert adds == {"a": 30, "b": 10}


shifts = st.lists(
    st.builds(
        Shift,
        weekdays=st.lists(st.integers(0, 6), min_size=1, max_size=7),
        start=st.times(),
        end=st.times(),
    ),
    max_size=3,
)
states_st = st.builds(
    rules.StaffState,
    active=st.booleans(),
    shifts=shifts,
    daily_cap=st.none() | st.integers(1, 5),
    adds_today=st.integers(0, 6),
)


@given(
    st.dictionaries(st.sampled_from("abcdef"), states_st, min_size=1),
    st.lists(st.tuples(st.integers(1, 5), st.booleans()), min_size=6, max_size=6),
    st.datetimes(timezones=st.just(UTC)),
)
def test_rotation_picks_an_able_staff_when_one_exists(
    states: dict[str, rules.StaffState], shape: list[tuple[int, bool]], now: datetime
) -> None:
    assignments = [
        StaffAssignment(staff_id=sid, weight=w, backup=b)
        for sid, (w, b) in zip(sorted(states), shape, strict=False)
    ]
    able = [x for x in assignments if rules.can_take(states[x.staff_id], now, "Asia/Shanghai")]
    picked = rules.pick_staff(assignments, states, now)
    if not able:
        assert picked is None
        return
    assert picked is not None
    assert rules.can_take(states[picked], now, "Asia/Shanghai")
    if any(not x.backup for x in able):
        assert not next(x for x in assignments if x.staff_id == picked).backup


@given(st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), max_size=60))
def test_tree_built_through_the_cycle_check_never_has_a_cycle(
    edges: list[tuple[int, int]],
) -> None:
    parent_of: dict[str, str] = {}
    for inviter, invitee in edges:
        a, b = f"p{inviter}", f"p{invitee}"
        if b in parent_of or rules.creates_cycle(parent_of, a, b):
            continue
        parent_of[b] = a
    for node in parent_of:
        chain = rules.ancestors(parent_of, node)
        assert node not in chain
        assert len(chain) == rules.depth_of(parent_of, node)
        # the walk ends at a root: a person nobody invited
        assert chain[-1] not in parent_of


def test_fraud_reasons() -> None:
    def reason(**kw: object) -> str | None:
        args: dict[str, object] = {
            "inviter_id": "a",
            "invitee_id": "b",
            "inviter_ids": [("user_id", "1")],
            "invitee_ids": [("user_id", "2")],
            "invites_last_hour": 0,
            "max_per_hour": 3,
        }
        args.update(kw)
        why = rules.fraud_reason(**args)  # type: ignore[arg-type]
        return why[0] if why else None

    assert reason() is None
    assert reason(invitee_id="a") == "self_referral"
    assert (
        reason(invitee_ids=[("device_id", "d"), ("user_id", "2")], inviter_ids=[("device_id", "d")])
        == "same_device"
    )
    assert reason(invitee_ids=[("phone", "h")], inviter_ids=[("phone", "h")]) == "same_phone"
    assert (
        reason(invitee_ids=[("unionid", "u")], inviter_ids=[("unionid", "u")])
        == "shared_identifier"
    )
    assert reason(invites_last_hour=3) == "too_many_invites"


def test_milestone_rewards_and_keys() -> None:
    settings = ReferralSettings(
        milestones=[
            MilestoneRule(
                milestone=Milestone.REGISTERED,
                inviter=RewardSpec(kind="points", amount=100),
                invitee=RewardSpec(kind="coupon", template="ct_new"),
            ),
            MilestoneRule(
                milestone=Milestone.FIRST_ORDER, inviter=RewardSpec(kind="points", amount=500)
            ),
            MilestoneRule(
                milestone=Milestone.FIRST_ORDER_OVER,
                min_order_fen=10_000,
                inviter=RewardSpec(kind="points", amount=1000),
            ),
        ]
    )
    reg = rules.rewards_for(
        settings, milestone=Milestone.REGISTERED, inviter_id="a", invitee_id="b"
    )
    assert [(r.person_id, r.kind, r.role) for r in reg] == [
        ("a", "points", "inviter"),
        ("b", "coupon", "invitee"),
    ]
    small = rules.rewards_for(
        settings,
        milestone=Milestone.FIRST_ORDER,
        inviter_id="a",
        invitee_id="b",
        first_order_fen=9_999,
    )
    assert [r.amount for r in small] == [500]
    big = rules.rewards_for(
        settings,
        milestone=Milestone.FIRST_ORDER,
        inviter_id="a",
        invitee_id="b",
        first_order_fen=10_000,
    )
    assert [r.amount for r in big] == [500, 1000]
    keys = [r.idempotency_key for r in reg + big]
    assert len(keys) == len(set(keys))
    assert (
        rules.rewards_for(settings, milestone=Milestone.FIRST_ORDER, inviter_id="a", invitee_id="b")
        == small
    )
