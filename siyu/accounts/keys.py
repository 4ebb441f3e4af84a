"""API keys: write keys (collect only) and secret keys with scopes, stored hashed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from siyu.accounts.models import ApiKey, ApiKeyCreated, KeyKind, Principal
from siyu.accounts.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role, check_known
from siyu.accounts.sessions import token_hash
from siyu.accounts.tables import api_keys
from siyu.core.errors import AuthError, ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id, new_secret
from siyu.workspaces import service as workspaces
from siyu.workspaces.models import Workspace

_PREFIX = {KeyKind.write: "wk", KeyKind.secret: "sk"}
WORKSPACE_KEY_NAME = "workspace secret key"


def _workspace_key_id(workspace_id: str) -> str:
    return f"key_{workspace_id}"


def _adopt_workspace_key(session: Session, workspace_id: str) -> None:
    # The secret key made with the workspace (before keys had scopes) becomes an ordinary
    # owner-scoped key the first time keys are managed: same digest, so the same secret
    # works; rotating or revoking it updates the workspace's digest too (the console signs
    # in with it).
    key_id = _workspace_key_id(workspace_id)
    if session.execute(select(api_keys.c.id).where(api_keys.c.id == key_id)).first():
        return
    workspace = workspaces.get_workspace(session=session, workspace_id=workspace_id)
    session.execute(
        insert(api_keys).values(
            id=key_id,
            workspace_id=workspace_id,
            kind=KeyKind.secret.value,
            name=WORKSPACE_KEY_NAME,
            key_hash=workspaces.secret_key_hash(session=session, workspace_id=workspace_id),
            hint="sk_",
            scopes=list(PERMISSIONS),
            created_at=workspace.created_at,
        )
    )


def _key(row: Row[tuple[object, ...]]) -> ApiKey:
    return ApiKey.model_validate(row._mapping, from_attributes=False)


def _clean_scopes(kind: KeyKind, scopes: list[str] | None) -> list[str]:
    if kind == KeyKind.write:
        if scopes:
            raise InvalidInputError("a write key has no scopes: it only collects", field="scopes")
        return []
    if scopes is None:
        return sorted(ROLE_PERMISSIONS[Role.owner])
    if not scopes:
        raise InvalidInputError("give at least one scope", field="scopes")
    if unknown := check_known(scopes):
        raise InvalidInputError(f"unknown scopes: {', '.join(unknown)}", field="scopes")
    return sorted(set(scopes), key=PERMISSIONS.index)


def create_key(
    *,
    session: Session,
    workspace_id: str,
    kind: KeyKind,
    name: str,
    now: datetime,
    scopes: list[str] | None = None,
) -> ApiKeyCreated:
    """Create a key; the key itself is in the result this once and never again.

    Args:
        session: an open session; the caller commits.
        workspace_id: the workspace the key acts for.
        kind: write (collect only) or secret (management API).
        name: what the key is for, 1–100 characters.
        now: creation time (aware UTC).
        scopes: a secret key's permissions (default: every permission, as an owner).
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInputError("name must be 1–100 characters", field="name")
    secret = new_secret(_PREFIX[kind])
    key = ApiKey(
        id=new_id("key"),
        kind=kind,
        name=name,
        hint=secret[:7],
        scopes=_clean_scopes(kind, scopes),
        created_at=now,
    )
    session.execute(
        insert(api_keys).values(
            **key.model_dump(), workspace_id=workspace_id, key_hash=token_hash(secret)
        )
    )
    return ApiKeyCreated(key=secret, api_key=key)


def list_keys(*, session: Session, workspace_id: str) -> list[ApiKey]:
    """The workspace's keys, revoked ones included, oldest first (the workspace's first
    secret key among them)."""
    _adopt_workspace_key(session, workspace_id)
    rows = session.execute(
        select(api_keys)
        .where(api_keys.c.workspace_id == workspace_id)
        .order_by(api_keys.c.created_at, api_keys.c.id)
    ).all()
    return [_key(r) for r in rows]


def get_key(*, session: Session, workspace_id: str, key_id: str) -> ApiKey:
    """One key of the workspace; NotFoundError when it has none such."""
    row = session.execute(
        select(api_keys)
        .where(api_keys.c.workspace_id == workspace_id)
        .where(api_keys.c.id == key_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no key {key_id}", field="key_id")
    return _key(row)


def _live_key(session: Session, workspace_id: str, key_id: str) -> ApiKey:
    _adopt_workspace_key(session, workspace_id)
    key = get_key(session=session, workspace_id=workspace_id, key_id=key_id)
    if key.revoked_at is not None:
        raise ConflictError(f"key {key_id} is revoked", field="key_id")
    return key


def rotate_key(*, session: Session, workspace_id: str, key_id: str, now: datetime) -> ApiKeyCreated:
    """Replace a key's secret (same id, name and scopes); the old secret stops at once."""
    key = _live_key(session, workspace_id, key_id)
    secret = new_secret(_PREFIX[key.kind])
    session.execute(
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(key_hash=token_hash(secret), hint=secret[:7], rotated_at=now)
    )
    _follow_workspace_key(session, workspace_id, key_id, token_hash(secret))
    return ApiKeyCreated(
        key=secret, api_key=key.model_copy(update={"hint": secret[:7], "rotated_at": now})
    )


def revoke_key(*, session: Session, workspace_id: str, key_id: str, now: datetime) -> ApiKey:
    """Revoke a key for good; requests with it are refused from now on."""
    key = _live_key(session, workspace_id, key_id)
    session.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
    # A digest of a secret nobody holds: the workspace's first key no longer opens anything.
    _follow_workspace_key(session, workspace_id, key_id, token_hash(new_secret("revoked")))
    return key.model_copy(update={"revoked_at": now})


def _follow_workspace_key(session: Session, workspace_id: str, key_id: str, digest: str) -> None:
    if key_id == _workspace_key_id(workspace_id):
        workspaces.set_secret_key_hash(session=session, workspace_id=workspace_id, digest=digest)


def _live_row(session: Session, secret: str, kind: KeyKind) -> Any:
    return session.execute(
        select(api_keys.c.id, api_keys.c.workspace_id, api_keys.c.scopes)
        .where(api_keys.c.key_hash == token_hash(secret))
        .where(api_keys.c.kind == kind.value)
        .where(api_keys.c.revoked_at.is_(None))
    ).first()


def authenticate_secret_key(*, session: Session, secret_key: str) -> Principal:
    """The caller behind a secret key and its scopes.

    The secret key made with the workspace (before keys had scopes) keeps working with
    every permission, as an owner. AuthError when the key is unknown or revoked.
    """
    row = _live_row(session, secret_key, KeyKind.secret)
    if row is None:
        workspace = workspaces.authenticate_secret_key(session=session, secret_key=secret_key)
        return Principal(
            workspace=workspace,
            kind="workspace_key",
            role=Role.owner,
            permissions=ROLE_PERMISSIONS[Role.owner],
        )
    first = row.id == _workspace_key_id(row.workspace_id)
    return Principal(
        workspace=workspaces.get_workspace(session=session, workspace_id=row.workspace_id),
        kind="workspace_key" if first else "secret_key",
        role=Role.owner if first else None,
        key_id=row.id,
        permissions=ROLE_PERMISSIONS[Role.owner] if first else frozenset(row.scopes),
    )


def authenticate_write_key(*, session: Session, write_key: str) -> Workspace:
    """The workspace a write key collects for; AuthError when unknown or revoked."""
    row = _live_row(session, write_key, KeyKind.write)
    if row is None:
        try:
            return workspaces.authenticate_write_key(session=session, write_key=write_key)
        except AuthError:
            raise AuthError("unknown or revoked write key") from None
    return workspaces.get_workspace(session=session, workspace_id=row.workspace_id)
