"""Rich tables for ``siyu measure``: GMV decomposition, attribution, ROI and the boards."""

from __future__ import annotations

from rich.table import Table

from siyu.analytics.attribution_report import AttributionResult
from siyu.analytics.boards import Board
from siyu.analytics.gmv import GmvDecomposition
from siyu.analytics.periods import Period
from siyu.analytics.roi import RoiResult


def yuan(fen: float | None) -> str:
    """Fen as ``¥1,234.50``; ``-`` for none."""
    return "-" if fen is None else f"¥{fen / 100:,.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _span(period: Period) -> str:
    return f"{period.first_day} … {period.last_day}"


def gmv_tables(result: GmvDecomposition) -> list[Table]:
    """The factors, then the new/repeat and referred/organic segments."""
    title = (
        f"GMV {_span(result.period)} vs {_span(result.compare_to)}: "
        f"{yuan(result.previous.gmv_fen)} → {yuan(result.current.gmv_fen)} "
        f"({_pct(result.change_pct)}), method {result.method}"
    )
    factors = Table(title=title)
    for column in ("factor", "before", "after", "change", "contribution"):
        factors.add_column(column, justify="left" if column == "factor" else "right")
    money = {"aov"}
    for f in result.factors:
        show = yuan if f.factor in money else (lambda v: f"{v:,.3f}")
        mark = " ◀" if f.factor == result.driver else ""
        factors.add_row(
            f.factor + mark,
            show(f.before),
            show(f.after),
            _pct(f.change_pct),
            yuan(f.contribution_fen),
        )
    factors.add_row("total", "", "", _pct(result.change_pct), yuan(result.change_fen))
    segments = Table(title="Segments")
    for column in ("segment", "buyers", "GMV before", "GMV after", "change", "share"):
        segments.add_column(column, justify="left" if column == "segment" else "right")
    for s in (*result.buyer_types, *result.referral):
        segments.add_row(
            s.segment,
            f"{s.before.buyers} → {s.after.buyers}",
            yuan(s.before.gmv_fen),
            yuan(s.after.gmv_fen),
            yuan(s.change_fen),
            f"{s.share_after:.0%}",
        )
    return [factors, segments]


def attribution_table(result: AttributionResult) -> Table:
    """Credit per channel."""
    q = result.query
    table = Table(
        title=f"Attribution {_span(q.period)}, {q.model.value}, lookback {q.lookback_days}d: "
        f"{result.orders} orders, {yuan(result.revenue_fen)} ({result.direct_orders} direct)"
    )
    for column in ("channel", "orders", "share", "GMV", "removal effect"):
        table.add_column(column, justify="left" if column == "channel" else "right")
    for c in result.channels:
        effect = "-" if c.removal_effect is None else f"{c.removal_effect:.3f}"
        table.add_row(
            c.channel, f"{c.conversions:,.2f}", f"{c.share:.1%}", yuan(c.revenue_fen), effect
        )
    return table


def roi_table(result: RoiResult) -> Table:
    """Spend and returns per channel."""
    q = result.query
    table = Table(
        title=f"ROI {_span(q.period)}, {q.model.value}: spend {yuan(result.spend_fen)}, "
        f"paid GMV {yuan(result.paid_revenue_fen)}, ROI {_ratio(result.roi)}, "
        f"CAC {yuan(result.cac_fen)}"
    )
    for column in ("channel", "spend", "GMV", "new buyers", "CAC", "ROI", "ROAS", "payback"):
        table.add_column(column, justify="left" if column == "channel" else "right")
    for c in result.channels:
        payback = "-" if c.payback_days is None else f"{c.payback_days}d"
        table.add_row(
            c.channel,
            yuan(c.spend_fen),
            yuan(c.attributed_revenue_fen),
            str(c.new_buyers),
            yuan(c.cac_fen),
            _ratio(c.roi),
            _ratio(c.roas),
            payback,
        )
    return table


def _value(unit: str, value: float | None) -> str:
    if value is None:
        return "-"
    if unit == "fen":
        return yuan(value)
    if unit == "ratio":
        return f"{value:.1%}"
    return f"{value:,.0f}"


def board_table(board: Board) -> Table:
    """The stages in the board's order, one row per metric."""
    table = Table(
        title=f"{board.kind.value.upper()} {_span(board.period)} "
        f"(previous {_span(board.compare_to)})"
    )
    for column in ("stage", "metric", "value", "previous", "definition"):
        table.add_column(column, justify="right" if column in ("value", "previous") else "left")
    for stage in board.stages:
        for i, m in enumerate(stage.metrics):
            table.add_row(
                stage.title if i == 0 else "",
                m.name,
                _value(m.unit, m.value),
                _value(m.unit, m.previous),
                m.definition,
            )
        if stage.breakdown:
            split = ", ".join(f"{b.label} {b.value}" for b in stage.breakdown)
            table.add_row("", "new by channel", "", "", split)
    return table
