"""Group-buy teams and assist/bargain runs on both stores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.activities import service as activities
from siyu.activities import teams
from siyu.activities.models import ActionCreate, Participation, Refusal
from siyu.core.db import transaction
from siyu.workspaces import service as workspaces
from tests.activities.helpers import create, persons, same_device

REWARD = {"kind": "points", "amount": 50, "cost_fen": 50}
MONTH = timedelta(days=30)


@pytest.fixture
def ws(db: sessionmaker[Session], now: datetime) -> str:
    with transaction(db) as session:
        return workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id


def _start(
    db: sessionmaker[Session], ws: str, act: str, who: str, now: datetime
) -> Participation | Refusal:
    with transaction(db) as session:
        return teams.start(session=session, workspace_id=ws, activity_id=act,
                           request=ActionCreate(person_id=who), now=now)  # fmt: skip


def _join(
    db: sessionmaker[Session], ws: str, team: str, who: str, now: datetime, key: str | None = None
) -> Participation | Refusal:
    with transaction(db) as session:
        return teams.join(
            session=session, workspace_id=ws, team_id=team,
            request=ActionCreate(person_id=who), now=now, idempotency_key=key,
        )  # fmt: skip


def _help(
    db: sessionmaker[Session], ws: str, team: str, who: str, now: datetime
) -> Participation | Refusal:
    with transaction(db) as session:
        return teams.help_team(session=session, workspace_id=ws, team_id=team,
                               request=ActionCreate(person_id=who), now=now)  # fmt: skip


def _reason(outcome: Participation | Refusal) -> str:
    assert isinstance(outcome, Refusal), outcome
    return outcome.reason


def test_group_buy_fills_then_rewards_every_member_once(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        lead, b, c, d = persons(session, ws, ["lead", "b", "c", "d"], now - MONTH)
        act = create(session, ws, now, name="三人团", kind="group_buy", team_size=3, stock=6,
                     group_price_fen=9900, reward=REWARD, budget_fen=1000).id  # fmt: skip
    opened = _start(db, ws, act, lead, now)
    assert isinstance(opened, Participation) and opened.team_id
    team = opened.team_id
    assert _reason(_join(db, ws, team, lead, now)) == "already_joined"
    first = _join(db, ws, team, b, now, key="jb")
    assert isinstance(first, Participation) and first.detail["members"] == 2
    again = _join(db, ws, team, b, now, key="jb")
    assert isinstance(again, Participation) and again.replayed
    assert _reason(_join(db, ws, team, b, now)) == "already_joined"
    full = _join(db, ws, team, c, now)
    assert isinstance(full, Participation) and sorted(full.detail["completed"]) == sorted(
        [lead, b, c]
    )
    assert _reason(_join(db, ws, team, d, now)) == "team_closed"
    with transaction(db) as session:
        rewards = activities.rewards_of(session=session, workspace_id=ws, activity_id=act)
        stored = activities.get_activity(session=session, workspace_id=ws, activity_id=act)
        state = teams.get_team(session=session, workspace_id=ws, team_id=team)
    assert sorted(r.person_id for r in rewards) == sorted([lead, b, c])
    assert state.status == "complete" and state.members == 3
    assert stored.stock_left == 3 and stored.spent_fen == 150


def test_group_buy_refuses_shared_device_and_expires_with_refunds(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        lead, twin = same_device(session, ws, "lead", "twin", now - MONTH)
        (friend,) = persons(session, ws, ["friend"], now - MONTH)
        act = create(session, ws, now, name="三人团", kind="group_buy", team_size=3, stock=3,
                     group_price_fen=9900, reward=REWARD, team_hours=2).id  # fmt: skip
    opened = _start(db, ws, act, lead, now)
    assert isinstance(opened, Participation) and opened.team_id
    refused = _join(db, ws, opened.team_id, twin, now)
    assert isinstance(refused, Refusal) and (refused.reason, refused.field) == (
        "same_device",
        "person_id",
    )
    assert isinstance(_join(db, ws, opened.team_id, friend, now), Participation)
    assert _reason(_start(db, ws, act, twin, now)) == "out_of_stock"  # 3 units held by the team
    with transaction(db) as session:
        assert (
            teams.expire_teams(session=session, workspace_id=ws, now=now + timedelta(hours=1)) == []
        )
        expired = teams.expire_teams(session=session, workspace_id=ws, now=now + timedelta(hours=3))
        assert [t.id for t in expired] == [opened.team_id]
        assert (
            teams.expire_teams(session=session, workspace_id=ws, now=now + timedelta(hours=4)) == []
        )
        rewards = activities.rewards_of(session=session, workspace_id=ws, activity_id=act)
        stored = activities.get_activity(session=session, workspace_id=ws, activity_id=act)
    assert sorted((r.person_id, r.kind, r.amount) for r in rewards) == sorted(
        [(lead, "refund", 9900), (friend, "refund", 9900)]
    )
    assert stored.stock_left == 3 and stored.spent_fen == 0


@pytest.mark.postgres
def test_racing_joins_never_overfill_a_team(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        people = persons(session, ws, [f"j{i}" for i in range(12)], now - MONTH)
        act = create(session, ws, now, name="五人团", kind="group_buy", team_size=5,
                     reward=REWARD).id  # fmt: skip
    opened = _start(db, ws, act, people[0], now)
    assert isinstance(opened, Participation) and opened.team_id
    team = opened.team_id

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda p: _join(db, ws, team, p, now), people[1:]))
    joined = [o for o in outcomes if isinstance(o, Participation)]
    assert len(joined) == 4
    with transaction(db) as session:
        assert len(teams.members_of(session=session, workspace_id=ws, team_id=team)) == 5
        assert len(activities.rewards_of(session=session, workspace_id=ws, activity_id=act)) == 5


def test_bargain_cuts_to_the_floor_and_rewards_the_starter(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        starter, twin = same_device(session, ws, "starter", "twin", now - MONTH)
        friends = persons(session, ws, ["f1", "f2", "f3", "f4", "f5"], now - MONTH)
        act = create(session, ws, now, name="砍价", kind="assist", helpers_needed=4,
                     start_price_fen=2000, floor_price_fen=1000, reward=REWARD).id  # fmt: skip
    run = _start(db, ws, act, starter, now)
    assert isinstance(run, Participation) and run.team_id
    assert _reason(_start(db, ws, act, starter, now)) == "already_joined"
    assert _reason(_help(db, ws, run.team_id, starter, now)) == "self"
    assert _reason(_help(db, ws, run.team_id, twin, now)) == "same_device"
    helps = [_help(db, ws, run.team_id, friend, now) for friend in friends[:4]]
    assert [h.detail["cut_fen"] for h in helps if isinstance(h, Participation)] == [
        400,
        300,
        200,
        100,
    ]
    last = helps[-1]
    assert isinstance(last, Participation) and last.detail["completed"] == [starter]
    assert _reason(_help(db, ws, run.team_id, friends[4], now)) == "team_closed"
    # each friend helps once per campaign: a second run of the same activity is refused
    second = _start(db, ws, act, friends[4], now)
    assert isinstance(second, Participation) and second.team_id
    assert _reason(_help(db, ws, second.team_id, friends[0], now)) == "already_helped"
    with transaction(db) as session:
        state = teams.get_team(session=session, workspace_id=ws, team_id=run.team_id)
        rewards = activities.rewards_of(session=session, workspace_id=ws, activity_id=act)
        assert state.price_fen == 1000 and state.status == "complete"
        assert [r.person_id for r in rewards] == [starter]
        with pytest.raises(Exception, match="not a group_buy"):
            teams.join(session=session, workspace_id=ws, team_id=run.team_id,
                       request=ActionCreate(person_id=friends[4]), now=now)  # fmt: skip
