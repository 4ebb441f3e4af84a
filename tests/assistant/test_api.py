# ruff: noqa: F811  (the API fixtures are imported, then requested by name)
"""The assistant's HTTP contract and the WeCom group callback → robot reply at a fake
webhook server on 127.0.0.1 (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from wechatpy.enterprise.crypto import WeChatCrypto as WecomCrypto

from siyu.channels.wechat_xml import parse_xml
from siyu.core.runtime import Runtime
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import client, keys, runtime  # noqa: F401  (fixtures)
from tests.api.test_identity import admin
from tests.assistant.fake_robot import RobotState, serve_fake_robot

TOKEN = "siyuToken42"
AES = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
CORP = "wwSIYUCORP"
CHAT = "wrGROUP1"
AT = 1764300000


@pytest.fixture
def robot() -> Iterator[tuple[str, RobotState]]:
    with serve_fake_robot() as served:
        yield served


def _seed(client: TestClient, keys: WorkspaceCreated, webhook: str) -> None:
    h = admin(keys)
    body = {"app_id": CORP, "token": TOKEN, "encoding_aes_key": AES, "secret": "sec",
            "api_base_url": "http://127.0.0.1:9"}  # fmt: skip
    assert client.put("/api/wechat/accounts/wecom", json=body, headers=h).status_code == 200
    entry = {"id": "ship-free", "question": "满多少包邮", "alternatives": ["运费怎么算"],
             "answer": "满59元包邮", "tags": ["运费"]}  # fmt: skip
    assert client.post("/api/assistant/entries", json=entry, headers=h).status_code == 201
    entry = {"id": "invoice", "question": "怎么开发票", "answer": "订单详情里申请开票"}
    assert client.post("/api/assistant/entries", json=entry, headers=h).status_code == 201
    synonyms = [{"word": "包邮", "canonical": "免运费"}, {"word": "免运费", "canonical": "免运费"}]
    assert client.put("/api/assistant/synonyms", json=synonyms, headers=h).status_code == 200
    group = {"name": "上海1群", "robot_webhook_url": webhook}
    assert client.put(f"/api/assistant/groups/{CHAT}", json=group, headers=h).status_code == 200


def _post(client: TestClient, ws: str, inner: str) -> Any:
    body = WecomCrypto(TOKEN, AES, CORP).encrypt_message(inner, "nonce7", str(AT))
    sig = parse_xml(body)["MsgSignature"]
    return client.post(
        f"/wechat/assistant/{ws}/callback",
        params={"msg_signature": sig, "timestamp": str(AT), "nonce": "nonce7"},
        content=body.encode(),
    )


def _text(msg_id: str, sender: str, content: str) -> str:
    return (f"<xml><ToUserName>{CORP}</ToUserName><FromUserName>{sender}</FromUserName>"
            f"<CreateTime>{AT}</CreateTime><MsgType>text</MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>"
            f"<ChatId>{CHAT}</ChatId></xml>")  # fmt: skip


def _members(detail: str, *members: str) -> str:
    items = "".join(f"<Item>{m}</Item>" for m in members)
    return (f"<xml><ToUserName>{CORP}</ToUserName><FromUserName>sys</FromUserName>"
            f"<CreateTime>{AT}</CreateTime><MsgType>event</MsgType>"
            "<Event>change_external_chat</Event><ChangeType>update</ChangeType>"
            f"<ChatId>{CHAT}</ChatId><UpdateDetail>{detail}</UpdateDetail><JoinScene>3</JoinScene>"
            f"<MemChangeCnt>{len(members)}</MemChangeCnt>"
            f"<MemChangeList>{items}</MemChangeList></xml>")  # fmt: skip


def test_callback_answers_through_the_robot_and_welcomes(
    client: TestClient, keys: WorkspaceCreated, runtime: Runtime, robot: tuple[str, RobotState]
) -> None:
    webhook, state = robot
    _seed(client, keys, webhook)
    ws = keys.workspace_id
    joined = _post(client, ws, _members("add_member", "wmNEW1", "wmNEW2"))
    assert joined.status_code == 200 and joined.text == "success"
    asked = _post(client, ws, _text("m1", "wmNEW1", "请问买多少钱包邮呀？"))
    assert asked.status_code == 200
    assert _post(client, ws, _text("m1", "wmNEW1", "请问买多少钱包邮呀？")).status_code == 200
    out = _post(client, ws, _text("m2", "wmNEW2", "退订"))
    assert out.status_code == 200
    _post(client, ws, _text("m3", "wmNEW2", "怎么开发票？"))  # opted out: no answer
    _post(client, ws, _text("m4", "wmNEW1", "今天天气怎么样？"))  # handed over
    said = [body["text"]["content"] for _, body in state.received]
    assert len(said) == 4, said  # welcome, answer (once despite the retry), opt-out ack, hand-over
    assert "上海1群" in said[0]
    assert said[1] == "满59元包邮"
    assert state.received[1][1]["text"]["mentioned_list"] == ["wmNEW1"]
    assert "不再回复" in said[2] and "人工" in said[3]
    assert all(body["msgtype"] == "text" for _, body in state.received)
    h = admin(keys)
    stats = client.get(
        "/api/assistant/groups/stats",
        params={"since": "2025-11-28T00:00:00Z", "until": "2025-11-29T00:00:00Z"},
        headers=h,
    )
    assert stats.status_code == 200, stats.text
    [group] = stats.json()
    assert (group["members"], group["joins"], group["active_speakers"]) == (2, 2, 2)
    assert (group["messages"], group["answered"], group["handed_over"]) == (4, 1, 1)
    [missed] = client.get("/api/assistant/unanswered", headers=h).json()
    assert missed["question"] == "今天天气怎么样？" and missed["count"] == 1
    muted = {"name": "上海1群", "robot_webhook_url": webhook, "muted": True}
    assert client.put(f"/api/assistant/groups/{CHAT}", json=muted, headers=h).status_code == 200
    assert _post(client, ws, _text("m9", "wmX", "满多少包邮？")).status_code == 200
    assert len(state.received) == 4  # a muted group hears nothing
    bad = client.post(
        f"/wechat/assistant/{ws}/callback",
        params={"msg_signature": "0" * 40, "timestamp": str(AT), "nonce": "n"},
        content=WecomCrypto(TOKEN, AES, CORP).encrypt_message(_text("m1", "wmX", "hi"), "n", "1"),
    )
    assert bad.status_code == 401


def test_management_api_contract(client: TestClient, keys: WorkspaceCreated) -> None:
    h = admin(keys)
    assert client.get("/api/assistant/entries").status_code == 401
    csv_body = "id,question,alternatives,answer,tags\nhours,营业时间,几点开门,10点到22点,门店\n"
    imported = client.post(
        "/api/assistant/entries/import", content=csv_body.encode("gbk"), headers=h
    )
    assert imported.status_code == 200 and imported.json()["created"] == 1
    assert client.get("/api/assistant/entries/hours", headers=h).json()["answer"] == "10点到22点"
    same = {"id": "hours", "question": "q", "answer": "a"}
    dup = client.post("/api/assistant/entries", json=same, headers=h)
    assert dup.status_code == 409
    patched = client.patch("/api/assistant/entries/hours", json={"answer": "10点到21点"}, headers=h)
    assert patched.status_code == 200 and patched.json()["answer"] == "10点到21点"
    asked = client.post("/api/assistant/ask", json={"question": "你们几点开门"}, headers=h)
    assert asked.json()["outcome"] == "answered" and asked.json()["entry_id"] == "hours"
    rule = {"pattern": "(", "is_regex": True, "answer": "x"}
    bad = client.post("/api/assistant/rules", json=rule, headers=h)
    assert bad.status_code in (400, 422) and bad.json()["error"]["field"] == "pattern"
    rule = {"id": "r1", "pattern": "开门", "answer": "规则回答", "priority": 5}
    assert client.post("/api/assistant/rules", json=rule, headers=h).status_code == 201
    asked = client.post("/api/assistant/ask", json={"question": "你们几点开门"}, headers=h)
    assert asked.json()["outcome"] == "rule" and asked.json()["text"] == "规则回答"
    assert client.delete("/api/assistant/rules/r1", headers=h).status_code == 204
    assert client.delete("/api/assistant/entries/hours", headers=h).status_code == 204
    assert client.get("/api/assistant/entries/hours", headers=h).status_code == 404
    settings = client.get("/api/assistant/settings", headers=h).json()
    bad_url = client.put("/api/assistant/settings", json={**settings, "robot_webhook_url": "ftp://x"},
                         headers=h)  # fmt: skip
    assert bad_url.status_code in (400, 422)
    stats = client.get("/api/assistant/groups/stats",
                       params={"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
                       headers=h)  # fmt: skip
    assert stats.status_code in (400, 422) and stats.json()["error"]["field"] == "until"
