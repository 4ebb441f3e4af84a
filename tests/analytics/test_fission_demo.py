"""The fission funnel on the demo brand through the service, the API and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from siyu.analytics import service as analytics
from siyu.analytics.models import FissionBreakdown, FissionQuery
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


def test_demo_fission_is_plausible_and_engines_agree(demo: tuple[Runtime, build.DemoKeys]) -> None:
    rt, keys = demo
    query = FissionQuery(
        start=START, end=NOW, breakdown=FissionBreakdown.REFERRER_FIRST_TOUCH_CHANNEL
    )
    duck = analytics.run_fission(runtime=rt, workspace_id=keys.workspace_id, query=query)
    ch = analytics.run_fission(
        runtime=rt, workspace_id=keys.workspace_id, query=query, dialect="clickhouse"
    )
    assert duck == ch
    shared, clicked, registered, ordered = (s.persons for s in duck.total.steps)
    # Every demo invitation is one share and one invitee; most invitees are members.
    assert 5 < shared <= clicked <= duck.total.shares
    assert clicked // 2 < registered <= clicked and 0 < ordered <= registered
    assert 0 < duck.total.k_factor <= 1 and duck.total.gmv_fen > 0
    assert duck.top_referrers and duck.top_referrers[0].member_id.startswith("SC")  # type: ignore[union-attr]
    assert sum(s.steps[1].persons for s in duck.breakdown) == clicked


@pytest.fixture
def client(demo: tuple[Runtime, build.DemoKeys]) -> Iterator[TestClient]:
    rt, _ = demo
    with TestClient(create_app(rt, flush_in_background=False)) as test_client:
        yield test_client


def test_api_answers_and_refuses_bad_input(
    demo: tuple[Runtime, build.DemoKeys], client: TestClient
) -> None:
    _, keys = demo
    auth = {"Authorization": f"Bearer {keys.secret_key}"}
    body = {"start": START.isoformat(), "end": NOW.isoformat(), "window": "P7D", "top": 3}
    ok = client.post("/api/analytics/fission", json=body, headers=auth)
    assert ok.status_code == 200, ok.text
    assert ok.json()["total"]["steps"][1]["name"] == "Clicked"
    assert len(ok.json()["top_referrers"]) == 3
    assert client.post("/api/analytics/fission", json=body).status_code == 401
    for field, value in (("top", 1000), ("breakdown", "city"), ("referrer_property", "a b")):
        bad = client.post("/api/analytics/fission", json=body | {field: value}, headers=auth)
        assert bad.status_code == 422 and bad.json()["error"]["field"] == field, bad.text
    bad = client.post("/api/analytics/fission", json=body, params={"engine": "x"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "engine"


def test_cli_fission_and_the_fission_preset(
    demo: tuple[Runtime, build.DemoKeys], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, keys = demo
    monkeypatch.setenv("SIYU_DATA_DIR", str(Path(rt.settings.data_dir)))
    get_settings.cache_clear()
    runner = CliRunner()
    days = ["--from", "2026-06-01", "--to", "2026-11-27", "--workspace", keys.workspace_id]
    try:
        out = runner.invoke(app, ["analytics", "fission", "--window", "7d", *days, "--json"])
        assert out.exit_code == 0, out.output
        steps = json.loads(out.stdout)["total"]["steps"]
        assert [s["name"] for s in steps] == ["Shared", "Clicked", "Registered", "Ordered"]
        table = runner.invoke(app, ["analytics", "fission", "--breakdown", "channel", *days])
        assert (
            table.exit_code == 0 and "K-factor" in table.stdout and "Top referrers" in table.stdout
        )
        routed = runner.invoke(app, ["analytics", "funnel", "--preset", "fission", *days, "--json"])
        assert routed.exit_code == 0 and "analytics fission" in routed.stderr
        assert json.loads(routed.stdout)["total"]["steps"] == steps
        bad = runner.invoke(app, ["analytics", "fission", "--breakdown", "city", *days])
        assert bad.exit_code == 2 and "breakdown" in bad.stderr
        bad = runner.invoke(app, ["analytics", "fission", "--window", "7x", *days])
        assert bad.exit_code == 2 and "window" in bad.stderr
    finally:
        get_settings.cache_clear()
