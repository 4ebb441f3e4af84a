"""Coupon shapes that cross the service boundary: templates, coupons, redemptions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from siyu.loyalty.coupons import DiscountRule, OrderLine


class CouponStatus(StrEnum):
    """Where a coupon is in its life."""

    ISSUED = "issued"  # held by the person, usable in its window
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    VOIDED = "voided"


class CouponTemplateCreate(DiscountRule):
    """A coupon template (券模板): the rule, the validity, and how many may exist."""

    name: str = Field(min_length=1, max_length=200)
    valid_from: datetime | None = Field(default=None, description="Fixed window start.")
    valid_until: datetime | None = Field(default=None, description="Fixed window end.")
    valid_days: int | None = Field(
        default=None, ge=1, le=3650, description="Or: usable for N days after issue."
    )
    per_person_limit: int | None = Field(
        default=None,
        ge=1,
        description="每人限领: most coupons of this template one person may receive — issued, "
        "redeemed and expired ones count, voided ones do not.",
    )
    stock: int | None = Field(
        default=None, ge=0, description="Total that may be issued; null: no cap."
    )

    @model_validator(mode="after")
    def _one_validity(self) -> CouponTemplateCreate:
        if self.valid_days is not None and (self.valid_from or self.valid_until):
            raise ValueError("give valid_days or a valid_from/valid_until window, not both")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class CouponTemplate(CouponTemplateCreate):
    """A stored template and how many were issued."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    workspace_id: str
    issued: int = Field(description="Coupons issued so far (never above stock).")
    created_at: datetime


class Coupon(BaseModel):
    """One coupon held by one person."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    workspace_id: str
    template_id: str
    person_id: str
    status: CouponStatus
    source: str = Field(description="issue | claim | segment | mall | upgrade | …")
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime | None
    order_id: str | None = None
    order_amount_fen: int | None = None
    discount_fen: int | None = None
    redeemed_at: datetime | None = None
    voided_at: datetime | None = None
    void_reason: str | None = None


class Redemption(BaseModel):
    """An order to redeem a coupon against."""

    order_id: str = Field(min_length=1, max_length=200)
    order_amount_fen: int = Field(ge=0)
    lines: list[OrderLine] = Field(default_factory=list, description="For product-scoped coupons.")


class RedemptionResult(BaseModel):
    """What the order gets off; a retry with the same order answers the same."""

    coupon_id: str
    order_id: str
    order_amount_fen: int
    discount_fen: int
    payable_fen: int
    redeemed_at: datetime


class BulkIssueResult(BaseModel):
    """The outcome of issuing one template to every member of a segment."""

    template_id: str
    segment_id: str
    issued: int = Field(description="Coupons issued by this call (retries count 0).")
    already: int = Field(description="Members issued by an earlier try with the same key.")
    limit_reached: int
    out_of_stock: int = Field(description="Members left without a coupon once stock ran out.")


class ExpireResult(BaseModel):
    """How many coupons an expiry run marked expired."""

    expired: int
