"""Issue 5's "done means" over a real ``siyu serve`` and ``siyu worker``: a welcome journey for
new WeCom contacts runs through WeCom (a staff task confirmed in the fake WeCom), SMS (a signed
Aliyun request to a fake gateway), email (a local SMTP server), a signed webhook, an official
account template message and a mini program subscription message (only to those whose accept
event granted one; the others are held ``no_subscription``); the daily
cap holds a second SMS and missing consent holds an email and a staff message (each with its
reason, the latter taking the journey's fallback); a worker killed with SIGKILL in the middle
of sending and restarted loses and duplicates nothing — every message reaches its fake
provider exactly once (counted by the idempotency key each provider honours)."""

from __future__ import annotations

import hmac
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from wechatpy.enterprise.crypto import WeChatCrypto as WecomCrypto  # type: ignore[import-untyped]

from siyu.channels.webhook import SIGNATURE_HEADER, verify_signature
from siyu.channels.wechat_xml import parse_xml
from tests.channels.fake_http import FakeServer, Received, serve
from tests.channels.fake_wechat import FakeState, serve_fake_wechat
from tests.channels.test_sms import ref_aliyun_sign
from tests.conftest import fresh_pg_schema
from tests.e2e.conftest import Server, free_port, siyu

N = 8  # new WeCom contacts
TOKEN, AES, CORP = "siyuToken42", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wwSIYUCORP"
APPID = "wxFAKEAPP"  # the fake's official account / mini program appid
SMS_SECRET = "aliyun-secret"
WEBHOOK_SECRET = "whsec-0123456789abcdef"


class Gateway:
    """A slow Aliyun SMS gateway that verifies signatures and honours SignatureNonce."""

    def __init__(self) -> None:
        self.accepted: Counter[str] = Counter()  # nonce → times accepted (must stay 1)
        self.replays = 0
        self.lock = threading.Lock()

    def __call__(self, req: Received) -> tuple[int, object, dict[str, str]]:
        time.sleep(0.25)  # slow enough to kill the worker in the middle of a batch
        form = dict(parse_qsl(req.body.decode(), keep_blank_values=True))
        given = form.pop("Signature", "")
        if not hmac.compare_digest(given, ref_aliyun_sign(req.method, form, SMS_SECRET)):
            return 400, {"Code": "IncompleteSignature", "Message": "bad signature"}, {}
        with self.lock:
            if self.accepted[form["SignatureNonce"]]:
                self.replays += 1
                return 400, {"Code": "SignatureNonceUsed", "Message": "nonce used"}, {}
            self.accepted[form["SignatureNonce"]] += 1
        return 200, {"Code": "OK", "BizId": f"biz-{form['OutId']}", "RequestId": "r"}, {}


class Receiver:
    """A webhook receiver that verifies the signature and deduplicates on Idempotency-Key."""

    def __init__(self) -> None:
        self.accepted: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, req: Received) -> tuple[int, object, dict[str, str]]:
        verify_signature(
            secret=WEBHOOK_SECRET.encode(), header=req.headers[SIGNATURE_HEADER.lower()],
            body=req.body, now=datetime.now(UTC),
        )  # fmt: skip
        with self.lock:
            key = req.headers["idempotency-key"]
            if not self.accepted[key]:
                self.accepted[key] += 1
        return 200, {"ok": True}, {}


class Inbox:
    """An SMTP server's mailbox: mails by Message-ID."""

    def __init__(self) -> None:
        self.by_id: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content)
        self.by_id[str(mail["Message-ID"])] += 1
        return "250 Message accepted"


@pytest.fixture
def fakes() -> Iterator[
    tuple[Gateway, FakeServer, Receiver, FakeServer, Inbox, int, str, FakeState]
]:
    gateway, receiver, inbox, smtp_port = Gateway(), Receiver(), Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with serve(gateway) as gw, serve(receiver) as hook, serve_fake_wechat() as (url, wx):
            wx.corp_id, wx.secret = CORP, "sec"
            yield gateway, gw, receiver, hook, inbox, smtp_port, url, wx
    finally:
        controller.stop()


def _start_server(data_dir: Path) -> Server:
    """``siyu serve`` whose own journey thread stays idle: the worker does the work here."""
    srv = Server(data_dir, f"http://127.0.0.1:{free_port()}")
    env = os.environ | {"SIYU_DATA_DIR": str(data_dir), "SIYU_SCHEDULE_INTERVAL_SECONDS": "3600"}
    srv.process = subprocess.Popen(
        [sys.executable, "-m", "siyu", "serve", "--host", "127.0.0.1",
         "--port", srv.url.rsplit(":", 1)[1]],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _until(lambda: _healthy(srv.url), 90, "siyu serve did not start")
    return srv


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _worker(data_dir: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"SIYU_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "siyu", "worker", "--interval", "0.2", "--lease", "3"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _until(check: Callable[[], bool], seconds: float, why: str | Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(why if isinstance(why, str) else why())


JOURNEY = {
    "name": "新客欢迎",
    "trigger": {"type": "event", "spec": {"event": "wecom_contact_added"}},
    "start": "greet",
    "nodes": [
        {"type": "staff_task", "id": "greet", "task": "欢迎新朋友，送上新客礼", "sla": "PT1H",
         "next": "sms", "fallback": "sms"},
        {"type": "action", "id": "sms", "next": "mail", "action": {
            "type": "send_message", "channel": "sms", "template": "hello",
            "params": {"name": "{{name|朋友}}"}}},
        {"type": "action", "id": "mail", "next": "sms2", "action": {
            "type": "send_message", "channel": "email", "template": "welcome"}},
        {"type": "action", "id": "sms2", "next": "hook", "action": {
            "type": "send_message", "channel": "sms", "template": "hello",
            "params": {"name": "again"}}},
        {"type": "action", "id": "hook", "next": "mp", "action": {
            "type": "call_webhook", "url": "HOOK", "payload": {"kind": "welcome"}}},
        {"type": "action", "id": "mp", "next": "mini", "action": {
            "type": "send_message", "channel": "mp_template", "template": "notice",
            "params": {"first": "欢迎"}}},
        {"type": "action", "id": "mini", "next": "goal", "action": {
            "type": "send_message", "channel": "miniprogram", "template": "member_card",
            "params": {"thing1": "会员卡已开通"}}},
        {"type": "goal", "id": "goal", "event": {"event": "Order Completed"}, "within": "P14D"},
    ],
}  # fmt: skip


def _configure(api: httpx.Client, smtp_port: int, gw: str, hook: str, wx: str) -> str:
    ok = [
        api.put("/api/wechat/accounts/wecom", json={"app_id": CORP, "token": TOKEN,
                "encoding_aes_key": AES, "secret": "sec", "api_base_url": wx}),
        *[api.put(f"/api/wechat/accounts/{kind}", json={"app_id": APPID, "token": TOKEN,
                  "encoding_aes_key": AES, "secret": "appsecret", "api_base_url": wx})
          for kind in ("mp", "miniprogram")],
        api.put("/api/channels/templates", json={"channel": "mp_template", "name": "notice",
                "provider_template_id": "TPL_NOTICE"}),
        api.put("/api/channels/templates", json={"channel": "miniprogram",
                "name": "member_card", "provider_template_id": "SUB_CARD"}),
        api.put("/api/channels/settings", json={"channel": "sms", "provider": "aliyun",
                "access_key_id": "AK", "secret": SMS_SECRET, "sign_name": "品牌", "base_url": gw}),
        api.put("/api/channels/settings", json={"channel": "email", "host": "127.0.0.1",
                "port": smtp_port, "from_addr": "hello@brand.example", "secret": "x"}),
        api.put("/api/channels/settings", json={"channel": "webhook", "secret": WEBHOOK_SECRET}),
        api.put("/api/channels/templates", json={"channel": "sms", "name": "hello",
                "body": "{{ name }}，欢迎", "provider_template_id": "SMS_001"}),
        api.put("/api/channels/templates", json={"channel": "email", "name": "welcome",
                "subject": "欢迎", "body": "欢迎加入"}),
        api.put("/api/channels/templates", json={"channel": "wecom", "name": "staff_task",
                "body": "{{ task }}"}),
    ]  # fmt: skip
    for response in ok:
        assert response.status_code == 200, response.text
    policy = api.get("/api/channels/policy").json() | {"quiet_hours": False}
    assert api.put("/api/channels/policy", json=policy).status_code == 200
    definition = orjson.loads(orjson.dumps(JOURNEY).replace(b'"HOOK"', f'"{hook}/in"'.encode()))
    created = api.post("/api/journeys", content=orjson.dumps(definition))
    assert created.status_code == 201, created.text
    jid: str = created.json()["id"]
    assert api.post(f"/api/journeys/{jid}/activate").json()["status"] == "active"
    return jid


def _people(api: httpx.Client, write_key: str) -> list[str]:
    batch = [
        {"type": "identify", "userId": f"c{i}", "messageId": f"id-{i}",
         "traits": {"phone": f"1380000{i:04d}", "email": f"c{i}@example.com"},
         "context": {"externalIds": [
             {"type": "wecom_external_userid", "id": f"wm{i}"},
             {"type": "wechat_openid", "id": f"o{i}", "collection": APPID},
             {"type": "mp_openid", "id": f"m{i}", "collection": APPID}]}}
        for i in range(N)
    ] + [
        # Even contacts accepted the mini program's one-time subscription (one send each).
        {"type": "track", "userId": f"c{i}", "messageId": f"sub-{i}",
         "event": "mp_subscribe_accepted", "properties": {"template_ids": ["SUB_CARD"]}}
        for i in range(0, N, 2)
    ]  # fmt: skip
    sent = api.post("/v1/batch", json={"batch": batch}, auth=(write_key, ""))
    assert sent.status_code == 200 and not sent.json()["rejected"], sent.text
    ids = []
    for i in range(N):
        found = api.get(
            "/api/persons", params={"identifier_type": "user_id", "identifier": f"c{i}"}
        )
        ids.append(found.json()["person_id"])
    for i, person in enumerate(ids):
        channels = ["sms", "email", "wecom", "mp_template"]
        if i == 0:
            channels.remove("wecom")  # no WeCom consent: the staff message is held, fallback
        if i == 1:
            channels.remove("email")  # no email consent: the email is held
        for channel in channels:
            answer = api.put(f"/api/channels/consent/{person}",
                             json={"channel": channel, "status": "granted"})  # fmt: skip
            assert answer.status_code == 200, answer.text
    return ids


def _add_contacts(api: httpx.Client, ws: str) -> None:
    for i in range(N):
        inner = (
            f"<xml><ToUserName><![CDATA[{CORP}]]></ToUserName><FromUserName>sys</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>event</MsgType>"
            "<Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType>"
            f"<UserID>staff1</UserID><ExternalUserID>wm{i}</ExternalUserID><State>e2e</State>"
            "</xml>"
        )
        body = WecomCrypto(TOKEN, AES, CORP).encrypt_message(inner, "nonce7", "1764300000")
        answer = api.post(
            f"/wechat/wecom/{ws}/callback", content=body.encode(),
            params={"msg_signature": parse_xml(body)["MsgSignature"], "timestamp": "1764300000",
                    "nonce": "nonce7"},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_journey_end_to_end_with_a_killed_worker(
    tmp_path: Path, fakes: Any, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway, gw, receiver, hook, inbox, smtp_port, wx_url, wx = fakes
    if backend == "postgresql":  # the server, the workers and the CLI read it from the env
        monkeypatch.setenv("SIYU_DATABASE_URL", fresh_pg_schema(f"siyu_e2e_jny_{os.getpid()}"))
    keys = orjson.loads(siyu(tmp_path, "workspace", "create", "e2e", "--json").stdout)
    srv = _start_server(tmp_path)
    worker: subprocess.Popen[bytes] | None = None
    headers = {"Authorization": f"Bearer {keys['secret_key']}"}
    try:
        with httpx.Client(base_url=srv.url, headers=headers, timeout=30) as api:
            jid = _configure(api, smtp_port, gw.url, hook.url, wx_url)
            people = _people(api, keys["write_key"])
            _add_contacts(api, keys["workspace_id"])
            worker = _worker(tmp_path)
            # Every contact but the one without WeCom consent becomes a staff task in WeCom.
            _until(lambda: len(wx.tasks) == N - 1, 60, "staff tasks did not reach WeCom")
            assert {t["sender"] for t in wx.tasks.values()} == {"staff1"}
            for msgid in list(wx.tasks):
                wx.confirm(msgid, "staff1", int(time.time()))
            # Kill the worker while the (slow) SMS gateway is being fed, then start another.
            _until(lambda: len(gateway.accepted) >= 3, 60, "no SMS went out")
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
            assert len(gateway.accepted) < N, "the kill came too late to prove anything"
            worker = _worker(tmp_path)
            _until(lambda: len(gateway.accepted) == N and len(receiver.accepted) == N
                   and len(inbox.by_id) == N - 1, 40,
                   lambda: f"not every message arrived: {gateway.accepted} {receiver.accepted} "
                   f"{inbox.by_id}")  # fmt: skip
            _until(lambda: len(_sent(wx, "subscribe")) == N // 2, 20, "mini program sends")
            time.sleep(1.0)  # anything doubled would arrive now
            templates = Counter(r.body["client_msg_id"] for r in _sent(wx, "template") if r.body)
            assert len(templates) == N and set(templates.values()) == {1}
            subscribed = Counter(r.body["touser"] for r in _sent(wx, "subscribe") if r.body)
            assert sorted(subscribed) == [f"m{i}" for i in range(0, N, 2)]
            assert set(subscribed.values()) == {1}
            assert set(gateway.accepted.values()) == {1}
            assert len(gateway.accepted) == N and len(inbox.by_id) == N - 1
            assert set(inbox.by_id.values()) == {1}
            assert set(receiver.accepted.values()) == {1} and len(receiver.accepted) == N

            _check_outbox(api, jid, people)
            _check_goal(api, jid, keys["write_key"])
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)
        srv.stop()


def _sent(wx: FakeState, kind: str) -> list[Any]:
    return wx.calls(f"/cgi-bin/message/{kind}/send")


def _check_outbox(api: httpx.Client, jid: str, people: list[str]) -> None:
    messages = api.get("/api/messages", params={"journey_id": jid, "limit": 500}).json()
    by_node = Counter((m["source"].rsplit(":", 1)[1], m["status"], m["reason"]) for m in messages)
    assert by_node[("sms2", "held", "daily_cap")] == N  # at most 1 marketing SMS a day
    assert by_node[("mail", "held", "no_consent")] == 1
    assert by_node[("greet", "held", "no_consent")] == 1
    assert by_node[("greet", "sent", None)] == N - 1  # confirmed by staff
    assert sum(n for (node, _, _), n in by_node.items() if node == "sms") == N
    # No subscription left (never granted): held, never sent — WeChat would refuse it.
    assert by_node[("mini", "held", "no_subscription")] == N // 2
    held = [m for m in messages if m["source"].endswith(":mail") and m["status"] == "held"]
    assert [m["person_id"] for m in held] == [people[1]]


def _check_goal(api: httpx.Client, jid: str, write_key: str) -> None:
    order = {"event": "Order Completed", "userId": "c2", "messageId": "order-c2",
             "properties": {"revenue": 99}}  # fmt: skip
    assert api.post("/v1/track", json=order, auth=(write_key, "")).status_code == 200
    stats = api.get(f"/api/journeys/{jid}/stats").json()
    assert stats["entries"] == N
    assert stats["converted"] == 1
    nodes = {n["node_id"]: n for n in stats["nodes"]}
    assert nodes["sms"]["entered"] == N
