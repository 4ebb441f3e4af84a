"""Loyalty in the ingest flow, on SQLite and PostgreSQL: identify enrols, orders earn points
and growth (tier multiplier), refunds reverse, a retried batch earns nothing twice, and a
workspace without tiers is untouched."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from siyu import pipeline
from siyu.collect import normalize
from siyu.collect.models import IdType
from siyu.core.crypto import Vault
from siyu.core.db import transaction
from siyu.identity import service as identity
from siyu.loyalty import membership, points, points_audit
from siyu.loyalty.tier_models import TierLadder
from siyu.workspaces import service as workspaces

VAULT = Vault(base64.b64decode(base64.b64encode(b"k" * 32)))
LADDER = {
    "tiers": [
        {"code": "normal", "name": "普通会员", "min_growth": 0},
        {"code": "gold", "name": "金卡", "min_growth": 500, "points_multiplier_pct": 200},
    ]
}


def _ws(db: sessionmaker[Session], now: datetime, *, tiers: bool = True) -> str:
    with transaction(db) as session:
        ws_id = workspaces.create_workspace(session=session, name="品牌", now=now).workspace_id
        if tiers:
            membership.set_tiers(
                session=session,
                workspace_id=ws_id,
                ladder=TierLadder.model_validate(LADDER),
                now=now,
            )
    return ws_id


def _identify(mid: str, anon: str) -> dict[str, Any]:
    return {
        "type": "identify",
        "messageId": f"id-{mid}",
        "anonymousId": anon,
        "traits": {"member_id": mid},
    }


def _order(n: int, anon: str, yuan: str, event: str = "Order Completed") -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "messageId": f"{event}-{n}",
        "anonymousId": anon,
        "properties": {"order_id": f"O{n}", "revenue": yuan},
    }


def _ingest(
    db: sessionmaker[Session], ws: str, messages: list[dict[str, Any]], now: datetime
) -> int:
    events, rejected = normalize.parse_batch(messages, vault=VAULT, received_at=now)
    assert not rejected
    with transaction(db) as session:
        return pipeline.ingest_events(session=session, workspace_id=ws, events=events, now=now)


def _member(db: sessionmaker[Session], ws: str, now: datetime, mid: str) -> tuple[str, int, int]:
    with db() as session:
        person = identity.find_person(
            session=session,
            workspace_id=ws,
            identifier=normalize.make_identifier(VAULT, IdType.MEMBER_ID, mid, "m"),
        )
        assert person is not None
        member = membership.get_member(session=session, workspace_id=ws, person_id=person, now=now)
        account = points.get_account(session=session, workspace_id=ws, person_id=person)
        return member.tier, member.growth, account.balance


def test_identify_enrols_orders_earn_with_multiplier_and_refunds_reverse(
    db: sessionmaker[Session], now: datetime
) -> None:
    ws = _ws(db, now)
    batch = [_identify("M1", "a1"), _order(1, "a1", "300.00"), _order(2, "a1", "120.50")]
    assert _ingest(db, ws, batch, now) == 3
    tier, growth, balance = _member(db, ws, now, "M1")
    assert (tier, growth, balance) == ("normal", 420, 420)

    # crossing 500 growth makes gold: the next order earns double
    later = now + timedelta(minutes=5)
    _ingest(db, ws, [_order(3, "a1", "100.00")], later)
    tier, growth, balance = _member(db, ws, later, "M1")
    assert (tier, growth, balance) == ("gold", 520, 520)
    _ingest(db, ws, [_order(4, "a1", "50.00")], later)
    assert _member(db, ws, later, "M1") == ("gold", 570, 620)

    # a full refund of order 1 takes its 300 points and growth back
    refund = _order(1, "a1", "300.00", event="Order Refunded")
    _ingest(db, ws, [refund], later)
    assert _member(db, ws, later, "M1")[1:] == (270, 320)
    with db() as session:
        assert points_audit.verify(session=session, workspace_id=ws).mismatches == []


def test_a_retried_batch_earns_nothing_twice(db: sessionmaker[Session], now: datetime) -> None:
    ws = _ws(db, now)
    batch = [_identify("M2", "a2"), _order(10, "a2", "88.00")]
    assert _ingest(db, ws, batch, now) == 2
    assert _ingest(db, ws, batch, now) == 0  # same message ids: deduplicated
    # the same order again under new message ids (a re-sent order) earns nothing either
    resent = [{**m, "messageId": m["messageId"] + "-again"} for m in batch]
    assert _ingest(db, ws, resent, now) == 2
    assert _member(db, ws, now, "M2") == ("normal", 88, 88)


def test_non_members_and_unconfigured_workspaces_earn_nothing(
    db: sessionmaker[Session], now: datetime
) -> None:
    ws = _ws(db, now)
    _ingest(db, ws, [_order(20, "anon-only", "99.00")], now)
    bare = _ws(db, now, tiers=False)
    _ingest(db, bare, [_identify("M3", "a3"), _order(21, "a3", "99.00")], now)
    with db() as session:
        report = points_audit.verify(session=session, workspace_id=ws)
        assert report.accounts == 0
        assert points_audit.verify(session=session, workspace_id=bare).accounts == 0


def test_an_order_loyalty_cannot_take_is_skipped_not_fatal(
    db: sessionmaker[Session], now: datetime
) -> None:
    ws = _ws(db, now)
    odd = _order(30, "a4", "10.00")
    odd["properties"]["order_id"] = "X" * 500  # too long for an idempotency key
    refund_of_nothing = _order(31, "a4", "5.00", event="Order Refunded")
    batch = [_identify("M4", "a4"), odd, refund_of_nothing, _order(32, "a4", "20.00")]
    assert _ingest(db, ws, batch, now) == 4
    assert _member(db, ws, now, "M4") == ("normal", 20, 20)
