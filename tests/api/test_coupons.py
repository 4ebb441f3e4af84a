"""Coupons over the management API: templates, issue with keys, limits, redeem, void, 4xx."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_identity import admin, person_of, send


def members(client: TestClient, keys: WorkspaceCreated, count: int) -> list[str]:
    batch = [
        {
            "type": "identify",
            "messageId": f"i{n}",
            "userId": f"u{n}",
            "traits": {"member_id": f"M{n}"},
        }
        for n in range(count)
    ]
    send(client, keys, batch)
    return [person_of(client, keys, "member_id", f"M{n}")["person_id"] for n in range(count)]


def test_template_issue_redeem_void(client: TestClient, keys: WorkspaceCreated) -> None:
    a, b = members(client, keys, 2)
    h = admin(keys)
    spec = {"name": "8折券", "kind": "percent_off", "percent_off": 20, "cap_fen": 3000,
            "valid_days": 7, "per_person_limit": 1, "stock": 1}  # fmt: skip
    created = client.post("/api/coupons/templates", json=spec, headers=h)
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    url = f"/api/coupons/templates/{tid}/issue"
    keyed = {**h, "Idempotency-Key": "issue-a-1"}
    first = client.post(url, json={"person_id": a}, headers=keyed)
    assert first.status_code == 201, first.text
    assert client.post(url, json={"person_id": a}, headers=keyed).json() == first.json()
    limit = client.post(url, json={"person_id": a}, headers=h)
    assert limit.status_code == 409
    assert limit.json()["error"]["reason"] == "limit_reached"
    stock = client.post(url, json={"person_id": b}, headers=h)
    assert stock.status_code == 409
    assert stock.json()["error"]["reason"] == "out_of_stock"
    assert client.get(f"/api/coupons/templates/{tid}", headers=h).json()["issued"] == 1

    cid = first.json()["id"]
    order = {"order_id": "o1", "order_amount_fen": 50000}
    redeemed = client.post(f"/api/coupons/{cid}/redeem", json=order, headers=h)
    assert redeemed.status_code == 200, redeemed.text
    assert (redeemed.json()["discount_fen"], redeemed.json()["payable_fen"]) == (3000, 47000)
    assert (
        client.post(f"/api/coupons/{cid}/redeem", json=order, headers=h).json() == redeemed.json()
    )
    other = client.post(f"/api/coupons/{cid}/redeem", json={**order, "order_id": "o2"}, headers=h)
    assert other.status_code == 409
    assert client.post(f"/api/coupons/{cid}/void", json={}, headers=h).status_code == 409
    listed = client.get("/api/coupons", params={"person_id": a}, headers=h).json()
    assert [c["status"] for c in listed] == ["redeemed"]


def test_bad_input_names_the_field(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    missing = client.post(
        "/api/coupons/templates", json={"name": "x", "kind": "amount_off"}, headers=h
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["field"] == "amount_off_fen"
    negative = client.post(
        "/api/coupons/templates",
        json={"name": "x", "kind": "amount_off", "amount_off_fen": -1},
        headers=h,
    )
    assert negative.status_code == 422
    assert negative.json()["error"]["field"] == "amount_off_fen"
    assert client.get("/api/coupons/templates/ct_none", headers=h).status_code == 404
    assert client.get("/api/coupons/cp_none", headers=h).status_code == 404
    no_key = client.post(
        "/api/coupons/templates/ct_none/issue-segment", json={"segment_id": "s"}, headers=h
    )
    assert no_key.status_code == 422
    assert no_key.json()["error"]["field"] == "header.Idempotency-Key"
