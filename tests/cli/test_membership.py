"""``siyu tiers``, ``siyu members`` and ``siyu coupons`` on a small workspace."""

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


def test_tiers_members_coupons(tmp_path: Path) -> None:
    keys = json.loads(runner.invoke(app, ["workspace", "create", "a", "--json"]).stdout)
    rt = open_runtime()
    messages = [
        {"type": "identify", "messageId": "i1", "userId": "u1", "traits": {"member_id": "M1"}}
    ]
    pipeline.ingest(
        runtime=rt, workspace_id=keys["workspace_id"], messages=messages, received_at=utcnow()
    )
    rt.close()
    ladder = tmp_path / "tiers.json"
    ladder.write_text(
        json.dumps(
            {
                "tiers": [
                    {"code": "silver", "name": "银卡", "min_growth": 0},
                    {"code": "gold", "name": "金卡", "min_growth": 100},
                ]
            }
        )
    )
    assert runner.invoke(app, ["tiers", "set", str(ladder)]).exit_code == 0
    members_csv = tmp_path / "members.csv"
    members_csv.write_text("member_id\nM1\nM9\n")
    imported = runner.invoke(app, ["members", "import", str(members_csv), "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout) == {"enrolled": 1, "already": 0, "unknown": 1, "conflict": 0}
    enrolled = json.loads(
        runner.invoke(app, ["members", "enrol", "--member-id", "M1", "--json"]).stdout
    )
    pid = enrolled["person_id"]
    grown = runner.invoke(app, ["members", "grow", pid, "150", "--key", "g1", "--json"])
    assert json.loads(grown.stdout)["tier"] == "gold"
    board = runner.invoke(app, ["tiers", "board"])
    assert "gold" in board.stdout
    template = tmp_path / "t.json"
    template.write_text(
        json.dumps({"name": "立减5元", "kind": "amount_off", "amount_off_fen": 500})
    )
    tid = json.loads(runner.invoke(app, ["coupons", "create", str(template), "--json"]).stdout)[
        "id"
    ]
    coupon = json.loads(runner.invoke(app, ["coupons", "issue", tid, pid, "--json"]).stdout)
    redeemed = runner.invoke(
        app, ["coupons", "redeem", coupon["id"], "--order", "o1", "--amount-fen", "300", "--json"]
    )
    assert json.loads(redeemed.stdout)["discount_fen"] == 300
    missing = runner.invoke(app, ["coupons", "issue", "ct_none", pid])
    assert missing.exit_code == 4
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "kind": "percent_off"}))
    rejected = runner.invoke(app, ["coupons", "create", str(bad)])
    assert rejected.exit_code == 2
