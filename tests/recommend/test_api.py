"""GET /api/persons/{id}/recommendations and the catalogue routes (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from siyu import pipeline
from siyu.analytics import value_service
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.recommend import service as recommend
from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin, person_of, send

GROUPS = {"A": ["oolong", "jasmine", "peach"], "B": ["grape", "mango", "cheese"]}


def _product(product_id: str) -> dict[str, Any]:
    return {"product_id": product_id, "name": f"茶{product_id}", "price": "18.00"}


def shop(client: TestClient, keys: WorkspaceCreated, runtime: Runtime) -> None:
    """Twelve persons; the even ones drink group A, the odd ones group B."""
    start = utcnow() - timedelta(days=20)
    batch: list[dict[str, Any]] = []
    for n in range(12):
        group = GROUPS["A" if n % 2 == 0 else "B"]
        for day, product_id in enumerate(group[: 2 + n % 2]):
            at = (start + timedelta(days=day, hours=n)).isoformat()
            common = {"anonymousId": f"anon-{n}", "timestamp": at, "type": "track"}
            batch.append(
                {
                    **common,
                    "messageId": f"v{n}-{day}",
                    "event": "Product Viewed",
                    "properties": _product(product_id),
                }
            )
            batch.append(
                {
                    **common,
                    "messageId": f"o{n}-{day}",
                    "event": "Order Completed",
                    "properties": {
                        "order_id": f"o{n}-{day}",
                        "revenue": "18.00",
                        "products": [_product(product_id)],
                    },
                }
            )
    send(client, keys, batch)
    pipeline.flush(runtime=runtime)
    recommend.train(runtime=runtime, workspace_id=keys.workspace_id, now=utcnow())


def test_recommendations_and_next_best_offer(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    shop(client, keys, runtime)
    h = admin(keys)
    spec = {"name": "立减3元", "kind": "amount_off", "amount_off_fen": 300, "valid_days": 7}
    template = client.post("/api/coupons/templates", json=spec, headers=h)
    assert template.status_code == 201, template.text
    person = person_of(client, keys, "anonymous_id", "anon-1")["person_id"]
    response = client.get(f"/api/persons/{person}/recommendations", params={"k": 3}, headers=h)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["person_id"] == person and body["known"] is True
    assert [i["reason"] for i in body["items"]] == ["als"] * 3
    assert {i["product_id"] for i in body["items"]} == set(GROUPS["B"])
    assert body["trained_at"].endswith("+08:00")
    offer = body["next_best_offer"]
    assert offer["kind"] in ("coupon", "product")
    assert {c["offer_id"] for c in offer["candidates"]} == {
        template.json()["id"],
        body["items"][0]["product_id"],
    }
    assert body["offer_context"]["predicted_value_fen"] is None  # no LTV model yet
    values = body["message_values"]
    assert values["rec_1"] == body["items"][0]["name"] and values["rec_1_price"] == "18.00"
    assert values["offer_id"] == offer["offer_id"]


def test_catalogue_flags_and_model_info(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    shop(client, keys, runtime)
    h = admin(keys)
    model = client.get("/api/recommendations/model", headers=h)
    assert model.status_code == 200 and model.json()["persons"] == 12
    put = client.put(
        "/api/recommendations/catalogue",
        json={"products": [{"product_id": "grape", "in_stock": False, "category": "果茶"}]},
        headers=h,
    )
    assert put.status_code == 200, put.text
    grape = next(p for p in put.json() if p["product_id"] == "grape")
    assert (grape["in_stock"], grape["category"], grape["name"]) == (False, "果茶", "茶grape")
    person = person_of(client, keys, "anonymous_id", "anon-1")["person_id"]
    url = f"/api/persons/{person}/recommendations"
    items = client.get(url, params={"k": 6}, headers=h).json()["items"]
    # Everyone bought oolong, jasmine, grape, mango or cheese (peach is never touched).
    assert {i["product_id"] for i in items} == {"oolong", "jasmine", "mango", "cheese"}
    fruit = client.get(url, params={"category": "果茶", "in_stock_only": False}, headers=h)
    assert [i["product_id"] for i in fruit.json()["items"]] == ["grape"]
    empty = client.put("/api/recommendations/catalogue", json={"products": []}, headers=h)
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "products"


def test_unknown_person_no_model_and_bad_k(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    send(client, keys, [{"type": "track", "messageId": "x", "anonymousId": "a", "event": "Hi"}])
    person = person_of(client, keys, "anonymous_id", "a")["person_id"]
    no_model = client.get(f"/api/persons/{person}/recommendations", headers=h)
    assert no_model.status_code == 404 and no_model.json()["error"]["field"] == "model"
    unknown = client.get("/api/persons/p_nobody/recommendations", headers=h)
    assert unknown.status_code == 404 and unknown.json()["error"]["field"] == "person_id"
    assert client.get("/api/persons/p_nobody/recommendations").status_code == 401
    for k in ("0", "101", "ten", "2.5"):
        bad = client.get(f"/api/persons/{person}/recommendations", params={"k": k}, headers=h)
        assert bad.status_code == 400, k
        assert bad.json()["error"]["field"] == "k"


def test_the_offer_uses_the_persons_predicted_value(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime
) -> None:
    shop(client, keys, runtime)
    today = value_service.local_today(runtime=runtime, workspace_id=keys.workspace_id, now=utcnow())
    value_service.fit_ltv(
        runtime=runtime, workspace_id=keys.workspace_id, until=today, time_unit="day", now=utcnow()
    )
    everyone = value_service.predict_ltv(
        runtime=runtime, workspace_id=keys.workspace_id, as_of=today, limit=100
    )
    person = person_of(client, keys, "anonymous_id", "anon-3")["person_id"]
    expected = next(c for c in everyone.items if c.person_id == person)
    body = client.get(f"/api/persons/{person}/recommendations", headers=admin(keys)).json()
    context = body["offer_context"]
    assert context["expected_order_value_fen"] == expected.expected_order_value_fen
    assert context["predicted_value_fen"] == expected.expected_revenue_fen
