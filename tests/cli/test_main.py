"""The CLI: JSON output, one readable error line with a non-zero exit, rebuild and compact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.config import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_workspace_create_prints_keys_as_json() -> None:
    result = runner.invoke(app, ["workspace", "create", "山茶集", "--json"])
    assert result.exit_code == 0, result.output
    keys = json.loads(result.stdout)
    assert set(keys) == {"workspace_id", "write_key", "secret_key"}
    assert keys["write_key"].startswith("wk_") and keys["secret_key"].startswith("sk_")


def test_bad_input_is_one_line_and_non_zero() -> None:
    result = runner.invoke(app, ["workspace", "create", "   "])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "name" in lines[0]


def test_ambiguous_workspace_is_refused() -> None:
    runner.invoke(app, ["workspace", "create", "a"])
    runner.invoke(app, ["workspace", "create", "b"])
    result = runner.invoke(app, ["identity", "rebuild"])
    assert result.exit_code == 2
    assert "--workspace" in result.output


def test_rebuild_and_compact_run_on_an_empty_workspace() -> None:
    keys = json.loads(runner.invoke(app, ["workspace", "create", "a", "--json"]).stdout)
    rebuilt = runner.invoke(app, ["identity", "rebuild", "--json"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert json.loads(rebuilt.stdout.strip().splitlines()[-1])["persons"] == 0
    compacted = runner.invoke(app, ["compact", "--workspace", keys["workspace_id"]])
    assert compacted.exit_code == 0, compacted.output
    missing = runner.invoke(app, ["compact", "--workspace", "ws_nope"])
    assert missing.exit_code == 4


def test_an_unreachable_database_is_one_line_and_non_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A port nothing listens on: the store is down, not a bug — no traceback.
    monkeypatch.setenv("SIYU_DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none")
    get_settings.cache_clear()
    result = runner.invoke(app, ["workspace", "create", "山茶集"])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code not in (0, 1), result.output
    assert len(lines) == 1 and "cannot reach the database" in lines[0], result.output
    assert "Traceback" not in result.output
