"""``siyu tags`` and ``siyu segments`` end to end on a small workspace."""

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


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def workspace_id() -> str:
    keys = json.loads(runner.invoke(app, ["workspace", "create", "a", "--json"]).stdout)
    rt = open_runtime()
    messages = [
        {"type": "identify", "messageId": f"i{n}", "userId": f"u{n}",
         "traits": {"member_id": f"M{n}", "city": city}}
        for n, city in ((1, "杭州"), (2, "上海"))
    ] + [{"type": "track", "messageId": "o1", "userId": "u1", "event": "Order Completed",
          "properties": {"revenue": 150}}]  # fmt: skip
    pipeline.ingest(
        runtime=rt, workspace_id=keys["workspace_id"], messages=messages, received_at=utcnow()
    )
    rt.close()
    return str(keys["workspace_id"])


def test_segments_preview_create_refresh_export(workspace_id: str, tmp_path: Path) -> None:
    definition = tmp_path / "def.json"
    definition.write_text(
        json.dumps(
            {
                "type": "all",
                "of": [
                    {"type": "trait", "name": "city", "op": "eq", "value": "杭州"},
                    {"type": "event", "event": "Order Completed"},
                ],
            }
        )
    )
    preview = runner.invoke(app, ["segments", "preview", str(definition), "--json"])
    assert preview.exit_code == 0, preview.output
    assert json.loads(preview.stdout)["count"] == 1
    created = runner.invoke(
        app, ["segments", "create", "大客", "--file", str(definition), "--json"]
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["members"] == 1
    refreshed = runner.invoke(app, ["segments", "refresh", "大客", "--json"])
    assert json.loads(refreshed.stdout)["entered"] == 0
    export = runner.invoke(app, ["segments", "export", "大客", "--id", "member_id", "--clear"])
    assert export.stdout.splitlines()[1].endswith(",M1")


def test_tags_create_apply_import_list(workspace_id: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["tags", "create", "兴趣", "茶"]).exit_code == 0
    ids = tmp_path / "ids.csv"
    ids.write_text("type,value\nmember_id,M1\nmember_id,M9\n")
    imported = runner.invoke(app, ["tags", "import-csv", "兴趣/茶", str(ids), "--json"])
    assert imported.exit_code == 0, imported.output
    report = json.loads(imported.stdout)
    assert (report["gained"], len(report["unresolved"])) == (1, 1)
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"type": "trait", "name": "city", "op": "eq", "value": "上海"}))
    made = runner.invoke(
        app, ["tags", "create", "地域", "上海", "--kind", "rule", "--rule", str(rule)]
    )
    assert made.exit_code == 0, made.output
    assert json.loads(runner.invoke(app, ["tags", "refresh", "--json"]).stdout)["gained"] == 1
    listed = runner.invoke(app, ["tags", "list", "--json"])
    assert {(t["group"], t["name"], t["persons"]) for t in json.loads(listed.stdout)} == {
        ("兴趣", "茶", 1),
        ("地域", "上海", 1),
    }


def test_bad_definition_is_one_line_and_exit_2(workspace_id: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "trait", "name": "city", "op": "in", "value": "x"}))
    result = runner.invoke(app, ["segments", "preview", str(bad)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "trait" in lines[0]
    missing = runner.invoke(app, ["segments", "preview", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "file" in missing.output
