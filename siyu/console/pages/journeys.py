"""Journeys: the workspace's journeys with their status, a dry run over the last seven days
(entries, sends per channel, what the caps would hold back), launch and pause, and a link to
each journey's canvas (:mod:`siyu.console.pages.journey_canvas`)."""

from __future__ import annotations

from nicegui import ui
from starlette.responses import RedirectResponse

from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import journeys_load as load
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import journeys as views
from siyu.console.views.common import count
from siyu.console.widgets import chart_card, empty_state
from siyu.core.clock import utcnow
from siyu.core.errors import SiyuError
from siyu.journeys.service import Journey, JourneyStatus


def _dry_run_box(workspace: WorkspaceRef, journey: Journey) -> None:
    box = ui.column().classes("w-full")

    async def run() -> None:
        box.clear()
        with box, ui.row().classes("items-center gap-2"):
            ui.spinner()
            ui.label(t("journeys.running"))
        try:
            found = await state.call(
                load.dry_run,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                journey_id=journey.id,
                now=utcnow(),
            )
        except SiyuError as error:
            box.clear()
            with box:
                ui.label(str(error)).classes("text-negative")
            return
        box.clear()
        with box:
            held = ", ".join(f"{k} {v}" for k, v in sorted(found.held_by_reason.items())) or "—"
            ui.label(
                t(
                    "journeys.dry_run_summary",
                    entries=count(found.entries),
                    messages=count(found.messages_total),
                    tasks=count(found.staff_tasks),
                    held=count(found.held_back or 0),
                    reasons=held,
                )
            ).classes("text-sm").props(f'data-testid="dry-run-{journey.id}"')
            for note in found.notes:
                ui.label(note).classes("text-xs text-grey-7")
            chart_card(views.dry_run_view(found, state.language()), testid=f"dry-{journey.id}")

    ui.button(t("journeys.dry_run"), icon="science", on_click=run).props(
        f'flat color=teal-9 data-testid="dry-run-button-{journey.id}"'
    )


def status_button(workspace: WorkspaceRef, journey: Journey) -> None:
    """Launch a paused or draft journey, pause an active one (nothing for an archived one)."""
    if journey.status is JourneyStatus.ARCHIVED:
        return
    target = (
        JourneyStatus.PAUSED if journey.status is JourneyStatus.ACTIVE else JourneyStatus.ACTIVE
    )
    label = t("journeys.pause") if target is JourneyStatus.PAUSED else t("journeys.launch")

    async def change() -> None:
        try:
            await state.call(
                load.set_status,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                journey_id=journey.id,
                status=target,
                now=utcnow(),
            )
        except SiyuError as error:
            ui.notify(str(error), type="warning")
            return
        ui.navigate.reload()

    if state.may("journeys:write"):
        ui.button(label, on_click=change).props("outline dense color=teal-9")


def _journey_card(workspace: WorkspaceRef, journey: Journey) -> None:
    with ui.card().classes("w-full").props(f'data-testid="journey-{journey.id}"'):
        with ui.row().classes("w-full items-center justify-between"):
            with ui.column().classes("gap-0"):
                ui.label(journey.name).classes("text-base font-medium")
                ui.label(
                    t(
                        "journeys.facts",
                        trigger=journey.trigger_type,
                        nodes=len(journey.definition.nodes),
                        version=journey.current_version,
                    )
                ).classes("text-xs text-grey-7")
            with ui.row().classes("items-center gap-2"):
                ui.badge(t(f"journeys.status.{journey.status.value}")).props("color=teal-7")
                status_button(workspace, journey)
                ui.button(
                    t("flow.open"),
                    icon="account_tree",
                    on_click=lambda: ui.navigate.to(f"/journeys/{journey.id}"),
                ).props(f'color=teal-9 dense data-testid="open-canvas-{journey.id}"')
        _dry_run_box(workspace, journey)


@ui.page("/journeys")
def journeys_page() -> RedirectResponse | None:
    """Every journey, with a dry run, launch and pause."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/journeys", "nav.journeys") as workspace:
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")

        async def fill() -> None:
            found = await state.call(
                load.listing, runtime=state.runtime(), workspace_id=workspace.id
            )
            body.clear()
            with body:
                if not found:
                    empty_state(t("journeys.none"), t("journeys.none_hint"), testid="no-journeys")
                for journey in found:
                    _journey_card(workspace, journey)

        ui.timer(0.01, fill, once=True)
    return None
