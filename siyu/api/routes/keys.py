"""Management API for API keys: list, create, rotate, revoke (secrets shown once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from siyu.accounts import keys
from siyu.accounts.models import ApiKey, ApiKeyCreated, KeyKind, Principal
from siyu.api.deps import Require, RuntimeDep, in_transaction
from siyu.core.clock import utcnow
from siyu.core.errors import ForbiddenError

router = APIRouter(prefix="/api/keys", tags=["keys"])

KeysReader = Annotated[Principal, Require("keys:read")]
KeysWriter = Annotated[Principal, Require("keys:write")]


class KeyCreate(BaseModel):
    """A key to create."""

    kind: KeyKind = Field(description="write (collect only) or secret (management API).")
    name: Annotated[str, Field(min_length=1, max_length=100, description="What it is for.")]
    scopes: list[str] | None = Field(
        default=None,
        max_length=100,
        description="A secret key's permissions (default: all the caller's permissions).",
    )


@router.get("", summary="The workspace's keys (never the secrets)")
async def list_keys(runtime: RuntimeDep, principal: KeysReader) -> list[ApiKey]:
    """Revoked keys included, oldest first."""
    return await in_transaction(runtime, keys.list_keys, workspace_id=principal.workspace.id)


@router.post("", status_code=201, summary="Create a key: the secret is shown this once")
async def create(body: KeyCreate, runtime: RuntimeDep, principal: KeysWriter) -> ApiKeyCreated:
    """A caller cannot mint a key with permissions it does not hold itself (403)."""
    scopes = body.scopes
    if body.kind == KeyKind.secret:
        scopes = sorted(principal.permissions) if scopes is None else scopes
        _beyond(principal, scopes)
    return await in_transaction(
        runtime,
        keys.create_key,
        workspace_id=principal.workspace.id,
        kind=body.kind,
        name=body.name,
        scopes=scopes,
        now=utcnow(),
    )


def _beyond(principal: Principal, scopes: list[str]) -> None:
    if beyond := sorted(set(scopes) - principal.permissions):
        raise ForbiddenError(
            f"cannot grant scopes the caller lacks: {', '.join(beyond)}", field="scopes"
        )


@router.post("/{key_id}/rotate", summary="Rotate a key: a new secret, the old one stops now")
async def rotate(key_id: str, runtime: RuntimeDep, principal: KeysWriter) -> ApiKeyCreated:
    """Same id, name and scopes; only a caller holding all its scopes may see its new secret."""
    key = await in_transaction(
        runtime, keys.get_key, workspace_id=principal.workspace.id, key_id=key_id
    )
    _beyond(principal, key.scopes)
    return await in_transaction(
        runtime, keys.rotate_key, workspace_id=principal.workspace.id, key_id=key_id, now=utcnow()
    )


@router.post("/{key_id}/revoke", summary="Revoke a key for good")
async def revoke(key_id: str, runtime: RuntimeDep, principal: KeysWriter) -> ApiKey:
    """Requests with it are refused from now on (write keys: within a minute per process)."""
    return await in_transaction(
        runtime, keys.revoke_key, workspace_id=principal.workspace.id, key_id=key_id, now=utcnow()
    )
