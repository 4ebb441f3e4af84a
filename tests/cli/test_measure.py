"""``siyu import spend`` and ``siyu measure …``: JSON keys, rich tables, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu import pipeline
from siyu.cli.main import app
from siyu.core.clock import utcnow
from siyu.core.config import get_settings
from siyu.core.runtime import open_runtime

runner = CliRunner()
WEEK = ["--from", "2026-03-09", "--to", "2026-03-15"]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def shop() -> str:
    """A workspace where u1 (from Douyin) bought ¥100 this week and u2 ¥40 last week."""
    keys = json.loads(runner.invoke(app, ["workspace", "create", "山茶集", "--json"]).stdout)
    rt = open_runtime()
    douyin = {"campaign": {"source": "douyin", "name": "dy_live"}}
    messages = [
        {"userId": "u1", "type": "page", "name": "Landing", "context": douyin,
         "timestamp": "2026-03-08T10:00:00+08:00", "messageId": "m1"},
        {"userId": "u1", "type": "track", "event": "Order Completed", "messageId": "m2",
         "timestamp": "2026-03-10T12:00:00+08:00", "properties": {"revenue": "100.00"}},
        {"userId": "u2", "type": "track", "event": "Order Completed", "messageId": "m3",
         "timestamp": "2026-03-03T12:00:00+08:00", "properties": {"revenue": "40.00"}},
    ]  # fmt: skip
    result = pipeline.ingest(
        runtime=rt, workspace_id=keys["workspace_id"], messages=messages, received_at=utcnow()
    )
    assert result.accepted == 3
    pipeline.flush(runtime=rt)
    rt.close()
    return str(keys["workspace_id"])


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_import_spend_then_roi(shop: str, tmp_path: Path) -> None:
    spend = tmp_path / "spend.csv"
    spend.write_text("日期,渠道,花费\n2026-03-09,抖音,50\n2026-03-09,抖音,oops\n")
    for _ in range(2):
        summary = _json(["import", "spend", str(spend), "--json"])
        assert (summary["stored"], summary["rejected"], summary["spend_fen"]) == (1, 1, 5_000)
    assert (tmp_path / "spend.rejects.csv").exists()
    roi = _json(["measure", "roi", *WEEK, "--json"])
    douyin = roi["channels"][0]  # type: ignore[index]
    assert (douyin["channel"], douyin["spend_fen"], douyin["roi"], douyin["payback_days"]) == (
        "douyin",
        5_000,
        1.0,
        2,
    )
    table = runner.invoke(app, ["measure", "roi", *WEEK])
    assert table.exit_code == 0 and "douyin" in table.stdout and "¥50.00" in table.stdout


def test_gmv_attribution_and_boards(shop: str) -> None:
    gmv = _json(["measure", "gmv", *WEEK, "--json", "--engine", "clickhouse"])
    assert gmv["change_fen"] == 6_000
    attribution = _json(["measure", "attribution", *WEEK, "--model", "markov", "--json"])
    assert attribution["channels"][0]["channel"] == "douyin"  # type: ignore[index]
    for kind, first in (("aarrr", "Acquisition"), ("rarra", "Retention")):
        board = runner.invoke(app, ["measure", kind, *WEEK])
        assert board.exit_code == 0, board.output
        assert board.stdout.index(first) < board.stdout.index("Revenue")
        assert _json(["measure", kind, *WEEK, "--json"])["kind"] == kind
    assert "◀" in runner.invoke(app, ["measure", "gmv", *WEEK]).stdout


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["measure", "attribution", "--model", "magic"], "model"),
        (["measure", "gmv", "--from", "2026-03-15", "--to", "2026-03-09"], "to"),
        (["measure", "aarrr", "--engine", "oracle"], "engine"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(shop: str, args: list[str], field: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"({field})" in lines[0]


def test_missing_spend_file_and_columns(shop: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["import", "spend", str(tmp_path / "nope.csv")]).exit_code == 2
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("date,cost\n2026-03-09,1\n")
    result = runner.invoke(app, ["import", "spend", str(wrong)])
    assert result.exit_code == 2 and "channel" in result.output
