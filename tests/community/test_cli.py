"""``siyu groups`` end to end against the fake WeCom server: sync, list, show, tag, a group
live code and a scan, an SOP, health; bad input is one readable line and a non-zero exit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siyu.channels import wechat_accounts
from siyu.channels.wechat_accounts import AccountKind, WechatAccountSet
from siyu.cli.main import app
from siyu.core.clock import utcnow
from siyu.core.config import get_settings
from siyu.core.runtime import open_runtime
from tests.channels.fake_wechat import serve_fake_wechat
from tests.community.conftest import AES

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_groups_cli(tmp_path: Path) -> None:
    made = runner.invoke(app, ["workspace", "create", "a", "--json"])
    assert made.exit_code == 0, made.output
    ws = json.loads(made.stdout)["workspace_id"]
    with serve_fake_wechat() as (url, fake):
        rt = open_runtime(get_settings())
        with rt.sessions() as s, s.begin():
            account = WechatAccountSet(
                app_id=fake.corp_id,
                token="tok123",
                encoding_aes_key=AES,
                secret=fake.secret,
                api_base_url=url,
            )
            wechat_accounts.set_account(
                session=s,
                vault=rt.vault,
                workspace_id=ws,
                kind=AccountKind.WECOM,
                account=account,
                now=utcnow(),
            )
        rt.close()
        fake.add_group("wrA", "一群", "zhangsan", ["wmA", "wmB"])
        fake.add_group("wrB", "二群", "lisi", ["wmC"])
        synced = runner.invoke(app, ["groups", "sync"])
        assert synced.exit_code == 0, synced.output
        assert synced.stdout.startswith("2 groups (2 new")
        assert "一群" in runner.invoke(app, ["groups", "list"]).stdout
        assert "wmB" in runner.invoke(app, ["groups", "show", "wrA"]).stdout
        assert "tags VIP" in runner.invoke(app, ["groups", "tag", "wrB", "VIP"]).stdout

        spec = tmp_path / "code.json"
        spec.write_text(
            json.dumps(
                {
                    "name": "码",
                    "state": "c1",
                    "chat_ids": ["wrA"],
                    "owner_userid": "zhangsan",
                    "cap": 4,
                    "room_base_name": "一群扩",
                }
            ),
            encoding="utf-8",
        )
        code = runner.invoke(app, ["groups", "live-code", "create", str(spec), "--json"])
        assert code.exit_code == 0, code.output
        code_id = json.loads(code.stdout)["id"]
        scanned = runner.invoke(app, ["groups", "live-code", "scan", code_id, "wmZ"])
        assert scanned.stdout.startswith("seated  wrA")
        full = runner.invoke(app, ["groups", "live-code", "scan", code_id, "wmY"])
        assert "pending:" in full.stdout  # wrA reached its cap of 4: a new group

        sop = tmp_path / "sop.json"
        when = (utcnow() - timedelta(minutes=1)).isoformat()
        sop.write_text(
            json.dumps(
                {
                    "name": "早安",
                    "text": "早安",
                    "tag": "VIP",
                    "schedule": {"every": "day", "time": "09:00"},
                }
            ),
            encoding="utf-8",
        )
        made_sop = runner.invoke(app, ["groups", "sop", "create", str(sop)])
        assert made_sop.exit_code == 0 and "tag VIP" in made_sop.stdout, made_sop.output
        sop.write_text(
            json.dumps(
                {
                    "name": "x",
                    "text": "x",
                    "chat_ids": ["wrA"],
                    "schedule": {"every": "once", "at": when},
                }
            ),
            encoding="utf-8",
        )
        past = runner.invoke(app, ["groups", "sop", "create", str(sop)])
        assert past.exit_code != 0 and "past" in past.output

        healthy = runner.invoke(app, ["groups", "health"])
        assert healthy.exit_code == 0 and "wrA" in healthy.stdout
        unknown = runner.invoke(app, ["groups", "show", "nope"])
        assert unknown.exit_code != 0 and "no group nope" in unknown.output
