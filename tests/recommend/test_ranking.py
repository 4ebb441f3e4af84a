"""Ranking: the personal model, filters, and the cold-start fallbacks."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pyarrow as pa
import pytest

from siyu.core.eventstore import EVENT_SCHEMA, DuckDBEventStore
from siyu.recommend import interactions, ranking, training
from siyu.recommend.models import Algorithm, Filters, Product, Reason, RecommendSettings
from tests.recommend.synthetic import NOW, events

SETTINGS = RecommendSettings()
Model = tuple[training.Trained, dict[str, Product]]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    store = DuckDBEventStore(tmp_path_factory.mktemp("events"))
    store.append(pa.Table.from_pylist(events("ws"), schema=EVENT_SCHEMA))
    table = interactions.read_rows(
        store, workspace_id="ws", since=NOW - timedelta(days=400), until=NOW
    )
    rows = interactions.from_rows(table, {})
    return training.train(rows, SETTINGS, with_bpr=True), interactions.catalogue_of(table)


def _for(
    model: Model,
    person: str | None,
    *,
    history: ranking.History | None = None,
    filters: Filters | None = None,
    catalogue: dict[str, Product] | None = None,
    settings: RecommendSettings = SETTINGS,
    k: int = 3,
) -> list[tuple[str, Reason]]:
    trained, derived = model
    rows = [trained.person_index()[person]] if person else []
    found = ranking.recommend(
        trained=trained,
        person_rows=rows,
        history=history or ranking.History(),
        catalogue=catalogue if catalogue is not None else derived,
        filters=filters or Filters(),
        settings=settings,
        k=k,
    )
    return [(r.product_id, r.reason) for r in found]


def test_a_known_person_gets_their_groups_products_from_als(model: Model) -> None:
    # p001 is in group B (odd, not a multiple of 5): popularity would say a0, a1, a2.
    found = _for(model, "p001")
    assert [reason for _, reason in found] == [Reason.ALS] * 3
    assert all(product.startswith("b") for product, _ in found)
    bpr = _for(model, "p001", settings=SETTINGS.model_copy(update={"algorithm": Algorithm.BPR}))
    assert [reason for _, reason in bpr] == [Reason.BPR] * 3
    # A model trained while ALS was the setting has no BPR and keeps serving ALS.
    trained, derived = model
    without = (dataclasses.replace(trained, bpr=None), derived)
    served = _for(
        without, "p001", settings=SETTINGS.model_copy(update={"algorithm": Algorithm.BPR})
    )
    assert [reason for _, reason in served] == [Reason.ALS] * 3


def popular_order() -> list[str]:
    """Products by summed weight, computed straight from the raw events (a reference)."""
    weight = {"Product Viewed": 1.0, "Product Added": 3.0, "Order Completed": 10.0}
    total: dict[str, float] = {}
    for e in events("ws"):
        props = json.loads(e["properties"])
        for item in props.get("products", [props]):
            total[item["product_id"]] = total.get(item["product_id"], 0.0) + weight[e["event"]]
    return sorted(total, key=lambda p: -total[p])


def test_an_unknown_person_without_history_gets_popular_products(model: Model) -> None:
    found = _for(model, None)
    assert found == [(p, Reason.POPULAR) for p in popular_order()[:3]]


def test_an_unknown_person_with_history_gets_bought_together(model: Model) -> None:
    # b4 is often ordered with b5 (and with nothing else): b5 comes first, popular fills.
    history = ranking.History(weights={"b4": 1.0})
    found = _for(model, None, history=history, k=12)
    assert found[0] == ("b5", Reason.BOUGHT_TOGETHER)
    reasons = [r for _, r in found]
    assert Reason.POPULAR in reasons
    assert reasons == sorted(reasons, key=lambda r: r is Reason.POPULAR)
    assert len({p for p, _ in found}) == 12


def test_out_of_stock_and_category_filters(model: Model) -> None:
    _, derived = model
    catalogue = dict(derived)
    top = popular_order()[0]
    catalogue[top] = catalogue[top].model_copy(update={"in_stock": False})
    assert top not in [p for p, _ in _for(model, None, catalogue=catalogue, k=12)]
    shown = _for(model, None, catalogue=catalogue, filters=Filters(in_stock_only=False))
    assert shown[0][0] == top
    milk = _for(model, "p000", filters=Filters(category="奶茶"), k=12)
    assert {p for p, _ in milk} == {f"b{i}" for i in range(6)}


def test_bought_products_are_left_out_when_not_consumable(model: Model) -> None:
    _, derived = model
    history = ranking.History(weights={"a0": 10.0}, bought=frozenset({"a0"}))
    assert _for(model, None, history=history)[0][0] == "a1"  # bought together with a0 …
    assert "a0" in [p for p, _ in _for(model, None, history=history, k=12)]  # … a0 consumable
    catalogue = dict(derived)
    catalogue["a0"] = catalogue["a0"].model_copy(update={"consumable": False})
    found = _for(model, None, history=history, catalogue=catalogue, k=12)
    assert "a0" not in [p for p, _ in found] and len(found) == 11
    always = _for(model, None, history=history, filters=Filters(exclude_bought=True), k=12)
    assert "a0" not in [p for p, _ in always]


def test_urls_come_from_the_product_or_the_template(model: Model) -> None:
    trained, derived = model
    catalogue = dict(derived)
    first, second = popular_order()[:2]
    catalogue[first] = catalogue[first].model_copy(update={"url": "https://shop.example/x"})
    found = ranking.recommend(
        trained=trained,
        person_rows=[],
        history=ranking.History(),
        catalogue=catalogue,
        filters=Filters(),
        settings=SETTINGS.model_copy(update={"product_url_template": "/p?id={product_id}"}),
        k=2,
    )
    assert [r.url for r in found] == ["https://shop.example/x", f"/p?id={second}"]
    assert found[0].name == f"商品{first}" and found[0].price_fen == 1200
