"""The channels page's forms: delivery credentials (secrets write-only) and message templates."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui
from pydantic import BaseModel, ValidationError

from siyu.channels.models import Channel
from siyu.channels.outbox_models import TemplatePut
from siyu.channels.wechat_accounts import AccountKind, WechatAccountSet
from siyu.console import state
from siyu.console.pages import channels_load as load
from siyu.console.state import WorkspaceRef, t
from siyu.console.views import channels as views
from siyu.console.views.common import column
from siyu.console.widgets import table
from siyu.core.clock import utcnow
from siyu.core.errors import SiyuError
from siyu.pipeline.channel_settings import EmailSettings, SmsSettings, WebhookSettings

# field → kind of input: text, secret (write-only), number, bool, or a tuple of choices
Fields = dict[str, str | tuple[str, ...]]
WECHAT_FIELDS: Fields = {
    "app_id": "text",
    "token": "secret",
    "encoding_aes_key": "secret",
    "secret": "secret",
    "original_id": "text",
    "api_base_url": "text",
}
FORMS: dict[str, tuple[type[BaseModel], Fields]] = {
    "sms": (
        SmsSettings,
        {
            "provider": ("aliyun", "tencent"),
            "access_key_id": "text",
            "secret": "secret",
            "sign_name": "text",
            "sdk_app_id": "text",
            "region": "text",
            "base_url": "text",
        },
    ),
    "email": (
        EmailSettings,
        {
            "host": "text",
            "port": "number",
            "from_addr": "text",
            "from_name": "text",
            "username": "text",
            "secret": "secret",
            "starttls": "bool",
            "unsubscribe_url": "text",
        },
    ),
    "webhook": (WebhookSettings, {"secret": "secret"}),
    **{kind.value: (WechatAccountSet, WECHAT_FIELDS) for kind in AccountKind},
}
Say = Callable[[str, bool], None]


def problem(error: ValidationError | SiyuError) -> str:
    """One line naming the field and what is wrong."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        return t("channels.invalid", field=field, message=first["msg"])
    return t("channels.invalid", field=error.field or "—", message=error.message)


def _input(name: str, kind: str | tuple[str, ...], value: Any, secret_set: bool) -> Any:
    label = t(f"channels.field.{name}")
    testid = f'data-testid="field-{name}"'
    if isinstance(kind, tuple):
        return ui.select(list(kind), value=value or kind[0], label=label).props(testid)
    if kind == "bool":
        return ui.switch(label, value=bool(value)).props(testid)
    if kind == "secret":
        hint = views.secret_label(secret_set, state.language())
        return ui.input(label, password=True, placeholder=hint).props(f"{testid} hint='{hint}'")
    if kind == "number":
        return ui.number(label, value=value, format="%d").props(testid)
    return ui.input(label, value="" if value is None else str(value)).props(testid)


def _values(inputs: dict[str, Any], channel: str) -> dict[str, Any]:
    data: dict[str, Any] = {"channel": channel} if channel in ("sms", "email", "webhook") else {}
    for name, element in inputs.items():
        value = element.value
        if isinstance(value, str):
            value = value.strip() or None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if value is not None:
            data[name] = value
    return data


async def _store(workspace: WorkspaceRef, name: str, data: dict[str, Any]) -> None:
    model, _ = FORMS[name]
    parsed = model.model_validate(data)
    if isinstance(parsed, WechatAccountSet):
        await state.call(
            load.save_account,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            kind=AccountKind(name),
            account=parsed,
            now=utcnow(),
        )
    else:
        assert isinstance(parsed, SmsSettings | EmailSettings | WebhookSettings)
        await state.call(
            load.save_settings,
            runtime=state.runtime(),
            workspace_id=workspace.id,
            values=parsed,
            now=utcnow(),
        )


def credential_form(
    workspace: WorkspaceRef,
    name: str,
    current: dict[str, Any],
    secret_set: bool,
    saved: Callable[[], Awaitable[None]],
) -> None:
    """The form of one credential set; saving validates and stores it, then calls ``saved``."""
    _, fields = FORMS[name]
    inputs = {
        field: _input(field, kind, current.get(field), secret_set) for field, kind in fields.items()
    }
    result = ui.label().classes("text-sm").props(f'data-testid="credential-result-{name}"')

    async def save() -> None:
        try:
            await _store(workspace, name, _values(inputs, name))
        except (ValidationError, SiyuError) as error:
            result.set_text(problem(error))
            result.classes(replace="text-sm text-negative")
            return
        result.set_text(t("channels.saved"))
        result.classes(replace="text-sm text-positive")
        await saved()

    if state.may("channels:write"):
        ui.button(t("channels.save"), icon="save", on_click=save).props(
            f'color=teal-9 data-testid="credential-save-{name}"'
        )


def template_editor(workspace: WorkspaceRef, templates: list[Any], zone: str) -> None:
    """The templates table; a click loads one into the form below, which saves it."""
    columns = [
        column("channel", t("col.channel")),
        column("name", t("col.name")),
        column("body", t("channels.body")),
        column("provider", t("channels.field.provider_template_id")),
        column("updated", t("channels.updated")),
    ]
    grid = table(columns, views.template_rows(templates, zone), testid="templates")
    by_key = {f"{item.channel.value}/{item.name}": item for item in templates}
    with ui.row().classes("w-full gap-2 items-end"):
        channel = ui.select(
            [c.value for c in Channel], value=Channel.SMS.value, label=t("col.channel")
        ).classes("w-40")
        name = ui.input(t("col.name")).props('data-testid="template-name"')
        subject = ui.input(t("channels.field.subject"))
        provider = ui.input(t("channels.field.provider_template_id"))
        sender = ui.input(t("channels.field.sender"))
        endpoint = ui.input(t("channels.field.endpoint"))
    body = ui.textarea(t("channels.body")).classes("w-full").props('data-testid="template-body"')
    result = ui.label().classes("text-sm").props('data-testid="template-result"')

    def load_row(event: Any) -> None:
        found = by_key.get(event.args[1]["key"]) if len(event.args) > 1 else None
        if found is None:
            return
        channel.value, name.value, body.value = found.channel.value, found.name, found.body
        subject.value = found.subject or ""
        provider.value = found.provider_template_id or ""
        sender.value = found.sender or ""
        endpoint.value = found.endpoint or ""

    grid.on("rowClick", load_row)

    async def save() -> None:
        fields = {
            "channel": channel.value,
            "name": name.value,
            "body": body.value,
            "subject": subject.value,
            "provider_template_id": provider.value,
            "sender": sender.value,
            "endpoint": endpoint.value,
        }
        data = {k: v.strip() if isinstance(v, str) else v for k, v in fields.items()}
        try:
            template = TemplatePut.model_validate({k: v for k, v in data.items() if v})
            done = await state.call(
                load.save_template,
                runtime=state.runtime(),
                workspace_id=workspace.id,
                template=template,
                now=utcnow(),
            )
        except (ValidationError, SiyuError) as error:
            result.set_text(problem(error))
            result.classes(replace="text-sm text-negative")
            return
        by_key[f"{done.channel.value}/{done.name}"] = done
        grid.update_rows(views.template_rows(sorted(by_key.values(), key=_order), zone))
        result.set_text(t("channels.saved"))
        result.classes(replace="text-sm text-positive")

    if state.may("channels:write"):
        ui.button(t("channels.save_template"), icon="save", on_click=save).props(
            'color=teal-9 data-testid="template-save"'
        )


def _order(item: Any) -> tuple[str, str]:
    return (item.channel.value, item.name)
