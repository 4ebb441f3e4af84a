"""The frame around every signed-in page: header, language and workspace switches, navigation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from siyu.console import state
from siyu.console.account import password_dialog
from siyu.console.state import WorkspaceRef, t

NAVIGATION = (
    ("/", "dashboard", "nav.overview"),
    ("/people", "person_search", "nav.people"),
    ("/segments", "filter_alt", "nav.segments"),
    ("/analytics", "insights", "nav.analytics"),
    ("/loyalty", "workspace_premium", "nav.loyalty"),
    ("/growth", "qr_code_2", "nav.growth"),
    ("/journeys", "route", "nav.journeys"),
    ("/content", "collections", "nav.content"),
    ("/ugc", "rate_review", "nav.ugc"),
    ("/activities", "celebration", "nav.activities"),
    ("/assistant", "support_agent", "nav.assistant"),
    ("/groups", "groups", "nav.groups"),
    ("/channels", "forum", "nav.channels"),
    ("/keys", "key", "nav.keys"),
    ("/team", "admin_panel_settings", "nav.team"),
)


def _switch_language(lang: str) -> None:
    state.set_language(lang)
    ui.navigate.reload()


def _switch_workspace(workspace_id: str) -> None:
    state.switch_to(workspace_id)
    ui.navigate.reload()


def _sign_out() -> None:
    ui.navigate.to("/logout")


def language_toggle() -> None:
    """中文 / English, Chinese first."""
    ui.toggle(
        {"zh": "中文", "en": "English"},
        value=state.language(),
        on_change=lambda e: _switch_language(str(e.value)),
    ).props('dense no-caps data-testid="language"')


def _header(workspace: WorkspaceRef) -> None:
    with ui.header().classes("items-center justify-between bg-teal-9 text-white"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("hub", size="28px")
            ui.label(t("app.name")).classes("text-lg font-bold")
        with ui.row().classes("items-center gap-3"):
            options = {ref.id: ref.name for ref in state.signed_in().values()}
            ui.select(
                options,
                value=workspace.id,
                label=t("shell.workspace"),
                on_change=lambda e: _switch_workspace(str(e.value)),
            ).props('dense dark outlined options-dense data-testid="workspace"').classes("w-48")
            ui.button(icon="add", on_click=lambda: ui.navigate.to("/login")).props(
                'flat round dense color=white data-testid="add-workspace"'
            ).tooltip(t("shell.add_workspace"))
            language_toggle()
            ui.label(f"{workspace.email} · {t('role.' + workspace.role.value)}").classes(
                "text-sm"
            ).props('data-testid="signed-in-as"')
            ui.button(icon="lock", on_click=password_dialog(workspace).open).props(
                'flat round dense color=white data-testid="change-password"'
            ).tooltip(t("account.change_password"))
            ui.button(t("shell.sign_out"), on_click=_sign_out).props(
                'flat dense no-caps color=white data-testid="sign-out"'
            )


def _drawer(active: str) -> None:
    with ui.left_drawer(value=True).classes("bg-grey-1").props("width=200 bordered"):
        for path, icon, key in NAVIGATION:
            selected = "bg-teal-1 text-teal-10" if path == active else ""
            with (
                ui.link(target=path)
                .classes(
                    f"flex items-center gap-3 px-3 py-2 rounded no-underline text-grey-9 {selected}"
                )
                .props(f'data-testid="nav{path.replace("/", "-")}"')
            ):
                ui.icon(icon)
                ui.label(t(key))


@contextmanager
def frame(active: str, title_key: str) -> Iterator[WorkspaceRef]:
    """Draw the header and navigation, then the page body inside; yields the workspace."""
    workspace = state.current()
    assert workspace is not None  # pages check sign-in before drawing
    ui.page_title(f"{t(title_key)} · {t('app.name')}")
    _header(workspace)
    _drawer(active)
    with ui.column().classes("w-full p-4 gap-4"):
        ui.label(t(title_key)).classes("text-2xl font-bold").props('data-testid="page-title"')
        yield workspace
