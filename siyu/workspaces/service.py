"""Create workspaces and authenticate their keys."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Row, insert, select, update
from sqlalchemy.orm import Session

from siyu.core.errors import AuthError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id, new_secret
from siyu.workspaces.models import Workspace, WorkspaceCreated
from siyu.workspaces.tables import workspaces


def _hash_secret(secret_key: str) -> str:
    return hashlib.sha256(secret_key.encode()).hexdigest()


def _to_model(row: Row[tuple[object, ...]]) -> Workspace:
    return Workspace.model_validate(row._mapping, from_attributes=False)


def create_workspace(
    *, session: Session, name: str, now: datetime, timezone: str = "Asia/Shanghai"
) -> WorkspaceCreated:
    """Create a workspace with a new write key and secret key.

    Args:
        session: an open session; the caller commits.
        name: the brand's display name (1–200 characters).
        now: creation time (aware UTC).
        timezone: IANA zone for display.
    """
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInputError("name must be 1–200 characters", field="name")
    created = WorkspaceCreated(
        workspace_id=new_id("ws"), write_key=new_secret("wk"), secret_key=new_secret("sk")
    )
    session.execute(
        insert(workspaces).values(
            id=created.workspace_id,
            name=name,
            write_key=created.write_key,
            secret_key_hash=_hash_secret(created.secret_key),
            timezone=timezone,
            created_at=now,
        )
    )
    return created


def get_workspace(*, session: Session, workspace_id: str) -> Workspace:
    """The workspace with ``workspace_id``; NotFoundError if none."""
    row = session.execute(select(workspaces).where(workspaces.c.id == workspace_id)).first()
    if row is None:
        raise NotFoundError(f"no workspace {workspace_id}", field="workspace_id")
    return _to_model(row)


def list_workspaces(*, session: Session) -> list[Workspace]:
    """Every workspace, oldest first."""
    rows = session.execute(select(workspaces).order_by(workspaces.c.created_at)).all()
    return [_to_model(row) for row in rows]


def authenticate_write_key(*, session: Session, write_key: str) -> Workspace:
    """The workspace a write key belongs to; AuthError if it belongs to none."""
    row = session.execute(select(workspaces).where(workspaces.c.write_key == write_key)).first()
    if row is None:
        raise AuthError("unknown write key")
    return _to_model(row)


def authenticate_secret_key(*, session: Session, secret_key: str) -> Workspace:
    """The workspace a secret (management) key belongs to; AuthError if none."""
    digest = _hash_secret(secret_key)
    row = session.execute(select(workspaces).where(workspaces.c.secret_key_hash == digest)).first()
    if row is None:
        raise AuthError("unknown secret key")
    return _to_model(row)


def secret_key_hash(*, session: Session, workspace_id: str) -> str:
    """The stored digest of the workspace's first secret key (for siyu.accounts to adopt)."""
    digest = session.execute(
        select(workspaces.c.secret_key_hash).where(workspaces.c.id == workspace_id)
    ).scalar_one_or_none()
    if digest is None:
        raise NotFoundError(f"no workspace {workspace_id}", field="workspace_id")
    return str(digest)


def set_secret_key_hash(*, session: Session, workspace_id: str, digest: str) -> None:
    """Replace the digest of the workspace's first secret key (its rotation or revocation)."""
    session.execute(
        update(workspaces).where(workspaces.c.id == workspace_id).values(secret_key_hash=digest)
    )
