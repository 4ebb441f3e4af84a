"""``siyu journeys``: create and publish journeys from JSON/YAML files, change their status,
dry-run a date range and read per-node and per-variant stats (rich tables, a bar per node)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.console import Console
from rich.table import Table

from siyu.cli.main import JsonOption, WorkspaceOption, pick_workspace, readable_errors, runtime
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError
from siyu.journeys import service as journeys
from siyu.journeys import stats as journey_stats
from siyu.journeys.definition import load_definition
from siyu.journeys.models import JourneyDefinition, edges_of
from siyu.pipeline import journey_checks
from siyu.pipeline.journeys import dry_run_journey

journeys_app: typer.Typer = typer.Typer(
    help="Journeys: definitions, versions, status, dry runs and stats.", no_args_is_help=True
)
out = Console()
BAR = 30


def _read(file: Path) -> JourneyDefinition:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read {file}: {exc.strerror}", field="file") from None
    fmt = {".yaml": "yaml", ".yml": "yaml", ".json": "json"}.get(file.suffix, "auto")
    return load_definition(text, fmt=fmt)


def _echo_journey(journey: journeys.Journey, as_json: bool, zone: str) -> None:
    if as_json:
        typer.echo(orjson.dumps(journey.model_dump(mode="json")).decode())
        return
    updated = journey.updated_at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    typer.echo(f"{journey.id}  {journey.name}  {journey.status.value}  "
               f"v{journey.current_version}  {journey.trigger_type}  {updated}")  # fmt: skip


@journeys_app.command("list")
@readable_errors
def list_(workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """The workspace's journeys."""
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session:
        found = journeys.list_journeys(session=session, workspace_id=ws.id)
    if as_json:
        typer.echo(orjson.dumps([j.model_dump(mode="json") for j in found]).decode())
        return
    table = Table("name", "status", "v", "trigger")
    table.add_column("id", no_wrap=True, min_width=30)  # ids are copied: never cut them
    for j in found:
        table.add_row(j.name, j.status.value, str(j.current_version), j.trigger_type, j.id)
    out.print(table)


@journeys_app.command("create")
@readable_errors
def create(file: Path, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Create a journey (a draft, version 1) from a JSON or YAML file."""
    definition = _read(file)
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session, session.begin():
        made = journey_checks.create_journey(
            session=session, workspace_id=ws.id, definition=definition, now=utcnow()
        )
    _echo_journey(made, as_json, ws.timezone)


@journeys_app.command("show")
@readable_errors
def show(journey_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """One journey: status, version and its nodes."""
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session:
        found = journeys.get_journey(session=session, workspace_id=ws.id, journey_id=journey_id)
    _echo_journey(found, as_json, ws.timezone)
    if as_json:
        return
    table = Table("node", "type", "goes to")
    for node in found.definition.nodes:
        table.add_row(node.id, node.type, ", ".join(edges_of(node)))
    out.print(table)


@journeys_app.command("publish")
@readable_errors
def publish(
    journey_id: str, file: Path, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """Publish FILE as the next version (people already in keep theirs)."""
    definition = _read(file)
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session, session.begin():
        done = journey_checks.publish_version(session=session, workspace_id=ws.id,
                                        journey_id=journey_id, definition=definition,
                                        now=utcnow())  # fmt: skip
    _echo_journey(done, as_json, ws.timezone)


def _status(journey_id: str, workspace: str | None, status: journeys.JourneyStatus) -> None:
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session, session.begin():
        done = journey_checks.set_status(session=session, workspace_id=ws.id, journey_id=journey_id,
                                   status=status, now=utcnow())  # fmt: skip
    _echo_journey(done, False, ws.timezone)


@journeys_app.command("activate")
@readable_errors
def activate(journey_id: str, workspace: WorkspaceOption = None) -> None:
    """Start taking entries and stepping people."""
    _status(journey_id, workspace, journeys.JourneyStatus.ACTIVE)


@journeys_app.command("pause")
@readable_errors
def pause(journey_id: str, workspace: WorkspaceOption = None) -> None:
    """Stop entries and steps; people wait where they are."""
    _status(journey_id, workspace, journeys.JourneyStatus.PAUSED)


@journeys_app.command("resume")
@readable_errors
def resume(journey_id: str, workspace: WorkspaceOption = None) -> None:
    """Resume a paused journey."""
    _status(journey_id, workspace, journeys.JourneyStatus.ACTIVE)


@journeys_app.command("archive")
@readable_errors
def archive(journey_id: str, workspace: WorkspaceOption = None) -> None:
    """Archive for good."""
    _status(journey_id, workspace, journeys.JourneyStatus.ARCHIVED)


def _when(value: str, name: str, zone: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"--{name} {value!r} is not a date or ISO time, e.g. 2026-12-01", field=name
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(zone))


@journeys_app.command("dry-run")
@readable_errors
def dry_run(
    journey_id: str,
    start: Annotated[str, typer.Option("--start", help="First day or ISO time (local zone).")],
    end: Annotated[str, typer.Option("--end", help="End (excluded), day or ISO time.")],
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """What the journey would do over [start, end): entries, messages per channel per day,
    sends the frequency caps would hold. Nothing is written or sent."""
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    since, until = _when(start, "start", ws.timezone), _when(end, "end", ws.timezone)
    found = dry_run_journey(runtime=rt, workspace_id=ws.id, journey_id=journey_id, since=since,
                            until=until, now=utcnow())  # fmt: skip
    if as_json:
        typer.echo(orjson.dumps(found.model_dump(mode="json")).decode())
        return
    out.print(f"entries {found.entries}   messages {found.messages_total}   "
              f"staff tasks {found.staff_tasks}   held back {found.held_back}")  # fmt: skip
    table = Table("day", "channel", "messages")
    for row in found.messages:
        table.add_row(row.day.isoformat(), row.channel, str(row.messages))
    out.print(table)
    for reason, count in sorted(found.held_by_reason.items()):
        out.print(f"held {reason}: {count}")
    for note in found.notes:
        out.print(f"[dim]note: {note}[/dim]")


def _bar(value: int, top: int) -> str:
    return "█" * (round(BAR * value / top) if top else 0)


@journeys_app.command("stats")
@readable_errors
def stats(journey_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False) -> None:
    """Per node (entered, waiting, passed, sent, failed, converted, with a bar) and per variant
    (conversion, 95% interval, lift and p-value against the control)."""
    rt = runtime()
    ws = pick_workspace(rt, workspace)
    with rt.sessions() as session:
        journeys.get_journey(session=session, workspace_id=ws.id, journey_id=journey_id)
        found = journey_stats.journey_stats(session=session, workspace_id=ws.id,
                                            journey_id=journey_id)  # fmt: skip
    if as_json:
        typer.echo(orjson.dumps(found.model_dump(mode="json")).decode())
        return
    out.print(f"entries {found.entries}   live {found.live}   converted {found.converted}")
    top = max((n.entered for n in found.nodes), default=0)
    nodes = Table("node", "type", "entered", "", "waiting", "passed", "sent", "failed", "conv.")
    for n in found.nodes:
        counts = (n.waiting, n.passed, n.sent, n.failed, n.converted)
        nodes.add_row(n.node_id, n.type or "(removed)", str(n.entered), _bar(n.entered, top),
                      *map(str, counts))  # fmt: skip
    out.print(nodes)
    if found.variants:
        table = Table("variant", "entered", "converted", "rate", "95% interval", "lift", "p")
        for v in found.variants:
            lift = f"{v.lift:+.1%}" if v.lift is not None else ""
            p = f"{v.p_value:.3f}" if v.p_value is not None else ""
            name = f"{v.variant} (control)" if v.control else v.variant
            table.add_row(name, str(v.entered), str(v.converted), f"{v.rate:.1%}",
                          f"{v.low:.1%} – {v.high:.1%}", lift, p)  # fmt: skip
        out.print(table)
