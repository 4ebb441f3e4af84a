"""Customer groups (社群): health over the last 30 days per group (chart and table), the
totals, and the dormant groups."""

from __future__ import annotations

from datetime import timedelta

from nicegui import ui
from pydantic import BaseModel
from starlette.responses import RedirectResponse

from siyu.community import service as community
from siyu.community.models import DormantGroup, HealthReport
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import groups as views
from siyu.console.views.common import count, yuan
from siyu.console.widgets import chart_card, empty_state, kpi, table
from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime
from siyu.pipeline import community_health

DAYS = 30


class Board(BaseModel):
    """What the page shows."""

    health: HealthReport
    dormant: list[DormantGroup]


def load(*, runtime: Runtime, workspace_id: str) -> Board:
    """Health over the last 30 days and the groups quiet for 7 (blocking)."""
    now = utcnow()
    health = community_health.group_health(
        runtime=runtime, workspace_id=workspace_id, since=now - timedelta(days=DAYS), until=now
    )
    with runtime.sessions() as session:
        dormant = community.dormant_groups(
            session=session, workspace_id=workspace_id, now=now, days=7
        )
    return Board(health=health, dormant=dormant)


def _draw(workspace: WorkspaceRef, body: ui.column) -> None:
    async def fill() -> None:
        board = await state.call(load, runtime=state.runtime(), workspace_id=workspace.id)
        groups, lang = board.health.groups, state.language()
        body.clear()
        with body:
            if not groups:
                empty_state(t("groups.empty"), t("groups.empty_hint"), testid="groups-empty")
                return
            with ui.row().classes("gap-4"):
                kpi(t("groups.kpi.groups"), count(len(groups)), testid="groups")
                kpi(
                    t("groups.kpi.members"),
                    count(sum(g.members for g in groups)),
                    testid="group-members",
                )
                kpi(
                    t("groups.kpi.messages"),
                    count(sum(g.messages for g in groups)),
                    testid="group-messages",
                )
                kpi(t("groups.kpi.gmv"), yuan(sum(g.gmv_fen for g in groups)), testid="group-gmv")
            chart_card(views.health_chart(groups, lang), testid="groups-health")
            with ui.card().classes("w-full").props('data-testid="groups-dormant"'):
                ui.label(t("groups.dormant", n=len(board.dormant))).classes("text-base font-medium")
                table(
                    views.dormant_columns(lang),
                    views.dormant_rows(board.dormant, lang),
                    testid="groups-dormant-table",
                )

    ui.timer(0.01, fill, once=True)


@ui.page("/groups")
def groups_page() -> RedirectResponse | None:
    """Customer groups' health and the dormant ones."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/groups", "nav.groups") as workspace:
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")
        _draw(workspace, body)
    return None
