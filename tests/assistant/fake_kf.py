"""微信客服 endpoints for the fake WeCom server (tests/channels/fake_wechat.py): real HTTP,
real JSON. ``install(state)`` adds ``kf/sync_msg`` (messages after a cursor, for a callback
token the test handed out), ``kf/send_msg`` and ``kf/send_msg_on_event`` (recorded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.channels import fake_wechat
from tests.channels.fake_wechat import FakeState


@dataclass
class KfState:
    tokens: set[str] = field(default_factory=set)  # callback tokens handed out
    inbox: list[dict[str, Any]] = field(default_factory=list)  # every message, in order
    sent: list[dict[str, Any]] = field(default_factory=list)  # send_msg bodies
    on_event: list[dict[str, Any]] = field(default_factory=list)  # send_msg_on_event bodies
    page: int = 1000  # messages per sync page at most

    def customer(self, msgid: str, open_kfid: str, user: str, text: str, at: int) -> None:
        self.inbox.append({"msgid": msgid, "open_kfid": open_kfid, "external_userid": user,
                           "send_time": at, "origin": 3, "msgtype": "text",
                           "text": {"content": text}})  # fmt: skip

    def staff(self, msgid: str, open_kfid: str, user: str, text: str, at: int) -> None:
        self.inbox.append({"msgid": msgid, "open_kfid": open_kfid, "external_userid": user,
                           "send_time": at, "origin": 5, "servicer_userid": "zhang",
                           "msgtype": "text", "text": {"content": text}})  # fmt: skip

    def enter(self, msgid: str, open_kfid: str, user: str, code: str, at: int) -> None:
        event = {"event_type": "enter_session", "open_kfid": open_kfid,
                 "external_userid": user, "scene": "", "welcome_code": code}  # fmt: skip
        self.inbox.append({"msgid": msgid, "send_time": at, "origin": 4, "msgtype": "event",
                           "event": event})  # fmt: skip


_STATES: dict[int, KfState] = {}


def _kf(state: FakeState) -> KfState:
    return _STATES[id(state)]


def _sync(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    kf = _kf(state)
    if b.get("token") not in kf.tokens:
        return {"errcode": 95007, "errmsg": "invalid msg token"}
    start = int(b.get("cursor") or 0)
    open_kfid = b.get("open_kfid")
    limit = min(int(b.get("limit", 1000)), kf.page)
    mine = [
        (n, m) for n, m in enumerate(kf.inbox, start=1)
        if n > start and (m.get("open_kfid") or m["event"]["open_kfid"]) == open_kfid
    ]  # fmt: skip
    page = mine[:limit]
    cursor = str(page[-1][0]) if page else str(start)
    return {"errcode": 0, "errmsg": "ok", "next_cursor": cursor,
            "has_more": int(len(mine) > limit), "msg_list": [m for _, m in page]}  # fmt: skip


def _send(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    kf = _kf(state)
    if any(s.get("msgid") == b.get("msgid") for s in kf.sent if b.get("msgid")):
        return {"errcode": 95016, "errmsg": "msgid duplicated"}
    kf.sent.append(b)
    return {"errcode": 0, "errmsg": "ok", "msgid": b.get("msgid") or state.next_id("kfmsg")}


def _on_event(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    _kf(state).on_event.append(b)
    return {"errcode": 0, "errmsg": "ok", "msgid": state.next_id("kfev")}


def install(state: FakeState) -> KfState:
    """Serve 微信客服 on this fake server; its state."""
    fake_wechat.ROUTES.setdefault("/cgi-bin/kf/sync_msg", _sync)
    fake_wechat.ROUTES.setdefault("/cgi-bin/kf/send_msg", _send)
    fake_wechat.ROUTES.setdefault("/cgi-bin/kf/send_msg_on_event", _on_event)
    _STATES[id(state)] = KfState()
    return _STATES[id(state)]
