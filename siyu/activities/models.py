"""Types that cross the activities domain's boundary: activities, participations, rewards."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator


class ActivityKind(StrEnum):
    """The campaign types operators run (活动运营)."""

    LOTTERY = "lottery"
    GROUP_BUY = "group_buy"
    ASSIST = "assist"
    SIGNUP = "signup"


class RewardSpec(BaseModel):
    """What a person gets: points or a coupon through loyalty, or goods to fulfil."""

    kind: Literal["points", "coupon", "goods"]
    amount: int | None = Field(default=None, ge=1, description="Points, when kind is points.")
    template: str | None = Field(default=None, description="Coupon template id, for coupons.")
    cost_fen: int = Field(default=0, ge=0, description="What one costs the brand (budget, ROI).")

    @model_validator(mode="after")
    def _complete(self) -> RewardSpec:
        if self.kind == "points" and self.amount is None:
            raise ValueError("points rewards need an amount")
        if self.kind == "coupon" and not self.template:
            raise ValueError("coupon rewards need a template")
        return self


class PrizeSpec(BaseModel):
    """One entry of a lottery's prize pool; kind ``none`` is the "no prize" outcome."""

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["points", "coupon", "goods", "none"]
    amount: int | None = Field(default=None, ge=1, description="Points, for points prizes.")
    template: str | None = Field(default=None, description="Coupon template id.")
    cost_fen: int = Field(default=0, ge=0, description="What one costs the brand.")
    weight: int = Field(ge=1, le=1_000_000, description="Relative odds against the pool's sum.")
    stock: int | None = Field(default=None, ge=0, description="Units to give; none = unlimited.")

    @model_validator(mode="after")
    def _complete(self) -> PrizeSpec:
        if self.kind == "points" and self.amount is None:
            raise ValueError("points prizes need an amount")
        if self.kind == "coupon" and not self.template:
            raise ValueError("coupon prizes need a template")
        return self


class Limits(BaseModel):
    """How often one person may take the activity's main action (draw, open, join, start)."""

    per_day: int | None = Field(default=None, ge=1, description="Per local day; none = no cap.")
    total: int | None = Field(default=None, ge=1, description="Over the whole activity.")


class Guards(BaseModel):
    """Anti-abuse rules against 羊毛党 (bounty hunters)."""

    min_account_age_hours: int = Field(
        default=0, ge=0, description="Refuse persons first seen less than this long ago."
    )
    max_per_minute: int | None = Field(
        default=10, ge=1, description="Actions per person per minute; none = no cap."
    )
    max_per_ip_hour: int | None = Field(
        default=100, ge=1, description="Actions from one IP per hour; none = no cap."
    )
    refuse_shared_ids: bool = Field(
        default=True,
        description="Refuse a helper or team member who shares a device or phone with the leader.",
    )


class ActivityCreate(BaseModel):
    """A new activity; the kind decides which settings it needs."""

    name: str = Field(min_length=1, max_length=200)
    kind: ActivityKind
    starts_at: datetime
    ends_at: datetime
    segment_id: str | None = Field(default=None, description="Only members may take part.")
    budget_fen: int | None = Field(default=None, ge=0, description="Most to spend; none = no cap.")
    stock: int | None = Field(
        default=None, ge=0, description="Units of goods (group-buy, assist) or places (signup)."
    )
    limits: Limits = Field(default_factory=Limits)
    guards: Guards = Field(default_factory=Guards)
    prizes: list[PrizeSpec] = Field(default_factory=list, description="Lottery prize pool.")
    reward: RewardSpec | None = Field(
        default=None, description="Completion reward (each group member, the assist starter…)."
    )
    team_size: int | None = Field(default=None, ge=2, le=100, description="Group-buy team size.")
    team_hours: int = Field(default=24, ge=1, le=720, description="A team's deadline, hours.")
    group_price_fen: int | None = Field(default=None, ge=0, description="Group-buy price.")
    helpers_needed: int | None = Field(default=None, ge=1, le=100, description="Assist target.")
    start_price_fen: int | None = Field(default=None, ge=0, description="Bargain start price.")
    floor_price_fen: int | None = Field(default=None, ge=0, description="Bargain floor price.")
    days_required: int | None = Field(default=None, ge=1, le=366, description="Check-in days.")

    @model_validator(mode="after")
    def _kind_settings(self) -> ActivityCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        needs: dict[ActivityKind, tuple[str, ...]] = {
            ActivityKind.LOTTERY: ("prizes",),
            ActivityKind.GROUP_BUY: ("team_size", "reward"),
            ActivityKind.ASSIST: ("helpers_needed", "reward"),
            ActivityKind.SIGNUP: ("days_required", "reward"),
        }
        missing = [name for name in needs[self.kind] if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.kind.value} activity needs {', '.join(missing)}")
        if (self.start_price_fen is None) != (self.floor_price_fen is None):
            raise ValueError("a bargain needs both start_price_fen and floor_price_fen")
        if (self.floor_price_fen or 0) > (self.start_price_fen or 0):
            raise ValueError("floor_price_fen must not exceed start_price_fen")
        return self


class Prize(PrizeSpec):
    """A prize with what is left of it."""

    id: str
    won: int = Field(description="Units given so far.")


class Activity(ActivityCreate):
    """An activity as stored."""

    id: str
    spent_fen: int = Field(description="Budget committed so far (prizes and rewards).")
    stock_left: int | None
    prizes: list[Prize] = Field(default_factory=list)  # type: ignore[assignment]
    created_at: datetime
    paused: bool = Field(default=False, description="Paused: actions refused until resumed.")


class ActionCreate(BaseModel):
    """One person taking part: draw, open, join, start, help, register or check in."""

    person_id: str = Field(min_length=1)
    ip: str | None = Field(default=None, max_length=64, description="For velocity limits.")


class Participation(BaseModel):
    """What one action did; a retry with the same key answers the same (``replayed``)."""

    id: str
    activity_id: str
    person_id: str
    action: str
    at: datetime
    team_id: str | None = None
    prize: Prize | None = Field(default=None, description="Lottery: the prize won, if any.")
    roll: int | None = Field(default=None, description="Lottery: the recorded random draw.")
    detail: dict[str, Any] = Field(default_factory=dict)
    replayed: bool = False


class Refusal(BaseModel):
    """Why an action was refused; stored for audit."""

    id: str
    activity_id: str
    person_id: str
    action: str
    reason: str = Field(description="e.g. ended, not_eligible, limit_reached, same_device.")
    field: str = Field(description="The request field the refusal is about.")
    detail: str
    at: datetime


class Team(BaseModel):
    """A group-buy team or an assist/bargain run."""

    id: str
    activity_id: str
    leader_id: str
    size: int = Field(description="Members (group-buy) or helpers (assist) needed.")
    members: int = Field(description="Joined so far (group-buy counts the leader).")
    price_fen: int | None = Field(description="Current bargain price, or the group price.")
    status: Literal["open", "complete", "expired"]
    deadline: datetime
    created_at: datetime
    completed_at: datetime | None


class RewardAction(BaseModel):
    """A reward or fulfilment action, as data; the key makes paying it once safe."""

    idempotency_key: str
    activity_id: str
    person_id: str
    kind: Literal["points", "coupon", "goods", "refund"]
    amount: int | None = None
    template: str | None = None
    cost_fen: int = 0
    reason: str
    status: Literal["pending", "paid", "action"] = Field(
        description="pending: loyalty pays it; paid; action: goods/refund for operations."
    )


class RewardFailure(BaseModel):
    """A reward loyalty refused; it stays pending."""

    idempotency_key: str
    reason: str


class RewardPayout(BaseModel):
    """What a payout run did."""

    paid: list[RewardAction] = Field(default_factory=list)
    failed: list[RewardFailure] = Field(default_factory=list)


class FunnelStep(BaseModel):
    """One step of an activity's funnel."""

    step: str
    persons: int
    events: int


class ActivityStats(BaseModel):
    """An activity's funnel, costs and ROI."""

    activity_id: str
    funnel: list[FunnelStep]
    participations: int
    refusals: dict[str, int] = Field(description="Refusals by reason.")
    orders: int = Field(description="Orders carrying this activity_id.")
    gmv_fen: int
    cost_fen: int = Field(description="Budget spent: prizes and rewards committed.")
    roi: float | None = Field(description="gmv_fen / cost_fen; none when nothing was spent.")
