"""Channels and settings: delivery credentials (secrets write-only), frequency caps and quiet
hours, message templates, a person's consents, recent messages with what held them back, and
the workspace's API keys."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from pydantic import ValidationError
from starlette.responses import RedirectResponse

from siyu.channels.models import Channel
from siyu.channels.restraint import RestraintPolicy
from siyu.collect.models import IdType
from siyu.console import state
from siyu.console.layout import frame
from siyu.console.pages import channel_forms as forms
from siyu.console.pages import channels_load as load
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import channels as views
from siyu.console.views.common import column
from siyu.console.widgets import chart_card, table
from siyu.core.clock import utcnow
from siyu.core.errors import NotFoundError, SiyuError

DEFAULT_SCOPE = "default"


def _section(title: str, testid: str) -> ui.card:
    card = ui.card().classes("w-full").props(f'data-testid="{testid}"')
    with card:
        ui.label(title).classes("text-base font-medium")
    return card


def _credentials(workspace: WorkspaceRef, board: load.ChannelsBoard, redraw: Any) -> None:
    lang, zone = state.language(), workspace.timezone
    columns = [
        column("channel", t("col.channel")),
        column("status", t("channels.status")),
        column("ident", t("channels.ident")),
        column("secret", t("channels.secret")),
        column("updated", t("channels.updated")),
    ]
    rows = views.credential_rows(board.settings, board.accounts, lang, zone)
    table(columns, rows, testid="credentials")
    stored = {view.channel.value: view for view in board.settings}
    for row in rows:
        name = row["key"]
        view = stored.get(name)
        account = board.accounts.get(views.WECHAT[name]) if name in views.WECHAT else None
        current: dict[str, Any] = dict(view.config) if view else {}
        if account is not None:
            current = account.model_dump()
        with (
            ui.expansion(t(f"channels.kind.{name}"), icon="key")
            .classes("w-full")
            .props(f'data-testid="credential-{name}"')
        ):
            secret_set = (view is not None and view.secret_set) or account is not None
            forms.credential_form(workspace, name, current, secret_set, redraw)


def _caps_inputs(policy: RestraintPolicy, scope: str) -> dict[str, Any]:
    caps = policy.default_caps if scope == DEFAULT_SCOPE else policy.caps_for(Channel(scope))
    return {"daily": caps.daily, "weekly": caps.weekly, "monthly": caps.monthly}


def _override_buttons(row: ui.row, policy: RestraintPolicy, remove: Any) -> None:
    """One remove control per channel override (none for a role that may not write)."""
    row.clear()
    if not state.may("channels:write"):
        return
    with row:
        for channel in sorted(policy.caps, key=lambda c: c.value):
            ui.button(
                t("channels.remove_override", channel=channel.value),
                icon="close",
                on_click=lambda channel=channel: remove(channel),
            ).props(f'outline dense color=negative data-testid="caps-remove-{channel.value}"')


def _restraint(workspace: WorkspaceRef, policy: RestraintPolicy) -> None:
    held = {"policy": policy}
    lang = state.language()
    scopes = {DEFAULT_SCOPE: t("channels.default")} | {c.value: c.value for c in Channel}
    with ui.row().classes("items-end gap-3"):
        scope = ui.select(scopes, value=DEFAULT_SCOPE, label=t("channels.scope")).classes("w-44")
        scope.props('data-testid="caps-scope"')
        boxes = {
            name: ui.input(t(f"channels.cap.{name}"), placeholder=t("channels.no_cap"))
            .classes("w-28")
            .props(f'data-testid="caps-{name}"')
            for name in ("daily", "weekly", "monthly")
        }
    with ui.row().classes("items-end gap-3"):
        quiet = ui.switch(t("channels.quiet_hours"), value=policy.quiet_hours)
        quiet.props('data-testid="quiet-on"')
        start = ui.input(t("channels.quiet_start"), value=policy.quiet_start.strftime("%H:%M"))
        start.classes("w-28").props('data-testid="quiet-start"')
        end = ui.input(t("channels.quiet_end"), value=policy.quiet_end.strftime("%H:%M"))
        end.classes("w-28").props('data-testid="quiet-end"')
        zone = ui.input(t("channels.zone"), value=policy.zone or "", placeholder=workspace.timezone)
        zone.classes("w-44").props('data-testid="quiet-zone"')
    grid_columns = [column("channel", t("col.channel"))] + [
        column(n, t(f"channels.cap.{n}"), align="right") for n in ("daily", "weekly", "monthly")
    ]
    grid_columns.append(column("source", t("channels.cap_source")))
    result = ui.label().classes("text-sm").props('data-testid="caps-result"')
    grid = table(
        grid_columns, views.cap_rows(policy.default_caps, policy.caps, lang), testid="caps-table"
    )

    overrides = ui.row().classes("items-center gap-2").props('data-testid="caps-overrides"')

    def show(done: RestraintPolicy) -> None:
        held["policy"] = done
        grid.update_rows(views.cap_rows(done.default_caps, done.caps, lang))
        _override_buttons(overrides, done, remove)

    async def remove(channel: Channel) -> None:
        if not state.require("channels:write"):
            return
        done = await state.call(
            load.remove_override,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            channel=channel,
            now=utcnow(),
        )
        show(done)
        fill()
        result.set_text(t("channels.override_removed", channel=channel.value))
        result.classes(replace="text-sm text-positive")

    def fill() -> None:
        for name, value in _caps_inputs(held["policy"], str(scope.value)).items():
            boxes[name].value = "" if value is None else str(value)

    scope.on_value_change(fill)
    show(policy)
    fill()

    async def save() -> None:
        current = held["policy"]
        try:
            caps = views.caps_from_form(*(boxes[n].value for n in ("daily", "weekly", "monthly")))
            changes: dict[str, Any] = {
                "quiet_hours": bool(quiet.value),
                "quiet_start": views.clock_time(str(start.value), "quiet_start"),
                "quiet_end": views.clock_time(str(end.value), "quiet_end"),
                "zone": str(zone.value).strip() or None,
            }
            if scope.value == DEFAULT_SCOPE:
                changes["default_caps"] = caps
            else:
                changes["caps"] = current.caps | {Channel(str(scope.value)): caps}
            new = RestraintPolicy.model_validate(current.model_dump() | changes)
            done = await state.call(
                load.save_policy,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                policy=new,
                now=utcnow(),
            )
        except (ValidationError, SiyuError) as error:
            result.set_text(forms.problem(error))
            result.classes(replace="text-sm text-negative")
            return
        show(done)
        result.set_text(t("channels.saved"))
        result.classes(replace="text-sm text-positive")

    if state.may("channels:write"):
        ui.button(t("channels.save"), icon="save", on_click=save).props(
            'color=teal-9 data-testid="caps-save"'
        )


def _consent(workspace: WorkspaceRef) -> None:
    kinds = {"person_id": t("people.person_id")} | {k.value: k.value for k in IdType}
    with ui.row().classes("items-end gap-3"):
        kind = ui.select(kinds, value=IdType.MEMBER_ID.value, label=t("people.identifier_type"))
        kind.classes("w-48")
        needle = ui.input(t("people.identifier")).classes("w-64")
        needle.props('data-testid="consent-value"')
        button = ui.button(t("channels.consent_look"), icon="search")
        button.props('color=teal-9 data-testid="consent-submit"')
    box = ui.column().classes("w-full")

    async def look() -> None:
        box.clear()
        try:
            found = await state.call(
                load.consents,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                identifier_type=str(kind.value),
                identifier=str(needle.value or ""),
            )
        except (NotFoundError, SiyuError, ValueError):
            with box:
                ui.label(t("people.not_found", value=needle.value or "")).classes("text-negative")
            return
        rows = views.consent_rows(found.consents, found.history, workspace.timezone)
        with box:
            ui.label(t("channels.consent_of", person=found.person_id)).classes("text-sm")
            if not rows:
                ui.label(t("channels.no_consent")).classes("text-sm text-grey-7")
                return
            cols = [column(n, t(f"channels.consent.{n}")) for n in ("channel", "status", "source")]
            cols.append(column("time", t("col.time")))
            table(cols, rows, testid="consents")

    button.on_click(look)


def _messages(workspace: WorkspaceRef, board: load.ChannelsBoard) -> None:
    lang = state.language()
    chart_card(views.held_reasons_view(board.messages, lang), testid="held")
    names = ("time", "person", "channel", "template", "source", "status", "reason")
    cols = [column(n, t(f"channels.msg.{n}")) for n in names]
    table(cols, views.message_rows(board.messages, workspace.timezone), testid="recent-messages")


def _draw(workspace: WorkspaceRef, body: ui.column) -> None:
    async def fill() -> None:
        board = await state.call(load.board, runtime=state.runtime(), workspace_id=workspace.id)
        body.clear()
        with body:
            with _section(t("channels.credentials"), "section-credentials"):
                ui.label(t("channels.credentials_hint")).classes("text-xs text-grey-7")
                _credentials(workspace, board, fill)
            with _section(t("channels.restraint"), "section-caps"):
                ui.label(t("channels.restraint_hint")).classes("text-xs text-grey-7")
                _restraint(workspace, board.policy)
            with _section(t("channels.templates"), "section-templates"):
                forms.template_editor(workspace, board.templates, workspace.timezone)
            with _section(t("channels.consents"), "section-consent"):
                _consent(workspace)
            with _section(t("channels.recent"), "section-messages"):
                _messages(workspace, board)
            with _section(t("channels.keys"), "section-keys"):
                ui.link(t("nav.keys"), "/keys").props('data-testid="keys-link"')

    ui.timer(0.01, fill, once=True)


@ui.page("/channels")
def channels_page() -> RedirectResponse | None:
    """Channel credentials, caps and quiet hours, templates, consents, messages, API keys."""
    if state.current() is None:
        return RedirectResponse("/login")
    with frame("/channels", "nav.channels") as workspace:
        body = ui.column().classes("w-full gap-4")
        with body:
            ui.spinner(size="lg")
        _draw(workspace, body)
    return None
