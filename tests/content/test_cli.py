"""``siyu content`` end to end: add from a file, list, show, a sharer's link and poster QR,
performance; bad files and unknown items answered in one line with a non-zero exit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.config import get_settings
from tests.content.test_api import LINK_ITEM

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIYU_PUBLIC_URL", "https://m.shanchaji.example")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_add_list_show_link_performance(tmp_path: Path) -> None:
    assert runner.invoke(app, ["workspace", "create", "a"]).exit_code == 0
    file = tmp_path / "item.json"
    file.write_text(json.dumps(LINK_ITEM, ensure_ascii=False), encoding="utf-8")
    made = runner.invoke(app, ["content", "add", str(file), "--json"])
    assert made.exit_code == 0, made.output
    item = json.loads(made.stdout)["id"]
    listed = runner.invoke(app, ["content", "list", "--tag", "大促"])
    assert item in listed.stdout and "[wecom,sms]" in listed.stdout
    qr = tmp_path / "poster.png"
    link = runner.invoke(
        app, ["content", "link", item, "--sharer", "p_kol", "--channel", "poster", "--qr", str(qr)]
    )
    assert link.exit_code == 0, link.output
    assert link.stdout.startswith("https://m.shanchaji.example/c/")
    assert qr.read_bytes().startswith(b"\x89PNG")
    shown = runner.invoke(app, ["content", "show", item])
    assert "sharer p_kol" in shown.stdout and "双12 会场开了" in shown.stdout
    report = runner.invoke(app, ["content", "performance", "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["items"][0]["content_id"] == item

    file.write_text(json.dumps({**LINK_ITEM, "variants": [{"channel": "sms", "text": "x" * 600}]}))
    bad = runner.invoke(app, ["content", "add", str(file)])
    assert bad.exit_code == 2 and "variants.0.sms.text" in bad.output
    missing = runner.invoke(app, ["content", "show", "ct_nope"])
    assert missing.exit_code == 4 and len(missing.output.strip().splitlines()) == 1
    wrong = runner.invoke(app, ["content", "link", item, "--channel", "Bad Channel"])
    assert wrong.exit_code == 2
