"""Pausing, resuming and ending an activity (the console's buttons) on both stores."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.activities import service as activities
from siyu.activities.models import ActionCreate, Participation, Refusal
from siyu.core.db import transaction
from siyu.workspaces import service as workspaces
from tests.activities.helpers import create, persons

POOL = [{"name": "10 积分", "kind": "points", "amount": 10, "weight": 1, "cost_fen": 10}]


@pytest.fixture
def ws(db: sessionmaker[Session], now: datetime) -> str:
    with transaction(db) as session:
        return workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id


def _draw(db: sessionmaker[Session], ws: str, act: str, who: str, now: datetime) -> object:
    with transaction(db) as session:
        return activities.draw(
            session=session, workspace_id=ws, activity_id=act,
            request=ActionCreate(person_id=who), now=now,
        )  # fmt: skip


def test_a_paused_activity_refuses_until_resumed(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        (ann,) = persons(session, ws, ["ann"], now - timedelta(days=30))
        act = create(session, ws, now, name="抽奖", kind="lottery", prizes=POOL).id
        paused = activities.set_paused(
            session=session, workspace_id=ws, activity_id=act, paused=True
        )
    assert paused.paused
    refused = _draw(db, ws, act, ann, now)
    assert isinstance(refused, Refusal) and refused.reason == "paused"
    with transaction(db) as session:
        stored = activities.get_activity(session=session, workspace_id=ws, activity_id=act)
        assert stored.paused and stored.prizes[0].name == "10 积分"
        activities.set_paused(session=session, workspace_id=ws, activity_id=act, paused=False)
    assert isinstance(_draw(db, ws, act, ann, now), Participation)


def test_ending_moves_the_end_to_now_and_refuses_after(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        (ann,) = persons(session, ws, ["ann"], now - timedelta(days=30))
        act = create(session, ws, now, name="抽奖", kind="lottery", prizes=POOL).id
        later = create(
            session, ws, now, name="下周", kind="lottery", prizes=POOL,
            starts_at=now + timedelta(days=7), ends_at=now + timedelta(days=14),
        ).id  # fmt: skip
        ended = activities.end_activity(session=session, workspace_id=ws, activity_id=act, now=now)
        early = activities.end_activity(
            session=session, workspace_id=ws, activity_id=later, now=now
        )
    assert ended.ends_at == now
    assert early.ends_at == now and early.starts_at < now
    refused = _draw(db, ws, act, ann, now)
    assert isinstance(refused, Refusal) and refused.reason == "ended"
    with transaction(db) as session:
        stored = activities.get_activity(session=session, workspace_id=ws, activity_id=later)
        again = activities.end_activity(
            session=session, workspace_id=ws, activity_id=act, now=now + timedelta(hours=1)
        )
    assert stored.ends_at == now and again.ends_at == now
