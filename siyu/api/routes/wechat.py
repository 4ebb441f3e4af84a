"""WeCom and official-account callback receivers, and the accounts they are verified with.

WeChat calls ``GET`` once to verify the URL (answer the decrypted ``echostr``) and ``POST``s
events. A verified event is applied (WeCom contacts) and ingested through the collect path;
the answer is ``success`` once both are committed. A bad signature answers 401, a body that
does not decrypt or parse 400, both as JSON naming the problem; WeChat then retries.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from siyu import pipeline
from siyu.api.deps import AdminWorkspaceDep, Require, RuntimeDep, in_transaction
from siyu.channels import (
    mp,
    wechat_accounts,
    wechat_events,
    wecom_contacts,
    wecom_stats,
    wecom_tasks,
    wecom_welcome,
)
from siyu.channels.models import SendError
from siyu.channels.wechat_accounts import AccountKind, WechatAccount, WechatAccountSet
from siyu.channels.wechat_crypto import CallbackCrypto, check_plain_signature
from siyu.channels.wechat_xml import (
    ContactChange,
    MpEvent,
    MpEventType,
    WecomChatEvent,
    WecomContactEvent,
    parse_mp_event,
    parse_wecom_event,
)
from siyu.channels.wecom import WecomClient
from siyu.channels.wecom_models import ContactRecord, StaffStats, StaffTaskView
from siyu.core.clock import ensure_utc, utcnow
from siyu.core.errors import InvalidInputError, StoreError
from siyu.core.runtime import Runtime
from siyu.pipeline import community as community_flow
from siyu.referral import livecodes

log = logging.getLogger("siyu.api.wechat")
router = APIRouter(tags=["wechat"])
MAX_BODY = 64 * 1024

Signature = Annotated[str, Query(max_length=64, description="SHA-1 signature (hex).")]
Stamp = Annotated[str, Query(max_length=20)]
Nonce = Annotated[str, Query(max_length=64)]


def _success() -> PlainTextResponse:
    return PlainTextResponse("success")


def _crypto(runtime: Runtime, workspace_id: str, kind: AccountKind) -> CallbackCrypto:
    with runtime.sessions() as session:
        return wechat_accounts.callback_crypto(
            session=session, vault=runtime.vault, workspace_id=workspace_id, kind=kind
        )


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InvalidInputError(f"callback body over {MAX_BODY} bytes", field="body")
    return body


def channel_of_scene(session: Session, workspace_id: str, scene: str | None) -> str | None:
    """The acquisition channel a QR scene or 联系我 state maps to: an official-account QR
    scene first, then a channel live code with that scene."""
    if not scene:
        return None
    qr = mp.find_qr_scene(session=session, workspace_id=workspace_id, scene=scene)
    if qr is not None:
        return qr.channel
    code = livecodes.find_live_code_by_scene(
        session=session, workspace_id=workspace_id, scene=scene
    )
    return code.channel if code is not None else None


def _ingest(request: Request, runtime: Runtime, workspace_id: str, messages: list[Any]) -> None:
    if not messages:
        return
    result = pipeline.ingest(
        runtime=runtime,
        workspace_id=workspace_id,
        messages=messages,
        received_at=utcnow(),
        committer=getattr(request.app.state, "committer", None),
    )
    if result.rejected:
        bad = result.rejected[0]
        raise InvalidInputError(f"event not accepted: {bad.reason}", field=bad.field)


# -- WeCom -------------------------------------------------------------------------------------


@router.get("/wechat/wecom/{workspace_id}/callback", summary="WeCom URL verification")
async def verify_wecom(
    workspace_id: str,
    runtime: RuntimeDep,
    msg_signature: Signature,
    timestamp: Stamp,
    nonce: Nonce,
    echostr: Annotated[str, Query(max_length=1024)],
) -> PlainTextResponse:
    """Answer WeCom's verification with the decrypted ``echostr``."""
    crypto = await run_in_threadpool(_crypto, runtime, workspace_id, AccountKind.WECOM)
    plain = crypto.verify_url(
        msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, echostr=echostr
    )
    return PlainTextResponse(plain)


def _apply_wecom(
    request: Request, runtime: Runtime, workspace_id: str, event: WecomContactEvent, now: datetime
) -> tuple[bool, str | None]:
    """Apply and ingest the change; whether it was new (not a retry), and the welcome text
    to send, if any."""
    with runtime.sessions() as session, session.begin():
        result = wecom_contacts.apply_contact_event(
            session=session, workspace_id=workspace_id, event=event, now=now
        )
        channel = channel_of_scene(session, workspace_id, event.state)
        welcome = None
        if not result.duplicate:
            try:
                welcome = wecom_welcome.welcome_text(
                    session=session, workspace_id=workspace_id, event=event
                )
            except InvalidInputError as exc:  # a broken template must not lose the add
                log.warning("welcome template of %s: %s", workspace_id, exc.message)
    messages = wechat_events.wecom_contact_messages(event, result, channel=channel)
    _ingest(request, runtime, workspace_id, messages)
    return not result.duplicate, welcome


def _after_add(
    runtime: Runtime, workspace_id: str, event: WecomContactEvent, welcome: str | None
) -> None:
    """After the answer: the welcome first (its code lives 20 s), then the contact's name
    and unionid from WeCom, ingested as an identify so OneID can join it to the official
    account and mini program. Failures are logged: the add itself is committed."""
    try:
        with runtime.sessions() as session:
            client = wechat_accounts.wecom_client(
                session=session, vault=runtime.vault, workspace_id=workspace_id
            )
    except Exception:
        log.exception("no WeCom client for workspace %s", workspace_id)
        return
    try:
        if welcome and event.welcome_code:
            wecom_welcome.send_welcome(client=client, welcome_code=event.welcome_code, text=welcome)
        _enrich(runtime, client, workspace_id, event)
    except Exception:
        log.exception("after-add work for workspace %s failed", workspace_id)
    finally:
        client.close()


def _enrich(
    runtime: Runtime, client: WecomClient, workspace_id: str, event: WecomContactEvent
) -> None:
    now = utcnow()
    with runtime.sessions() as session, session.begin():
        record = wecom_contacts.enrich_contact(
            session=session,
            client=client,
            workspace_id=workspace_id,
            external_userid=event.external_userid,
            now=now,
        )
    messages = wechat_events.contact_identify_messages([record], corp_id=event.corp_id, now=now)
    pipeline.ingest(runtime=runtime, workspace_id=workspace_id, messages=messages, received_at=now)


@router.post("/wechat/wecom/{workspace_id}/callback", summary="WeCom event callback")
async def receive_wecom(
    workspace_id: str,
    request: Request,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    msg_signature: Signature,
    timestamp: Stamp,
    nonce: Nonce,
) -> PlainTextResponse:
    """Verify and decrypt a WeCom event; contact adds and removals update the contact book
    and become ``wecom_contact_added`` / ``wecom_contact_removed`` events. After the answer,
    an add gets the workspace's ``welcome`` WeCom template (with its WelcomeCode) and is
    completed from WeCom (name, unionid) as an identify."""
    body = await _body(request)
    crypto = await run_in_threadpool(_crypto, runtime, workspace_id, AccountKind.WECOM)
    xml = crypto.decrypt_xml(
        msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, body=body
    )
    event = parse_wecom_event(xml)
    if isinstance(event, WecomContactEvent):
        fresh, welcome = await run_in_threadpool(
            _apply_wecom, request, runtime, workspace_id, event, utcnow()
        )
        if fresh and event.change is ContactChange.ADD:
            background.add_task(_after_add, runtime, workspace_id, event, welcome)
    else:
        work = await run_in_threadpool(_apply_group, runtime, workspace_id, event, xml)
        if work.refresh_chat_id:
            background.add_task(_refresh_group, runtime, workspace_id, work.refresh_chat_id)
        if work.reply:
            background.add_task(_post_reply, runtime, workspace_id, work.reply)
    return _success()


def _apply_group(
    runtime: Runtime, workspace_id: str, event: WecomChatEvent | None, xml: str | bytes
) -> community_flow.GroupCallbackWork:
    """Customer-group changes and group messages go to community (through the pipeline)."""
    return community_flow.apply_group_callback(
        runtime=runtime, workspace_id=workspace_id, event=event, xml=xml, now=utcnow()
    )


def _post_reply(runtime: Runtime, workspace_id: str, reply: community_flow.GroupReply) -> None:
    """After the answer: a keyword rule's reply through the group robot (failures logged)."""
    try:
        community_flow.post_reply(
            runtime=runtime, workspace_id=workspace_id, reply=reply, now=utcnow()
        )
    except Exception:
        log.exception("keyword reply in %s of workspace %s failed", reply.chat_id, workspace_id)


def _refresh_group(runtime: Runtime, workspace_id: str, chat_id: str) -> None:
    """After the answer: a created or changed group is read from WeCom (failures logged;
    the next sync catches up)."""
    try:
        client = community_flow.wecom_client(runtime, workspace_id)
    except Exception:
        log.exception("no WeCom client for workspace %s", workspace_id)
        return
    try:
        community_flow.refresh_group(
            runtime=runtime,
            workspace_id=workspace_id,
            chat_id=chat_id,
            now=utcnow(),
            client=client,
        )
    except Exception:
        log.exception("refreshing group %s of workspace %s failed", chat_id, workspace_id)
    finally:
        client.close()


# -- official account ----------------------------------------------------------------------------


@router.get("/wechat/mp/{workspace_id}/callback", summary="Official account URL verification")
async def verify_mp(
    workspace_id: str,
    runtime: RuntimeDep,
    signature: Signature,
    timestamp: Stamp,
    nonce: Nonce,
    echostr: Annotated[str, Query(max_length=1024)],
) -> PlainTextResponse:
    """Answer the official account's verification: the plain signature, then ``echostr``."""
    crypto = await run_in_threadpool(_crypto, runtime, workspace_id, AccountKind.MP)
    check_plain_signature(token=crypto.token, signature=signature, timestamp=timestamp, nonce=nonce)
    return PlainTextResponse(echostr)


def _mp_xml(crypto: CallbackCrypto, body: bytes, query: dict[str, str | None]) -> str | bytes:
    """The event XML: decrypted in safe mode (encrypt_type=aes), else the body as sent."""
    timestamp, nonce = query["timestamp"] or "", query["nonce"] or ""
    if query["encrypt_type"] == "aes":
        if not query["msg_signature"]:
            raise InvalidInputError("msg_signature is required in safe mode", field="msg_signature")
        return crypto.decrypt_xml(
            msg_signature=query["msg_signature"], timestamp=timestamp, nonce=nonce, body=body
        )
    check_plain_signature(
        token=crypto.token, signature=query["signature"] or "", timestamp=timestamp, nonce=nonce
    )
    return body


def _apply_mp(
    request: Request, runtime: Runtime, workspace_id: str, crypto: CallbackCrypto, xml: str | bytes
) -> MpEvent | None:
    event = parse_mp_event(xml)
    if event is None:
        return None
    with runtime.sessions() as session:
        channel = channel_of_scene(session, workspace_id, event.scene)
    messages = wechat_events.mp_event_messages(event, app_id=crypto.receive_id, channel=channel)
    _ingest(request, runtime, workspace_id, messages)
    return event


def _mp_unionid(runtime: Runtime, workspace_id: str, openid: str) -> None:
    """After the answer: the follower's unionid from WeChat, ingested as an identify."""
    try:
        with runtime.sessions() as session:
            client = wechat_accounts.mp_client(
                session=session, vault=runtime.vault, workspace_id=workspace_id
            )
        try:
            unionid = client.user_unionid(openid=openid)
        finally:
            client.close()
        if unionid:
            messages = wechat_events.mp_unionid_messages(
                app_id=client.app_id, openid=openid, unionid=unionid, now=utcnow()
            )
            pipeline.ingest(
                runtime=runtime, workspace_id=workspace_id, messages=messages, received_at=utcnow()
            )
    except Exception:  # the event is committed; the unionid comes with the next one
        log.exception("unionid lookup for workspace %s failed", workspace_id)


@router.post("/wechat/mp/{workspace_id}/callback", summary="Official account event callback")
async def receive_mp(
    workspace_id: str,
    request: Request,
    runtime: RuntimeDep,
    background: BackgroundTasks,
    signature: Signature,
    timestamp: Stamp,
    nonce: Nonce,
    encrypt_type: Annotated[str | None, Query(max_length=10)] = None,
    msg_signature: Annotated[str | None, Query(max_length=64)] = None,
) -> PlainTextResponse:
    """Verify (plain or safe mode) a subscribe / unsubscribe / SCAN event and ingest it as
    ``mp_subscribed`` / ``mp_unsubscribed`` / ``mp_scan`` with the openid and QR scene;
    after the answer, the follower's unionid is looked up and ingested as an identify."""
    body = await _body(request)
    crypto = await run_in_threadpool(_crypto, runtime, workspace_id, AccountKind.MP)
    query = {
        "signature": signature,
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": encrypt_type,
        "msg_signature": msg_signature,
    }
    xml = _mp_xml(crypto, body, query)
    event = await run_in_threadpool(_apply_mp, request, runtime, workspace_id, crypto, xml)
    if event is not None and event.event is not MpEventType.UNSUBSCRIBE:
        background.add_task(_mp_unionid, runtime, workspace_id, event.openid)
    return _success()


# -- accounts (admin) ----------------------------------------------------------------------------


@router.put(
    "/api/wechat/accounts/{kind}",
    summary="Set a WeChat account's credentials",
    dependencies=[Require("channels:write")],
)
async def set_account(
    kind: AccountKind, body: WechatAccountSet, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> WechatAccount:
    """Store the WeCom corp / official account / mini program credentials (encrypted)."""

    return await in_transaction(
        runtime,
        wechat_accounts.set_account,
        vault=runtime.vault,
        workspace_id=workspace.id,
        kind=kind,
        account=body,
        now=utcnow(),
    )


@router.get(
    "/api/wechat/accounts/{kind}",
    summary="A WeChat account (no secrets)",
    dependencies=[Require("channels:read")],
)
async def get_account(
    kind: AccountKind, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> WechatAccount:
    """The configured account of ``kind`` without its secrets."""

    return await in_transaction(
        runtime, wechat_accounts.get_account, workspace_id=workspace.id, kind=kind
    )


# -- staff in the loop and contacts (admin) ----------------------------------------------------


@router.get(
    "/api/wechat/staff-tasks/stats",
    summary="Staff completion of WeCom tasks",
    dependencies=[Require("messages:read")],
)
async def staff_stats(
    runtime: RuntimeDep,
    workspace: AdminWorkspaceDep,
    since: Annotated[datetime, Query(description="Tasks created from (inclusive).")],
    until: Annotated[datetime, Query(description="… until (exclusive).")],
) -> list[StaffStats]:
    """Per staff member: assigned, confirmed, lapsed, failed, awaiting, rate, median wait."""
    start, end = ensure_utc(since), ensure_utc(until)
    if end <= start:
        raise InvalidInputError("until must be after since", field="until")

    return await in_transaction(
        runtime,
        wecom_stats.staff_completion_stats,
        workspace_id=workspace.id,
        since=start,
        until=end,
    )


@router.get(
    "/api/wechat/staff-tasks/{message_id}",
    summary="A WeCom staff task",
    dependencies=[Require("messages:read")],
)
async def staff_task(
    message_id: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> StaffTaskView:
    """The staff task of an outbox message: status, reminders, when it settled."""

    return await in_transaction(
        runtime, wecom_tasks.get_task, workspace_id=workspace.id, message_id=message_id
    )


@router.get(
    "/api/wechat/contacts/{external_userid}",
    summary="A WeCom external contact",
    dependencies=[Require("channels:read")],
)
async def wecom_contact(
    external_userid: str, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> ContactRecord:
    """A contact: owner, staff still following, the first add's state."""

    return await in_transaction(
        runtime,
        wecom_contacts.get_contact,
        workspace_id=workspace.id,
        external_userid=external_userid,
    )


class QrSceneCreate(BaseModel):
    """A QR code to create on the official account, and the channel its scans count for."""

    scene: str = Field(description="1-64 letters, digits, '_' or '-'.")
    channel: str = Field(min_length=1, max_length=200, description="Acquisition channel.")
    name: str | None = Field(default=None, max_length=200)
    permanent: bool = False
    expire_seconds: int = Field(default=2_592_000, description="Temporary codes: 60 s … 30 days.")


@router.post(
    "/api/wechat/qr-scenes",
    status_code=201,
    summary="Create an official-account QR",
    dependencies=[Require("channels:write")],
)
async def create_qr_scene(
    body: QrSceneCreate, runtime: RuntimeDep, workspace: AdminWorkspaceDep
) -> mp.QrScene:
    """A temporary or permanent QR code whose subscribes and scans count for ``channel``;
    the same scene and channel again answers the stored code (409 for another channel)."""

    def write() -> mp.QrScene:
        with runtime.sessions() as session, session.begin():
            client = wechat_accounts.mp_client(
                session=session, vault=runtime.vault, workspace_id=workspace.id
            )
            try:
                return mp.create_qr_scene(
                    session=session,
                    client=client,
                    workspace_id=workspace.id,
                    now=utcnow(),
                    **body.model_dump(),
                )
            except SendError as exc:  # WeChat refused or is unreachable: nothing was stored
                raise StoreError(f"WeChat: {exc.message}", field="scene") from None
            finally:
                client.close()

    return await run_in_threadpool(write)
