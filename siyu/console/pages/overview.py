"""Overview: headline numbers, the AARRR and RARRA boards, the daily trend."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from nicegui import ui
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import RedirectResponse

from siyu.analytics import measure_service as measure
from siyu.analytics import service as analytics
from siyu.analytics.boards import Board, BoardKind, BoardQuery
from siyu.analytics.engine import engine_for
from siyu.analytics.gmv import GmvDecomposition, GmvQuery
from siyu.analytics.models import RepurchaseQuery, RepurchaseResult
from siyu.analytics.order_history import OrderDays, read_order_days
from siyu.analytics.periods import Period, period_of
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import overview as views
from siyu.console.widgets import chart_card, empty_state, kpi, range_bar
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.identity import service as identity

TREND_DAYS = 30
REPURCHASE_DAYS = 90


class OverviewData(BaseModel):
    """What the overview shows, read in one go."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    gmv: GmvDecomposition
    board: Board
    repurchase: RepurchaseResult
    orders: OrderDays
    first_day: date
    last_day: date


def load(
    *, runtime: Runtime, workspace: WorkspaceRef, now: datetime, span: Period | None = None
) -> OverviewData:
    """The range against as many days before and its daily orders, by default the last 7
    complete days against the 7 before and the daily orders of the last 30; repurchase over
    the 90 days up to the range's (or the default week's) end."""
    period = span or period_of(None, None, timezone=workspace.timezone, now=now)
    gmv = measure.gmv(runtime=runtime, workspace_id=workspace.id, query=GmvQuery(period=period))
    board = measure.board(
        runtime=runtime,
        workspace_id=workspace.id,
        query=BoardQuery(period=period, kind=BoardKind.AARRR),
    )
    repurchase = analytics.run_repurchase(
        runtime=runtime,
        workspace_id=workspace.id,
        query=RepurchaseQuery(start=period.end - timedelta(days=REPURCHASE_DAYS), end=period.end),
    )
    with runtime.sessions() as session:
        person_map = identity.person_map(session=session, workspace_id=workspace.id)
    orders = read_order_days(
        engine_for(runtime),
        workspace_id=workspace.id,
        end=period.end,
        timezone=workspace.timezone,
        person_map=person_map,
    )
    return OverviewData(
        gmv=gmv,
        board=board,
        repurchase=repurchase,
        orders=orders,
        first_day=span.first_day if span else period.last_day - timedelta(days=TREND_DAYS - 1),
        last_day=period.last_day,
    )


def _board(cards: list[views.StageCard], testid: str) -> None:
    with (
        ui.element("div").classes("w-full grid grid-cols-5 gap-3").props(f'data-testid="{testid}"')
    ):
        for card in cards:
            with ui.card().classes("w-full"):
                ui.label(card.title).classes("font-bold text-teal-10")
                ui.label(card.definition).classes("text-xs text-grey-7")
                for line in card.metrics:
                    with ui.row().classes("w-full justify-between no-wrap"):
                        ui.label(line.label).classes("text-sm")
                        with ui.row().classes("gap-1 no-wrap"):
                            ui.label(line.value).classes("text-sm font-medium")
                            if line.change:
                                colour = "negative" if line.change.startswith("-") else "positive"
                                ui.label(line.change).classes(f"text-xs text-{colour}")


def _draw(data: OverviewData, span: Period | None) -> None:
    lang = state.language()
    if data.gmv.current.visitors == 0 and data.gmv.previous.visitors == 0:
        empty_state(t("overview.empty"), t("overview.empty_hint"))
    with ui.row().classes("w-full gap-3"):
        for item in views.kpis(data.gmv, data.board, data.repurchase, lang):
            kpi(item.label, item.value, item.change, testid=item.key)
    daily = views.daily_orders(data.orders, data.first_day, data.last_day)
    title = None
    if span is not None:
        title = t("overview.trend_range", first=str(span.first_day), last=str(span.last_day))
    chart_card(views.trend_view(daily, lang, title=title), testid="trend")
    ui.label(t("overview.aarrr")).classes("text-lg font-medium")
    _board(views.board_cards(data.board, BoardKind.AARRR, lang), "board-aarrr")
    ui.label(t("overview.rarra")).classes("text-lg font-medium")
    _board(views.board_cards(data.board, BoardKind.RARRA, lang), "board-rarra")


@ui.page("/")
def overview_page(request: Request) -> RedirectResponse | None:
    """The overview of the current workspace; ``?from=&to=`` (local days) picks the range."""
    if state.current() is None:
        return RedirectResponse("/login")
    asked = (request.query_params.get("from", ""), request.query_params.get("to", ""))
    with frame("/", "nav.overview") as workspace:
        span = range_bar(
            "/",
            workspace,
            asked,
            default_note=t("overview.period_note"),
            range_note="overview.range_note",
        )
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")

        async def fill() -> None:
            data = await state.call(
                load, runtime=state.runtime(), workspace=workspace, now=utcnow(), span=span
            )
            body.clear()
            with body:
                _draw(data, span)

        ui.timer(0.01, fill, once=True)
    return None
