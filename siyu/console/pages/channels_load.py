"""The blocking calls of the channels page: delivery settings and WeChat accounts (secrets
write-only), the restraint policy, templates, recent messages, a person's consents, API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from siyu import pipeline
from siyu.accounts import keys as api_keys
from siyu.accounts.models import ApiKey, ApiKeyCreated
from siyu.channels import service as channels
from siyu.channels import wechat_accounts
from siyu.channels.models import Channel
from siyu.channels.outbox_models import Consent, ConsentChange, Message, Template, TemplatePut
from siyu.channels.restraint import RestraintPolicy
from siyu.channels.wechat_accounts import AccountKind, WechatAccount, WechatAccountSet
from siyu.core.errors import NotFoundError
from siyu.core.runtime import Runtime
from siyu.pipeline import channel_settings as settings
from siyu.pipeline.channel_settings import (
    ChannelSettingsView,
    EmailSettings,
    SmsSettings,
    WebhookSettings,
)
from siyu.workspaces import service as workspaces
from siyu.workspaces.models import Workspace

RECENT_MESSAGES = 200


class ChannelsBoard(BaseModel):
    """Everything the channels page shows."""

    workspace: Workspace
    settings: list[ChannelSettingsView]
    accounts: dict[AccountKind, WechatAccount | None]
    policy: RestraintPolicy
    templates: list[Template]
    messages: list[Message] = Field(description="The newest outbox messages.")
    keys: list[ApiKey] = Field(description="API keys, revoked ones included (no secrets).")


class PersonConsents(BaseModel):
    """A person's consents now and every change."""

    person_id: str
    consents: list[Consent]
    history: list[ConsentChange]


def board(*, runtime: Runtime, workspace_id: str) -> ChannelsBoard:
    """The workspace's channel settings, policy, templates, recent messages and API keys."""
    # Listing keys may adopt the workspace's first secret key into the keys table: a write.
    with runtime.sessions() as session, session.begin():
        accounts: dict[AccountKind, WechatAccount | None] = {}
        for kind in AccountKind:
            try:
                accounts[kind] = wechat_accounts.get_account(
                    session=session, workspace_id=workspace_id, kind=kind
                )
            except NotFoundError:
                accounts[kind] = None
        return ChannelsBoard(
            workspace=workspaces.get_workspace(session=session, workspace_id=workspace_id),
            settings=settings.list_settings(session=session, workspace_id=workspace_id),
            accounts=accounts,
            policy=channels.get_policy(session=session, workspace_id=workspace_id),
            templates=channels.list_templates(session=session, workspace_id=workspace_id),
            messages=channels.list_messages(
                session=session, workspace_id=workspace_id, limit=RECENT_MESSAGES
            ),
            keys=api_keys.list_keys(session=session, workspace_id=workspace_id),
        )


def rotate_key(*, runtime: Runtime, workspace_id: str, key_id: str, now: datetime) -> ApiKeyCreated:
    """A new secret for the key (shown this once); the old one stops at once."""
    with runtime.sessions() as session, session.begin():
        return api_keys.rotate_key(
            session=session, workspace_id=workspace_id, key_id=key_id, now=now
        )


def save_settings(
    *,
    runtime: Runtime,
    workspace_id: str,
    values: SmsSettings | EmailSettings | WebhookSettings,
    now: datetime,
) -> ChannelSettingsView:
    """Store SMS, SMTP or webhook settings (a blank secret keeps the stored one)."""
    with runtime.sessions() as session, session.begin():
        return settings.put_settings(
            session=session,
            vault=runtime.vault,
            workspace_id=workspace_id,
            settings=values,
            now=now,
        )


def save_account(
    *,
    runtime: Runtime,
    workspace_id: str,
    kind: AccountKind,
    account: WechatAccountSet,
    now: datetime,
) -> WechatAccount:
    """Store a WeCom, official account or mini program account (secrets encrypted)."""
    with runtime.sessions() as session, session.begin():
        return wechat_accounts.set_account(
            session=session,
            vault=runtime.vault,
            workspace_id=workspace_id,
            kind=kind,
            account=account,
            now=now,
        )


def save_policy(
    *, runtime: Runtime, workspace_id: str, policy: RestraintPolicy, now: datetime
) -> RestraintPolicy:
    """Replace the workspace's caps and quiet hours."""
    with runtime.sessions() as session, session.begin():
        return channels.set_policy(
            session=session, workspace_id=workspace_id, policy=policy, now=now
        )


def remove_override(
    *, runtime: Runtime, workspace_id: str, channel: Channel, now: datetime
) -> RestraintPolicy:
    """Drop one channel's cap override (the default applies to it again), keeping the rest of
    the policy as stored; nothing to drop leaves the policy as it is."""
    with runtime.sessions() as session, session.begin():
        current = channels.get_policy(session=session, workspace_id=workspace_id)
        if channel not in current.caps:
            return current
        kept = {name: caps for name, caps in current.caps.items() if name != channel}
        return channels.set_policy(
            session=session,
            workspace_id=workspace_id,
            policy=current.model_copy(update={"caps": kept}),
            now=now,
        )


def save_template(
    *, runtime: Runtime, workspace_id: str, template: TemplatePut, now: datetime
) -> Template:
    """Create or replace a template; a body that does not parse names the field."""
    with runtime.sessions() as session, session.begin():
        return channels.put_template(
            session=session, workspace_id=workspace_id, template=template, now=now
        )


def consents(
    *, runtime: Runtime, workspace_id: str, identifier_type: str, identifier: str
) -> PersonConsents:
    """The consents of the person holding an identifier (or with this person id).

    Raises:
        NotFoundError: nobody holds it.
    """
    if identifier_type == "person_id":
        person_id = pipeline.get_person(
            runtime=runtime, workspace_id=workspace_id, person_id=identifier.strip()
        ).person_id
    else:
        person_id = pipeline.find_person(
            runtime=runtime,
            workspace_id=workspace_id,
            identifier_type=identifier_type,
            identifier=identifier,
        ).person_id
    with runtime.sessions() as session:
        return PersonConsents(
            person_id=person_id,
            consents=channels.consents_of(
                session=session, workspace_id=workspace_id, person_id=person_id
            ),
            history=channels.consent_history(
                session=session, workspace_id=workspace_id, person_id=person_id
            ),
        )
