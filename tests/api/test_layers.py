"""HTTP contract of /api/layers/* and /api/analytics/{pareto,ltv}: auth, shapes, 4xx fields."""

from __future__ import annotations

from fastapi.testclient import TestClient

from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.analytics.layer_data import load


def _auth(keys: WorkspaceCreated) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.secret_key}"}


def test_layers_need_the_secret_key(client: TestClient) -> None:
    assert client.get("/api/layers/rfm").status_code == 401
    assert client.post("/api/layers/lifecycle/run").status_code == 401


def test_rfm_lifecycle_pareto_ltv_round_trip(
    client: TestClient, runtime: Runtime, keys: WorkspaceCreated
) -> None:
    load(runtime, keys.workspace_id)
    auth = _auth(keys)
    empty = client.get("/api/layers/rfm", headers=auth).json()
    assert empty["computed_at"] is None and empty["items"] == []
    run = client.post("/api/layers/rfm/run", headers=auth)
    assert run.status_code == 200, run.text
    assert run.json()["buyers"] == 4
    page = client.get("/api/layers/rfm", params={"limit": 2}, headers=auth).json()
    assert len(page["items"]) == 2 and sum(page["segments"].values()) == 4
    assert page["computed_at"].endswith("+08:00")
    life = client.post("/api/layers/lifecycle/run", params={"engine": "clickhouse"}, headers=auth)
    assert life.status_code == 200, life.text
    assert life.json()["persons"] == 6
    report = client.get("/api/layers/lifecycle", headers=auth).json()
    assert sum(report["stages"].values()) == 6
    pareto = client.get("/api/analytics/pareto", params={"tops": [0.2, 0.5]}, headers=auth)
    assert [s["top"] for s in pareto.json()["pareto"]["shares"]] == [0.2, 0.5]
    assert client.get("/api/analytics/ltv/predictions", headers=auth).status_code == 404
    fit = client.post(
        "/api/analytics/ltv/fit", json={"until": "2026-11-28", "time_unit": "week"}, headers=auth
    )
    assert fit.status_code == 200, fit.text
    assert {"r", "alpha", "a", "b", "p", "q", "gamma"} <= set(fit.json())
    predicted = client.get(
        "/api/analytics/ltv/predictions",
        params={"as_of": "2026-11-28", "horizon_days": 30},
        headers=auth,
    )
    assert predicted.status_code == 200 and predicted.json()["customers"] == 4
    past = client.get("/api/analytics/ltv", params={"until": "2026-11-28"}, headers=auth)
    assert past.json()["revenue_fen"] == 195_000


def test_bad_settings_name_the_field(client: TestClient, keys: WorkspaceCreated) -> None:
    auth = _auth(keys)
    bad = client.put(
        "/api/layers/rfm/settings",
        json={"method": "thresholds", "recency_days": [30, 10, 90, 180]},
        headers=auth,
    )
    assert bad.status_code == 422
    assert "recency_days" in bad.text
    churn = client.put(
        "/api/layers/lifecycle/settings",
        json={"active_days": 60, "churned_days": 30},
        headers=auth,
    )
    assert churn.status_code == 422
    tops = client.get("/api/analytics/pareto", params={"tops": [2]}, headers=auth)
    assert tops.status_code == 400 and "tops" in tops.text
    unit = client.post(
        "/api/analytics/ltv/fit", json={"until": "2026-11-28", "time_unit": "month"}, headers=auth
    )
    assert unit.status_code == 422 and "time_unit" in unit.text
    good = client.put("/api/analytics/ltv/settings", json={"margin_rate": "0.45"}, headers=auth)
    assert good.status_code == 200 and good.json()["margin_rate"] == "0.45"
