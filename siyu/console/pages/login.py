"""Sign in with an email and password (siyu.accounts users), and sign out."""

from __future__ import annotations

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from siyu.console import auth, state
from siyu.console.layout import language_toggle
from siyu.console.state import t
from siyu.core.clock import utcnow
from siyu.core.errors import AuthError, InvalidInputError, LockedOutError


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@ui.page("/login")
def login_page(request: Request) -> None:
    """The sign-in form: email, password, and the workspace when the user has several."""
    ui.page_title(f"{t('login.title')} · {t('app.name')}")
    ip = _client_ip(request)

    def fail(message_key: str, **values: object) -> None:
        message.set_text(t(message_key, **values))
        message.set_visibility(True)

    async def submit() -> None:
        message.set_visibility(False)
        if not (email.value or "").strip() or not password.value:
            fail("login.required")
            return
        try:
            signed = await state.call(
                auth.sign_in,
                runtime=state.runtime(),
                email=email.value,
                password=password.value,
                workspace_id=workspace.value,
                ip=ip,
                now=utcnow(),
            )
        except LockedOutError as error:
            fail("login.locked", seconds=error.details.get("retry_after", 30))
            return
        except AuthError:
            fail("login.wrong")
            return
        except InvalidInputError:
            fail("login.bad_email")
            return
        except auth.ChooseWorkspace as choose:
            workspace.set_options({c.id: c.name for c in choose.choices})
            workspace.set_visibility(True)
            fail("login.choose_workspace")
            return
        state.remember(signed)
        ui.navigate.to("/")

    with ui.column().classes("absolute-center items-center gap-4 w-96"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("hub", size="40px").classes("text-teal-9")
            ui.label(t("app.name")).classes("text-3xl font-bold text-teal-10")
        language_toggle()
        with ui.card().classes("w-full"):
            ui.label(t("login.title")).classes("text-lg font-medium")
            email = (
                ui.input(t("login.email"))
                .classes("w-full")
                .props('data-testid="login-email" autofocus autocomplete=username')
            )
            password = (
                ui.input(t("login.password"), password=True, password_toggle_button=True)
                .classes("w-full")
                .props('data-testid="login-password" autocomplete=current-password')
                .on("keydown.enter", submit)
            )
            workspace = (
                ui.select({}, label=t("login.workspace"))
                .classes("w-full")
                .props('data-testid="login-workspace"')
            )
            workspace.set_visibility(False)
            message = ui.label("").classes("text-negative").props('data-testid="login-error"')
            message.set_visibility(False)
            ui.button(t("login.submit"), on_click=submit).classes("w-full").props(
                'color=teal-9 data-testid="login-submit"'
            )
            ui.label(t("login.hint")).classes("text-xs text-grey-7")


@ui.page("/logout")
async def logout_page() -> RedirectResponse:
    """End every session of this browser and go back to the sign-in page."""
    tokens = state.sign_out_tokens()
    if tokens:
        await state.call(auth.sign_out, runtime=state.runtime(), tokens=tokens, now=utcnow())
    return RedirectResponse("/login")
