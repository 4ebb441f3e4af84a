"""Referrals over the management API: codes, tree, fraud refusals, rewards, leaderboard."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_coupons import members
from tests.api.test_identity import admin, send

SETTINGS = {
    "max_invites_per_hour": 3,
    "milestones": [
        {"milestone": "registered", "inviter": {"kind": "points", "amount": 100},
         "invitee": {"kind": "coupon", "template": "ct_welcome"}},
        {"milestone": "first_order", "inviter": {"kind": "points", "amount": 500}},
        {"milestone": "first_order_over", "min_order_fen": 10000,
         "inviter": {"kind": "points", "amount": 1000}},
    ],
}  # fmt: skip


def _refer(client: TestClient, keys: WorkspaceCreated, code: str, kind: str, value: str) -> Any:
    body = {"code": code, "identifier_type": kind, "identifier": value}
    return client.post("/api/referrals", json=body, headers=admin(keys))


def test_referral_tree_rewards_and_leaderboard(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    assert client.put("/api/referrals/settings", json=SETTINGS, headers=h).status_code == 200
    (root,) = members(client, keys, 1)
    code = client.get(f"/api/referrals/codes/{root}", headers=h).json()
    assert code["link"].endswith(code["code"])
    assert client.get(f"/api/referrals/codes/{root}", headers=h).json() == code

    first = _refer(client, keys, code["code"], "unionid", "u-child")
    assert first.status_code == 201, first.text
    child = first.json()["referral"]["invitee_id"]
    assert first.json()["referral"]["depth"] == 1
    assert [(r["person_id"], r["kind"]) for r in first.json()["rewards"]] == [
        (root, "points"),
        (child, "coupon"),
    ]
    again = _refer(client, keys, code["code"], "unionid", "u-child")
    assert again.status_code == 201 and again.json() == first.json()

    child_code = client.get(f"/api/referrals/codes/{child}", headers=h).json()["code"]
    grand = _refer(client, keys, child_code, "unionid", "u-grand").json()["referral"]
    assert grand["depth"] == 2
    tree = client.get(f"/api/referrals/tree/{root}", headers=h).json()
    assert [(n["person_id"], n["depth"]) for n in tree] == [
        (root, 0),
        (child, 1),
        (grand["invitee_id"], 2),
    ]
    up = client.get(f"/api/referrals/ancestors/{grand['invitee_id']}", headers=h).json()
    assert [n["person_id"] for n in up] == [child, root]

    # a cycle: the root arriving through their grandchild's code
    back = _refer(client, keys, child_code, "member_id", "M0")
    assert back.status_code == 409
    assert back.json()["error"]["reason"] in ("cycle", "already_referred")

    send(client, keys, [{"type": "track", "event": "Order Completed", "messageId": "o1",
                         "anonymousId": "x", "context": {"externalIds": [
                             {"type": "unionid", "id": "u-child"}]},
                         "properties": {"revenue_fen": 15_000}}])  # fmt: skip
    pending = client.get("/api/referrals/rewards/pending", headers=h).json()
    keys_ = [r["idempotency_key"] for r in pending]
    assert len(keys_) == len(set(keys_))
    first_order = [
        r["amount"] for r in pending if r["invitee_id"] == child and r["role"] == "inviter"
    ]
    assert sorted(first_order) == [100, 500, 1000]
    assert client.get("/api/referrals/rewards/pending", headers=h).json() == pending

    paid = client.post("/api/referrals/rewards/pay", headers=h).json()
    assert sorted(r["amount"] for r in paid["paid"]) == [100, 100, 500, 1000]
    # the welcome coupon template does not exist: it stays pending, with why
    assert [f["idempotency_key"].split(":")[-1] for f in paid["failed"]] == ["invitee", "invitee"]
    again_paid = client.post("/api/referrals/rewards/pay", headers=h).json()
    assert again_paid["paid"] == [] and len(again_paid["failed"]) == 2

    board = client.get("/api/referrals/leaderboard", headers=h).json()
    assert board["inviters"] == 2 and board["invitees"] == 2 and board["ordered"] == 1
    assert board["k_factor"] == 1.0
    assert board["leaderboard"][0] == {
        "person_id": root,
        "invitees": 1,
        "ordered": 1,
        "gmv_fen": 15_000,
    }


def test_fraud_is_refused_with_a_reason(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    client.put("/api/referrals/settings", json=SETTINGS, headers=h)
    send(client, keys, [{"type": "identify", "messageId": "i1", "userId": "u1",
                         "context": {"device": {"id": "dev-1"}}, "traits": {"member_id": "M1"}},
                        {"type": "identify", "messageId": "i2", "userId": "u2",
                         "context": {"device": {"id": "dev-1"}}}])  # fmt: skip
    (a,) = members(client, keys, 1)
    code = client.get(f"/api/referrals/codes/{a}", headers=h).json()["code"]
    self_ref = _refer(client, keys, code, "member_id", "M0")
    assert self_ref.status_code == 409
    assert self_ref.json()["error"]["reason"] == "self_referral"
    m1 = client.get("/api/persons", params={"identifier_type": "member_id", "identifier": "M1"},
                    headers=h).json()["person_id"]  # fmt: skip
    m1_code = client.get(f"/api/referrals/codes/{m1}", headers=h).json()["code"]
    same = _refer(client, keys, m1_code, "user_id", "u2")
    assert same.status_code == 409, same.text
    assert same.json()["error"]["reason"] in ("same_device", "self_referral")
    for n in range(3):
        assert _refer(client, keys, code, "unionid", f"ok{n}").status_code == 201
    burst = _refer(client, keys, code, "unionid", "ok4")
    assert burst.json()["error"]["reason"] == "too_many_invites"
    refused = client.get("/api/referrals/refusals", headers=h).json()
    assert {r["reason"] for r in refused} >= {"self_referral", "too_many_invites"}

    missing = _refer(client, keys, "NOPE1234", "unionid", "x")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "code"
    bad = client.post("/api/referrals", json={"code": "X"}, headers=h)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "identifier_type"
    bad_rule = {"milestones": [{"milestone": "registered", "inviter": {"kind": "points"}}]}
    resp = client.put("/api/referrals/settings", json=bad_rule, headers=h)
    assert resp.status_code == 422 and "milestones.0.inviter" in resp.json()["error"]["field"]
