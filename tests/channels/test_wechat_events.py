"""Callback events → collect messages: accepted by the real collect parser, deduplicable."""

from __future__ import annotations

from datetime import UTC, datetime

from siyu.channels.wechat_events import (
    contact_identify_messages,
    mp_event_messages,
    wecom_contact_messages,
)
from siyu.channels.wechat_xml import ContactChange, MpEvent, MpEventType, WecomContactEvent
from siyu.channels.wecom_models import ContactChangeResult, ContactRecord
from siyu.collect import normalize
from siyu.collect.models import IdType
from siyu.core.crypto import Vault

VAULT = Vault(bytes(range(32)))
AT = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def _parse(messages: list[dict]) -> list:
    events, rejected = normalize.parse_batch(messages, vault=VAULT, received_at=AT)
    assert rejected == []
    return events


def test_contact_add_carries_ids_owner_and_state() -> None:
    event = WecomContactEvent(
        corp_id="ww1",
        change=ContactChange.ADD,
        userid="zhangsan",
        external_userid="wmA",
        state="card7",
        at=AT,
    )
    record = ContactRecord(
        external_userid="wmA", unionid="uA", owner_userid="lisi", first_state="x", active=True
    )
    result = ContactChangeResult(contact=record, new_contact=False)
    messages = wecom_contact_messages(event, result, channel="insert_card")
    identify, track = _parse(messages)
    assert {i.type for i in identify.identifiers} >= {IdType.WECOM_EXTERNAL_USERID, IdType.UNIONID}
    assert track.event == "wecom_contact_added"
    assert messages[1]["context"]["campaign"] == {
        "source": "insert_card",
        "medium": "wecom",
        "content": "card7",
        "name": "card7",
    }
    assert messages[1]["properties"]["owner_userid"] == "lisi"
    again = wecom_contact_messages(event, result, channel="insert_card")
    assert [m["messageId"] for m in again] == [m["messageId"] for m in messages]
    edit = event.model_copy(update={"change": ContactChange.EDIT})
    assert wecom_contact_messages(edit, result) == []
    gone = event.model_copy(update={"change": ContactChange.DEL_FOLLOW})
    (removed,) = _parse(wecom_contact_messages(gone, result))
    assert removed.event == "wecom_contact_removed"


def test_mp_events_use_the_per_app_openid() -> None:
    event = MpEvent(account="gh_1", openid="oX", event=MpEventType.SUBSCRIBE, scene="s1", at=AT)
    (parsed,) = _parse(mp_event_messages(event, app_id="wxAPP", channel="poster"))
    assert parsed.event == "mp_subscribed"
    openids = [i for i in parsed.identifiers if i.type == IdType.WECHAT_OPENID]
    assert openids[0].key == "wxAPP:oX"
    plain = MpEvent(account="gh_1", openid="oX", event=MpEventType.UNSUBSCRIBE, at=AT)
    assert "campaign" not in mp_event_messages(plain, app_id="wxAPP")[0]["context"]


def test_sync_identify_changes_only_when_the_contact_does() -> None:
    record = ContactRecord(external_userid="wmA", unionid="uA", owner_userid="z", active=True)
    first = contact_identify_messages([record], corp_id="ww1", now=AT)
    same = contact_identify_messages([record], corp_id="ww1", now=AT)
    moved = contact_identify_messages(
        [record.model_copy(update={"owner_userid": "l"})], corp_id="ww1", now=AT
    )
    assert first[0]["messageId"] == same[0]["messageId"] != moved[0]["messageId"]
    (parsed,) = _parse(first)
    assert IdType.UNIONID in {i.type for i in parsed.identifiers}
