"""A fake WeCom + WeChat API server on 127.0.0.1 for channel tests: real HTTP, real JSON.

It issues access tokens and refuses calls without a live one (errcode 40014 / 42001),
records every request, keeps mass-send tasks that a test confirms as a staff member would,
and can be told to fail the next calls of a path with a given errcode.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

MAX_RECORDED = 10_000
MAX_BODY = 1024 * 1024


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None


@dataclass
class FakeState:
    corp_id: str = "wwFAKECORP"
    secret: str = "s3cret"
    appid: str = "wxFAKEAPP"
    app_secret: str = "appsecret"
    requests: list[Recorded] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    expired: set[str] = field(default_factory=set)
    failures: dict[str, list[int]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)  # external_userid → raw
    follows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # ext → follow infos
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # msgid → task
    mp_users: dict[str, str | None] = field(default_factory=dict)  # follower openid → unionid
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # chat_id → customer group
    join_ways: dict[str, dict[str, Any]] = field(default_factory=dict)  # config_id → join way
    group_cap: int = 200  # members a join way seats in one group before the next
    staff_messages: list[dict[str, Any]] = field(default_factory=list)  # app messages sent
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def fail_next(self, path: str, *codes: int) -> None:
        """The next calls of ``path`` answer these errcodes, in order."""
        with self.lock:
            self.failures.setdefault(path, []).extend(codes)

    def expire_tokens(self) -> None:
        """Every issued token now answers 42001 (expired)."""
        with self.lock:
            self.expired |= self.tokens

    def add_contact(self, external_userid: str, follows: list[dict[str, Any]], **raw: Any) -> None:
        self.contacts[external_userid] = {"external_userid": external_userid, **raw}
        self.follows[external_userid] = follows

    def confirm(self, msgid: str, userid: str, send_time: int) -> None:
        """The staff member confirms the mass send in WeCom."""
        with self.lock:
            task = self.tasks[msgid]
            assert task["sender"] == userid
            if task.get("cancelled"):
                return  # WeCom no longer offers a cancelled task to the staff member
            task["status"], task["send_time"] = 2, send_time

    def add_group(
        self, chat_id: str, name: str, owner: str, members: list[str], create_time: int = 0
    ) -> None:
        """A customer group owned by ``owner``; members starting wm/wo are customers."""
        with self.lock:
            self.groups[chat_id] = {
                "chat_id": chat_id,
                "name": name,
                "owner": owner,
                "create_time": create_time,
                "member_list": [_group_member(m, create_time) for m in [owner, *members]],
            }

    def scan_join_way(self, config_id: str, external_userid: str, at: int) -> str:
        """A customer scans a join way's QR code: WeCom seats them in its first group with
        room, or opens a new group when ``auto_create_room`` is on; the chat_id."""
        with self.lock:
            way = self.join_ways[config_id]
            for chat_id in way["chat_id_list"]:
                if len(self.groups[chat_id]["member_list"]) - 1 < self.group_cap:
                    break
            else:
                assert way["auto_create_room"], "every group of the join way is full"
                first = self.groups[way["chat_id_list"][0]]
                chat_id = self.next_id("wrAUTO")
                name = f"{way['room_base_name']}{way['room_base_id']}"
                self.groups[chat_id] = {
                    "chat_id": chat_id,
                    "name": name,
                    "owner": first["owner"],
                    "create_time": at,
                    "member_list": [_group_member(first["owner"], at)],
                }
                way["room_base_id"] += 1
                way["chat_id_list"].append(chat_id)
            self.groups[chat_id]["member_list"].append(_group_member(external_userid, at, 3))
            return chat_id

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]


def _group_member(userid: str, at: int, scene: int = 1) -> dict[str, Any]:
    customer = userid.startswith(("wm", "wo"))
    return {
        "userid": userid,
        "type": 2 if customer else 1,
        "join_time": at,
        "join_scene": scene,
        "name": userid,
    }


def _answer(state: FakeState, method: str, path: str, query: dict[str, str], body: Any) -> Any:
    if path == "/cgi-bin/gettoken":
        if query.get("corpid") != state.corp_id or query.get("corpsecret") != state.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        return _issue(state)
    if path == "/cgi-bin/token":
        if query.get("appid") != state.appid or query.get("secret") != state.app_secret:
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        return _issue(state)
    token = query.get("access_token", "")
    if token in state.expired:
        return {"errcode": 42001, "errmsg": "access_token expired"}
    if token not in state.tokens:
        return {"errcode": 40014, "errmsg": "invalid access_token"}
    queued = state.failures.get(path)
    if queued:
        return {"errcode": queued.pop(0), "errmsg": "scripted failure"}
    handler = ROUTES.get(path)
    if handler is None:
        return {"errcode": 404, "errmsg": f"no route {path}"}
    return handler(state, query, body or {})


def _issue(state: FakeState) -> dict[str, Any]:
    token = state.next_id("tok")
    state.tokens.add(token)
    return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}


def _follow_users(state: FakeState, q: dict[str, str], b: Any) -> Any:
    users = sorted({f["userid"] for fs in state.follows.values() for f in fs})
    return {"errcode": 0, "follow_user": users}


def _list(state: FakeState, q: dict[str, str], b: Any) -> Any:
    mine = [e for e, fs in state.follows.items() if any(f["userid"] == q["userid"] for f in fs)]
    if not mine:
        return {"errcode": 84061, "errmsg": "not external contact"}
    return {"errcode": 0, "external_userid": sorted(mine)}


def _get(state: FakeState, q: dict[str, str], b: Any) -> Any:
    ext = q.get("external_userid", "")
    if ext not in state.contacts:
        return {"errcode": 84061, "errmsg": "not external contact"}
    return {
        "errcode": 0,
        "external_contact": state.contacts[ext],
        "follow_user": state.follows[ext],
    }


def _batch(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    rows = [
        {"external_contact": state.contacts[e], "follow_info": f}
        for e in sorted(state.contacts)
        for f in state.follows[e]
        if f["userid"] in b["userid_list"]
    ]
    start = int(b.get("cursor") or 0)
    limit = int(b.get("limit", 100))
    page = rows[start : start + limit]
    more = start + limit < len(rows)
    return {
        "errcode": 0,
        "external_contact_list": page,
        "next_cursor": str(start + limit) if more else "",
    }


def _contact_way(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    cid = state.next_id("cfg")
    return {"errcode": 0, "config_id": cid, "qr_code": f"https://wework.example/{cid}.png"}


def _add_template(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    if not b.get("sender") or not b.get("text", {}).get("content"):
        return {"errcode": 41035, "errmsg": "missing sender or content"}
    msgid = state.next_id("msg")
    targets = list(b.get("external_userid") or b.get("chat_id_list") or [])
    state.tasks[msgid] = {**b, "targets": targets, "status": 0, "send_time": 0, "reminders": 0}
    return {"errcode": 0, "errmsg": "ok", "fail_list": [], "msgid": msgid}


def _task(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    task = state.tasks.get(b.get("msgid", ""))
    if task is None:
        return {"errcode": 41063, "errmsg": "msgid not found"}
    row = {"userid": task["sender"], "status": task["status"], "send_time": task["send_time"]}
    return {"errcode": 0, "next_cursor": "", "task_list": [row]}


def _send_result(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    task = state.tasks.get(b.get("msgid", ""))
    if task is None:
        return {"errcode": 41063, "errmsg": "msgid not found"}
    key = "chat_id" if task.get("chat_type") == "group" else "external_userid"
    status = 1 if task["status"] == 2 else 0
    rows = [
        {key: t, "userid": task["sender"], "status": status, "send_time": task["send_time"]}
        for t in task["targets"]
    ]
    return {"errcode": 0, "next_cursor": "", "send_list": rows}


def _remind(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    task = state.tasks.get(b.get("msgid", ""))
    if task is None:
        return {"errcode": 41063, "errmsg": "msgid not found"}
    task["reminders"] += 1  # counted; the fake has no clock, so siyu's 3-per-24 h is asserted
    return {"errcode": 0, "errmsg": "ok"}


def _cancel(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    task = state.tasks.get(b.get("msgid", ""))
    if task is None:
        return {"errcode": 41063, "errmsg": "msgid not found"}
    task["cancelled"] = True
    return {"errcode": 0, "errmsg": "ok"}


def _ok(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    state.counter += 1
    return {"errcode": 0, "errmsg": "ok", "msgid": 1000 + state.counter}


def _message(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    if not b.get("touser") or not b.get("template_id") or not isinstance(b.get("data"), dict):
        return {"errcode": 47003, "errmsg": "argument invalid"}
    return _ok(state, q, b)


def _user_info(state: FakeState, q: dict[str, str], b: Any) -> Any:
    openid = q.get("openid", "")
    if openid not in state.mp_users:
        return {"errcode": 40003, "errmsg": "invalid openid"}
    answer = {"subscribe": 1, "openid": openid}
    unionid = state.mp_users[openid]
    return {**answer, "unionid": unionid} if unionid else answer


def _qrcode(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    scene = b.get("action_info", {}).get("scene", {}).get("scene_str")
    if not scene:
        return {"errcode": 40097, "errmsg": "invalid args"}
    ticket = f"TICKET-{scene}"
    answer: dict[str, Any] = {"ticket": ticket, "url": f"http://weixin.qq.com/q/{scene}"}
    if b.get("action_name") == "QR_STR_SCENE":
        answer["expire_seconds"] = b.get("expire_seconds", 30)
    return answer


def _groupchat_list(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    ids = sorted(state.groups)
    start = int(b.get("cursor") or 0)
    limit = int(b.get("limit", 1000))
    more = start + limit < len(ids)
    return {
        "errcode": 0,
        "group_chat_list": [{"chat_id": c, "status": 0} for c in ids[start : start + limit]],
        "next_cursor": str(start + limit) if more else "",
    }


def _groupchat_get(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    group = state.groups.get(b.get("chat_id", ""))
    if group is None:
        return {"errcode": 90001, "errmsg": "invalid chat_id"}
    return {"errcode": 0, "group_chat": group}


def _add_join_way(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    chat_ids = list(b.get("chat_id_list") or [])
    if not chat_ids or len(chat_ids) > 5 or any(c not in state.groups for c in chat_ids):
        return {"errcode": 40058, "errmsg": "invalid chat_id_list"}
    config_id = state.next_id("jw")
    state.join_ways[config_id] = {
        **b,
        "chat_id_list": chat_ids,
        "config_id": config_id,
        "qr_code": f"https://wework.example/join/{config_id}.png",
    }
    return {"errcode": 0, "errmsg": "ok", "config_id": config_id}


def _get_join_way(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    way = state.join_ways.get(b.get("config_id", ""))
    if way is None:
        return {"errcode": 40058, "errmsg": "invalid config_id"}
    return {"errcode": 0, "join_way": way}


def _update_join_way(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    way = state.join_ways.get(b.get("config_id", ""))
    chat_ids = list(b.get("chat_id_list") or [])
    if way is None or not chat_ids or any(c not in state.groups for c in chat_ids):
        return {"errcode": 40058, "errmsg": "invalid config_id or chat_id_list"}
    way.update({**b, "chat_id_list": chat_ids})
    return {"errcode": 0, "errmsg": "ok"}


def _welcome_template(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    if not b.get("text", {}).get("content"):
        return {"errcode": 41035, "errmsg": "missing content"}
    return {
        "errcode": 0,
        "errmsg": "ok",
        "template_id": b.get("template_id") or state.next_id("gwt"),
    }


def _staff_message(state: FakeState, q: dict[str, str], b: dict[str, Any]) -> Any:
    if not b.get("touser") or not b.get("agentid"):
        return {"errcode": 40056, "errmsg": "invalid agentid or touser"}
    state.staff_messages.append(b)
    return {"errcode": 0, "errmsg": "ok", "msgid": state.next_id("am")}


ROUTES: dict[str, Any] = {
    "/cgi-bin/externalcontact/groupchat/list": _groupchat_list,
    "/cgi-bin/externalcontact/groupchat/get": _groupchat_get,
    "/cgi-bin/externalcontact/groupchat/add_join_way": _add_join_way,
    "/cgi-bin/externalcontact/groupchat/get_join_way": _get_join_way,
    "/cgi-bin/externalcontact/groupchat/update_join_way": _update_join_way,
    "/cgi-bin/externalcontact/group_welcome_template/add": _welcome_template,
    "/cgi-bin/externalcontact/group_welcome_template/edit": _welcome_template,
    "/cgi-bin/message/send": _staff_message,
    "/cgi-bin/externalcontact/get_follow_user_list": _follow_users,
    "/cgi-bin/externalcontact/list": _list,
    "/cgi-bin/externalcontact/get": _get,
    "/cgi-bin/externalcontact/batch/get_by_user": _batch,
    "/cgi-bin/externalcontact/add_contact_way": _contact_way,
    "/cgi-bin/externalcontact/add_msg_template": _add_template,
    "/cgi-bin/externalcontact/get_groupmsg_task": _task,
    "/cgi-bin/externalcontact/get_groupmsg_send_result": _send_result,
    "/cgi-bin/externalcontact/remind_groupmsg_send": _remind,
    "/cgi-bin/externalcontact/send_welcome_msg": _ok,
    "/cgi-bin/externalcontact/cancel_groupmsg_send": _cancel,
    "/cgi-bin/message/template/send": _message,
    "/cgi-bin/message/subscribe/send": _message,
    "/cgi-bin/qrcode/create": _qrcode,
    "/cgi-bin/user/info": _user_info,
}


def _handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self, method: str) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = min(int(self.headers.get("content-length") or 0), MAX_BODY)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            with state.lock:
                if len(state.requests) < MAX_RECORDED:
                    state.requests.append(Recorded(method, url.path, query, body))
                answer = _answer(state, method, url.path, query, body)
            data = json.dumps(answer, ensure_ascii=False).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


@contextmanager
def serve_fake_wechat() -> Iterator[tuple[str, FakeState]]:
    """Run the fake server on a free 127.0.0.1 port; yields its base URL and state."""
    state = FakeState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
