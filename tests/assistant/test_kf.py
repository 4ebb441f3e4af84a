# ruff: noqa: F811  (the API fixtures are imported, then requested by name)
"""微信客服: WeCom's kf_msg_or_event notice at the assistant callback → messages pulled from a
fake WeCom server on 127.0.0.1 → answered, opted out, welcomed through kf/send_msg and
send_msg_on_event, once each (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from wechatpy.enterprise.crypto import WeChatCrypto as WecomCrypto

from siyu.assistant.models import DEFAULT_HANDOVER
from siyu.channels.wechat_xml import parse_xml
from siyu.workspaces.models import WorkspaceCreated
from tests.api.conftest import client, keys, runtime  # noqa: F401  (fixtures)
from tests.api.test_identity import admin
from tests.assistant.fake_kf import KfState, install
from tests.assistant.test_api import AES, AT, TOKEN
from tests.channels.fake_wechat import FakeState, serve_fake_wechat

KFID = "wkSHOP1"


@pytest.fixture
def wecom() -> Iterator[tuple[str, FakeState, KfState]]:
    with serve_fake_wechat() as (base, state):
        yield base, state, install(state)


def _notice(corp: str, token: str) -> str:
    return (f"<xml><ToUserName>{corp}</ToUserName><CreateTime>{AT}</CreateTime>"
            "<MsgType>event</MsgType><Event>kf_msg_or_event</Event>"
            f"<Token>{token}</Token><OpenKfId>{KFID}</OpenKfId></xml>")  # fmt: skip


def _post(client: TestClient, ws: str, corp: str, inner: str) -> int:
    body = WecomCrypto(TOKEN, AES, corp).encrypt_message(inner, "nonce8", str(AT))
    sig = parse_xml(body)["MsgSignature"]
    answer = client.post(
        f"/wechat/assistant/{ws}/callback",
        params={"msg_signature": sig, "timestamp": str(AT), "nonce": "nonce8"},
        content=body.encode(),
    )
    assert answer.text == "success"
    return answer.status_code


def test_kf_questions_are_pulled_answered_and_sent_once(
    client: TestClient, keys: WorkspaceCreated, wecom: tuple[str, FakeState, KfState]
) -> None:
    base, state, kf = wecom
    h, ws = admin(keys), keys.workspace_id
    account = {"app_id": state.corp_id, "token": TOKEN, "encoding_aes_key": AES,
               "secret": state.secret, "api_base_url": base}  # fmt: skip
    assert client.put("/api/wechat/accounts/wecom", json=account, headers=h).status_code == 200
    entry = {"id": "ship", "question": "满多少包邮", "answer": "满59元包邮"}
    assert client.post("/api/assistant/entries", json=entry, headers=h).status_code == 201
    named = client.put(f"/api/assistant/groups/kf:{KFID}", json={"name": "山茶集客服"}, headers=h)
    assert named.status_code == 200
    kf.tokens.add("ENC1")
    kf.enter("e1", KFID, "wmA", "WELCOME1", AT)
    kf.customer("k1", KFID, "wmA", "请问满多少包邮？", AT + 1)
    kf.staff("s1", KFID, "wmA", "亲，满59包邮哦", AT + 2)  # staff: not answered
    kf.customer("k2", KFID, "wmB", "别回复我", AT + 3)
    kf.customer("k3", KFID, "wmB", "满多少包邮？", AT + 4)  # opted out: nothing
    kf.customer("k4", "wkOTHER", "wmC", "满多少包邮？", AT + 5)  # another account's
    assert _post(client, ws, state.corp_id, _notice(state.corp_id, "ENC1")) == 200
    said = [(b["touser"], b["open_kfid"], b["text"]["content"]) for b in kf.sent]
    assert said[0] == ("wmA", KFID, "满59元包邮")
    assert said[1][0] == "wmB" and "不再回复" in said[1][2]
    assert len(said) == 2 and all(b["msgid"].startswith("siyu_") for b in kf.sent)
    [welcome] = kf.on_event
    assert welcome["code"] == "WELCOME1" and "山茶集客服" in welcome["text"]["content"]
    # The next notice pulls from the kept cursor: only the new message is answered.
    kf.customer("k5", KFID, "wmA", "满多少包邮呀？", AT + 6)
    assert _post(client, ws, state.corp_id, _notice(state.corp_id, "ENC1")) == 200
    assert [b["text"]["content"] for b in kf.sent[2:]] == ["满59元包邮"]
    stats = client.get(
        "/api/assistant/groups/stats",
        headers=h,
        params={"since": "2025-11-01T00:00:00Z", "until": "2025-12-01T00:00:00Z"},
    )
    [conversation] = [g for g in stats.json() if g["chat_id"] == f"kf:{KFID}"]
    assert (conversation["messages"], conversation["answered"]) == (4, 2)


def test_a_refused_pull_records_nothing(
    client: TestClient, keys: WorkspaceCreated, wecom: tuple[str, FakeState, KfState]
) -> None:
    base, state, kf = wecom
    h, ws = admin(keys), keys.workspace_id
    account = {"app_id": state.corp_id, "token": TOKEN, "encoding_aes_key": AES,
               "secret": state.secret, "api_base_url": base}  # fmt: skip
    assert client.put("/api/wechat/accounts/wecom", json=account, headers=h).status_code == 200
    kf.customer("k1", KFID, "wmA", "请问满多少包邮？", AT)
    assert _post(client, ws, state.corp_id, _notice(state.corp_id, "STALE")) == 200
    assert kf.sent == [] and kf.on_event == []
    kf.tokens.add("ENC2")
    assert _post(client, ws, state.corp_id, _notice(state.corp_id, "ENC2")) == 200
    # No entries: the question is handed over, once, and counted as unanswered.
    assert [b["text"]["content"] for b in kf.sent] == [DEFAULT_HANDOVER]
    [missed] = client.get("/api/assistant/unanswered", headers=h).json()
    assert missed["question"] == "请问满多少包邮？" and missed["count"] == 1
