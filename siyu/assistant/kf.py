"""WeChat customer service (微信客服): 1:1 questions in, answers out through the WeCom API.

WeCom does not push the customer's message itself: it posts a ``kf_msg_or_event`` event
(``Token``, ``OpenKfId``) to the app's callback URL, and the messages are pulled with
``POST /cgi-bin/kf/sync_msg`` (``cursor``, ``token``, ``open_kfid``; pages while
``has_more``). A customer's text (``origin`` 3) is answered as a group message is — rules,
retrieval, hand-over, opt-out — in the conversation ``kf:<open_kfid>``, and the answer goes
back with ``POST /cgi-bin/kf/send_msg`` (``touser`` = the customer's external_userid, our
own ``msgid`` derived from theirs; a message id already recorded is not answered again). A
customer opening the conversation (``event`` ``enter_session`` with a ``welcome_code``) is
welcomed with ``POST /cgi-bin/kf/send_msg_on_event``. The cursor is kept per
customer-service account.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from siyu.assistant.answering import handle_members, handle_message
from siyu.assistant.events import message_events
from siyu.channels.wechat_api import WechatApi
from siyu.channels.wechat_group_messages import MemberChange, WecomGroupMembers, WecomGroupMessage
from siyu.channels.wechat_xml import parse_xml
from siyu.segments import layer_store

CUSTOMER = 3  # origin of a message the WeChat customer sent
MAX_PAGES = 20  # sync pages per callback (1,000 messages each); the rest at the next one
CURSORS = "assistant_kf_cursors"
MAX_TEXT = 2048  # bytes WeCom takes in a kf text message


class KfEvent(BaseModel):
    """The callback's notice: messages are waiting for this customer-service account."""

    corp_id: str
    token: str
    open_kfid: str


class KfMessage(BaseModel):
    """One pulled message: a customer's text, or a session event."""

    msgid: str
    open_kfid: str
    external_userid: str
    at: datetime
    origin: int
    msgtype: str
    content: str | None = None
    event_type: str | None = None
    welcome_code: str | None = None


class Cursors(BaseModel):
    """Where each customer-service account's sync stopped."""

    cursors: dict[str, str] = {}


def parse_kf_event(xml: str | bytes) -> KfEvent | None:
    """The ``kf_msg_or_event`` notice in a decrypted callback, or None for anything else."""
    fields = parse_xml(xml)
    if fields.get("MsgType") != "event" or fields.get("Event") != "kf_msg_or_event":
        return None
    token, open_kfid = fields.get("Token", ""), fields.get("OpenKfId", "")
    if not token or not open_kfid:
        return None
    return KfEvent(corp_id=fields.get("ToUserName", ""), token=token, open_kfid=open_kfid)


def _message(raw: dict[str, Any]) -> KfMessage:
    event = raw.get("event") or {}
    return KfMessage(
        msgid=str(raw.get("msgid", "")),
        open_kfid=str(raw.get("open_kfid") or event.get("open_kfid", "")),
        external_userid=str(raw.get("external_userid") or event.get("external_userid", "")),
        at=datetime.fromtimestamp(int(raw.get("send_time", 0)), UTC),
        origin=int(raw.get("origin", 0)),
        msgtype=str(raw.get("msgtype", "")),
        content=(raw.get("text") or {}).get("content"),
        event_type=event.get("event_type"),
        welcome_code=event.get("welcome_code"),
    )


def sync_messages(
    api: WechatApi, *, event: KfEvent, cursor: str | None
) -> tuple[list[KfMessage], str | None]:
    """Messages after ``cursor`` (every page while ``has_more``, up to :data:`MAX_PAGES`)
    and the cursor to keep."""
    found: list[KfMessage] = []
    for _ in range(MAX_PAGES):
        body: dict[str, Any] = {"token": event.token, "open_kfid": event.open_kfid, "limit": 1000}
        if cursor:
            body["cursor"] = cursor
        answer = api.call("POST", "/cgi-bin/kf/sync_msg", json=body)
        found.extend(_message(m) for m in answer.get("msg_list", []))
        cursor = answer.get("next_cursor") or cursor
        if not answer.get("has_more"):
            break
    return found, cursor


def _clip(text: str) -> str:
    data = text.encode()
    return text if len(data) <= MAX_TEXT else data[: MAX_TEXT - 3].decode(errors="ignore") + "…"


def reply_id(msgid: str) -> str:
    """Our ``msgid`` for the answer to ``msgid`` (WeCom: at most 32 of [0-9a-zA-Z_-])."""
    return "siyu_" + hashlib.sha256(msgid.encode()).hexdigest()[:27]


def send_text(api: WechatApi, *, message: KfMessage, content: str) -> None:
    """Answer a customer's message in their conversation."""
    body = {
        "touser": message.external_userid,
        "open_kfid": message.open_kfid,
        "msgid": reply_id(message.msgid),
        "msgtype": "text",
        "text": {"content": _clip(content)},
    }
    api.call("POST", "/cgi-bin/kf/send_msg", json=body)


def send_welcome(api: WechatApi, *, code: str, content: str) -> None:
    """Welcome a customer who opened the conversation (the code lives 20 seconds)."""
    body = {"code": code, "msgtype": "text", "text": {"content": _clip(content)}}
    api.call("POST", "/cgi-bin/kf/send_msg_on_event", json=body)


def conversation(open_kfid: str) -> str:
    """The id the assistant counts a customer-service account's messages under."""
    return f"kf:{open_kfid}"


def as_question(message: KfMessage, corp_id: str) -> WecomGroupMessage | None:
    """A customer's text as the assistant's message, or None (staff, events, media)."""
    if message.origin != CUSTOMER or message.msgtype != "text" or not message.content:
        return None
    return WecomGroupMessage(
        corp_id=corp_id,
        chat_id=conversation(message.open_kfid),
        msg_id=message.msgid,
        sender=message.external_userid,
        content=message.content,
        at=message.at,
    )


def get_cursor(*, session: Session, workspace_id: str, open_kfid: str) -> str | None:
    """Where the account's last sync stopped."""
    found = layer_store.load_settings(
        session=session, workspace_id=workspace_id, name=CURSORS, model=Cursors
    )
    return found.cursors.get(open_kfid)


def save_cursor(
    *, session: Session, workspace_id: str, open_kfid: str, cursor: str | None, now: datetime
) -> None:
    """Keep the account's cursor (nothing to keep: unchanged)."""
    if not cursor:
        return
    found = layer_store.load_settings(
        session=session, workspace_id=workspace_id, name=CURSORS, model=Cursors
    )
    found.cursors[open_kfid] = cursor
    layer_store.save_settings(
        session=session, workspace_id=workspace_id, name=CURSORS, value=found, now=now
    )


class KfOutcome(BaseModel):
    """What to send after the pulled messages are recorded: answers, welcomes, and the
    ``group_message`` tracks to ingest."""

    replies: list[tuple[KfMessage, str]] = []
    welcomes: list[tuple[str, str]] = []  # (welcome_code, text)
    tracks: list[dict[str, Any]] = []


def _welcome(session: Session, workspace_id: str, corp_id: str, message: KfMessage) -> str | None:
    opened = WecomGroupMembers(
        corp_id=corp_id,
        chat_id=conversation(message.open_kfid),
        change=MemberChange.JOINED,
        members=[message.external_userid],
        at=message.at,
    )
    return handle_members(session=session, workspace_id=workspace_id, change=opened)


def handle_kf(
    *,
    session: Session,
    workspace_id: str,
    corp_id: str,
    messages: list[KfMessage],
    now: datetime,
) -> KfOutcome:
    """Record and decide every pulled message (a message pulled twice is answered once; a
    muted conversation, an opted-out customer or chatter gets nothing)."""
    done = KfOutcome()
    for message in messages:
        question = as_question(message, corp_id)
        if question is not None:
            reply = handle_message(
                session=session, workspace_id=workspace_id, message=question, now=now
            )
            done.tracks.extend(message_events(question, reply))
            if reply.text:
                done.replies.append((message, reply.text))
        elif message.event_type == "enter_session" and message.welcome_code:
            text = _welcome(session, workspace_id, corp_id, message)
            if text:
                done.welcomes.append((message.welcome_code, text))
    return done
