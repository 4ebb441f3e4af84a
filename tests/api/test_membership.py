"""Membership over the management API: ladder, enrol from identify's member_id, growth,
paid terms, history and the distribution board; 4xx name the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_coupons import members
from tests.api.test_identity import admin

LADDER = {
    "policy": {"window_days": 365, "period_days": 365, "grace_days": 30},
    "tiers": [
        {"code": "silver", "name": "银卡", "min_growth": 0},
        {"code": "gold", "name": "金卡", "min_growth": 1000, "points_multiplier_pct": 150},
        {"code": "black", "name": "黑卡", "min_growth": 5000, "fee_fen": 19900, "term_days": 365},
    ],
}


def test_ladder_enrol_grow_buy_board(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    pids = members(client, keys, 2)
    assert client.get("/api/loyalty/tiers", headers=h).status_code == 404
    assert client.put("/api/loyalty/tiers", json=LADDER, headers=h).status_code == 200
    enrolled = client.post("/api/loyalty/members", json={"member_id": "M0"}, headers=h)
    assert enrolled.status_code == 201, enrolled.text
    assert (enrolled.json()["person_id"], enrolled.json()["tier"]) == (pids[0], "silver")
    keyed = {**h, "Idempotency-Key": "order-1"}
    url = f"/api/loyalty/members/{pids[0]}/growth"
    grown = client.post(url, json={"amount": 1500, "reason": "order"}, headers=keyed)
    assert grown.status_code == 200, grown.text
    again = client.post(url, json={"amount": 1500, "reason": "order"}, headers=keyed)
    assert (grown.json()["tier"], again.json()["growth"]) == ("gold", 1500)
    assert (
        client.post("/api/loyalty/members", json={"person_id": pids[1]}, headers=h).status_code
        == 201
    )
    paid = client.post(f"/api/loyalty/members/{pids[1]}/paid", json={"tier": "black"}, headers=h)
    assert paid.status_code == 201, paid.text
    assert paid.json()["fee_fen"] == 19900
    history = client.get(f"/api/loyalty/members/{pids[0]}/history", headers=h).json()
    assert [e["change"] for e in history] == ["enrol", "upgrade"]
    board = client.get("/api/loyalty/tiers/distribution", headers=h).json()
    assert board["total"] == 2
    assert {t["tier"]: t["members"] for t in board["tiers"]} == {"silver": 0, "gold": 1, "black": 1}


def test_membership_errors_name_the_field(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    client.put("/api/loyalty/tiers", json=LADDER, headers=h)
    unknown = client.post("/api/loyalty/members", json={"member_id": "nobody"}, headers=h)
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (404, "member_id")
    bad = {**LADDER, "tiers": [{"code": "x", "name": "x", "min_growth": -1}]}
    rejected = client.put("/api/loyalty/tiers", json=bad, headers=h)
    assert rejected.status_code == 422
    assert rejected.json()["error"]["field"] == "tiers.0.min_growth"
    assert client.get("/api/loyalty/members/p_none", headers=h).status_code == 404
    (pid,) = members(client, keys, 1)
    client.post("/api/loyalty/members", json={"person_id": pid}, headers=h)
    wrong = client.post(f"/api/loyalty/members/{pid}/paid", json={"tier": "gold"}, headers=h)
    assert (wrong.status_code, wrong.json()["error"]["field"]) == (400, "tier")
