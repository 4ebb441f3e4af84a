"""``siyu keys rotate-master | reencrypt-master | retire-master | master-status`` over a key
file, and with the keyring in SIYU_MASTER_KEY (SQLite, the CLI's default store)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.cli.main import app
from siyu.core.config import get_settings
from siyu.core.crypto import format_keyring, parse_keyring, with_new_key, write_key_file
from siyu.core.runtime import open_runtime
from siyu.pipeline import key_rotation
from tests.privacy.conftest import ALICE_PHONE, seed

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("SIYU_MASTER_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _status() -> dict[str, object]:
    shown = runner.invoke(app, ["keys", "master-status", "--json"])
    assert shown.exit_code == 0, shown.output
    return dict(json.loads(shown.stdout))


def test_rotate_retire_over_the_key_file(data_dir: Path) -> None:
    rt = open_runtime()
    seeded = seed(rt)
    rt.close()
    before = _status()
    assert before["active"] == "k1"
    rotated = runner.invoke(app, ["keys", "rotate-master", "--batch-size", "2"])
    assert rotated.exit_code == 0, rotated.output
    assert "master key k2 added" in rotated.stdout and "now under k2" in rotated.stdout
    keyring = parse_keyring((data_dir / "master.key").read_text())
    assert keyring.key_ids == ("k1", "k2")
    after = _status()
    assert after["active"] == "k2"
    columns = after["columns"]
    assert isinstance(columns, dict) and columns["identity_identifiers.encrypted"]["k2"] >= 2
    assert all(set(per) <= {"k2"} for per in columns.values())

    refused = runner.invoke(app, ["keys", "retire-master", "k2"])
    assert refused.exit_code == 2 and "active" in refused.stderr
    retired = runner.invoke(app, ["keys", "retire-master", "k1"])
    assert retired.exit_code == 0, retired.output
    assert parse_keyring((data_dir / "master.key").read_text()).key_ids == ("k2",)
    # Everything still reads: the export decrypts Alice's phone under the new keyring alone.
    out = data_dir / "alice.json"
    exported = runner.invoke(app, ["privacy", "export", seeded.alice, "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert ALICE_PHONE in {i["value"] for i in json.loads(out.read_text())["identities"]}


def test_retire_is_refused_while_a_ciphertext_uses_the_key(data_dir: Path) -> None:
    rt = open_runtime()
    seed(rt)
    # A second key is added to the file by hand, not yet re-encrypted into.
    write_key_file(data_dir / "master.key", with_new_key(rt.vault))
    rt.close()
    refused = runner.invoke(app, ["keys", "retire-master", "k1"])
    assert refused.exit_code == 5 and "reencrypt-master" in refused.stderr
    done = runner.invoke(app, ["keys", "reencrypt-master"])
    assert done.exit_code == 0, done.output
    assert runner.invoke(app, ["keys", "retire-master", "k1"]).exit_code == 0


def test_with_the_keyring_in_the_environment(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = open_runtime()
    seed(rt)
    monkeypatch.setenv("SIYU_MASTER_KEY", format_keyring(rt.vault))
    rt.close()
    get_settings.cache_clear()
    printed = runner.invoke(app, ["keys", "rotate-master"])
    assert printed.exit_code == 0, printed.output
    line = printed.stdout.splitlines()[1]
    assert parse_keyring(line).key_ids == ("k1", "k2")
    assert _status()["active"] == "k1"  # nothing changed yet
    monkeypatch.setenv("SIYU_MASTER_KEY", line)
    get_settings.cache_clear()
    assert runner.invoke(app, ["keys", "reencrypt-master"]).exit_code == 0
    rt2 = open_runtime()
    with rt2.sessions() as s:
        assert key_rotation.pending(session=s, vault=rt2.vault) == 0
    rt2.close()
    shown = runner.invoke(app, ["keys", "retire-master", "k1"])
    assert shown.exit_code == 0 and parse_keyring(shown.stdout.splitlines()[1]).key_ids == ("k2",)
    monkeypatch.setenv("SIYU_MASTER_KEY", "k1:no-pe!")
    get_settings.cache_clear()
    bad = runner.invoke(app, ["keys", "master-status"])
    assert bad.exit_code == 2 and "k1 is not base64" in bad.stderr
