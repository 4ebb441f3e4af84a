from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from siyu.accounts import keys, sessions
from siyu.accounts import service as accounts
from siyu.accounts.models import KeyKind
from siyu.accounts.permissions import ROLE_PERMISSIONS, Role
from siyu.accounts.tables import api_keys, user_sessions, users
from siyu.core.db import transaction
from siyu.core.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    LockedOutError,
)
from siyu.workspaces import service as workspaces
from tests.accounts.cheap_argon2 import cheap_argon2  # noqa: F401  (autouse)

PASSWORD = "correct horse battery"


def _workspace_with_owner(db: sessionmaker[Session], now: datetime) -> tuple[str, str]:
    with transaction(db) as session:
        ws = workspaces.create_workspace(session=session, name="品牌", now=now)
        user = accounts.create_user(
            session=session, email="Boss@Brand.cn", password=PASSWORD, now=now
        )
        accounts.add_member(
            session=session, workspace_id=ws.workspace_id, user_id=user.id, role=Role.owner, now=now
        )
    return ws.workspace_id, user.id


def _log_in(db: sessionmaker[Session], now: datetime, password: str = PASSWORD, **kw: object):  # type: ignore[no-untyped-def]
    with db() as session:
        grant = sessions.log_in(
            session=session,
            email="boss@brand.cn",
            password=password,
            now=now,
            **kw,  # type: ignore[arg-type]
        )
        session.commit()
        return grant


def test_password_is_stored_as_argon2id_and_checked(
    db: sessionmaker[Session], now: datetime
) -> None:
    workspace_id, user_id = _workspace_with_owner(db, now)
    with transaction(db) as session:
        stored = session.execute(select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    grant = _log_in(db, now)
    assert (grant.workspace_id, grant.user_id, grant.role) == (workspace_id, user_id, Role.owner)
    with transaction(db) as session:
        # Only the token's hash is kept.
        kept = session.execute(select(user_sessions.c.token_hash)).scalar_one()
        principal = sessions.authenticate_session(session=session, token=grant.token, now=now)
    assert grant.token not in kept
    assert principal.permissions == ROLE_PERMISSIONS[Role.owner]


def test_wrong_password_and_unknown_email_are_refused_alike(
    db: sessionmaker[Session], now: datetime
) -> None:
    _workspace_with_owner(db, now)
    with pytest.raises(AuthError) as wrong:
        _log_in(db, now, password="not the password")
    with db() as session, pytest.raises(AuthError) as unknown:
        sessions.log_in(session=session, email="nobody@brand.cn", password=PASSWORD, now=now)
    assert wrong.value.message == unknown.value.message


def test_five_failures_lock_the_user_exponentially_then_success_resets(
    db: sessionmaker[Session], now: datetime
) -> None:
    _workspace_with_owner(db, now)
    for _ in range(4):
        with pytest.raises(AuthError) as refused:
            _log_in(db, now, password="wrong password!")
        assert not isinstance(refused.value, LockedOutError)
    with pytest.raises(AuthError):
        _log_in(db, now, password="wrong password!")  # the fifth: locks 30 s
    with pytest.raises(LockedOutError) as locked:
        _log_in(db, now + timedelta(seconds=10))  # even the right password waits
    assert locked.value.details["retry_after"] == 20
    with pytest.raises(AuthError):
        _log_in(db, now + timedelta(seconds=31), password="wrong password!")  # sixth: 60 s
    with pytest.raises(LockedOutError) as locked:
        _log_in(db, now + timedelta(seconds=60))
    assert locked.value.details["retry_after"] == 31
    assert _log_in(db, now + timedelta(seconds=92)).role == Role.owner
    with pytest.raises(AuthError) as again:  # the count started over
        _log_in(db, now + timedelta(seconds=93), password="wrong password!")
    assert not isinstance(again.value, LockedOutError)


def test_one_address_is_locked_after_twenty_failures_across_emails(
    db: sessionmaker[Session], now: datetime
) -> None:
    _workspace_with_owner(db, now)
    for n in range(sessions.IP_FREE_FAILURES):
        with db() as session, pytest.raises(AuthError):
            sessions.log_in(
                session=session,
                email=f"guess{n}@brand.cn",
                password="x" * 12,
                ip="10.0.0.9",
                now=now,
            )
    with pytest.raises(LockedOutError):
        _log_in(db, now, ip="10.0.0.9")
    assert _log_in(db, now, ip="10.0.0.10").role == Role.owner


def test_session_expires_and_logout_ends_it(db: sessionmaker[Session], now: datetime) -> None:
    _workspace_with_owner(db, now)
    short = _log_in(db, now, ttl=timedelta(minutes=5))
    with transaction(db) as session:
        sessions.authenticate_session(
            session=session, token=short.token, now=now + timedelta(minutes=4)
        )
        with pytest.raises(AuthError):
            sessions.authenticate_session(
                session=session, token=short.token, now=now + timedelta(minutes=5)
            )
    other = _log_in(db, now)
    with transaction(db) as session:
        sessions.log_out(session=session, token=other.token, now=now)
    with transaction(db) as session, pytest.raises(AuthError):
        sessions.authenticate_session(session=session, token=other.token, now=now)


def test_removed_member_loses_the_session_and_role_changes_apply_at_once(
    db: sessionmaker[Session], now: datetime
) -> None:
    workspace_id, _ = _workspace_with_owner(db, now)
    with transaction(db) as session:
        user = accounts.create_user(
            session=session, email="op@brand.cn", password=PASSWORD, now=now
        )
        accounts.add_member(
            session=session, workspace_id=workspace_id, user_id=user.id, role=Role.admin, now=now
        )
    with db() as session:
        grant = sessions.log_in(session=session, email="op@brand.cn", password=PASSWORD, now=now)
        session.commit()
    with transaction(db) as session:
        accounts.set_role(
            session=session, workspace_id=workspace_id, user_id=user.id, role=Role.read_only
        )
    with transaction(db) as session:
        principal = sessions.authenticate_session(session=session, token=grant.token, now=now)
    assert not principal.may("segments:write")
    assert principal.may("segments:read")
    with transaction(db) as session:
        accounts.remove_member(session=session, workspace_id=workspace_id, user_id=user.id)
    with transaction(db) as session, pytest.raises(AuthError):
        sessions.authenticate_session(session=session, token=grant.token, now=now)


def test_owner_rules(db: sessionmaker[Session], now: datetime) -> None:
    workspace_id, owner_id = _workspace_with_owner(db, now)
    with transaction(db) as session:
        admin = accounts.create_user(
            session=session, email="a@brand.cn", password=PASSWORD, now=now
        )
        accounts.add_member(
            session=session, workspace_id=workspace_id, user_id=admin.id, role=Role.admin, now=now
        )
    with transaction(db) as session, pytest.raises(ForbiddenError):
        accounts.set_role(
            session=session,
            workspace_id=workspace_id,
            user_id=admin.id,
            role=Role.owner,
            by_role=Role.admin,
        )
    with transaction(db) as session, pytest.raises(ForbiddenError):
        accounts.remove_member(
            session=session, workspace_id=workspace_id, user_id=owner_id, by_role=Role.admin
        )
    with transaction(db) as session, pytest.raises(ConflictError):
        accounts.set_role(
            session=session, workspace_id=workspace_id, user_id=owner_id, role=Role.admin
        )
    with transaction(db) as session, pytest.raises(ConflictError):
        accounts.create_user(session=session, email="BOSS@brand.cn", password=PASSWORD, now=now)
    with transaction(db) as session, pytest.raises(InvalidInputError):
        accounts.create_user(session=session, email="short@brand.cn", password="short", now=now)


def test_keys_are_hashed_scoped_rotated_and_revoked(
    db: sessionmaker[Session], now: datetime
) -> None:
    workspace_id, _ = _workspace_with_owner(db, now)
    with transaction(db) as session:
        made = keys.create_key(
            session=session,
            workspace_id=workspace_id,
            kind=KeyKind.secret,
            name="BI export",
            scopes=["segments:read", "analytics:read"],
            now=now,
        )
        writer = keys.create_key(
            session=session, workspace_id=workspace_id, kind=KeyKind.write, name="web", now=now
        )
    with transaction(db) as session:
        stored = session.execute(select(api_keys.c.key_hash)).scalars().all()
        principal = keys.authenticate_secret_key(session=session, secret_key=made.key)
        assert keys.authenticate_write_key(session=session, write_key=writer.key).id == workspace_id
        with pytest.raises(AuthError):  # a write key is no secret key
            keys.authenticate_secret_key(session=session, secret_key=writer.key)
    assert made.key not in stored and writer.key not in stored
    assert principal.permissions == {"segments:read", "analytics:read"}
    with transaction(db) as session:
        rotated = keys.rotate_key(
            session=session, workspace_id=workspace_id, key_id=made.api_key.id, now=now
        )
    with transaction(db) as session:
        with pytest.raises(AuthError):
            keys.authenticate_secret_key(session=session, secret_key=made.key)
        assert (
            keys.authenticate_secret_key(session=session, secret_key=rotated.key).key_id
            == made.api_key.id
        )
    with transaction(db) as session:
        keys.revoke_key(session=session, workspace_id=workspace_id, key_id=made.api_key.id, now=now)
    with transaction(db) as session:
        with pytest.raises(AuthError):
            keys.authenticate_secret_key(session=session, secret_key=rotated.key)
        with pytest.raises(ConflictError):
            keys.rotate_key(
                session=session, workspace_id=workspace_id, key_id=made.api_key.id, now=now
            )
        listed = keys.list_keys(session=session, workspace_id=workspace_id)
    revoked = {k.name: k.revoked_at is not None for k in listed}
    assert revoked == {"BI export": True, "web": False, keys.WORKSPACE_KEY_NAME: False}


def test_bad_scopes_are_refused(db: sessionmaker[Session], now: datetime) -> None:
    workspace_id, _ = _workspace_with_owner(db, now)
    with transaction(db) as session, pytest.raises(InvalidInputError) as bad:
        keys.create_key(
            session=session,
            workspace_id=workspace_id,
            kind=KeyKind.secret,
            name="x",
            scopes=["segments:read", "everything"],
            now=now,
        )
    assert bad.value.field == "scopes"
    with transaction(db) as session, pytest.raises(InvalidInputError):
        keys.create_key(
            session=session,
            workspace_id=workspace_id,
            kind=KeyKind.write,
            name="x",
            scopes=["segments:read"],
            now=now,
        )


def test_the_workspace_secret_key_acts_as_owner(db: sessionmaker[Session], now: datetime) -> None:
    with transaction(db) as session:
        ws = workspaces.create_workspace(session=session, name="老品牌", now=now)
    with transaction(db) as session:
        principal = keys.authenticate_secret_key(session=session, secret_key=ws.secret_key)
        assert (
            keys.authenticate_write_key(session=session, write_key=ws.write_key).id
            == ws.workspace_id
        )
    assert principal.kind == "workspace_key"
    assert principal.permissions == ROLE_PERMISSIONS[Role.owner]


def test_the_workspace_secret_key_is_listed_rotated_and_revoked_like_any_key(
    db: sessionmaker[Session], now: datetime
) -> None:
    with transaction(db) as session:
        ws = workspaces.create_workspace(session=session, name="老品牌", now=now)
    with transaction(db) as session:
        (first,) = keys.list_keys(session=session, workspace_id=ws.workspace_id)
        assert (first.name, first.kind, first.revoked_at) == (
            keys.WORKSPACE_KEY_NAME,
            "secret",
            None,
        )
        assert (
            keys.authenticate_secret_key(session=session, secret_key=ws.secret_key).key_id
            == first.id
        )
    with transaction(db) as session:
        rotated = keys.rotate_key(
            session=session, workspace_id=ws.workspace_id, key_id=first.id, now=now
        )
    with transaction(db) as session:
        for authenticate in (keys.authenticate_secret_key, workspaces.authenticate_secret_key):
            with pytest.raises(AuthError):
                authenticate(session=session, secret_key=ws.secret_key)
        # The console's sign-in (workspaces) follows the rotation too.
        assert (
            workspaces.authenticate_secret_key(session=session, secret_key=rotated.key).id
            == ws.workspace_id
        )
        principal = keys.authenticate_secret_key(session=session, secret_key=rotated.key)
        assert principal.permissions == ROLE_PERMISSIONS[Role.owner]
    with transaction(db) as session:
        keys.revoke_key(session=session, workspace_id=ws.workspace_id, key_id=first.id, now=now)
    with transaction(db) as session:
        for authenticate in (keys.authenticate_secret_key, workspaces.authenticate_secret_key):
            with pytest.raises(AuthError):
                authenticate(session=session, secret_key=rotated.key)
