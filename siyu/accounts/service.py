"""Users and their roles per workspace (sign-in and sessions: siyu.accounts.sessions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, delete, func, insert, select, update
from sqlalchemy.orm import Session

from siyu.accounts import passwords
from siyu.accounts.models import ChangedBy, Member, User
from siyu.accounts.permissions import Role
from siyu.accounts.tables import user_sessions, users, workspace_members
from siyu.core.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from siyu.core.ids import new_id
from siyu.privacy import service as audit
from siyu.privacy.models import AuditAction
from siyu.workspaces import service as workspaces


def _user(row: Row[tuple[object, ...]]) -> User:
    return User.model_validate(row._mapping, from_attributes=False)


def clean_email(email: str) -> str:
    email = email.strip().lower()
    if not 3 <= len(email) <= 254 or "@" not in email.strip("@"):
        raise InvalidInputError("email must look like name@example.com", field="email")
    return email


def create_user(
    *, session: Session, email: str, password: str, now: datetime, name: str = ""
) -> User:
    """Create a user with an argon2id password hash; ConflictError if the email is taken.

    Args:
        session: an open session; the caller commits.
        email: sign-in email (stored lower case).
        password: at least 10 characters.
        now: creation time (aware UTC).
        name: display name (defaults to the email).
    """
    email = clean_email(email)
    if session.execute(select(users.c.id).where(users.c.email == email)).first():
        raise ConflictError(f"a user with email {email} exists", field="email")
    user = User(id=new_id("u"), email=email, name=(name.strip() or email)[:200], created_at=now)
    session.execute(
        insert(users).values(**user.model_dump(), password_hash=passwords.hash_password(password))
    )
    return user


def find_user(*, session: Session, email: str) -> User | None:
    """The user with ``email``, or None."""
    row = session.execute(select(users).where(users.c.email == clean_email(email))).first()
    return None if row is None else _user(row)


def set_password(*, session: Session, user_id: str, password: str) -> None:
    """Replace a user's password; NotFoundError if no such user."""
    if not session.execute(select(users.c.id).where(users.c.id == user_id)).first():
        raise NotFoundError(f"no user {user_id}", field="user_id")
    session.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(password_hash=passwords.hash_password(password))
    )


def emails_of(*, session: Session, user_ids: list[str]) -> dict[str, str]:
    """The sign-in email of each of ``user_ids`` that exists (removed members included)."""
    if not user_ids:
        return {}
    rows = session.execute(select(users.c.id, users.c.email).where(users.c.id.in_(user_ids)))
    return {str(r.id): str(r.email) for r in rows}


def _members_query(workspace_id: str) -> Select[Any]:
    return (
        select(
            workspace_members.c.user_id,
            users.c.email,
            users.c.name,
            workspace_members.c.role,
            workspace_members.c.created_at.label("joined_at"),
        )
        .join(users, users.c.id == workspace_members.c.user_id)
        .where(workspace_members.c.workspace_id == workspace_id)
    )


def list_members(*, session: Session, workspace_id: str) -> list[Member]:
    """The workspace's users with their roles, by email."""
    rows = session.execute(_members_query(workspace_id).order_by(users.c.email)).all()
    return [Member.model_validate(r._mapping, from_attributes=False) for r in rows]


def get_member(*, session: Session, workspace_id: str, user_id: str) -> Member:
    """One membership; NotFoundError when the user is not in the workspace."""
    row = session.execute(
        _members_query(workspace_id).where(workspace_members.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no user {user_id} in this workspace", field="user_id")
    return Member.model_validate(row._mapping, from_attributes=False)


def _check_owner_change(by_role: Role | None, *roles: Role) -> None:
    # Only an owner makes or unmakes an owner (None: the CLI on the server itself).
    if Role.owner in roles and by_role not in (None, Role.owner):
        raise ForbiddenError("only an owner may grant or take away the owner role", field="role")


def _owners(session: Session, workspace_id: str) -> int:
    return session.execute(
        select(func.count())
        .select_from(workspace_members)
        .where(workspace_members.c.workspace_id == workspace_id)
        .where(workspace_members.c.role == Role.owner.value)
    ).scalar_one()


def _audit(
    session: Session,
    changed_by: ChangedBy | None,
    action: AuditAction,
    member: Member,
    workspace_id: str,
    detail: dict[str, str],
) -> None:
    if changed_by is not None:
        audit.record_access(
            session=session, workspace_id=workspace_id, actor=changed_by.actor,
            action=action, person_id=f"user:{member.user_id}", now=changed_by.at, detail=detail,
        )  # fmt: skip


def add_member(
    *,
    session: Session,
    workspace_id: str,
    user_id: str,
    role: Role,
    now: datetime,
    by_role: Role | None = None,
    changed_by: ChangedBy | None = None,
) -> Member:
    """Give a user a role in a workspace; ConflictError if already a member.

    ``by_role`` is the caller's role (None when run on the server by the CLI);
    ``changed_by``, when given, writes ``member_added`` to the audit log.
    """
    workspaces.get_workspace(session=session, workspace_id=workspace_id)
    _check_owner_change(by_role, role)
    exists = select(workspace_members.c.role).where(
        workspace_members.c.workspace_id == workspace_id, workspace_members.c.user_id == user_id
    )
    if session.execute(exists).first():
        raise ConflictError("the user is already a member; set the role instead", field="email")
    session.execute(
        insert(workspace_members).values(
            workspace_id=workspace_id, user_id=user_id, role=role.value, created_at=now
        )
    )
    member = get_member(session=session, workspace_id=workspace_id, user_id=user_id)
    _audit(session, changed_by, "member_added", member, workspace_id, {"role": role.value})
    return member


def set_role(
    *,
    session: Session,
    workspace_id: str,
    user_id: str,
    role: Role,
    by_role: Role | None = None,
    changed_by: ChangedBy | None = None,
) -> Member:
    """Change a member's role; the last owner cannot be demoted (ConflictError).

    ``changed_by``, when given, writes ``role_changed`` (from, to) to the audit log.
    """
    current = get_member(session=session, workspace_id=workspace_id, user_id=user_id)
    if current.role == role:
        return current
    _check_owner_change(by_role, role, current.role)
    if current.role == Role.owner and _owners(session, workspace_id) == 1:
        raise ConflictError("a workspace keeps at least one owner", field="role")
    session.execute(
        update(workspace_members)
        .where(workspace_members.c.workspace_id == workspace_id)
        .where(workspace_members.c.user_id == user_id)
        .values(role=role.value)
    )
    detail = {"from": current.role.value, "role": role.value}
    _audit(session, changed_by, "role_changed", current, workspace_id, detail)
    return current.model_copy(update={"role": role})


def remove_member(
    *,
    session: Session,
    workspace_id: str,
    user_id: str,
    by_role: Role | None = None,
    changed_by: ChangedBy | None = None,
) -> None:
    """Take a user out of a workspace; their sessions there stop working at once.

    The last owner stays (ConflictError). ``changed_by``, when given, writes
    ``member_removed`` to the audit log.
    """
    current = get_member(session=session, workspace_id=workspace_id, user_id=user_id)
    _check_owner_change(by_role, current.role)
    if current.role == Role.owner and _owners(session, workspace_id) == 1:
        raise ConflictError("a workspace keeps at least one owner", field="user_id")
    session.execute(
        delete(workspace_members)
        .where(workspace_members.c.workspace_id == workspace_id)
        .where(workspace_members.c.user_id == user_id)
    )
    session.execute(
        delete(user_sessions)
        .where(user_sessions.c.workspace_id == workspace_id)
        .where(user_sessions.c.user_id == user_id)
    )
    _audit(
        session, changed_by, "member_removed", current, workspace_id, {"role": current.role.value}
    )
