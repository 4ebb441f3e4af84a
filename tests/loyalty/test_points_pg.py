"""The PostgreSQL fast path (one ``siyu_points_post`` call) against the portable path."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.errors import ConflictError
from siyu.identity.tables import identity_persons
from siyu.loyalty import points, points_pg
from siyu.loyalty.ledger import NotEnoughPointsError
from siyu.loyalty.points_models import EarnRules
from siyu.loyalty.points_tables import points_accounts, points_entries, points_lots
from siyu.workspaces import service as workspaces

Factory = sessionmaker[Session]

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(db: Factory) -> Factory:
    with db() as s:
        if s.get_bind().dialect.name != "postgresql":
            pytest.skip("the fast path is PostgreSQL only")
    return db


def _script(db: Factory, ws: str, person: str, now: datetime) -> list[Any]:
    """Earns (one capped), spends across lots, a refused spend, a retry, an adjustment."""
    outcomes: list[Any] = []
    steps: list[tuple[str, int, str]] = [
        ("earn", 30, "task"),
        ("earn", 40, "task"),  # cut to the day's cap of 50
        ("earn", 100, "order"),
        ("spend", 60, "mall"),
        ("spend", 500, "mall"),  # refused
        ("adjust", -5, "manual"),
        ("earn", 7, "share"),
    ]
    for n, (op, amount, reason) in enumerate(steps):
        at = now + timedelta(minutes=n)
        with db() as s, s.begin():
            try:
                outcomes.append(_call(s, op, ws, person, amount, reason, f"k{n}", at))
            except NotEnoughPointsError as exc:
                outcomes.append(("refused", str(exc)))
    with db() as s, s.begin():  # a retry of the first earn
        outcomes.append(_call(s, "earn", ws, person, 30, "task", "k0", now + timedelta(hours=1)))
    return outcomes


def make_members(db: Factory, now: datetime, count: int, prefix: str = "") -> tuple[str, list[str]]:
    """A workspace and ``count`` persons in it, ids unique to the workspace."""
    with db() as session, session.begin():
        ws = workspaces.create_workspace(session=session, name="积分", now=now).workspace_id
        ids = [f"{ws}_{i}" for i in range(count)]
        rows = [
            {"id": p, "workspace_id": ws, "rank": i, "created_at": now} for i, p in enumerate(ids)
        ]
        session.execute(identity_persons.insert(), rows)
    return ws, ids


def _call(
    s: Session, op: str, ws: str, person: str, amount: int, reason: str, key: str, at: datetime
) -> Any:
    common: dict[str, Any] = {"session": s, "workspace_id": ws, "person_id": person, "now": at}
    if op == "earn":
        result = points.earn_points(**common, points=amount, reason=reason, idempotency_key=key)
    elif op == "spend":
        result = points.spend_points(**common, points=amount, reason=reason, idempotency_key=key)
    else:
        result = points.adjust_points(**common, points=amount, idempotency_key=key)
    entry = result.entry
    shape = None if entry is None else entry.model_dump(exclude={"id", "person_id"})
    return (result.balance, result.replayed, shape)


def _state(db: Factory, person: str) -> tuple[Any, ...]:
    with db() as s:
        lots = s.execute(
            select(points_lots.c.amount, points_lots.c.remaining, points_lots.c.expires_at)
            .where(points_lots.c.person_id == person)
            .order_by(points_lots.c.id)
        ).all()
        balance = s.execute(
            select(points_accounts.c.balance).where(points_accounts.c.person_id == person)
        ).scalar_one()
        kinds = s.execute(
            select(points_entries.c.kind, points_entries.c.amount)
            .where(points_entries.c.person_id == person)
            .order_by(points_entries.c.id)
        ).all()
    return [tuple(r) for r in lots], balance, [tuple(r) for r in kinds]


def _engine(db: Factory) -> Engine:
    with db() as s:
        bind = s.get_bind()
    assert isinstance(bind, Engine)
    return bind


def test_fast_and_portable_paths_write_the_same_ledger(pg: Factory, now: datetime) -> None:
    engine = _engine(pg)
    ws_fast, (fast_person,) = make_members(pg, now, 1)
    ws_slow, (slow_person,) = make_members(pg, now, 1)
    with pg() as s, s.begin():
        assert points_pg.available(s)
    try:
        points_pg.set_available(engine, available=False)
        slow = _script(pg, ws_slow, slow_person, now)
        slow_state = _state(pg, slow_person)
    finally:
        points_pg.set_available(engine, available=True)
    fast = _script(pg, ws_fast, fast_person, now)
    assert fast == slow
    assert fast[1][2]["amount"] == 20 and fast[4][0] == "refused"
    assert fast[-1][1] is True  # the retry replayed
    assert _state(pg, fast_person) == slow_state


def test_fast_path_sees_rules_changed_in_the_same_second(pg: Factory, now: datetime) -> None:
    ws, (p,) = make_members(pg, now, 1)
    with pg() as s, s.begin():
        points.set_rules(session=s, workspace_id=ws, rules=EarnRules(expiry="never"), now=now)
    with pg() as s, s.begin():
        first = points.earn_points(
            session=s, workspace_id=ws, person_id=p, points=5, reason="x", idempotency_key="a",
            now=now,
        )  # fmt: skip
    with pg() as s, s.begin():
        points.set_rules(session=s, workspace_id=ws, rules=EarnRules(expiry_months=1), now=now)
    with pg() as s, s.begin():
        second = points.earn_points(
            session=s, workspace_id=ws, person_id=p, points=5, reason="x", idempotency_key="b",
            now=now,
        )  # fmt: skip
    assert first.entry is not None and first.entry.expires_at is None
    assert second.entry is not None and second.entry.expires_at is not None
    assert second.entry.expires_at - now < timedelta(days=32)


def test_fast_path_refuses_a_key_of_another_member(pg: Factory, now: datetime) -> None:
    ws, (p, q) = make_members(pg, now, 2)
    with pg() as s, s.begin():
        points.earn_points(
            session=s, workspace_id=ws, person_id=p, points=5, reason="x", idempotency_key="same",
            now=now,
        )  # fmt: skip
    with pg() as s, s.begin(), pytest.raises(ConflictError):
        points.earn_points(
            session=s, workspace_id=ws, person_id=q, points=5, reason="x", idempotency_key="same",
            now=now,
        )  # fmt: skip
    with pg() as s, s.begin(), pytest.raises(ConflictError):
        points.spend_points(
            session=s, workspace_id=ws, person_id=p, points=1, reason="y", idempotency_key="same",
            now=now,
        )  # fmt: skip
