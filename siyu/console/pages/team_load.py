"""The blocking calls behind the team & privacy page: members and roles (siyu.accounts), the
audit log, and data-subject export and erasure (siyu.pipeline.privacy) — each audited in the
domain exactly as the API's routes are."""

from __future__ import annotations

import secrets
from datetime import datetime

from pydantic import BaseModel, Field

from siyu.accounts import resets
from siyu.accounts import service as accounts
from siyu.accounts.models import ChangedBy, Member, PasswordResetIssued
from siyu.accounts.permissions import Role
from siyu.core.runtime import Runtime
from siyu.pipeline import persons
from siyu.pipeline import privacy as privacy_requests
from siyu.privacy.models import AuditAction, AuditEntry, ErasureReceipt

AUDIT_PAGE = 20
FIRST_PASSWORD_BYTES = 12  # 16 URL-safe characters: above the 10 a password needs


class Operator(BaseModel):
    """Who acts from the console: the audit log's actor and the role the domain checks."""

    user_id: str
    role: Role

    @property
    def actor(self) -> str:
        """As the audit log names a console user (the API's ``actor_of`` for a session)."""
        return f"user:{self.user_id}"

    def changed_by(self, now: datetime) -> ChangedBy:
        """This operator at ``now``, for a membership change."""
        return ChangedBy(actor=self.actor, at=now)


class UserAdded(BaseModel):
    """A member as added; ``password`` is the new account's first password, shown once (None
    when the email already had an account, which keeps its password)."""

    member: Member
    password: str | None = None


class AuditView(BaseModel):
    """A page of the audit log, and the emails of the users it names."""

    entries: list[AuditEntry]
    next_before_id: int | None
    emails: dict[str, str] = Field(description="User id → email, for user:<id> actors.")


class ExportFile(BaseModel):
    """A person's export as the JSON document the API answers, ready to download."""

    person_id: str
    filename: str
    content: bytes


def members(*, runtime: Runtime, workspace_id: str) -> list[Member]:
    """The workspace's users and roles, by email."""
    with runtime.sessions() as session:
        return accounts.list_members(session=session, workspace_id=workspace_id)


def add_user(
    *,
    runtime: Runtime,
    workspace_id: str,
    email: str,
    role: Role,
    by: Operator,
    now: datetime,
    name: str = "",
) -> UserAdded:
    """Give ``email`` a role here, creating the account with a random first password when the
    email is new (as ``POST /api/users`` does with a given one). Audited as ``member_added``.

    Raises:
        InvalidInputError: the email does not look like one.
        ConflictError: already a member.
        ForbiddenError: only an owner adds an owner.
    """
    password = None
    with runtime.sessions() as session, session.begin():
        user = accounts.find_user(session=session, email=email)
        if user is None:
            password = secrets.token_urlsafe(FIRST_PASSWORD_BYTES)
            user = accounts.create_user(
                session=session, email=email, password=password, name=name, now=now
            )
        member = accounts.add_member(
            session=session,
            workspace_id=workspace_id,
            user_id=user.id,
            role=role,
            now=now,
            by_role=by.role,
            changed_by=by.changed_by(now),
        )
    return UserAdded(member=member, password=password)


def set_role(
    *, runtime: Runtime, workspace_id: str, user_id: str, role: Role, by: Operator, now: datetime
) -> Member:
    """A member's new role (the last owner stays owner: ConflictError). Audited."""
    with runtime.sessions() as session, session.begin():
        return accounts.set_role(
            session=session,
            workspace_id=workspace_id,
            user_id=user_id,
            role=role,
            by_role=by.role,
            changed_by=by.changed_by(now),
        )


def remove_user(
    *, runtime: Runtime, workspace_id: str, user_id: str, by: Operator, now: datetime
) -> str:
    """Take a member out (the last owner stays: ConflictError); their sessions here end.
    Audited. Answers the user id."""
    with runtime.sessions() as session, session.begin():
        accounts.remove_member(
            session=session,
            workspace_id=workspace_id,
            user_id=user_id,
            by_role=by.role,
            changed_by=by.changed_by(now),
        )
    return user_id


def issue_reset(
    *, runtime: Runtime, workspace_id: str, user_id: str, by: Operator, now: datetime
) -> PasswordResetIssued:
    """A one-time password reset token for a member (shown once; audited)."""
    with runtime.sessions() as session, session.begin():
        return resets.issue_reset(
            session=session,
            workspace_id=workspace_id,
            user_id=user_id,
            actor=by.actor,
            now=now,
            by_role=by.role,
        )


def reset_password(*, runtime: Runtime, token: str, new_password: str, now: datetime) -> str:
    """Use a reset token once (the /password-reset page): the new password is set and every
    session of the user ends; answers the user id. AuthError for an unknown, used or expired
    token; InvalidInputError for a password the accounts domain refuses."""
    with runtime.sessions() as session, session.begin():
        return resets.reset_password(
            session=session, token=token, new_password=new_password, now=now
        )


def audit(
    *,
    runtime: Runtime,
    workspace_id: str,
    action: AuditAction | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = AUDIT_PAGE,
) -> AuditView:
    """A page of the audit log, newest first, with the emails of the users it names."""
    page = privacy_requests.list_audit(
        runtime=runtime,
        workspace_id=workspace_id,
        limit=limit,
        before_id=before_id,
        action=action,
        since=since,
        until=until,
    )
    named = {
        raw.removeprefix("user:")
        for e in page.entries
        for raw in (e.actor, e.subject)
        if raw.startswith("user:")
    }
    with runtime.sessions() as session:
        emails = accounts.emails_of(session=session, user_ids=sorted(named))
    return AuditView(entries=page.entries, next_before_id=page.next_before_id, emails=emails)


def find_person(
    *, runtime: Runtime, workspace_id: str, kind: str, value: str
) -> persons.PersonView:
    """The person with person id ``value`` (``kind`` "person_id") or holding the identifier
    ``value`` of type ``kind`` (phone, member_id, …), as the People page finds one."""
    if kind == "person_id":
        return persons.get_person(runtime=runtime, workspace_id=workspace_id, person_id=value)
    return persons.find_person(
        runtime=runtime, workspace_id=workspace_id, identifier_type=kind, identifier=value
    )


def export_person(
    *, runtime: Runtime, workspace_id: str, person_id: str, by: Operator, now: datetime
) -> ExportFile:
    """Everything held about the person as one JSON document (audited as ``export`` first)."""
    doc = privacy_requests.export_person(
        runtime=runtime, workspace_id=workspace_id, person_id=person_id, actor=by.actor, now=now
    )
    return ExportFile(
        person_id=doc.person_id,
        filename=f"siyu-export-{doc.person_id}.json",
        content=doc.model_dump_json(indent=2).encode(),
    )


def erase_person(
    *,
    runtime: Runtime,
    workspace_id: str,
    person_id: str,
    by: Operator,
    now: datetime,
    request_key: str,
) -> ErasureReceipt:
    """Erase the person everywhere and answer the signed receipt (audited as ``erase``);
    ``request_key`` is the idempotency key, so a repeated click answers the same receipt."""
    return privacy_requests.erase_person(
        runtime=runtime,
        workspace_id=workspace_id,
        person_id=person_id,
        actor=by.actor,
        now=now,
        idempotency_key=request_key,
    )
