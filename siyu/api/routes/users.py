"""Management API for a workspace's users: invite or create, list, set role, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from siyu.accounts import resets
from siyu.accounts import service as accounts
from siyu.accounts.models import ChangedBy, Member, PasswordResetIssued, Principal
from siyu.accounts.permissions import Role
from siyu.api.deps import Require, RuntimeDep, in_transaction
from siyu.api.routes.privacy import actor_of
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError

router = APIRouter(prefix="/api/users", tags=["users"])

UsersReader = Annotated[Principal, Require("users:read")]
UsersWriter = Annotated[Principal, Require("users:write")]


class UserInvite(BaseModel):
    """A user to add: an existing user by email, or a new one with a password."""

    email: Annotated[str, Field(max_length=254)]
    role: Role
    name: Annotated[str, Field(default="", max_length=200)] = ""
    password: Annotated[
        str | None,
        Field(default=None, max_length=1024, description="Required when the email is new."),
    ] = None


class RoleSet(BaseModel):
    """A member's new role."""

    role: Role


def _invite(
    *, session: Session, workspace_id: str, body: UserInvite, by_role: Role | None, actor: str
) -> Member:
    now = utcnow()
    user = accounts.find_user(session=session, email=body.email)
    if user is None:
        if not body.password:
            raise InvalidInputError("a new user needs a password", field="password")
        user = accounts.create_user(
            session=session, email=body.email, password=body.password, name=body.name, now=now
        )
    return accounts.add_member(
        session=session,
        workspace_id=workspace_id,
        user_id=user.id,
        role=body.role,
        now=now,
        by_role=by_role,
        changed_by=ChangedBy(actor=actor, at=now),
    )


def _changed_by(principal: Principal) -> ChangedBy:
    return ChangedBy(actor=actor_of(principal), at=utcnow())


def _caller_role(principal: Principal) -> Role | None:
    # A secret key with users:write acts as an admin: it may not make owners.
    return principal.role or Role.admin


@router.post("", status_code=201, summary="Add a user to the workspace (creating it if new)")
async def invite(body: UserInvite, runtime: RuntimeDep, principal: UsersWriter) -> Member:
    """Only an owner may add another owner. Audited as ``member_added``."""
    return await in_transaction(
        runtime,
        _invite,
        workspace_id=principal.workspace.id,
        body=body,
        by_role=_caller_role(principal),
        actor=actor_of(principal),
    )


@router.get("", summary="The workspace's users and roles")
async def list_users(runtime: RuntimeDep, principal: UsersReader) -> list[Member]:
    """By email."""
    return await in_transaction(runtime, accounts.list_members, workspace_id=principal.workspace.id)


@router.put("/{user_id}/role", summary="Set a user's role")
async def set_role(
    user_id: str, body: RoleSet, runtime: RuntimeDep, principal: UsersWriter
) -> Member:
    """The last owner keeps the owner role (409). Audited as ``role_changed``."""
    return await in_transaction(
        runtime,
        accounts.set_role,
        workspace_id=principal.workspace.id,
        user_id=user_id,
        role=body.role,
        by_role=_caller_role(principal),
        changed_by=_changed_by(principal),
    )


@router.delete("/{user_id}", status_code=204, summary="Remove a user from the workspace")
async def remove(user_id: str, runtime: RuntimeDep, principal: UsersWriter) -> Response:
    """Their sessions in this workspace end at once; the last owner stays (409). Audited as
    ``member_removed``."""
    await in_transaction(
        runtime,
        accounts.remove_member,
        workspace_id=principal.workspace.id,
        user_id=user_id,
        by_role=_caller_role(principal),
        changed_by=_changed_by(principal),
    )
    return Response(status_code=204)


@router.post(
    "/{user_id}/password-reset",
    status_code=201,
    summary="Issue a one-time password reset token for a user",
)
async def issue_password_reset(
    user_id: str, runtime: RuntimeDep, principal: UsersWriter
) -> PasswordResetIssued:
    """Shown once; the user sets a new password with it at POST /api/auth/password-reset
    within 24 h, which ends all their sessions. A newer token voids older ones. Only an owner
    resets an owner (403). Audited as ``password_reset_issued``."""
    return await in_transaction(
        runtime,
        resets.issue_reset,
        workspace_id=principal.workspace.id,
        user_id=user_id,
        actor=actor_of(principal),
        now=utcnow(),
        by_role=_caller_role(principal),
    )
