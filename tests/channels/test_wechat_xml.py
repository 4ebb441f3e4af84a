"""Callback XML: events parsed into typed models; entity expansion and XXE refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.channels.wechat_xml import (
    ContactChange,
    MpEventType,
    WecomChatEvent,
    WecomContactEvent,
    parse_mp_event,
    parse_wecom_event,
    parse_xml,
)
from siyu.core.errors import InvalidInputError

ADD = """<xml><ToUserName><![CDATA[ww1234]]></ToUserName>
<FromUserName><![CDATA[sys]]></FromUserName>
<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[change_external_contact]]></Event>
<ChangeType><![CDATA[add_external_contact]]></ChangeType>
<UserID><![CDATA[zhangsan]]></UserID><ExternalUserID><![CDATA[wmEXT1]]></ExternalUserID>
<State><![CDATA[lc_store7]]></State><WelcomeCode><![CDATA[WELCOME]]></WelcomeCode></xml>"""


def test_contact_add_with_state_and_welcome_code() -> None:
    event = parse_wecom_event(ADD)
    assert isinstance(event, WecomContactEvent)
    assert event.change == ContactChange.ADD
    assert (event.corp_id, event.userid, event.external_userid) == ("ww1234", "zhangsan", "wmEXT1")
    assert (event.state, event.welcome_code) == ("lc_store7", "WELCOME")
    assert event.at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_delete_events_and_group_change() -> None:
    deleted = parse_wecom_event(ADD.replace("add_external_contact", "del_follow_user"))
    assert isinstance(deleted, WecomContactEvent)
    assert deleted.change == ContactChange.DEL_FOLLOW
    chat = parse_wecom_event(
        "<xml><ToUserName>ww1</ToUserName><CreateTime>1</CreateTime><MsgType>event</MsgType>"
        "<Event>change_external_chat</Event><ChatId>wrCHAT</ChatId><ChangeType>update</ChangeType>"
        "<UpdateDetail>add_member</UpdateDetail><MemChangeCnt>2</MemChangeCnt></xml>"
    )
    assert isinstance(chat, WecomChatEvent)
    assert (chat.chat_id, chat.update_detail, chat.member_change_count) == (
        "wrCHAT",
        "add_member",
        2,
    )


def test_other_events_are_ignored_and_missing_ids_named() -> None:
    assert parse_wecom_event("<xml><MsgType>text</MsgType></xml>") is None
    assert parse_wecom_event(ADD.replace("add_external_contact", "something_new")) is None
    with pytest.raises(InvalidInputError) as caught:
        parse_wecom_event(ADD.replace("wmEXT1", ""))
    assert caught.value.field == "ExternalUserID"


def _mp(event: str, key: str) -> str:
    return (
        "<xml><ToUserName>gh_abc</ToUserName><FromUserName>oOPENID</FromUserName>"
        f"<CreateTime>1700000000</CreateTime><MsgType>event</MsgType><Event>{event}</Event>"
        f"<EventKey>{key}</EventKey><Ticket>TICKET</Ticket></xml>"
    )


def test_mp_subscribe_scan_and_unsubscribe_scenes() -> None:
    first = parse_mp_event(_mp("subscribe", "qrscene_store_7"))
    assert first is not None
    assert (first.event, first.openid, first.scene, first.ticket) == (
        MpEventType.SUBSCRIBE,
        "oOPENID",
        "store_7",
        "TICKET",
    )
    plain = parse_mp_event(_mp("subscribe", ""))
    assert plain is not None and plain.scene is None
    scan = parse_mp_event(_mp("SCAN", "store_7"))
    assert scan is not None and (scan.event, scan.scene) == (MpEventType.SCAN, "store_7")
    gone = parse_mp_event(_mp("unsubscribe", ""))
    assert gone is not None and gone.event == MpEventType.UNSUBSCRIBE
    assert parse_mp_event(_mp("CLICK", "menu")) is None


def test_entity_expansion_and_external_entities_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        "<xml><Encrypt>&lol2;</Encrypt></xml>"
    )
    with pytest.raises(InvalidInputError, match="refused"):
        parse_xml(bomb)
    xxe = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>&e;</xml>'
    )
    with pytest.raises(InvalidInputError, match="refused"):
        parse_xml(xxe)


def test_malformed_and_oversized_xml() -> None:
    with pytest.raises(InvalidInputError, match="well-formed"):
        parse_xml("<xml><a></xml>")
    with pytest.raises(InvalidInputError, match="over"):
        parse_xml("<xml>" + "a" * 70_000 + "</xml>")
    with pytest.raises(InvalidInputError) as caught:
        parse_mp_event(_mp("subscribe", "").replace("1700000000", "soon"))
    assert caught.value.field == "CreateTime"
