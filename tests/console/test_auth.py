"""Console sign-in through siyu.accounts: wrong passwords, lockout, several workspaces, the
role read afresh, sign-out, changing one's own password; and the demo's owner user."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from siyu.accounts import service as accounts
from siyu.accounts.permissions import Role
from siyu.console import auth
from siyu.core.config import Settings
from siyu.core.errors import AuthError, InvalidInputError, LockedOutError
from siyu.core.runtime import Runtime, open_runtime
from siyu.demo import owner
from siyu.pipeline import privacy
from siyu.workspaces import service as workspaces

PASSWORD = "console-password"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = open_runtime(Settings(data_dir=tmp_path))
    yield runtime
    runtime.close()


def _workspace(rt: Runtime, name: str, now: datetime) -> str:
    with rt.sessions() as session, session.begin():
        return workspaces.create_workspace(session=session, name=name, now=now).workspace_id


def _member(rt: Runtime, ws: str, email: str, role: Role, now: datetime) -> str:
    with rt.sessions() as session, session.begin():
        user = accounts.find_user(session=session, email=email) or accounts.create_user(
            session=session, email=email, password=PASSWORD, now=now
        )
        accounts.add_member(session=session, workspace_id=ws, user_id=user.id, role=role, now=now)
        return user.id


def test_sign_in_checks_the_password_and_locks_after_five_failures(
    rt: Runtime, now: datetime
) -> None:
    ws = _workspace(rt, "山茶集", now)
    _member(rt, ws, "ana@example.com", Role.analyst, now)
    for attempt in range(5):
        with pytest.raises(AuthError) as refused:
            auth.sign_in(rt, email="ana@example.com", password=f"wrong-{attempt}", now=now)
        assert not isinstance(refused.value, LockedOutError)
    with pytest.raises(LockedOutError) as locked:
        auth.sign_in(rt, email="ana@example.com", password=PASSWORD, now=now)
    assert locked.value.details["retry_after"] == 30
    later = now + timedelta(seconds=31)
    signed = auth.sign_in(rt, email=" Ana@Example.com ", password=PASSWORD, now=later, ip="1.2.3.4")
    assert (signed.ref.id, signed.ref.role, signed.ref.email) == (
        ws,
        Role.analyst,
        "ana@example.com",
    )
    assert signed.ref.may("segments:write") and not signed.ref.may("persons:pii")
    assert signed.token.startswith("ss_")


def test_several_workspaces_ask_which_and_the_role_is_read_afresh(
    rt: Runtime, now: datetime
) -> None:
    first, second = _workspace(rt, "一号店", now), _workspace(rt, "二号店", now)
    user_id = _member(rt, first, "op@example.com", Role.operator, now)
    _member(rt, second, "op@example.com", Role.read_only, now)
    _member(rt, first, "boss@example.com", Role.owner, now)
    with pytest.raises(auth.ChooseWorkspace) as choose:
        auth.sign_in(rt, email="op@example.com", password=PASSWORD, now=now)
    assert {(c.id, c.name) for c in choose.value.choices} == {(first, "一号店"), (second, "二号店")}
    signed = auth.sign_in(
        rt, email="op@example.com", password=PASSWORD, now=now, workspace_id=second
    )
    assert signed.ref.role == Role.read_only
    signed = auth.sign_in(
        rt, email="op@example.com", password=PASSWORD, now=now, workspace_id=first
    )
    assert signed.ref.may("persons:pii")
    with rt.sessions() as session, session.begin():
        accounts.set_role(session=session, workspace_id=first, user_id=user_id, role=Role.analyst)
    checked = auth.check(rt, token=signed.token, email="op@example.com", now=now)
    assert checked.role == Role.analyst and not checked.may("persons:pii")
    assert auth.sign_out(rt, tokens=[signed.token], now=now) == 1
    with pytest.raises(AuthError):
        auth.check(rt, token=signed.token, email="op@example.com", now=now)
    with pytest.raises(AuthError):  # a session does not outlive its 12 hours
        fresh = auth.sign_in(rt, email="boss@example.com", password=PASSWORD, now=now)
        auth.check(rt, token=fresh.token, email="boss@example.com", now=now + timedelta(hours=13))


def test_the_demo_owner_is_made_once_and_its_password_never_kept(
    rt: Runtime, now: datetime
) -> None:
    ws = _workspace(rt, "山茶集 Demo", now)
    made = owner.ensure_owner(rt, workspace_id=ws, now=now)
    assert made is not None and len(made) >= 16
    signed = auth.sign_in(rt, email=owner.OWNER_EMAIL, password=made, now=now)
    assert signed.ref.role == Role.owner
    assert owner.ensure_owner(rt, workspace_id=ws, now=now) is None  # kept, not shown again
    assert owner.ensure_owner(rt, workspace_id=ws, now=now, password="a-new-password") == (
        "a-new-password"
    )
    with pytest.raises(AuthError):
        auth.sign_in(rt, email=owner.OWNER_EMAIL, password=made, now=now)
    assert (
        auth.sign_in(rt, email=owner.OWNER_EMAIL, password="a-new-password", now=now).ref.id == ws
    )


def test_changing_ones_password_keeps_this_session_and_ends_the_others(
    rt: Runtime, now: datetime
) -> None:
    ws = _workspace(rt, "山茶集", now)
    user_id = _member(rt, ws, "op@example.com", Role.operator, now)
    here = auth.sign_in(rt, email="op@example.com", password=PASSWORD, now=now).token
    elsewhere = auth.sign_in(rt, email="op@example.com", password=PASSWORD, now=now).token
    change = {"token": here, "now": now + timedelta(minutes=1)}
    with pytest.raises(AuthError) as wrong:
        auth.change_password(rt, current_password="not-it-at-all", new_password="n" * 12, **change)
    assert (wrong.value.field, wrong.value.message) == (
        "current_password",
        "the current password is wrong",
    )
    with pytest.raises(InvalidInputError) as short:
        auth.change_password(rt, current_password=PASSWORD, new_password="short", **change)
    assert short.value.field == "new_password"
    new = "a-new-long-password"
    assert auth.change_password(rt, current_password=PASSWORD, new_password=new, **change) == 1
    later = now + timedelta(minutes=2)
    assert auth.check(rt, token=here, email="op@example.com", now=later).user_id == user_id
    with pytest.raises(AuthError):
        auth.check(rt, token=elsewhere, email="op@example.com", now=later)
    with pytest.raises(AuthError):
        auth.sign_in(rt, email="op@example.com", password=PASSWORD, now=later)
    assert auth.sign_in(rt, email="op@example.com", password=new, now=later).ref.id == ws
    trail = privacy.list_audit(runtime=rt, workspace_id=ws, action="password_changed")
    assert [(e.subject, e.detail) for e in trail.entries] == [
        (f"user:{user_id}", {"sessions_ended": 1})
    ]
    with pytest.raises(AuthError):  # a session that ended cannot change the password
        auth.change_password(rt, token=elsewhere, current_password=new, new_password=PASSWORD,
                             now=later)  # fmt: skip


def test_wrong_current_passwords_are_throttled_like_sign_ins(rt: Runtime, now: datetime) -> None:
    ws = _workspace(rt, "山茶集", now)
    _member(rt, ws, "op@example.com", Role.operator, now)
    token = auth.sign_in(rt, email="op@example.com", password=PASSWORD, now=now).token
    new = "a-new-long-password"
    for attempt in range(5):
        with pytest.raises(AuthError) as wrong:
            auth.change_password(rt, token=token, current_password=f"wrong-{attempt}",
                                 new_password=new, now=now)  # fmt: skip
        assert not isinstance(wrong.value, LockedOutError)
    with pytest.raises(LockedOutError) as locked:  # even the right one, and signing in
        auth.change_password(rt, token=token, current_password=PASSWORD, new_password=new,
                             now=now)  # fmt: skip
    assert (locked.value.field, locked.value.details["retry_after"]) == ("current_password", 30)
    with pytest.raises(LockedOutError):
        auth.sign_in(rt, email="op@example.com", password=PASSWORD, now=now)
    later = now + timedelta(seconds=31)
    assert auth.change_password(rt, token=token, current_password=PASSWORD, new_password=new,
                                now=later) == 0  # fmt: skip
    assert auth.sign_in(rt, email="op@example.com", password=new, now=later).ref.id == ws
