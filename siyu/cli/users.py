"""``siyu users``: create users with a role in a workspace, change their role, remove them
(each audited, as through /api/users), list them, issue password resets, print the access
table."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from siyu.accounts import resets
from siyu.accounts import service as accounts
from siyu.accounts.models import ChangedBy, Member
from siyu.accounts.permissions import Role, markdown_table
from siyu.cli.main import (
    JsonOption,
    WorkspaceOption,
    cli_actor,
    echo,
    open_workspace,
    readable_errors,
)
from siyu.core.clock import utcnow
from siyu.core.errors import NotFoundError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

users_app: typer.Typer = typer.Typer(
    help="Console and API users: roles per workspace.", no_args_is_help=True
)

PasswordOption = Annotated[
    str,
    typer.Option(
        prompt=True, hide_input=True, confirmation_prompt=True, help="At least 10 characters."
    ),
]


def _changed_by() -> ChangedBy:
    return ChangedBy(actor=cli_actor(), at=utcnow())


def _user_id(session: Session, email: str) -> str:
    user = accounts.find_user(session=session, email=email)
    if user is None:
        raise NotFoundError(f"no user {email}", field="email")
    return user.id


def add_user(
    *, session: Session, workspace_id: str, email: str, password: str, role: Role, name: str = ""
) -> Member:
    """Create the user if the email is new (else reuse it) and give it ``role`` here; audited
    as ``member_added`` by ``cli:<os user>``."""
    user = accounts.find_user(session=session, email=email) or accounts.create_user(
        session=session, email=email, password=password, name=name, now=utcnow()
    )
    return accounts.add_member(
        session=session, workspace_id=workspace_id, user_id=user.id, role=role, now=utcnow(),
        changed_by=_changed_by(),
    )  # fmt: skip


@users_app.command("create")
@readable_errors
def users_create(
    email: Annotated[str, typer.Option("--email", help="Sign-in email.")],
    role: Annotated[
        Role, typer.Option("--role", help="owner, admin, operator, analyst, read_only.")
    ],
    password: PasswordOption,
    workspace: WorkspaceOption = None,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Add a user to a workspace (an existing user keeps their password; audited)."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        member = add_user(
            session=session, workspace_id=ws.id, email=email, password=password, role=role,
            name=name,
        )  # fmt: skip
    echo(member, as_json, lambda m: f"{m.user_id}  {m.email}  {m.role.value}  in {ws.id}")


@users_app.command("list")
@readable_errors
def users_list(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """The workspace's users and roles."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        members = accounts.list_members(session=session, workspace_id=ws.id)
    if as_json:
        typer.echo(json.dumps([m.model_dump(mode="json") for m in members], ensure_ascii=False))
        return
    for m in members:
        typer.echo(f"{m.user_id}  {m.email}  {m.role.value}")


@users_app.command("reset-password")
@readable_errors
def users_reset_password(
    email: Annotated[str, typer.Option("--email", help="Whose password.")],
    workspace: WorkspaceOption = None,
    hours: Annotated[int, typer.Option("--hours", min=1, max=168, help="Valid for.")] = 24,
    as_json: JsonOption = False,
) -> None:
    """Issue a one-time reset token for a user of the workspace (audited).

    The user sets a new password with it at POST /api/auth/password-reset, which signs them
    out everywhere.
    """
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        issued = resets.issue_reset(
            session=session,
            workspace_id=ws.id,
            user_id=_user_id(session, email),
            actor=cli_actor(),
            now=utcnow(),
            ttl=timedelta(hours=hours),
        )
    if as_json:
        typer.echo(issued.model_dump_json())
        return
    until = f"{issued.expires_at:%Y-%m-%d %H:%M} UTC"
    typer.echo(f"reset token  {issued.token}   (shown once; valid until {until})")


@users_app.command("role")
@readable_errors
def users_role(
    email: Annotated[str, typer.Option("--email", help="Whose role.")],
    role: Annotated[
        Role, typer.Option("--role", help="owner, admin, operator, analyst, read_only.")
    ],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a user's role in the workspace (audited as role_changed); the last owner stays."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        member = accounts.set_role(
            session=session, workspace_id=ws.id, user_id=_user_id(session, email), role=role,
            changed_by=_changed_by(),
        )  # fmt: skip
    echo(member, as_json, lambda m: f"{m.user_id}  {m.email}  {m.role.value}  in {ws.id}")


@users_app.command("remove")
@readable_errors
def users_remove(
    email: Annotated[str, typer.Option("--email", help="Whom to remove.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Take a user out of the workspace, ending their sessions there (audited as
    member_removed); the last owner stays."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        accounts.remove_member(
            session=session, workspace_id=ws.id, user_id=_user_id(session, email),
            changed_by=_changed_by(),
        )  # fmt: skip
    typer.echo(f"removed {email} from {ws.id}")


@users_app.command("permissions")
def users_permissions() -> None:
    """Print the access table (Markdown), as in docs/access.md."""
    typer.echo(markdown_table(), nl=False)
