"""Management API for channels: templates, restraint policy, consent, delivery settings, and the
public unsubscribe page and inbound SMS reply."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Form
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep, in_transaction
from siyu.api.zones import in_zone
from siyu.channels import service as channels
from siyu.channels.models import Channel
from siyu.channels.outbox_models import Consent, ConsentChange, Template, TemplatePut
from siyu.channels.restraint import ConsentStatus, RestraintPolicy
from siyu.core.clock import utcnow
from siyu.core.errors import NotFoundError
from siyu.pipeline import channel_settings as settings
from siyu.pipeline.channel_settings import ChannelSettingsPut, ChannelSettingsView

router = APIRouter(prefix="/api/channels", tags=["channels"])
public = APIRouter(tags=["channels"])


class ConsentPut(BaseModel):
    """A person's answer on one channel."""

    channel: Channel
    status: ConsentStatus
    source: str = Field(default="api", min_length=1, max_length=200)


class PersonConsents(BaseModel):
    """Current consents and their history."""

    consents: list[Consent]
    history: list[ConsentChange]


@router.get("/templates", summary="Message templates", dependencies=[Require("channels:read")])
async def list_templates(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> list[Template]:
    """By channel and name."""
    found = await in_transaction(runtime, channels.list_templates, workspace_id=workspace.id)
    return in_zone(found, workspace.timezone)


@router.put(
    "/templates", summary="Create or replace a template", dependencies=[Require("channels:write")]
)
async def put_template(
    body: TemplatePut, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Template:
    """Keyed by channel and name; the body is a sandboxed Jinja template."""
    done = await in_transaction(
        runtime, channels.put_template, workspace_id=workspace.id, template=body, now=utcnow()
    )
    return in_zone(done, workspace.timezone)


def _template(*, session: Any, workspace_id: str, channel: Channel, name: str) -> Template:
    found = channels.find_template(
        session=session, workspace_id=workspace_id, channel=channel, name=name
    )
    if found is None:
        raise NotFoundError(f"no {channel.value} template {name!r}", field="name")
    return found


@router.get(
    "/templates/{channel}/{name}", summary="One template", dependencies=[Require("channels:read")]
)
async def get_template(
    channel: Channel, name: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Template:
    """404 when absent."""
    found = await in_transaction(
        runtime, _template, workspace_id=workspace.id, channel=channel, name=name
    )
    return in_zone(found, workspace.timezone)


@router.get(
    "/policy",
    summary="Restraint policy (caps, quiet hours)",
    dependencies=[Require("channels:read")],
)
async def get_policy(runtime: RuntimeDep, workspace: AdminWorkspaceDep) -> RestraintPolicy:
    """Defaults when never set."""
    return await in_transaction(runtime, channels.get_policy, workspace_id=workspace.id)


@router.put(
    "/policy", summary="Replace the restraint policy", dependencies=[Require("channels:write")]
)
async def put_policy(
    body: RestraintPolicy, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> RestraintPolicy:
    """Caps per channel (day/week/month), quiet hours and zone."""
    return await in_transaction(
        runtime, channels.set_policy, workspace_id=workspace.id, policy=body, now=utcnow()
    )


def _consents(*, session: Any, workspace_id: str, person_id: str) -> PersonConsents:
    return PersonConsents(
        consents=channels.consents_of(
            session=session, workspace_id=workspace_id, person_id=person_id
        ),
        history=channels.consent_history(
            session=session, workspace_id=workspace_id, person_id=person_id
        ),
    )


@router.get(
    "/consent/{person_id}", summary="A person's consents", dependencies=[Require("channels:read")]
)
async def get_consent(
    person_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> PersonConsents:
    """Current answers per channel and every change."""
    found = await in_transaction(runtime, _consents, workspace_id=workspace.id, person_id=person_id)
    return in_zone(found, workspace.timezone)


@router.put(
    "/consent/{person_id}",
    summary="Record a consent answer",
    dependencies=[Require("channels:write")],
)
async def put_consent(
    person_id: str, body: ConsentPut, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> Consent:
    """Grant or revoke one channel (PIPL); every send honours it."""
    done = await in_transaction(
        runtime, channels.set_consent, workspace_id=workspace.id, person_id=person_id,
        channel=body.channel, status=body.status, source=body.source, now=utcnow(),
    )  # fmt: skip
    return in_zone(done, workspace.timezone)


@router.get(
    "/settings",
    summary="Delivery settings (secrets never shown)",
    dependencies=[Require("channels:read")],
)
async def list_settings(
    runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> list[ChannelSettingsView]:
    """SMS gateway, SMTP, webhook signing: configuration and whether a secret is set."""
    found = await in_transaction(runtime, settings.list_settings, workspace_id=workspace.id)
    return in_zone(found, workspace.timezone)


@router.put(
    "/settings",
    summary="Set one channel's delivery settings",
    dependencies=[Require("channels:write")],
)
async def put_settings(
    body: Annotated[ChannelSettingsPut, Body()], runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> ChannelSettingsView:
    """``channel`` is sms | email | webhook; ``secret`` is write-only (omit it to keep)."""
    done = await in_transaction(
        runtime, settings.put_settings, vault=runtime.vault, workspace_id=workspace.id,
        settings=body, now=utcnow(),
    )  # fmt: skip
    return in_zone(done, workspace.timezone)


def _unsubscribe(*, session: Any, secret: bytes, token: str) -> Consent:
    return channels.unsubscribe_with_token(
        session=session, secret=secret, token=token, now=utcnow()
    )


_DONE_PAGE = "<!doctype html><meta charset=utf-8><title>退订</title><p>已退订 · Unsubscribed."


@public.get("/unsubscribe", response_class=HTMLResponse, summary="Unsubscribe link (email)")
@public.post("/unsubscribe", response_class=HTMLResponse, summary="One-click unsubscribe")
async def unsubscribe(token: str, runtime: RuntimeDep) -> HTMLResponse:
    """Revoke the consent a signed link names (RFC 8058 one-click POST works too)."""
    secret = settings.unsubscribe_secret(runtime.vault)
    await in_transaction(runtime, _unsubscribe, secret=secret, token=token)
    return HTMLResponse(_DONE_PAGE)


class SmsReply(BaseModel):
    """What the gateway forwards of an inbound SMS."""

    phone: str = Field(min_length=3, max_length=40)
    text: str = Field(max_length=1000)
    unsubscribed: bool = False


@router.post(
    "/sms/inbound",
    summary="An inbound SMS reply (TD/退订 unsubscribes)",
    dependencies=[Require("channels:write")],
)
async def sms_inbound(
    phone: Annotated[str, Form(min_length=3, max_length=40)],
    text: Annotated[str, Form(max_length=1000)],
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
) -> SmsReply:
    """Form fields ``phone`` and ``text``; a stop word revokes the sender's SMS consent."""
    done = await in_transaction(
        runtime, channels.unsubscribe_by_sms_reply, workspace_id=workspace.id,
        vault=runtime.vault, phone=phone, text=text, now=utcnow(),
    )  # fmt: skip
    return SmsReply(phone=phone, text=text, unsubscribed=done is not None)
