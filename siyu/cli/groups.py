"""``siyu groups``: sync customer groups from WeCom, list and show them, group live codes,
SOPs, and group health."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from siyu.cli.main import (
    JsonOption,
    WorkspaceOption,
    echo,
    open_workspace,
    readable_errors,
    transact,
)
from siyu.community import service as community
from siyu.community.models import GroupLiveCodeCreate, GroupScanCreate, SopCreate
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.pipeline import community as flow
from siyu.pipeline import community_health, community_sops
from siyu.workspaces import service as workspaces

groups_app: typer.Typer = typer.Typer(
    help="Customer groups (社群): WeCom sync, group live codes, SOPs, health.",
    no_args_is_help=True,
)
live_code_app: typer.Typer = typer.Typer(help="Group live codes (群活码).", no_args_is_help=True)
sop_app: typer.Typer = typer.Typer(
    help="Group SOPs: scheduled posts and reminders.", no_args_is_help=True
)
groups_app.add_typer(live_code_app, name="live-code")
groups_app.add_typer(sop_app, name="sop")
M = TypeVar("M", bound=BaseModel)


def _read(file: Path, model: type[M]) -> M:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}", field="file") from None
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise InvalidInputError(f"{where}: {first['msg']}", field=where) from None


@groups_app.command("sync")
@readable_errors
def sync(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Fetch every customer group and its members from WeCom (a full sync)."""
    with open_workspace(workspace) as (rt, ws):
        report = flow.sync_groups(runtime=rt, workspace_id=ws.id, now=utcnow())
    echo(
        report,
        as_json,
        lambda r: (
            f"{r.groups} groups ({r.new_groups} new, {r.dismissed} dismissed), {r.joins} joins, "
            f"{r.leaves} leaves, {r.linked_persons} members linked to persons"
        ),
    )


def _group_line(g: Any) -> str:
    tags = ",".join(g.tags) or "-"
    return (
        f"{g.chat_id}  {g.name or '(unnamed)'}  owner {g.owner_userid or '-'}  "
        f"{g.members}/{g.cap} members  seats {g.seats}  {g.status.value}  tags {tags}"
    )


@groups_app.command("list")
@readable_errors
def list_(
    tag: Annotated[str | None, typer.Option(help="Only groups with this tag.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's groups.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Customer groups, by name."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        found = community.list_groups(session=session, workspace_id=ws.id, tag=tag, owner=owner)
    echo(found, as_json, _group_line)


@groups_app.command("show")
@readable_errors
def show(chat_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """One group with its members."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        found = community.get_group(session=session, workspace_id=ws.id, chat_id=chat_id)
    echo(found, as_json, _group_line)
    if not as_json:
        for m in found.member_list:
            gone = f"  left {m.left_at:%Y-%m-%d}" if m.left_at else ""
            who = "staff" if m.staff else (m.person_id or "unknown person")
            typer.echo(f"  {m.member_id}  {who}{gone}")


@groups_app.command("tag")
@readable_errors
def tag(
    chat_id: str,
    tags: Annotated[list[str], typer.Argument(help="The group's tags (replaces them).")],
    workspace: WorkspaceOption = None,
) -> None:
    """Set a group's operator tags."""
    typer.echo(_group_line(transact(workspace, community.set_tags, chat_id=chat_id, tags=tags)))


# -- live codes ----------------------------------------------------------------------------------


def _code_line(c: Any) -> str:
    return (
        f"{c.id}  {c.name}  state {c.state}  now {c.current_chat_id or '-'}  "
        f"groups {len(c.chat_ids)}  cap {c.cap}  next {c.room_base_name}{c.room_base_id}"
    )


@live_code_app.command("create")
@readable_errors
def create_code(
    file: Annotated[Path, typer.Argument(help="A JSON file of the code (see docs/community.md).")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a group live code and its WeCom join way."""
    body = _read(file, GroupLiveCodeCreate)
    with open_workspace(workspace) as (rt, ws):
        made = flow.create_live_code(runtime=rt, workspace_id=ws.id, code=body, now=utcnow())
    echo(made, as_json, _code_line)


@live_code_app.command("list")
@readable_errors
def list_codes(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Group live codes and the group each points at."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        found = community.list_codes(session=session, workspace_id=ws.id)
    echo(found, as_json, _code_line)


@live_code_app.command("scan")
@readable_errors
def scan(
    code_id: str,
    identifier: Annotated[str, typer.Argument(help="The customer's id (external_userid).")],
    identifier_type: Annotated[str, typer.Option(help="Its type.")] = "wecom_external_userid",
    key: Annotated[str | None, typer.Option(help="Idempotency key.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record a scan: seat the customer (rotating, or making a group when all are full)."""
    body = GroupScanCreate(identifier=identifier, identifier_type=identifier_type)
    with open_workspace(workspace) as (rt, ws):
        made = flow.scan_live_code(
            runtime=rt,
            workspace_id=ws.id,
            code_id=code_id,
            scan=body,
            now=utcnow(),
            idempotency_key=key,
        )
    echo(made, as_json, lambda s: f"{s.outcome}  {s.chat_id or '-'}  person {s.person_id}")


@live_code_app.command("check")
@readable_errors
def check_codes(workspace: WorkspaceOption = None) -> None:
    """Move codes to a group with room and point WeCom's join ways there."""
    with open_workspace(workspace) as (rt, ws):
        moved = flow.check_live_codes(runtime=rt, workspace_id=ws.id)
    typer.echo(f"re-pointed {len(moved)} codes")


# -- SOP -----------------------------------------------------------------------------------------


def _sop_line(s: Any) -> str:
    when = f"{s.next_run_at:%Y-%m-%d %H:%M}Z" if s.next_run_at else "done"
    target = f"tag {s.tag}" if s.tag else f"{len(s.chat_ids)} groups"
    return f"{s.id}  {s.kind}  {s.name}  {target}  next {when}  {'on' if s.active else 'off'}"


@sop_app.command("create")
@readable_errors
def create_sop(
    file: Annotated[Path, typer.Argument(help="A JSON file of the SOP (see docs/community.md).")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an SOP: a post or a reminder, once or every day / week."""
    body = _read(file, SopCreate)
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        zone = workspaces.get_workspace(session=session, workspace_id=ws.id).timezone
        made = community.create_sop(
            session=session, workspace_id=ws.id, sop=body, zone=zone, now=utcnow()
        )
    echo(made, as_json, _sop_line)


@sop_app.command("list")
@readable_errors
def list_sops(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """SOPs and their next run."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        found = community.list_sops(session=session, workspace_id=ws.id)
    echo(found, as_json, _sop_line)


def _task_line(t: Any) -> str:
    done = sum(v == "sent" for v in t.results.values())
    return (
        f"{t.id}  {t.sop_id}  {t.sender}  {t.status}  msgid {t.msgid or '-'}  "
        f"{done}/{len(t.chat_ids)} groups sent"
    )


@sop_app.command("run")
@readable_errors
def run_sops(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Run due SOPs now and read back the WeCom tasks awaiting confirmation."""
    with open_workspace(workspace) as (rt, ws):
        now = utcnow()
        made = community_sops.run_due_sops(runtime=rt, workspace_id=ws.id, now=now)
        made += community_sops.poll_sop_tasks(runtime=rt, workspace_id=ws.id, now=now)
    echo(made, as_json, _task_line)


@sop_app.command("tasks")
@readable_errors
def sop_tasks(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Every SOP task, newest first."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        found = community.list_sop_tasks(session=session, workspace_id=ws.id)
    echo(found, as_json, _task_line)


# -- health --------------------------------------------------------------------------------------


def _health_line(g: Any) -> str:
    return (
        f"{g.key:28} {g.name[:14]:14} {g.members:6} members  +{g.joins}/-{g.leaves}  "
        f"{g.active_speakers:4} speakers {g.messages:6} msgs  {g.orders:4} orders  "
        f"{g.gmv_fen / 100:,.2f} yuan"
    )


@groups_app.command("health")
@readable_errors
def health(
    days: Annotated[int, typer.Option(min=1, max=365, help="The last N days.")] = 30,
    by_owner: Annotated[bool, typer.Option("--by-owner", help="Per owner.")] = False,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Members, joins/leaves, active speakers, messages, orders and GMV per group (or owner);
    then the dormant groups."""
    until = utcnow()
    since = until - timedelta(days=days)
    with open_workspace(workspace) as (rt, ws):
        report = community_health.group_health(
            runtime=rt, workspace_id=ws.id, since=since, until=until
        )
        with rt.sessions() as session:
            dormant = community.dormant_groups(
                session=session, workspace_id=ws.id, now=until, days=7
            )
    if as_json:
        typer.echo(report.model_dump_json())
        return
    for row in report.owners if by_owner else report.groups:
        typer.echo(_health_line(row))
    for d in dormant:
        typer.echo(f"dormant: {d.chat_id} {d.name} ({', '.join(d.reasons)})")
