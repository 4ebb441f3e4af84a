"""WeCom's customer-group API (客户群): list and read groups, join ways (加入群聊), the group
welcome template, and app messages to staff — calls on a :class:`WecomClient`'s token.

WeCom offers no API to create a customer group or to remove a customer from one: a join way
with ``auto_create_room`` makes WeCom open a new group (``room_base_name`` + number) when its
groups are full, and removing a member is done by the owner in the WeCom app.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from siyu.channels.wecom import WecomClient
from siyu.community.models import WecomGroup, WecomGroupMember

_EC = "/cgi-bin/externalcontact"
PAGE = 1000  # groupchat/list returns at most 1000 per call


def _at(seconds: Any) -> datetime | None:
    return datetime.fromtimestamp(int(seconds), tz=UTC) if seconds else None


def list_chat_ids(client: WecomClient, *, page_size: int = PAGE) -> Iterator[str]:
    """Every customer group's chat_id, page by page (groupchat/list with its cursor)."""
    cursor = ""
    while True:
        payload: dict[str, Any] = {"status_filter": 0, "limit": page_size}
        if cursor:
            payload["cursor"] = cursor
        body = client.api.call("POST", f"{_EC}/groupchat/list", json=payload)
        for item in body.get("group_chat_list", []):
            yield str(item["chat_id"])
        cursor = body.get("next_cursor") or ""
        if not cursor:
            return


def _member(raw: dict[str, Any]) -> WecomGroupMember:
    return WecomGroupMember(
        userid=str(raw["userid"]),
        type=int(raw.get("type", 2)),
        join_time=_at(raw.get("join_time")),
        join_scene=raw.get("join_scene"),
        name=raw.get("name") or None,
    )


def get_group(client: WecomClient, *, chat_id: str) -> WecomGroup:
    """One group with its owner and members (groupchat/get)."""
    body = client.api.call(
        "POST", f"{_EC}/groupchat/get", json={"chat_id": chat_id, "need_name": 1}
    )
    raw = body["group_chat"]
    return WecomGroup(
        chat_id=str(raw["chat_id"]),
        name=raw.get("name") or "",
        owner=raw.get("owner") or None,
        notice=raw.get("notice") or None,
        created_at=_at(raw.get("create_time")),
        members=[_member(m) for m in raw.get("member_list", [])],
    )


def _join_way(
    state: str, chat_ids: Sequence[str], room_base_name: str, room_base_id: int
) -> dict[str, Any]:
    return {
        "scene": 2,  # a QR code
        "remark": state,
        "auto_create_room": 1,
        "room_base_name": room_base_name,
        "room_base_id": room_base_id,
        "chat_id_list": list(chat_ids),
        "state": state,
    }


def add_join_way(
    client: WecomClient,
    *,
    state: str,
    chat_ids: Sequence[str],
    room_base_name: str,
    room_base_id: int,
) -> tuple[str, str | None]:
    """Create a join way (加入群聊 QR code) over ``chat_ids``; its config_id and QR code."""
    body = client.api.call(
        "POST",
        f"{_EC}/groupchat/add_join_way",
        json=_join_way(state, chat_ids, room_base_name, room_base_id),
    )
    config_id = str(body["config_id"])
    got = client.api.call("POST", f"{_EC}/groupchat/get_join_way", json={"config_id": config_id})
    return config_id, got.get("join_way", {}).get("qr_code")


def update_join_way(
    client: WecomClient,
    *,
    config_id: str,
    state: str,
    chat_ids: Sequence[str],
    room_base_name: str,
    room_base_id: int,
) -> None:
    """Point a join way at ``chat_ids`` (the QR code stays the same)."""
    payload = {"config_id": config_id, **_join_way(state, chat_ids, room_base_name, room_base_id)}
    client.api.call("POST", f"{_EC}/groupchat/update_join_way", json=payload)


def add_group_welcome(client: WecomClient, *, text: str) -> str:
    """Create the group welcome template (入群欢迎语素材); its template_id."""
    body = client.api.call(
        "POST", f"{_EC}/group_welcome_template/add", json={"text": {"content": text}}
    )
    return str(body["template_id"])


def edit_group_welcome(client: WecomClient, *, template_id: str, text: str) -> None:
    """Change the text of the group welcome template."""
    client.api.call(
        "POST",
        f"{_EC}/group_welcome_template/edit",
        json={"template_id": template_id, "text": {"content": text}},
    )


def message_staff(client: WecomClient, *, agent_id: str, userids: Sequence[str], text: str) -> None:
    """A text app message to staff members (message/send)."""
    client.api.call(
        "POST",
        "/cgi-bin/message/send",
        json={
            "touser": "|".join(userids),
            "msgtype": "text",
            "agentid": int(agent_id),
            "text": {"content": text},
        },
    )
