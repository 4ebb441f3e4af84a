"""The next-best-offer rule and the journey message values."""

from __future__ import annotations

import pytest

from siyu.recommend.models import Reason, Recommendation
from siyu.recommend.offers import (
    CouponOffer,
    OfferContext,
    OfferKind,
    discount_on,
    message_values,
    need_of,
    next_best_offer,
)

SMALL = CouponOffer(offer_id="t-small", name="立减3元", amount_off_fen=300)
BIG = CouponOffer(offer_id="t-big", name="满50减20", amount_off_fen=2000, threshold_fen=5000)
PERCENT = CouponOffer(offer_id="t-pct", name="8折券", percent_off=20, cap_fen=1000)


def product(reason: Reason = Reason.ALS) -> Recommendation:
    return Recommendation(
        product_id="tea-peach",
        name="蜜桃乌龙",
        category=None,
        price_fen=1900,
        url="/products/tea-peach",
        score=0.9,
        reason=reason,
    )


@pytest.mark.parametrize(
    ("activity", "stage", "rfm", "need"),
    [
        ("active", None, None, 0.1),
        ("churned", None, None, 0.9),
        ("at_risk", "first_purchase", None, 0.9),
        ("churned", "potential", None, 1.0),
        ("active", "member", "重要价值客户", 0.0),
        (None, None, None, 0.5),
    ],
)
def test_need_follows_activity_stage_and_rfm(
    activity: str | None, stage: str | None, rfm: str | None, need: float
) -> None:
    context = OfferContext(activity=activity, stage=stage, rfm_segment=rfm)
    assert need_of(context) == pytest.approx(need)


def test_discounts_of_each_kind() -> None:
    assert discount_on(SMALL, 2000) == 300
    assert discount_on(BIG, 4999) == 0 and discount_on(BIG, 5000) == 2000
    assert discount_on(PERCENT, 3000) == 600 and discount_on(PERCENT, 9000) == 1000


def test_an_active_loyal_customer_is_shown_a_product_not_a_discount() -> None:
    context = OfferContext(activity="active", rfm_segment="重要价值客户")
    found = next_best_offer(context=context, coupons=[SMALL, BIG, PERCENT], products=[product()])
    assert found.kind is OfferKind.PRODUCT and found.offer_id == "tea-peach"
    assert found.budget_fen == 0
    assert {c.offer_id for c in found.candidates} == {"t-small", "t-big", "t-pct", "tea-peach"}


def test_a_churned_customer_gets_the_coupon_closest_to_their_budget() -> None:
    # N = 0.9 + 0.2 (first purchase) → 1.0; basket ¥30 → budget 0.3 × 3000 = 900 fen:
    # 8折 takes 600 off ¥30, 立减3元 300, 满50减20 2000 but only on a ¥50 order.
    context = OfferContext(
        activity="churned", stage="first_purchase", expected_order_value_fen=3000
    )
    found = next_best_offer(context=context, coupons=[SMALL, BIG, PERCENT], products=[product()])
    assert (found.kind, found.offer_id, found.budget_fen) == (OfferKind.COUPON, "t-pct", 900)
    scores = {c.offer_id: c.score for c in found.candidates}
    assert scores["t-pct"] > scores["t-small"] and scores["t-pct"] > scores["t-big"]
    assert scores["tea-peach"] == 0.0
    assert "budget 900" in found.why


def test_unavailable_and_untargeted_coupons_are_not_candidates() -> None:
    context = OfferContext(activity="churned", segment_ids=["seg-vip"])
    gone = PERCENT.model_copy(update={"available": False})
    other = SMALL.model_copy(update={"segment_ids": ["seg-students"]})
    aimed = BIG.model_copy(update={"segment_ids": ["seg-vip"], "threshold_fen": 0})
    found = next_best_offer(context=context, coupons=[gone, other, aimed], products=[])
    assert [c.offer_id for c in found.candidates] == ["t-big"]
    assert "aimed at their segment" in found.why


def test_nothing_to_offer() -> None:
    found = next_best_offer(context=OfferContext(), coupons=[], products=[])
    assert found.kind is OfferKind.NONE and found.offer_id is None and found.candidates == []


def test_a_popular_product_loses_to_a_coupon_sooner_than_a_personal_one() -> None:
    # N 0.4, budget 0.4 × 0.3 × 2500 = 300: the coupon fits exactly and scores 0.4;
    # a personal product scores 0.6 × 1.0, a popular one 0.6 × 0.3.
    context = OfferContext(activity="won_back", expected_order_value_fen=2500)
    personal = next_best_offer(context=context, coupons=[SMALL], products=[product()])
    popular = next_best_offer(context=context, coupons=[SMALL], products=[product(Reason.POPULAR)])
    assert personal.kind is OfferKind.PRODUCT
    assert popular.kind is OfferKind.COUPON


def test_message_values_for_a_journey_message() -> None:
    items = [
        product(),
        product(Reason.POPULAR).model_copy(update={"name": None, "price_fen": None}),
    ]
    offer = next_best_offer(
        context=OfferContext(activity="churned"), coupons=[SMALL], products=items
    )
    values = message_values(items, offer=offer, limit=3)
    assert values["rec_1"] == "蜜桃乌龙" and values["rec_1_price"] == "19.00"
    assert values["rec_1_url"] == "/products/tea-peach"
    assert values["rec_2"] == "tea-peach" and "rec_2_price" not in values
    assert "rec_3" not in values
    assert (values["offer"], values["offer_id"], values["offer_kind"]) == (
        "立减3元",
        "t-small",
        "coupon",
    )
    assert message_values(items, limit=1).keys() == {
        "rec_1",
        "rec_1_id",
        "rec_1_url",
        "rec_1_price",
    }
