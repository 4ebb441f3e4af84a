"""Activities over the management API: create, draw with a key, refusals as 409, stats."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from siyu.core.clock import utcnow
from siyu.workspaces.models import WorkspaceCreated
from tests.api.test_coupons import members
from tests.api.test_identity import admin


def _window() -> dict[str, str]:
    now = utcnow()
    return {
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=3)).isoformat(),
    }


def _create(client: TestClient, keys: WorkspaceCreated, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/activities", json={**_window(), **body}, headers=admin(keys))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_lottery_draw_retry_limit_and_stats(client: TestClient, keys: WorkspaceCreated) -> None:
    (ann,) = members(client, keys, 1)
    prizes = [{"name": "积分", "kind": "points", "amount": 20, "weight": 1, "stock": 3,
               "cost_fen": 200}]  # fmt: skip
    act = _create(client, keys, {"name": "抽奖", "kind": "lottery", "prizes": prizes,
                                 "limits": {"per_day": 1}})  # fmt: skip
    url = f"/api/activities/{act['id']}/draw"
    headers = {**admin(keys), "Idempotency-Key": "draw-1"}
    first = client.post(url, json={"person_id": ann}, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["prize"]["kind"] == "points"
    again = client.post(url, json={"person_id": ann}, headers=headers)
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"]
    limited = client.post(url, json={"person_id": ann}, headers=admin(keys))
    assert limited.status_code == 409
    error = limited.json()["error"]
    assert (error["type"], error["field"], error["reason"]) == (
        "ConflictError", "person_id", "limit_reached",
    )  # fmt: skip
    stats = client.get(f"/api/activities/{act['id']}/stats", headers=admin(keys)).json()
    steps = {s["step"]: s["persons"] for s in stats["funnel"]}
    assert steps["join"] == 1 and steps["complete"] == 1
    assert stats["cost_fen"] == 200 and stats["refusals"] == {"limit_reached": 1}
    shown = client.get(f"/api/activities/{act['id']}", headers=admin(keys)).json()
    assert shown["prizes"][0]["stock"] == 2
    listed = client.get("/api/activities", params={"kind": "lottery"}, headers=admin(keys))
    assert [a["id"] for a in listed.json()] == [act["id"]]


def test_group_buy_over_http(client: TestClient, keys: WorkspaceCreated) -> None:
    lead, friend = members(client, keys, 2)
    act = _create(client, keys, {"name": "二人团", "kind": "group_buy", "team_size": 2,
                                 "reward": {"kind": "points", "amount": 5}})  # fmt: skip
    opened = client.post(
        f"/api/activities/{act['id']}/teams", json={"person_id": lead}, headers=admin(keys)
    )
    assert opened.status_code == 201, opened.text
    team = opened.json()["team_id"]
    self_join = client.post(
        f"/api/activities/teams/{team}/join", json={"person_id": lead}, headers=admin(keys)
    )
    assert self_join.status_code == 409
    assert self_join.json()["error"]["reason"] == "already_joined"
    joined = client.post(
        f"/api/activities/teams/{team}/join", json={"person_id": friend}, headers=admin(keys)
    )
    assert joined.status_code == 200 and sorted(joined.json()["detail"]["completed"]) == sorted(
        [lead, friend]
    )
    rewards = client.get(f"/api/activities/{act['id']}/rewards", headers=admin(keys)).json()
    assert sorted(r["status"] for r in rewards) == ["paid", "paid"]


def test_bad_input_names_the_field(client: TestClient, keys: WorkspaceCreated) -> None:
    bad = client.post(
        "/api/activities", json={**_window(), "name": "x", "kind": "group_buy"}, headers=admin(keys)
    )
    assert bad.status_code == 422 and "team_size" in bad.text
    missing = client.post(
        "/api/activities/act_nope/draw", json={"person_id": "p"}, headers=admin(keys)
    )
    assert missing.status_code == 404 and "activity_id" in missing.text


def test_bargain_and_check_in_over_http(client: TestClient, keys: WorkspaceCreated) -> None:
    starter, f1, f2 = members(client, keys, 3)
    h = admin(keys)
    bargain = _create(client, keys, {"name": "砍价", "kind": "assist", "helpers_needed": 2,
                                     "start_price_fen": 5000, "floor_price_fen": 2000,
                                     "reward": {"kind": "goods", "cost_fen": 2000}})  # fmt: skip
    run = client.post(
        f"/api/activities/{bargain['id']}/teams", json={"person_id": starter}, headers=h
    )
    assert run.status_code == 201, run.text
    team = run.json()["team_id"]
    cuts = [
        client.post(f"/api/activities/teams/{team}/help", json={"person_id": f}, headers=h).json()
        for f in (f1, f2)
    ]
    assert [c["detail"]["cut_fen"] for c in cuts] == [2000, 1000]
    state = client.get(f"/api/activities/teams/{team}", headers=h).json()
    assert (state["status"], state["price_fen"]) == ("complete", 2000)
    rewards = client.get(f"/api/activities/{bargain['id']}/rewards", headers=h).json()
    assert [(r["person_id"], r["kind"], r["status"]) for r in rewards] == [
        (starter, "goods", "action")
    ]

    camp = _create(client, keys, {"name": "打卡", "kind": "signup", "days_required": 1,
                                  "reward": {"kind": "points", "amount": 10}})  # fmt: skip
    early = client.post(f"/api/activities/{camp['id']}/check-in", json={"person_id": f1}, headers=h)
    assert early.status_code == 409 and early.json()["error"]["reason"] == "not_registered"
    assert client.post(f"/api/activities/{camp['id']}/register", json={"person_id": f1},
                       headers=h).status_code == 200  # fmt: skip
    done = client.post(f"/api/activities/{camp['id']}/check-in", json={"person_id": f1}, headers=h)
    assert done.json()["detail"]["completed"] == [f1]
    refusals = client.get(f"/api/activities/{camp['id']}/refusals", headers=h).json()
    assert [r["reason"] for r in refusals] == ["not_registered"]
    assert client.post("/api/activities/teams/expire", headers=h).json() == []


def test_pause_resume_and_end_over_http(client: TestClient, keys: WorkspaceCreated) -> None:
    (ann,) = members(client, keys, 1)
    prizes = [{"name": "积分", "kind": "points", "amount": 5, "weight": 1, "stock": 10}]
    act = _create(client, keys, {"name": "暂停抽奖", "kind": "lottery", "prizes": prizes})
    base = f"/api/activities/{act['id']}"
    paused = client.post(f"{base}/pause", headers=admin(keys))
    assert paused.status_code == 200 and paused.json()["paused"] is True
    refused = client.post(f"{base}/draw", json={"person_id": ann}, headers=admin(keys))
    assert refused.status_code == 409 and refused.json()["error"]["reason"] == "paused"
    assert client.post(f"{base}/resume", headers=admin(keys)).json()["paused"] is False
    drawn = client.post(f"{base}/draw", json={"person_id": ann}, headers=admin(keys))
    assert drawn.status_code == 200, drawn.text
    ended = client.post(f"{base}/end", headers=admin(keys))
    assert ended.status_code == 200
    after = client.post(f"{base}/draw", json={"person_id": ann}, headers=admin(keys))
    assert after.status_code == 409 and after.json()["error"]["reason"] == "ended"
    missing = client.post("/api/activities/nope/pause", headers=admin(keys))
    assert missing.status_code == 404
