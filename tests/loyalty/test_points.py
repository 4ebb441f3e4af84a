"""The points service on SQLite and PostgreSQL: earn, spend FIFO, retries, caps, refunds."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.identity.tables import identity_persons
from siyu.loyalty import points
from siyu.loyalty.ledger import NotEnoughPointsError
from siyu.loyalty.points_models import EarnRules
from siyu.workspaces import service as workspaces

Factory = sessionmaker[Session]


def make_members(db: Factory, now: datetime, count: int = 2) -> tuple[str, list[str]]:
    """A workspace and ``count`` persons in it."""
    with db() as session, session.begin():
        ws = workspaces.create_workspace(session=session, name="积分", now=now).workspace_id
        ids = [f"p_{i}" for i in range(count)]
        session.execute(
            identity_persons.insert(),
            [
                {"id": p, "workspace_id": ws, "rank": i, "created_at": now}
                for i, p in enumerate(ids)
            ],
        )
    return ws, ids


def test_earn_then_spend_fifo_and_retry_returns_the_original(db: Factory, now: datetime) -> None:
    ws, (p, _) = make_members(db, now)
    with db() as s, s.begin():
        first = points.earn_points(
            session=s,
            workspace_id=ws,
            person_id=p,
            points=100,
            reason="task",
            idempotency_key="e1",
            now=now,
            rules=EarnRules(daily_caps={}),
        )
        points.earn_points(
            session=s,
            workspace_id=ws,
            person_id=p,
            points=50,
            reason="task",
            idempotency_key="e2",
            now=now + timedelta(seconds=1),
            rules=EarnRules(daily_caps={}),
        )
    with db() as s, s.begin():
        again = points.earn_points(
            session=s,
            workspace_id=ws,
            person_id=p,
            points=100,
            reason="task",
            idempotency_key="e1",
            now=now,
            rules=EarnRules(daily_caps={}),
        )
        spent = points.spend_points(
            session=s,
            workspace_id=ws,
            person_id=p,
            points=120,
            reason="mall",
            idempotency_key="s1",
            now=now,
        )
    assert again.replayed and again.entry == first.entry
    assert spent.balance == 30
    with db() as s:
        account = points.get_account(session=s, workspace_id=ws, person_id=p)
    assert [(lot.amount, lot.remaining) for lot in account.lots] == [(50, 30)]
    with db() as s, s.begin(), pytest.raises(NotEnoughPointsError) as caught:
        points.spend_points(
            session=s,
            workspace_id=ws,
            person_id=p,
            points=31,
            reason="mall",
            idempotency_key="s2",
            now=now,
        )
    assert caught.value.field == "points"


def test_errors_name_the_problem(db: Factory, now: datetime) -> None:
    ws, (p, q) = make_members(db, now)
    with db() as s, s.begin(), pytest.raises(NotFoundError):
        points.spend_points(
            session=s,
            workspace_id=ws,
            person_id="p_nobody",
            points=1,
            reason="mall",
            idempotency_key="x",
            now=now,
        )
    with db() as s, s.begin(), pytest.raises(InvalidInputError):
        points.earn_points(
            session=s,
            workspace_id=ws,
            person_id=p,
            points=0,
            reason="task",
            idempotency_key="x",
            now=now,
        )
    with db() as s, s.begin():
        points.adjust_points(
            session=s, workspace_id=ws, person_id=p, points=5, idempotency_key="k", now=now
        )
    with db() as s, s.begin(), pytest.raises(ConflictError):
        points.adjust_points(
            session=s, workspace_id=ws, person_id=q, points=5, idempotency_key="k", now=now
        )


def test_daily_cap_check_in_streak_and_refund(db: Factory, now: datetime) -> None:
    ws, (p, _) = make_members(db, now)
    with db() as s, s.begin():
        awards = [
            points.reward(
                session=s,
                workspace_id=ws,
                person_id=p,
                reason="share",
                idempotency_key=f"sh{i}",
                now=now,
            )
            for i in range(6)
        ]
    assert [a.entry.amount if a.entry else 0 for a in awards] == [5, 5, 5, 5, 0, 0]
    streaks = []
    for day in range(8):
        with db() as s, s.begin():
            streaks.append(
                points.check_in(
                    session=s, workspace_id=ws, person_id=p, now=now + timedelta(days=day)
                )
            )
    with db() as s, s.begin():
        again = points.check_in(
            session=s, workspace_id=ws, person_id=p, now=now + timedelta(days=7)
        )
    assert [c.streak for c in streaks] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert streaks[6].result.entry is not None and streaks[6].result.entry.amount == 25
    assert again.result.replayed and again.streak == 8
    with db() as s, s.begin():
        order = points.earn_for_order(
            session=s,
            workspace_id=ws,
            person_id=p,
            order_id="o1",
            amount_fen=19_990,
            now=now,
            multiplier_pct=150,
        )
        half = points.reverse_order(
            session=s,
            workspace_id=ws,
            person_id=p,
            order_id="o1",
            refund_id="r1",
            now=now,
            refund_fen=9_995,
            order_fen=19_990,
        )
        rest = points.reverse_order(
            session=s, workspace_id=ws, person_id=p, order_id="o1", refund_id="r2", now=now
        )
    assert order.entry is not None and order.entry.amount == 299
    assert half.entry is not None and half.entry.amount == -149
    assert rest.entry is not None and rest.entry.amount == -150
