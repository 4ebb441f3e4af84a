"""Content (素材库): every item's reach, views, clicks, shares, new contacts, orders and GMV
side by side — as a chart (with its table view), per channel, and per sharer; and, for
roles with content:write, the editor (siyu.console.pages.content_editor)."""

from __future__ import annotations

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from siyu.analytics.periods import Period
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import content_editor
from siyu.console.pages import content_load as load
from siyu.console.pages.content_load import DAYS, Board
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import content as views
from siyu.console.views.common import count, yuan
from siyu.console.widgets import chart_card, empty_state, kpi, range_bar, table
from siyu.core.clock import utcnow
from siyu.pipeline import content_performance


def _fill(board: Board, span: Period | None) -> None:
    lang = state.language()
    report = board.report
    total = views.totals(report)
    window = content_performance.DEFAULT_WINDOW_DAYS
    if span is None:
        period = t("content.period", days=DAYS, window=window)
    else:
        period = t(
            "content.period_range",
            first=str(span.first_day),
            last=str(span.last_day),
            window=window,
        )
    ui.label(period).classes("text-sm text-grey-7").props('data-testid="content-period"')
    with ui.row().classes("gap-3"):
        kpi(t("content.kpi.items"), count(len(board.library)), testid="content-items")
        kpi(t("content.kpi.clicks"), count(total.clicks), testid="content-clicks")
        kpi(t("content.kpi.orders"), count(total.orders), testid="content-orders")
        kpi(t("content.kpi.gmv"), yuan(total.gmv_fen), testid="content-gmv")
    chart_card(views.comparison_view(report, lang), testid="content-compare", height="360px")
    ui.label(t("content.items")).classes("text-base font-medium")
    table(
        views.item_columns(lang),
        views.item_rows(report, board.library, lang),
        testid="content-items",
    )
    ui.label(t("content.by_channel")).classes("text-base font-medium")
    table(views.channel_columns(lang), views.channel_rows(report, lang), testid="content-channels")
    titles = {i.content_id: i.title for i in report.items}
    ui.label(t("content.sharers")).classes("text-base font-medium")
    table(views.sharer_columns(lang), views.sharer_rows(report, titles), testid="content-sharers")


def _draw(
    workspace: WorkspaceRef, editor_slot: ui.column, body: ui.column, span: Period | None
) -> None:
    async def fill() -> None:
        board = await state.call(
            load.board, runtime=state.runtime(), workspace_id=workspace.id, now=utcnow(), span=span
        )
        if workspace.may(content_editor.WRITE) and not editor_slot.default_slot.children:
            with editor_slot:  # drawn once: a refresh after a save keeps what is being edited
                content_editor.draw(workspace, board.library, fill)
        body.clear()
        with body:
            if not board.library:
                empty_state(t("content.none"), t("content.none_hint"))
                return
            _fill(board, span)

    ui.timer(0.01, fill, once=True)


@ui.page("/content")
def content_page(request: Request) -> RedirectResponse | None:
    """The material library's performance, item by item, channel by channel, sharer by sharer;
    ``?from=&to=`` (local days) picks the range."""
    if state.current() is None:
        return RedirectResponse("/login")
    asked = (request.query_params.get("from", ""), request.query_params.get("to", ""))
    with frame("/content", "nav.content") as workspace:
        span = range_bar("/content", workspace, asked)
        editor_slot = ui.column().classes("w-full")
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")
        _draw(workspace, editor_slot, body, span)
    return None
