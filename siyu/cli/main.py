"""``siyu``: create workspaces, serve, import, rebuild identities, build the demo brand.

Every command answers bad input with one readable line on stderr and a non-zero exit code
(2 bad input, 3 auth, 4 not found, 5 conflict, 6 store).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import orjson
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from siyu.accounts import service as accounts
from siyu.accounts.models import ChangedBy
from siyu.accounts.permissions import Role
from siyu.core.clock import utcnow
from siyu.core.db import store_error_of
from siyu.core.errors import (
    AuthError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    SiyuError,
    StoreError,
)
from siyu.core.runtime import Runtime, open_runtime, tune_gc_for_ingest
from siyu.workspaces import service as workspaces
from siyu.workspaces.models import Workspace

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from siyu.analytics.periods import Period
    from siyu.collect.imports import ImportSummary
    from siyu.collect.models import IngestResult
    from siyu.demo.build import DemoKeys

app = typer.Typer(help="siyu (私域): your brand's own customer pool.", no_args_is_help=True)
workspace_app = typer.Typer(help="Workspaces (one per brand).", no_args_is_help=True)
identity_app = typer.Typer(help="The identity graph (OneID).", no_args_is_help=True)
app.add_typer(workspace_app, name="workspace")
app.add_typer(identity_app, name="identity")

err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

EXIT_CODES: list[tuple[type[SiyuError], int]] = [
    (InvalidInputError, 2),
    (AuthError, 3),
    (NotFoundError, 4),
    (ConflictError, 5),
    (StoreError, 6),
]


def exit_code_of(error: SiyuError) -> int:
    """The exit code for an error class."""
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), 1)


def readable_errors(command: F) -> F:
    """Turn a SiyuError, or a database or disk failure, into one line on stderr and its exit
    code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except SiyuError as exc:
            _fail(exc)
        except Exception as exc:
            store = store_error_of(exc)
            if store is None:
                raise  # a bug: keep its traceback
            _fail(store)

    return wrapper  # type: ignore[return-value]


def _fail(error: SiyuError) -> NoReturn:
    where = f" ({error.field})" if error.field else ""
    err.print(f"[red]error[/red]{where}: {error.message}", highlight=False, soft_wrap=True)
    raise typer.Exit(exit_code_of(error)) from None


def runtime() -> Runtime:
    """The stores named by the environment, migrated."""
    return open_runtime()


@app.command()
@readable_errors
def migrate() -> None:
    """Create or upgrade the operational store's tables."""
    open_runtime().close()
    typer.echo("migrated")


@workspace_app.command("create")
@readable_errors
def workspace_create(
    name: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    timezone: Annotated[str, typer.Option(help="IANA zone for display.")] = "Asia/Shanghai",
    owner_email: Annotated[
        str | None,
        typer.Option("--owner-email", help="Also create the first owner user (asks a password)."),
    ] = None,
    owner_password: Annotated[
        str | None, typer.Option("--owner-password", help="The owner's password (else asked).")
    ] = None,
) -> None:
    """Create a workspace and print its keys (the secret key is shown only now)."""
    rt = runtime()
    if owner_email and not owner_password:
        owner_password = typer.prompt("Owner password", hide_input=True, confirmation_prompt=True)
    with rt.sessions() as session, session.begin():
        created = workspaces.create_workspace(
            session=session, name=name, now=utcnow(), timezone=timezone
        )
        if owner_email and owner_password:
            _create_owner(session, created.workspace_id, owner_email, owner_password)
    if as_json:
        typer.echo(json.dumps(created.model_dump()))
        return
    typer.echo(f"workspace_id  {created.workspace_id}")
    typer.echo(f"write_key     {created.write_key}")
    typer.echo(f"secret_key    {created.secret_key}   (shown once; keep it safe)")


def _create_owner(session: Session, workspace_id: str, email: str, password: str) -> None:
    user = accounts.find_user(session=session, email=email) or accounts.create_user(
        session=session, email=email, password=password, now=utcnow()
    )
    now = utcnow()
    accounts.add_member(
        session=session,
        workspace_id=workspace_id,
        user_id=user.id,
        role=Role.owner,
        now=now,
        changed_by=ChangedBy(actor=cli_actor(), at=now),
    )


@workspace_app.command("list")
@readable_errors
def workspace_list() -> None:
    """List workspaces."""
    rt = runtime()
    with rt.sessions() as session:
        for ws in workspaces.list_workspaces(session=session):
            typer.echo(f"{ws.id}  {ws.name}  {ws.timezone}")


@app.command()
@readable_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (each with its own writer).")] = 1,
) -> None:
    """Serve the collection and management API over an existing data directory."""
    import uvicorn

    from siyu.api.app import create_app

    rt = runtime()  # migrates once, before any worker starts
    if workers > 1:
        rt.close()
        typer.echo("the console is served with --workers 1 only; this runs the API alone")
        uvicorn.run(
            "siyu.api.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            proxy_headers=False,  # SIYU_TRUSTED_PROXIES decides (siyu.accounts.client_address)
        )
        return
    app_ = create_app(rt)
    tune_gc_for_ingest()
    uvicorn.run(app_, host=host, port=port, log_level="warning", proxy_headers=False)


@app.command()
@readable_errors
def flush() -> None:
    """Move events waiting in the inbox to the event store now."""
    from siyu import pipeline

    moved = pipeline.flush(runtime=runtime())
    typer.echo(f"moved {moved} events to the event store")


# -- siyu import ----------------------------------------------------------------------------

import_app = typer.Typer(
    help="Import order and member exports (CSV or Parquet) that never passed an SDK.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")

SourceOption = Annotated[
    str | None,
    typer.Option("--source", help="Export layout: taobao, jd, pos or generic (default: guess)."),
]
WorkspaceOption = Annotated[
    str | None,
    typer.Option("--workspace", help="Workspace id (needed when more than one exists)."),
]
RejectsOption = Annotated[
    Path | None,
    typer.Option("--rejects", help="Where to write rejected rows (default: next to FILE)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]


def pick_workspace(rt: Runtime, workspace_id: str | None) -> Workspace:
    """The workspace named, or the only one; InvalidInputError when it is ambiguous."""
    with rt.sessions() as session:
        if workspace_id:
            return workspaces.get_workspace(session=session, workspace_id=workspace_id)
        found = workspaces.list_workspaces(session=session)
    if len(found) != 1:
        raise InvalidInputError(
            f"{len(found)} workspaces exist; name one with --workspace", field="workspace"
        )
    return found[0]


@contextmanager
def open_workspace(workspace_id: str | None) -> Iterator[tuple[Runtime, Workspace]]:
    """The runtime and the workspace named (or the only one); the runtime is closed after."""
    rt = runtime()
    try:
        yield rt, pick_workspace(rt, workspace_id)
    finally:
        rt.close()


def transact(workspace_id: str | None, call: Callable[..., T], **kwargs: Any) -> T:
    """``call(session=…, workspace_id=…, **kwargs)`` in one transaction on the workspace."""
    with open_workspace(workspace_id) as (rt, ws), rt.sessions() as session, session.begin():
        return call(session=session, workspace_id=ws.id, **kwargs)


def echo(value: BaseModel | Sequence[BaseModel], as_json: bool, line: Callable[[Any], str]) -> None:
    """Print a model, or a list of them, as compact JSON or as one ``line`` each."""
    if as_json:
        typer.echo(
            value.model_dump_json()
            if isinstance(value, BaseModel)
            else orjson.dumps([v.model_dump(mode="json") for v in value]).decode()
        )
        return
    for item in [value] if isinstance(value, BaseModel) else value:
        typer.echo(line(item))


def cli_actor() -> str:
    """Who acts, for the audit log: the CLI runs on the server as an operator's shell account."""
    return f"cli:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'unknown'}"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
    )


def _run_import(
    kind: str, file: Path, source: str | None, workspace_id: str | None, rejects: Path | None
) -> ImportSummary:
    from siyu import pipeline
    from siyu.collect import imports

    with open_workspace(workspace_id) as (rt, workspace):
        table = imports.open_table(file)
        plan = imports.plan_import(
            table,
            kind=imports.ImportKind(kind),
            source=source,
            timezone=workspace.timezone,
            vault=rt.vault,
        )

        def ingest(messages: list[dict[str, Any]]) -> IngestResult:
            return pipeline.ingest(
                runtime=rt,
                workspace_id=workspace.id,
                messages=messages,
                received_at=utcnow(),
                prefix="row",
            )

        with _progress() as progress:
            task = progress.add_task(f"{kind} ({plan.source})", total=table.total_rows)
            summary = imports.run_import(
                table,
                plan,
                ingest=ingest,
                rejects_path=rejects,
                on_rows=lambda n: progress.advance(task, n),
            )
        pipeline.flush(runtime=rt)
    return summary


def _print_summary(summary: ImportSummary, as_json: bool) -> None:
    if as_json:
        typer.echo(summary.model_dump_json())
        return
    typer.echo(f"source      {summary.source} ({summary.encoding or 'parquet'})")
    typer.echo(f"rows read   {summary.rows_read}")
    typer.echo(f"imported    {summary.imported}")
    typer.echo(f"duplicates  {summary.duplicates}")
    typer.echo(f"skipped     {summary.skipped}")
    typer.echo(f"rejected    {summary.rejected}")
    if summary.reject_file:
        typer.echo(f"reject file {summary.reject_file}")


@import_app.command("orders")
@readable_errors
def import_orders(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GBK) or Parquet export.")],
    source: SourceOption = None,
    workspace: WorkspaceOption = None,
    rejects: RejectsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import orders as "Order Completed" events; re-running the same file adds nothing."""
    _print_summary(_run_import("orders", file, source, workspace, rejects), as_json)


@import_app.command("members")
@readable_errors
def import_members(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8 or GBK) or Parquet export.")],
    source: SourceOption = None,
    workspace: WorkspaceOption = None,
    rejects: RejectsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import members as identify calls carrying their ids and profile traits."""
    _print_summary(_run_import("members", file, source, workspace, rejects), as_json)


@import_app.command("spend")
@readable_errors
def import_spend(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet: date, channel, [campaign], spend.")],
    workspace: WorkspaceOption = None,
    rejects: RejectsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Import channel spend (yuan, or fen in spend_fen); re-running replaces, never adds."""
    from siyu.analytics import measure_service as measure

    summary = transact(
        workspace, measure.import_spend, path=file, now=utcnow(), rejects_path=rejects
    )
    if as_json:
        typer.echo(summary.model_dump_json())
        return
    typer.echo(f"rows read   {summary.rows_read}")
    typer.echo(f"stored      {summary.stored} (day, channel, campaign) rows")
    typer.echo(f"merged      {summary.merged}")
    typer.echo(f"rejected    {summary.rejected}")
    typer.echo(f"spend       ¥{summary.spend_fen / 100:,.2f}")
    if summary.reject_file:
        typer.echo(f"reject file {summary.reject_file}")


# -- siyu measure ---------------------------------------------------------------------------

measure_app = typer.Typer(
    help="Measurement boards: GMV decomposition, attribution, ROI, AARRR and RARRA.",
    no_args_is_help=True,
)
app.add_typer(measure_app, name="measure")

FromOption = Annotated[
    datetime | None,
    typer.Option("--from", formats=["%Y-%m-%d"], help="First day, local (default 7 days ago)."),
]
ToOption = Annotated[
    datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included.")
]
EngineOption = Annotated[str, typer.Option("--engine", help="duckdb or clickhouse.")]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        help="first_touch, last_touch, linear, time_decay, position_based or markov.",
    ),
]
LookbackOption = Annotated[int, typer.Option(min=1, max=365, help="Touch lookback (days).")]
HalfLifeOption = Annotated[float, typer.Option(min=0.01, help="Time-decay half-life (days).")]
ByOption = Annotated[str, typer.Option("--by", help="channel or campaign.")]


@contextmanager
def _measure_context(
    workspace_id: str | None, first: datetime | None, last: datetime | None
) -> Iterator[tuple[Runtime, Workspace, Period]]:
    from siyu.analytics.periods import period_of

    with open_workspace(workspace_id) as (rt, ws):
        period = period_of(
            first.date() if first else None,
            last.date() if last else None,
            timezone=ws.timezone,
            now=utcnow(),
        )
        yield rt, ws, period


def _choice(value: str, allowed: type[Any], field: str) -> Any:
    try:
        return allowed(value)
    except ValueError:
        raise InvalidInputError(f"unknown {field} {value!r} (see --help)", field=field) from None


def _show(result: Any, as_json: bool, render: Callable[[Any], Any]) -> None:
    if as_json:
        typer.echo(result.model_dump_json())
        return
    out = Console()
    rendered = render(result)
    for table in rendered if isinstance(rendered, list) else [rendered]:
        out.print(table)


@measure_app.command("gmv")
@readable_errors
def measure_gmv(
    first_day: FromOption = None,
    last_day: ToOption = None,
    workspace: WorkspaceOption = None,
    engine: EngineOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """GMV = traffic × conversion × orders per buyer × AOV, against the previous period."""
    from siyu.analytics import measure_service as measure
    from siyu.analytics.engine import Dialect
    from siyu.analytics.gmv import GmvQuery
    from siyu.cli.measure_tables import gmv_tables

    with _measure_context(workspace, first_day, last_day) as (rt, ws, period):
        result = measure.gmv(
            runtime=rt,
            workspace_id=ws.id,
            query=GmvQuery(period=period),
            dialect=_choice(engine, Dialect, "engine"),
        )
    _show(result, as_json, gmv_tables)


@measure_app.command("attribution")
@readable_errors
def measure_attribution(
    first_day: FromOption = None,
    last_day: ToOption = None,
    model: ModelOption = "last_touch",
    lookback_days: LookbackOption = 30,
    half_life_days: HalfLifeOption = 7.0,
    by: ByOption = "channel",
    workspace: WorkspaceOption = None,
    engine: EngineOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Orders of the period credited to channels under one attribution model."""
    from siyu.analytics import measure_service as measure
    from siyu.analytics.attribution import AttributionModel
    from siyu.analytics.attribution_report import AttributionQuery, TouchKey
    from siyu.analytics.engine import Dialect
    from siyu.cli.measure_tables import attribution_table

    with _measure_context(workspace, first_day, last_day) as (rt, ws, period):
        query = AttributionQuery(
            period=period,
            model=_choice(model, AttributionModel, "model"),
            lookback_days=lookback_days,
            half_life_days=half_life_days,
            by=_choice(by, TouchKey, "by"),
        )
        result = measure.attribution(
            runtime=rt, workspace_id=ws.id, query=query, dialect=_choice(engine, Dialect, "engine")
        )
    _show(result, as_json, attribution_table)


@measure_app.command("roi")
@readable_errors
def measure_roi(
    first_day: FromOption = None,
    last_day: ToOption = None,
    model: ModelOption = "last_touch",
    lookback_days: LookbackOption = 30,
    half_life_days: HalfLifeOption = 7.0,
    by: ByOption = "channel",
    horizon: Annotated[int, typer.Option(min=1, max=1095, help="Payback horizon (days).")] = 180,
    workspace: WorkspaceOption = None,
    engine: EngineOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """CAC, ROI, ROAS and payback per channel from imported spend."""
    from siyu.analytics import measure_service as measure
    from siyu.analytics.attribution import AttributionModel
    from siyu.analytics.attribution_report import TouchKey
    from siyu.analytics.engine import Dialect
    from siyu.analytics.roi import RoiQuery
    from siyu.cli.measure_tables import roi_table

    with _measure_context(workspace, first_day, last_day) as (rt, ws, period):
        query = RoiQuery(
            period=period,
            model=_choice(model, AttributionModel, "model"),
            lookback_days=lookback_days,
            half_life_days=half_life_days,
            by=_choice(by, TouchKey, "by"),
            payback_horizon_days=horizon,
        )
        result = measure.roi(
            runtime=rt, workspace_id=ws.id, query=query, dialect=_choice(engine, Dialect, "engine")
        )
    _show(result, as_json, roi_table)


ActivationOption = Annotated[
    list[str] | None,
    typer.Option("--activation-event", help="Key action for activation (repeatable)."),
]


def _board(
    kind: str,
    first: datetime | None,
    last: datetime | None,
    activation: list[str] | None,
    workspace: str | None,
    engine: str,
    as_json: bool,
) -> None:
    from siyu.analytics import measure_service as measure
    from siyu.analytics.boards import BoardKind, BoardQuery
    from siyu.analytics.engine import Dialect
    from siyu.cli.measure_tables import board_table

    with _measure_context(workspace, first, last) as (rt, ws, period):
        query = BoardQuery(period=period, kind=BoardKind(kind))
        if activation:
            query = query.model_copy(update={"activation_events": activation})
        result = measure.board(
            runtime=rt, workspace_id=ws.id, query=query, dialect=_choice(engine, Dialect, "engine")
        )
    _show(result, as_json, board_table)


@measure_app.command("aarrr")
@readable_errors
def measure_aarrr(
    first_day: FromOption = None,
    last_day: ToOption = None,
    activation_event: ActivationOption = None,
    workspace: WorkspaceOption = None,
    engine: EngineOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Acquisition, Activation, Retention, Revenue, Referral for the period."""
    _board("aarrr", first_day, last_day, activation_event, workspace, engine, as_json)


@measure_app.command("rarra")
@readable_errors
def measure_rarra(
    first_day: FromOption = None,
    last_day: ToOption = None,
    activation_event: ActivationOption = None,
    workspace: WorkspaceOption = None,
    engine: EngineOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Retention, Activation, Referral, Revenue, Acquisition for the period."""
    _board("rarra", first_day, last_day, activation_event, workspace, engine, as_json)


# -- siyu demo ------------------------------------------------------------------------------


def _build_demo(rt: Runtime, keys: DemoKeys) -> DemoKeys:
    from siyu.demo import build

    with _progress() as progress:
        task = progress.add_task("drawing the brand", total=None)

        def stage(text: str, total: int | None) -> None:
            progress.update(task, description=text, total=total, completed=0)

        report = build.build_demo(
            rt,
            workspace_id=keys.workspace_id,
            users=keys.users,
            seed=keys.seed,
            now=utcnow(),
            on_chunk=lambda n: progress.advance(task, n),
            on_stage=stage,
        )
    keys = keys.model_copy(update={"complete": True, "sample_member_id": report.sample_member_id})
    build.save_keys(build.keys_path(rt.settings.data_dir), keys)
    typer.echo(
        f"built {report.customers:,} customers, {report.events:,} events "
        f"({report.accepted:,} new, {report.rejected} rejected), {report.orders:,} orders, "
        f"GMV ¥{report.gmv_fen / 100:,.2f}"
    )
    typer.echo(
        f"ingest {report.ingest_seconds:.1f}s ({report.events_per_second:,.0f} events/s), "
        f"total {report.total_seconds:.1f}s; event store holds {report.stored_events:,} events"
    )
    return keys


def _print_demo(keys: DemoKeys, data_dir: Path, host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    typer.echo(f"console       {base}/")
    typer.echo(f"  email       {keys.owner_email}")
    if keys.owner_password:
        typer.echo(f"  password    {keys.owner_password}   (shown this once; not stored)")
    else:
        typer.echo("  password    as printed when it was made (--owner-password sets a new one)")
    typer.echo(f"API docs      {base}/docs")
    if keys.sample_member_id:
        typer.echo(
            f"sample person {base}/api/persons?identifier_type=member_id"
            f"&identifier={keys.sample_member_id}"
        )
        typer.echo(f'              (send "Authorization: Bearer {keys.secret_key}")')
    typer.echo(f"workspace_id  {keys.workspace_id}")
    typer.echo(f"write_key     {keys.write_key}")
    typer.echo(f"secret_key    {keys.secret_key}")
    typer.echo(f"keys kept in  {data_dir / 'demo-keys.json'}")


@app.command()
@readable_errors
def demo(
    users: Annotated[int, typer.Option(min=1, max=5_000_000, help="Customers to draw.")] = 50_000,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed draws the same brand.")
    ] = 42,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API once built.")
    ] = True,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build a new demo workspace even if one exists.")
    ] = False,
    owner_password: Annotated[
        str | None,
        typer.Option(
            "--owner-password",
            envvar="SIYU_DEMO_PASSWORD",
            help="The console owner's password (else a random one, printed once).",
        ),
    ] = None,
) -> None:
    """Build 山茶集, a synthetic tea-drink chain, through the real pipeline, then serve it."""
    from siyu.demo import build

    rt = runtime()
    keys, todo = build.prepare_workspace(
        rt, users=users, seed=seed, rebuild=rebuild, now=utcnow(), owner_password=owner_password
    )
    if todo:
        tune_gc_for_ingest()
        keys = _build_demo(rt, keys)
    else:
        typer.echo(
            f"reusing the demo workspace ({keys.users:,} customers, seed {keys.seed}); "
            "--rebuild builds a new one"
        )
    _print_demo(keys, rt.settings.data_dir, host, port)
    rt.close()
    if serve_api:
        serve(host=host, port=port)


@identity_app.command("rebuild")
@readable_errors
def identity_rebuild(
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute every person from all stored identity links under the current rules."""
    from siyu.identity import service as identity

    with open_workspace(workspace) as (rt, ws), _progress() as progress:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        with rt.sessions() as session, session.begin():
            result = identity.rebuild(
                session=session, workspace_id=ws.id, now=utcnow(), progress=report
            )
    if as_json:
        typer.echo(result.model_dump_json())
        return
    for key, value in result.model_dump().items():
        typer.echo(f"{key:20} {value}")


@app.command()
@readable_errors
def compact(workspace: WorkspaceOption = None) -> None:
    """Flush the inbox, then merge the workspace's event segments sorted by person and time."""
    from siyu import pipeline

    with open_workspace(workspace) as (rt, ws):
        pipeline.flush(runtime=rt)
        rows = rt.events.compact(ws.id)
    typer.echo(f"compacted {rows} events into one sorted segment")


# Registered last: the analytics commands reuse this module's options and helpers.
from siyu.cli.analytics import analytics_app  # noqa: E402

app.add_typer(analytics_app, name="analytics")

from siyu.cli.layers import lifecycle_app, ltv_app, rfm_app  # noqa: E402

app.add_typer(rfm_app, name="rfm")
app.add_typer(lifecycle_app, name="lifecycle")
app.add_typer(ltv_app, name="ltv")


from siyu.cli.segments import segments_app, tags_app  # noqa: E402

app.add_typer(tags_app, name="tags")
app.add_typer(segments_app, name="segments")

from siyu.cli.membership import coupons_app, members_app, tiers_app  # noqa: E402

app.add_typer(tiers_app, name="tiers")
app.add_typer(members_app, name="members")
app.add_typer(coupons_app, name="coupons")

from siyu.cli.referral import live_codes_app, referrals_app  # noqa: E402

app.add_typer(live_codes_app, name="live-codes")
app.add_typer(referrals_app, name="referrals")

from siyu.cli.loyalty import loyalty_app  # noqa: E402

app.add_typer(loyalty_app, name="loyalty")

from siyu.cli.jobs import jobs_app  # noqa: E402

app.add_typer(jobs_app, name="jobs")

from siyu.cli.recommend import recommend_app  # noqa: E402

app.add_typer(recommend_app, name="recommend")

from siyu.cli.journeys import journeys_app  # noqa: E402

app.add_typer(journeys_app, name="journeys")

from siyu.cli.assistant import bot_app  # noqa: E402

app.add_typer(bot_app, name="bot")

from siyu.cli.privacy import audit_app, privacy_app  # noqa: E402

app.add_typer(privacy_app, name="privacy")
app.add_typer(audit_app, name="audit")

from siyu.cli.activities import activities_app  # noqa: E402

app.add_typer(activities_app, name="activities")

from siyu.cli.groups import groups_app  # noqa: E402

app.add_typer(groups_app, name="groups")

from siyu.cli.ugc import ugc_app  # noqa: E402

app.add_typer(ugc_app, name="ugc")

from siyu.cli.content import content_app  # noqa: E402

app.add_typer(content_app, name="content")

from siyu.cli.keys import keys_app  # noqa: E402
from siyu.cli.users import users_app  # noqa: E402

app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")

from siyu.cli import worker as _worker  # noqa: E402,F401  (registers ``siyu worker``)


def main() -> None:  # pragma: no cover - console entry
    """Entry point for ``python -m siyu.cli.main``."""
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
