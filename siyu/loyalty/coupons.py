"""Pure coupon rules: the discount an order gets (integer fen) and a coupon's validity.

Nothing here touches a session or the clock: ``now`` and the order are inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from siyu.core.errors import ConflictError, InvalidInputError


class DiscountKind(StrEnum):
    """How a coupon takes money off."""

    AMOUNT_OFF = "amount_off"  # 满减 / 立减: a fixed amount in fen
    PERCENT_OFF = "percent_off"  # 折扣券: a percentage of the eligible amount, with a cap


class DiscountRule(BaseModel):
    """What a coupon takes off and on which part of an order."""

    kind: DiscountKind
    amount_off_fen: int | None = Field(default=None, ge=1, description="For amount_off.")
    percent_off: int | None = Field(
        default=None, ge=1, le=100, description="For percent_off: 20 means 20% off (8折)."
    )
    cap_fen: int | None = Field(default=None, ge=1, description="Most a percent_off takes off.")
    threshold_fen: int = Field(
        default=0, ge=0, description="Eligible amount the order must reach (满 N 可用)."
    )
    product_ids: list[str] | None = Field(
        default=None, description="Products the coupon applies to; null means every product."
    )


class OrderLine(BaseModel):
    """One line of an order, for product-scoped coupons."""

    product_id: str = Field(min_length=1, max_length=200)
    amount_fen: int = Field(ge=0, description="Line total after other discounts, in fen.")


def check_rule(rule: DiscountRule) -> None:
    """Raise InvalidInputError naming the field when ``rule`` is incomplete for its kind."""
    if rule.kind is DiscountKind.AMOUNT_OFF and rule.amount_off_fen is None:
        raise InvalidInputError("amount_off coupons need amount_off_fen", field="amount_off_fen")
    if rule.kind is DiscountKind.PERCENT_OFF and rule.percent_off is None:
        raise InvalidInputError("percent_off coupons need percent_off", field="percent_off")
    if rule.product_ids is not None and not rule.product_ids:
        raise InvalidInputError("product_ids is empty; use null for all", field="product_ids")


def eligible_fen(rule: DiscountRule, order_amount_fen: int, lines: Sequence[OrderLine]) -> int:
    """The part of the order the coupon applies to (never above the order amount)."""
    if order_amount_fen < 0:
        raise InvalidInputError("order amount must be ≥ 0", field="order_amount_fen")
    if rule.product_ids is None:
        return order_amount_fen
    scope = set(rule.product_ids)
    return min(order_amount_fen, sum(line.amount_fen for line in lines if line.product_id in scope))


def discount_fen(rule: DiscountRule, order_amount_fen: int, lines: Sequence[OrderLine] = ()) -> int:
    """The discount in fen: 0 under the threshold, never negative, never above the order.

    Percent-off rounds down to the fen (the brand never gives away a fraction).
    """
    base = eligible_fen(rule, order_amount_fen, lines)
    if base <= 0 or base < rule.threshold_fen:
        return 0
    if rule.kind is DiscountKind.AMOUNT_OFF:
        return min(rule.amount_off_fen or 0, base)
    off = base * (rule.percent_off or 0) // 100
    if rule.cap_fen is not None:
        off = min(off, rule.cap_fen)
    return min(off, base)


def validity(
    *,
    issued_at: datetime,
    valid_from: datetime | None,
    valid_until: datetime | None,
    valid_days: int | None,
) -> tuple[datetime, datetime | None]:
    """When a coupon issued at ``issued_at`` may be used: a fixed window or N days after issue."""
    if valid_days is not None:
        return issued_at, issued_at + timedelta(days=valid_days)
    return (valid_from or issued_at), valid_until


def check_usable(*, valid_from: datetime, valid_until: datetime | None, now: datetime) -> None:
    """Raise ConflictError when ``now`` is outside the coupon's validity."""
    if now < valid_from:
        raise ConflictError(
            "the coupon is not valid yet", field="coupon_id", reason="not_yet_valid"
        )
    if valid_until is not None and now >= valid_until:
        raise ConflictError("the coupon has expired", field="coupon_id", reason="expired")
