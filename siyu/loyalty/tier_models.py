"""Membership shapes that cross the service boundary: tiers, members, history, paid terms."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from siyu.loyalty.tiers import TierChangeKind, TierPolicy


class TierBenefits(BaseModel):
    """What a tier gives (会员权益)."""

    points_multiplier_pct: int = Field(
        default=100, ge=100, le=1000, description="Points earned on orders, in %: 150 = 1.5×."
    )
    upgrade_coupon_template_ids: list[str] = Field(
        default_factory=list, description="Coupon templates issued once on reaching the tier."
    )
    free_shipping: bool = False
    birthday_points: int = Field(default=0, ge=0, description="Birthday gift in points.")
    birthday_coupon_template_id: str | None = Field(default=None, description="Birthday coupon.")


class TierDefinition(TierBenefits):
    """One tier of the ladder."""

    model_config = ConfigDict(from_attributes=True)

    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    name: str = Field(min_length=1, max_length=100)
    min_growth: int = Field(ge=0, description="Growth (成长值) in the window that reaches it.")
    fee_fen: int | None = Field(default=None, ge=1, description="Paid tier: price of one term.")
    term_days: int | None = Field(default=None, ge=1, le=3650, description="Paid tier: term.")

    @model_validator(mode="after")
    def _paid_needs_term(self) -> TierDefinition:
        if (self.fee_fen is None) != (self.term_days is None):
            raise ValueError("a paid tier needs both fee_fen and term_days")
        return self


class TierLadder(BaseModel):
    """A workspace's tiers and how growth and downgrades work."""

    policy: TierPolicy = Field(default_factory=TierPolicy)
    tiers: list[TierDefinition] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _distinct(self) -> TierLadder:
        if len({t.code for t in self.tiers}) != len(self.tiers):
            raise ValueError("tier codes must be distinct")
        if min(t.min_growth for t in self.tiers) != 0:
            raise ValueError("the lowest tier must start at min_growth 0")
        return self


class MemberEnrol(BaseModel):
    """Who to enrol: a person id, or a member number (member_id) already seen by identify."""

    person_id: str | None = Field(default=None, max_length=40)
    member_id: str | None = Field(default=None, max_length=200, description="会员号")

    @model_validator(mode="after")
    def _one(self) -> MemberEnrol:
        if not (self.person_id or self.member_id):
            raise ValueError("give person_id or member_id")
        return self


class Member(BaseModel):
    """A member and the tier held now."""

    model_config = ConfigDict(from_attributes=True)

    workspace_id: str
    person_id: str
    member_no: str | None
    source: str
    enrolled_at: datetime
    tier: str
    tier_since: datetime = Field(description="Start of the current tier period.")
    growth: int = Field(description="Growth in the rolling window.")
    downgrade_at: datetime | None = Field(
        description="In grace: the tier drops then unless growth recovers."
    )
    paid_until: datetime | None = None
    benefits: TierBenefits | None = None


class TierHistoryEntry(BaseModel):
    """One move of a member's tier."""

    at: datetime
    from_tier: str | None
    to_tier: str
    change: TierChangeKind
    growth: int


class GrowthCreate(BaseModel):
    """Growth value to add (or take back, negative)."""

    amount: int = Field(ge=-10_000_000, le=10_000_000)
    reason: str = Field(min_length=1, max_length=200)
    at: datetime | None = Field(default=None, description="When it was earned; default now.")


class PaidMembershipCreate(BaseModel):
    """Buy or renew a paid tier."""

    tier: str = Field(min_length=1, max_length=40)
    order_id: str | None = Field(default=None, max_length=200)


class PaidMembership(BaseModel):
    """One paid term."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    person_id: str
    tier: str
    fee_fen: int
    order_id: str | None
    starts_at: datetime
    ends_at: datetime


class TierCount(BaseModel):
    """Members holding one tier."""

    tier: str
    name: str
    members: int
    share: float = Field(description="Fraction of all members (0–1).")


class TierDistribution(BaseModel):
    """The tier distribution board."""

    total: int
    tiers: list[TierCount]
    in_grace: int = Field(description="Members due to move down unless growth recovers.")
    paid_active: int


class RefreshResult(BaseModel):
    """The outcome of re-evaluating members (the period-end job)."""

    evaluated: int
    upgraded: int
    downgraded: int


class BirthdayGift(BaseModel):
    """What a member received for a birthday (once per year)."""

    person_id: str
    tier: str
    year: int
    points: int = Field(description="Points earned through the ledger (0 when none).")
    coupon_id: str | None = None


class MembershipMove(BaseModel):
    """What a merge moved from the absorbed person's membership to the survivor's."""

    growth: int = Field(description="Growth value moved (sum of the moved growth entries).")
    member_moved: bool = Field(description="The absorbed person's member record moved.")
    tier: str | None = Field(description="The survivor's tier after, null if not a member.")
