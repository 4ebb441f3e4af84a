"""The per-person limit (每人限领) on SQLite and PostgreSQL: what counts, merges, races."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from siyu.collect.models import Identifier, IdType
from siyu.core.db import transaction
from siyu.core.errors import ConflictError, SiyuError
from siyu.identity import service as identity
from siyu.loyalty import coupon_limits
from siyu.loyalty import coupon_service as coupons
from siyu.loyalty.coupon_models import Redemption
from siyu.workspaces import service as workspaces
from tests.loyalty.test_coupons_service import issue, persons, template


@pytest.fixture
def ws(db: sessionmaker[Session], now: datetime) -> str:
    with transaction(db) as session:
        return workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id


def _void(db: sessionmaker[Session], ws: str, coupon_id: str, now: datetime) -> None:
    with transaction(db) as session:
        coupons.void_coupon(
            session=session, workspace_id=ws, coupon_id=coupon_id, reason="mistake", now=now
        )


def _limit_reached(db: sessionmaker[Session], ws: str, tid: str, pid: str, now: datetime) -> None:
    with pytest.raises(ConflictError) as err:
        issue(db, ws, tid, pid, now)
    assert (err.value.details["reason"], err.value.field) == ("limit_reached", "person_id")


def test_used_and_expired_coupons_count_voided_ones_do_not(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    (a,) = persons(db, ws, now, 1)
    tid = template(db, ws, now, per_person_limit=2, valid_days=1, threshold_fen=0)
    used = issue(db, ws, tid, a, now)
    with transaction(db) as session:
        coupons.redeem_coupon(
            session=session,
            workspace_id=ws,
            coupon_id=used.id,
            redemption=Redemption(order_id="o1", order_amount_fen=5000),
            now=now,
        )
    issue(db, ws, tid, a, now)
    later = now + timedelta(days=2)
    with transaction(db) as session:
        assert coupons.expire_coupons(session=session, workspace_id=ws, now=later).expired == 1
    _limit_reached(db, ws, tid, a, later)  # one redeemed + one expired = 2

    other = template(db, ws, now, per_person_limit=1)
    wrong = issue(db, ws, other, a, now)
    _limit_reached(db, ws, other, a, now)
    _void(db, ws, wrong.id, now)
    again = issue(db, ws, other, a, now)  # the voided one gave its place back
    _limit_reached(db, ws, other, a, now)
    with transaction(db) as session:
        assert coupons.get_template(session=session, workspace_id=ws, template_id=other).issued == 2
        assert (
            coupon_limits.counted(session=session, workspace_id=ws, template_id=other, person_id=a)
            == 1
        )
    assert again.person_id == a


def test_the_limit_spans_merged_persons(db: sessionmaker[Session], ws: str, now: datetime) -> None:
    with transaction(db) as session:
        a, b = identity.resolve_batch(
            session=session,
            workspace_id=ws,
            links=[[Identifier(IdType.USER_ID, "u1")], [Identifier(IdType.ANONYMOUS_ID, "anon")]],
            message_ids=["m1", "m2"],
            now=now,
        )
    assert a != b
    tid = template(db, ws, now, per_person_limit=1)
    issue(db, ws, tid, b, now)  # the anonymous visitor claims first
    with transaction(db) as session:
        identity.resolve_batch(
            session=session,
            workspace_id=ws,
            links=[[Identifier(IdType.USER_ID, "u1"), Identifier(IdType.ANONYMOUS_ID, "anon")]],
            message_ids=["m3"],
            now=now,
        )
        survivor = identity.current_person_id(session=session, workspace_id=ws, person_id=a)
    assert survivor == identity_current(db, ws, b)
    _limit_reached(db, ws, tid, a, now)  # logging in does not earn a second one


def identity_current(db: sessionmaker[Session], ws: str, person_id: str) -> str:
    with transaction(db) as session:
        return identity.current_person_id(session=session, workspace_id=ws, person_id=person_id)


@pytest.mark.postgres
def test_racing_claims_for_the_last_allowed_one(
    db: sessionmaker[Session], ws: str, now: datetime
) -> None:
    if db.kw["bind"].dialect.name != "postgresql":
        pytest.skip("the race is proven on PostgreSQL")
    (a,) = persons(db, ws, now, 1)
    tid = template(db, ws, now, per_person_limit=3)
    kept = issue(db, ws, tid, a, now)
    voided = issue(db, ws, tid, a, now)
    _void(db, ws, voided.id, now)
    # One place is used (the voided one is not counted): 2 remain for 8 racing claims.
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        try:
            with transaction(db) as session:
                coupons.claim_coupon(
                    session=session, workspace_id=ws, template_id=tid, person_id=a, now=now
                )
            result = "ok"
        except SiyuError as exc:
            result = str(exc.details.get("reason"))
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["limit_reached"] * 6 + ["ok"] * 2
    with transaction(db) as session:
        held = coupons.list_coupons(session=session, workspace_id=ws, now=now, template_id=tid)
    live = [c for c in held if c.status.value != "voided"]
    assert len(live) == 3
    assert kept.id in {c.id for c in live}
