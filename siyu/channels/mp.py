"""The WeChat official account (公众号) and mini program (小程序) APIs and their transports.

Template messages count against a per-account daily quota (100,000 a day by default,
WeChat's figure for an account under 100k followers) kept in ``mp_quota``, per Beijing day;
when it is spent a send raises :class:`QuotaExhaustedError` naming when it resets. QR codes
carry a scene that maps to an acquisition channel (``mp_qr_scenes``). Mini program
subscription messages are sent here; whether one may be sent is the subscription ledger's
business (``siyu.channels.subscriptions``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from siyu.channels.models import (
    Channel,
    Delivery,
    HoldReason,
    OutboundMessage,
    RetryableSendError,
    SendError,
)
from siyu.channels.wechat_api import WechatApi
from siyu.channels.wechat_tables import mp_qr_scenes, mp_quota
from siyu.core.clock import utcnow
from siyu.core.db import insert_ignore
from siyu.core.errors import ConflictError, InvalidInputError

MP_BASE_URL = "https://api.weixin.qq.com"
DEFAULT_DAILY_QUOTA = 100_000
WECHAT_ZONE = ZoneInfo("Asia/Shanghai")
_SCENE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_QUOTA_CODES = frozenset({45009, 45047})  # daily quota reached / too many sends to this user
_NO_SUBSCRIPTION = 43101  # the user has no (or no longer a) subscription for this template


class QuotaExhaustedError(SendError):
    """The account's daily template-message quota is spent; ``retry_at`` is when it resets."""


class QrTicket(BaseModel):
    """A QR code WeChat created: show ``https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=``."""

    ticket: str
    url: str | None = None
    expire_seconds: int | None = None


class QrScene(BaseModel):
    """A QR scene and the acquisition channel a subscribe or scan through it counts for."""

    scene: str
    channel: str = Field(description="The acquisition channel (context.campaign.source).")
    name: str | None = None
    permanent: bool
    ticket: str
    url: str | None = None
    expires_at: datetime | None = None
    created_at: datetime


def _values(params: dict[str, str]) -> dict[str, dict[str, str]]:
    return {key: {"value": value} for key, value in params.items()}


class MpClient:
    """One official account's or mini program's API (appid + secret)."""

    def __init__(
        self,
        *,
        app_id: str,
        secret: str,
        base_url: str = MP_BASE_URL,
        http: httpx.Client | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.app_id = app_id
        self.api = WechatApi(
            base_url=base_url,
            auth_path="/cgi-bin/token",
            token_params={"grant_type": "client_credential", "appid": app_id, "secret": secret},
            http=http,
            clock=clock,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.api.close()

    def send_template(
        self,
        *,
        openid: str,
        template_id: str,
        params: dict[str, str],
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> str:
        """Send a template message (message/template/send); WeChat's msgid.

        ``client_msg_id`` makes WeChat drop a repeat of the same send.
        """
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": _values(params),
        }
        if url:
            payload["url"] = url
        if client_msg_id:
            payload["client_msg_id"] = client_msg_id[:64]
        body = self.api.call("POST", "/cgi-bin/message/template/send", json=payload)
        return str(body.get("msgid", ""))

    def send_subscribe(
        self, *, openid: str, template_id: str, params: dict[str, str], page: str | None = None
    ) -> str:
        """Send a mini program subscription message (subscribeMessage.send)."""
        payload: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": _values(params),
        }
        if page:
            payload["page"] = page
        body = self.api.call("POST", "/cgi-bin/message/subscribe/send", json=payload)
        return str(body.get("msgid", ""))

    def user_unionid(self, *, openid: str) -> str | None:
        """The follower's unionid (cgi-bin/user/info), when the account is bound to an Open
        Platform account; None otherwise."""
        body = self.api.call(
            "GET", "/cgi-bin/user/info", params={"openid": openid, "lang": "zh_CN"}
        )
        unionid = body.get("unionid")
        return str(unionid) if unionid else None

    def create_qr(
        self, *, scene: str, permanent: bool, expire_seconds: int = 2_592_000
    ) -> QrTicket:
        """A temporary (≤ 30 days) or permanent QR code carrying ``scene`` (qrcode/create)."""
        payload: dict[str, Any] = {
            "action_name": "QR_LIMIT_STR_SCENE" if permanent else "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
        if not permanent:
            payload["expire_seconds"] = expire_seconds
        body = self.api.call("POST", "/cgi-bin/qrcode/create", json=payload)
        return QrTicket(
            ticket=body["ticket"], url=body.get("url"), expire_seconds=body.get("expire_seconds")
        )


# -- the daily quota ---------------------------------------------------------------------------


def _day(now: datetime) -> str:
    return now.astimezone(WECHAT_ZONE).date().isoformat()


def quota_resets_at(now: datetime) -> datetime:
    """The next Beijing midnight (when WeChat's daily quotas reset), as aware UTC."""
    local = now.astimezone(WECHAT_ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    return (local + timedelta(days=1)).astimezone(now.tzinfo)


def _ensure_row(session: Session, workspace_id: str, app_id: str, day: str) -> None:
    values = {"workspace_id": workspace_id, "app_id": app_id, "day": day, "used": 0}
    insert_ignore(session, mp_quota, values)


def take_quota(
    *, session: Session, workspace_id: str, app_id: str, now: datetime, limit: int
) -> int:
    """Spend one template send of today's quota; how many are left after it.

    Raises:
        QuotaExhaustedError: none left today (``details['retry_at']`` says when it resets).
    """
    day = _day(now)
    _ensure_row(session, workspace_id, app_id, day)
    q = mp_quota.c
    where = (q.workspace_id == workspace_id, q.app_id == app_id, q.day == day)
    done = session.execute(
        update(mp_quota).where(*where, q.used < limit).values(used=q.used + 1).returning(q.used)
    ).first()
    if done is None:
        raise QuotaExhaustedError(
            f"the daily template-message quota of {app_id} ({limit}) is spent",
            reason=HoldReason.QUOTA.value,
            retry_at=quota_resets_at(now).isoformat(),
        )
    return limit - int(done.used)


def give_back_quota(*, session: Session, workspace_id: str, app_id: str, now: datetime) -> None:
    """Return one send to today's quota (the send did not happen)."""
    q = mp_quota.c
    session.execute(
        update(mp_quota)
        .where(q.workspace_id == workspace_id, q.app_id == app_id, q.day == _day(now), q.used > 0)
        .values(used=q.used - 1)
    )


def spend_all_quota(
    *, session: Session, workspace_id: str, app_id: str, now: datetime, limit: int
) -> None:
    """WeChat said the quota is spent: believe it for the rest of the day."""
    _ensure_row(session, workspace_id, app_id, _day(now))
    q = mp_quota.c
    session.execute(
        update(mp_quota)
        .where(q.workspace_id == workspace_id, q.app_id == app_id, q.day == _day(now))
        .values(used=limit)
    )


def quota_used(*, session: Session, workspace_id: str, app_id: str, now: datetime) -> int:
    """Template sends counted today."""
    q = mp_quota.c
    used = session.execute(
        select(q.used).where(q.workspace_id == workspace_id, q.app_id == app_id, q.day == _day(now))
    ).scalar()
    return int(used or 0)


class MpTemplateTransport:
    """Sends official-account template messages within the account's daily quota.

    ``message.template`` is the template id, ``params`` its fields, ``extra['url']`` the
    page the message opens.
    """

    channel = Channel.MP_TEMPLATE

    def __init__(
        self,
        *,
        client: MpClient,
        sessions: sessionmaker[Session],
        daily_quota: int = DEFAULT_DAILY_QUOTA,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.daily_quota = daily_quota
        self.clock = clock

    def send(self, message: OutboundMessage) -> Delivery:
        """Spend quota, send, give the quota back if WeChat did not take the message."""
        now, ws, app = self.clock(), message.workspace_id, self.client.app_id
        with self.sessions.begin() as session:
            take_quota(
                session=session, workspace_id=ws, app_id=app, now=now, limit=self.daily_quota
            )
        try:
            msgid = self.client.send_template(
                openid=message.recipient,
                template_id=message.template,
                params=message.params,
                url=message.extra.get("url"),
                client_msg_id=message.idempotency_key,
            )
        except SendError as exc:
            quota_spent = exc.details.get("errcode") in _QUOTA_CODES
            with self.sessions.begin() as session:
                if quota_spent:
                    spend_all_quota(
                        session=session,
                        workspace_id=ws,
                        app_id=app,
                        now=now,
                        limit=self.daily_quota,
                    )
                else:
                    give_back_quota(session=session, workspace_id=ws, app_id=app, now=now)
            if quota_spent:
                raise QuotaExhaustedError(
                    f"WeChat says the template quota is spent: {exc.message}",
                    reason=HoldReason.QUOTA.value,
                    retry_at=quota_resets_at(now).isoformat(),
                ) from exc
            raise
        return Delivery(provider_message_id=msgid, accepted_at=now)


class MiniProgramTransport:
    """Sends mini program subscription messages; the caller has spent a ledger entry."""

    channel = Channel.MINIPROGRAM

    def __init__(self, *, client: MpClient, clock: Callable[[], datetime] = utcnow) -> None:
        self.client = client
        self.clock = clock

    def send(self, message: OutboundMessage) -> Delivery:
        """Send; a user without a subscription for the template is a permanent failure."""
        try:
            msgid = self.client.send_subscribe(
                openid=message.recipient,
                template_id=message.template,
                params=message.params,
                page=message.extra.get("page"),
            )
        except RetryableSendError:
            raise
        except SendError as exc:
            if exc.details.get("errcode") == _NO_SUBSCRIPTION:
                raise SendError(
                    "the user has no subscription for this template",
                    reason=HoldReason.NO_SUBSCRIPTION.value,
                    errcode=_NO_SUBSCRIPTION,
                ) from exc
            raise
        return Delivery(provider_message_id=msgid or message.id, accepted_at=self.clock())


# -- QR scenes ----------------------------------------------------------------------------------


def _scene(row: Any) -> QrScene:
    return QrScene(
        scene=row.scene,
        channel=row.channel,
        name=row.name,
        permanent=bool(row.permanent),
        ticket=row.ticket,
        url=row.url,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


def find_qr_scene(*, session: Session, workspace_id: str, scene: str) -> QrScene | None:
    """The QR scene ``scene`` of the workspace, if any."""
    s = mp_qr_scenes.c
    row = session.execute(
        select(mp_qr_scenes).where(s.workspace_id == workspace_id, s.scene == scene)
    ).first()
    return _scene(row) if row is not None else None


def create_qr_scene(
    *,
    session: Session,
    client: MpClient,
    workspace_id: str,
    scene: str,
    channel: str,
    now: datetime,
    name: str | None = None,
    permanent: bool = False,
    expire_seconds: int = 2_592_000,
) -> QrScene:
    """Create a QR code for ``scene`` and map the scene to ``channel``.

    Asking again for the same scene and channel answers the stored code.

    Raises:
        InvalidInputError: the scene is not 1-64 letters, digits, '_' or '-', or the expiry
            is outside 60 s … 30 days.
        ConflictError: the scene already maps to another channel.
    """
    if not _SCENE.match(scene):
        raise InvalidInputError("scene must be 1-64 letters, digits, '_' or '-'", field="scene")
    if not permanent and not 60 <= expire_seconds <= 2_592_000:
        raise InvalidInputError("expire_seconds must be 60 … 2592000", field="expire_seconds")
    known = find_qr_scene(session=session, workspace_id=workspace_id, scene=scene)
    if known is not None:
        if known.channel != channel:
            raise ConflictError(f"scene {scene!r} maps to {known.channel!r}", field="scene")
        return known
    ticket = client.create_qr(scene=scene, permanent=permanent, expire_seconds=expire_seconds)
    row = QrScene(
        scene=scene,
        channel=channel,
        name=name,
        permanent=permanent,
        ticket=ticket.ticket,
        url=ticket.url,
        expires_at=None if permanent else now + timedelta(seconds=ticket.expire_seconds or 0),
        created_at=now,
    )
    values = row.model_dump()
    values["permanent"] = int(permanent)
    session.execute(insert(mp_qr_scenes).values(workspace_id=workspace_id, **values))
    return row
