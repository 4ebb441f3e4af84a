"""Coupons on SQLite and PostgreSQL: issue, limits, stock, bulk, redeem, void, expire."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import Identifier, IdType
from siyu.core.db import transaction
from siyu.core.errors import ConflictError, NotFoundError, SiyuError
from siyu.identity import service as identity
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty.coupon_models import Coupon, CouponStatus, CouponTemplateCreate, Redemption
from siyu.segments import service as segments
from siyu.segments.models import SegmentCreate
from siyu.workspaces import service as workspaces


@pytest.fixture
def ws(db: sessionmaker[Session], now: datetime) -> str:
    with transaction(db) as session:
        return workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id


def persons(db: sessionmaker[Session], ws: str, now: datetime, count: int) -> list[str]:
    keys = [f"M{i:04d}" for i in range(count)]
    with transaction(db) as session:
        return identity.resolve_batch(
            session=session,
            workspace_id=ws,
            links=[[Identifier(IdType.MEMBER_ID, k)] for k in keys],
            message_ids=[f"m-{k}" for k in keys],
            now=now,
        )


def template(db: sessionmaker[Session], ws: str, now: datetime, **fields: object) -> str:
    spec = {
        "name": "满100减20",
        "kind": "amount_off",
        "amount_off_fen": 2000,
        "threshold_fen": 10000,
    }
    spec.update(fields)
    with transaction(db) as session:
        return coupons.create_template(
            session=session,
            workspace_id=ws,
            template=CouponTemplateCreate.model_validate(spec),
            now=now,
        ).id


def issue(
    db: sessionmaker[Session], ws: str, tid: str, pid: str, now: datetime, key: str | None = None
) -> Coupon:
    with transaction(db) as session:
        return coupons.issue_coupon(
            session=session,
            workspace_id=ws,
            template_id=tid,
            person_id=pid,
            now=now,
            idempotency_key=key,
            source="issue",
        )


def test_issue_is_idempotent_and_respects_limit_and_stock(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    a, b = persons(db, ws, now, 2)
    tid = template(db, ws, now, per_person_limit=1, stock=2, valid_days=7)
    first = issue(db, ws, tid, a, now, key="k1")
    assert issue(db, ws, tid, a, now, key="k1") == first
    assert first.valid_until == now + timedelta(days=7)
    with pytest.raises(ConflictError) as err:
        issue(db, ws, tid, a, now)
    assert err.value.details["reason"] == "limit_reached"
    issue(db, ws, tid, b, now)
    c = persons(db, ws, now, 3)[2]
    with pytest.raises(ConflictError) as err:
        issue(db, ws, tid, c, now)
    assert err.value.details["reason"] == "out_of_stock"
    with transaction(db) as session:
        assert coupons.get_template(session=session, workspace_id=ws, template_id=tid).issued == 2
    with pytest.raises(NotFoundError):
        issue(db, ws, "ct_missing", a, now)
    with pytest.raises(NotFoundError):
        issue(db, ws, tid, "p_missing", now)


def test_redeem_void_and_expire(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    (a,) = persons(db, ws, now, 1)
    tid = template(db, ws, now, valid_days=3)
    one, two, three = (issue(db, ws, tid, a, now) for _ in range(3))
    order = Redemption(order_id="o1", order_amount_fen=12000)
    with transaction(db) as session:
        with pytest.raises(ConflictError) as err:
            coupons.redeem_coupon(
                session=session,
                workspace_id=ws,
                coupon_id=one.id,
                redemption=Redemption(order_id="o0", order_amount_fen=9000),
                now=now,
            )
        assert err.value.details["reason"] == "under_threshold"
    with transaction(db) as session:
        done = coupons.redeem_coupon(
            session=session, workspace_id=ws, coupon_id=one.id, redemption=order, now=now
        )
    assert (done.discount_fen, done.payable_fen) == (2000, 10000)
    with transaction(db) as session:
        again = coupons.redeem_coupon(
            session=session,
            workspace_id=ws,
            coupon_id=one.id,
            redemption=order,
            now=now + timedelta(hours=1),
        )
        assert again == done
        with pytest.raises(ConflictError):
            coupons.redeem_coupon(
                session=session,
                workspace_id=ws,
                coupon_id=one.id,
                redemption=Redemption(order_id="o2", order_amount_fen=12000),
                now=now,
            )
        with pytest.raises(ConflictError):
            coupons.void_coupon(
                session=session, workspace_id=ws, coupon_id=one.id, reason=None, now=now
            )
        voided = coupons.void_coupon(
            session=session, workspace_id=ws, coupon_id=two.id, reason="误发", now=now
        )
        assert voided.status is CouponStatus.VOIDED
    later = now + timedelta(days=4)
    with transaction(db) as session:
        with pytest.raises(ConflictError) as err:
            coupons.redeem_coupon(
                session=session, workspace_id=ws, coupon_id=three.id, redemption=order, now=later
            )
        assert err.value.details["reason"] == "expired"
    with transaction(db) as session:
        assert coupons.expire_coupons(session=session, workspace_id=ws, now=later).expired == 1
        held = coupons.list_coupons(session=session, workspace_id=ws, now=later, person_id=a)
    assert sorted(c.status.value for c in held) == ["expired", "redeemed", "voided"]


def test_bulk_issue_to_a_segment_is_retry_safe(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    people = persons(db, ws, now, 5)
    tid = template(db, ws, now, stock=4)
    with transaction(db) as session:
        seg = segments.create_segment(
            session=session,
            workspace_id=ws,
            segment=SegmentCreate.model_validate(
                {"name": "all", "definition": {"type": "trait", "name": "x", "op": "exists"}}
            ),
            now=now,
        )
        segments.store_members(
            session=session, workspace_id=ws, segment_id=seg.id, person_ids=people[:3], now=now
        )
    with transaction(db) as session:
        first = coupons.issue_to_segment(
            session=session,
            workspace_id=ws,
            template_id=tid,
            segment_id=seg.id,
            now=now,
            idempotency_key="b1",
        )
    assert (first.issued, first.already) == (3, 0)
    with transaction(db) as session:
        segments.store_members(
            session=session, workspace_id=ws, segment_id=seg.id, person_ids=people, now=now
        )
        second = coupons.issue_to_segment(
            session=session,
            workspace_id=ws,
            template_id=tid,
            segment_id=seg.id,
            now=now,
            idempotency_key="b1",
        )
    assert (second.issued, second.already, second.out_of_stock) == (1, 3, 1)


@pytest.mark.postgres
def test_concurrent_claims_never_oversell(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    if db.kw["bind"].dialect.name != "postgresql":
        pytest.skip("the race is proven on PostgreSQL")
    people = persons(db, ws, now, 24)
    stock = 5
    tid = template(db, ws, now, stock=stock, per_person_limit=1)
    # Two threads per person for the first 8: the per-person limit races too.
    claimants = people + people[:8]
    barrier = threading.Barrier(len(claimants))
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim(pid: str) -> None:
        barrier.wait()
        try:
            with transaction(db) as session:
                coupons.claim_coupon(
                    session=session, workspace_id=ws, template_id=tid, person_id=pid, now=now
                )
            result = "ok"
        except SiyuError as exc:
            result = str(exc.details.get("reason"))
        except (IntegrityError, OperationalError) as exc:  # pragma: no cover - would be a bug
            result = type(exc).__name__
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim, args=(p,)) for p in claimants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimants) >= 16
    assert outcomes.count("ok") == stock
    assert set(outcomes) <= {"ok", "out_of_stock", "limit_reached"}
    with transaction(db) as session:
        assert (
            coupons.get_template(session=session, workspace_id=ws, template_id=tid).issued == stock
        )
        held = coupons.list_coupons(session=session, workspace_id=ws, now=now, template_id=tid)
    assert len(held) == stock
    assert len({c.person_id for c in held}) == stock
