"""Sign in and out of the management API (session tokens for console and API users)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from siyu.accounts import client_address, resets, sessions
from siyu.accounts.models import Principal, SessionGrant
from siyu.api.deps import PrincipalDep, RuntimeDep, in_transaction
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.core.runtime import Runtime

router = APIRouter(prefix="/api/auth", tags=["auth"])


class LoginRequest(BaseModel):
    """An email and password, and the workspace to open (optional with one membership)."""

    email: Annotated[str, Field(max_length=254, description="The user's email.")]
    password: Annotated[str, Field(max_length=1024)]
    workspace_id: Annotated[
        str | None, Field(default=None, max_length=40, description="Workspace to sign in to.")
    ] = None


def _log_in(runtime: Runtime, body: LoginRequest, ip: str | None) -> SessionGrant:
    # Not in_transaction: a refused attempt commits its failure count before raising.
    with runtime.sessions() as session:
        grant = sessions.log_in(
            session=session,
            email=body.email,
            password=body.password,
            workspace_id=body.workspace_id,
            ip=ip,
            now=utcnow(),
        )
        session.commit()
        return grant


@router.post("/login", summary="Sign in: a session token for 'Authorization: Bearer'")
async def login(body: LoginRequest, request: Request, runtime: RuntimeDep) -> SessionGrant:
    """Five wrong passwords for an email lock it for 30 s, doubling up to an hour (429).

    The client address (throttled too) is the peer's, or the X-Forwarded-For / X-Real-IP
    one when the peer is a trusted proxy (SIYU_TRUSTED_PROXIES).
    """
    ip = client_address.request_address(
        peer=request.client.host if request.client else None,
        headers=request.headers,
        trusted=runtime.settings.trusted_proxy_networks(),
    )
    return await run_in_threadpool(_log_in, runtime, body, ip)


def _log_out(runtime: Runtime, token: str) -> None:
    with runtime.sessions() as session, session.begin():
        sessions.log_out(session=session, token=token, now=utcnow())


@router.post("/logout", status_code=204, summary="Sign out: the session token stops working")
async def logout(request: Request, runtime: RuntimeDep, principal: PrincipalDep) -> Response:
    """Only a session can sign out; a secret key is revoked under /api/keys instead."""
    if principal.kind != "session":
        raise InvalidInputError("only a session token signs out", field="authorization")
    token = request.headers["authorization"].partition(" ")[2].strip()
    await run_in_threadpool(_log_out, runtime, token)
    return Response(status_code=204)


@router.get("/me", summary="Who the credential is: workspace, role, permissions")
async def me(principal: PrincipalDep) -> Principal:
    """Any valid credential may ask about itself."""
    return principal


Password = Annotated[str, Field(max_length=1024, description="10–1024 characters.")]


class PasswordReset(BaseModel):
    """A reset token an owner or admin issued, and the new password."""

    token: Annotated[str, Field(max_length=200, description="The one-time reset token.")]
    new_password: Password


class PasswordChange(BaseModel):
    """The current password and the new one."""

    current_password: Annotated[str, Field(max_length=1024)]
    new_password: Password


@router.post(
    "/password-reset", status_code=204, summary="Set a new password with a one-time reset token"
)
async def reset_password(body: PasswordReset, runtime: RuntimeDep) -> Response:
    """The token works once and expires; every session of the user ends (401 for a bad token)."""
    await in_transaction(
        runtime,
        resets.reset_password,
        token=body.token,
        new_password=body.new_password,
        now=utcnow(),
    )
    return Response(status_code=204)


@router.post("/password", status_code=204, summary="Change your own password")
async def change_password(
    body: PasswordChange, request: Request, runtime: RuntimeDep, principal: PrincipalDep
) -> Response:
    """A session only, with the current password (401 when wrong); this session stays signed
    in, the user's other sessions end."""
    if principal.kind != "session" or principal.user_id is None:
        raise InvalidInputError("only a signed-in user has a password", field="authorization")
    await in_transaction(
        runtime,
        resets.change_password,
        workspace_id=principal.workspace.id,
        user_id=principal.user_id,
        current_password=body.current_password,
        new_password=body.new_password,
        now=utcnow(),
        keep_token=request.headers["authorization"].partition(" ")[2].strip(),
    )
    return Response(status_code=204)
