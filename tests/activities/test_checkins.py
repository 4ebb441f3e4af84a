"""Sign-up/check-in campaigns: register once, one check-in a local day, a streak reward."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from siyu.activities import checkins
from siyu.activities import service as activities
from siyu.activities.models import ActionCreate, Participation, Refusal
from siyu.core.db import transaction
from siyu.workspaces import service as workspaces
from tests.activities.helpers import create, persons


def test_a_three_day_streak_earns_the_reward_once(db: sessionmaker[Session], now: datetime) -> None:
    with transaction(db) as session:
        ws = workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id
        ann, bob = persons(session, ws, ["ann", "bob"], now - timedelta(days=30))
        act = create(session, ws, now, name="打卡", kind="signup", days_required=3, stock=1,
                     reward={"kind": "points", "amount": 30}).id  # fmt: skip

    def run(call: object, who: str, at: datetime) -> Participation | Refusal:
        with transaction(db) as session:
            return call(session=session, workspace_id=ws, activity_id=act,  # type: ignore[operator,no-any-return]
                        request=ActionCreate(person_id=who), now=at)  # fmt: skip

    early = run(checkins.check_in, ann, now)
    assert isinstance(early, Refusal) and early.reason == "not_registered"
    assert isinstance(run(checkins.register, ann, now), Participation)
    full = run(checkins.register, bob, now)
    assert isinstance(full, Refusal) and full.reason == "out_of_stock"
    streaks = []
    for day in (0, 1, 1, 3, 4, 5):
        outcome = run(checkins.check_in, ann, now + timedelta(days=day))
        streaks.append(
            outcome.detail["streak"] if isinstance(outcome, Participation) else outcome.reason
        )
    assert streaks == [1, 2, "already_checked_in", 1, 2, 3]
    with transaction(db) as session:
        rewards = activities.rewards_of(session=session, workspace_id=ws, activity_id=act)
    assert [(r.person_id, r.amount) for r in rewards] == [(ann, 30)]
