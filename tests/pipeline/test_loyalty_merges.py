"""A merge in the ingest flow moves points, growth and membership to the survivor, on SQLite
and PostgreSQL: through transfer entries keyed by the merge, nothing created or lost."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.db import transaction
from siyu.identity import service as identity
from siyu.loyalty import membership, points, points_audit
from siyu.loyalty.points_tables import points_accounts, points_entries, points_lots
from siyu.loyalty.tier_tables import member_growth, members
from tests.loyalty.test_flow import _identify, _ingest, _order, _ws

Factory = sessionmaker[Session]


def _person_of_anon(db: Factory, ws: str, anon: str) -> str:
    with db() as s:
        found = identity.find_person(session=s, workspace_id=ws, identifier=_anon_identifier(anon))
        assert found is not None
        return identity.current_person_id(session=s, workspace_id=ws, person_id=found)


def _anon_identifier(anon: str) -> Any:
    from siyu.collect.models import Identifier, IdType

    return Identifier(IdType.ANONYMOUS_ID, anon)


def _setup(db: Factory, now: datetime) -> tuple[str, str, str]:
    """B: a gold member with points and growth (anon ``b``); A: a non-member with 40 points."""
    ws = _ws(db, now)
    _ingest(db, ws, [_identify("M1", "b"), _order(1, "b", "300.00"), _order(2, "b", "300.00")],
            now)  # fmt: skip
    a_msg = {"type": "identify", "messageId": "id-a", "anonymousId": "a", "userId": "U1"}
    _ingest(db, ws, [a_msg], now)
    a, b = _person_of_anon(db, ws, "a"), _person_of_anon(db, ws, "b")
    assert a != b
    with transaction(db) as s:
        points.earn_points(session=s, workspace_id=ws, person_id=a, points=40, reason="task",
                           idempotency_key="a-task", now=now)  # fmt: skip
    return ws, a, b


def _merge_batch() -> list[dict[str, Any]]:
    return [{"type": "identify", "messageId": "id-merge", "anonymousId": "b", "userId": "U1"}]


def _balance(s: Session, ws: str, person: str) -> int:
    a = points_accounts.c
    found = s.execute(
        select(a.balance).where(a.workspace_id == ws, a.person_id == person)
    ).scalar_one_or_none()
    return int(found or 0)


def test_a_merge_moves_points_growth_and_membership(db: Factory, now: datetime) -> None:
    ws, a, b = _setup(db, now)
    with db() as s:
        before = _balance(s, ws, a) + _balance(s, ws, b)
        issued = s.execute(select(func.sum(points_entries.c.amount))).scalar_one()
    assert before == 40 + 600  # the second order made B gold (its points at the old rate)
    later = now + timedelta(minutes=1)
    _ingest(db, ws, _merge_batch(), later)
    survivor = _person_of_anon(db, ws, "b")
    absorbed = b if survivor == a else a
    assert survivor == _person_of_anon(db, ws, "a")
    with db() as s:
        assert _balance(s, ws, survivor) == before and _balance(s, ws, absorbed) == 0
        e = points_entries.c
        kinds = s.execute(
            select(e.kind, func.sum(e.amount), func.count())
            .where(e.workspace_id == ws, e.reason == "merge")
            .group_by(e.kind)
            .order_by(e.kind)
        ).all()
        moved = 600 if absorbed == b else 40
        lots = 2 if absorbed == b else 1
        assert [tuple(k) for k in kinds] == [("transfer_in", moved, lots),
                                             ("transfer_out", -moved, lots)]  # fmt: skip
        assert s.execute(select(func.sum(e.amount))).scalar_one() == issued  # nothing created
        assert not s.execute(
            select(points_lots.c.id).where(
                points_lots.c.person_id == absorbed, points_lots.c.remaining > 0
            )
        ).all()
        m = s.execute(select(members.c.person_id, members.c.tier, members.c.member_no)).all()
        assert [tuple(r) for r in m] == [(survivor, "gold", "M1")]
        member = membership.get_member(session=s, workspace_id=ws, person_id=survivor, now=later)
        assert (member.tier, member.growth) == ("gold", 600)
        g = member_growth.c
        by_person = dict(
            s.execute(select(g.person_id, func.sum(g.amount)).group_by(g.person_id)).all()
        )
        assert by_person.get(survivor) == 600 and by_person.get(absorbed, 0) == 0
        assert points_audit.verify(session=s, workspace_id=ws).mismatches == []
    # the survivor's next order earns with the gold multiplier on the moved account
    _ingest(db, ws, [_order(3, "a", "10.00")], later)
    with db() as s:
        assert _balance(s, ws, survivor) == before + 20


def test_a_resent_merge_batch_moves_nothing_twice(db: Factory, now: datetime) -> None:
    ws, _, _ = _setup(db, now)
    _ingest(db, ws, _merge_batch(), now)
    with db() as s:
        count = s.execute(select(func.count()).select_from(points_entries)).scalar_one()
    resent = [{**m, "messageId": "id-merge-again"} for m in _merge_batch()]
    _ingest(db, ws, resent, now)
    with db() as s:
        assert s.execute(select(func.count()).select_from(points_entries)).scalar_one() == count
        assert points_audit.verify(session=s, workspace_id=ws).mismatches == []
