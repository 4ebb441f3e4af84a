"""Password resets and changes: an owner or admin issues a one-time token (kept hashed,
expiring), the user sets a new password with it; a signed-in user changes their own with the
current one. Either ends the user's sessions, and both are written to the privacy audit log.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from siyu.accounts import passwords, sessions
from siyu.accounts.models import PasswordResetIssued
from siyu.accounts.permissions import Role
from siyu.accounts.service import get_member
from siyu.accounts.tables import login_throttle, password_resets, user_sessions, users
from siyu.core.errors import AuthError, ForbiddenError, InvalidInputError
from siyu.core.ids import new_secret
from siyu.privacy import service as audit

RESET_TTL = timedelta(hours=24)
RESET_PREFIX = "pr"


def _subject(user_id: str) -> str:
    return f"user:{user_id}"


def end_sessions(
    *, session: Session, user_id: str, now: datetime, keep_token: str | None = None
) -> int:
    """Sign the user out everywhere (but ``keep_token``'s session); how many sessions ended."""
    statement = (
        update(user_sessions)
        .where(user_sessions.c.user_id == user_id)
        .where(user_sessions.c.revoked_at.is_(None))
        .where(user_sessions.c.expires_at > now)
    )
    if keep_token is not None:
        statement = statement.where(user_sessions.c.token_hash != sessions.token_hash(keep_token))
    return int(session.execute(statement.values(revoked_at=now)).rowcount)  # type: ignore[attr-defined]


def issue_reset(
    *,
    session: Session,
    workspace_id: str,
    user_id: str,
    actor: str,
    now: datetime,
    by_role: Role | None = None,
    ttl: timedelta = RESET_TTL,
) -> PasswordResetIssued:
    """A one-time reset token for a member of the workspace; earlier unused ones stop working.

    Only an owner resets an owner's password (ForbiddenError), as only an owner makes one.

    Args:
        session: an open session; the caller commits.
        workspace_id: the issuer's workspace; the user must be a member (NotFoundError).
        user_id: whose password.
        actor: who issues it, for the audit log (``user:…``, ``key:…``, ``cli:…``).
        now: issue time (aware UTC).
        by_role: the issuer's role (None: the CLI on the server).
        ttl: how long the token lasts.
    """
    member = get_member(session=session, workspace_id=workspace_id, user_id=user_id)
    if member.role == Role.owner and by_role not in (None, Role.owner):
        raise ForbiddenError("only an owner may reset an owner's password", field="user_id")
    session.execute(
        update(password_resets)
        .where(password_resets.c.user_id == user_id)
        .where(password_resets.c.used_at.is_(None))
        .values(used_at=now)
    )
    token = new_secret(RESET_PREFIX)
    issued = PasswordResetIssued(token=token, user_id=user_id, expires_at=now + ttl)
    session.execute(
        insert(password_resets).values(
            token_hash=sessions.token_hash(token),
            user_id=user_id,
            workspace_id=workspace_id,
            issued_by=actor[:200],
            created_at=now,
            expires_at=issued.expires_at,
        )
    )
    audit.record_access(
        session=session, workspace_id=workspace_id, actor=actor, now=now,
        action="password_reset_issued", person_id=_subject(user_id),
        detail={"expires_at": issued.expires_at.isoformat()},
    )  # fmt: skip
    return issued


def _set_password(session: Session, user_id: str, password: str) -> str:
    """Store the new hash; the user's email (its sign-in lock is lifted)."""
    email: str = session.execute(select(users.c.email).where(users.c.id == user_id)).scalar_one()
    try:
        password_hash = passwords.hash_password(password)
    except InvalidInputError as exc:
        raise InvalidInputError(exc.message, field="new_password") from None
    session.execute(update(users).where(users.c.id == user_id).values(password_hash=password_hash))
    session.execute(delete(login_throttle).where(login_throttle.c.subject == f"user:{email}"))
    return email


def reset_password(*, session: Session, token: str, new_password: str, now: datetime) -> str:
    """Set a new password with a reset token (once); every session of the user ends.

    AuthError when the token is unknown, used or expired; InvalidInputError
    (``new_password``) when the password is too short or long — the token stays usable.
    Returns the user id.
    """
    row = session.execute(
        select(password_resets.c.user_id, password_resets.c.workspace_id)
        .where(password_resets.c.token_hash == sessions.token_hash(token))
        .where(password_resets.c.used_at.is_(None))
        .where(password_resets.c.expires_at > now)
    ).first()
    if row is None:
        raise AuthError("unknown, used or expired reset token", field="token")
    _set_password(session, row.user_id, new_password)
    session.execute(
        update(password_resets)
        .where(password_resets.c.token_hash == sessions.token_hash(token))
        .values(used_at=now)
    )
    ended = end_sessions(session=session, user_id=row.user_id, now=now)
    audit.record_access(
        session=session, workspace_id=row.workspace_id, actor=_subject(row.user_id), now=now,
        action="password_reset", person_id=_subject(row.user_id),
        detail={"sessions_ended": ended},
    )  # fmt: skip
    return str(row.user_id)


def change_password(
    *,
    session: Session,
    workspace_id: str,
    user_id: str,
    current_password: str,
    new_password: str,
    now: datetime,
    keep_token: str | None = None,
) -> int:
    """Change one's own password, proving the current one; other sessions end (their count).

    AuthError (``current_password``) when the current password is wrong. Wrong current
    passwords count towards the email's sign-in throttle (committed before the error is
    raised): after five, LockedOutError (``current_password``) for 30 s, doubling, and the
    sign-in is locked too; a successful change lifts the lock.

    Args:
        session: an open session; the caller commits.
        workspace_id: the workspace the caller is signed in to (for the audit log).
        user_id: the caller.
        current_password: the password now.
        new_password: 10–1024 characters.
        now: time of the change (aware UTC).
        keep_token: the caller's own session token, which stays signed in.
    """
    stored = session.execute(
        select(users.c.email, users.c.password_hash).where(users.c.id == user_id)
    ).first()
    if stored is None:
        raise AuthError("the current password is wrong", field="current_password")
    field = "current_password"
    sessions.check_password_lock(session=session, email=stored.email, now=now, field=field)
    if not passwords.verify_password(stored.password_hash, current_password):
        sessions.record_wrong_password(session=session, email=stored.email, now=now)
        session.commit()  # the count survives the caller's rollback, as for a sign-in
        raise AuthError("the current password is wrong", field=field)
    _set_password(session, user_id, new_password)
    ended = end_sessions(session=session, user_id=user_id, now=now, keep_token=keep_token)
    audit.record_access(
        session=session, workspace_id=workspace_id, actor=_subject(user_id), now=now,
        action="password_changed", person_id=_subject(user_id),
        detail={"sessions_ended": ended},
    )  # fmt: skip
    return ended
