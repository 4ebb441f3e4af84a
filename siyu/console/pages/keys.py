"""API keys: the write key for SDKs, every key (only its first characters), and create, rotate
and revoke — a new or rotated secret is shown once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui
from starlette.responses import RedirectResponse

from siyu.accounts.models import ApiKeyCreated, KeyKind
from siyu.accounts.permissions import Role
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import keys_load as load
from siyu.console.pages.channel_forms import problem
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import channels as views
from siyu.console.views.common import column
from siyu.console.widgets import confirm, empty_state, table
from siyu.core.clock import utcnow
from siyu.core.errors import SiyuError

WRITE = "keys:write"
Action = Callable[..., ApiKeyCreated]


def _show_secret(shown: ui.column, done: ApiKeyCreated, message_key: str) -> None:
    shown.clear()
    with shown:
        ui.label(t(message_key, name=done.api_key.name)).classes("text-sm text-warning")
        ui.label(done.key).classes("font-mono text-sm").props('data-testid="new-secret"')


def _create_form(
    workspace: WorkspaceRef, shown: ui.column, refill: Callable[[], Awaitable[None]]
) -> None:
    with ui.row().classes("items-end gap-3"):
        kind = (
            ui.select(
                {k.value: t(f"keys.kind.{k.value}") for k in KeyKind},
                value="secret",
                label=t("keys.kind"),
            )
            .classes("w-40")
            .props('data-testid="key-kind"')
        )
        name = ui.input(t("keys.name")).classes("w-64").props('data-testid="key-name"')
        role = (
            ui.select(
                {r.value: t(f"role.{r.value}") for r in Role},
                value=Role.operator.value,
                label=t("keys.scopes"),
            )
            .classes("w-40")
            .props('data-testid="key-role"')
        )
        role.bind_visibility_from(kind, "value", backward=lambda v: v == "secret")

        async def create() -> None:
            if not state.require(WRITE):
                return
            try:
                done = await state.call(
                    load.create,
                    runtime=state.runtime(),
                    workspace_id=workspace.id,
                    kind=KeyKind(kind.value),
                    name=name.value or "",
                    role=Role(role.value),
                    now=utcnow(),
                )
            except SiyuError as error:
                ui.notify(problem(error), type="warning")
                return
            await refill()
            _show_secret(shown, done, "keys.created")

        ui.button(t("keys.create"), icon="add", on_click=create).props(
            'color=teal-9 data-testid="key-create"'
        )


def _manage(
    workspace: WorkspaceRef,
    board: load.KeyBoard,
    shown: ui.column,
    refill: Callable[[], Awaitable[None]],
) -> None:
    live = {k.id: f"{k.name} ({k.hint}…)" for k in board.keys if k.revoked_at is None}
    rotatable = views.rotatable(board.keys)
    with ui.row().classes("items-end gap-3"):
        chosen = ui.select(
            live, value=next(iter(rotatable), next(iter(live), None)), label=t("channels.key")
        ).classes("w-80")
        chosen.props('data-testid="rotate-key"')
        rotate = ui.button(t("channels.rotate"), icon="autorenew").props(
            'outline color=negative data-testid="rotate-submit"'
        )
        revoke = ui.button(t("keys.revoke"), icon="block").props(
            'outline color=negative data-testid="revoke-submit"'
        )

    async def do_rotate() -> None:
        if not state.require(WRITE) or chosen.value not in rotatable:
            ui.notify(t("keys.not_rotatable"), type="warning")
            return
        try:
            done = await state.call(
                load.rotate,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                key_id=str(chosen.value),
                now=utcnow(),
            )
        except SiyuError as error:
            ui.notify(problem(error), type="warning")
            return
        await refill()
        _show_secret(shown, done, "channels.rotated")

    async def do_revoke() -> None:
        if not state.require(WRITE) or not chosen.value:
            return
        try:
            await state.call(
                load.revoke,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                key_id=str(chosen.value),
                now=utcnow(),
            )
        except SiyuError as error:
            ui.notify(problem(error), type="warning")
            return
        await refill()
        ui.notify(t("keys.revoked"), type="positive")

    rotate.on_click(
        lambda: confirm(
            t("channels.rotate_confirm", name=live.get(str(chosen.value), "")),
            t("channels.rotate"),
            do_rotate,
            "rotate-confirm",
        )
    )
    revoke.on_click(
        lambda: confirm(
            t("keys.revoke_confirm", name=live.get(str(chosen.value), "")),
            t("keys.revoke"),
            do_revoke,
            "revoke-confirm",
        )
    )


def _draw(workspace: WorkspaceRef, body: ui.column) -> None:
    shown = ui.column().classes("w-full").props('data-testid="rotated"')

    async def fill() -> None:
        board = await state.call(load.board, runtime=state.runtime(), workspace_id=workspace.id)
        body.clear()
        with body:
            with ui.row().classes("items-center gap-3"):
                ui.label(t("channels.write_key")).classes("text-sm w-28")
                ui.label(board.write_key).classes("font-mono text-sm").props(
                    'data-testid="write-key"'
                )
            names = ("name", "kind", "hint", "created", "rotated", "status")
            cols = [column(n, t(f"channels.keycol.{n}")) for n in names]
            table(
                cols,
                views.key_rows(board.keys, state.language(), workspace.timezone),
                testid="api-keys",
            )
            if workspace.may(WRITE):
                _create_form(workspace, shown, fill)
                _manage(workspace, board, shown, fill)
            ui.label(t("channels.keys_note")).classes("text-xs text-grey-7")

    ui.timer(0.01, fill, once=True)


@ui.page("/keys")
def keys_page() -> RedirectResponse | None:
    """The write key and API keys; create, rotate and revoke with keys:write."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/keys", "nav.keys") as workspace:
        if not workspace.may("keys:read"):
            empty_state(t("access.denied", permission="keys:read"), t("keys.ask_owner"))
            return None
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")
        _draw(workspace, body)
    return None
