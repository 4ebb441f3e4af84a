"""``siyu analytics``: funnels, fission, retention and repurchase in the terminal or as JSON."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from siyu.analytics import service as analytics
from siyu.analytics.engine import Dialect
from siyu.analytics.models import (
    FUNNEL_PRESETS,
    Breakdown,
    BreakdownKind,
    CohortBy,
    FissionBreakdown,
    FissionQuery,
    FissionResult,
    FunnelOrder,
    FunnelQuery,
    FunnelResult,
    FunnelStep,
    Period,
    RepurchaseQuery,
    RepurchaseResult,
    RetentionQuery,
    RetentionResult,
)
from siyu.cli.main import JsonOption, WorkspaceOption, open_workspace, readable_errors
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError

M = TypeVar("M")
E = TypeVar("E", CohortBy, Period, Dialect)

analytics_app: typer.Typer = typer.Typer(
    help="Funnels, fission, retention and repurchase.", no_args_is_help=True
)

FromOption = Annotated[
    datetime | None,
    typer.Option("--from", formats=["%Y-%m-%d"], help="First day, local (default 30 days ago)."),
]
ToOption = Annotated[
    datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included.")
]
EngineOption = Annotated[str, typer.Option("--engine", help="duckdb or clickhouse.")]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_window(text: str) -> timedelta:
    """``7d``, ``36h``, ``90m``, ``2w`` or plain seconds as a timedelta."""
    text = text.strip().lower()
    unit = _UNITS.get(text[-1:]) if text else None
    number = text[:-1] if unit else text
    if not number.isdigit():
        raise InvalidInputError(f"bad window {text!r}: use e.g. 7d, 36h, 90m", field="window")
    return timedelta(seconds=int(number) * (unit or 1))


def _days(first: datetime | None, last: datetime | None, zone: str) -> tuple[datetime, datetime]:
    tz = ZoneInfo(zone)
    today = utcnow().astimezone(tz).date()
    end_day: date = last.date() if last else today
    start_day: date = first.date() if first else end_day - timedelta(days=29)
    if end_day < start_day:
        raise InvalidInputError("--to must not be before --from", field="to")
    start = datetime.combine(start_day, time(), tz)
    return start, datetime.combine(end_day + timedelta(days=1), time(), tz)


def _validated(build: type[M], **fields: object) -> M:
    try:
        return build(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise InvalidInputError(first["msg"], field=field) from None


def _breakdown(value: str | None) -> Breakdown | None:
    if value is None:
        return None
    if value in ("channel", "first_touch_channel"):
        return Breakdown(kind=BreakdownKind.FIRST_TOUCH_CHANNEL)
    if value == "event_channel":
        return Breakdown(kind=BreakdownKind.EVENT_CHANNEL)
    return _validated(Breakdown, kind=BreakdownKind.PROPERTY, property=value)


def _bar(share: float, width: int = 20) -> str:
    filled = round(max(0.0, min(1.0, share)) * width)
    return "█" * filled + "·" * (width - filled)


def funnel_table(result: FunnelResult) -> list[Table]:
    """The funnel as rich tables: totals with bars, then one line per breakdown value."""
    table = Table(title=f"Funnel ({result.query.order.value}, window {result.query.window})")
    for column in ("step", "persons", "from step 1", "from previous", "median time", ""):
        table.add_column(column, justify="left" if column in ("step", "") else "right")
    for s in result.total.steps:
        median = s.median_seconds_from_previous
        table.add_row(
            f"{s.step}. {s.name}",
            f"{s.persons:,}",
            f"{s.conversion_from_first:.1%}",
            f"{s.conversion_from_previous:.1%}",
            "" if median is None else str(timedelta(seconds=round(median))),
            _bar(s.conversion_from_first),
        )
    tables = [table]
    if result.breakdown:
        split = Table(title="Breakdown")
        split.add_column("value")
        for s in result.total.steps:
            split.add_column(s.name, justify="right")
        split.add_column("conversion", justify="right")
        for series in result.breakdown:
            counts = [f"{s.persons:,}" for s in series.steps]
            last = series.steps[-1].conversion_from_first
            split.add_row(series.breakdown_value or "(none)", *counts, f"{last:.1%}")
        tables.append(split)
    return tables


def fission_tables(result: FissionResult) -> list[Table]:
    """The fission funnel, its breakdown and its top referrers as rich tables."""
    total = result.total
    title = (
        f"Fission (window {result.query.window}): {total.shares:,} shares, "
        f"K-factor {total.k_factor:.2f}, GMV ¥{total.gmv_fen / 100:,.2f}"
    )
    table = Table(title=title)
    for column in ("step", "persons", "conversion", "median time", ""):
        table.add_column(column, justify="left" if column in ("step", "") else "right")
    first = max(total.steps[1].persons, 1)
    for s in total.steps:
        median = s.median_seconds_from_previous
        table.add_row(
            f"{s.step}. {s.name}",
            f"{s.persons:,}",
            f"{s.conversion_from_previous:.1%}" if s.step > 1 else "",
            "" if median is None else str(timedelta(seconds=round(median))),
            _bar(s.persons / first) if s.step > 1 else "",
        )
    tables = [table]
    if result.breakdown:
        split = Table(title="By referrer's first-touch channel")
        for column in ("channel", *(s.name for s in total.steps), "K-factor"):
            split.add_column(column, justify="left" if column == "channel" else "right")
        for series in result.breakdown:
            counts = [f"{s.persons:,}" for s in series.steps]
            split.add_row(series.breakdown_value or "(none)", *counts, f"{series.k_factor:.2f}")
        tables.append(split)
    if result.top_referrers:
        top = Table(title="Top referrers (KOC)")
        for column in ("member", "channel", "shares", "invitees", "registered", "ordered", "GMV"):
            top.add_column(column, justify="left" if column in ("member", "channel") else "right")
        for r in result.top_referrers:
            top.add_row(
                r.member_id or r.person_id,
                r.first_touch_channel or "",
                *(f"{n:,}" for n in (r.shares, r.invitees, r.registered, r.ordered)),
                f"¥{r.gmv_fen / 100:,.2f}",
            )
        tables.append(top)
    return tables


def _heat(rate: float) -> str:
    shades = ["grey30", "blue", "cyan", "green", "yellow", "red"]
    return shades[min(len(shades) - 1, int(rate * (len(shades) - 1) / 0.6))]


def retention_table(result: RetentionResult) -> Table:
    """Cohorts × periods as a heat table of return rates."""
    q = result.query
    title = f"Retention by {q.cohort_by.value}, per {q.period.value} ({q.timezone})"
    table = Table(title=title)
    table.add_column("cohort")
    table.add_column("persons", justify="right")
    for k in range(1, q.periods + 1):
        table.add_column(f"+{k}", justify="right")
    for cohort in result.cohorts:
        cells = [f"[{_heat(r)}]{r:.0%}[/]" for r in cohort.rates[1:]]
        table.add_row(str(cohort.start), f"{cohort.persons:,}", *cells)
    table.add_row("average", "", *(f"{r:.0%}" for r in result.average[1:]), style="bold")
    return table


def repurchase_table(result: RepurchaseResult) -> Table:
    """Repurchase figures and the interval histogram."""
    table = Table(title="Repurchase")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("")
    table.add_row("buyers", f"{result.buyers:,}", "")
    table.add_row("repurchase rate", f"{result.repurchase_rate:.1%}", _bar(result.repurchase_rate))
    table.add_row(
        f"… within {result.query.within_days} days",
        f"{result.repurchase_rate_within:.1%}",
        _bar(result.repurchase_rate_within),
    )
    for name, value in (
        ("interval p25 (days)", result.interval_days_p25),
        ("interval median (days)", result.interval_days_median),
        ("interval p75 (days)", result.interval_days_p75),
    ):
        table.add_row(name, "–" if value is None else f"{value:.1f}", "")
    most = max((b.intervals for b in result.distribution), default=0) or 1
    for b in result.distribution:
        label = f"{b.from_days}–{b.to_days} days" if b.to_days else f"{b.from_days}+ days"
        table.add_row(label, f"{b.intervals:,}", _bar(b.intervals / most))
    return table


def _print(tables: list[Table] | Table) -> None:
    out = Console()
    for table in tables if isinstance(tables, list) else [tables]:
        out.print(table)


@analytics_app.command("funnel")
@readable_errors
def funnel(
    steps: Annotated[str | None, typer.Option(help="Comma-separated event names.")] = None,
    preset: Annotated[str | None, typer.Option(help="conversion or fission.")] = None,
    window: Annotated[str, typer.Option(help="Conversion window: 7d, 36h, 90m.")] = "7d",
    strict: Annotated[bool, typer.Option("--strict", help="Strict step order.")] = False,
    breakdown: Annotated[
        str | None,
        typer.Option(help="channel (first touch), event_channel, or a property name."),
    ] = None,
    first_day: FromOption = None,
    last_day: ToOption = None,
    workspace: WorkspaceOption = None,
    engine: EngineOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """A funnel over the steps (or a preset) with a conversion window.

    ``--preset fission`` runs ``siyu analytics fission``: a referral's steps are done by
    different people, which a per-person funnel cannot follow.
    """
    if (steps is None) == (preset is None):
        raise InvalidInputError("give --steps or --preset (one of them)", field="steps")
    if preset == "fission":
        if strict:
            raise InvalidInputError("the fission funnel has no --strict", field="strict")
        typer.echo("note: the fission preset runs `siyu analytics fission`", err=True)
        _fission(window, breakdown, 10, first_day, last_day, workspace, engine, as_json)
        return
    if preset is not None and preset not in FUNNEL_PRESETS:
        raise InvalidInputError(f"unknown preset {preset!r}", field="preset")
    names = FUNNEL_PRESETS[preset] if preset else [s.strip() for s in (steps or "").split(",")]
    with open_workspace(workspace) as (rt, ws):
        start, end = _days(first_day, last_day, ws.timezone)
        query = _validated(
            FunnelQuery,
            steps=[_validated(FunnelStep, event=n) for n in names if n],
            window=parse_window(window),
            order=FunnelOrder.STRICT if strict else FunnelOrder.LOOSE,
            start=start,
            end=end,
            breakdown=_breakdown(breakdown),
        )
        result = analytics.run_funnel(
            runtime=rt, workspace_id=ws.id, query=query, dialect=_choice(engine, Dialect, "engine")
        )
    if as_json:
        typer.echo(result.model_dump_json())
    else:
        _print(funnel_table(result))


def _fission_breakdown(value: str | None) -> FissionBreakdown | None:
    if value is None:
        return None
    if value in ("channel", "first_touch_channel", FissionBreakdown.REFERRER_FIRST_TOUCH_CHANNEL):
        return FissionBreakdown.REFERRER_FIRST_TOUCH_CHANNEL
    raise InvalidInputError(f"{value!r}: the fission breakdown is 'channel'", field="breakdown")


def _fission(
    window: str,
    breakdown: str | None,
    top: int,
    first_day: datetime | None,
    last_day: datetime | None,
    workspace: str | None,
    engine: str,
    as_json: bool,
) -> None:
    with open_workspace(workspace) as (rt, ws):
        start, end = _days(first_day, last_day, ws.timezone)
        query = _validated(
            FissionQuery,
            start=start,
            end=end,
            window=parse_window(window),
            breakdown=_fission_breakdown(breakdown),
            top=top,
        )
        result = analytics.run_fission(
            runtime=rt, workspace_id=ws.id, query=query, dialect=_choice(engine, Dialect, "engine")
        )
    if as_json:
        typer.echo(result.model_dump_json())
    else:
        _print(fission_tables(result))


@analytics_app.command("fission")
@readable_errors
def fission(
    window: Annotated[str, typer.Option(help="From click to register/order: 7d, 36h.")] = "7d",
    breakdown: Annotated[
        str | None, typer.Option(help="channel: by the referrer's first-touch channel.")
    ] = None,
    top: Annotated[int, typer.Option(help="Top referrers to list (0–100).")] = 10,
    first_day: FromOption = None,
    last_day: ToOption = None,
    workspace: WorkspaceOption = None,
    engine: EngineOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Fission (裂变): referrers share, invitees click, register and order within the window."""
    _fission(window, breakdown, top, first_day, last_day, workspace, engine, as_json)


@analytics_app.command("retention")
@readable_errors
def retention(
    cohort: Annotated[str, typer.Option(help="first_visit or first_order.")] = "first_visit",
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    periods: Annotated[int, typer.Option(help="Periods after the cohort's.")] = 8,
    returning: Annotated[
        str | None, typer.Option("--returning", help="Event counting as a return (default any).")
    ] = None,
    first_day: FromOption = None,
    last_day: ToOption = None,
    workspace: WorkspaceOption = None,
    engine: EngineOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Cohorts and the share of each that came back per later period."""
    with open_workspace(workspace) as (rt, ws):
        start, end = _days(first_day, last_day, ws.timezone)
        query = _validated(
            RetentionQuery,
            cohort_by=_choice(cohort, CohortBy, "cohort"),
            period=_choice(period, Period, "period"),
            periods=periods,
            returning_event=returning,
            start=start,
            end=end,
            timezone=ws.timezone,
        )
        result = analytics.run_retention(
            runtime=rt,
            workspace_id=ws.id,
            query=query,
            now=utcnow(),
            dialect=_choice(engine, Dialect, "engine"),
        )
    if as_json:
        typer.echo(result.model_dump_json())
    else:
        _print(retention_table(result))


@analytics_app.command("repurchase")
@readable_errors
def repurchase(
    within: Annotated[int, typer.Option(help="'Bought again within N days'.")] = 30,
    first_day: FromOption = None,
    last_day: ToOption = None,
    workspace: WorkspaceOption = None,
    engine: EngineOption = "duckdb",
    as_json: JsonOption = False,
) -> None:
    """Repurchase rate and the distribution of days between orders."""
    with open_workspace(workspace) as (rt, ws):
        start, end = _days(first_day, last_day, ws.timezone)
        query = _validated(RepurchaseQuery, start=start, end=end, within_days=within)
        result = analytics.run_repurchase(
            runtime=rt, workspace_id=ws.id, query=query, dialect=_choice(engine, Dialect, "engine")
        )
    if as_json:
        typer.echo(result.model_dump_json())
    else:
        _print(repurchase_table(result))


def _choice(value: str, allowed: type[E], field: str) -> E:
    try:
        return allowed(value)
    except ValueError:
        names = ", ".join(str(v.value) for v in allowed)
        raise InvalidInputError(f"{value!r} is not one of {names}", field=field) from None
