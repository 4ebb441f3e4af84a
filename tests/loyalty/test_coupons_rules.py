"""Discount arithmetic: properties and worked examples (integer fen)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.core.errors import ConflictError, InvalidInputError
from siyu.loyalty.coupons import (
    DiscountKind,
    DiscountRule,
    OrderLine,
    check_rule,
    check_usable,
    discount_fen,
    validity,
)

rules = st.builds(
    DiscountRule,
    kind=st.sampled_from(list(DiscountKind)),
    amount_off_fen=st.integers(1, 10**7),
    percent_off=st.integers(1, 100),
    cap_fen=st.none() | st.integers(1, 10**6),
    threshold_fen=st.integers(0, 10**6),
    product_ids=st.none() | st.lists(st.sampled_from("abc"), min_size=1, unique=True),
)
lines = st.lists(
    st.builds(OrderLine, product_id=st.sampled_from("abcd"), amount_fen=st.integers(0, 10**6))
)


@given(rules, st.integers(0, 10**8), lines)
def test_discount_is_never_negative_nor_above_the_order(
    rule: DiscountRule, amount: int, order_lines: list[OrderLine]
) -> None:
    off = discount_fen(rule, amount, order_lines)
    assert 0 <= off <= amount
    assert isinstance(off, int)


@given(rules, st.integers(0, 10**8))
def test_percent_off_respects_its_cap(rule: DiscountRule, amount: int) -> None:
    off = discount_fen(rule, amount)
    if rule.kind is DiscountKind.PERCENT_OFF and rule.cap_fen is not None:
        assert off <= rule.cap_fen


@given(rules, st.integers(0, 10**8))
def test_under_the_threshold_nothing_is_off(rule: DiscountRule, amount: int) -> None:
    whole = rule.model_copy(update={"product_ids": None})
    if amount < whole.threshold_fen:
        assert discount_fen(whole, amount) == 0


def test_worked_examples() -> None:
    full_reduction = DiscountRule(
        kind=DiscountKind.AMOUNT_OFF, amount_off_fen=2000, threshold_fen=10000
    )
    assert discount_fen(full_reduction, 9999) == 0
    assert discount_fen(full_reduction, 10000) == 2000
    eighty = DiscountRule(kind=DiscountKind.PERCENT_OFF, percent_off=20, cap_fen=5000)
    assert discount_fen(eighty, 10001) == 2000  # rounds down to the fen
    assert discount_fen(eighty, 100000) == 5000
    scoped = DiscountRule(kind=DiscountKind.PERCENT_OFF, percent_off=50, product_ids=["tea"])
    order = [
        OrderLine(product_id="tea", amount_fen=3000),
        OrderLine(product_id="cup", amount_fen=7000),
    ]
    assert discount_fen(scoped, 10000, order) == 1500
    assert discount_fen(scoped, 10000) == 0


def test_incomplete_rules_name_the_field() -> None:
    with pytest.raises(InvalidInputError) as err:
        check_rule(DiscountRule(kind=DiscountKind.AMOUNT_OFF))
    assert err.value.field == "amount_off_fen"
    with pytest.raises(InvalidInputError) as err:
        check_rule(DiscountRule(kind=DiscountKind.PERCENT_OFF))
    assert err.value.field == "percent_off"


def test_validity_window_or_days_after_issue() -> None:
    issued = datetime(2026, 11, 1, tzinfo=UTC)
    assert validity(issued_at=issued, valid_from=None, valid_until=None, valid_days=7) == (
        issued,
        issued + timedelta(days=7),
    )
    end = issued + timedelta(days=30)
    assert validity(issued_at=issued, valid_from=None, valid_until=end, valid_days=None) == (
        issued,
        end,
    )
    with pytest.raises(ConflictError) as err:
        check_usable(valid_from=issued, valid_until=end, now=end)
    assert err.value.details["reason"] == "expired"
