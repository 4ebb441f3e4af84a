"""Overview builders: headline numbers, the AARRR / RARRA boards, the daily order trend."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from pydantic import BaseModel

from siyu.analytics.boards import ORDERS, Board, BoardKind, Metric
from siyu.analytics.gmv import GmvDecomposition
from siyu.analytics.models import RepurchaseResult
from siyu.analytics.order_history import OrderDays, day_number
from siyu.console.i18n import translate
from siyu.console.views.common import ChartView, base_options, change, column, count, percent, yuan


class Kpi(BaseModel):
    """A headline number."""

    key: str
    label: str
    value: str
    change: str | None


class MetricLine(BaseModel):
    """One metric of a board stage, formatted."""

    name: str
    label: str
    value: str
    change: str | None
    definition: str


class StageCard(BaseModel):
    """One stage of a board."""

    stage: str
    title: str
    definition: str
    metrics: list[MetricLine]


def format_metric(value: float, unit: str) -> str:
    """A board value in its unit: fen as yuan, ratios as percentages, counts with separators."""
    if unit == "fen":
        return yuan(value)
    if unit == "ratio":
        return percent(value)
    return count(value)


def _metric(board: Board, name: str) -> Metric | None:
    for stage in board.stages:
        for metric in stage.metrics:
            if metric.name == name:
                return metric
    return None


def kpis(gmv: GmvDecomposition, board: Board, repurchase: RepurchaseResult, lang: str) -> list[Kpi]:
    """GMV, orders, new members, active users and the repurchase rate."""
    now, before = gmv.current, gmv.previous
    found = [
        Kpi(
            key="gmv",
            label=translate(lang, "kpi.gmv"),
            value=yuan(now.gmv_fen),
            change=change(now.gmv_fen, before.gmv_fen),
        ),
        Kpi(
            key="orders",
            label=translate(lang, "kpi.orders"),
            value=count(now.orders),
            change=change(now.orders, before.orders),
        ),
    ]
    for key, name in (("new", "new"), ("active", "active")):
        metric = _metric(board, name)
        if metric is not None:
            found.append(
                Kpi(
                    key=key,
                    label=translate(lang, f"kpi.{key}"),
                    value=count(metric.value),
                    change=change(metric.value, metric.previous),
                )
            )
    found.append(
        Kpi(
            key="repurchase",
            label=translate(lang, "kpi.repurchase"),
            value=percent(repurchase.repurchase_rate),
            change=None,
        )
    )
    return found


def board_cards(board: Board, kind: BoardKind, lang: str) -> list[StageCard]:
    """The board's stages in the order ``kind`` reads them, metrics formatted."""
    by_stage = {stage.stage: stage for stage in board.stages}
    cards = []
    for stage in ORDERS[kind]:
        numbers = by_stage.get(stage)
        if numbers is None:
            continue
        metrics = [
            MetricLine(
                name=m.name,
                label=translate(lang, f"metric.{m.name}"),
                value=format_metric(m.value, m.unit),
                change=change(m.value, m.previous),
                definition=m.definition,
            )
            for m in numbers.metrics
        ]
        cards.append(
            StageCard(
                stage=stage.value,
                title=translate(lang, f"stage.{stage.value}"),
                definition=translate(lang, f"stage_def.{stage.value}"),
                metrics=metrics,
            )
        )
    return cards


def daily_orders(rows: OrderDays, first: date, last: date) -> list[tuple[date, int, int, int]]:
    """(day, orders, GMV fen, buyers) for every local day from ``first`` to ``last``."""
    days = (last - first).days + 1
    start = day_number(first)
    index = rows.day - start
    keep = (index >= 0) & (index < days)
    orders = np.bincount(index[keep], weights=rows.orders[keep], minlength=days)
    gmv = np.bincount(index[keep], weights=rows.revenue_fen[keep], minlength=days)
    buyers = np.bincount(index[keep], minlength=days)
    return [
        (first + timedelta(days=i), int(orders[i]), int(gmv[i]), int(buyers[i]))
        for i in range(days)
    ]


def trend_view(
    daily: list[tuple[date, int, int, int]], lang: str, *, title: str | None = None
) -> ChartView:
    """Daily GMV (bars, yuan) and orders (line) over the days given (titled as the last 30
    days unless told otherwise)."""
    labels = [day.strftime("%m-%d") for day, *_ in daily]
    options = base_options(lang) | {
        "legend": {"data": [translate(lang, "kpi.gmv"), translate(lang, "kpi.orders")]},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": [
            {"type": "value", "name": translate(lang, "unit.yuan")},
            {"type": "value", "name": translate(lang, "unit.orders")},
        ],
        "series": [
            {
                "name": translate(lang, "kpi.gmv"),
                "type": "bar",
                "data": [round(gmv / 100, 2) for _, _, gmv, _ in daily],
            },
            {
                "name": translate(lang, "kpi.orders"),
                "type": "line",
                "yAxisIndex": 1,
                "data": [orders for _, orders, _, _ in daily],
            },
        ],
    }
    rows = [
        {
            "key": day.isoformat(),
            "day": day.isoformat(),
            "gmv": yuan(gmv),
            "orders": orders,
            "buyers": buyers,
        }
        for day, orders, gmv, buyers in daily
    ]
    has_orders = any(orders for _, orders, _, _ in daily)
    return ChartView(
        title=title or translate(lang, "overview.trend"),
        options=options,
        columns=[
            column("day", translate(lang, "col.day")),
            column("gmv", translate(lang, "kpi.gmv"), align="right"),
            column("orders", translate(lang, "kpi.orders"), align="right"),
            column("buyers", translate(lang, "col.buyers"), align="right"),
        ],
        rows=rows if has_orders else [],
        empty_hint=translate(lang, "overview.no_orders_hint"),
    )
