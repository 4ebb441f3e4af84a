"""``siyu ugc`` end to end: import with a bad row, list, reward, approve, reject, kocs --tag."""

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


def test_import_moderate_and_rank(tmp_path: Path) -> None:
    assert runner.invoke(app, ["workspace", "create", "a"]).exit_code == 0
    file = tmp_path / "posts.csv"
    file.write_text(
        "platform,external_id,member_id,text,posted_at,views\n"
        "xiaohongshu,n1,M1,好用,2026-11-20 10:00,300\n"
        "douyin,v1,M2,,2026-11-21 10:00,\n"
        "xiaohongshu,n2,M3,,not a time,\n",
        encoding="utf-8",
    )
    done = runner.invoke(app, ["ugc", "import", str(file), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["created"], summary["rejected"]) == (2, 1)
    assert summary["errors"] == [{"row": 3, "field": "posted_at", "message": summary["errors"][0]
                                  ["message"]}]  # fmt: skip
    assert Path(summary["reject_file"]).exists()
    listed = json.loads(runner.invoke(app, ["ugc", "list", "--json"]).stdout)
    ids = {p["external_id"]: p["id"] for p in listed["items"]}
    assert runner.invoke(app, ["ugc", "reward", "--points", "30"]).exit_code == 0
    approved = runner.invoke(app, ["ugc", "approve", ids["n1"]])
    assert approved.exit_code == 0 and "paid 30 points" in approved.stdout
    refused = runner.invoke(app, ["ugc", "reject", ids["v1"], "--reason", "模糊"])
    assert refused.exit_code == 0 and "rejected" in refused.stdout
    ranked = runner.invoke(app, ["ugc", "kocs", "--days", "3650", "--tag", "--json"])
    assert ranked.exit_code == 0, ranked.output
    body = json.loads(ranked.stdout)
    assert body["tagged"] == 1 and body["items"][0]["koc"]

    missing = runner.invoke(app, ["ugc", "approve", "ugc_nope"])
    assert missing.exit_code == 4 and "post_id" in missing.output
    both = runner.invoke(app, ["ugc", "reward", "--points", "3", "--coupon", "t"])
    assert both.exit_code == 2 and "points" in both.output
    bad = tmp_path / "bad.csv"
    bad.write_text("platform,posted_at,phnoe\n", encoding="utf-8")
    header = runner.invoke(app, ["ugc", "import", str(bad)])
    assert header.exit_code == 2 and "phnoe" in header.output
