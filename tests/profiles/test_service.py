"""Profiles in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import CollectedEvent, MessageType
from siyu.core.db import transaction
from siyu.core.errors import NotFoundError
from siyu.profiles import service as profiles
from siyu.profiles.models import Profile
from tests.profiles.events import at, event, identify, order

WS = "ws_test"


def _apply(
    db: sessionmaker[Session],
    now: datetime,
    events: Sequence[CollectedEvent],
    person_ids: Sequence[str] | None = None,
    workspace_id: str = WS,
) -> None:
    with transaction(db) as session:
        profiles.apply_events(
            session=session,
            workspace_id=workspace_id,
            events=events,
            person_ids=person_ids or ["p1"] * len(events),
            now=now,
        )


def _get(db: sessionmaker[Session], person_id: str = "p1", *members: str) -> Profile:
    with transaction(db) as session:
        return profiles.get_profile(
            session=session,
            workspace_id=WS,
            person_id=person_id,
            member_person_ids=[person_id, *members],
        )


def test_latest_identify_wins_across_batches(db: sessionmaker[Session], now: datetime) -> None:
    _apply(db, now, [identify(at(5), name="新名字", level=2)])
    _apply(db, now, [identify(at(1), name="old", level=1, city="杭州")])
    _apply(db, now, [identify(at(6), level=3)])
    profile = _get(db)
    assert profile.traits == {"name": "新名字", "level": 3, "city": "杭州"}
    assert profile.event_counts == {"$identify": 3}
    assert (profile.first_seen, profile.last_seen) == (at(1), at(6))


def test_phone_and_email_traits_are_not_stored(db: sessionmaker[Session], now: datetime) -> None:
    _apply(db, now, [identify(at(1), phone="13800138000", Email="a@b.cn", mobile="1", vip=True)])
    assert _get(db).traits == {"vip": True}


def test_spend_sums_in_fen_and_average_rounds_half_up(
    db: sessionmaker[Session], now: datetime
) -> None:
    _apply(db, now, [order(at(3), 100), event(name="Product Viewed", when=at(4))])
    _apply(db, now, [order(at(2), 101), event(MessageType.PAGE, when=at(0))])
    profile = _get(db)
    assert profile.order_count == 2
    assert profile.total_spend_fen == 201
    assert profile.avg_spend_fen == 101
    assert profile.last_order_at == at(3)
    assert profile.event_count == 4
    assert profile.event_counts == {"Order Completed": 2, "Product Viewed": 1, "$page": 1}


def test_no_orders_means_no_average(db: sessionmaker[Session], now: datetime) -> None:
    _apply(db, now, [event(name="Signed Up")])
    profile = _get(db)
    assert (profile.order_count, profile.total_spend_fen) == (0, 0)
    assert profile.avg_spend_fen is None
    assert profile.last_order_at is None


def test_first_touch_is_earliest_across_batches(db: sessionmaker[Session], now: datetime) -> None:
    _apply(db, now, [event(when=at(5), channel="wechat", campaign="618")])
    assert _get(db).first_channel == "wechat"
    _apply(db, now, [event(when=at(1)), event(when=at(3), channel="小红书")])
    _apply(db, now, [event(when=at(4), campaign="双11"), event(when=at(9), channel="douyin")])
    profile = _get(db)
    assert (profile.first_channel, profile.first_campaign) == ("小红书", "双11")
    assert (profile.first_seen, profile.last_seen) == (at(1), at(9))


def test_merged_persons_are_combined_at_read_time(db: sessionmaker[Session], now: datetime) -> None:
    _apply(
        db,
        now,
        [
            identify(at(1), name="anon", city="上海"),
            event(when=at(1), channel="douyin"),
            order(at(2), 500),
            identify(at(7), name="会员"),
            order(at(8), 250),
            event(when=at(3), channel="wechat"),
        ],
        ["p_anon", "p_anon", "p_anon", "p_member", "p_member", "p_member"],
    )
    profile = _get(db, "p_member", "p_anon", "p_never_seen")
    assert profile.person_id == "p_member"
    assert profile.traits == {"name": "会员", "city": "上海"}
    assert (profile.order_count, profile.total_spend_fen, profile.avg_spend_fen) == (2, 750, 375)
    assert (profile.first_seen, profile.last_seen, profile.last_order_at) == (at(1), at(8), at(8))
    assert profile.first_channel == "douyin"
    assert profile.event_counts == {"$identify": 2, "Order Completed": 2, "$track": 2}
    # After a split each side reads over its own members again; nothing was rewritten.
    assert _get(db, "p_member").traits == {"name": "会员"}
    assert _get(db, "p_anon").total_spend_fen == 500


def test_get_profiles_lists_many_and_skips_unknown(
    db: sessionmaker[Session], now: datetime
) -> None:
    _apply(db, now, [order(at(1), 10), order(at(2), 20), order(at(3), 30)], ["a", "b", "c"])
    with transaction(db) as session:
        found = profiles.get_profiles(
            session=session, workspace_id=WS, groups={"a": ["a", "b"], "c": ["c"], "z": ["z"]}
        )
    assert {k: v.total_spend_fen for k, v in found.items()} == {"a": 30, "c": 30}


def test_unknown_person_is_not_found(db: sessionmaker[Session], now: datetime) -> None:
    _apply(db, now, [event()], ["p1"], workspace_id="ws_other")
    with pytest.raises(NotFoundError) as err:
        _get(db, "p1", "p2")
    assert err.value.field == "person_id"


def test_empty_batch_writes_nothing(db: sessionmaker[Session], now: datetime) -> None:
    _apply(db, now, [])
    with pytest.raises(NotFoundError):
        _get(db)


_TIED = [
    identify(at(1), name="b", tier={"level": 1}),
    identify(at(1), name="a", tier={"level": 2}),
    event(when=at(1), channel="wechat", campaign="A"),
    event(when=at(1), channel="douyin", campaign="B"),
    identify(at(0), name="z"),
    order(at(1), 7),
]


@pytest.mark.parametrize("order_", [range(6), range(5, -1, -1), [2, 0, 5, 1, 4, 3]])
def test_ties_break_the_same_in_sql_as_in_python(
    db: sessionmaker[Session], now: datetime, order_: Sequence[int]
) -> None:
    # One event per batch: the database settles every tie, in a different arrival order.
    for index in order_:
        _apply(db, now, [_TIED[index]])
    stored = _get(db)
    _apply(db, now, _TIED, ["p_all"] * len(_TIED))
    in_memory = _get(db, "p_all")
    assert stored.model_dump(exclude={"person_id"}) == in_memory.model_dump(exclude={"person_id"})
    assert stored.traits == {"name": "b", "tier": {"level": 2}}
    assert (stored.first_channel, stored.first_campaign) == ("douyin", "A")
