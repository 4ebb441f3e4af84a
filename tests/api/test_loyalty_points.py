"""Points over the management API: earn, spend, retries, orders and refunds, check-in, verify;
4xx errors name the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_coupons import members
from tests.api.test_identity import admin


def test_earn_spend_retry_order_refund_check_in_verify(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    (pid,) = members(client, keys, 1)
    h = admin(keys)
    url = f"/api/loyalty/members/{pid}"
    body = {"points": 30, "reason": "task"}
    first = client.post(f"{url}/points/earn", json=body, headers={**h, "Idempotency-Key": "e1"})
    again = client.post(f"{url}/points/earn", json=body, headers={**h, "Idempotency-Key": "e1"})
    assert first.status_code == 200 and first.json()["balance"] == 30
    assert again.json()["replayed"] is True and again.json()["entry"] == first.json()["entry"]
    order = {"order_id": "o1", "amount_fen": 10_000, "multiplier_pct": 200}
    assert client.post(f"{url}/points/orders", json=order, headers=h).json()["balance"] == 230
    assert client.post(f"{url}/points/orders", json=order, headers=h).json()["replayed"]
    spent = client.post(
        f"{url}/points/spend",
        json={"points": 100, "reason": "mall"},
        headers={**h, "Idempotency-Key": "s1"},
    )
    assert spent.json()["balance"] == 130
    refund = {"order_id": "o1", "refund_id": "r1"}
    assert client.post(f"{url}/points/refunds", json=refund, headers=h).json()["balance"] == 0
    checked = client.post(f"{url}/check-in", headers=h).json()
    assert checked["streak"] == 1 and checked["result"]["balance"] == 5
    account = client.get(f"{url}/points", headers=h).json()
    assert account["balance"] == 5 and len(account["lots"]) == 1
    entries = client.get(f"{url}/points/entries", headers=h).json()["entries"]
    assert [e["kind"] for e in entries] == ["earn", "reverse", "spend", "earn", "earn"]
    report = client.get("/api/loyalty/points/verify", headers=h).json()
    assert report["mismatches"] == [] and report["entries"] == 5
    assert client.post("/api/loyalty/points/expire", headers=h).json()["lots"] == 0


def test_points_errors_name_the_field(client: TestClient, keys: WorkspaceCreated) -> None:
    (pid,) = members(client, keys, 1)
    h = admin(keys)
    url = f"/api/loyalty/members/{pid}/points"
    broke = client.post(
        f"{url}/spend", json={"points": 1, "reason": "mall"}, headers={**h, "Idempotency-Key": "s"}
    )
    assert broke.status_code == 409
    assert broke.json()["error"]["field"] == "points"
    assert broke.json()["error"]["available"] == 0
    unknown = client.post(
        "/api/loyalty/members/p_nobody/points/earn",
        json={"points": 1, "reason": "task"},
        headers={**h, "Idempotency-Key": "u"},
    )
    assert unknown.status_code == 404
    negative = client.post(
        f"{url}/earn", json={"points": -5, "reason": "task"}, headers={**h, "Idempotency-Key": "n"}
    )
    assert negative.status_code == 422 and negative.json()["error"]["field"] == "points"
    keyless = client.post(f"{url}/earn", json={"points": 5, "reason": "task"}, headers=h)
    assert keyless.status_code == 422
    assert keyless.json()["error"]["field"] == "header.Idempotency-Key"
    bad_reward = client.post(
        f"{url}/rewards", json={"reason": "dancing"}, headers={**h, "Idempotency-Key": "r"}
    )
    assert bad_reward.status_code == 400 and bad_reward.json()["error"]["field"] == "reason"


def test_mall_item_redeem_retry_and_out_of_stock(
    client: TestClient, keys: WorkspaceCreated
) -> None:
    a, b = members(client, keys, 2)
    h = admin(keys)
    for pid in (a, b):
        client.post(
            f"/api/loyalty/members/{pid}/points/adjust",
            json={"points": 100},
            headers={**h, "Idempotency-Key": f"f-{pid}"},
        )
    item = {"name": "帆布袋", "price_points": 80, "stock": 1}
    created = client.post("/api/loyalty/mall/items", json=item, headers=h)
    assert created.status_code == 201
    url = f"/api/loyalty/mall/items/{created.json()['id']}/redeem"
    first = client.post(url, json={"person_id": a}, headers={**h, "Idempotency-Key": "m1"})
    again = client.post(url, json={"person_id": a}, headers={**h, "Idempotency-Key": "m1"})
    assert first.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["id"] == first.json()["id"]
    sold_out = client.post(url, json={"person_id": b}, headers={**h, "Idempotency-Key": "m2"})
    assert sold_out.status_code == 409 and sold_out.json()["error"]["reason"] == "out_of_stock"
    balances = [
        client.get(f"/api/loyalty/members/{pid}/points", headers=h).json()["balance"]
        for pid in (a, b)
    ]
    assert balances == [20, 100]
    assert client.get("/api/loyalty/mall/items", headers=h).json()[0]["stock"] == 0
    missing = client.post(
        "/api/loyalty/mall/items/mi_nope/redeem",
        json={"person_id": a},
        headers={**h, "Idempotency-Key": "m3"},
    )
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "item_id"
