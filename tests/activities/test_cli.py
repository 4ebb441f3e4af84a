"""``siyu activities`` end to end: create from a file, list, show, stats; bad files named."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.clock import utcnow
from siyu.core.config import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_create_list_show_stats(tmp_path: Path) -> None:
    assert runner.invoke(app, ["workspace", "create", "a"]).exit_code == 0
    now = utcnow()
    spec = {
        "name": "双11抽奖", "kind": "lottery",
        "starts_at": now.isoformat(), "ends_at": (now + timedelta(days=2)).isoformat(),
        "prizes": [{"name": "谢谢参与", "kind": "none", "weight": 9},
                   {"name": "杯子", "kind": "goods", "weight": 1, "stock": 10, "cost_fen": 1500}],
    }  # fmt: skip
    file = tmp_path / "lottery.json"
    file.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    made = runner.invoke(app, ["activities", "create", str(file), "--json"])
    assert made.exit_code == 0, made.output
    act = json.loads(made.stdout)["id"]
    listed = runner.invoke(app, ["activities", "list"])
    assert act in listed.stdout and "lottery" in listed.stdout
    shown = runner.invoke(app, ["activities", "show", act])
    assert "杯子" in shown.stdout and "left 10" in shown.stdout
    stats = json.loads(runner.invoke(app, ["activities", "stats", act, "--json"]).stdout)
    assert stats["cost_fen"] == 0 and stats["roi"] is None

    file.write_text(json.dumps({**spec, "prizes": []}), encoding="utf-8")
    bad = runner.invoke(app, ["activities", "create", str(file)])
    assert bad.exit_code != 0 and "prizes" in bad.output
    missing = runner.invoke(app, ["activities", "show", "act_nope"])
    assert missing.exit_code != 0 and "activity_id" in missing.output
