"""Bulk loyalty in ingest gives the same members, points, growth, history and coupons as the
event-by-event path on the same events, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu import pipeline
from siyu.collect import normalize
from siyu.core.db import transaction
from siyu.identity import service as identity
from siyu.loyalty import coupon_service, membership, points_audit
from siyu.loyalty.coupon_models import CouponTemplateCreate
from siyu.loyalty.coupon_tables import coupons
from siyu.loyalty.coupons import DiscountKind
from siyu.loyalty.points_tables import points_entries, points_lots
from siyu.loyalty.tier_models import TierLadder
from siyu.loyalty.tier_tables import member_growth, member_tier_history, members
from siyu.workspaces import service as workspaces
from tests.loyalty.test_flow import VAULT, _identify, _order

Factory = sessionmaker[Session]


def _messages(now: datetime) -> list[dict[str, Any]]:
    """Members crossing tiers inside the batch, re-sent orders, an
    order before enrolment, a non-member's order, zero and too-long orders."""
    msgs: list[dict[str, Any]] = [_order(1, "early", "50.00"), _identify("E1", "early")]
    msgs += [_identify(f"M{n}", f"a{n}") for n in range(6)]
    msgs += [_identify("M0", "again"), _order(2, "again", "10.00")]  # M0's person again
    amounts = ["300.00", "250.00", "120.00", "900.00", "30.50", "2000.00"]
    for n in range(18):
        msgs.append(_order(100 + n, f"a{n % 6}", amounts[n % 6]))
    msgs.append({**_order(100, "a0", "300.00"), "messageId": "resent-100"})  # same order again
    msgs.append(_order(200, "nobody", "99.00"))
    msgs.append(_order(201, "a1", "0.00"))
    long_order = _order(202, "a2", "10.00")
    long_order["properties"]["order_id"] = "X" * 300
    msgs.append(long_order)
    for n, m in enumerate(msgs):
        m["timestamp"] = (now - timedelta(days=40) + timedelta(hours=n)).isoformat()
    return msgs


def _workspace(db: Factory, now: datetime, messages: list[dict[str, Any]]) -> str:
    with transaction(db) as s:
        ws = workspaces.create_workspace(session=s, name="批量", now=now).workspace_id
    events, rejected = normalize.parse_batch(messages, vault=VAULT, received_at=now)
    assert not rejected
    with transaction(db) as s:  # persons exist before the programme
        pipeline.ingest_events(session=s, workspace_id=ws, events=events, now=now)
    with transaction(db) as s:
        gift = coupon_service.create_template(
            session=s, workspace_id=ws, now=now,
            template=CouponTemplateCreate(name="升级礼", kind=DiscountKind.AMOUNT_OFF,
                                          amount_off_fen=1000, valid_days=30),
        )  # fmt: skip
        ladder = {
            "tiers": [
                {"code": "normal", "name": "普通", "min_growth": 0},
                {"code": "silver", "name": "银卡", "min_growth": 400, "points_multiplier_pct": 120,
                 "upgrade_coupon_template_ids": [gift.id]},
                {"code": "gold", "name": "金卡", "min_growth": 1000, "points_multiplier_pct": 200,
                 "upgrade_coupon_template_ids": [gift.id]},
            ]
        }  # fmt: skip
        membership.set_tiers(
            session=s, workspace_id=ws, ladder=TierLadder.model_validate(ladder), now=now
        )
    return ws


def _run(db: Factory, now: datetime, *, bulk: bool) -> tuple[str, Any]:
    messages = _messages(now)
    ws = _workspace(db, now, messages)
    events, _ = normalize.parse_batch(messages, vault=VAULT, received_at=now)
    with transaction(db) as s:
        persons = identity.resolve_batch(
            session=s, workspace_id=ws, links=[e.identifiers for e in events],
            message_ids=[e.message_id for e in events], now=now,
        )  # fmt: skip
        pipeline.apply_loyalty(
            session=s, workspace_id=ws, events=events, person_ids=persons, now=now, bulk=bulk
        )
    return ws, _snapshot(db, ws)


def _snapshot(db: Factory, ws: str) -> dict[str, Any]:
    """Everything loyalty wrote, by member number instead of (random) person id."""
    with db() as s:
        number = dict(
            s.execute(
                select(members.c.person_id, members.c.member_no).where(members.c.workspace_id == ws)
            ).all()
        )

        def rows(query: Any) -> list[tuple[Any, ...]]:
            return sorted(tuple(number.get(v, v) for v in r) for r in s.execute(query))

        e, lot, g, h = points_entries.c, points_lots.c, member_growth.c, member_tier_history.c
        m, c = members.c, coupons.c
        return {
            "members": rows(select(m.person_id, m.tier, m.growth, m.tier_since, m.downgrade_at,
                                   m.source).where(m.workspace_id == ws)),
            "entries": rows(select(e.person_id, e.kind, e.amount, e.reason, e.source,
                                   e.idempotency_key, e.balance_after, e.expires_at)
                            .where(e.workspace_id == ws)),
            "lots": rows(select(lot.person_id, lot.amount, lot.remaining, lot.expires_at)
                         .where(lot.workspace_id == ws)),
            "growth": rows(select(g.person_id, g.amount, g.reason, g.at, g.idempotency_key)
                           .where(g.workspace_id == ws)),
            "history": rows(select(h.person_id, h.from_tier, h.to_tier, h.change, h.growth, h.at)
                            .where(h.workspace_id == ws)),
            "coupons": rows(select(c.person_id, c.source, func.count())
                            .where(c.workspace_id == ws).group_by(c.person_id, c.source)),
        }  # fmt: skip


def test_bulk_and_event_by_event_give_the_same_loyalty(db: Factory, now: datetime) -> None:
    _, each = _run(db, now, bulk=False)
    ws_bulk, bulk = _run(db, now, bulk=True)
    assert bulk == each
    tiers = {r[1] for r in bulk["members"]}
    assert tiers == {"normal", "silver", "gold"}  # upgrades happened inside the batch
    assert len(bulk["members"]) == 7  # M0–M5 and E1
    assert bulk["coupons"]  # upgrade coupons were issued
    keys = [r[5] for r in bulk["entries"]]
    assert len(keys) == len(set(keys)) and "order:O1" not in keys  # O1 came before enrolment
    with db() as s:
        assert points_audit.verify(session=s, workspace_id=ws_bulk).mismatches == []


def _resend(db: Factory, ws: str, now: datetime, *, bulk: bool) -> dict[str, Any]:
    events, _ = normalize.parse_batch(_messages(now), vault=VAULT, received_at=now)
    with transaction(db) as s:
        persons = identity.resolve_batch(
            session=s, workspace_id=ws, links=[e.identifiers for e in events],
            message_ids=[e.message_id for e in events], now=now,
        )  # fmt: skip
        pipeline.apply_loyalty(
            session=s, workspace_id=ws, events=events, person_ids=persons, now=now, bulk=bulk
        )
    return _snapshot(db, ws)


def test_a_resent_batch_earns_nothing_twice_in_bulk(db: Factory, now: datetime) -> None:
    ws_each, _ = _run(db, now, bulk=False)
    ws_bulk, first = _run(db, now, bulk=True)
    again = _resend(db, ws_bulk, now, bulk=True)
    assert again == _resend(db, ws_each, now, bulk=False)
    # only the order sent before its member enrolled earns now; nothing else twice
    new_keys = {r[5] for r in again["entries"]} - {r[5] for r in first["entries"]}
    assert new_keys == {"order:O1"}
