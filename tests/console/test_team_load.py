"""The team & privacy page's calls (siyu.console.pages.team_load) on SQLite and PostgreSQL, and
its builders: members added, re-roled, reset and removed as the signed-in operator (audited,
the owner rules held by the domain), the audit log filtered by action and by days in the
workspace's zone and paged, a person found, exported and erased with a receipt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from siyu import pipeline
from siyu.accounts import service as accounts
from siyu.accounts import sessions
from siyu.accounts.permissions import Role
from siyu.console.pages import team_load as load
from siyu.console.views import team as views
from siyu.core.config import Settings
from siyu.core.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from siyu.core.runtime import Runtime, open_runtime
from siyu.pipeline import privacy as privacy_requests
from siyu.privacy import service as privacy
from siyu.privacy.models import AuditEntry
from siyu.workspaces import service as workspaces
from tests.accounts.cheap_argon2 import cheap_argon2  # noqa: F401  (autouse)

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
OWNER = "boss@brand.cn"
PASSWORD = "correct horse battery"
PHONE = "13800138001"
ZONE = "Asia/Shanghai"


@pytest.fixture
def runtime(db_engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    url = db_engine.url.render_as_string(hide_password=False)
    rt = open_runtime(Settings(data_dir=tmp_path, database_url=url), run_migrations=False)
    yield rt
    rt.close()


def _workspace(rt: Runtime) -> tuple[str, load.Operator]:
    """A workspace and its owner (added by the server's CLI: not audited)."""
    with rt.sessions() as session, session.begin():
        ws = workspaces.create_workspace(session=session, name="品牌", now=NOW).workspace_id
        user = accounts.create_user(session=session, email=OWNER, password=PASSWORD, now=NOW)
        accounts.add_member(
            session=session, workspace_id=ws, user_id=user.id, role=Role.owner, now=NOW
        )
    return ws, load.Operator(user_id=user.id, role=Role.owner)


def _signs_in(rt: Runtime, email: str, password: str, ws: str) -> bool:
    with rt.sessions() as session:
        try:
            sessions.log_in(
                session=session, email=email, password=password, workspace_id=ws, now=NOW
            )
        except AuthError:
            return False
        session.commit()
    return True


def test_members_are_added_reroled_reset_and_removed_with_an_audit_trail(
    runtime: Runtime,
) -> None:
    ws, owner = _workspace(runtime)
    added = load.add_user(
        runtime=runtime, workspace_id=ws, email=" Ana@Brand.cn ", role=Role.analyst, by=owner,
        now=NOW, name="安娜",
    )  # fmt: skip
    assert (added.member.email, added.member.role, added.member.name) == (
        "ana@brand.cn",
        Role.analyst,
        "安娜",
    )
    assert added.password is not None and len(added.password) >= 10
    assert _signs_in(runtime, "ana@brand.cn", added.password, ws)  # the password shown works
    ana = added.member.user_id

    # An account that exists (here: in another workspace) keeps its password: none shown.
    with runtime.sessions() as session, session.begin():
        other = workspaces.create_workspace(session=session, name="二号店", now=NOW)
        accounts.create_user(session=session, email="zhao@brand.cn", password=PASSWORD, now=NOW)
    again = load.add_user(
        runtime=runtime, workspace_id=ws, email="zhao@brand.cn", role=Role.operator, by=owner,
        now=NOW,
    )  # fmt: skip
    assert again.password is None and _signs_in(runtime, "zhao@brand.cn", PASSWORD, ws)
    assert other.workspace_id != ws

    later = NOW + timedelta(minutes=1)
    moved = load.set_role(
        runtime=runtime, workspace_id=ws, user_id=ana, role=Role.read_only, by=owner, now=later
    )
    assert moved.role is Role.read_only
    issued = load.issue_reset(runtime=runtime, workspace_id=ws, user_id=ana, by=owner, now=later)
    assert issued.expires_at == later + timedelta(hours=24)
    load.reset_password(
        runtime=runtime, token=issued.token, new_password="ana's own pw 1", now=later
    )
    assert _signs_in(runtime, "ana@brand.cn", "ana's own pw 1", ws)
    with pytest.raises(AuthError):  # once only
        load.reset_password(runtime=runtime, token=issued.token, new_password="x" * 12, now=later)
    assert load.remove_user(runtime=runtime, workspace_id=ws, user_id=ana, by=owner, now=later)
    listed = load.members(runtime=runtime, workspace_id=ws)
    assert [(m.email, m.role) for m in listed] == [
        (OWNER, Role.owner),
        ("zhao@brand.cn", Role.operator),
    ]

    page = load.audit(runtime=runtime, workspace_id=ws)
    actions = [(e.action, e.subject) for e in page.entries]
    assert actions == [
        ("member_removed", f"user:{ana}"),
        ("password_reset", f"user:{ana}"),
        ("password_reset_issued", f"user:{ana}"),
        ("role_changed", f"user:{ana}"),
        ("member_added", f"user:{again.member.user_id}"),
        ("member_added", f"user:{ana}"),
    ]
    assert page.entries[3].detail == {"from": "analyst", "role": "read_only"}
    assert {e.actor for e in page.entries} - {f"user:{ana}"} == {owner.actor}
    # A removed user is still named by their email.
    assert page.emails == {owner.user_id: OWNER, ana: "ana@brand.cn",
                           again.member.user_id: "zhao@brand.cn"}  # fmt: skip
    rows = views.audit_rows(page.entries, page.emails, "zh", ZONE)
    assert (rows[0]["actor"], rows[0]["action"], rows[0]["subject"]) == (
        OWNER,
        "移出成员",
        "ana@brand.cn",
    )
    assert rows[0]["at"] == "2026-11-28 12:01"  # Shanghai time


def test_the_last_owner_stays_and_only_an_owner_makes_owners(runtime: Runtime) -> None:
    ws, owner = _workspace(runtime)
    for step in (
        lambda: load.remove_user(
            runtime=runtime, workspace_id=ws, user_id=owner.user_id, by=owner, now=NOW
        ),
        lambda: load.set_role(
            runtime=runtime, workspace_id=ws, user_id=owner.user_id, role=Role.admin, by=owner,
            now=NOW,
        ),
    ):  # fmt: skip
        with pytest.raises(ConflictError):
            step()
    admin = load.add_user(
        runtime=runtime, workspace_id=ws, email="a@brand.cn", role=Role.admin, by=owner, now=NOW
    ).member
    as_admin = load.Operator(user_id=admin.user_id, role=Role.admin)
    with pytest.raises(ForbiddenError):
        load.set_role(runtime=runtime, workspace_id=ws, user_id=admin.user_id, role=Role.owner,
                      by=as_admin, now=NOW)  # fmt: skip
    with pytest.raises(ForbiddenError):
        load.remove_user(runtime=runtime, workspace_id=ws, user_id=owner.user_id, by=as_admin,
                         now=NOW)  # fmt: skip
    with pytest.raises(ForbiddenError):
        load.issue_reset(runtime=runtime, workspace_id=ws, user_id=owner.user_id, by=as_admin,
                         now=NOW)  # fmt: skip
    with pytest.raises(ConflictError):
        load.add_user(runtime=runtime, workspace_id=ws, email="A@brand.cn", role=Role.analyst,
                      by=owner, now=NOW)  # fmt: skip
    with pytest.raises(InvalidInputError):
        load.add_user(runtime=runtime, workspace_id=ws, email="nobody", role=Role.analyst,
                      by=owner, now=NOW)  # fmt: skip
    # With a second owner, the first may step down; the refusals wrote nothing to the log.
    load.set_role(runtime=runtime, workspace_id=ws, user_id=admin.user_id, role=Role.owner,
                  by=owner, now=NOW)  # fmt: skip
    load.set_role(runtime=runtime, workspace_id=ws, user_id=owner.user_id, role=Role.admin,
                  by=owner, now=NOW)  # fmt: skip
    actions = [e.action for e in load.audit(runtime=runtime, workspace_id=ws).entries]
    assert actions == ["role_changed", "role_changed", "member_added"]


def _entries(rt: Runtime, ws: str, times: list[datetime]) -> None:
    with rt.sessions() as session, session.begin():
        for n, at in enumerate(times):
            privacy.record_access(
                session=session, workspace_id=ws, actor="cli:ops", now=at,
                action="export" if n % 2 else "unmasked_view", person_id=f"p_{n}",
            )  # fmt: skip


def test_the_audit_log_filters_by_action_and_local_days_and_pages(runtime: Runtime) -> None:
    ws, _ = _workspace(runtime)
    # 15:59 and 16:00 UTC straddle midnight in Shanghai (UTC+8): 11-28 23:59 and 11-29 00:00.
    edge = [datetime(2026, 11, 28, 15, 59, tzinfo=UTC), datetime(2026, 11, 28, 16, 0, tzinfo=UTC)]
    _entries(runtime, ws, [NOW - timedelta(days=3, minutes=n) for n in range(23)] + edge)

    since, until = views.day_bounds("2026-11-29", "2026-11-29", ZONE)
    assert (since, until) == (edge[1], edge[1] + timedelta(days=1))
    day = load.audit(runtime=runtime, workspace_id=ws, since=since, until=until)
    assert [e.subject for e in day.entries] == ["p_24"]
    since, until = views.day_bounds("", "2026-11-28", ZONE)
    assert since is None
    before = load.audit(runtime=runtime, workspace_id=ws, until=until).entries
    assert [e.subject for e in before[:2]] == ["p_23", "p_22"]

    exports = load.audit(runtime=runtime, workspace_id=ws, action="export")
    assert {e.action for e in exports.entries} == {"export"} and len(exports.entries) == 12

    first = load.audit(runtime=runtime, workspace_id=ws)
    assert len(first.entries) == load.AUDIT_PAGE and first.next_before_id is not None
    second = load.audit(runtime=runtime, workspace_id=ws, before_id=first.next_before_id)
    seen = [e.id for e in first.entries + second.entries]
    assert len(seen) == 25 == len(set(seen)) and seen == sorted(seen, reverse=True)
    assert second.next_before_id is None


def test_bad_filter_dates_name_the_field() -> None:
    with pytest.raises(InvalidInputError) as bad:
        views.day_bounds("2026-13-01", None, ZONE)
    assert bad.value.field == "since"
    with pytest.raises(InvalidInputError) as reversed_range:
        views.day_bounds("2026-11-29", "2026-11-28", ZONE)
    assert reversed_range.value.field == "until"
    assert views.day_bounds(None, " ", ZONE) == (None, None)


def test_views_name_users_by_email_and_never_render_markup() -> None:
    entry = AuditEntry(id=1, actor="key:k_1", action="erase", subject="<b>x</b>", at=NOW,
                       detail={"b": 2, "a": "<i>"})  # fmt: skip
    [row] = views.audit_rows([entry], {}, "en", "UTC")
    assert row == {
        "key": 1,
        "at": "2026-11-28 04:00",
        "actor": "key:k_1",
        "action": "Erased a person",
        "subject": "<b>x</b>",
        "detail": "a=<i>, b=2",
    }
    assert views.who("user:u_9", {"u_9": "x@y.cn"}) == "x@y.cn"
    assert views.who("user:u_gone", {}) == "user:u_gone"
    assert set(views.AUDIT_ACTIONS) >= {"member_added", "role_changed", "member_removed"}


def test_a_person_is_found_exported_and_erased_with_a_receipt(runtime: Runtime) -> None:
    ws, owner = _workspace(runtime)
    pipeline.ingest(
        runtime=runtime, workspace_id=ws, received_at=NOW,
        messages=[{"type": "track", "event": "Signed Up", "messageId": "m-1", "userId": "u-li",
                   "timestamp": NOW.isoformat(), "context": {"traits": {"phone": PHONE}}}],
    )  # fmt: skip
    found = load.find_person(runtime=runtime, workspace_id=ws, kind="phone", value=PHONE)
    same = load.find_person(runtime=runtime, workspace_id=ws, kind="person_id",
                            value=found.person_id)  # fmt: skip
    assert same.person_id == found.person_id
    assert PHONE not in found.model_dump_json()  # masked until exported

    file = load.export_person(runtime=runtime, workspace_id=ws, person_id=found.person_id,
                              by=owner, now=NOW)  # fmt: skip
    doc = json.loads(file.content)
    assert file.filename == f"siyu-export-{found.person_id}.json"
    assert doc["person_id"] == found.person_id
    assert PHONE in {i["value"] for i in doc["identities"]}
    assert [e["message_id"] for e in doc["events"]] == ["m-1"]

    receipt = load.erase_person(runtime=runtime, workspace_id=ws, person_id=found.person_id,
                                by=owner, now=NOW, request_key="console-erase-1")  # fmt: skip
    assert not receipt.replayed and receipt.counts
    assert privacy_requests.verify_receipt(runtime=runtime, receipt=receipt)
    rows = views.receipt_rows(receipt)
    assert {r["table"]: r["rows"] for r in rows} == receipt.counts
    assert [r["rows"] for r in rows] == sorted((r["rows"] for r in rows), reverse=True)
    twice = load.erase_person(runtime=runtime, workspace_id=ws, person_id=found.person_id,
                              by=owner, now=NOW, request_key="console-erase-1")  # fmt: skip
    assert twice.replayed and twice.id == receipt.id
    with pytest.raises(NotFoundError):
        load.find_person(runtime=runtime, workspace_id=ws, kind="phone", value=PHONE)

    page = load.audit(runtime=runtime, workspace_id=ws)
    assert [(e.action, e.actor, e.subject) for e in page.entries] == [
        ("erase", owner.actor, receipt.subject_digest),
        ("export", owner.actor, receipt.subject_digest),  # the person id no longer appears
    ]
