"""Management API for recommendations: a person's products and next-best offer, the product
catalogue flags, and the current model (secret key as Bearer).

The person route gathers what the pure next-best-offer rule needs from the domains that
:mod:`siyu.recommend` may not import: coupon templates (loyalty) and predicted value (the
analytics LTV model, when one was fitted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu.analytics import value_service
from siyu.api.deps import AdminWorkspaceDep, RuntimeDep
from siyu.api.zones import in_zone
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty.coupon_models import CouponTemplate
from siyu.recommend import context as person_context
from siyu.recommend import offers
from siyu.recommend import service as recommend
from siyu.recommend.models import Filters, ModelInfo, Product, ProductUpdate, Recommendation

router = APIRouter(prefix="/api", tags=["recommendations"])


class PersonRecommendationsView(BaseModel):
    """Products for a person, the next-best offer, and the values a journey message uses."""

    person_id: str = Field(description="The surviving person.")
    known: bool = Field(description="Whether the model was trained on this person.")
    trained_at: datetime | None
    items: list[Recommendation]
    next_best_offer: offers.NextBestOffer
    message_values: dict[str, str] = Field(description="rec_1, rec_1_url, … and offer.")


class CatalogueUpdate(BaseModel):
    """Flags of some products (stock, consumable, category, name, url)."""

    products: list[ProductUpdate] = Field(min_length=1, max_length=10_000)


def parse_k(raw: str) -> int:
    """``k`` from the query string, or InvalidInputError naming ``k``."""
    try:
        k = int(raw)
    except ValueError:
        raise InvalidInputError(f"k must be a whole number, got {raw!r}", field="k") from None
    return recommend.check_k(k)


def _available(template: CouponTemplate, held: int, now: datetime) -> bool:
    if template.valid_from and now < template.valid_from:
        return False
    if template.valid_until and now >= template.valid_until:
        return False
    if template.stock is not None and template.issued >= template.stock:
        return False
    return template.per_person_limit is None or held < template.per_person_limit


def _coupon_offers(
    runtime: Runtime, workspace_id: str, person_id: str, now: datetime
) -> list[offers.CouponOffer]:
    found: list[offers.CouponOffer] = []
    with runtime.sessions() as session:
        for template in coupons.list_templates(session=session, workspace_id=workspace_id):
            held = 0
            if template.per_person_limit is not None:
                held = len(
                    coupons.list_coupons(
                        session=session,
                        workspace_id=workspace_id,
                        now=now,
                        person_id=person_id,
                        template_id=template.id,
                        limit=template.per_person_limit,
                    )
                )
            found.append(
                offers.CouponOffer(
                    offer_id=template.id,
                    name=template.name,
                    amount_off_fen=template.amount_off_fen,
                    percent_off=template.percent_off,
                    cap_fen=template.cap_fen,
                    threshold_fen=template.threshold_fen,
                    available=_available(template, held, now),
                )
            )
    return found


def _with_value(
    runtime: Runtime, workspace_id: str, person_id: str, found: offers.OfferContext, now: datetime
) -> offers.OfferContext:
    """The context with the LTV model's predictions for the person, when a model exists."""
    try:
        predictions = value_service.predict_ltv(
            runtime=runtime,
            workspace_id=workspace_id,
            as_of=value_service.local_today(runtime=runtime, workspace_id=workspace_id, now=now),
            limit=1_000_000,
        )
    except (NotFoundError, InvalidInputError):  # no model fitted yet
        return found
    mine = next((c for c in predictions.items if c.person_id == person_id), None)
    if mine is None:
        return found
    return found.model_copy(
        update={
            "expected_order_value_fen": mine.expected_order_value_fen or None,
            "predicted_value_fen": mine.expected_revenue_fen,
        }
    )


def person_recommendations(
    *, runtime: Runtime, workspace_id: str, person_id: str, k: int, filters: Filters, now: datetime
) -> PersonRecommendationsView:
    """Products, next-best offer and message values for one person."""
    found = recommend.recommend_for(
        runtime=runtime,
        workspace_id=workspace_id,
        person_id=person_id,
        k=k,
        filters=filters,
        now=now,
    )
    with runtime.sessions() as session:
        ids = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
        known = person_context.person_context(
            session=session, workspace_id=workspace_id, person_ids=ids
        )
    known = _with_value(runtime, workspace_id, found.person_id, known, now)
    candidates = _coupon_offers(runtime, workspace_id, found.person_id, now)
    best = offers.next_best_offer(context=known, coupons=candidates, products=found.items)
    return PersonRecommendationsView(
        person_id=found.person_id,
        known=found.known,
        trained_at=found.trained_at,
        items=found.items,
        next_best_offer=best,
        message_values=offers.message_values(found.items, offer=best),
    )


@router.get(
    "/persons/{person_id}/recommendations", summary="Products and next-best offer for a person"
)
async def get_person_recommendations(
    person_id: str,
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    k: Annotated[str, Query(description="How many products, 1–100.")] = "10",
    category: Annotated[
        str | None, Query(max_length=200, description="Only this category.")
    ] = None,
    in_stock_only: Annotated[bool, Query(description="Leave out-of-stock products out.")] = True,
    exclude_bought: Annotated[
        bool | None, Query(description="Leave out everything bought; default: the setting.")
    ] = None,
) -> PersonRecommendationsView:
    """Best first, each with its reason (als / bpr / bought_together / popular); 404 for an
    unknown person or before the first `siyu recommend train`."""
    filters = Filters(category=category, in_stock_only=in_stock_only, exclude_bought=exclude_bought)
    view = await run_in_threadpool(
        person_recommendations,
        runtime=runtime,
        workspace_id=workspace.id,
        person_id=person_id,
        k=parse_k(k),
        filters=filters,
        now=utcnow(),
    )
    return in_zone(view, workspace.timezone)


@router.get("/recommendations/model", summary="The current recommendation model")
async def get_model(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> ModelInfo:
    """When it was trained, on how many persons, products and orders."""
    info = await run_in_threadpool(
        recommend.get_model_info, runtime=runtime, workspace_id=workspace.id
    )
    return in_zone(info, workspace.timezone)


@router.get("/recommendations/catalogue", summary="Products with their flags")
async def get_catalogue(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Product]:
    """Products seen in events at the last training, with the operator's flags applied."""
    return await run_in_threadpool(
        recommend.get_catalogue, runtime=runtime, workspace_id=workspace.id
    )


@router.put("/recommendations/catalogue", summary="Set stock and other product flags")
async def put_catalogue(
    body: CatalogueUpdate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[Product]:
    """Unset fields keep their value; setting the same flags again changes nothing."""
    return await run_in_threadpool(
        recommend.update_catalogue,
        runtime=runtime,
        workspace_id=workspace.id,
        updates=body.products,
        now=utcnow(),
    )
