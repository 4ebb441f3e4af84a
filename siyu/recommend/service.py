"""Recommendations as service calls: settings, catalogue flags, training, serving, evaluation.

Interactions come from the event store (persons merged through the identity map); the
trained model lives under ``<data_dir>/recommend/<workspace>/`` (:mod:`.artefacts`);
settings and the operator's product flags (stock, consumable, category) are stored per
workspace in ``layer_settings`` (names ``recommend`` and ``recommend_catalogue``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.identity import service as identity
from siyu.recommend import artefacts, evaluation, interactions, ranking, training
from siyu.recommend.models import (
    Evaluation,
    Filters,
    ModelInfo,
    PersonRecommendations,
    Product,
    ProductUpdate,
    RecommendSettings,
)
from siyu.segments import layer_store
from siyu.workspaces import service as workspaces

SETTINGS_KEY = "recommend"
CATALOGUE_KEY = "recommend_catalogue"
MAX_K = 100
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CatalogueFlags(BaseModel):
    """The operator's flags per product (stored as one settings value)."""

    products: dict[str, ProductUpdate] = Field(default_factory=dict)


def check_k(k: int) -> int:
    """``k`` if it is 1–100, else InvalidInputError naming ``k``."""
    if not 1 <= k <= MAX_K:
        raise InvalidInputError(f"k must be 1–{MAX_K}", field="k")
    return k


def get_settings(*, runtime: Runtime, workspace_id: str) -> RecommendSettings:
    """The workspace's recommendation settings (defaults until saved)."""
    with runtime.sessions() as session:
        workspaces.get_workspace(session=session, workspace_id=workspace_id)
        return layer_store.load_settings(
            session=session, workspace_id=workspace_id, name=SETTINGS_KEY, model=RecommendSettings
        )


def put_settings(
    *, runtime: Runtime, workspace_id: str, settings: RecommendSettings, now: datetime
) -> RecommendSettings:
    """Save the workspace's recommendation settings (used from the next training)."""
    with runtime.sessions() as session, session.begin():
        workspaces.get_workspace(session=session, workspace_id=workspace_id)
        layer_store.save_settings(
            session=session, workspace_id=workspace_id, name=SETTINGS_KEY, value=settings, now=now
        )
    return settings


def _flags(runtime: Runtime, workspace_id: str) -> CatalogueFlags:
    with runtime.sessions() as session:
        return layer_store.load_settings(
            session=session, workspace_id=workspace_id, name=CATALOGUE_KEY, model=CatalogueFlags
        )


def _merge(derived: dict[str, Product], flags: CatalogueFlags) -> dict[str, Product]:
    merged = dict(derived)
    for product_id, update in flags.products.items():
        base = merged.get(product_id) or Product(product_id=product_id)
        changes = update.model_dump(exclude_none=True, exclude={"product_id"})
        merged[product_id] = base.model_copy(update=changes)
    return merged


def _catalogue(
    runtime: Runtime, workspace_id: str, derived: dict[str, Product]
) -> dict[str, Product]:
    return _merge(derived, _flags(runtime, workspace_id))


def get_catalogue(*, runtime: Runtime, workspace_id: str) -> list[Product]:
    """Products of the current model (as seen in events) with the operator's flags applied,
    plus flagged products the model has not seen; sorted by id."""
    try:
        _, _, derived = artefacts.load(runtime.settings.data_dir, workspace_id)
    except NotFoundError:
        derived = {}
    merged = _catalogue(runtime, workspace_id, derived)
    return [merged[k] for k in sorted(merged)]


def update_catalogue(
    *, runtime: Runtime, workspace_id: str, updates: Sequence[ProductUpdate], now: datetime
) -> list[Product]:
    """Set stock / consumable / category / name / url flags of products (unset fields keep
    theirs); returns the whole catalogue."""
    if not updates:
        raise InvalidInputError("no products to update", field="products")
    with runtime.sessions() as session, session.begin():
        workspaces.get_workspace(session=session, workspace_id=workspace_id)
        flags = layer_store.load_settings(
            session=session, workspace_id=workspace_id, name=CATALOGUE_KEY, model=CatalogueFlags
        )
        for update in updates:
            old = flags.products.get(update.product_id)
            changes = update.model_dump(exclude_none=True)
            flags.products[update.product_id] = old.model_copy(update=changes) if old else update
        layer_store.save_settings(
            session=session, workspace_id=workspace_id, name=CATALOGUE_KEY, value=flags, now=now
        )
    return get_catalogue(runtime=runtime, workspace_id=workspace_id)


def _survivors(runtime: Runtime, workspace_id: str) -> dict[str, str]:
    with runtime.sessions() as session:
        return dict(identity.person_map(session=session, workspace_id=workspace_id))


def _read(
    runtime: Runtime, workspace_id: str, since: datetime, until: datetime
) -> tuple[interactions.Interactions, dict[str, Product]]:
    table = interactions.read_rows(
        runtime.events, workspace_id=workspace_id, since=since, until=until
    )
    rows = interactions.from_rows(table, _survivors(runtime, workspace_id))
    return rows, interactions.catalogue_of(table)


def train(*, runtime: Runtime, workspace_id: str, now: datetime) -> ModelInfo:
    """Train ALS, BPR, popularity and bought-together on the last ``history_days`` of
    interactions before ``now``, and make it the workspace's current model.

    Raises:
        InvalidInputError: the workspace has no product interactions to learn from.
    """
    started = time.perf_counter()
    settings = get_settings(runtime=runtime, workspace_id=workspace_id)
    since = now - timedelta(days=settings.history_days)
    rows, derived = _read(runtime, workspace_id, since, now)
    if len(rows) == 0:
        raise InvalidInputError(
            "no Product Viewed / Product Added / Order Completed products to train on",
            field="events",
        )
    trained = training.train(rows, settings)
    info = ModelInfo(
        workspace_id=workspace_id,
        trained_at=now,
        data_until=now,
        algorithm=settings.algorithm,
        persons=len(trained.persons),
        products=len(trained.products),
        interactions=int(trained.user_items.nnz),
        orders=trained.orders,
        seconds=round(time.perf_counter() - started, 3),
    )
    artefacts.save(runtime.settings.data_dir, trained, info, derived)
    return info


def get_model_info(*, runtime: Runtime, workspace_id: str) -> ModelInfo:
    """The current model's facts (NotFoundError before the first training)."""
    return artefacts.load_info(runtime.settings.data_dir, workspace_id)


def train_due(*, runtime: Runtime, workspace_id: str, now: datetime) -> bool:
    """Whether the workspace's model is missing or older than its ``retrain_hours`` and the
    workspace has events (for the scheduler: train when this answers true)."""
    settings = get_settings(runtime=runtime, workspace_id=workspace_id)
    try:
        info = get_model_info(runtime=runtime, workspace_id=workspace_id)
    except NotFoundError:
        return runtime.events.count(workspace_id) > 0
    return now - info.trained_at >= timedelta(hours=settings.retrain_hours)


def train_all_due(*, runtime: Runtime, now: datetime) -> list[ModelInfo]:
    """Train every workspace whose model is due (for the scheduler); workspaces without
    products, or deleted ones whose events remain, are skipped."""
    trained: list[ModelInfo] = []
    for workspace_id in runtime.events.workspaces():
        try:
            if train_due(runtime=runtime, workspace_id=workspace_id, now=now):
                trained.append(train(runtime=runtime, workspace_id=workspace_id, now=now))
        except InvalidInputError:
            continue  # events, but no products yet: nothing to learn
        except NotFoundError:
            continue  # events of a workspace that no longer exists
    return trained


def _history(
    runtime: Runtime,
    workspace_id: str,
    person_ids: list[str],
    settings: RecommendSettings,
    now: datetime,
) -> ranking.History:
    """The person's own interactions, read live (they may be newer than the model)."""
    table = interactions.read_rows(
        runtime.events,
        workspace_id=workspace_id,
        since=now - timedelta(days=settings.history_days),
        until=now,
        person_ids=person_ids,
    )
    rows = interactions.from_rows(table, {})
    weights: dict[str, float] = {}
    found = training.weights_of(rows, settings).tolist()
    for product, weight in zip(rows.product.tolist(), found, strict=True):
        weights[product] = weights.get(product, 0.0) + weight
    bought = rows.product[rows.kind == interactions.Kind.PURCHASE]
    return ranking.History(weights=weights, bought=frozenset(bought.tolist()))


def recommend_for(
    *,
    runtime: Runtime,
    workspace_id: str,
    person_id: str,
    k: int,
    filters: Filters,
    now: datetime,
) -> PersonRecommendations:
    """Up to ``k`` products for a person (an absorbed id answers for its survivor).

    Raises:
        InvalidInputError: ``k`` outside 1–100.
        NotFoundError: no such person (field ``person_id``) or no model yet (``model``).
    """
    check_k(k)
    with runtime.sessions() as session:
        ids = identity.person_ids_of(
            session=session, workspace_id=workspace_id, person_id=person_id
        )
    trained, info, derived = artefacts.load(runtime.settings.data_dir, workspace_id)
    settings = get_settings(runtime=runtime, workspace_id=workspace_id)
    history = _history(runtime, workspace_id, ids, settings, now)
    index = trained.person_index()
    rows = [index[p] for p in ids if p in index]
    items = ranking.recommend(
        trained=trained,
        person_rows=rows,
        history=history,
        catalogue=_catalogue(runtime, workspace_id, derived),
        filters=filters,
        settings=settings,
        k=k,
    )
    return PersonRecommendations(
        person_id=ids[0], known=bool(rows), trained_at=info.trained_at, items=items
    )


def recommender(
    *, runtime: Runtime, workspace_id: str, filters: Filters, now: datetime
) -> Callable[[str, int], PersonRecommendations]:
    """Load the model, settings and catalogue once; answer persons without touching the
    operational store (for callers inside a write transaction, such as a journey batch).

    The function takes a surviving person id (as journey states hold) and ``k``.

    Raises:
        NotFoundError: no model yet (``model``).
    """
    trained, info, derived = artefacts.load(runtime.settings.data_dir, workspace_id)
    settings = get_settings(runtime=runtime, workspace_id=workspace_id)
    catalogue = _catalogue(runtime, workspace_id, derived)
    index = trained.person_index()

    def answer(person_id: str, k: int) -> PersonRecommendations:
        check_k(k)
        history = _history(runtime, workspace_id, [person_id], settings, now)
        rows = [index[person_id]] if person_id in index else []
        items = ranking.recommend(trained=trained, person_rows=rows, history=history,
                                  catalogue=catalogue, filters=filters, settings=settings,
                                  k=k)  # fmt: skip
        return PersonRecommendations(
            person_id=person_id, known=bool(rows), trained_at=info.trained_at, items=items
        )

    return answer


def evaluate(
    *,
    runtime: Runtime,
    workspace_id: str,
    split_at: datetime,
    until: datetime,
    k: int,
) -> Evaluation:
    """Offline figures of ALS, BPR, bought-together and popularity on a time split: trained
    on interactions before ``split_at`` (within ``history_days``), tested on purchases in
    [split_at, until)."""
    check_k(k)
    settings = get_settings(runtime=runtime, workspace_id=workspace_id)
    since = split_at - timedelta(days=settings.history_days)
    rows, _ = _read(runtime, workspace_id, max(since, EPOCH), until)
    return evaluation.evaluate(
        workspace_id=workspace_id, rows=rows, split_at=split_at, until=until, k=k, settings=settings
    )
