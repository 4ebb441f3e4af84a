from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.collect.models import IdType, MessageType
from siyu.collect.normalize import (
    FieldError,
    amount_fen,
    normalize_phone,
    parse_batch,
    parse_message,
)
from siyu.core.crypto import Vault

VAULT = Vault(base64.b64decode(base64.b64encode(b"k" * 32)))
RECEIVED = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def msg(**fields: object) -> dict[str, object]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "messageId": "m1",
        "anonymousId": "a1",
    } | fields


def test_clock_skew_is_corrected_from_sent_at() -> None:
    # The client clock runs 10 minutes fast: the event happened 5 s before it was sent.
    client = RECEIVED + timedelta(minutes=10)
    event = parse_message(
        msg(timestamp=(client - timedelta(seconds=5)).isoformat(), sentAt=client.isoformat()),
        vault=VAULT,
        received_at=RECEIVED,
    )
    assert event.timestamp == RECEIVED - timedelta(seconds=5)
    assert event.sent_at == client


def test_batch_sent_at_applies_and_original_timestamp_wins() -> None:
    client = RECEIVED - timedelta(hours=1)
    event = parse_message(
        msg(originalTimestamp=(client - timedelta(seconds=30)).isoformat().replace("+00:00", "Z")),
        vault=VAULT,
        received_at=RECEIVED,
        batch_sent_at=client,
    )
    assert event.timestamp == RECEIVED - timedelta(seconds=30)


def test_timestamp_without_sent_at_is_trusted_and_missing_means_received() -> None:
    old = datetime(2025, 1, 1, tzinfo=UTC)
    assert (
        parse_message(
            msg(timestamp="2025-01-01T08:00:00+08:00"), vault=VAULT, received_at=RECEIVED
        ).timestamp
        == old
    )
    assert parse_message(msg(), vault=VAULT, received_at=RECEIVED).timestamp == RECEIVED


def test_chinese_ids_from_external_ids_and_traits() -> None:
    event = parse_message(
        {
            "type": "identify",
            "messageId": "m2",
            "userId": "u42",
            "traits": {"phone": "+86 138-0013-8000", "member_id": "M001", "nickname": "小王"},
            "context": {
                "externalIds": [
                    {"id": "o_abc", "type": "mp_openid", "collection": "wx123"},
                    {"id": "un_1", "type": "unionid"},
                ],
                "device": {"id": "dev9"},
            },
        },
        vault=VAULT,
        received_at=RECEIVED,
    )
    by_type = {i.type: i for i in event.identifiers}
    assert by_type[IdType.MP_OPENID].key == "wx123:o_abc"
    assert by_type[IdType.UNIONID].key == "un_1"
    assert by_type[IdType.DEVICE_ID].key == "dev9"
    phone = by_type[IdType.PHONE]
    assert phone.masked == "138****8000"
    assert "13800138000" not in phone.key
    assert VAULT.decrypt(phone.encrypted or "") == "13800138000"
    assert phone.key == VAULT.lookup_hash("phone", "13800138000")


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (msg(messageId=None), "messageId"),
        (msg(anonymousId=None), "userId"),
        (msg(event=""), "event"),
        (msg(properties=[1]), "properties"),
        (msg(timestamp="yesterday"), "timestamp"),
        (msg(context={"externalIds": [{"id": "x", "type": "qq"}]}), "context.externalIds[0].type"),
        (
            msg(context={"externalIds": [{"id": "o1", "type": "wechat_openid"}]}),
            "context.externalIds[0].collection",
        ),
        (msg(type="identify", traits={"phone": "12"}), "traits.phone"),
        (msg(properties={"revenue": "abc"}), "properties.revenue"),
    ],
)
def test_bad_input_names_the_field(message: dict[str, object], field: str) -> None:
    with pytest.raises(FieldError) as err:
        parse_message(message, vault=VAULT, received_at=RECEIVED, forced_type=None)
    assert err.value.field == field


def test_one_bad_message_does_not_lose_the_good_ones() -> None:
    good, bad = msg(messageId="ok"), msg(messageId="bad", event=None)
    accepted, rejected = parse_batch([good, bad, "junk"], vault=VAULT, received_at=RECEIVED)
    assert [e.message_id for e in accepted] == ["ok"]
    assert [(r.index, r.field) for r in rejected] == [(1, "batch[1].event"), (2, "batch[2]")]
    assert rejected[0].message_id == "bad"


def test_forced_type_from_route() -> None:
    event = parse_message(
        {"messageId": "p", "anonymousId": "a", "name": "首页"},
        vault=VAULT,
        received_at=RECEIVED,
        forced_type=MessageType.PAGE,
    )
    assert (event.type, event.event) == (MessageType.PAGE, "首页")


@pytest.mark.parametrize(("raw", "fen"), [("19.9", 1990), (38, 3800), ("0.005", 1), (12.345, 1235)])
def test_amounts_become_integer_fen(raw: object, fen: int) -> None:
    assert amount_fen({"revenue": raw}) == fen
    assert amount_fen({"revenue_fen": fen}) == fen


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_phone_forms_normalise_to_the_same_digits(digits: str) -> None:
    forms = [digits, f"+86{digits}", f"0086 {digits}", f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"]
    assert {normalize_phone(f) for f in forms} == {digits}
