"""Tier replay: upgrade at once, downgrade at period end after grace, paid floor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from siyu.loyalty.tiers import GrowthPoint, PaidTerm, TierChangeKind, TierPolicy, TierRank, replay

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TIERS = [TierRank(code="silver", min_growth=0), TierRank(code="gold", min_growth=1000),
         TierRank(code="black", min_growth=5000)]  # fmt: skip
POLICY = TierPolicy(window_days=365, period_days=365, grace_days=30)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def at(n: int, entries: list[GrowthPoint], paid: tuple[PaidTerm, ...] = ()) -> str:
    state = replay(
        tiers=TIERS, policy=POLICY, entries=entries, enrolled_at=T0, now=day(n), paid=paid
    )
    return state.tier


def test_upgrade_at_once_downgrade_after_period_end_and_grace() -> None:
    entries = [GrowthPoint(day(10), 1200)]
    assert at(9, entries) == "silver"
    assert at(10, entries) == "gold"
    # The growth leaves the window on day 375, but gold is held to the period end (day 375)
    # and through the grace (to day 405).
    assert at(380, entries) == "gold"
    state = replay(tiers=TIERS, policy=POLICY, entries=entries, enrolled_at=T0, now=day(380))
    assert state.downgrade_at == day(405)
    assert at(405, entries) == "silver"
    kinds = [
        c.kind
        for c in replay(
            tiers=TIERS, policy=POLICY, entries=entries, enrolled_at=T0, now=day(500)
        ).changes
    ]
    assert kinds == [TierChangeKind.ENROL, TierChangeKind.UPGRADE, TierChangeKind.DOWNGRADE]


def test_growth_in_grace_keeps_the_tier() -> None:
    entries = [GrowthPoint(day(10), 1200), GrowthPoint(day(390), 1000)]
    assert at(500, entries) == "gold"


def test_renewed_when_growth_holds_at_period_end() -> None:
    entries = [GrowthPoint(day(10), 1200), GrowthPoint(day(300), 1000)]
    assert at(374, entries) == "gold"
    assert at(600, entries) == "gold"
    assert (
        at(800, entries) == "silver"
    )  # day 300's growth left the window on day 665; period ends 740, grace 770


def test_paid_membership_is_a_floor_until_it_expires() -> None:
    paid = (PaidTerm("black", day(5), day(35)),)
    assert at(4, [], paid) == "silver"
    assert at(6, [], paid) == "black"
    assert at(100, [], paid) == "black"  # held to the period end
    assert at(400, [], paid) == "silver"


points = st.lists(
    st.builds(GrowthPoint, st.integers(0, 900).map(day), st.integers(-500, 3000)), max_size=12
)


@given(points, st.integers(0, 1000))
def test_never_below_what_growth_earns_now(entries: list[GrowthPoint], n: int) -> None:
    state = replay(tiers=TIERS, policy=POLICY, entries=entries, enrolled_at=T0, now=day(n))
    window = sum(e.amount for e in entries if day(n) - timedelta(days=365) < e.at <= day(n))
    earned = max(
        (t for t in TIERS if window >= t.min_growth), key=lambda t: t.min_growth, default=TIERS[0]
    )
    order = [t.code for t in TIERS]
    assert order.index(state.tier) >= order.index(earned.code)
    for change in state.changes:
        assert change.at <= day(n)
    assert state.changes[-1].to_tier == state.tier


def test_a_refund_leaving_the_window_upgrades() -> None:
    entries = [GrowthPoint(day(0), -1), GrowthPoint(day(1), 1000)]
    assert at(364, entries) == "silver"
    assert at(365, entries) == "gold"
