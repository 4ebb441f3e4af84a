"""The expiry job and the verify report, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from siyu.loyalty import points, points_audit
from siyu.loyalty.points_models import EarnRules
from siyu.loyalty.points_tables import points_accounts
from tests.loyalty.test_points import make_members

Factory = sessionmaker[Session]


def test_expiry_takes_only_what_is_left_of_due_lots_and_verify_agrees(
    db: Factory, now: datetime
) -> None:
    ws, (p, q) = make_members(db, now)
    with db() as s, s.begin():
        points.set_rules(
            session=s, workspace_id=ws, rules=EarnRules(expiry_months=1, daily_caps={}), now=now
        )
        for i, person in enumerate([p, p, q]):
            points.earn_points(
                session=s,
                workspace_id=ws,
                person_id=person,
                points=100,
                reason="task",
                idempotency_key=f"e{i}",
                now=now + timedelta(days=40 * (i == 1)),
            )
        points.spend_points(
            session=s,
            workspace_id=ws,
            person_id=p,
            points=30,
            reason="mall",
            idempotency_key="s",
            now=now + timedelta(days=41),
        )
    later = now + timedelta(days=45)
    with db() as s, s.begin():
        report = points_audit.expire_due(session=s, now=later)
    with db() as s, s.begin():
        rerun = points_audit.expire_due(session=s, now=later)
    assert (report.lots, report.points) == (2, 170)
    assert rerun.lots == 0
    with db() as s:
        assert points.get_account(session=s, workspace_id=ws, person_id=p).balance == 100
        clean = points_audit.verify(session=s)
    assert clean.mismatches == [] and clean.accounts == 2 and clean.entries == 6
    with db() as s, s.begin():
        s.execute(update(points_accounts).where(points_accounts.c.person_id == q).values(balance=7))
    with db() as s:
        broken = points_audit.verify(session=s, workspace_id=ws)
    assert [(m.person_id, m.stored_balance, m.derived_balance) for m in broken.mismatches] == [
        (q, 7, 0)
    ]


def test_expiring_soon_lists_members_for_reminders(db: Factory, now: datetime) -> None:
    ws, (p, q) = make_members(db, now)
    with db() as s, s.begin():
        points.set_rules(
            session=s, workspace_id=ws, rules=EarnRules(expiry_months=1, daily_caps={}), now=now
        )
        points.adjust_points(session=s, workspace_id=ws, person_id=p, points=40,
                             idempotency_key="a", now=now)  # fmt: skip
        points.adjust_points(session=s, workspace_id=ws, person_id=q, points=60,
                             idempotency_key="b", now=now + timedelta(days=20))  # fmt: skip
    with db() as s:
        soon = points_audit.expiring_soon(
            session=s, workspace_id=ws, now=now + timedelta(days=25), within_days=10
        )
    assert [(e.person_id, e.points) for e in soon] == [(p, 40)]
