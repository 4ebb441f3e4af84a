"""The signed-in user's own account, from the header: change one's password in a dialog
(the current one, the new one twice), exactly as ``POST /api/auth/password`` does."""

from __future__ import annotations

from nicegui import ui

from siyu.console import auth, state
from siyu.console.state import WorkspaceRef, t
from siyu.core.clock import utcnow
from siyu.core.errors import AuthError, InvalidInputError


def _password(key: str, testid: str, autocomplete: str) -> ui.input:
    field = ui.input(t(key), password=True).classes("w-full")
    field.props(f'data-testid="{testid}" autocomplete={autocomplete}')
    return field


def password_dialog(workspace: WorkspaceRef) -> ui.dialog:
    """A closed dialog; ``open()`` it. The browser's session for ``workspace`` stays signed
    in, the user's other sessions end; a wrong current password or a refused new one shows the
    accounts domain's message."""
    with ui.dialog() as dialog, ui.card().classes("w-96"):
        ui.label(t("account.title")).classes("text-lg font-medium")
        current = _password("account.current", "account-current", "current-password")
        first = _password("account.new", "account-new", "new-password")
        second = _password("account.again", "account-again", "new-password")
        message = ui.label("").classes("text-negative").props('data-testid="account-error"')
        message.set_visibility(False)

        def fail(text: str) -> None:
            message.set_text(text)
            message.set_visibility(True)

        async def submit() -> None:
            message.set_visibility(False)
            token = state.token_of(workspace.id)
            if token is None:
                ui.navigate.to("/login")
                return
            if not current.value or not first.value:
                fail(t("account.required"))
                return
            if first.value != second.value:
                fail(t("account.mismatch"))
                return
            try:
                ended = await state.call(
                    auth.change_password, runtime=state.runtime(), token=token,
                    current_password=current.value, new_password=first.value, now=utcnow(),
                )  # fmt: skip
            except (AuthError, InvalidInputError) as error:
                if isinstance(error, AuthError) and error.field != "current_password":
                    ui.navigate.to("/login")  # this session itself no longer works
                    return
                fail(error.message)
                return
            for field in (current, first, second):
                field.set_value("")
            dialog.close()
            ui.notify(t("account.changed", n=ended), type="positive")

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button(t("account.cancel"), on_click=dialog.close).props(
                'flat data-testid="account-cancel"'
            )
            ui.button(t("account.submit"), on_click=submit).props(
                'color=teal-9 data-testid="account-submit"'
            )
    return dialog
