"""``siyu rfm``, ``siyu lifecycle`` and ``siyu ltv``: layered operations and customer value."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from siyu.analytics import layers_service as layers
from siyu.analytics import value_service as value
from siyu.analytics.engine import Dialect
from siyu.cli.main import JsonOption, WorkspaceOption, open_workspace, readable_errors
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError, NotFoundError

rfm_app: typer.Typer = typer.Typer(
    help="RFM scores and the eight classic segments.", no_args_is_help=True
)
lifecycle_app: typer.Typer = typer.Typer(
    help="Lifecycle stages and activity status.", no_args_is_help=True
)
ltv_app: typer.Typer = typer.Typer(
    help="Customer value: historical and predictive LTV.", no_args_is_help=True
)

out = Console()
# A plain string checked by _engine: a bad value is one readable line, not click's usage box.
DialectOption = Annotated[
    str, typer.Option("--engine", help="Read events with duckdb or clickhouse (chdb).")
]


def _engine(text: str) -> Dialect:
    try:
        return Dialect(text)
    except ValueError:
        names = ", ".join(d.value for d in Dialect)
        raise InvalidInputError(f"engine {text!r} is not one of {names}", field="engine") from None


def _day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(f"{text!r} is not a date (YYYY-MM-DD)", field=field) from None


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    table = Table(title=title)
    table.add_column("layer")
    table.add_column("persons", justify="right")
    table.add_column("share", justify="right")
    total = sum(counts.values()) or 1
    for name, count in sorted(counts.items(), key=lambda kv: -kv[1]):
        table.add_row(name, f"{count:,}", f"{count / total:.1%}")
    return table


@rfm_app.command("run")
@readable_errors
def rfm_run(
    workspace: WorkspaceOption = None,
    engine: DialectOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Score every buyer now and write the RFM tags."""
    with open_workspace(workspace) as (rt, ws):
        run = layers.run_rfm(runtime=rt, workspace_id=ws.id, now=utcnow(), dialect=_engine(engine))
    if as_json:
        typer.echo(run.model_dump_json())
        return
    out.print(_counts_table(f"RFM — {run.buyers:,} buyers", run.segments))
    cuts = run.cuts
    out.print(
        f"cut points: R days {cuts.recency_days}, F orders {cuts.frequency_orders}, "
        f"M fen {cuts.monetary_fen}; high above R {cuts.r_bar:.2f} F {cuts.f_bar:.2f} "
        f"M {cuts.m_bar:.2f} ({run.settings.split}); tags +{run.tags_gained} -{run.tags_lost}"
    )


@lifecycle_app.command("run")
@readable_errors
def lifecycle_run(
    workspace: WorkspaceOption = None,
    engine: DialectOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Place every person in a stage and activity status, record moves, write the tags."""
    with open_workspace(workspace) as (rt, ws):
        run = layers.run_lifecycle(
            runtime=rt, workspace_id=ws.id, now=utcnow(), dialect=_engine(engine)
        )
    if as_json:
        typer.echo(run.model_dump_json())
        return
    out.print(_counts_table(f"生命周期 — {run.persons:,} persons", run.stages))
    out.print(_counts_table("活跃度", run.activities))
    out.print(f"{run.transitions:,} transitions; tags +{run.tags_gained} -{run.tags_lost}")


@ltv_app.command("fit")
@readable_errors
def ltv_fit(
    until: Annotated[str, typer.Option(help="Fit on orders up to this local day (YYYY-MM-DD).")],
    time_unit: Annotated[str, typer.Option(help="day or week.")] = "week",
    workspace: WorkspaceOption = None,
    engine: DialectOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Fit BG/NBD and Gamma-Gamma for the workspace and print r, alpha, a, b; p, q, gamma."""
    if time_unit not in ("day", "week"):
        raise InvalidInputError("time unit must be day or week", field="time_unit")
    with open_workspace(workspace) as (rt, ws):
        model = value.fit_ltv(
            runtime=rt,
            workspace_id=ws.id,
            until=_day(until, "until"),
            time_unit="day" if time_unit == "day" else "week",
            now=utcnow(),
            dialect=_engine(engine),
        )
    if as_json:
        typer.echo(model.model_dump_json())
        return
    table = Table(title=f"BG/NBD + Gamma-Gamma to {model.until} ({model.time_unit}s)")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    for name in ("r", "alpha", "a", "b", "p", "q", "gamma"):
        found = getattr(model, name)
        table.add_row(name, "—" if found is None else f"{found:.4g}")
    table.add_row("customers", f"{model.customers:,} ({model.repeat_customers:,} repeat)")
    table.add_row("seconds", f"{model.seconds:.2f}")
    out.print(table)


@ltv_app.command("show")
@readable_errors
def ltv_show(
    until: Annotated[str | None, typer.Option(help="Last local day counted.")] = None,
    horizon_days: Annotated[int, typer.Option(min=1, max=3650)] = 365,
    top: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    workspace: WorkspaceOption = None,
    engine: DialectOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Historical LTV by cohort, and predictions from the fitted model (if any)."""
    with open_workspace(workspace) as (rt, ws):
        now: datetime = utcnow()
        day = (
            _day(until, "until")
            if until
            else value.local_today(runtime=rt, workspace_id=ws.id, now=now)
        )
        past = value.historical_ltv(
            runtime=rt, workspace_id=ws.id, until=day, dialect=_engine(engine)
        )
        if as_json:
            typer.echo(past.model_dump_json())
            return
        table = Table(title=f"LTV by first-order month, to {day} (margin {past.margin_rate})")
        for name in ("cohort", "customers", "revenue/customer", "margin/customer", "orders"):
            table.add_column(name, justify="left" if name == "cohort" else "right")
        for c in past.cohorts:
            table.add_row(
                c.cohort,
                f"{c.customers:,}",
                _yuan(c.revenue_per_customer_fen),
                _yuan(c.margin_per_customer_fen),
                f"{c.orders:,}",
            )
        out.print(table)
        out.print(f"all: {past.customers:,} customers, {_yuan(past.revenue_per_customer_fen)} each")
        try:
            found = value.predict_ltv(
                runtime=rt,
                workspace_id=ws.id,
                as_of=day,
                horizon_days=horizon_days,
                limit=top,
                dialect=_engine(engine),
            )
        except NotFoundError:  # no model fitted yet: the historical view stands alone
            out.print("no predictive model yet: run `siyu ltv fit --until YYYY-MM-DD`")
            return
    out.print(
        f"next {horizon_days} days: {found.expected_orders:,.0f} orders, "
        f"{_yuan(found.expected_revenue_fen)} revenue, CLV {_yuan(found.clv_fen)}, "
        f"mean P(alive) {found.mean_p_alive:.2f}"
    )
