"""Types that cross the referral domain's boundary: codes, staff, stores, referrals, rewards."""

from __future__ import annotations

import re
from datetime import datetime, time
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

_SCENE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class Shift(BaseModel):
    """A working window on some weekdays, in the workspace's time zone (end exclusive)."""

    weekdays: list[int] = Field(
        default_factory=lambda: list(range(7)),
        description="ISO weekdays minus one: 0 = Monday … 6 = Sunday.",
    )
    start: time = Field(description="Local start time, e.g. 09:00.")
    end: time = Field(description="Local end time (exclusive); before start spans midnight.")

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("weekdays must be 0 (Monday) … 6 (Sunday), at least one")
        return sorted(set(value))


class StoreCreate(BaseModel):
    """A new store (门店)."""

    name: str = Field(min_length=1, max_length=200)


class Store(StoreCreate):
    """A store."""

    id: str
    created_at: datetime


class StaffCreate(BaseModel):
    """A new staff member (导购) who can own customers."""

    name: str = Field(min_length=1, max_length=200)
    store_id: str | None = Field(default=None, description="The store the staff works in.")
    wecom_userid: str | None = Field(default=None, description="WeCom userid, if any.")
    daily_cap: int | None = Field(
        default=None, ge=1, description="Most contact adds a day through live codes; none = no cap."
    )
    active: bool = Field(default=True, description="False: off duty until reactivated.")
    shifts: list[Shift] = Field(
        default_factory=list, description="Working windows; none = always on duty."
    )


class Staff(StaffCreate):
    """A staff member."""

    id: str
    created_at: datetime


class LiveCodeKind(StrEnum):
    """Where a channel live code is printed or shown."""

    STORE = "store"
    POSTER = "poster"
    KOL = "kol"
    PACKAGE_INSERT = "package_insert"
    OTHER = "other"


class StaffAssignment(BaseModel):
    """One staff member a live code rotates to."""

    staff_id: str
    weight: int = Field(default=1, ge=1, le=1000, description="Share of new contacts.")
    backup: bool = Field(default=False, description="Only used when no primary can take one.")


class LiveCodeCreate(BaseModel):
    """A new channel live code (渠道活码)."""

    name: str = Field(min_length=1, max_length=200)
    kind: LiveCodeKind
    channel: str = Field(
        min_length=1, max_length=200, description="Becomes the first-touch channel (utm_source)."
    )
    scene: str | None = Field(
        default=None, description="The scene/state parameter in the QR code; generated if absent."
    )
    store_id: str | None = None
    staff: list[StaffAssignment] = Field(default_factory=list)

    @field_validator("scene")
    @classmethod
    def _scene(cls, value: str | None) -> str | None:
        if value is not None and not _SCENE.match(value):
            raise ValueError("scene must be 1-64 letters, digits, '_' or '-'")
        return value

    @model_validator(mode="after")
    def _unique_staff(self) -> LiveCodeCreate:
        ids = [a.staff_id for a in self.staff]
        if len(ids) != len(set(ids)):
            raise ValueError("each staff member may appear once")
        return self


class LiveCode(LiveCodeCreate):
    """A channel live code."""

    id: str
    scene: str
    created_at: datetime
    url: str = Field(description="What the QR code encodes.")


class ScanCreate(BaseModel):
    """A scan of, or a contact added through, a live code by one person."""

    identifier_type: str = Field(description="e.g. wecom_external_userid, unionid, phone.")
    identifier: str = Field(min_length=1, description="The value, in clear.")
    action: Literal["scan", "add"] = Field(
        default="add", description="scan: the code was scanned; add: the contact was added."
    )


class ScanResult(BaseModel):
    """What a scan did: the person, the staff it rotated to, and whether credit was new."""

    id: str
    code_id: str
    person_id: str
    action: str
    staff_id: str | None
    store_id: str | None
    new_customer: bool = Field(description="True when this scan made the person's owner.")
    at: datetime


class LiveCodeStats(BaseModel):
    """A live code's results: scans, adds, customers, first orders, GMV (fen)."""

    code_id: str
    scans: int
    adds: int
    customers: int = Field(description="Persons whose owner came from this code.")
    first_orders: int = Field(description="Of those, persons with at least one order.")
    gmv_fen: int = Field(description="Order revenue of those persons, every channel.")


class Owner(BaseModel):
    """A customer's owning staff member and store (导购归属)."""

    person_id: str
    staff_id: str | None
    store_id: str | None
    source: str = Field(description="live_code, wecom or manual.")
    source_id: str | None
    assigned_at: datetime


class OwnerSet(BaseModel):
    """Set a customer's owner from a WeCom contact or by hand."""

    staff_id: str
    source: Literal["wecom", "manual"] = "manual"
    replace: bool = Field(default=False, description="Replace an existing owner.")


class CreditRow(BaseModel):
    """Customers and orders credited to one staff member or store."""

    id: str
    name: str
    customers: int
    buyers: int = Field(description="Customers with at least one order.")
    repeat_buyers: int = Field(description="Customers with two or more orders.")
    orders: int
    gmv_fen: int
    repurchase_rate: float = Field(description="repeat_buyers / buyers (0 when none).")
    ltv_fen: int = Field(description="GMV per customer so far (historic LTV), fen.")


class Milestone(StrEnum):
    """Moments an invitee reaches that may reward the inviter and the invitee."""

    REGISTERED = "registered"
    FIRST_ORDER = "first_order"
    FIRST_ORDER_OVER = "first_order_over"


class RewardSpec(BaseModel):
    """What one party gets at a milestone."""

    kind: Literal["points", "coupon"]
    amount: int | None = Field(default=None, ge=1, description="Points, when kind is points.")
    template: str | None = Field(default=None, description="Coupon template id, for coupons.")

    @model_validator(mode="after")
    def _complete(self) -> RewardSpec:
        if self.kind == "points" and self.amount is None:
            raise ValueError("points rewards need an amount")
        if self.kind == "coupon" and not self.template:
            raise ValueError("coupon rewards need a template")
        return self


class MilestoneRule(BaseModel):
    """Rewards at one milestone."""

    milestone: Milestone
    min_order_fen: int = Field(default=0, ge=0, description="For first_order_over.")
    inviter: RewardSpec | None = None
    invitee: RewardSpec | None = None


class ReferralSettings(BaseModel):
    """A workspace's referral rules: milestones and anti-fraud limits."""

    milestones: list[MilestoneRule] = Field(default_factory=list)
    max_invites_per_hour: int = Field(default=20, ge=1)
    max_depth: int = Field(default=50, ge=1, description="Deepest level kept in the tree.")


class RewardAction(BaseModel):
    """A reward to hand to loyalty, as data; the idempotency key makes paying it once safe."""

    person_id: str
    kind: Literal["points", "coupon"]
    amount: int | None = None
    template: str | None = None
    reason: str
    idempotency_key: str
    invitee_id: str
    milestone: Milestone
    role: Literal["inviter", "invitee"]
    status: Literal["pending", "paid"] = "pending"


class InviteCode(BaseModel):
    """A person's invite code and link."""

    person_id: str
    code: str
    link: str


class ReferralCreate(BaseModel):
    """An invitee arriving through an invite code."""

    code: str = Field(min_length=1, max_length=20, description="The inviter's invite code.")
    identifier_type: str = Field(description="The invitee's identifier type.")
    identifier: str = Field(min_length=1, description="The invitee's identifier, in clear.")


class Referral(BaseModel):
    """One edge of the referral tree: who brought whom."""

    inviter_id: str
    invitee_id: str
    code: str
    depth: int = Field(description="1 for a direct invitee of a root inviter.")
    created_at: datetime


class ReferralResult(BaseModel):
    """A referral and the rewards it triggered."""

    referral: Referral
    rewards: list[RewardAction]


class Refusal(BaseModel):
    """A referral refused by an anti-fraud rule, with why."""

    id: str
    inviter_id: str
    invitee_id: str
    reason: str
    detail: str
    at: datetime


class TreeNode(BaseModel):
    """A person in a referral subtree."""

    person_id: str
    inviter_id: str | None
    depth: int = Field(description="Levels below the queried root (root = 0).")


class LeaderRow(BaseModel):
    """One inviter on the leaderboard."""

    person_id: str
    invitees: int
    ordered: int = Field(description="Invitees with at least one order.")
    gmv_fen: int = Field(description="Order revenue of the invitees.")


class ReferralSummary(BaseModel):
    """Headline referral numbers: K-factor and the leaderboard."""

    inviters: int
    invitees: int
    ordered: int
    k_factor: float = Field(description="Invitees per inviter.")
    k_factor_ordered: float = Field(description="Invitees who ordered per inviter.")
    refusals: int
    leaderboard: list[LeaderRow]


class RewardFailure(BaseModel):
    """A reward loyalty refused (it stays pending); ``reason`` says why."""

    idempotency_key: str
    reason: str


class RewardPayout(BaseModel):
    """What handing pending rewards to loyalty did."""

    paid: list[RewardAction] = Field(default_factory=list)
    failed: list[RewardFailure] = Field(default_factory=list)
