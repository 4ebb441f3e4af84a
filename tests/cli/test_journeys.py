"""``siyu journeys`` and ``siyu worker`` end to end on a small workspace: a YAML journey created,
activated, entered by an order, stepped by one worker round, dry-run and its stats printed;
bad input is one readable line and a non-zero exit."""

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

JOURNEY = """
name: 复购提醒
trigger: {type: event, spec: {event: Order Completed}}
start: split
nodes:
  - type: split
    id: split
    variants:
      - {name: A, weight: 1, next: tag}
      - {name: hold, weight: 1, next: goal, holdout: true}
  - {type: action, id: tag, next: goal, action: {type: award_points, points: 5}}
  - {type: goal, id: goal, event: {event: Order Completed}, within: P7D}
"""


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def workspace_id() -> str:
    keys = json.loads(runner.invoke(app, ["workspace", "create", "a", "--json"]).stdout)
    return str(keys["workspace_id"])


def _orders(workspace_id: str, count: int) -> None:
    rt = open_runtime()
    messages = [{"type": "track", "messageId": f"o{n}", "userId": f"u{n}",
                 "event": "Order Completed", "properties": {"revenue": 50}}
                for n in range(count)]  # fmt: skip
    pipeline.ingest(runtime=rt, workspace_id=workspace_id, messages=messages, received_at=utcnow())
    rt.close()


def test_create_activate_step_and_read(workspace_id: str, tmp_path: Path) -> None:
    file = tmp_path / "j.yaml"
    file.write_text(JOURNEY, encoding="utf-8")
    made = runner.invoke(app, ["journeys", "create", str(file), "--json"])
    assert made.exit_code == 0, made.output
    jid = json.loads(made.stdout)["id"]
    assert runner.invoke(app, ["journeys", "activate", jid]).exit_code == 0
    listed = runner.invoke(app, ["journeys", "list"])
    assert "复购提醒" in listed.stdout and "active" in listed.stdout
    shown = runner.invoke(app, ["journeys", "show", jid])
    assert "split" in shown.stdout and "tag, goal" in shown.stdout  # the edges

    _orders(workspace_id, 20)
    worked = runner.invoke(app, ["worker", "--once", "--interval", "0.1"])
    assert worked.exit_code == 0, worked.output
    stats = runner.invoke(app, ["journeys", "stats", jid, "--json"])
    found = json.loads(stats.stdout)
    assert found["entries"] == 20
    assert {v["variant"] for v in found["variants"]} == {"A", "hold"}
    assert sum(v["entered"] for v in found["variants"]) == 20
    table = runner.invoke(app, ["journeys", "stats", jid])
    assert "█" in table.stdout and "(control)" in table.stdout

    run = runner.invoke(app, ["journeys", "dry-run", jid, "--start", "2026-01-01",
                              "--end", "2026-01-08", "--json"])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["messages_total"] == 0

    assert runner.invoke(app, ["journeys", "pause", jid]).exit_code == 0
    assert runner.invoke(app, ["journeys", "resume", jid]).exit_code == 0
    file.write_text(JOURNEY.replace("points: 5", "points: 8"), encoding="utf-8")
    published = runner.invoke(app, ["journeys", "publish", jid, str(file), "--json"])
    assert json.loads(published.stdout)["current_version"] == 2


def test_bad_input_is_one_line_and_non_zero(workspace_id: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(JOURNEY.replace("start: split", "start: nowhere"), encoding="utf-8")
    answer = runner.invoke(app, ["journeys", "create", str(bad)])
    assert answer.exit_code != 0
    assert "start" in answer.output and len(answer.output.strip().splitlines()) == 1
    missing = runner.invoke(app, ["journeys", "show", "jny_missing"])
    assert missing.exit_code != 0 and "jny_missing" in missing.output
    dates = runner.invoke(app, ["journeys", "dry-run", "jny_x", "--start", "soon", "--end", "x"])
    assert dates.exit_code != 0 and "start" in dates.output
    assert runner.invoke(app, ["worker", "--interval", "0"]).exit_code != 0


def test_a_journey_naming_missing_content_is_refused(workspace_id: str, tmp_path: Path) -> None:
    file = tmp_path / "push.yaml"
    file.write_text(
        JOURNEY.replace("{type: award_points, points: 5}",
                        "{type: send_message, channel: sms, template: t, content_id: ct_gone}"),
        encoding="utf-8",
    )  # fmt: skip
    answer = runner.invoke(app, ["journeys", "create", str(file)])
    assert answer.exit_code != 0
    assert len(answer.output.strip().splitlines()) == 1
    assert "nodes.1.action.content_id" in answer.output and "ct_gone" in answer.output
    assert "复购提醒" not in runner.invoke(app, ["journeys", "list"]).stdout  # nothing saved
