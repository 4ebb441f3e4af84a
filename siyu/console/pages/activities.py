"""Activities: each campaign's status, stock and budget left, funnel and ROI; create a lottery,
group-buy, assist, bargain or check-in; pause, resume and end."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.responses import RedirectResponse

from siyu.activities.models import ActivityKind
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import activities_load as load
from siyu.console.pages.channel_forms import problem
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import activities as views
from siyu.console.widgets import chart_card, empty_state, kpi, table
from siyu.core.clock import utcnow
from siyu.core.errors import SiyuError

WRITE = "activities:write"
_KIND_ONLY = ("helpers_needed", "start_price_yuan", "floor_price_yuan", "days_required")


def _create_form(workspace: WorkspaceRef, refresh: Any) -> None:
    with (
        ui.expansion(t("activities.create"), icon="add_circle")
        .classes("w-full")
        .props('data-testid="activity-create"')
    ):
        fields: dict[str, Any] = {}
        with ui.row().classes("items-end gap-3"):
            fields["name"] = ui.input(t("activities.name")).props('data-testid="activity-name"')
            fields["kind"] = (
                ui.select(
                    {k: t(f"activities.kind.{k}") for k in views.FORM_KINDS},
                    value=ActivityKind.LOTTERY.value,
                    label=t("activities.col.kind"),
                )
                .classes("w-32")
                .props('data-testid="activity-kind"')
            )
            fields["days"] = ui.number(t("activities.days"), value=7, min=1, max=366)
            fields["budget_yuan"] = ui.number(t("activities.budget_yuan"), min=0)
            fields["stock"] = ui.number(t("activities.stock"), min=0, precision=0)
        with ui.row().classes("items-end gap-3"):
            fields["points"] = ui.number(t("activities.points"), value=100, min=1, precision=0)
            fields["cost_fen"] = ui.number(t("activities.cost_fen"), value=0, min=0, precision=0)
            fields["win_percent"] = ui.number(t("activities.win_percent"), value=20, min=1, max=100)
            fields["team_size"] = ui.number(t("activities.team_size"), value=3, min=2, max=100)
            fields["group_price_yuan"] = ui.number(t("activities.group_price_yuan"), min=0)
            fields["helpers_needed"] = ui.number(
                t("activities.helpers_needed"), value=5, precision=0
            )
            fields["start_price_yuan"] = ui.number(t("activities.start_price_yuan"))
            fields["floor_price_yuan"] = ui.number(t("activities.floor_price_yuan"))
            fields["days_required"] = ui.number(t("activities.days_required"), value=7, precision=0)
        for name in ("win_percent", "team_size", "group_price_yuan", *_KIND_ONLY):
            shown = {kind for kind, names in views.KIND_FIELDS.items() if name in names}
            fields[name].bind_visibility_from(
                fields["kind"], "value", backward=lambda kind, shown=shown: kind in shown
            )
        for name in ("points", *_KIND_ONLY):
            fields[name].props(f'data-testid="activity-{name.replace("_", "-")}"')
        result = ui.label("").classes("text-sm").props('data-testid="activity-result"')

        async def create() -> None:
            if not state.require(WRITE):
                return
            values = {name: field.value for name, field in fields.items()}
            try:
                body = views.activity_from_form(values, utcnow())
                await state.call(
                    load.create,
                    runtime=state.runtime(),
                    workspace_id=workspace.id,
                    activity=body,
                    now=utcnow(),
                )
            except (ValidationError, SiyuError) as error:
                result.set_text(problem(error))
                result.classes(replace="text-sm text-negative")
                return
            ui.notify(t("activities.created", name=body.name), type="positive")
            await refresh()

        ui.button(t("activities.create_submit"), icon="add", on_click=create).props(
            'color=teal-9 data-testid="activity-submit"'
        )


def _actions(workspace: WorkspaceRef, card: load.ActivityCard, refresh: Any) -> None:
    activity = card.activity
    current = views.status(activity, utcnow())
    if current == "ended":
        return

    async def pause(paused: bool) -> None:
        if not state.require(WRITE):
            return
        await state.call(
            load.set_paused,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            activity_id=activity.id,
            paused=paused,
        )
        await refresh()

    async def end() -> None:
        if not state.require(WRITE):
            return
        await state.call(
            load.end,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            activity_id=activity.id,
            now=utcnow(),
        )
        await refresh()

    with ui.row().classes("gap-2"):
        if activity.paused:
            ui.button(t("activities.resume"), icon="play_arrow", on_click=lambda: pause(False))
        else:
            ui.button(t("activities.pause"), icon="pause", on_click=lambda: pause(True))
        ui.button(t("activities.end"), icon="stop", on_click=end).props(
            'outline color=negative data-testid="activity-end"'
        )


def _detail(workspace: WorkspaceRef, card: load.ActivityCard, refresh: Any) -> None:
    activity, stats = card.activity, card.stats
    lang = state.language()
    row = views.activity_row(activity, stats, utcnow(), lang)
    with ui.card().classes("w-full").props(f'data-testid="activity-{activity.id}"'):
        with ui.row().classes("w-full items-center justify-between"):
            with ui.row().classes("items-center gap-2"):
                ui.label(activity.name).classes("text-base font-medium").props(
                    'data-testid="activity-title"'
                )
                ui.badge(row["kind"]).props("color=grey-7")
                ui.badge(row["status"]).props('color=teal-7 data-testid="activity-status"')
            if workspace.may(WRITE):
                _actions(workspace, card, refresh)
        with ui.row().classes("gap-3"):
            kpi(t("activities.col.stock"), row["stock"], testid="stock")
            kpi(t("activities.col.budget"), row["budget"], testid="budget")
            kpi(t("activities.col.gmv"), row["gmv"], testid="gmv")
            kpi(t("activities.col.roi"), row["roi"], testid="roi")
            kpi(t("activities.participations"), f"{stats.participations:,}", testid="taken")
        chart_card(views.funnel_view(stats, lang), testid=f"funnel-{activity.id}", height="260px")


def _draw(workspace: WorkspaceRef, body: ui.column) -> None:
    async def fill() -> None:
        cards = await state.call(load.board, runtime=state.runtime(), workspace_id=workspace.id)
        body.clear()
        with body:
            if workspace.may(WRITE):
                _create_form(workspace, fill)
            if not cards:
                empty_state(t("activities.none"), t("activities.none_hint"))
                return
            lang = state.language()
            rows = [views.activity_row(c.activity, c.stats, utcnow(), lang) for c in cards]
            table(views.list_columns(lang), rows, testid="activities")
            for card in cards:
                _detail(workspace, card, fill)

    ui.timer(0.01, fill, once=True)


@ui.page("/activities")
def activities_page() -> RedirectResponse | None:
    """Activities with status, stock and budget left, funnel and ROI; create, pause, end."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/activities", "nav.activities") as workspace:
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")
        _draw(workspace, body)
    return None
