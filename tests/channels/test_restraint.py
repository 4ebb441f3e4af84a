"""The pure restraint rules: consent, quiet hours, calendar caps, priority bumps, forecasts."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.channels.models import Channel, HoldReason, MessageStatus, Purpose
from siyu.channels.restraint import (
    COUNTED,
    Ask,
    ChannelCaps,
    ConsentStatus,
    PlannedSend,
    RestraintPolicy,
    SendRecord,
    decide,
    forecast_caps,
    quiet_end_after,
)

SH = "Asia/Shanghai"
NOON = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)  # Thursday 12:00 in Shanghai
POLICY = RestraintPolicy()


def ask(priority: int = 0, purpose: Purpose = Purpose.MARKETING, at: datetime | None = None) -> Ask:
    return Ask(Channel.SMS, purpose, priority, at)


def queued(mid: str, at: datetime, priority: int = 0, status: MessageStatus = MessageStatus.QUEUED):
    return SendRecord(mid, at, priority, Purpose.MARKETING, status)


def test_marketing_needs_a_grant_and_a_revoke_holds_even_transactional() -> None:
    kw = {"policy": POLICY, "zone": SH, "recent": [], "now": NOON}
    assert decide(ask=ask(), consent=None, **kw).reason is HoldReason.NO_CONSENT
    assert decide(ask=ask(), consent=ConsentStatus.GRANTED, **kw).status is MessageStatus.QUEUED
    tx = ask(purpose=Purpose.TRANSACTIONAL)
    assert decide(ask=tx, consent=None, **kw).status is MessageStatus.QUEUED
    assert decide(ask=tx, consent=ConsentStatus.REVOKED, **kw).reason is HoldReason.UNSUBSCRIBED
    mp = Ask(Channel.MINIPROGRAM, Purpose.MARKETING, 0)  # the subscription is the consent
    assert decide(ask=mp, consent=None, **kw).status is MessageStatus.QUEUED


def test_quiet_hours_defer_to_nine_local_and_transactional_goes_now() -> None:
    late = datetime(2026, 11, 26, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    d = decide(
        policy=POLICY, zone=SH, recent=[], ask=ask(), consent=ConsentStatus.GRANTED, now=late
    )
    assert d.status is MessageStatus.QUEUED and d.deferred
    assert d.send_at == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 09:00 next morning
    early = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)  # 06:00 on the 27th
    d = decide(
        policy=POLICY, zone=SH, recent=[], ask=ask(), consent=ConsentStatus.GRANTED, now=early
    )
    assert d.send_at == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    tx = ask(purpose=Purpose.TRANSACTIONAL)
    d = decide(policy=POLICY, zone=SH, recent=[], ask=tx, consent=None, now=late)
    assert d.send_at == late and not d.deferred


def test_quiet_window_that_does_not_wrap_midnight() -> None:
    tz = ZoneInfo(SH)
    assert quiet_end_after(NOON, tz, time(11, 0), time(13, 30)) == NOON + timedelta(minutes=90)
    assert quiet_end_after(NOON, tz, time(13, 0), time(14, 0)) is None
    assert quiet_end_after(NOON, tz, time(9, 0), time(9, 0)) is None


def test_daily_cap_holds_then_a_higher_priority_bumps_the_queued_one() -> None:
    recent = [queued("a", NOON - timedelta(hours=1), priority=1)]
    kw = {"policy": POLICY, "zone": SH, "recent": recent, "consent": ConsentStatus.GRANTED}
    assert decide(ask=ask(priority=1), now=NOON, **kw).reason is HoldReason.DAILY_CAP
    d = decide(ask=ask(priority=5), now=NOON, **kw)
    assert d.status is MessageStatus.QUEUED and d.bump == ("a",)
    sent = [queued("a", NOON - timedelta(hours=1), status=MessageStatus.SENT)]
    d = decide(ask=ask(priority=5), now=NOON, **(kw | {"recent": sent}))
    assert d.reason is HoldReason.DAILY_CAP  # what is sent cannot be unsent


def test_weekly_cap_counts_the_iso_week_in_the_zone() -> None:
    days = [NOON - timedelta(days=n) for n in (1, 2, 3)]  # Wed, Tue, Mon
    recent = [queued(f"d{n}", d, status=MessageStatus.SENT) for n, d in enumerate(days)]
    kw = {"policy": POLICY, "zone": SH, "recent": recent, "consent": ConsentStatus.GRANTED}
    assert decide(ask=ask(), now=NOON, **kw).reason is HoldReason.WEEKLY_CAP
    monday = NOON + timedelta(days=4)  # a new week
    assert decide(ask=ask(), now=monday, **kw).status is MessageStatus.QUEUED


def test_caps_can_be_set_per_channel() -> None:
    loose = RestraintPolicy(caps={Channel.SMS: ChannelCaps(daily=2, weekly=None)})
    recent = [queued("a", NOON)]
    d = decide(
        policy=loose, zone=SH, recent=recent, ask=ask(), consent=ConsentStatus.GRANTED, now=NOON
    )
    assert d.status is MessageStatus.QUEUED


requests = st.lists(
    st.tuples(
        st.integers(0, 3),  # priority
        st.integers(0, 24 * 20),  # hours after the start
        st.sampled_from([Purpose.MARKETING, Purpose.MARKETING, Purpose.TRANSACTIONAL]),
        st.booleans(),  # is the clock already past it (sent) when the next one comes?
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(requests, st.integers(1, 2), st.integers(1, 5))
def test_never_more_than_the_cap_per_window_whatever_the_order(
    reqs: list[tuple[int, int, Purpose, bool]], daily: int, weekly: int
) -> None:
    policy = RestraintPolicy(default_caps=ChannelCaps(daily=daily, weekly=weekly, monthly=6))
    book: list[SendRecord] = []
    for n, (priority, hours, purpose, sent) in enumerate(reqs):
        at = NOON + timedelta(hours=hours)
        d = decide(
            policy=policy,
            zone=SH,
            recent=book,
            ask=Ask(Channel.SMS, purpose, priority, at),
            consent=ConsentStatus.GRANTED,
            now=NOON,
        )
        book = [
            queued(r.message_id, r.send_at, r.priority, MessageStatus.HELD)
            if r.message_id in d.bump
            else r
            for r in book
        ]
        status = MessageStatus.SENT if sent and d.status is MessageStatus.QUEUED else d.status
        book.append(SendRecord(f"m{n}", d.send_at, priority, purpose, status))
    tz = ZoneInfo(SH)
    live = [r for r in book if r.purpose is Purpose.MARKETING and r.status in COUNTED]
    for key_of, cap in (
        (lambda d: d.astimezone(tz).date(), daily),
        (lambda d: d.astimezone(tz).isocalendar()[:2], weekly),
        (lambda d: (d.astimezone(tz).year, d.astimezone(tz).month), 6),
    ):
        counts: dict[object, int] = {}
        for r in live:
            counts[key_of(r.send_at)] = counts.get(key_of(r.send_at), 0) + 1
        assert max(counts.values(), default=0) <= cap
    # Quiet hours: no marketing message is planned between 21:00 and 09:00 local.
    assert all(9 <= r.send_at.astimezone(tz).hour < 21 for r in live)


def test_forecast_counts_what_the_caps_would_hold() -> None:
    planned = [
        PlannedSend("p1", Channel.SMS, NOON + timedelta(days=d // 2, minutes=d)) for d in range(8)
    ]
    existing = [("p1", Channel.SMS, queued("x", NOON - timedelta(hours=2)))]
    out = forecast_caps(policy=POLICY, zone=SH, existing=existing, planned=planned)
    # Two a day Thu–Sun. Thu: one exists, both held (daily); Fri, Sat: one of two each
    # (daily); Sun: the week's three are used, both held (weekly).
    assert out.planned == 8
    assert out.held == 6
    assert out.by_reason == {"daily_cap": 4, "weekly_cap": 2}
