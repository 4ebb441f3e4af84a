"""Set a new password with a one-time reset token (the link an owner or admin hands out from
the team page, or the token ``siyu users reset-password`` prints). Signed out: the token is the
credential, exactly as for ``POST /api/auth/password-reset``."""

from __future__ import annotations

from nicegui import ui

from siyu.console import state
from siyu.console.layout import language_toggle
from siyu.console.pages import team_load as load
from siyu.console.state import t
from siyu.core.clock import utcnow
from siyu.core.errors import AuthError, InvalidInputError


@ui.page("/password-reset")
def password_reset_page(token: str = "") -> None:
    """The token (filled from the link) and the new password, twice."""
    ui.page_title(f"{t('reset.title')} · {t('app.name')}")

    def fail(message_key: str) -> None:
        message.set_text(t(message_key))
        message.set_visibility(True)

    async def submit() -> None:
        message.set_visibility(False)
        if not (given.value or "").strip() or not first.value:
            fail("reset.required")
            return
        if first.value != second.value:
            fail("reset.mismatch")
            return
        try:
            await state.call(
                load.reset_password, runtime=state.runtime(), token=given.value.strip(),
                new_password=first.value, now=utcnow(),
            )  # fmt: skip
        except AuthError:
            fail("reset.bad_token")
            return
        except InvalidInputError:
            fail("reset.bad_password")
            return
        form.set_visibility(False)
        done.set_visibility(True)

    with ui.column().classes("absolute-center items-center gap-4 w-96"):
        language_toggle()
        with ui.card().classes("w-full") as form:
            ui.label(t("reset.title")).classes("text-lg font-medium")
            given = ui.input(t("reset.token"), value=token).classes("w-full")
            given.props('data-testid="reset-token" autocomplete=off')
            first = ui.input(t("reset.new_password"), password=True).classes("w-full")
            first.props('data-testid="reset-password" autocomplete=new-password')
            second = ui.input(t("reset.again"), password=True).classes("w-full")
            second.props('data-testid="reset-again" autocomplete=new-password')
            message = ui.label("").classes("text-negative").props('data-testid="reset-error"')
            message.set_visibility(False)
            ui.button(t("reset.submit"), on_click=submit).classes("w-full").props(
                'color=teal-9 data-testid="reset-submit"'
            )
        with ui.column().classes("items-center") as done:
            ui.label(t("reset.done")).props('data-testid="reset-done"')
            ui.link(t("reset.to_login"), "/login")
        done.set_visibility(False)
