"""Analytics on the demo brand through the service, the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from siyu.analytics import funnels
from siyu.analytics import service as analytics
from siyu.analytics.models import (
    Breakdown,
    BreakdownKind,
    CohortBy,
    Period,
    RepurchaseQuery,
    RetentionQuery,
)
from siyu.api.app import create_app
from siyu.cli.main import app
from siyu.core.config import Settings, get_settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.demo import build

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
START = NOW - timedelta(days=180)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, build.DemoKeys]]:
    """The demo brand with 300 customers, built once for this module."""
    rt = open_runtime(Settings(data_dir=tmp_path_factory.mktemp("demo")))
    keys, _ = build.prepare_workspace(rt, users=300, seed=11, rebuild=False, now=NOW)
    build.build_demo(rt, workspace_id=keys.workspace_id, users=300, seed=11, now=NOW)
    yield rt, keys
    rt.close()


def test_demo_funnels_are_plausible_and_engines_agree(demo: tuple[Runtime, build.DemoKeys]) -> None:
    rt, keys = demo
    query = funnels.preset_query(
        "conversion",
        start=START,
        end=NOW,
        breakdown=Breakdown(kind=BreakdownKind.FIRST_TOUCH_CHANNEL),
    )
    duck = analytics.run_funnel(runtime=rt, workspace_id=keys.workspace_id, query=query)
    ch = analytics.run_funnel(
        runtime=rt, workspace_id=keys.workspace_id, query=query, dialect="clickhouse"
    )
    assert duck == ch
    viewed, added, ordered = (s.persons for s in duck.total.steps)
    assert 30 < viewed <= 300 and 0 < ordered <= added <= viewed
    assert 0.05 < duck.total.steps[-1].conversion_from_first < 0.95
    assert {s.breakdown_value for s in duck.breakdown} >= {"douyin", "store"}
    fission = funnels.preset_query("fission", start=START, end=NOW)
    result = analytics.run_funnel(runtime=rt, workspace_id=keys.workspace_id, query=fission)
    assert result.total.steps[0].persons > 0


def test_demo_retention_and_repurchase_are_plausible(
    demo: tuple[Runtime, build.DemoKeys],
) -> None:
    rt, keys = demo
    query = RetentionQuery(
        cohort_by=CohortBy.FIRST_ORDER,
        period=Period.MONTH,
        periods=3,
        returning_event="Order Completed",
        start=START,
        end=NOW,
    )
    duck = analytics.run_retention(runtime=rt, workspace_id=keys.workspace_id, query=query, now=NOW)
    ch = analytics.run_retention(
        runtime=rt, workspace_id=keys.workspace_id, query=query, now=NOW, dialect="clickhouse"
    )
    assert duck == ch
    assert sum(c.persons for c in duck.cohorts) > 20
    assert 0 < duck.average[1] < 1
    buy = RepurchaseQuery(start=START - timedelta(days=400), end=NOW, within_days=30)
    result = analytics.run_repurchase(runtime=rt, workspace_id=keys.workspace_id, query=buy)
    assert result.buyers > 20 and 0.1 < result.repurchase_rate < 0.95
    assert result.interval_days_median is not None and 0 < result.interval_days_median < 120


@pytest.fixture
def client(demo: tuple[Runtime, build.DemoKeys]) -> Iterator[TestClient]:
    rt, _ = demo
    with TestClient(create_app(rt, flush_in_background=False)) as test_client:
        yield test_client


def _auth(keys: build.DemoKeys) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.secret_key}"}


def test_api_answers_and_refuses_bad_input(
    demo: tuple[Runtime, build.DemoKeys], client: TestClient
) -> None:
    _, keys = demo
    body = {
        "steps": [
            {"event": "Product Viewed"},
            {
                "event": "Order Completed",
                "filters": [{"property": "revenue_fen", "op": "gte", "value": 3000}],
            },
        ],
        "window": "P7D",
        "start": START.isoformat(),
        "end": NOW.isoformat(),
        "breakdown": {"kind": "property", "property": "city"},
    }
    ok = client.post("/api/analytics/funnel", json=body, headers=_auth(keys))
    assert ok.status_code == 200, ok.text
    assert ok.json()["total"]["steps"][0]["persons"] > 0
    assert client.post("/api/analytics/funnel", json=body).status_code == 401
    bad = client.post(
        "/api/analytics/funnel", json=body | {"steps": [{"event": "A"}]}, headers=_auth(keys)
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "steps"
    bad = client.post(
        "/api/analytics/funnel", json=body, params={"engine": "oracle"}, headers=_auth(keys)
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "engine"
    retention = {"period": "week", "periods": 4, "start": START.isoformat(), "end": NOW.isoformat()}
    ok = client.post("/api/analytics/retention", json=retention, headers=_auth(keys))
    assert ok.status_code == 200 and ok.json()["cohorts"]
    bad = client.post(
        "/api/analytics/retention", json=retention | {"period": "year"}, headers=_auth(keys)
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "period"
    ok = client.get(
        "/api/analytics/repurchase",
        params={"from": "2026-01-01", "to": "2026-11-27"},
        headers=_auth(keys),
    )
    assert ok.status_code == 200 and ok.json()["buyers"] > 0
    bad = client.get(
        "/api/analytics/repurchase",
        params={"from": "2026-05-01", "to": "2026-01-01"},
        headers=_auth(keys),
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "to"


def test_cli_prints_tables_json_and_one_line_errors(
    demo: tuple[Runtime, build.DemoKeys], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, keys = demo
    monkeypatch.setenv("SIYU_DATA_DIR", str(Path(rt.settings.data_dir)))
    get_settings.cache_clear()
    runner = CliRunner()
    days = ["--from", "2026-06-01", "--to", "2026-11-27", "--workspace", keys.workspace_id]
    try:
        out = runner.invoke(
            app,
            [
                "analytics",
                "funnel",
                "--steps",
                "Product Viewed,Product Added,Order Completed",
                "--window",
                "7d",
                *days,
                "--json",
            ],
        )
        assert out.exit_code == 0, out.output
        assert [s["name"] for s in json.loads(out.stdout)["total"]["steps"]] == [
            "Product Viewed",
            "Product Added",
            "Order Completed",
        ]
        table = runner.invoke(
            app, ["analytics", "funnel", "--preset", "conversion", "--breakdown", "channel", *days]
        )
        assert table.exit_code == 0 and "Product Added" in table.stdout
        assert (
            runner.invoke(app, ["analytics", "retention", "--period", "month", *days]).exit_code
            == 0
        )
        assert runner.invoke(app, ["analytics", "repurchase", *days]).exit_code == 0
        bad = runner.invoke(app, ["analytics", "funnel", "--steps", "A,B", "--window", "7x", *days])
        assert bad.exit_code == 2 and "window" in bad.stderr
        bad = runner.invoke(app, ["analytics", "retention", "--period", "year", *days])
        assert bad.exit_code == 2 and "period" in bad.stderr
    finally:
        get_settings.cache_clear()
