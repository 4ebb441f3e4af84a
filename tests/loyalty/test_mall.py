"""The points mall on SQLite and PostgreSQL: atomic redemption, stock, limits, coupon items."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.errors import ConflictError
from siyu.loyalty import mall, points, points_audit
from siyu.loyalty.ledger import NotEnoughPointsError
from siyu.loyalty.points_models import MallItemCreate
from tests.loyalty.test_coupons_service import template
from tests.loyalty.test_points import make_members

Factory = sessionmaker[Session]


def fund(db: Factory, ws: str, person: str, amount: int, now: datetime) -> None:
    with db() as s, s.begin():
        points.adjust_points(
            session=s, workspace_id=ws, person_id=person, points=amount,
            idempotency_key=f"fund-{person}", now=now,
        )  # fmt: skip


def redeem(db: Factory, ws: str, item: str, person: str, key: str, now: datetime) -> str | None:
    with db() as s, s.begin():
        done = mall.redeem(
            session=s, workspace_id=ws, item_id=item, person_id=person, idempotency_key=key,
            now=now,
        )  # fmt: skip
    return done.coupon_id


def test_redeem_goods_spends_and_takes_stock_once(db: Factory, now: datetime) -> None:
    ws, (p, q) = make_members(db, now)
    fund(db, ws, p, 350, now)
    fund(db, ws, q, 50, now)
    with db() as s, s.begin():
        item = mall.create_item(
            session=s, workspace_id=ws, now=now,
            item=MallItemCreate(name="保温杯", price_points=100, stock=5, per_person_limit=2),
        )  # fmt: skip
    redeem(db, ws, item.id, p, "r1", now)
    redeem(db, ws, item.id, p, "r1", now)  # a retry: nothing more spent
    redeem(db, ws, item.id, p, "r2", now)
    with pytest.raises(ConflictError) as limit:
        redeem(db, ws, item.id, p, "r3", now)
    assert limit.value.details["reason"] == "limit"
    with pytest.raises(NotEnoughPointsError):
        redeem(db, ws, item.id, q, "r4", now)
    with db() as s:
        assert points.get_account(session=s, workspace_id=ws, person_id=p).balance == 150
        assert points.get_account(session=s, workspace_id=ws, person_id=q).balance == 50
        assert mall.get_item(session=s, workspace_id=ws, item_id=item.id).stock == 3
        assert points_audit.verify(session=s).mismatches == []


def test_out_of_stock_rolls_the_spend_back_and_coupon_items_issue(
    db: Factory, now: datetime
) -> None:
    ws, (p, q) = make_members(db, now)
    fund(db, ws, p, 100, now)
    fund(db, ws, q, 100, now)
    tpl = template(db, ws, now)
    with db() as s, s.begin():
        item = mall.create_item(
            session=s, workspace_id=ws, now=now,
            item=MallItemCreate(name="20元券", kind="coupon", coupon_template_id=tpl,
                                price_points=60, stock=1),
        )  # fmt: skip
    assert redeem(db, ws, item.id, p, "c1", now) is not None
    with pytest.raises(ConflictError) as sold_out:
        redeem(db, ws, item.id, q, "c2", now)
    assert sold_out.value.details["reason"] == "out_of_stock"
    with db() as s:
        assert points.get_account(session=s, workspace_id=ws, person_id=q).balance == 100
