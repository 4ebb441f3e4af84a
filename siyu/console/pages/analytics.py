"""Analytics: funnel, retention, RFM, LTV, GMV decomposition, attribution, ROI, Pareto — each
an ECharts chart with a table view, each loaded on its own so a slow one holds up no other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from siyu.analytics.periods import Period as Days
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import analytics_load as load
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import analytics as views
from siyu.console.views import measure as measure_views
from siyu.console.views.common import ChartView
from siyu.console.widgets import chart_card, empty_state, range_bar
from siyu.core.clock import utcnow
from siyu.core.errors import SiyuError

Loader = Callable[..., Any]
Builder = Callable[[Any, str], ChartView]

CHARTS: tuple[tuple[str, Loader, Builder], ...] = (
    ("funnel", load.funnel, views.funnel_view),
    ("retention", load.retention, views.retention_view),
    ("ltv", load.ltv, views.ltv_view),
    ("gmv", load.gmv, measure_views.gmv_view),
    ("attribution", load.attribution, measure_views.attribution_view),
    ("roi", load.roi, measure_views.roi_view),
    ("pareto", load.pareto, measure_views.pareto_view),
)


def _slot(title: str, testid: str) -> ui.column:
    slot = ui.column().classes("w-full")
    with slot, ui.card().classes("w-full").props(f'data-testid="loading-{testid}"'):
        ui.label(title).classes("text-base font-medium")
        with ui.row().classes("items-center gap-2"):
            ui.spinner()
            ui.label(t("analytics.loading")).classes("text-sm text-grey-7")
    return slot


def _chart(
    workspace: WorkspaceRef, key: str, loader: Loader, builder: Builder, span: Days | None
) -> None:
    slot = _slot(t(f"analytics.{key}"), key)

    async def fill() -> None:
        try:
            result = await state.call(
                loader, runtime=state.runtime(), workspace=workspace, now=utcnow(), span=span
            )
            view = builder(result, state.language())
        except SiyuError as error:
            slot.clear()
            with slot:
                empty_state(t(f"analytics.{key}"), str(error))
            return
        slot.clear()
        with slot:
            chart_card(view, testid=key)

    ui.timer(0.01, fill, once=True)


def _rfm(workspace: WorkspaceRef) -> None:
    slot = _slot(t("analytics.rfm"), "rfm")

    def draw(grid: load.RfmGrid) -> None:
        slot.clear()
        with slot:
            if not grid.computed:
                with ui.card().classes("w-full").props('data-testid="chart-rfm"'):
                    ui.label(t("analytics.rfm")).classes("text-base font-medium")
                    empty_state(t("analytics.rfm_none"), t("analytics.rfm_empty"))
                    if state.may("segments:write"):
                        ui.button(
                            t("analytics.run_rfm"), on_click=lambda: fetch(load.run_rfm)
                        ).props('color=teal-9 data-testid="run-rfm"')
                return
            lang = state.language()
            chart_card(views.rfm_view(grid.scores, grid.segments, lang), testid="rfm")

    async def fetch(loader: Callable[..., load.RfmGrid]) -> None:
        if loader is load.run_rfm:  # scoring every buyer takes a while: say so
            slot.clear()
            with slot, ui.card().classes("w-full"), ui.row().classes("items-center gap-2"):
                ui.spinner()
                ui.label(t("analytics.rfm_running")).props('data-testid="rfm-running"')
        grid = await state.call(loader, runtime=state.runtime(), workspace=workspace, now=utcnow())
        draw(grid)

    async def first() -> None:
        await fetch(load.rfm)

    ui.timer(0.01, first, once=True)


@ui.page("/analytics")
def analytics_page(request: Request) -> RedirectResponse | None:
    """Every analysis of the workspace, chart first, table on a switch; ``?from=&to=`` (local
    days) picks the range, by default each chart's own window."""
    if state.current() is None:
        return RedirectResponse("/login")
    asked = (request.query_params.get("from", ""), request.query_params.get("to", ""))
    with frame("/analytics", "nav.analytics") as workspace:
        span = range_bar(
            "/analytics",
            workspace,
            asked,
            default_note=t("analytics.period_note"),
            range_note="analytics.range_note",
        )
        with ui.grid(columns=2).classes("w-full gap-4"):
            for key, loader, builder in CHARTS[:3]:
                _chart(workspace, key, loader, builder, span)
            _rfm(workspace)
            for key, loader, builder in CHARTS[3:]:
                _chart(workspace, key, loader, builder, span)
    return None
