"""Group callbacks → Segment-spec track messages (``group_message``, ``group_member_joined``,
``group_member_left``) for the collect path, so group activity reaches profiles (pure)."""

from __future__ import annotations

from typing import Any

from siyu.assistant.models import Reply
from siyu.channels.wechat_group_messages import MemberChange, WecomGroupMembers, WecomGroupMessage
from siyu.collect.models import IdType

GROUP_MESSAGE = "group_message"
MEMBER_EVENTS = {
    MemberChange.JOINED: "group_member_joined",
    MemberChange.LEFT: "group_member_left",
}


def _who(member: str) -> dict[str, Any]:
    # External customers' ids start wm/wo; staff are plain userids.
    who: dict[str, Any] = {"anonymousId": f"wecom:{member}"}
    if member.startswith(("wm", "wo")):
        who["context"] = {
            "externalIds": [{"type": IdType.WECOM_EXTERNAL_USERID.value, "id": member}]
        }
    return who


def message_events(message: WecomGroupMessage, reply: Reply) -> list[dict[str, Any]]:
    """One ``group_message`` track with what the assistant did (ids derive from WeCom's, so
    retries deduplicate)."""
    return [
        {
            **_who(message.sender),
            "type": "track",
            "event": GROUP_MESSAGE,
            "messageId": f"wecom-group:{message.corp_id}:{message.msg_id}",
            "timestamp": message.at.isoformat(),
            "properties": {
                "chat_id": message.chat_id,
                "outcome": reply.outcome.value,
                "entry_id": reply.entry_id,
                "confidence": round(reply.confidence, 4),
            },
        }
    ]


def member_message_id(change: WecomGroupMembers, member: str) -> str:
    """The messageId of one member's join / leave track (the same from either callback)."""
    stamp = int(change.at.timestamp())
    return f"wecom-group:{change.chat_id}:{change.change.value}:{member}:{stamp}"


def member_events(change: WecomGroupMembers) -> list[dict[str, Any]]:
    """One join / leave track per member."""
    return [
        {
            **_who(member),
            "type": "track",
            "event": MEMBER_EVENTS[change.change],
            "messageId": member_message_id(change, member),
            "timestamp": change.at.isoformat(),
            "properties": {"chat_id": change.chat_id, "join_scene": change.join_scene},
        }
        for member in change.members
    ]
