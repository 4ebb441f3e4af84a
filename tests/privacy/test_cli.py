"""``siyu privacy``: export to a file, erase only with --yes (then verify is clean), the audit
log, and retention --days (SQLite, the CLI's default store)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.config import get_settings
from siyu.core.runtime import open_runtime
from tests.privacy.conftest import ALICE_PHONE, seed

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_export_erase_audit_retention(data_dir: Path) -> None:
    rt = open_runtime()
    alice = seed(rt).alice
    rt.close()
    out = data_dir / "alice.json"
    exported = runner.invoke(app, ["privacy", "export", alice, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    doc = json.loads(out.read_text())
    assert ALICE_PHONE in {i["value"] for i in doc["identities"]}

    refused = runner.invoke(app, ["privacy", "erase", alice])
    assert refused.exit_code != 0 and "--yes" in refused.stderr
    erased = runner.invoke(app, ["privacy", "erase", alice, "--yes", "--json"])
    assert erased.exit_code == 0, erased.output
    receipt = json.loads(erased.stdout)
    assert receipt["counts"]["events.store"] == 4 and not receipt["replayed"]
    again = runner.invoke(app, ["privacy", "erase", alice, "--yes"])
    assert "already erased" in again.stdout
    verified = json.loads(runner.invoke(app, ["loyalty", "verify", "--json"]).stdout)
    assert verified["mismatches"] == [] and verified["entries"] >= 2

    audit = runner.invoke(app, ["privacy", "audit", "--json"])
    assert [e["action"] for e in json.loads(audit.stdout)["entries"]] == ["erase", "export"]

    kept = runner.invoke(app, ["privacy", "retention"])
    assert "no retention period" in kept.stdout
    dropped = runner.invoke(app, ["privacy", "retention", "--days", "1", "--json"])
    assert dropped.exit_code == 0, dropped.output
    assert json.loads(dropped.stdout)["event_retention_days"] == 1
    bad = runner.invoke(app, ["privacy", "retention", "--days", "-2"])
    assert bad.exit_code != 0


def test_retention_periods_per_kind(data_dir: Path) -> None:
    rt = open_runtime()
    seed(rt)
    rt.close()
    shown = runner.invoke(app, ["privacy", "retention", "--json"])
    assert shown.exit_code == 0, shown.output
    policy = json.loads(shown.stdout)["policy"]
    assert (policy["message_retention_days"], policy["audit_retention_days"]) == (180, 1095)
    assert json.loads(shown.stdout)["counts"]["channel_messages.redacted"] == 0
    args = ["privacy", "retention", "--messages-days", "30", "--audit-days", "0", "--json"]
    changed = runner.invoke(app, args)
    assert changed.exit_code == 0, changed.output
    policy = json.loads(changed.stdout)["policy"]
    assert (policy["message_retention_days"], policy["audit_retention_days"]) == (30, None)
    assert policy["consent_history_retention_days"] == 1095  # not given: unchanged
    bad = runner.invoke(app, ["privacy", "retention", "--audit-days", "30"])
    assert bad.exit_code != 0 and "audit_retention_days" in bad.stderr
    text = runner.invoke(app, ["privacy", "retention"])
    assert "channel_messages.redacted: 0" in text.stdout
