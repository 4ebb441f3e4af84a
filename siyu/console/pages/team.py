"""Team & privacy: the workspace's users and roles (add, change role, remove, password reset),
the audit log, and personal-information requests (export, erase) — one tab each."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from nicegui import ui
from starlette.requests import Request
from starlette.responses import RedirectResponse

from siyu.accounts.models import Member
from siyu.accounts.permissions import Role
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import team_load as load
from siyu.console.pages.channel_forms import problem
from siyu.console.pages.team_audit import audit_panel
from siyu.console.pages.team_privacy import privacy_panel
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import team as views
from siyu.console.views.common import column
from siyu.console.views.people import local_time
from siyu.console.widgets import confirm, empty_state, table
from siyu.core.clock import utcnow
from siyu.core.errors import SiyuError

READ = "users:read"
WRITE = "users:write"
Refill = Callable[[], Awaitable[None]]
T = TypeVar("T")


def operator(workspace: WorkspaceRef) -> load.Operator:
    """The signed-in user as the domain checks and audits them."""
    return load.Operator(user_id=workspace.user_id, role=workspace.role)


def _roles(workspace: WorkspaceRef) -> dict[str, str]:
    # Only an owner makes an owner (the domain refuses anyone else too).
    shown = [r for r in Role if r is not Role.owner or workspace.role is Role.owner]
    return {r.value: t(f"role.{r.value}") for r in shown}


def _show_once(shown: ui.column, message: str, secret: str) -> None:
    shown.clear()
    with shown:
        ui.label(message).classes("text-sm text-warning")
        ui.label(secret).classes("font-mono text-sm").props('data-testid="team-secret"')


def _add_form(workspace: WorkspaceRef, shown: ui.column, refill: Refill) -> None:
    with ui.row().classes("items-end gap-3"):
        email = ui.input(t("team.email")).classes("w-64").props('data-testid="user-email"')
        name = ui.input(t("team.name")).classes("w-40").props('data-testid="user-name"')
        role = ui.select(_roles(workspace), value=Role.analyst.value, label=t("team.role"))
        role.classes("w-40").props('data-testid="user-role"')

        async def add() -> None:
            if not state.require(WRITE):
                return
            try:
                done = await state.call(
                    load.add_user, runtime=state.runtime(), workspace_id=workspace.id,
                    email=email.value or "", role=Role(role.value), by=operator(workspace),
                    now=utcnow(), name=name.value or "",
                )  # fmt: skip
            except SiyuError as error:
                ui.notify(problem(error), type="warning")
                return
            await refill()
            if done.password is None:
                ui.notify(t("team.added_existing", email=done.member.email), type="positive")
                return
            message = t("team.added_password", email=done.member.email)
            _show_once(shown, message, done.password)

        ui.button(t("team.add"), icon="person_add", on_click=add).props(
            'color=teal-9 data-testid="user-add"'
        )


def _reset_link(origin: str, token: str) -> str:
    return f"{origin.rstrip('/')}/password-reset?token={token}"


@dataclass
class _Manage:
    """The controls that act on one picked member: change role, reset password, remove."""

    workspace: WorkspaceRef
    members: dict[str, Member]
    shown: ui.column
    refill: Refill
    origin: str

    def draw(self) -> None:
        with ui.row().classes("items-end gap-3"):
            options = {m.user_id: m.email for m in self.members.values()}
            self.chosen = ui.select(options, label=t("team.member")).classes("w-64")
            self.chosen.props('data-testid="member-pick"')
            self.role = ui.select(_roles(self.workspace), label=t("team.new_role"))
            self.role.classes("w-40").props('data-testid="member-role"')
            ui.button(t("team.set_role"), icon="manage_accounts", on_click=self.set_role).props(
                'outline color=teal-9 data-testid="member-set-role"'
            )
            ui.button(t("team.reset"), icon="lock_reset", on_click=self.reset).props(
                'outline color=teal-9 data-testid="member-reset"'
            )
            ui.button(t("team.remove"), icon="person_remove", on_click=self.ask_remove).props(
                'outline color=negative data-testid="member-remove"'
            )

    def picked(self) -> Member | None:
        member = self.members.get(str(self.chosen.value))
        if member is None:
            ui.notify(t("team.pick_member"), type="warning")
        return member

    async def run(self, function: Callable[..., T], **kwargs: object) -> T | None:
        """Call ``function`` as the signed-in operator, after checking users:write again."""
        if not state.require(WRITE):
            return None
        try:
            return await state.call(
                function, runtime=state.runtime(), workspace_id=self.workspace.id,
                by=operator(self.workspace), now=utcnow(), **kwargs,
            )  # fmt: skip
        except SiyuError as error:
            ui.notify(problem(error), type="warning")
            return None

    async def set_role(self) -> None:
        member = self.picked()
        if member is None or not self.role.value:
            return
        role = Role(self.role.value)
        if await self.run(load.set_role, user_id=member.user_id, role=role) is not None:
            await self.refill()
            ui.notify(t("team.role_set", email=member.email), type="positive")

    async def reset(self) -> None:
        member = self.picked()
        if member is None:
            return
        issued = await self.run(load.issue_reset, user_id=member.user_id)
        if issued is not None:
            until = local_time(issued.expires_at, self.workspace.timezone)
            message = t("team.reset_issued", email=member.email, until=until)
            _show_once(self.shown, message, _reset_link(self.origin, issued.token))

    async def remove(self) -> None:
        member = self.picked()
        if member is None:
            return
        removed = await self.run(load.remove_user, user_id=member.user_id)
        if removed is not None:
            await self.refill()
            ui.notify(t("team.removed", email=member.email), type="positive")

    def ask_remove(self) -> None:
        member = self.picked()
        if member is not None:
            question = t("team.remove_confirm", email=member.email)
            confirm(question, t("team.remove"), self.remove, "member-remove-confirm")


def users_panel(workspace: WorkspaceRef, origin: str) -> None:
    """The members table; add, change role, reset and remove with users:write."""
    if not workspace.may(READ):
        empty_state(t("access.denied", permission=READ), t("team.ask_owner"))
        return
    body = ui.column().classes("w-full gap-4")
    shown = ui.column().classes("w-full").props('data-testid="team-shown"')
    with body:
        ui.spinner(size="lg")

    async def fill() -> None:
        members = await state.call(load.members, runtime=state.runtime(), workspace_id=workspace.id)
        body.clear()
        with body:
            names = ("email", "name", "role", "joined")
            cols = [column(n, t(f"team.col.{n}")) for n in names]
            rows = views.member_rows(members, state.language(), workspace.timezone)
            table(cols, rows, testid="team-users", pagination=20)
            if workspace.may(WRITE):
                _add_form(workspace, shown, fill)
                by_id = {m.user_id: m for m in members}
                _Manage(workspace, by_id, shown, fill, origin).draw()
            ui.label(t("team.note")).classes("text-xs text-grey-7")

    ui.timer(0.01, fill, once=True)


@ui.page("/team")
def team_page(request: Request) -> RedirectResponse | None:
    """Users and roles, the audit log and personal-information requests."""
    if state.current() is None:
        return RedirectResponse("/login")
    origin = str(request.base_url)
    with frame("/team", "nav.team") as workspace:
        with ui.tabs().classes("w-full").props("align=left no-caps") as tabs:
            users = ui.tab("users", t("team.tab.users")).props('data-testid="tab-users"')
            audit = ui.tab("audit", t("team.tab.audit")).props('data-testid="tab-audit"')
            privacy = ui.tab("privacy", t("team.tab.privacy")).props('data-testid="tab-privacy"')
        with ui.tab_panels(tabs, value=users).classes("w-full"):
            with ui.tab_panel(users):
                users_panel(workspace, origin)
            with ui.tab_panel(audit):
                newest = audit_panel(workspace)
            with ui.tab_panel(privacy):
                privacy_panel(workspace)

    async def tab_changed(value: object) -> None:
        # What happened on the other tabs shows up as soon as the audit tab is opened.
        if value == "audit" and newest is not None:
            await newest()

    tabs.on_value_change(lambda e: tab_changed(e.value))
    return None
