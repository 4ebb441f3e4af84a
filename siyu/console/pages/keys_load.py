"""The blocking calls behind the API keys page (siyu.accounts.keys)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from siyu.accounts import keys as api_keys
from siyu.accounts.models import ApiKey, ApiKeyCreated, KeyKind
from siyu.accounts.permissions import ROLE_PERMISSIONS, Role
from siyu.core.runtime import Runtime
from siyu.workspaces import service as workspaces


class KeyBoard(BaseModel):
    """The workspace's write key (the SDKs') and every API key (never their secrets)."""

    write_key: str
    keys: list[ApiKey]


def board(*, runtime: Runtime, workspace_id: str) -> KeyBoard:
    """The keys as listed (listing may adopt the workspace's first secret key: a write)."""
    with runtime.sessions() as session, session.begin():
        workspace = workspaces.get_workspace(session=session, workspace_id=workspace_id)
        return KeyBoard(
            write_key=workspace.write_key,
            keys=api_keys.list_keys(session=session, workspace_id=workspace_id),
        )


def create(
    *, runtime: Runtime, workspace_id: str, kind: KeyKind, name: str, role: Role, now: datetime
) -> ApiKeyCreated:
    """A new key (its secret in the result, this once); a secret key gets ``role``'s
    permissions as its scopes."""
    scopes = sorted(ROLE_PERMISSIONS[role]) if kind is KeyKind.secret else None
    with runtime.sessions() as session, session.begin():
        return api_keys.create_key(
            session=session, workspace_id=workspace_id, kind=kind, name=name, now=now, scopes=scopes
        )


def rotate(*, runtime: Runtime, workspace_id: str, key_id: str, now: datetime) -> ApiKeyCreated:
    """A new secret for the key (shown this once); the old one stops at once."""
    with runtime.sessions() as session, session.begin():
        return api_keys.rotate_key(
            session=session, workspace_id=workspace_id, key_id=key_id, now=now
        )


def revoke(*, runtime: Runtime, workspace_id: str, key_id: str, now: datetime) -> ApiKey:
    """Stop a key at once."""
    with runtime.sessions() as session, session.begin():
        return api_keys.revoke_key(
            session=session, workspace_id=workspace_id, key_id=key_id, now=now
        )
