"""The team page's audit tab: who did what to whom and when, newest first, filtered by action
and by days in the workspace's zone, twenty entries a page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from nicegui import ui

from siyu.console import state
from siyu.console.pages import team_load as load
from siyu.console.pages.channel_forms import problem
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import team as views
from siyu.console.views.common import column
from siyu.console.widgets import empty_state, table
from siyu.core.errors import SiyuError
from siyu.privacy.models import AuditAction

READ = "audit:read"
ALL = "all"


def _filters() -> tuple[ui.select, ui.input, ui.input, ui.button]:
    actions = {ALL: t("audit.all")} | {a: t(f"audit.action.{a}") for a in views.AUDIT_ACTIONS}
    with ui.row().classes("items-end gap-3"):
        action = ui.select(actions, value=ALL, label=t("audit.action")).classes("w-48")
        action.props('data-testid="audit-action"')
        since = ui.input(t("audit.since")).props('type=date stack-label data-testid="audit-since"')
        until = ui.input(t("audit.until")).props('type=date stack-label data-testid="audit-until"')
        apply = ui.button(t("audit.apply"), icon="filter_alt").props(
            'color=teal-9 data-testid="audit-apply"'
        )
    return action, since, until, apply


def audit_panel(workspace: WorkspaceRef) -> Callable[[], Awaitable[None]] | None:
    """The audit log for a role holding audit:read; answers what shows its newest page again."""
    if not workspace.may(READ):
        empty_state(t("access.denied", permission=READ), t("team.ask_owner"))
        return None
    action, since, until, apply = _filters()
    body = ui.column().classes("w-full gap-2")
    pages: list[int | None] = [None]  # before_id of each page shown so far; the last is shown

    async def fill() -> None:
        if not state.require(READ):
            return
        try:
            start, end = views.day_bounds(since.value, until.value, workspace.timezone)
            chosen = None if action.value == ALL else cast(AuditAction, action.value)
            page = await state.call(
                load.audit, runtime=state.runtime(), workspace_id=workspace.id, action=chosen,
                since=start, until=end, before_id=pages[-1],
            )  # fmt: skip
        except SiyuError as error:
            ui.notify(problem(error), type="warning")
            return
        body.clear()
        with body:
            names = ("at", "actor", "action", "subject", "detail")
            cols = [column(n, t(f"audit.col.{n}")) for n in names]
            rows = views.audit_rows(page.entries, page.emails, state.language(), workspace.timezone)
            table(cols, rows, testid="audit-log", pagination=0)
            with ui.row().classes("items-center gap-3"):
                newer = ui.button(t("audit.newer"), icon="chevron_left", on_click=go_newer)
                newer.props('flat dense data-testid="audit-newer"').set_enabled(len(pages) > 1)
                ui.label(t("audit.page", n=len(pages))).classes("text-sm text-grey-7")
                older = ui.button(t("audit.older"), icon="chevron_right", on_click=go_older)
                older.props('flat dense data-testid="audit-older"')
                older.set_enabled(page.next_before_id is not None)
                older_id[0] = page.next_before_id

    older_id: list[int | None] = [None]

    async def go_older() -> None:
        if older_id[0] is not None:
            pages.append(older_id[0])
            await fill()

    async def go_newer() -> None:
        if len(pages) > 1:
            pages.pop()
            await fill()

    async def first_page() -> None:
        del pages[1:]
        await fill()

    apply.on_click(first_page)
    ui.timer(0.01, fill, once=True)
    return first_page
