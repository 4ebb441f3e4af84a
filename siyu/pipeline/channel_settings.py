"""Where each workspace's messages go: stored delivery settings and the transports built from them.

SMS (Aliyun or Tencent Cloud keys and sign), SMTP and the webhook signing secret are kept per
workspace in ``channel_settings``, the secret vault-encrypted and never read back out. The
dispatcher gets one transport per channel that picks the message's workspace's settings
(rebuilt when they change), plus the WeChat transports built from the stored accounts.
A channel no workspace has configured gets no transport: its messages stay queued.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels.email import EmailTransport, SmtpSettings, unsubscribe_link
from siyu.channels.models import Channel, Delivery, OutboundMessage, SendError, Transport
from siyu.channels.sms import AliyunSms, SmsTransport, TencentSms
from siyu.channels.webhook import WebhookTransport
from siyu.channels.wechat_accounts import AccountKind
from siyu.channels.wechat_tables import wechat_accounts
from siyu.channels.wechat_transports import wechat_transports
from siyu.core.crypto import Vault
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.pipeline.channel_tables import channel_settings

_c = channel_settings.c


class SmsSettings(BaseModel):
    """An SMS gateway account (the secret is write-only)."""

    channel: Literal["sms"] = "sms"
    provider: Literal["aliyun", "tencent"]
    access_key_id: str = Field(min_length=1, max_length=200, description="AccessKeyId/SecretId.")
    secret: str | None = Field(default=None, max_length=500, description="Write-only.")
    sign_name: str = Field(default="", max_length=100, description="Default SMS sign (签名).")
    sdk_app_id: str | None = Field(default=None, max_length=100, description="Tencent only.")
    region: str | None = Field(default=None, max_length=50)
    base_url: str | None = Field(default=None, pattern=r"^https?://", max_length=300)


class EmailSettings(BaseModel):
    """An SMTP server to hand mail to (the password is write-only)."""

    channel: Literal["email"] = "email"
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    from_addr: str = Field(min_length=3, max_length=255)
    from_name: str = Field(default="", max_length=200)
    username: str | None = Field(default=None, max_length=255)
    secret: str | None = Field(default=None, max_length=500, description="Password; write-only.")
    starttls: bool = False
    unsubscribe_url: str | None = Field(
        default=None, pattern=r"^https?://", max_length=500, description="…/unsubscribe page."
    )


class WebhookSettings(BaseModel):
    """The HMAC secret webhooks are signed with (write-only)."""

    channel: Literal["webhook"] = "webhook"
    secret: str | None = Field(default=None, min_length=16, max_length=500)


ChannelSettingsPut = Annotated[
    SmsSettings | EmailSettings | WebhookSettings, Field(discriminator="channel")
]
CONFIGURABLE = (Channel.SMS, Channel.EMAIL, Channel.WEBHOOK)


class ChannelSettingsView(BaseModel):
    """Stored settings as operators see them: no secret, only whether one is set."""

    channel: Channel
    config: dict[str, Any]
    secret_set: bool
    updated_at: datetime


def _channel(value: str) -> Channel:
    try:
        channel = Channel(value)
    except ValueError:
        channel = None
    if channel not in CONFIGURABLE:
        raise InvalidInputError("settings are for sms, email or webhook", field="channel")
    return channel


def put_settings(
    *,
    session: Session,
    vault: Vault,
    workspace_id: str,
    settings: SmsSettings | EmailSettings | WebhookSettings,
    now: datetime,
) -> ChannelSettingsView:
    """Store a channel's settings; a missing secret keeps the stored one (write-only field).

    Raises:
        InvalidInputError: no secret given and none stored (``secret``).
    """
    channel = _channel(settings.channel)
    config = settings.model_dump(mode="json", exclude={"secret", "channel"})
    where = (_c.workspace_id == workspace_id, _c.channel == channel.value)
    stored = session.execute(select(_c.secret_enc).where(*where)).first()
    secret_enc = vault.encrypt(settings.secret) if settings.secret else None
    if secret_enc is None and (stored is None or stored.secret_enc is None):
        raise InvalidInputError("a secret is required the first time", field="secret")
    values: dict[str, Any] = {"config": config, "updated_at": now}
    if secret_enc is not None:
        values["secret_enc"] = secret_enc
    if stored is None:
        session.execute(
            insert(channel_settings).values(
                workspace_id=workspace_id, channel=channel.value, **values
            )
        )
    else:
        session.execute(update(channel_settings).where(*where).values(**values))
    return get_settings(session=session, workspace_id=workspace_id, channel=channel.value)


def get_settings(*, session: Session, workspace_id: str, channel: str) -> ChannelSettingsView:
    """A channel's stored settings, without the secret. Raises NotFoundError."""
    found = _channel(channel)
    row = session.execute(
        select(channel_settings).where(_c.workspace_id == workspace_id, _c.channel == found.value)
    ).first()
    if row is None:
        raise NotFoundError(f"{found.value} is not configured", field="channel")
    return ChannelSettingsView(
        channel=found,
        config=dict(row.config),
        secret_set=row.secret_enc is not None,
        updated_at=row.updated_at,
    )


def list_settings(*, session: Session, workspace_id: str) -> list[ChannelSettingsView]:
    """Every configured channel of the workspace."""
    rows = session.execute(
        select(_c.channel).where(_c.workspace_id == workspace_id).order_by(_c.channel)
    ).scalars()
    return [get_settings(session=session, workspace_id=workspace_id, channel=c) for c in rows]


def _transport(channel: Channel, config: dict[str, Any], secret: str, link: Any) -> Transport:
    if channel is Channel.SMS:
        extra = {k: config[k] for k in ("base_url", "region") if config.get(k)}
        provider: AliyunSms | TencentSms = (
            AliyunSms(access_key_id=config["access_key_id"], access_key_secret=secret, **extra)
            if config["provider"] == "aliyun"
            else TencentSms(
                secret_id=config["access_key_id"],
                secret_key=secret,
                sdk_app_id=config.get("sdk_app_id") or "",
                **extra,
            )
        )
        return SmsTransport(provider=provider, default_sign=config.get("sign_name") or "")
    if channel is Channel.EMAIL:
        smtp = SmtpSettings(
            host=config["host"],
            port=config["port"],
            from_addr=config["from_addr"],
            from_name=config.get("from_name") or "",
            username=config.get("username"),
            password=secret or None,
            starttls=bool(config.get("starttls")),
        )
        url = config.get("unsubscribe_url")
        return EmailTransport(settings=smtp, unsubscribe_url=link(url) if url else None)
    return WebhookTransport(secret=secret.encode())


class SettingsTransport:
    """One configurable channel's transport for every workspace, from its stored settings."""

    def __init__(self, channel: Channel, sessions: sessionmaker[Session], vault: Vault) -> None:
        self.channel = channel
        self._sessions = sessions
        self._vault = vault
        self._made: dict[str, tuple[datetime, Transport]] = {}
        self._lock = threading.Lock()

    def _link(self, base_url: str) -> Callable[[OutboundMessage], str]:
        return unsubscribe_link(base_url, unsubscribe_secret(self._vault))

    def _for(self, workspace_id: str) -> Transport:
        with self._sessions() as session:
            row = session.execute(
                select(channel_settings).where(
                    _c.workspace_id == workspace_id, _c.channel == self.channel.value
                )
            ).first()
        if row is None:
            raise SendError(f"{self.channel.value} is not configured for this workspace")
        with self._lock:
            made = self._made.get(workspace_id)
            if made is None or made[0] != row.updated_at:
                secret = self._vault.decrypt(row.secret_enc) if row.secret_enc else ""
                built = _transport(self.channel, dict(row.config), secret, self._link)
                made = (row.updated_at, built)
                self._made[workspace_id] = made
            return made[1]

    def send(self, message: OutboundMessage) -> Delivery:
        """Send through the message's workspace's settings."""
        return self._for(message.workspace_id).send(message)


def unsubscribe_secret(vault: Vault) -> bytes:
    """The key unsubscribe tokens are signed with (derived from the vault's master key)."""
    return vault.lookup_hash("unsubscribe", "siyu-unsubscribe-v1").encode()


_WECHAT_KINDS = {
    AccountKind.WECOM.value: (Channel.WECOM, Channel.WECOM_GROUP),
    AccountKind.MP.value: (Channel.MP_TEMPLATE,),
    AccountKind.MINIPROGRAM.value: (Channel.MINIPROGRAM,),
}


class Transports:
    """The dispatcher's transports, for the channels some workspace has configured."""

    def __init__(self, *, sessions: sessionmaker[Session], vault: Vault) -> None:
        self._sessions = sessions
        self._all: dict[Channel, Transport] = {
            c: SettingsTransport(c, sessions, vault) for c in CONFIGURABLE
        }
        self._all.update(wechat_transports(sessions=sessions, vault=vault))

    def configured(self) -> dict[Channel, Transport]:
        """Transports of the channels configured in at least one workspace."""
        with self._sessions() as session:
            mine = set(session.execute(select(_c.channel).distinct()).scalars())
            kinds = session.execute(select(wechat_accounts.c.kind).distinct()).scalars()
            wechat = {c.value for kind in kinds for c in _WECHAT_KINDS.get(kind, ())}
        wanted = mine | wechat
        return {c: t for c, t in self._all.items() if c.value in wanted}
