"""Channels page builders: credential status (secrets never shown), caps from the form,
held-back reasons, recent messages, templates and consents."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from siyu.accounts.models import ApiKey, KeyKind
from siyu.channels.models import Channel, HoldReason, MessageStatus, Purpose
from siyu.channels.outbox_models import Consent, ConsentChange, Message, Template
from siyu.channels.restraint import ChannelCaps, ConsentStatus, RestraintPolicy
from siyu.channels.wechat_accounts import AccountKind, WechatAccount
from siyu.console.views import channels as views
from siyu.core.errors import InvalidInputError
from siyu.pipeline.channel_settings import ChannelSettingsView

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
ZONE = "Asia/Shanghai"


def _message(n: int, reason: HoldReason | None) -> Message:
    return Message(
        id=f"m{n}", person_id="p_1", channel=Channel.SMS, template="winback_sms",
        purpose=Purpose.MARKETING, priority=0, source="journey:j:sms",
        status=MessageStatus.HELD if reason else MessageStatus.QUEUED, reason=reason,
        deferred=False, send_at=NOW, attempts=0, provider_message_id=None, last_error=None,
        created_at=NOW - timedelta(minutes=n), sent_at=None, delivered_at=None,
    )  # fmt: skip


def test_credentials_say_whether_a_secret_is_set_and_never_show_it() -> None:
    settings = [
        ChannelSettingsView(channel=Channel.SMS, config={"access_key_id": "LTAI5t", "provider":
                            "aliyun"}, secret_set=True, updated_at=NOW),
    ]  # fmt: skip
    accounts: dict[AccountKind, WechatAccount | None] = {
        AccountKind.WECOM: WechatAccount(kind=AccountKind.WECOM, app_id="ww123", updated_at=NOW),
        AccountKind.MP: None,
        AccountKind.MINIPROGRAM: None,
    }
    rows = {row["key"]: row for row in views.credential_rows(settings, accounts, "zh", ZONE)}
    assert list(rows) == ["sms", "email", "webhook", "wecom", "mp", "miniprogram"]
    assert rows["sms"]["ident"] == "LTAI5t"
    assert rows["sms"]["secret"] == "••• 已设置"
    assert rows["sms"]["updated"] == "2026-11-28 12:00"
    assert rows["wecom"]["status"] == "已配置" and rows["wecom"]["ident"] == "ww123"
    assert rows["email"]["secret"] == "未设置" and rows["email"]["status"] == "未配置"


def test_keys_show_a_hint_never_the_secret_and_only_live_secret_keys_rotate() -> None:
    keys = [
        ApiKey(id="k1", kind=KeyKind.secret, name="workspace secret key", hint="sk_AbCd",
               scopes=["*"], created_at=NOW),
        ApiKey(id="k2", kind=KeyKind.write, name="web", hint="wk_XyZw", scopes=[],
               created_at=NOW),
        ApiKey(id="k3", kind=KeyKind.secret, name="old", hint="sk_Old1", scopes=[],
               created_at=NOW, rotated_at=NOW, revoked_at=NOW),
    ]  # fmt: skip
    rows = views.key_rows(keys, "en", ZONE)
    assert rows[0]["hint"] == "sk_AbCd" + "•" * 16
    assert [r["status"] for r in rows] == ["Live", "Live", "Revoked"]
    assert rows[2]["rotated"] == "2026-11-28 12:00" and rows[0]["rotated"] == "—"
    assert views.rotatable(keys) == {"k1": "workspace secret key (sk_AbCd…)"}


@pytest.mark.parametrize(
    ("raw", "expected"), [("", None), (None, None), ("3", 3), (" 0 ", 0), (2.0, 2)]
)
def test_a_cap_is_blank_or_a_whole_number(raw: object, expected: int | None) -> None:
    assert views.cap_value(raw, "daily") == expected


@pytest.mark.parametrize("raw", ["-1", "1.5", "many"])
def test_a_bad_cap_names_its_field(raw: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        views.caps_from_form("1", raw, "")
    assert caught.value.field == "weekly"


def test_quiet_hours_times_and_caps_per_channel() -> None:
    assert views.clock_time("22:30", "quiet_start") == time(22, 30)
    with pytest.raises(InvalidInputError) as caught:
        views.clock_time("late", "quiet_end")
    assert caught.value.field == "quiet_end"
    policy = RestraintPolicy(default_caps=ChannelCaps(daily=2, weekly=5, monthly=None))
    rows = {r["channel"]: r for r in views.cap_rows(policy.default_caps, policy.caps, "en")}
    assert rows["sms"]["daily"] == "2" and rows["sms"]["monthly"] == "no cap"
    assert rows["sms"]["source"] == "Default (every channel)"
    assert rows["webhook"]["daily"] == "no cap" and rows["webhook"]["source"] == "Channel override"


def test_held_reasons_are_counted_most_common_first() -> None:
    messages = [
        _message(1, HoldReason.NO_CONSENT), _message(2, HoldReason.DAILY_CAP),
        _message(3, HoldReason.NO_CONSENT), _message(4, None),
    ]  # fmt: skip
    view = views.held_reasons_view(messages, "en")
    assert view.options["xAxis"]["data"] == ["no_consent", "daily_cap"]
    assert view.options["series"][0]["data"] == [2, 1]
    assert view.rows == [
        {"key": "no_consent", "reason": "no_consent", "messages": 2},
        {"key": "daily_cap", "reason": "daily_cap", "messages": 1},
    ]
    assert "4" in view.title
    assert views.held_reasons_view([_message(1, None)], "en").rows == []
    rows = views.message_rows(messages, ZONE)
    assert rows[0]["reason"] == "no_consent" and rows[3]["reason"] == "—"
    assert rows[3]["status"] == "queued"


def test_templates_and_consents() -> None:
    body = "x" * 80
    rows = views.template_rows(
        [Template(channel=Channel.SMS, name="t", body=body, updated_at=NOW)], ZONE
    )
    assert rows[0]["key"] == "sms/t" and len(rows[0]["body"]) == 60
    consents = [Consent(person_id="p", channel=Channel.SMS, status=ConsentStatus.REVOKED,
                        source="sms_reply", updated_at=NOW)]  # fmt: skip
    history = [
        ConsentChange(channel=Channel.SMS, status=ConsentStatus.GRANTED, source="api",
                      at=NOW - timedelta(days=2)),
        ConsentChange(channel=Channel.SMS, status=ConsentStatus.REVOKED, source="sms_reply",
                      at=NOW),
    ]  # fmt: skip
    rows = views.consent_rows(consents, history, ZONE)
    assert [(r["status"], r["current"]) for r in rows] == [
        ("revoked", True), ("revoked", False), ("granted", False)
    ]  # fmt: skip
