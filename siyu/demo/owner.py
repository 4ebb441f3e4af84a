"""The demo workspace's owner user: the login ``siyu demo`` prints for the console."""

from __future__ import annotations

import secrets
from datetime import datetime

from siyu.accounts import service as accounts
from siyu.accounts.permissions import Role
from siyu.core.errors import NotFoundError
from siyu.core.runtime import Runtime

OWNER_EMAIL = "owner@shanchaji.demo"


def new_password() -> str:
    """A random password (16 URL-safe characters, about 96 bits)."""
    return secrets.token_urlsafe(12)


def ensure_owner(
    runtime: Runtime,
    *,
    workspace_id: str,
    now: datetime,
    email: str = OWNER_EMAIL,
    password: str | None = None,
) -> str | None:
    """Make ``email`` an owner of the workspace; the password to print, or None.

    A new user gets ``password`` (a random one when None); an existing user gets ``password``
    only when one is given (else keeps theirs: the demo never stores it, so None is returned).
    """
    with runtime.sessions() as session, session.begin():
        user = accounts.find_user(session=session, email=email)
        if user is None:
            password = password or new_password()
            user = accounts.create_user(
                session=session, email=email, password=password, name="山茶集 owner", now=now
            )
        elif password is not None:
            accounts.set_password(session=session, user_id=user.id, password=password)
        try:
            accounts.get_member(session=session, workspace_id=workspace_id, user_id=user.id)
        except NotFoundError:
            accounts.add_member(
                session=session,
                workspace_id=workspace_id,
                user_id=user.id,
                role=Role.owner,
                now=now,
            )
    return password
