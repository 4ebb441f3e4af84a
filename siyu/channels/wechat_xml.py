"""WeChat / WeCom callback XML → plain typed events (parsed with entity expansion refused).

Callback bodies come from outside: :func:`parse_xml` uses defusedxml, which rejects DTDs,
entity declarations and external references (billion laughs, XXE) instead of expanding them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import BaseModel, Field

from siyu.core.errors import InvalidInputError

MAX_XML_BYTES = 64 * 1024


def parse_xml(body: bytes | str) -> dict[str, str]:
    """The text of each direct child of the ``<xml>`` root, by tag (nested ones flattened
    as ``Parent.Child``; repeated ``Item``s are kept last-wins, WeChat events repeat none we use).

    Raises:
        InvalidInputError: too large, not well-formed, or a DTD/entity is declared.
    """
    if len(body) > MAX_XML_BYTES:
        raise InvalidInputError(f"XML body over {MAX_XML_BYTES} bytes", field="body")
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InvalidInputError(f"XML refused: {type(exc).__name__}", field="body") from None
    except ParseError as exc:
        raise InvalidInputError(f"XML is not well-formed: {exc}", field="body") from None
    found: dict[str, str] = {}
    for child in root:
        found[child.tag] = (child.text or "").strip()
        for grandchild in child:
            found[f"{child.tag}.{grandchild.tag}"] = (grandchild.text or "").strip()
    return found


def _time(fields: dict[str, str]) -> datetime:
    raw = fields.get("CreateTime", "")
    if not raw.isdigit():
        raise InvalidInputError("CreateTime must be unix seconds", field="CreateTime")
    return datetime.fromtimestamp(int(raw), tz=UTC)


class ContactChange(StrEnum):
    """``ChangeType`` values of WeCom's ``change_external_contact`` event siyu acts on."""

    ADD = "add_external_contact"
    ADD_HALF = "add_half_external_contact"  # added, but the customer has not accepted yet
    EDIT = "edit_external_contact"
    DEL_EXTERNAL = "del_external_contact"  # the staff member deleted the customer
    DEL_FOLLOW = "del_follow_user"  # the customer deleted the staff member
    TRANSFER_FAIL = "transfer_fail"


class WecomContactEvent(BaseModel):
    """A WeCom external-contact change from a callback."""

    kind: Literal["contact"] = "contact"
    corp_id: str
    change: ContactChange
    userid: str = Field(description="The staff member (follow user).")
    external_userid: str
    state: str | None = Field(default=None, description="联系我 state: the live code / channel.")
    welcome_code: str | None = Field(default=None, description="Valid 20 s, for a welcome msg.")
    source: str | None = Field(default=None, description="e.g. DELETE_BY_TRANSFER")
    at: datetime


class WecomChatEvent(BaseModel):
    """A WeCom customer-group change (``change_external_chat``)."""

    kind: Literal["chat"] = "chat"
    corp_id: str
    chat_id: str
    change: str = Field(description="create, update or dismiss")
    update_detail: str | None = Field(default=None, description="add_member, del_member…")
    member_change_count: int = 0
    at: datetime


class MpEventType(StrEnum):
    """Official-account events siyu turns into collect events."""

    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    SCAN = "SCAN"


class MpEvent(BaseModel):
    """An official-account subscribe / unsubscribe / scan event."""

    account: str = Field(description="ToUserName: the account's original id (gh_…).")
    openid: str
    event: MpEventType
    scene: str | None = Field(
        default=None, description="QR scene: qrscene_<scene> on first subscribe, <scene> on SCAN."
    )
    ticket: str | None = None
    at: datetime


def _wecom_contact(fields: dict[str, str], at: datetime) -> WecomContactEvent | None:
    try:
        change = ContactChange(fields.get("ChangeType", ""))
    except ValueError:
        return None
    userid, external = fields.get("UserID", ""), fields.get("ExternalUserID", "")
    if not userid or not external:
        raise InvalidInputError("UserID and ExternalUserID are required", field="ExternalUserID")
    return WecomContactEvent(
        corp_id=fields.get("ToUserName", ""),
        change=change,
        userid=userid,
        external_userid=external,
        state=fields.get("State") or None,
        welcome_code=fields.get("WelcomeCode") or None,
        source=fields.get("Source") or None,
        at=at,
    )


def _wecom_chat(fields: dict[str, str], at: datetime) -> WecomChatEvent:
    chat_id = fields.get("ChatId", "")
    if not chat_id:
        raise InvalidInputError("ChatId is required", field="ChatId")
    count = fields.get("MemChangeCnt", "0")
    return WecomChatEvent(
        corp_id=fields.get("ToUserName", ""),
        chat_id=chat_id,
        change=fields.get("ChangeType", ""),
        update_detail=fields.get("UpdateDetail") or None,
        member_change_count=int(count) if count.isdigit() else 0,
        at=at,
    )


def parse_wecom_event(xml: str | bytes) -> WecomContactEvent | WecomChatEvent | None:
    """The contact or group change in decrypted WeCom callback XML; None for other events."""
    fields = parse_xml(xml)
    if fields.get("MsgType") != "event":
        return None
    event = fields.get("Event")
    if event == "change_external_contact":
        return _wecom_contact(fields, _time(fields))
    if event == "change_external_chat":
        return _wecom_chat(fields, _time(fields))
    return None


def _scene(event: MpEventType, key: str) -> str | None:
    if event == MpEventType.SUBSCRIBE:
        return key.removeprefix("qrscene_") if key.startswith("qrscene_") else None
    if event == MpEventType.SCAN:
        return key or None
    return None


def parse_mp_event(xml: str | bytes) -> MpEvent | None:
    """The subscribe / unsubscribe / SCAN event in official-account XML; None for others."""
    fields = parse_xml(xml)
    if fields.get("MsgType") != "event":
        return None
    try:
        event = MpEventType(fields.get("Event", ""))
    except ValueError:
        return None
    openid = fields.get("FromUserName", "")
    if not openid:
        raise InvalidInputError("FromUserName (openid) is required", field="FromUserName")
    return MpEvent(
        account=fields.get("ToUserName", ""),
        openid=openid,
        event=event,
        scene=_scene(event, fields.get("EventKey", "")),
        ticket=fields.get("Ticket") or None,
        at=_time(fields),
    )
