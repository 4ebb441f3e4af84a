"""Signing operators in and out of the console through siyu.accounts (blocking; call off the loop).

A sign-in opens an accounts session (the same opaque token the management API takes as
``Authorization: Bearer``), so throttling, expiry, sign-out and role changes work exactly as
for the API. The console checks the token again on every page load.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from siyu.accounts import resets, sessions
from siyu.accounts.models import Principal
from siyu.accounts.permissions import ROLE_PERMISSIONS, Role
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.runtime import Runtime
from siyu.workspaces import service as workspaces


class WorkspaceRef(BaseModel):
    """A workspace the operator has signed in to, as whom and with which role."""

    id: str
    name: str
    timezone: str
    role: Role
    email: str = Field(description="The signed-in user's email.")
    user_id: str

    def may(self, permission: str) -> bool:
        """Whether the operator's role here holds ``permission``."""
        return permission in ROLE_PERMISSIONS[self.role]


class SignedIn(BaseModel):
    """A successful sign-in: the workspace and the session token (kept server-side only)."""

    ref: WorkspaceRef
    token: str


class WorkspaceChoice(BaseModel):
    """A workspace the user belongs to (asked when they belong to several)."""

    id: str
    name: str


class ChooseWorkspace(Exception):
    """The password was right but the user belongs to several workspaces: pick one."""

    def __init__(self, choices: list[WorkspaceChoice]) -> None:
        super().__init__("choose a workspace")
        self.choices = choices


def _ref(principal: Principal, email: str) -> WorkspaceRef:
    assert principal.role is not None and principal.user_id is not None
    return WorkspaceRef(
        id=principal.workspace.id,
        name=principal.workspace.name,
        timezone=principal.workspace.timezone,
        role=principal.role,
        email=email,
        user_id=principal.user_id,
    )


def _choices(session: Session, ids: Iterable[str]) -> list[WorkspaceChoice]:
    found = []
    for workspace_id in ids:
        try:
            workspace = workspaces.get_workspace(session=session, workspace_id=workspace_id)
        except NotFoundError:
            continue
        found.append(WorkspaceChoice(id=workspace.id, name=workspace.name))
    return found


def sign_in(
    runtime: Runtime,
    *,
    email: str,
    password: str,
    now: datetime,
    workspace_id: str | None = None,
    ip: str | None = None,
) -> SignedIn:
    """Check the password (throttled by siyu.accounts) and open a session.

    Raises:
        AuthError: wrong email, password or workspace.
        LockedOutError: too many failures; ``details['retry_after']`` seconds to wait.
        ChooseWorkspace: the user is in several workspaces and none was named.
        InvalidInputError: the email does not look like one.
    """
    with runtime.sessions() as session:
        try:
            grant = sessions.log_in(
                session=session,
                email=email,
                password=password,
                workspace_id=workspace_id or None,
                ip=ip,
                now=now,
            )
        except InvalidInputError as error:
            if error.field != "workspace_id":
                raise
            session.rollback()  # the password was right: nothing to keep but the question
            raise ChooseWorkspace(_choices(session, error.details.get("workspaces", []))) from None
        session.commit()
        principal = sessions.authenticate_session(session=session, token=grant.token, now=now)
    return SignedIn(ref=_ref(principal, email.strip().lower()), token=grant.token)


def check(runtime: Runtime, *, token: str, email: str, now: datetime) -> WorkspaceRef:
    """The workspace and current role behind a session token (AuthError when it no longer
    works: expired, signed out, or the user left the workspace)."""
    with runtime.sessions() as session:
        principal = sessions.authenticate_session(session=session, token=token, now=now)
    return _ref(principal, email)


def sign_out(runtime: Runtime, *, tokens: Iterable[str], now: datetime) -> int:
    """End these sessions: the tokens stop working at once. How many were given."""
    ended = 0
    with runtime.sessions() as session, session.begin():
        for token in tokens:
            sessions.log_out(session=session, token=token, now=now)
            ended += 1
    return ended


def change_password(
    runtime: Runtime, *, token: str, current_password: str, new_password: str, now: datetime
) -> int:
    """Change the signed-in user's own password, as ``POST /api/auth/password`` does: the
    current one proved, the accounts domain's rules, this session kept, the user's other
    sessions ended (their count) and ``password_changed`` audited.

    Raises:
        AuthError: the session no longer works, or the current password is wrong
            (``current_password``).
        InvalidInputError: a new password the accounts domain refuses (``new_password``).
    """
    with runtime.sessions() as session, session.begin():
        principal = sessions.authenticate_session(session=session, token=token, now=now)
        assert principal.user_id is not None  # a session token always names its user
        return resets.change_password(
            session=session,
            workspace_id=principal.workspace.id,
            user_id=principal.user_id,
            current_password=current_password,
            new_password=new_password,
            now=now,
            keep_token=token,
        )
