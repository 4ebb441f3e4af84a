"""``siyu rfm run``, ``siyu lifecycle run``, ``siyu ltv fit|show``: JSON keys and errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.config import get_settings
from tests.analytics.layer_data import open_loaded

runner = CliRunner()


@pytest.fixture
def loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    rt, ws = open_loaded(tmp_path, "sqlite")
    rt.close()
    yield ws
    get_settings.cache_clear()


def test_rfm_and_lifecycle_runs(loaded: str) -> None:
    rfm = runner.invoke(app, ["rfm", "run", "--json"])
    assert rfm.exit_code == 0, rfm.output
    assert json.loads(rfm.stdout)["buyers"] == 4
    table = runner.invoke(app, ["rfm", "run", "--engine", "clickhouse"])
    assert table.exit_code == 0 and "RFM" in table.stdout
    life = runner.invoke(app, ["lifecycle", "run", "--json"])
    assert life.exit_code == 0, life.output
    assert json.loads(life.stdout)["persons"] == 6


def test_ltv_fit_prints_the_parameters(loaded: str) -> None:
    result = runner.invoke(
        app, ["ltv", "fit", "--until", "2026-11-28", "--time-unit", "week", "--json"]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert {"r", "alpha", "a", "b", "p", "q", "gamma"} <= set(found)
    assert found["customers"] == 4
    shown = runner.invoke(app, ["ltv", "show", "--until", "2026-11-28"])
    assert shown.exit_code == 0 and "P(alive)" in shown.stdout


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["ltv", "fit", "--until", "28/11/2026"], "until"),
        (["ltv", "fit", "--until", "2026-11-28", "--time-unit", "month"], "time_unit"),
        (["rfm", "run", "--engine", "oracle"], "engine"),
        (["lifecycle", "run", "--engine", "oracle"], "engine"),
        (["ltv", "show", "--engine", "oracle"], "engine"),
    ],
)
def test_bad_input_is_one_line_exit_2(loaded: str, args: list[str], field: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert field in result.output and len(result.output.strip().splitlines()) == 1
