"""Types of the points ledger that cross boundaries."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class EarnRules(BaseModel):
    """How a workspace awards points; every amount is an integer number of points."""

    per_yuan: int = Field(default=1, ge=0, description="Points per whole yuan paid on an order.")
    check_in: int = Field(default=5, ge=0, description="Points for a daily check-in (签到).")
    streak_bonus: dict[int, int] = Field(
        default_factory=lambda: {7: 20, 30: 100},
        description="Extra points on reaching exactly N consecutive check-in days.",
    )
    rewards: dict[str, int] = Field(
        default_factory=lambda: {"task": 10, "share": 5, "referral": 50, "birthday": 100},
        description="Points per reward reason (tasks, sharing, referral, birthday).",
    )
    daily_caps: dict[str, int] = Field(
        default_factory=lambda: {"task": 50, "share": 20},
        description="Most points one member may earn per local day for each reason.",
    )
    expiry: Literal["rolling", "year_end", "never"] = Field(
        default="rolling",
        description="rolling: lots expire `expiry_months` after earning; year_end: all at the "
        "end of the year (`expiry_months // 12` years on); never.",
    )
    expiry_months: int = Field(default=12, ge=0, le=120)
    timezone: str = Field(default="Asia/Shanghai", description="Zone of 'today' for caps/streaks.")


class PointsEntry(BaseModel):
    """One immutable ledger entry (member side; the contra account takes the opposite)."""

    id: int
    person_id: str
    kind: str = Field(description="earn, spend, expire, reverse or adjust.")
    amount: int = Field(description="Signed points on the member's account.")
    contra_account: str = Field(description="The system account on the other side.")
    reason: str
    source: str | None
    idempotency_key: str
    lot_id: int | None = Field(description="The lot an expiry empties or a reversal takes back.")
    expires_at: datetime | None
    balance_after: int
    created_at: datetime


class PointsResult(BaseModel):
    """What a write did; a retry with the same key answers with the original entry."""

    entry: PointsEntry | None = Field(description="Null when nothing was due (cap reached, 0).")
    balance: int
    replayed: bool = Field(default=False, description="True when the key had been used before.")


class PointsLot(BaseModel):
    """Points earned together and spent first-in-first-out."""

    id: int
    amount: int
    remaining: int
    earned_at: datetime
    expires_at: datetime | None


class PointsAccount(BaseModel):
    """A member's balance and open lots."""

    person_id: str
    balance: int
    lots: list[PointsLot]


class EntriesPage(BaseModel):
    """A page of a member's entries, newest first."""

    entries: list[PointsEntry]
    next_before_id: int | None = Field(description="Pass as ?before_id= for the next page.")


class CheckInResult(BaseModel):
    """A check-in: the streak it makes and the points it earned."""

    day: str
    streak: int
    result: PointsResult


class Mismatch(BaseModel):
    """One account whose stored state differs from the replay of its entries."""

    workspace_id: str
    person_id: str
    stored_balance: int | None
    derived_balance: int | None
    detail: str


class VerifyReport(BaseModel):
    """Re-derivation of every balance from the entries."""

    accounts: int
    entries: int
    mismatches: list[Mismatch]


class ExpiryReport(BaseModel):
    """What an expiry run did."""

    lots: int
    points: int


class MallItemCreate(BaseModel):
    """An item of the points mall: goods, or a coupon template issued on redemption."""

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["goods", "coupon"] = "goods"
    coupon_template_id: str | None = Field(default=None, description="Required for coupons.")
    price_points: int = Field(gt=0, description="Price in points.")
    stock: int | None = Field(default=None, ge=0, description="Null = unlimited.")
    per_person_limit: int | None = Field(default=None, gt=0, description="Null = unlimited.")


class MallItem(MallItemCreate):
    """A stored mall item; ``stock`` is what is left."""

    id: str
    active: bool
    created_at: datetime


class MallRedemption(BaseModel):
    """One redemption: the points spent (its ledger entry) and what was issued."""

    id: str
    item_id: str
    person_id: str
    points: int
    entry_id: int
    coupon_id: str | None = Field(description="The coupon issued, for coupon items.")
    idempotency_key: str
    created_at: datetime
    replayed: bool = False


class ExpiringPoints(BaseModel):
    """A member's points that expire soon: the list reminders (and journeys) read."""

    person_id: str
    points: int = Field(description="Points left in lots expiring within the window.")
    first_expires_at: datetime = Field(description="When the earliest of those lots expires.")


class PointsTransfer(BaseModel):
    """What a merge moved from the absorbed person's account to the survivor's."""

    points: int = Field(description="Points moved (the lots' remaining points).")
    lots: int = Field(description="Open lots moved, each with its own expiry.")
