"""Keyword replies go into the group through the group robot the assistant speaks with,
once per triggering message, from the contact callback and the moderation API (SQLite and
PostgreSQL, fake WeCom and fake robot servers on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from siyu.api.app import create_app
from siyu.assistant import service as assistant
from siyu.assistant.models import GroupSet
from siyu.community import service as community
from siyu.community.models import RuleCreate
from siyu.pipeline import community as flow
from tests.assistant.fake_robot import RobotState, serve_fake_robot
from tests.community.conftest import NOW, Brand
from tests.community.test_activity import _rows


@pytest.fixture
def robot() -> Iterator[tuple[str, RobotState]]:
    with serve_fake_robot() as served:
        yield served


def _text(msg_id: str, sender: str, content: str) -> str:
    return (f"<xml><ToUserName>wwFAKECORP</ToUserName><FromUserName>{sender}</FromUserName>"
            f"<CreateTime>{int(NOW.timestamp())}</CreateTime><MsgType>text</MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>"
            "<ChatId>wrG1</ChatId></xml>")  # fmt: skip


def test_keyword_replies_go_into_the_group_once_per_message(
    brand: Brand, robot: tuple[str, RobotState]
) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    webhook, state = robot
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)
    with rt.sessions() as s, s.begin():
        assistant.set_group(session=s, workspace_id=ws, chat_id="wrG1", now=NOW, vault=rt.vault,
                            group=GroupSet(name="宝妈1群", robot_webhook_url=webhook))  # fmt: skip
        rule = RuleCreate(keyword="发货", action="reply", reply="48小时内发货")
        community.create_rule(session=s, workspace_id=ws, rule=rule, now=NOW)
    # The contact callback: the reply is work for after the answer, once per message.
    xml = _text("c1", "wmB", "什么时候发货")
    works = [
        flow.apply_group_callback(runtime=rt, workspace_id=ws, event=None, xml=xml, now=NOW)
        for _ in range(2)
    ]
    assert works[1].reply is None
    reply = works[0].reply
    assert reply is not None and (reply.chat_id, reply.mention) == ("wrG1", ["wmB"])
    assert flow.post_reply(runtime=rt, workspace_id=ws, reply=reply, now=NOW)
    # The moderation API posts through the same robot after its answer, once per message.
    with TestClient(create_app(rt, flush_in_background=False)) as client:
        h = {"Authorization": f"Bearer {brand.secret_key}"}
        body = {"msg_id": "a1", "sender": "wmC", "content": "发货了吗", "at": NOW.isoformat()}
        verdicts = [
            client.post("/api/groups/chats/wrG1/messages", json=body, headers=h).json()
            for _ in range(2)
        ]
    assert [v["reply_due"] for v in verdicts] == [True, False]
    assert all(v["reply"] == "48小时内发货" for v in verdicts)
    said = [(b["text"]["content"], b["text"]["mentioned_list"]) for _, b in state.received]
    assert said == [("48小时内发货", ["wmB"]), ("48小时内发货", ["wmC"])]
    assert [kind for kind, _, _ in _rows(rt, ws, "wmB")] == ["joined", "message"]  # sync + msg


def test_a_failed_reply_is_retried_by_the_next_delivery_and_posted_once(
    brand: Brand, robot: tuple[str, RobotState]
) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    webhook, state = robot
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)
    with rt.sessions() as s, s.begin():
        assistant.set_group(session=s, workspace_id=ws, chat_id="wrG1", now=NOW, vault=rt.vault,
                            group=GroupSet(name="宝妈1群", robot_webhook_url=webhook))  # fmt: skip
        rule = RuleCreate(keyword="发货", action="reply", reply="48小时内发货")
        community.create_rule(session=s, workspace_id=ws, rule=rule, now=NOW)
    state.refuse = 1  # the robot refuses once (rate limited), then takes posts
    xml = _text("c1", "wmB", "什么时候发货")

    def deliver(at: timedelta) -> bool | None:
        work = flow.apply_group_callback(runtime=rt, workspace_id=ws, event=None, xml=xml,
                                         now=NOW + at)  # fmt: skip
        if work.reply is None:
            return None
        return flow.post_reply(runtime=rt, workspace_id=ws, reply=work.reply, now=NOW + at)

    # Refused: nothing said, and the claim is released for the next delivery.
    assert deliver(timedelta(0)) is False
    assert state.received == []
    # WeCom retries the same message: its reply is due again and now posted.
    assert deliver(timedelta(seconds=5)) is True
    # Posted: no later delivery replies again, not even after the claim's lease.
    assert deliver(timedelta(seconds=10)) is None
    assert deliver(timedelta(hours=1)) is None
    assert [b["text"]["content"] for _, b in state.received] == ["48小时内发货"]


def test_a_claim_left_by_a_crash_is_taken_again_after_the_lease(brand: Brand) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)
    with rt.sessions() as s, s.begin():
        rule = RuleCreate(keyword="发货", action="reply", reply="48小时内发货")
        community.create_rule(session=s, workspace_id=ws, rule=rule, now=NOW)
    xml = _text("c2", "wmB", "发货")

    def due(at: timedelta) -> bool:
        work = flow.apply_group_callback(runtime=rt, workspace_id=ws, event=None, xml=xml,
                                         now=NOW + at)  # fmt: skip
        return work.reply is not None

    # Claimed, then the process dies before posting (nothing recorded, nothing released):
    # a delivery inside the lease leaves it alone; after the lease it is due again.
    assert due(timedelta(0))
    assert not due(timedelta(minutes=1))
    assert due(timedelta(minutes=6))
    assert not due(timedelta(minutes=7))


def test_the_moderation_api_retries_a_refused_reply_on_the_next_delivery(
    brand: Brand, robot: tuple[str, RobotState]
) -> None:
    rt, ws = brand.runtime, brand.workspace_id
    webhook, state = robot
    flow.sync_groups(runtime=rt, workspace_id=ws, now=NOW)
    with rt.sessions() as s, s.begin():
        assistant.set_group(session=s, workspace_id=ws, chat_id="wrG1", now=NOW, vault=rt.vault,
                            group=GroupSet(name="宝妈1群", robot_webhook_url=webhook))  # fmt: skip
        rule = RuleCreate(keyword="发货", action="reply", reply="48小时内发货")
        community.create_rule(session=s, workspace_id=ws, rule=rule, now=NOW)
    state.refuse = 1
    with TestClient(create_app(rt, flush_in_background=False)) as client:
        h = {"Authorization": f"Bearer {brand.secret_key}"}
        body = {"msg_id": "a9", "sender": "wmC", "content": "发货了吗", "at": NOW.isoformat()}
        due = []
        for _ in range(3):  # the post runs after each answer, before the next delivery
            answer = client.post("/api/groups/chats/wrG1/messages", json=body, headers=h)
            due.append(answer.json()["reply_due"])
    assert due == [True, True, False]  # refused, retried and posted, then never again
    assert [b["text"]["mentioned_list"] for _, b in state.received] == [["wmC"]]
