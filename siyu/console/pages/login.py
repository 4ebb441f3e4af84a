"""Sign in with a workspace's secret API key (until siyu has operator accounts)."""

from __future__ import annotations

from nicegui import ui

from siyu.console import state
from siyu.console.layout import language_toggle
from siyu.console.state import t
from siyu.core.errors import AuthError


@ui.page("/login")
def login_page() -> None:
    """The sign-in form."""
    ui.page_title(f"{t('login.title')} · {t('app.name')}")

    async def submit() -> None:
        if not key.value or not key.value.strip():
            key.props("error").props(f'error-message="{t("login.key_required")}"')
            return
        try:
            ref = await state.call(state.authenticate, secret_key=key.value)
        except AuthError:
            message.set_text(t("login.unknown_key"))
            message.set_visibility(True)
            return
        state.remember(ref)
        ui.navigate.to("/")

    with ui.column().classes("absolute-center items-center gap-4 w-96"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("hub", size="40px").classes("text-teal-9")
            ui.label(t("app.name")).classes("text-3xl font-bold text-teal-10")
        language_toggle()
        with ui.card().classes("w-full"):
            ui.label(t("login.title")).classes("text-lg font-medium")
            key = (
                ui.input(t("login.secret_key"), password=True, password_toggle_button=True)
                .classes("w-full")
                .props('data-testid="login-key" autofocus')
                .on("keydown.enter", submit)
            )
            message = ui.label("").classes("text-negative").props('data-testid="login-error"')
            message.set_visibility(False)
            ui.button(t("login.submit"), on_click=submit).classes("w-full").props(
                'color=teal-9 data-testid="login-submit"'
            )
            ui.label(t("login.hint")).classes("text-xs text-grey-7")
