"""Sign-in with throttling, opaque session tokens (stored hashed), sign-out, and callers."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from siyu.accounts import passwords, throttle
from siyu.accounts.models import Principal, SessionGrant
from siyu.accounts.permissions import ROLE_PERMISSIONS, Role
from siyu.accounts.service import clean_email
from siyu.accounts.tables import login_throttle, user_sessions, users, workspace_members
from siyu.core.errors import AuthError, InvalidInputError, LockedOutError
from siyu.core.ids import new_secret
from siyu.workspaces import service as workspaces

SESSION_TTL = timedelta(hours=12)
SESSION_PREFIX = "ss_"
# An office signs in from one NAT address, so an address may fail more often than one user.
IP_FREE_FAILURES = 20


def token_hash(token: str) -> str:
    """The stored form of a session token or API key (random, so SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _subjects(email: str, ip: str | None) -> dict[str, int]:
    # subject → failures allowed before the exponential lockout starts
    subjects = {f"user:{email}": 0}
    if ip:
        subjects[f"ip:{ip}"] = IP_FREE_FAILURES - throttle.FREE_FAILURES
    return subjects


def _check_locks(
    session: Session, subjects: dict[str, int], now: datetime, field: str = "email"
) -> None:
    rows = session.execute(
        select(login_throttle.c.locked_until).where(login_throttle.c.subject.in_(subjects))
    ).all()
    wait = max((throttle.seconds_left(r.locked_until, now) for r in rows), default=0)
    if wait:
        raise LockedOutError(
            f"too many wrong passwords; try again in {wait} s", field=field, retry_after=wait
        )


def _record_failure(session: Session, subject: str, allowance: int, now: datetime) -> None:
    row = session.execute(
        select(login_throttle.c.failures).where(login_throttle.c.subject == subject)
    ).first()
    failures = (row.failures if row else 0) + 1
    lockout = throttle.lockout_after(max(0, failures - allowance))
    values = {"failures": failures, "locked_until": now + lockout if lockout else None}
    if row is None:
        session.execute(insert(login_throttle).values(subject=subject, updated_at=now, **values))
    else:
        session.execute(
            update(login_throttle)
            .where(login_throttle.c.subject == subject)
            .values(updated_at=now, **values)
        )


def check_password_lock(*, session: Session, email: str, now: datetime, field: str) -> None:
    """LockedOutError (naming ``field``) while wrong passwords lock the email's sign-in."""
    _check_locks(session, _subjects(email, None), now, field)


def record_wrong_password(*, session: Session, email: str, now: datetime) -> None:
    """Count a wrong password for the email as a failed sign-in does (the caller commits)."""
    _record_failure(session, f"user:{email}", 0, now)


def _membership_role(session: Session, user_id: str, workspace_id: str | None) -> tuple[str, Role]:
    rows = session.execute(
        select(workspace_members.c.workspace_id, workspace_members.c.role).where(
            workspace_members.c.user_id == user_id
        )
    ).all()
    roles = {r.workspace_id: Role(r.role) for r in rows}
    if workspace_id is None and len(roles) == 1:
        workspace_id = next(iter(roles))
    if workspace_id is None:
        raise InvalidInputError(
            "name the workspace to sign in to", field="workspace_id", workspaces=sorted(roles)
        )
    if workspace_id not in roles:
        raise AuthError("wrong email, password or workspace", field="email")
    return workspace_id, roles[workspace_id]


def log_in(
    *,
    session: Session,
    email: str,
    password: str,
    now: datetime,
    workspace_id: str | None = None,
    ip: str | None = None,
    ttl: timedelta = SESSION_TTL,
) -> SessionGrant:
    """Check a password and open a session in one workspace.

    Five wrong passwords for an email (twenty from one address) lock further attempts for
    30 s, doubling with every further failure up to an hour (LockedOutError, 429). A failure
    is committed before AuthError is raised, so the count survives the caller's rollback.

    Args:
        session: an open session; the caller commits a success.
        email: the user's email.
        password: the password to check.
        now: time of the attempt (aware UTC).
        workspace_id: the workspace to open; may be left out when the user has only one.
        ip: the client's address, throttled too.
        ttl: how long the session lasts.
    """
    email = clean_email(email)
    subjects = _subjects(email, ip)
    _check_locks(session, subjects, now)
    row = session.execute(
        select(users.c.id, users.c.password_hash).where(users.c.email == email)
    ).first()
    if not passwords.verify_password(row.password_hash if row else None, password) or not row:
        for subject, allowance in subjects.items():
            _record_failure(session, subject, allowance, now)
        session.commit()
        raise AuthError("wrong email, password or workspace", field="email")
    session.execute(delete(login_throttle).where(login_throttle.c.subject == f"user:{email}"))
    workspace_id, role = _membership_role(session, row.id, workspace_id)
    token = new_secret(SESSION_PREFIX.rstrip("_"))
    grant = SessionGrant(
        token=token, expires_at=now + ttl, user_id=row.id, workspace_id=workspace_id, role=role
    )
    session.execute(
        insert(user_sessions).values(
            token_hash=token_hash(token),
            user_id=row.id,
            workspace_id=workspace_id,
            created_at=now,
            expires_at=grant.expires_at,
        )
    )
    return grant


def log_out(*, session: Session, token: str, now: datetime) -> None:
    """End a session; the token stops working at once (idempotent)."""
    session.execute(
        update(user_sessions)
        .where(user_sessions.c.token_hash == token_hash(token))
        .where(user_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def authenticate_session(*, session: Session, token: str, now: datetime) -> Principal:
    """The caller behind a session token: its user, workspace and role, checked now.

    AuthError when the token is unknown, expired or signed out, or the user has since left
    the workspace.
    """
    row = session.execute(
        select(user_sessions.c.user_id, user_sessions.c.workspace_id, workspace_members.c.role)
        .join(
            workspace_members,
            (workspace_members.c.user_id == user_sessions.c.user_id)
            & (workspace_members.c.workspace_id == user_sessions.c.workspace_id),
        )
        .where(user_sessions.c.token_hash == token_hash(token))
        .where(user_sessions.c.revoked_at.is_(None))
        .where(user_sessions.c.expires_at > now)
    ).first()
    if row is None:
        raise AuthError("unknown, expired or signed-out session", field="authorization")
    role = Role(row.role)
    return Principal(
        workspace=workspaces.get_workspace(session=session, workspace_id=row.workspace_id),
        kind="session",
        user_id=row.user_id,
        role=role,
        permissions=ROLE_PERMISSIONS[role],
    )
