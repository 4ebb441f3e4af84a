"""The group robot client against a fake webhook on 127.0.0.1, and the group callback parser."""

from __future__ import annotations

import httpx
import pytest

from siyu.assistant import robot
from siyu.channels.models import SendError
from siyu.channels.wechat_group_messages import (
    MemberChange,
    WecomGroupMembers,
    WecomGroupMessage,
    parse_group_event,
)
from siyu.core.errors import InvalidInputError
from tests.assistant.fake_robot import serve_fake_robot


def test_robot_posts_text_and_raises_on_refusal() -> None:
    with serve_fake_robot() as (url, state), httpx.Client() as client:
        robot.send_text(client=client, webhook_url=url, content="满59元包邮", mention=["wmA"])
        assert state.received == [
            ("robot-key-1",
             {"msgtype": "text", "text": {"content": "满59元包邮", "mentioned_list": ["wmA"]}})
        ]  # fmt: skip
        with pytest.raises(SendError, match="93000"):
            robot.send_text(
                client=client, webhook_url=url.replace("robot-key-1", "x"), content="hi"
            )
        long_text = "茶" * 2000  # 6000 bytes: clipped to WeCom's 2048
        robot.send_text(client=client, webhook_url=url, content=long_text)
        assert len(state.received[-1][1]["text"]["content"].encode()) <= 2048
    with httpx.Client() as client, pytest.raises(SendError, match="unreachable"):
        robot.send_text(client=client, webhook_url=url, content="hi")  # the server is gone


def test_parser_reads_group_messages_and_member_changes() -> None:
    text = ("<xml><ToUserName>ww1</ToUserName><FromUserName>wmA</FromUserName>"
            "<CreateTime>1764300000</CreateTime><MsgType>text</MsgType>"
            "<Content>包邮吗</Content><MsgId>42</MsgId><ChatId>wrC</ChatId></xml>")  # fmt: skip
    message = parse_group_event(text)
    assert isinstance(message, WecomGroupMessage)
    assert (message.chat_id, message.sender, message.content) == ("wrC", "wmA", "包邮吗")
    assert parse_group_event(text.replace("<ChatId>wrC</ChatId>", "")) is None  # one-to-one
    change = ("<xml><ToUserName>ww1</ToUserName><CreateTime>1764300000</CreateTime>"
              "<MsgType>event</MsgType><Event>change_external_chat</Event>"
              "<ChangeType>update</ChangeType><ChatId>wrC</ChatId>"
              "<UpdateDetail>del_member</UpdateDetail><QuitScene>0</QuitScene>"
              "<MemChangeList><Item>wmA</Item><Item>wmB</Item></MemChangeList></xml>")  # fmt: skip
    members = parse_group_event(change)
    assert isinstance(members, WecomGroupMembers)
    assert members.change is MemberChange.LEFT and members.members == ["wmA", "wmB"]
    assert parse_group_event(change.replace("del_member", "change_owner")) is None
    with pytest.raises(InvalidInputError):
        parse_group_event(text.replace("<MsgId>42</MsgId>", ""))
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaa">]><xml><MsgType>&a;</MsgType></xml>'
    with pytest.raises(InvalidInputError):
        parse_group_event(bomb)
