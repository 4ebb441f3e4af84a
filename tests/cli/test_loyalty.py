"""``siyu loyalty``: adjust, balance, expire and verify --json on a small workspace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
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


def test_adjust_balance_expire_verify() -> None:
    keys = json.loads(runner.invoke(app, ["workspace", "create", "a", "--json"]).stdout)
    rt = open_runtime()
    messages = [
        {"type": "identify", "messageId": "i1", "userId": "u1", "traits": {"member_id": "M1"}}
    ]
    pipeline.ingest(
        runtime=rt, workspace_id=keys["workspace_id"], messages=messages, received_at=utcnow()
    )
    pipeline.flush(runtime=rt)
    with rt.sessions() as session:
        pid = session.execute(text("select id from identity_persons")).scalar_one()
    rt.close()
    added = runner.invoke(app, ["loyalty", "adjust", pid, "40", "--key", "k1", "--json"])
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["balance"] == 40
    assert runner.invoke(app, ["loyalty", "adjust", pid, "40", "--key", "k1"]).stdout.strip() == (
        "balance 40"
    )
    broke = runner.invoke(app, ["loyalty", "adjust", "--key", "k2", "--", pid, "-50"])
    assert broke.exit_code == 5 and "points" in broke.stderr
    assert runner.invoke(app, ["loyalty", "balance", pid]).stdout.startswith("balance 40")
    expired = runner.invoke(app, ["loyalty", "expire", "--json"])
    assert json.loads(expired.stdout) == {"lots": 0, "points": 0}
    verified = runner.invoke(app, ["loyalty", "verify", "--json"])
    assert verified.exit_code == 0
    assert json.loads(verified.stdout)["mismatches"] == []
    missing = runner.invoke(app, ["loyalty", "balance", "p_nobody"])
    assert missing.exit_code == 4
