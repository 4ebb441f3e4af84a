"""Management API for recommendations: a person's products and next-best offer, the product
catalogue flags, and the current model (secret key as Bearer).

The person route gathers what the pure next-best-offer rule needs from the domains that
:mod:`siyu.recommend` may not import — coupon templates (loyalty) and predicted value (the
analytics LTV model, when one was fitted) — with :mod:`siyu.pipeline.personalise`, the
gathering journey messages use.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep
from siyu.api.zones import in_zone
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.pipeline import personalise
from siyu.recommend import offers
from siyu.recommend import service as recommend
from siyu.recommend.models import Filters, ModelInfo, Product, ProductUpdate, Recommendation
from siyu.workspaces.models import Workspace

router = APIRouter(prefix="/api", tags=["recommendations"])


class PersonRecommendationsView(BaseModel):
    """Products for a person, the next-best offer, and the values a journey message uses."""

    person_id: str = Field(description="The surviving person.")
    known: bool = Field(description="Whether the model was trained on this person.")
    trained_at: datetime | None
    items: list[Recommendation]
    next_best_offer: offers.NextBestOffer
    offer_context: offers.OfferContext = Field(
        description="What the offer rule knew: segments, RFM, lifecycle, predicted value."
    )
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


def person_recommendations(
    *,
    runtime: Runtime,
    workspace: Workspace,
    person_id: str,
    k: int,
    filters: Filters,
    now: datetime,
) -> PersonRecommendationsView:
    """Products, next-best offer and message values for one person."""
    workspace_id = workspace.id
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
        merged = [(p, ids[0]) for p in ids[1:]]
        inputs = personalise.gather_offer_inputs(
            session=session, workspace_id=workspace_id, person_ids=ids[:1], person_map=merged
        )
    value = personalise.predicted_values(runtime, workspace, ids[:1], now, merged).get(ids[0])
    known = personalise.with_value(inputs.contexts[ids[0]], value)
    candidates = inputs.coupon_offers(ids[0], now)
    best = offers.next_best_offer(context=known, coupons=candidates, products=found.items)
    return PersonRecommendationsView(
        person_id=found.person_id,
        known=found.known,
        trained_at=found.trained_at,
        items=found.items,
        next_best_offer=best,
        offer_context=known,
        message_values=offers.message_values(found.items, offer=best),
    )


@router.get(
    "/persons/{person_id}/recommendations",
    summary="Products and next-best offer for a person",
    dependencies=[Require("recommendations:read")],
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
        workspace=workspace,
        person_id=person_id,
        k=parse_k(k),
        filters=filters,
        now=utcnow(),
    )
    return in_zone(view, workspace.timezone)


@router.get(
    "/recommendations/model",
    summary="The current recommendation model",
    dependencies=[Require("recommendations:read")],
)
async def get_model(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> ModelInfo:
    """When it was trained, on how many persons, products and orders."""
    info = await run_in_threadpool(
        recommend.get_model_info, runtime=runtime, workspace_id=workspace.id
    )
    return in_zone(info, workspace.timezone)


@router.get(
    "/recommendations/catalogue",
    summary="Products with their flags",
    dependencies=[Require("recommendations:read")],
)
async def get_catalogue(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Product]:
    """Products seen in events at the last training, with the operator's flags applied."""
    return await run_in_threadpool(
        recommend.get_catalogue, runtime=runtime, workspace_id=workspace.id
    )


@router.put(
    "/recommendations/catalogue",
    summary="Set stock and other product flags",
    dependencies=[Require("recommendations:write")],
)
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
