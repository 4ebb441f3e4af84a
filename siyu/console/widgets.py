"""Small console building blocks: a chart with its table view, KPI tiles, empty states, the
from/to range bar."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from siyu.analytics.periods import Period
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import ranges
from siyu.console.views.common import ChartView
from siyu.core.clock import utcnow
from siyu.core.errors import SiyuError


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


def _date_box(label: str, value: str, testid: str) -> ui.input:
    """A YYYY-MM-DD input with a calendar to pick from."""
    box = ui.input(label, value=value, placeholder=t("analytics.range_default"))
    box.classes("w-44").props(f'clearable data-testid="{testid}"')
    with box.add_slot("append"):
        icon = ui.icon("edit_calendar").classes("cursor-pointer")
        with ui.menu() as menu:
            ui.date(mask="YYYY-MM-DD").bind_value(box).on_value_change(menu.close)
        icon.on("click", menu.open)
    return box


def _refusal(error: SiyuError) -> str:
    return t("channels.invalid", field=error.field or "—", message=error.message)


def range_bar(
    path: str,
    workspace: WorkspaceRef,
    asked: tuple[str, str],
    *,
    default_note: str | None = None,
    range_note: str | None = None,
) -> Period | None:
    """From / to inputs (local days in the workspace's zone) above a page at ``path``: applying
    reloads it with ``?from=…&to=…`` so a range is also a link. ``asked`` is the page's query;
    returns the range it names, or None (the page's default window) when blank or refused —
    a refusal is shown naming ``from`` or ``to``. ``range_note`` is a catalogue key taking
    ``first``, ``last`` and ``zone``; without notes the page says its window itself."""
    span, refused = ranges.asked_range(workspace, utcnow(), asked)
    with ui.row().classes("items-end gap-3").props('data-testid="range-bar"'):
        first = _date_box(t("analytics.range_from"), asked[0], "range-from")
        last = _date_box(t("analytics.range_to"), asked[1], "range-to")
        problem = ui.label().classes("text-sm text-negative")
        problem.props('data-testid="range-result"')

        def apply() -> None:
            try:
                days = ranges.range_days(first.value, last.value)
                chosen = ranges.chosen_range(workspace, utcnow(), *days)
            except SiyuError as error:
                problem.set_text(_refusal(error))
                return
            if chosen is None:
                ui.navigate.to(path)
                return
            ui.navigate.to(f"{path}?from={chosen.first_day}&to={chosen.last_day}")

        ui.button(t("analytics.range_apply"), icon="date_range", on_click=apply).props(
            'color=teal-9 data-testid="range-apply"'
        )
        if span is not None:
            ui.button(t("analytics.range_reset"), on_click=lambda: ui.navigate.to(path)).props(
                'flat data-testid="range-reset"'
            )
    if refused is not None:
        problem.set_text(_refusal(refused))
    if span is None:
        note = default_note
    elif range_note is not None:
        note = t(range_note, first=str(span.first_day), last=str(span.last_day), zone=span.timezone)
    else:
        note = None
    if note:
        ui.label(note).classes("text-xs text-grey-7").props('data-testid="range-note"')
    return span


def confirm(text: str, label: str, go: Callable[[], Awaitable[None]], testid: str) -> None:
    """Ask before a step that cannot be undone; ``go`` runs only on the red button."""
    with ui.dialog() as dialog, ui.card():
        ui.label(text)
        with ui.row():
            ui.button(t("channels.cancel"), on_click=dialog.close).props("flat")

            async def confirmed() -> None:
                dialog.close()
                await go()

            ui.button(label, on_click=confirmed).props(f'color=negative data-testid="{testid}"')
    dialog.open()
