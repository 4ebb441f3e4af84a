"""Membership on SQLite and PostgreSQL: enrol by member_id, growth, upgrade coupons, paid
terms, period-end downgrade, history and the distribution board."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import Identifier, IdType
from siyu.core.db import transaction
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.identity import service as identity
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty import membership, points
from siyu.loyalty.coupon_models import CouponTemplateCreate
from siyu.loyalty.tier_models import GrowthCreate, MemberEnrol, PaidMembershipCreate, TierLadder
from siyu.workspaces import service as workspaces


@pytest.fixture
def ws(db: sessionmaker[Session], now: datetime) -> str:
    with transaction(db) as session:
        ws_id = workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id
        identity.resolve_batch(
            session=session,
            workspace_id=ws_id,
            links=[[Identifier(IdType.MEMBER_ID, f"M{i}")] for i in range(3)],
            message_ids=[f"m{i}" for i in range(3)],
            now=now,
        )
        gift = coupons.create_template(
            session=session,
            workspace_id=ws_id,
            template=CouponTemplateCreate(name="升级礼", kind="amount_off", amount_off_fen=1000),
            now=now,
        )
        membership.set_tiers(
            session=session,
            workspace_id=ws_id,
            ladder=TierLadder.model_validate(
                {
                    "policy": {"window_days": 365, "period_days": 365, "grace_days": 30},
                    "tiers": [
                        {"code": "silver", "name": "银卡", "min_growth": 0},
                        {
                            "code": "gold",
                            "name": "金卡",
                            "min_growth": 1000,
                            "points_multiplier_pct": 150,
                            "upgrade_coupon_template_ids": [gift.id],
                        },
                        {
                            "code": "black",
                            "name": "黑卡",
                            "min_growth": 5000,
                            "free_shipping": True,
                            "fee_fen": 19900,
                            "term_days": 365,
                        },
                    ],
                }
            ),
            now=now,
        )
    return ws_id


def test_enrol_grow_upgrade_downgrade(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    with transaction(db) as session:
        member = membership.enrol_member(
            session=session, workspace_id=ws, enrol=MemberEnrol(member_id="M0"), now=now
        )
        assert (member.tier, member.member_no) == ("silver", "M0")
        again = membership.enrol_member(
            session=session, workspace_id=ws, enrol=MemberEnrol(person_id=member.person_id), now=now
        )
        assert again.person_id == member.person_id
        with pytest.raises(NotFoundError) as err:
            membership.enrol_member(
                session=session, workspace_id=ws, enrol=MemberEnrol(member_id="nope"), now=now
            )
        assert err.value.field == "member_id"
    pid = member.person_id
    grow = GrowthCreate(amount=1200, reason="order o1")
    with transaction(db) as session:
        up = membership.add_growth(
            session=session,
            workspace_id=ws,
            person_id=pid,
            growth=grow,
            now=now,
            idempotency_key="o1",
        )
        repeat = membership.add_growth(
            session=session,
            workspace_id=ws,
            person_id=pid,
            growth=grow,
            now=now,
            idempotency_key="o1",
        )
    assert (up.tier, up.growth, repeat.growth) == ("gold", 1200, 1200)
    assert up.benefits is not None and up.benefits.points_multiplier_pct == 150
    with transaction(db) as session:
        held = coupons.list_coupons(session=session, workspace_id=ws, now=now, person_id=pid)
    assert [c.source for c in held] == ["upgrade"]
    late = now + timedelta(days=400)
    with transaction(db) as session:
        result = membership.refresh_members(session=session, workspace_id=ws, now=late)
        assert result.downgraded == 1
        history = membership.tier_history(session=session, workspace_id=ws, person_id=pid)
    assert [(h.change.value, h.to_tier) for h in history] == [
        ("enrol", "silver"),
        ("upgrade", "gold"),
        ("downgrade", "silver"),
    ]


def test_paid_membership_and_distribution(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        rows = [MemberEnrol(member_id=f"M{i}") for i in range(3)] + [MemberEnrol(member_id="ghost")]
        counts = membership.enrol_many(session=session, workspace_id=ws, rows=rows, now=now)
        assert counts == {"enrolled": 3, "already": 0, "unknown": 1, "conflict": 0}
        pid = membership.enrol_member(
            session=session, workspace_id=ws, enrol=MemberEnrol(member_id="M1"), now=now
        ).person_id
        with pytest.raises(InvalidInputError):
            membership.buy_membership(
                session=session,
                workspace_id=ws,
                person_id=pid,
                purchase=PaidMembershipCreate(tier="gold"),
                now=now,
            )
        term = membership.buy_membership(
            session=session,
            workspace_id=ws,
            person_id=pid,
            purchase=PaidMembershipCreate(tier="black"),
            now=now,
            idempotency_key="buy-1",
        )
        assert term.fee_fen == 19900
        assert (
            membership.buy_membership(
                session=session,
                workspace_id=ws,
                person_id=pid,
                purchase=PaidMembershipCreate(tier="black"),
                now=now,
                idempotency_key="buy-1",
            )
            == term
        )
        renewal = membership.buy_membership(
            session=session,
            workspace_id=ws,
            person_id=pid,
            purchase=PaidMembershipCreate(tier="black"),
            now=now,
        )
        assert renewal.starts_at == term.ends_at
        member = membership.get_member(session=session, workspace_id=ws, person_id=pid, now=now)
        assert (member.tier, member.paid_until) == ("black", renewal.ends_at)
        board = membership.distribution(session=session, workspace_id=ws, now=now)
    assert board.total == 3
    assert {t.tier: t.members for t in board.tiers} == {"silver": 2, "gold": 0, "black": 1}
    assert board.paid_active == 1


def test_birthday_gift_once_a_year_and_multiplier(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    with transaction(db) as session:
        ladder = membership.get_tiers(session=session, workspace_id=ws)
        ladder.tiers[1].birthday_points = 200
        membership.set_tiers(session=session, workspace_id=ws, ladder=ladder, now=now)
        pid = membership.enrol_member(
            session=session, workspace_id=ws, enrol=MemberEnrol(member_id="M2"), now=now
        ).person_id
        assert (
            membership.points_multiplier_pct(session=session, workspace_id=ws, person_id=pid) == 100
        )
        membership.add_growth(
            session=session,
            workspace_id=ws,
            person_id=pid,
            growth=GrowthCreate(amount=1000, reason="order"),
            now=now,
        )
        assert (
            membership.points_multiplier_pct(session=session, workspace_id=ws, person_id=pid) == 150
        )
    for _ in range(2):
        with transaction(db) as session:
            gift = membership.grant_birthday_gift(
                session=session, workspace_id=ws, person_id=pid, now=now
            )
    assert (gift.tier, gift.points) == ("gold", 200)
    with transaction(db) as session:
        result = points.earn_points(
            session=session,
            workspace_id=ws,
            person_id=pid,
            points=1,
            reason="probe",
            idempotency_key="probe",
            now=now,
        )
    assert result.balance == 201
