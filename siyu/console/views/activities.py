"""Activities builders: status, budget and stock left, the funnel chart and table, the create
form's values → an ActivityCreate."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from siyu.activities.models import Activity, ActivityCreate, ActivityKind, ActivityStats
from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, column, count, percent, yuan


def status(activity: Activity, now: datetime) -> str:
    """paused, not_started, running or ended (a paused one that ended shows ended)."""
    if now >= activity.ends_at:
        return "ended"
    if activity.paused:
        return "paused"
    if now < activity.starts_at:
        return "not_started"
    return "running"


def stock_left(activity: Activity) -> int | None:
    """Units left to give: the activity's stock, else the sum of its prizes' (None: unlimited)."""
    if activity.stock_left is not None:
        return activity.stock_left
    stocks = [prize.stock for prize in activity.prizes]
    if not stocks or any(stock is None for stock in stocks):
        return None
    return sum(stock or 0 for stock in stocks)


def budget_left(activity: Activity) -> int | None:
    """Fen left in the budget (None: no budget cap)."""
    if activity.budget_fen is None:
        return None
    return max(0, activity.budget_fen - activity.spent_fen)


def roi_text(stats: ActivityStats | None) -> str:
    """GMV / cost as "3.20×", or — when nothing was spent yet."""
    if stats is None or stats.roi is None:
        return "—"
    return f"{stats.roi:,.2f}×"


def activity_row(
    activity: Activity, stats: ActivityStats | None, now: datetime, lang: str
) -> dict[str, Any]:
    """One row of the activity list (names shown as text, never as HTML)."""
    stock = stock_left(activity)
    budget = budget_left(activity)
    unlimited = translate(lang, "activities.unlimited")
    return {
        "key": activity.id,
        "name": activity.name,
        "kind": translate(lang, f"activities.kind.{form_kind(activity)}"),
        "status": translate(lang, f"activities.status.{status(activity, now)}"),
        "stock": unlimited if stock is None else count(stock),
        "budget": unlimited if budget is None else yuan(budget),
        "spent": yuan(activity.spent_fen),
        "gmv": yuan(stats.gmv_fen) if stats else "—",
        "roi": roi_text(stats),
    }


def list_columns(lang: str) -> list[dict[str, Any]]:
    """The activity list's columns."""
    names = ("name", "kind", "status", "stock", "budget", "spent", "gmv", "roi")
    return [
        column(
            n, translate(lang, f"activities.col.{n}"), align="left" if n in names[:3] else "right"
        )
        for n in names
    ]


def funnel_view(stats: ActivityStats, lang: str) -> ChartView:
    """view → join → share → help → complete → order: persons per step, with conversion."""
    first = stats.funnel[0].persons if stats.funnel else 0
    labels = [translate(lang, f"activities.step.{step.step}") for step in stats.funnel]
    options = base_options(lang) | {
        "xAxis": {"type": "category", "data": labels, "axisLabel": {"interval": 0}},
        "yAxis": {"type": "value", "name": translate(lang, "unit.persons")},
        "series": [
            {
                "name": translate(lang, "analytics.persons"),
                "type": "bar",
                "barWidth": "45%",
                "data": [
                    {
                        "value": step.persons,
                        "label": {
                            "show": True,
                            "position": "top",
                            "formatter": f"{step.persons} · {percent(_ratio(step.persons, first))}",
                        },
                    }
                    for step in stats.funnel
                ],
            }
        ],
    }
    rows = [
        {
            "key": step.step,
            "step": label,
            "persons": step.persons,
            "events": step.events,
            "from_first": percent(_ratio(step.persons, first)),
        }
        for step, label in zip(stats.funnel, labels, strict=True)
    ]
    return ChartView(
        title=translate(lang, "activities.funnel"),
        options=options,
        columns=[
            column("step", translate(lang, "col.step")),
            column("persons", translate(lang, "col.persons"), align="right"),
            column("events", translate(lang, "activities.col.events"), align="right"),
            column("from_first", translate(lang, "activities.col.from_first"), align="right"),
        ],
        rows=rows if any(step.persons for step in stats.funnel) else [],
        empty_hint=translate(lang, "activities.funnel_empty"),
    )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _fen(yuan_value: float | None) -> int | None:
    return None if yuan_value is None else round(yuan_value * 100)


FORM_KINDS = ("lottery", "group_buy", "assist", "bargain", "signup")
"""The create form's kinds: a bargain (砍价) is an assist whose helpers cut a start price."""

# The inputs each form kind shows beyond name, days, budget and stock.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "lottery": ("points", "cost_fen", "win_percent"),
    "group_buy": ("points", "cost_fen", "team_size", "group_price_yuan"),
    "assist": ("points", "cost_fen", "helpers_needed"),
    "bargain": ("points", "cost_fen", "helpers_needed", "start_price_yuan", "floor_price_yuan"),
    "signup": ("points", "cost_fen", "days_required"),
}


def form_kind(activity: Activity) -> str:
    """The form kind an activity was made as (an assist with prices is a bargain)."""
    if activity.kind == ActivityKind.ASSIST and activity.start_price_fen is not None:
        return "bargain"
    return activity.kind.value


def _int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def activity_from_form(values: dict[str, Any], now: datetime) -> ActivityCreate:
    """The create form's values → an ActivityCreate (ValidationError names the field).

    A lottery has one prize of points (and a share of draws that win nothing); a group-buy
    gives each member of a full team points; an assist (助力) or bargain (砍价) pays its
    starter points once enough helpers joined (a bargain's price falls from the start price to
    the floor); a check-in (打卡) pays points after the days required.
    """
    form = str(values["kind"])
    kind = ActivityKind.ASSIST if form == "bargain" else ActivityKind(form)
    days = int(values.get("days") or 7)
    body: dict[str, Any] = {
        "name": (values.get("name") or "").strip(),
        "kind": kind,
        "starts_at": now,
        "ends_at": now + timedelta(days=days),
        "budget_fen": _fen(values.get("budget_yuan")),
        "stock": values.get("stock") or None,
    }
    points = int(values.get("points") or 0) or None
    if kind == ActivityKind.LOTTERY:
        win = int(values.get("win_percent") or 0)
        body["prizes"] = [
            {
                "name": f"{points} pts",
                "kind": "points",
                "amount": points,
                "weight": max(win, 1),
                "cost_fen": int(values.get("cost_fen") or 0),
            },
            {"name": "—", "kind": "none", "weight": max(100 - win, 1)},
        ]
        return ActivityCreate.model_validate(body)
    body["reward"] = (
        {"kind": "points", "amount": points, "cost_fen": int(values.get("cost_fen") or 0)}
        if points
        else None
    )
    if kind == ActivityKind.GROUP_BUY:
        body["team_size"] = int(values.get("team_size") or 0) or None
        body["group_price_fen"] = _fen(values.get("group_price_yuan"))
    elif kind == ActivityKind.ASSIST:
        body["helpers_needed"] = _int(values.get("helpers_needed"))
        if form == "bargain":
            body["start_price_fen"] = _fen(values.get("start_price_yuan"))
            body["floor_price_fen"] = _fen(values.get("floor_price_yuan"))
    else:
        body["days_required"] = _int(values.get("days_required"))
    return ActivityCreate.model_validate(body)
