"""Next-best offer and journey personalisation: pure functions over data the caller gathers.

The caller (the API route, a journey step) collects the candidate coupons, the person's
segments, RFM segment, lifecycle stage and activity, and predicted value; nothing here reads
a store or the clock. The scoring rule (also in docs/recommendations.md):

1. **Eligible** — an offer marked unavailable (expired, out of stock, the person at its
   limit) or aimed at segments the person is in none of is dropped.
2. **Need** N ∈ [0, 1] — how much an incentive is needed to get the next order, from the
   activity status (active 0.1, won back 0.4, at risk 0.7, churned 0.9, unknown 0.5), plus
   0.2 for a person who has not repeated yet (stage potential, stranger or first_purchase),
   minus 0.2 for RFM 重要价值客户 / 重要保持客户 (they buy anyway), clipped to [0, 1].
3. **Basket** E — the person's expected order value (predicted by the LTV model, else their
   average order, else the workspace's).
4. **Budget** B = N × ``max_discount_share`` × E — the discount worth spending on them.
5. **Coupon score** = N × closeness × usability (+ 0.2 when aimed at one of their
   segments), where the coupon's discount d is what it takes off an order of
   max(E, threshold), closeness = 1 − |d − B| / max(d, B), and usability is 1 when the
   threshold is at most 1.5 × E, else 0.5 (a 满减 far above their basket is rarely used).
6. **Product score** = (1 − N) × the top recommendation's relevance (1 for a personal-model
   product, 0.6 bought-together, 0.3 popular): a person who buys anyway is shown a product,
   not given margin.

The highest score wins (ties: coupon before product, then the cheaper coupon); every
candidate's score and the numbers behind it are returned, so an operator can see why.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, Field

from siyu.recommend.models import Reason, Recommendation

ACTIVITY_NEED = {"active": 0.1, "won_back": 0.4, "at_risk": 0.7, "churned": 0.9}
UNKNOWN_NEED = 0.5
NOT_REPEATED = frozenset({"potential", "stranger", "first_purchase"})
LOYAL_RFM = frozenset({"重要价值客户", "重要保持客户"})
RELEVANCE = {
    Reason.ALS: 1.0,
    Reason.BPR: 1.0,
    Reason.BOUGHT_TOGETHER: 0.6,
    Reason.POPULAR: 0.3,
}
TARGETED_BONUS = 0.2


class OfferKind(StrEnum):
    """What the next-best offer is."""

    COUPON = "coupon"
    PRODUCT = "product"
    NONE = "none"


class CouponOffer(BaseModel):
    """A candidate coupon (from a coupon template), as data."""

    offer_id: str = Field(description="The coupon template id.")
    name: str
    amount_off_fen: int | None = Field(default=None, ge=1)
    percent_off: int | None = Field(default=None, ge=1, le=100)
    cap_fen: int | None = Field(default=None, ge=1)
    threshold_fen: int = Field(default=0, ge=0)
    segment_ids: list[str] = Field(
        default_factory=list, description="Aimed at these segments only; empty: everyone."
    )
    available: bool = Field(default=True, description="False: expired, out of stock, at limit.")


class OfferContext(BaseModel):
    """What is known of the person (the caller gathers it)."""

    segment_ids: list[str] = Field(default_factory=list)
    rfm_segment: str | None = None
    stage: str | None = Field(default=None, description="Lifecycle stage.")
    activity: str | None = Field(default=None, description="active | won_back | at_risk | churned")
    expected_order_value_fen: int | None = Field(
        default=None, ge=0, description="Predicted (LTV) or average order value."
    )
    predicted_value_fen: int | None = Field(
        default=None, description="Predicted revenue over the LTV horizon (shown, not scored)."
    )
    workspace_order_value_fen: int = Field(default=2_000, ge=0)
    max_discount_share: float = Field(default=0.3, gt=0, le=1)


class ScoredOffer(BaseModel):
    """One candidate with its score and the numbers behind it."""

    kind: OfferKind
    offer_id: str
    name: str | None
    score: float
    discount_fen: int | None = None
    why: str


class NextBestOffer(BaseModel):
    """The offer to show and every candidate's score."""

    kind: OfferKind
    offer_id: str | None
    name: str | None
    score: float
    need: float = Field(description="N: how much an incentive is needed (0–1).")
    budget_fen: int = Field(description="B: the discount worth spending.")
    why: str
    candidates: list[ScoredOffer]


def need_of(context: OfferContext) -> float:
    """N from activity, stage and RFM segment (rule step 2)."""
    need = ACTIVITY_NEED.get(context.activity or "", UNKNOWN_NEED)
    if context.stage in NOT_REPEATED:
        need += 0.2
    if context.rfm_segment in LOYAL_RFM:
        need -= 0.2
    return round(min(1.0, max(0.0, need)), 4)


def discount_on(coupon: CouponOffer, order_fen: int) -> int:
    """What the coupon takes off an order of ``order_fen`` (0 under its threshold)."""
    if order_fen < coupon.threshold_fen or order_fen <= 0:
        return 0
    if coupon.amount_off_fen is not None:
        return min(coupon.amount_off_fen, order_fen)
    off = order_fen * (coupon.percent_off or 0) // 100
    return min(off, coupon.cap_fen) if coupon.cap_fen is not None else off


def _basket(context: OfferContext) -> int:
    if context.expected_order_value_fen:
        return context.expected_order_value_fen
    return context.workspace_order_value_fen


def _score_coupon(
    coupon: CouponOffer, context: OfferContext, need: float, budget: int
) -> ScoredOffer:
    basket = _basket(context)
    discount = discount_on(coupon, max(basket, coupon.threshold_fen))
    closeness = 1 - abs(discount - budget) / max(discount, budget, 1)
    usability = 1.0 if coupon.threshold_fen <= 1.5 * basket else 0.5
    targeted = bool(set(coupon.segment_ids) & set(context.segment_ids))
    score = need * closeness * usability + (TARGETED_BONUS if targeted else 0.0)
    why = (
        f"N {need:.2f} × closeness {closeness:.2f} (discount {discount} vs budget {budget} fen)"
        f" × usability {usability:.1f}" + (" + 0.2 aimed at their segment" if targeted else "")
    )
    return ScoredOffer(
        kind=OfferKind.COUPON,
        offer_id=coupon.offer_id,
        name=coupon.name,
        score=round(score, 4),
        discount_fen=discount,
        why=why,
    )


def _eligible(coupon: CouponOffer, context: OfferContext) -> bool:
    if not coupon.available:
        return False
    return not coupon.segment_ids or bool(set(coupon.segment_ids) & set(context.segment_ids))


def _score_product(product: Recommendation, need: float) -> ScoredOffer:
    relevance = RELEVANCE[product.reason]
    return ScoredOffer(
        kind=OfferKind.PRODUCT,
        offer_id=product.product_id,
        name=product.name,
        score=round((1 - need) * relevance, 4),
        why=f"(1 − N {need:.2f}) × relevance {relevance:.1f} ({product.reason.value})",
    )


def next_best_offer(
    *,
    context: OfferContext,
    coupons: Sequence[CouponOffer],
    products: Sequence[Recommendation],
) -> NextBestOffer:
    """The coupon or product to show the person, by the documented rule."""
    need = need_of(context)
    budget = int(need * context.max_discount_share * _basket(context))
    scored = [_score_coupon(c, context, need, budget) for c in coupons if _eligible(c, context)]
    if products:
        scored.append(_score_product(products[0], need))
    # Best score first; on a tie a coupon before a product, then the smaller discount.
    scored.sort(key=lambda s: (-s.score, s.kind is OfferKind.PRODUCT, s.discount_fen or 0))
    if not scored:
        why = "no available coupon and no product to recommend"
        return NextBestOffer(
            kind=OfferKind.NONE,
            offer_id=None,
            name=None,
            score=0.0,
            need=need,
            budget_fen=budget,
            why=why,
            candidates=[],
        )
    best = scored[0]
    return NextBestOffer(
        kind=best.kind,
        offer_id=best.offer_id,
        name=best.name,
        score=best.score,
        need=need,
        budget_fen=budget,
        why=best.why,
        candidates=scored,
    )


def message_values(
    products: Sequence[Recommendation], *, offer: NextBestOffer | None = None, limit: int = 3
) -> dict[str, str]:
    """Personalisation values for a journey message: ``rec_1`` (name), ``rec_1_url``,
    ``rec_1_price`` (yuan, "12.00") … up to ``limit``, and for an offer ``offer`` /
    ``offer_title`` (its name), ``offer_id``, ``offer_kind``, then ``offer_coupon_template``
    and ``offer_discount`` (yuan off the person's basket) for a coupon or ``offer_product``
    for a product. Missing names fall back to the id; absent slots are not set, so a
    template can test for them."""
    values: dict[str, str] = {}
    for n, item in enumerate(products[:limit], start=1):
        values[f"rec_{n}"] = item.name or item.product_id
        values[f"rec_{n}_id"] = item.product_id
        values[f"rec_{n}_url"] = item.url
        if item.price_fen is not None:
            values[f"rec_{n}_price"] = _yuan(item.price_fen)
    if offer is not None and offer.kind is not OfferKind.NONE and offer.offer_id:
        values.update(_offer_values(offer, offer.offer_id))
    return values


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _offer_values(offer: NextBestOffer, offer_id: str) -> dict[str, str]:
    title = offer.name or offer_id
    values = {"offer": title, "offer_title": title, "offer_id": offer_id,
              "offer_kind": offer.kind.value}  # fmt: skip
    if offer.kind is OfferKind.COUPON:
        values["offer_coupon_template"] = offer_id
        discount = offer.candidates[0].discount_fen if offer.candidates else None
        if discount:
            values["offer_discount"] = _yuan(discount)
    else:
        values["offer_product"] = offer_id
    return values
