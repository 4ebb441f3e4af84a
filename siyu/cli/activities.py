"""``siyu activities``: list, create from a JSON file, show, and funnel/ROI stats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from siyu.activities import service as activities
from siyu.activities.models import Activity, ActivityCreate, ActivityKind
from siyu.cli.main import JsonOption, WorkspaceOption, echo, open_workspace, readable_errors
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.pipeline import activities as flow

activities_app: typer.Typer = typer.Typer(
    help="Activities (活动运营): lottery, group-buy, assist/bargain, sign-up.",
    no_args_is_help=True,
)


def _read(file: Path) -> ActivityCreate:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}", field="file") from None
    try:
        return ActivityCreate.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise InvalidInputError(f"{where}: {first['msg']}", field=where) from None


def _line(a: Activity) -> str:
    stock = "∞" if a.stock_left is None else str(a.stock_left)
    budget = "∞" if a.budget_fen is None else str(a.budget_fen)
    return (
        f"{a.id}  {a.kind.value:9}  {a.name}  {a.starts_at:%Y-%m-%d}→{a.ends_at:%Y-%m-%d}  "
        f"stock {stock}  spent {a.spent_fen}/{budget} fen"
    )


@activities_app.command("list")
@readable_errors
def list_(
    kind: Annotated[ActivityKind | None, typer.Option(help="Only this kind.")] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """The workspace's activities, newest first."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        found = activities.list_activities(session=session, workspace_id=ws.id, kind=kind)
    echo(found, as_json, _line)


@activities_app.command("create")
@readable_errors
def create(
    file: Annotated[Path, typer.Argument(help="A JSON file of the activity (see docs).")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an activity from a JSON file."""
    body = _read(file)
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session, session.begin():
        made = activities.create_activity(
            session=session, workspace_id=ws.id, activity=body, now=utcnow()
        )
    echo(made, as_json, _line)


@activities_app.command("show")
@readable_errors
def show(activity_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """One activity with its prizes' stock."""
    with open_workspace(workspace) as (rt, ws), rt.sessions() as session:
        found = activities.get_activity(
            session=session, workspace_id=ws.id, activity_id=activity_id
        )
    if as_json:
        typer.echo(found.model_dump_json())
        return
    typer.echo(_line(found))
    for p in found.prizes:
        left = "∞" if p.stock is None else p.stock
        typer.echo(f"  {p.id}  {p.name}  {p.kind}  weight {p.weight}  left {left}  won {p.won}")


@activities_app.command("stats")
@readable_errors
def stats(activity_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Funnel (view → join → share → help → complete → order), GMV, cost and ROI."""
    with open_workspace(workspace) as (rt, ws):
        found = flow.activity_stats(runtime=rt, workspace_id=ws.id, activity_id=activity_id)
    if as_json:
        typer.echo(found.model_dump_json())
        return
    for step in found.funnel:
        typer.echo(f"{step.step:9} {step.persons:8} persons {step.events:8} events")
    roi = "—" if found.roi is None else f"{found.roi:.2f}"
    typer.echo(
        f"orders {found.orders}  GMV {found.gmv_fen} fen  cost {found.cost_fen} fen  ROI {roi}"
    )
    for reason, n in sorted(found.refusals.items()):
        typer.echo(f"refused {reason}: {n}")
