"""Moving a merged-away person's membership and points to the survivor, on SQLite and
PostgreSQL: both members, lots with their own expiry, and a rerun that moves nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.db import transaction
from siyu.loyalty import membership, points, points_audit, points_transfer, tier_merge
from siyu.loyalty.points_models import EarnRules
from siyu.loyalty.points_tables import points_entries, points_lots
from siyu.loyalty.tier_models import GrowthCreate, MemberEnrol, TierLadder
from siyu.loyalty.tier_tables import member_growth, members
from tests.loyalty.test_points_pg import make_members

Factory = sessionmaker[Session]
LADDER = {
    "tiers": [
        {"code": "normal", "name": "普通", "min_growth": 0},
        {"code": "gold", "name": "金卡", "min_growth": 500},
    ]
}


def _two_members(db: Factory, now: datetime) -> tuple[str, str, str]:
    ws, (a, b) = make_members(db, now, 2)
    with transaction(db) as s:
        membership.set_tiers(
            session=s, workspace_id=ws, ladder=TierLadder.model_validate(LADDER), now=now
        )
        for person, no, growth in ((a, "A1", 100), (b, "B1", 450)):
            membership.enrol_member(
                session=s, workspace_id=ws, enrol=MemberEnrol(person_id=person, member_id=no),
                now=now - timedelta(days=3 if person == b else 1),
            )  # fmt: skip
            membership.add_growth(
                session=s, workspace_id=ws, person_id=person,
                growth=GrowthCreate(amount=growth, reason="order", at=now - timedelta(hours=1)),
                now=now, idempotency_key=f"g-{no}",
            )  # fmt: skip
    return ws, a, b


def test_both_members_become_one_with_the_growth_of_both(db: Factory, now: datetime) -> None:
    ws, a, b = _two_members(db, now)
    for _ in range(2):  # the second run moves nothing
        with transaction(db) as s:
            tier_merge.move_membership(session=s, workspace_id=ws, from_person=b, to_person=a,
                                       merge_key="merge:7", now=now)  # fmt: skip
    with db() as s:
        rows = s.execute(select(members.c.person_id, members.c.member_no, members.c.enrolled_at)
                         .where(members.c.workspace_id == ws)).all()  # fmt: skip
        assert [(r[0], r[1]) for r in rows] == [(a, "A1")]
        assert rows[0][2] == now - timedelta(days=3)  # the earlier enrolment counts
        member = membership.get_member(session=s, workspace_id=ws, person_id=a, now=now)
        assert (member.tier, member.growth) == ("gold", 550)
        g = member_growth.c
        query = select(g.person_id, func.sum(g.amount)).where(g.workspace_id == ws)
        sums = dict(s.execute(query.group_by(g.person_id)).all())
        assert sums == {a: 550, b: 0}
        history = membership.tier_history(session=s, workspace_id=ws, person_id=a)
        assert [h.change.value for h in history].count("enrol") == 2  # both enrolments kept
        assert history[-1].to_tier == "gold"


def test_lots_move_with_their_own_expiry(db: Factory, now: datetime) -> None:
    ws, (a, b) = make_members(db, now, 2)
    with transaction(db) as s:
        points.set_rules(session=s, workspace_id=ws, rules=EarnRules(expiry_months=1), now=now)
        for n, person in enumerate((b, b, a)):
            points.earn_points(session=s, workspace_id=ws, person_id=person, points=10 * (n + 1),
                               reason="task", idempotency_key=f"e{n}",
                               now=now + timedelta(days=40 * n))  # fmt: skip
        points.spend_points(session=s, workspace_id=ws, person_id=b, points=5, reason="mall",
                            idempotency_key="s", now=now + timedelta(days=81))  # fmt: skip
    later = now + timedelta(days=82)
    for _ in range(2):
        with transaction(db) as s:
            moved = points_transfer.move_points(
                session=s, workspace_id=ws, from_person=b, to_person=a, merge_key="merge:9",
                now=later,
            )  # fmt: skip
    assert moved.points == 0  # the rerun
    with db() as s:
        lot = points_lots.c
        open_lots = s.execute(select(lot.person_id, lot.remaining, lot.expires_at)
                              .where(lot.workspace_id == ws, lot.remaining > 0)
                              .order_by(lot.id)).all()  # fmt: skip
        assert [r[0] for r in open_lots] == [a, a, a]
        assert sorted(r[1] for r in open_lots) == [5, 20, 30]
        expiries = s.execute(select(lot.expires_at).where(lot.person_id == b)
                             .order_by(lot.id)).scalars().all()  # fmt: skip
        assert sorted(r[2] for r in open_lots if r[1] in (5, 20)) == sorted(expiries)
        e = points_entries.c
        merged = select(func.sum(e.amount)).where(e.workspace_id == ws, e.reason == "merge")
        assert s.execute(merged).scalar_one() == 0
        assert points.get_account(session=s, workspace_id=ws, person_id=a).balance == 55
        assert points.get_account(session=s, workspace_id=ws, person_id=b).balance == 0
        assert points_audit.verify(session=s, workspace_id=ws).mismatches == []
