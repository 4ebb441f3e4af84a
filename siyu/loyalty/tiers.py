"""Pure tier rules: which tier a member holds, replayed from growth history and ``now``.

Growth value (成长值) counts over a rolling window. A member moves up the moment the window's
growth reaches a higher tier; moves down only at the end of a period (``period_days`` after
reaching or renewing the tier) and only if the growth is still short when a grace period
after it ends. An active paid membership is a floor: the member holds at least its tier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field


class TierChangeKind(StrEnum):
    """Why a member's tier moved."""

    ENROL = "enrol"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"


class TierRank(BaseModel):
    """What the pure rules need of a tier."""

    code: str
    min_growth: int = Field(ge=0)


class TierPolicy(BaseModel):
    """How growth is counted and when a member may move down."""

    window_days: int = Field(default=365, ge=1, le=3650, description="Rolling growth window.")
    period_days: int = Field(
        default=365, ge=1, le=3650, description="A tier is held at least this long (定级周期)."
    )
    grace_days: int = Field(
        default=30, ge=0, le=365, description="Time to recover before a downgrade."
    )


@dataclass(frozen=True, slots=True)
class GrowthPoint:
    """One growth entry: when and how much (negative for a refund)."""

    at: datetime
    amount: int


@dataclass(frozen=True, slots=True)
class PaidTerm:
    """A paid membership term that keeps the member at ``tier`` or above."""

    tier: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class TierChange:
    """One move of the replay."""

    at: datetime
    from_tier: str | None
    to_tier: str
    kind: TierChangeKind
    growth: int


@dataclass(frozen=True, slots=True)
class TierState:
    """Where the member stands at ``now``."""

    tier: str
    since: datetime  # start of the current period
    growth: int
    downgrade_at: datetime | None  # set while in grace: the tier drops then unless growth recovers
    changes: tuple[TierChange, ...]


class Ladder:
    """Tiers by ascending growth threshold, with the growth and paid terms to rank a member."""

    def __init__(
        self,
        tiers: Sequence[TierRank],
        policy: TierPolicy,
        entries: Sequence[GrowthPoint],
        paid: Sequence[PaidTerm],
    ) -> None:
        if not tiers:
            raise ValueError("a ladder needs at least one tier")
        self.tiers = sorted(tiers, key=lambda t: (t.min_growth, t.code))
        self.rank = {t.code: i for i, t in enumerate(self.tiers)}
        self.window = timedelta(days=policy.window_days)
        self.entries = sorted(entries, key=lambda e: e.at)
        self.paid = list(paid)

    def growth(self, at: datetime) -> int:
        """Growth in the window ending at ``at`` (inclusive)."""
        start = at - self.window
        return sum(e.amount for e in self.entries if start < e.at <= at)

    def earned(self, at: datetime) -> str:
        """The highest tier the growth (or an active paid term) reaches at ``at``."""
        growth = self.growth(at)
        best = self.tiers[0].code
        for tier in self.tiers:
            if growth >= tier.min_growth:
                best = tier.code
        for term in self.paid:
            if (
                term.starts_at <= at < term.ends_at
                and self.rank.get(term.tier, -1) > self.rank[best]
            ):
                best = term.tier
        return best

    def times(self, after: datetime, until: datetime) -> list[datetime]:
        """Moments in (after, until] when the earned tier may change: entries arriving, entries
        leaving the window (a refund leaving raises the growth), and paid terms starting."""
        moments = {e.at for e in self.entries} | {t.starts_at for t in self.paid}
        moments |= {e.at + self.window for e in self.entries if e.amount < 0}
        return sorted(t for t in moments if after < t <= until)


def replay(
    *,
    tiers: Sequence[TierRank],
    policy: TierPolicy,
    entries: Sequence[GrowthPoint],
    enrolled_at: datetime,
    now: datetime,
    paid: Sequence[PaidTerm] = (),
) -> TierState:
    """The member's tier at ``now`` and every move since enrolment, from history alone."""
    ladder = Ladder(tiers, policy, entries, paid)
    # Growth from before enrolment counts; entries at the enrolment instant read as an upgrade.
    before = enrolled_at - timedelta(microseconds=1)
    tier = ladder.earned(before)
    since = enrolled_at
    changes = [TierChange(enrolled_at, None, tier, TierChangeKind.ENROL, ladder.growth(before))]
    period, grace = timedelta(days=policy.period_days), timedelta(days=policy.grace_days)
    cursor = before
    while True:
        period_end = since + period
        for t in ladder.times(cursor, min(period_end, now)):
            if ladder.rank[ladder.earned(t)] > ladder.rank[tier]:
                changes.append(
                    TierChange(t, tier, ladder.earned(t), TierChangeKind.UPGRADE, ladder.growth(t))
                )
                tier, since = ladder.earned(t), t
                break
        else:
            if period_end > now:
                return TierState(tier, since, ladder.growth(now), None, tuple(changes))
            tier, since, cursor, pending = _period_end(
                ladder, tier, period_end, grace, now, changes
            )
            if pending is not None:
                return TierState(tier, since, ladder.growth(now), pending, tuple(changes))
            continue
        cursor = since


def _period_end(
    ladder: Ladder,
    tier: str,
    period_end: datetime,
    grace: timedelta,
    now: datetime,
    changes: list[TierChange],
) -> tuple[str, datetime, datetime, datetime | None]:
    """Settle a period end: renew, recover (or upgrade) in grace, or move down after it.

    Returns the tier, the new period start, the replay cursor and, while still in grace,
    when the downgrade falls due.
    """
    if ladder.rank[ladder.earned(period_end)] >= ladder.rank[tier]:
        return tier, period_end, period_end, None
    grace_end = period_end + grace
    for t in ladder.times(period_end, min(grace_end, now)):
        earned = ladder.earned(t)
        if ladder.rank[earned] > ladder.rank[tier]:
            changes.append(TierChange(t, tier, earned, TierChangeKind.UPGRADE, ladder.growth(t)))
            return earned, t, t, None
        if ladder.rank[earned] == ladder.rank[tier]:
            return tier, period_end, t, None
    if grace_end > now:
        return tier, period_end, now, grace_end
    earned = ladder.earned(grace_end)
    changes.append(
        TierChange(grace_end, tier, earned, TierChangeKind.DOWNGRADE, ladder.growth(grace_end))
    )
    return earned, grace_end, grace_end, None
