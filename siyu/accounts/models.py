"""Types of the accounts domain that cross boundaries."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from siyu.accounts.permissions import Role
from siyu.workspaces.models import Workspace


class User(BaseModel):
    """A person who signs in to the console or the management API."""

    id: str = Field(description="User id, e.g. u_01jd…")
    email: str = Field(description="Sign-in email, lower case.")
    name: str = Field(description="Display name.")
    created_at: datetime


class Member(BaseModel):
    """A user's membership of one workspace."""

    user_id: str
    email: str
    name: str
    role: Role = Field(description="owner, admin, operator, analyst or read_only.")
    joined_at: datetime


class ChangedBy(BaseModel):
    """Who changes a membership and when, for the audit log (``user:…``, ``key:…``, ``cli:…``)."""

    actor: str
    at: datetime


class SessionGrant(BaseModel):
    """What signing in returns once: the token is never shown again."""

    token: str = Field(description="Send as 'Authorization: Bearer <token>'.")
    expires_at: datetime
    user_id: str
    workspace_id: str
    role: Role


class KeyKind(StrEnum):
    """A write key only collects events; a secret key calls the management API."""

    write = "write"
    secret = "secret"  # noqa: S105 - the kind's name, not a password


class ApiKey(BaseModel):
    """An API key as listed: never the key itself, only a hint of its start."""

    id: str
    kind: KeyKind
    name: str
    hint: str = Field(description="The key's first characters, to recognise it.")
    scopes: list[str] = Field(description="Permissions of a secret key (empty for write keys).")
    created_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None


class ApiKeyCreated(BaseModel):
    """A key as created or rotated: ``key`` is shown this once and never again."""

    key: str
    api_key: ApiKey


class Principal(BaseModel):
    """Who is calling, in which workspace, with which permissions."""

    workspace: Workspace
    kind: str = Field(description="session, secret_key or workspace_key (the first secret key).")
    user_id: str | None = None
    role: Role | None = None
    key_id: str | None = None
    permissions: frozenset[str]

    def may(self, permission: str) -> bool:
        """Whether this caller holds ``permission``."""
        return permission in self.permissions


class PasswordResetIssued(BaseModel):
    """A one-time password reset token, shown once: hand it to the user."""

    token: str = Field(description="Give it to the user; it sets a new password once.")
    user_id: str
    expires_at: datetime
