"""One journey: its flow as a canvas with live counts per node (and the same as a table), A/B
results per split variant, and an editor that validates and publishes a new version."""

from __future__ import annotations

from nicegui import ui
from starlette.responses import RedirectResponse

from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import journeys_load as load
from siyu.console.pages.journeys import status_button
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import journey_flow as flow
from siyu.console.views import journeys as views
from siyu.console.views.common import ChartView, count
from siyu.console.widgets import chart_card, empty_state, table
from siyu.core.clock import utcnow
from siyu.core.errors import InvalidInputError, NotFoundError, SiyuError

REFRESH_SECONDS = 5.0


class LiveCanvas:
    """The flow chart and its table view, redrawn from fresh statistics."""

    def __init__(self, view: ChartView, size: tuple[int, int]) -> None:
        with ui.card().classes("w-full").props('data-testid="chart-flow"'):
            with ui.row().classes("w-full items-center justify-between"):
                ui.label(view.title).classes("text-base font-medium")
                with ui.row().classes("items-center gap-3"):
                    self.summary = ui.label().classes("text-sm text-grey-8")
                    self.summary.props('data-testid="flow-summary"')
                    switch = ui.switch(t("chart.table_view")).props('data-testid="toggle-flow"')
            width, height = size
            with ui.element("div").classes("w-full overflow-x-auto"):
                self.chart = ui.echart(view.options).style(
                    f"width: 100%; min-width: {width}px; height: {height}px"
                )
            self.grid = table(view.columns, view.rows, testid="table-flow", row_key="node")
            self.chart.bind_visibility_from(switch, "value", backward=lambda on: not on)
            self.grid.bind_visibility_from(switch, "value")
            ui.label(t("flow.live", seconds=int(REFRESH_SECONDS))).classes("text-xs text-grey-7")

    def show(self, board: load.JourneyBoard) -> None:
        """Redraw with ``board``'s numbers."""
        view = flow.flow_view(board.journey.definition, board.stats, state.language())
        self.chart.options.clear()
        self.chart.options.update(view.options)
        self.chart.update()
        self.grid.update_rows(view.rows)
        found = board.stats
        self.summary.set_text(
            t(
                "flow.summary",
                entries=count(found.entries),
                live=count(found.live),
                converted=count(found.converted),
            )
        )


def _variants(box: ui.column, board: load.JourneyBoard) -> None:
    box.clear()
    with box:
        if not board.stats.variants:
            empty_state(t("ab.none"), t("ab.none_hint"), testid="no-variants")
            return
        chart_card(views.variants_view(board.stats, state.language()), testid="ab")


def _editor(workspace: WorkspaceRef, board: load.JourneyBoard) -> None:
    journey = board.journey
    with ui.card().classes("w-full").props('data-testid="journey-editor"'):
        ui.label(t("editor.title")).classes("text-base font-medium")
        ui.label(t("editor.hint")).classes("text-xs text-grey-7")
        editor = ui.codemirror(views.definition_yaml(journey.definition), language="YAML")
        editor.classes("w-full").style("height: 360px").props('data-testid="editor-text"')
        result = ui.label().classes("text-sm").props('data-testid="editor-result"')

        def say(text: str, *, ok: bool) -> None:
            result.set_text(text)
            result.classes(replace="text-sm " + ("text-positive" if ok else "text-negative"))

        def check() -> None:
            try:
                found = load.validate(text=editor.value)
            except InvalidInputError as error:
                say(
                    t("editor.invalid", field=error.field or "definition", message=error.message),
                    ok=False,
                )
                return
            say(t("editor.valid", nodes=len(found.nodes)), ok=True)

        async def publish() -> None:
            try:
                done = await state.call(
                    load.publish,
                    runtime=state.runtime(),
                    workspace_id=workspace.id,
                    journey_id=journey.id,
                    text=editor.value,
                    now=utcnow(),
                )
            except SiyuError as error:
                say(
                    t("editor.invalid", field=error.field or "definition", message=error.message),
                    ok=False,
                )
                return
            say(t("editor.published", version=done.current_version), ok=True)
            ui.notify(t("editor.published", version=done.current_version), type="positive")

        with ui.row().classes("gap-2"):
            ui.button(t("editor.validate"), icon="rule", on_click=check).props(
                'outline color=teal-9 data-testid="editor-validate"'
            )
            if state.may("journeys:write"):
                ui.button(t("editor.publish"), icon="publish", on_click=publish).props(
                    'color=teal-9 data-testid="editor-publish"'
                )


def _head(workspace: WorkspaceRef, board: load.JourneyBoard) -> None:
    journey = board.journey
    with ui.row().classes("w-full items-center justify-between"):
        with ui.column().classes("gap-0"):
            ui.label(journey.name).classes("text-lg font-medium").props(
                'data-testid="journey-name"'
            )
            ui.label(
                t(
                    "journeys.facts",
                    trigger=journey.trigger_type,
                    nodes=len(journey.definition.nodes),
                    version=journey.current_version,
                )
            ).classes("text-xs text-grey-7").props('data-testid="journey-facts"')
        with ui.row().classes("items-center gap-2"):
            ui.badge(t(f"journeys.status.{journey.status.value}")).props("color=teal-7")
            status_button(workspace, journey)
            ui.button(
                t("flow.back"), icon="arrow_back", on_click=lambda: ui.navigate.to("/journeys")
            ).props("flat color=teal-9")


def _draw(workspace: WorkspaceRef, journey_id: str, body: ui.column) -> None:
    async def fill() -> None:
        try:
            board = await state.call(
                load.board,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                journey_id=journey_id,
            )
        except NotFoundError:
            body.clear()
            with body:
                empty_state(t("flow.not_found"), t("flow.not_found_hint"), testid="no-journey")
            return
        body.clear()
        with body:
            _head(workspace, board)
            definition = board.journey.definition
            canvas = LiveCanvas(
                flow.flow_view(definition, board.stats, state.language()),
                flow.canvas_size(definition),
            )
            canvas.show(board)
            ui.label(t("ab.heading")).classes("text-base font-medium")
            variants = ui.column().classes("w-full")
            _variants(variants, board)
            _editor(workspace, board)
        _refresh_every(workspace, journey_id, canvas, variants, board)

    ui.timer(0.01, fill, once=True)


def _refresh_every(
    workspace: WorkspaceRef,
    journey_id: str,
    canvas: LiveCanvas,
    variants: ui.column,
    first: load.JourneyBoard,
) -> None:
    shown = {"variants": first.stats.variants, "busy": False}

    async def refresh() -> None:
        if shown["busy"]:
            return
        shown["busy"] = True
        try:
            board = await state.call(
                load.board,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                journey_id=journey_id,
            )
        finally:
            shown["busy"] = False
        canvas.show(board)
        if board.stats.variants != shown["variants"]:
            shown["variants"] = board.stats.variants
            _variants(variants, board)

    ui.timer(REFRESH_SECONDS, refresh)


@ui.page("/journeys/{journey_id}")
def journey_page(journey_id: str) -> RedirectResponse | None:
    """A journey's canvas with live counts, its A/B results and its editor."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/journeys", "nav.journeys") as workspace:
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")
        _draw(workspace, journey_id, body)
    return None
