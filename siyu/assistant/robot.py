"""The WeCom group robot (群机器人): text into a group through its webhook URL (with key).

``POST <webhook>`` with ``{"msgtype": "text", "text": {"content": …}}``; WeCom answers
``{"errcode": 0, "errmsg": "ok"}``. A refusal or an unreachable server is a
:class:`~siyu.channels.models.SendError`.
"""

from __future__ import annotations

import httpx

from siyu.channels.models import SendError

MAX_TEXT_BYTES = 2048  # WeCom's limit for a robot text message


def _clip(text: str) -> str:
    data = text.encode()
    if len(data) <= MAX_TEXT_BYTES:
        return text
    return data[: MAX_TEXT_BYTES - 3].decode(errors="ignore") + "…"


def send_text(
    *, client: httpx.Client, webhook_url: str, content: str, mention: list[str] | None = None
) -> None:
    """Say ``content`` in the robot's group, @-mentioning ``mention`` (userids) if given.

    Raises:
        SendError: WeCom refused (errcode ≠ 0), answered non-2xx, or was unreachable.
    """
    body: dict[str, object] = {"msgtype": "text", "text": {"content": _clip(content)}}
    if mention:
        body["text"] = {"content": _clip(content), "mentioned_list": mention}
    try:
        response = client.post(webhook_url, json=body, timeout=10.0)
    except httpx.HTTPError as exc:
        raise SendError(f"robot webhook unreachable: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise SendError(f"robot webhook answered HTTP {response.status_code}")
    try:
        errcode = response.json().get("errcode", -1)
    except ValueError:
        raise SendError("robot webhook answered non-JSON") from None
    if errcode != 0:
        raise SendError(f"robot webhook refused: errcode {errcode}")
