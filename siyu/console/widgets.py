"""Small console building blocks: a chart with its table view, KPI tiles, empty states."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from siyu.console.state import t
from siyu.console.views.common import ChartView


def empty_state(message: str, hint: str, *, testid: str = "empty-state") -> None:
    """Say that there is nothing to show yet, and what to do about it."""
    with (
        ui.column()
        .classes("items-center w-full py-10 text-grey-7")
        .props(f'data-testid="{testid}"')
    ):
        ui.icon("inbox", size="48px").classes("text-grey-5")
        ui.label(message).classes("text-lg")
        ui.label(hint).classes("text-sm text-center max-w-xl")


def kpi(label: str, value: str, change: str | None = None, *, testid: str = "") -> None:
    """A headline number with its change against the previous period."""
    with ui.card().classes("min-w-[160px]").props(f'data-testid="kpi-{testid}"'):
        ui.label(label).classes("text-sm text-grey-7")
        ui.label(value).classes("text-2xl font-bold")
        if change:
            colour = "text-negative" if change.startswith("-") else "text-positive"
            ui.label(change).classes(f"text-xs {colour}")


def table(
    columns: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    *,
    testid: str = "",
    row_key: str = "key",
    pagination: int = 10,
) -> ui.table:
    """A dense table whose own labels (rows per page, no data) are in the operator's language."""
    return (
        ui.table(columns=columns, rows=rows, row_key=row_key, pagination=pagination)
        .classes("w-full")
        .props(
            f'dense flat rows-per-page-label="{t("table.rows_per_page")}" '
            f'no-data-label="{t("table.no_data")}" data-testid="{testid}"'
        )
    )


def chart_card(view: ChartView, *, testid: str, height: str = "320px") -> None:
    """An ECharts chart with a switch to the same numbers as a table."""
    with ui.card().classes("w-full").props(f'data-testid="chart-{testid}"'):
        with ui.row().classes("w-full items-center justify-between"):
            ui.label(view.title).classes("text-base font-medium")
            switch = ui.switch(t("chart.table_view")).props(f'data-testid="toggle-{testid}"')
        if not view.rows:
            empty_state(t("chart.no_data"), view.empty_hint or t("chart.no_data_hint"))
            return
        chart = ui.echart(view.options).classes("w-full").style(f"height: {height}")
        grid = table(
            view.columns, view.rows, testid=f"table-{testid}", row_key=view.row_key, pagination=20
        )
        chart.bind_visibility_from(switch, "value", backward=lambda on: not on)
        grid.bind_visibility_from(switch, "value")
        if view.note:
            ui.label(view.note).classes("text-xs text-grey-7")
