"""HTTP contract of the measurement boards: GMV, attribution, ROI, AARRR/RARRA, spend."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from siyu import pipeline
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated

WEEK = {"from": "2026-03-09", "to": "2026-03-15"}


def _bearer(keys: WorkspaceCreated) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.secret_key}"}


def _message(user: str, kind: str, at: str, **extra: Any) -> dict[str, Any]:
    return {"userId": user, "type": kind, "timestamp": at, "messageId": f"{user}-{at}", **extra}


@pytest.fixture
def shop(client: TestClient, keys: WorkspaceCreated, runtime: Runtime) -> WorkspaceCreated:
    """u1 came from Douyin and bought ¥100 this week; u2 bought ¥40 last week."""
    douyin = {"campaign": {"source": "douyin", "name": "dy_live"}}
    batch = [
        _message("u1", "page", "2026-03-08T10:00:00+08:00", name="Landing", context=douyin),
        _message(
            "u1",
            "track",
            "2026-03-10T12:00:00+08:00",
            event="Order Completed",
            properties={"order_id": "o1", "revenue": "100.00"},
        ),
        _message(
            "u2",
            "track",
            "2026-03-03T12:00:00+08:00",
            event="Order Completed",
            properties={"order_id": "o2", "revenue": "40.00"},
        ),
    ]
    response = client.post("/v1/batch", json={"batch": batch}, auth=(keys.write_key, ""))
    assert response.status_code == 200, response.text
    pipeline.flush(runtime=runtime)
    return keys


def test_gmv_on_both_engines(client: TestClient, shop: WorkspaceCreated) -> None:
    bodies = []
    for engine in ("duckdb", "clickhouse"):
        response = client.get(
            "/api/analytics/gmv", params={**WEEK, "engine": engine}, headers=_bearer(shop)
        )
        assert response.status_code == 200, response.text
        bodies.append(response.json())
    assert bodies[0] == bodies[1]
    body = bodies[0]
    assert (body["current"]["gmv_fen"], body["previous"]["gmv_fen"]) == (10_000, 4_000)
    assert body["change_fen"] == 6_000
    assert sum(f["contribution_fen"] for f in body["factors"]) == 6_000
    assert body["compare_to"] == {
        "first_day": "2026-03-02",
        "last_day": "2026-03-08",
        "timezone": "Asia/Shanghai",
    }


def test_attribution_and_spend_roi(client: TestClient, shop: WorkspaceCreated) -> None:
    response = client.get(
        "/api/analytics/attribution",
        params={**WEEK, "model": "position_based"},
        headers=_bearer(shop),
    )
    assert response.status_code == 200, response.text
    assert [(c["channel"], c["revenue_fen"]) for c in response.json()["channels"]] == [
        ("douyin", 10_000)
    ]
    entries = [{"day": "2026-03-09", "channel": "douyin", "spend_fen": 5_000}]
    for _ in range(2):  # a retry changes nothing
        stored = client.post("/api/spend", json={"entries": entries}, headers=_bearer(shop))
        assert stored.status_code == 200, stored.text
    listed = client.get("/api/spend", params=WEEK, headers=_bearer(shop)).json()
    assert listed["spend_fen"] == 5_000
    roi = client.get("/api/analytics/roi", params=WEEK, headers=_bearer(shop)).json()
    douyin = roi["channels"][0]
    assert (douyin["channel"], douyin["roi"], douyin["cac_fen"], douyin["payback_days"]) == (
        "douyin",
        1.0,
        5_000,
        2,
    )


def test_boards(client: TestClient, shop: WorkspaceCreated) -> None:
    for kind, first in (("aarrr", "acquisition"), ("rarra", "retention")):
        response = client.get(f"/api/analytics/boards/{kind}", params=WEEK, headers=_bearer(shop))
        assert response.status_code == 200, response.text
        board = response.json()
        assert board["stages"][0]["stage"] == first
        revenue = next(s for s in board["stages"] if s["stage"] == "revenue")
        gmv = next(m for m in revenue["metrics"] if m["name"] == "gmv_fen")
        assert (gmv["value"], gmv["previous"]) == (10_000, 4_000)
        assert all(m["definition"] for s in board["stages"] for m in s["metrics"])


def test_bad_input_names_the_field(client: TestClient, keys: WorkspaceCreated) -> None:
    headers = _bearer(keys)
    backwards = client.get(
        "/api/analytics/gmv", params={"from": "2026-03-15", "to": "2026-03-09"}, headers=headers
    )
    assert backwards.status_code == 400
    assert backwards.json()["error"]["field"] == "to"
    bad_model = client.get("/api/analytics/attribution", params={"model": "magic"}, headers=headers)
    assert bad_model.status_code == 422
    assert bad_model.json()["error"]["field"] == "model"
    bad_date = client.get("/api/analytics/boards/aarrr", params={"from": "03/09"}, headers=headers)
    assert bad_date.status_code == 422 and bad_date.json()["error"]["field"] == "from"
    negative = client.post(
        "/api/spend",
        json={"entries": [{"day": "2026-03-09", "channel": "douyin", "spend_fen": -1}]},
        headers=headers,
    )
    assert negative.status_code == 422
    assert negative.json()["error"]["field"] == "entries.0.spend_fen"


def test_secret_key_is_required(client: TestClient, keys: WorkspaceCreated) -> None:
    assert client.get("/api/analytics/gmv").status_code == 401
    wrong = client.get("/api/analytics/roi", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    as_write_key = client.post("/api/spend", json={"entries": []}, auth=(keys.write_key, ""))
    assert as_write_key.status_code == 401
