"""``siyu live-codes`` and ``siyu referrals`` end to end on a small workspace."""

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


def _json(args: list[str]) -> dict[str, object]:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_live_code_cli(tmp_path: Path) -> None:
    _json(["workspace", "create", "a"])
    staff = _json(["live-codes", "add-staff", "小王", "--daily-cap", "5"])
    code = _json(["live-codes", "create", "KOL 小红书", "--kind", "kol", "--channel", "xhs",
                  "--staff", str(staff["id"])])  # fmt: skip
    scan = _json(["live-codes", "scan", str(code["id"]), "unionid", "u1"])
    assert scan["staff_id"] == staff["id"]
    stats = _json(["live-codes", "stats", str(code["id"])])
    assert stats["adds"] == 1
    out = tmp_path / "code.svg"
    assert (
        runner.invoke(app, ["live-codes", "qr", str(code["id"]), "--out", str(out)]).exit_code == 0
    )
    assert "<svg" in out.read_text(encoding="utf-8")
    invite = _json(["referrals", "code", str(scan["person_id"])])
    assert invite["person_id"] == scan["person_id"]
    board = _json(["referrals", "leaderboard"])
    assert board["inviters"] == 0
    missing = runner.invoke(app, ["live-codes", "stats", "lc_nope"])
    assert missing.exit_code == 4 and "code_id" in missing.output
    bad = runner.invoke(
        app, ["live-codes", "qr", str(code["id"]), "--out", str(tmp_path / "x.gif")]
    )
    assert bad.exit_code == 2 and "out" in bad.output
