"""``siyu workspace create --owner-email``, ``siyu users`` and ``siyu keys`` on a fresh store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from siyu.accounts import keys, resets, sessions
from siyu.accounts.permissions import markdown_table
from siyu.cli.main import app
from siyu.core.clock import utcnow
from siyu.core.config import get_settings
from siyu.core.errors import AuthError
from siyu.core.runtime import open_runtime
from siyu.privacy import service as privacy
from tests.accounts.cheap_argon2 import cheap_argon2  # noqa: F401  (autouse)

runner = CliRunner()
PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SIYU_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_workspace_with_owner_users_and_keys() -> None:
    made = runner.invoke(
        app, ["workspace", "create", "品牌", "--json", "--owner-email", "boss@brand.cn"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    ws = json.loads(made.stdout.strip().splitlines()[-1])["workspace_id"]
    added = runner.invoke(
        app, ["users", "create", "--email", "ana@brand.cn", "--role", "analyst",
              "--password", PASSWORD, "--workspace", ws, "--json"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["role"] == "analyst"
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert [(m["email"], m["role"]) for m in json.loads(listed.stdout)] == [
        ("ana@brand.cn", "analyst"),
        ("boss@brand.cn", "owner"),
    ]
    bad_role = runner.invoke(
        app, ["users", "create", "--email", "x@brand.cn", "--role", "god", "--password", PASSWORD]
    )
    assert bad_role.exit_code == 2

    rt = open_runtime()
    with rt.sessions() as session:
        grant = sessions.log_in(
            session=session, email="boss@brand.cn", password=PASSWORD, now=utcnow()
        )
    assert grant.role == "owner"

    created = runner.invoke(
        app, ["keys", "create", "--name", "BI", "--scope", "segments:read", "--json"]
    )
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    secret, key_id = body["key"], body["api_key"]["id"]
    assert body["api_key"]["scopes"] == ["segments:read"]
    assert secret not in runner.invoke(app, ["keys", "list"]).stdout
    rotated = json.loads(runner.invoke(app, ["keys", "rotate", key_id, "--json"]).stdout)["key"]
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["keys", "list"]).stdout
    with rt.sessions() as session:
        for gone in (secret, rotated):
            with pytest.raises(AuthError):
                keys.authenticate_secret_key(session=session, secret_key=gone)
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 5
    unknown_scope = runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "all"])
    assert unknown_scope.exit_code == 2
    rt.close()


def test_permissions_prints_the_table() -> None:
    assert runner.invoke(app, ["users", "permissions"]).stdout == markdown_table()


def test_reset_password_issues_a_one_time_token() -> None:
    made = runner.invoke(
        app, ["workspace", "create", "品牌", "--json", "--owner-email", "boss@brand.cn"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    ws = json.loads(made.stdout.strip().splitlines()[-1])["workspace_id"]
    missing = runner.invoke(app, ["users", "reset-password", "--email", "who@brand.cn"])
    assert missing.exit_code == 4 and "who@brand.cn" in missing.stderr
    issued = runner.invoke(app, ["users", "reset-password", "--email", "Boss@brand.cn", "--json"])
    assert issued.exit_code == 0, issued.output
    token = json.loads(issued.stdout)["token"]
    rt = open_runtime()
    try:
        with rt.sessions() as session, session.begin():
            resets.reset_password(
                session=session, token=token, new_password="new password 2026", now=utcnow()
            )
        with rt.sessions() as session:
            grant = sessions.log_in(
                session=session, email="boss@brand.cn", password="new password 2026", now=utcnow()
            )
            assert grant.workspace_id == ws
            audit = privacy.list_audit(session=session, workspace_id=ws, limit=10)
        actions = [e.action for e in audit.entries]
        assert actions == ["password_reset", "password_reset_issued", "member_added"]
        assert audit.entries[1].actor.startswith("cli:")
        assert audit.entries[2].detail == {"role": "owner"}  # the first owner, by the CLI
    finally:
        rt.close()


def test_users_create_role_remove_are_audited_and_the_log_filters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USER", "ops")
    made = runner.invoke(
        app, ["workspace", "create", "品牌", "--json", "--owner-email", "boss@brand.cn"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    ws = json.loads(made.stdout.strip().splitlines()[-1])["workspace_id"]
    added = runner.invoke(
        app, ["users", "create", "--email", "ana@brand.cn", "--role", "analyst",
              "--password", PASSWORD, "--json"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    user_id = json.loads(added.stdout)["user_id"]
    role = runner.invoke(app, ["users", "role", "--email", "ana@brand.cn", "--role", "operator"])
    assert role.exit_code == 0, role.output
    assert f"{user_id}  ana@brand.cn  operator  in {ws}" == role.stdout.strip()
    last_owner = runner.invoke(
        app, ["users", "role", "--email", "boss@brand.cn", "--role", "admin"]
    )
    assert last_owner.exit_code == 5 and "owner" in last_owner.stderr
    missing = runner.invoke(app, ["users", "remove", "--email", "who@brand.cn"])
    assert missing.exit_code == 4 and "who@brand.cn" in missing.stderr
    removed = runner.invoke(app, ["users", "remove", "--email", "ana@brand.cn"])
    assert removed.exit_code == 0 and removed.stdout.strip() == f"removed ana@brand.cn from {ws}"
    listed = runner.invoke(app, ["users", "list", "--json"])
    assert [m["email"] for m in json.loads(listed.stdout)] == ["boss@brand.cn"]

    log = runner.invoke(app, ["audit", "list", "--json"])
    assert log.exit_code == 0, log.output
    entries = json.loads(log.stdout)["entries"]
    assert [(e["action"], e["actor"], e["subject"], e["detail"]) for e in entries] == [
        ("member_removed", "cli:ops", f"user:{user_id}", {"role": "operator"}),
        ("role_changed", "cli:ops", f"user:{user_id}", {"from": "analyst", "role": "operator"}),
        ("member_added", "cli:ops", f"user:{user_id}", {"role": "analyst"}),
        ("member_added", "cli:ops", entries[-1]["subject"], {"role": "owner"}),
    ]
    only = runner.invoke(app, ["privacy", "audit", "--action", "role_changed", "--json"])
    assert [e["action"] for e in json.loads(only.stdout)["entries"]] == ["role_changed"]
    lines = runner.invoke(app, ["audit", "list", "--action", "member_added"]).stdout.splitlines()
    assert len(lines) == 2 and "member_added" in lines[0] and f"user:{user_id}" in lines[0]
    # Dates are days in the workspace's zone (Asia/Shanghai), as GET /api/audit reads them.
    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    tomorrow, yesterday = str(today + timedelta(days=1)), str(today - timedelta(days=1))
    later = runner.invoke(app, ["audit", "list", "--since", tomorrow, "--json"])
    assert json.loads(later.stdout)["entries"] == []
    hour_ago = (utcnow() - timedelta(hours=1)).isoformat()
    recent = runner.invoke(app, ["audit", "list", "--since", hour_ago, "--json"])
    assert len(json.loads(recent.stdout)["entries"]) == 4
    naive = runner.invoke(app, ["audit", "list", "--since", "2026-11-29T08:00:00"])
    assert naive.exit_code == 2 and "(since)" in naive.stderr
    window = ["audit", "list", "--since", yesterday, "--until", tomorrow, "--json"]
    assert len(json.loads(runner.invoke(app, window).stdout)["entries"]) == 4
    before = runner.invoke(app, ["audit", "list", "--until", yesterday, "--json"])
    assert json.loads(before.stdout)["entries"] == []
    backwards = runner.invoke(app, ["audit", "list", "--since", tomorrow, "--until", yesterday])
    assert backwards.exit_code == 2 and "(until)" in backwards.stderr
    unknown = runner.invoke(app, ["audit", "list", "--action", "deleted"])
    assert unknown.exit_code == 2 and "(action)" in unknown.stderr
