"""Lottery draws on both stores: prizes, stock under a race, limits, anti-abuse, retries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from siyu.activities import service as activities
from siyu.activities.models import ActionCreate, Participation, Refusal
from siyu.core.db import transaction
from siyu.segments.tables import segment_members, segments
from siyu.workspaces import service as workspaces
from tests.activities.helpers import create, persons

POOL = [
    {"name": "100 积分", "kind": "points", "amount": 100, "weight": 1, "stock": 5, "cost_fen": 100},
]


@pytest.fixture
def ws(db: sessionmaker[Session], now: datetime) -> str:
    with transaction(db) as session:
        return workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id


def _draw(
    db: sessionmaker[Session], ws: str, act: str, who: str, now: datetime, key: str | None = None,
    ip: str | None = None,
) -> Participation | Refusal:  # fmt: skip
    with transaction(db) as session:
        return activities.draw(
            session=session, workspace_id=ws, activity_id=act,
            request=ActionCreate(person_id=who, ip=ip), now=now, idempotency_key=key,
        )  # fmt: skip


def test_a_draw_wins_records_its_roll_and_a_retry_replays(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        (ann,) = persons(session, ws, ["ann"], now - timedelta(days=30))
        act = create(session, ws, now, name="抽奖", kind="lottery", prizes=POOL).id
    first = _draw(db, ws, act, ann, now, key="k1")
    assert isinstance(first, Participation)
    assert first.prize is not None and first.prize.kind == "points" and first.roll == 0
    again = _draw(db, ws, act, ann, now, key="k1")
    assert isinstance(again, Participation) and again.replayed and again.id == first.id
    with transaction(db) as session:
        stored = activities.get_activity(session=session, workspace_id=ws, activity_id=act)
        rewards = activities.rewards_of(session=session, workspace_id=ws, activity_id=act)
    assert stored.prizes[0].stock == 4 and stored.prizes[0].won == 1
    assert stored.spent_fen == 100
    assert [(r.person_id, r.amount, r.status) for r in rewards] == [(ann, 100, "pending")]


def test_no_prize_weight_and_out_of_stock(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    pool = [
        {"name": "谢谢参与", "kind": "none", "weight": 1},
        {"name": "杯子", "kind": "goods", "weight": 1_000_000, "stock": 1},
    ]
    with transaction(db) as session:
        people = persons(session, ws, [f"p{i}" for i in range(3)], now - timedelta(days=30))
        act = create(session, ws, now, name="抽奖", kind="lottery", prizes=pool).id
        only = create(session, ws, now, name="只有杯子", kind="lottery", prizes=pool[1:]).id
    outcomes = [_draw(db, ws, act, p, now) for p in people]
    won = [o for o in outcomes if isinstance(o, Participation) and o.prize]
    assert len(won) <= 1
    assert isinstance(_draw(db, ws, only, people[0], now), Participation)
    refused = _draw(db, ws, only, people[1], now)
    assert isinstance(refused, Refusal) and refused.reason == "out_of_stock"


def test_limits_per_day_and_total(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    pool = [{"name": "谢谢参与", "kind": "none", "weight": 1}]
    with transaction(db) as session:
        (ann,) = persons(session, ws, ["ann"], now - timedelta(days=30))
        act = create(
            session, ws, now, name="抽奖", kind="lottery", prizes=pool,
            limits={"per_day": 2, "total": 3}, guards={"max_per_minute": None},
        ).id  # fmt: skip
    today = [_draw(db, ws, act, ann, now) for _ in range(3)]
    assert [type(o).__name__ for o in today] == ["Participation", "Participation", "Refusal"]
    assert isinstance(today[2], Refusal) and today[2].reason == "limit_reached"
    tomorrow = now + timedelta(days=1)
    assert isinstance(_draw(db, ws, act, ann, tomorrow), Participation)
    last = _draw(db, ws, act, ann, tomorrow + timedelta(days=1))
    assert isinstance(last, Refusal) and last.reason == "limit_reached"
    with transaction(db) as session:
        counts = activities.refusal_counts(session=session, workspace_id=ws, activity_id=act)
    assert counts == {"limit_reached": 2}


def test_anti_abuse_and_window_refusals(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    pool = [{"name": "谢谢参与", "kind": "none", "weight": 1}]
    with transaction(db) as session:
        old, fresh = persons(session, ws, ["old"], now - timedelta(days=9)) + persons(
            session, ws, ["fresh"], now - timedelta(hours=2)
        )
        act = create(
            session, ws, now, name="抽奖", kind="lottery", prizes=pool,
            guards={"min_account_age_hours": 24, "max_per_minute": 2, "max_per_ip_hour": 3},
        ).id  # fmt: skip
    young = _draw(db, ws, act, fresh, now)
    assert isinstance(young, Refusal) and (young.reason, young.field) == (
        "fresh_account",
        "person_id",
    )
    outcomes = [_draw(db, ws, act, old, now, ip="1.2.3.4") for _ in range(3)]
    last = outcomes[-1]
    assert isinstance(last, Refusal) and last.reason == "too_fast"
    later = now + timedelta(minutes=5)
    assert isinstance(_draw(db, ws, act, old, later, ip="1.2.3.4"), Participation)
    by_ip = _draw(db, ws, act, old, later + timedelta(minutes=5), ip="1.2.3.4")
    assert isinstance(by_ip, Refusal) and (by_ip.reason, by_ip.field) == ("ip_velocity", "ip")
    ended = _draw(db, ws, act, old, now + timedelta(days=8))
    assert isinstance(ended, Refusal) and ended.reason == "ended"


def test_segment_eligibility(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    pool = [{"name": "谢谢参与", "kind": "none", "weight": 1}]
    with transaction(db) as session:
        vip, other = persons(session, ws, ["vip", "other"], now - timedelta(days=30))
        session.execute(
            insert(segments).values(
                workspace_id=ws, id="seg_vip", name="VIP", definition={}, members=1,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
        session.execute(
            insert(segment_members).values(
                workspace_id=ws, segment_id="seg_vip", person_id=vip, entered_at=now
            )
        )
        act = create(session, ws, now, name="会员抽奖", kind="lottery", prizes=pool,
                     segment_id="seg_vip").id  # fmt: skip
    assert isinstance(_draw(db, ws, act, vip, now), Participation)
    refused = _draw(db, ws, act, other, now)
    assert isinstance(refused, Refusal) and refused.reason == "not_eligible"


@pytest.mark.postgres
def test_32_racing_draws_win_exactly_5_prizes(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        people = persons(session, ws, [f"r{i}" for i in range(32)], now - timedelta(days=30))
        act = create(session, ws, now, name="秒杀抽奖", kind="lottery", prizes=POOL,
                     budget_fen=10_000).id  # fmt: skip

    def race(person: str) -> Participation | Refusal:
        return _draw(db, ws, act, person, now)

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(race, people))
    won = [o for o in outcomes if isinstance(o, Participation) and o.prize is not None]
    assert len(won) == 5
    assert len({o.person_id for o in won}) == 5
    with transaction(db) as session:
        stored = activities.get_activity(session=session, workspace_id=ws, activity_id=act)
        rewards = activities.rewards_of(session=session, workspace_id=ws, activity_id=act)
    assert stored.prizes[0].stock == 0 and stored.prizes[0].won == 5
    assert stored.spent_fen == 500 and len(rewards) == 5


def test_the_budget_caps_prizes_before_stock_does(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        people = persons(session, ws, [f"b{i}" for i in range(4)], now - timedelta(days=30))
        act = create(
            session, ws, now, name="小预算", kind="lottery", prizes=POOL, budget_fen=250
        ).id
    outcomes = [_draw(db, ws, act, p, now) for p in people]
    won = [o for o in outcomes if isinstance(o, Participation) and o.prize is not None]
    assert len(won) == 2
    with transaction(db) as session:
        stored = activities.get_activity(session=session, workspace_id=ws, activity_id=act)
    assert (stored.spent_fen, stored.prizes[0].stock, stored.prizes[0].won) == (200, 3, 2)
