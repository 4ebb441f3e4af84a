"""WeCom group callbacks the community assistant reads: text messages in a customer group
and members joining or leaving it (parsed with entity expansion refused).

A group text message arrives as ``MsgType=text`` with the group's ``ChatId`` (WeCom's
app-in-group and robot callbacks); a join or leave as ``change_external_chat`` with
``ChangeType=update``, ``UpdateDetail=add_member|del_member`` and the members under
``MemChangeList/Item``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import BaseModel, Field

from siyu.channels.wechat_xml import MAX_XML_BYTES, parse_xml
from siyu.core.errors import InvalidInputError

MAX_CONTENT = 2048


class MemberChange(StrEnum):
    """A member joining or leaving a group."""

    JOINED = "joined"
    LEFT = "left"


_DETAILS = {"add_member": MemberChange.JOINED, "del_member": MemberChange.LEFT}


class WecomGroupMessage(BaseModel):
    """A text message said in a customer group."""

    kind: Literal["group_message"] = "group_message"
    corp_id: str
    chat_id: str
    msg_id: str = Field(description="WeCom's message id: retries repeat it.")
    sender: str = Field(description="userid of staff, or external_userid of a customer.")
    content: str
    at: datetime


class WecomGroupMembers(BaseModel):
    """Members who joined or left a customer group."""

    kind: Literal["group_members"] = "group_members"
    corp_id: str
    chat_id: str
    change: MemberChange
    members: list[str]
    join_scene: int | None = Field(default=None, description="1 invited, 2 by link, 3 QR code.")
    at: datetime


def _time(fields: dict[str, str]) -> datetime:
    raw = fields.get("CreateTime", "")
    if not raw.isdigit():
        raise InvalidInputError("CreateTime must be unix seconds", field="CreateTime")
    return datetime.fromtimestamp(int(raw), tz=UTC)


def _members(xml: str | bytes) -> list[str]:
    try:
        root = fromstring(xml, forbid_dtd=True)
    except (DefusedXmlException, ParseError):  # parse_xml has refused these already
        return []
    return [(item.text or "").strip() for item in root.iterfind("MemChangeList/Item") if item.text]


def _message(fields: dict[str, str]) -> WecomGroupMessage | None:
    chat_id = fields.get("ChatId", "")
    if not chat_id:
        return None  # a one-to-one message: not the group assistant's
    msg_id, sender = fields.get("MsgId", ""), fields.get("FromUserName", "")
    if not msg_id or not sender:
        raise InvalidInputError("MsgId and FromUserName are required", field="MsgId")
    return WecomGroupMessage(
        corp_id=fields.get("ToUserName", ""),
        chat_id=chat_id,
        msg_id=msg_id,
        sender=sender,
        content=fields.get("Content", "")[:MAX_CONTENT],
        at=_time(fields),
    )


def _member_change(fields: dict[str, str], xml: str | bytes) -> WecomGroupMembers | None:
    change = _DETAILS.get(fields.get("UpdateDetail", ""))
    chat_id = fields.get("ChatId", "")
    if change is None or fields.get("ChangeType") != "update":
        return None
    if not chat_id:
        raise InvalidInputError("ChatId is required", field="ChatId")
    scene = fields.get("JoinScene", "")
    return WecomGroupMembers(
        corp_id=fields.get("ToUserName", ""),
        chat_id=chat_id,
        change=change,
        members=_members(xml),
        join_scene=int(scene) if scene.isdigit() else None,
        at=_time(fields),
    )


def parse_group_event(xml: str | bytes) -> WecomGroupMessage | WecomGroupMembers | None:
    """The group text message or member change in decrypted WeCom XML; None for others.

    Raises:
        InvalidInputError: the XML is refused or a required field is missing.
    """
    if len(xml) > MAX_XML_BYTES:
        raise InvalidInputError(f"XML body over {MAX_XML_BYTES} bytes", field="body")
    fields = parse_xml(xml)
    if fields.get("MsgType") == "text":
        return _message(fields)
    if fields.get("MsgType") == "event" and fields.get("Event") == "change_external_chat":
        return _member_change(fields, xml)
    return None
