"""Racing redemptions: stock is never oversold, and a duplicated request redeems once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.errors import ConflictError
from siyu.loyalty import mall, points, points_audit
from siyu.loyalty.points_models import MallItemCreate
from siyu.loyalty.points_tables import mall_redemptions
from tests.loyalty.test_mall import fund
from tests.loyalty.test_points import make_members

Factory = sessionmaker[Session]
THREADS = 16


def test_sixteen_members_race_for_three_items(db: Factory, now: datetime) -> None:
    ws, ids = make_members(db, now, count=THREADS)
    for person in ids:
        fund(db, ws, person, 100, now)
    with db() as s, s.begin():
        item = mall.create_item(
            session=s, workspace_id=ws, now=now,
            item=MallItemCreate(name="限量杯", price_points=100, stock=3),
        )  # fmt: skip
    barrier = threading.Barrier(THREADS)

    def redeem(n: int) -> str:
        barrier.wait()
        try:
            with db() as s, s.begin():
                mall.redeem(
                    session=s, workspace_id=ws, item_id=item.id, person_id=ids[n],
                    idempotency_key=f"k{n}", now=now,
                )  # fmt: skip
        except ConflictError as exc:
            return str(exc.details.get("reason"))
        return "ok"

    with ThreadPoolExecutor(THREADS) as pool:
        outcomes = list(pool.map(redeem, range(THREADS)))
    assert outcomes.count("ok") == 3
    assert outcomes.count("out_of_stock") == THREADS - 3
    with db() as s:
        assert mall.get_item(session=s, workspace_id=ws, item_id=item.id).stock == 0
        balances = [
            points.get_account(session=s, workspace_id=ws, person_id=p).balance for p in ids
        ]
        assert sorted(balances) == [0] * 3 + [100] * (THREADS - 3)
        assert points_audit.verify(session=s).mismatches == []


def test_a_duplicated_request_redeems_once(db: Factory, now: datetime) -> None:
    ws, (p, _) = make_members(db, now)
    fund(db, ws, p, 1000, now)
    with db() as s, s.begin():
        item = mall.create_item(
            session=s, workspace_id=ws, now=now,
            item=MallItemCreate(name="贴纸", price_points=10, stock=100),
        )  # fmt: skip
    barrier = threading.Barrier(8)

    def redeem(_: int) -> str:
        barrier.wait()
        with db() as s, s.begin():
            return mall.redeem(
                session=s, workspace_id=ws, item_id=item.id, person_id=p,
                idempotency_key="same", now=now,
            ).id  # fmt: skip

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(redeem, range(8)))
    assert len(ids) == 1
    with db() as s:
        assert s.execute(select(func.count()).select_from(mall_redemptions)).scalar_one() == 1
        assert points.get_account(session=s, workspace_id=ws, person_id=p).balance == 990
        assert mall.get_item(session=s, workspace_id=ws, item_id=item.id).stock == 99
