"""Racing writers: two spends for the last points never both succeed; retries never double-earn.

Runs on both backends; the PostgreSQL run is the one that proves the ``FOR UPDATE`` lock.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.clock import utcnow
from siyu.loyalty import points, points_audit
from siyu.loyalty.ledger import NotEnoughPointsError
from siyu.loyalty.points_models import EarnRules, PointsResult
from siyu.loyalty.points_tables import points_accounts, points_entries
from tests.loyalty.test_points import make_members

Factory = sessionmaker[Session]
T = TypeVar("T")
THREADS = 16
RULES = EarnRules(daily_caps={})


def with_retries(db: Factory, write: Callable[[Session], T], attempts: int = 5) -> T:
    """Run ``write`` in its own transaction, retrying what a busy store may throw."""
    for attempt in range(attempts):
        try:
            with db() as session, session.begin():
                return write(session)
        except OperationalError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def test_sixteen_spends_race_for_the_last_points_and_one_wins(db: Factory, now: datetime) -> None:
    ws, (p, _) = make_members(db, now)
    with db() as s, s.begin():
        points.earn_points(
            session=s,
            workspace_id=ws,
            person_id=p,
            points=10,
            reason="task",
            idempotency_key="seed",
            now=now,
            rules=RULES,
        )
    barrier = threading.Barrier(THREADS)

    def spend(i: int) -> bool:
        barrier.wait()
        try:
            with_retries(
                db,
                lambda s: points.spend_points(
                    session=s,
                    workspace_id=ws,
                    person_id=p,
                    points=10,
                    reason="mall",
                    idempotency_key=f"race-{i}",
                    now=now,
                ),
            )
        except NotEnoughPointsError:
            return False
        return True

    with ThreadPoolExecutor(THREADS) as pool:
        wins = list(pool.map(spend, range(THREADS)))
    assert sum(wins) == 1
    with db() as s:
        assert points.get_account(session=s, workspace_id=ws, person_id=p).balance == 0
        assert points_audit.verify(session=s).mismatches == []


def _one_op(
    db: Factory, ws: str, members: list[str], rng: random.Random, key: str
) -> PointsResult | None:
    person = rng.choice(members)
    if rng.random() < 0.5:

        def write(s: Session) -> PointsResult:
            return points.earn_points(
                session=s,
                workspace_id=ws,
                person_id=person,
                points=rng.randint(1, 5),
                reason="task",
                idempotency_key=key,
                now=utcnow(),
                rules=RULES,
            )
    else:
        amount = rng.randint(1, 20)

        def write(s: Session) -> PointsResult:
            return points.spend_points(
                session=s,
                workspace_id=ws,
                person_id=person,
                points=amount,
                reason="mall",
                idempotency_key=key,
                now=utcnow(),
            )

    try:
        first = with_retries(db, write)
        retry = with_retries(db, write)  # the client never saw the answer and sends it again
    except NotEnoughPointsError:
        return None
    assert retry.replayed and retry.entry == first.entry
    return first


def test_concurrent_earns_and_spends_with_retries_keep_every_invariant(
    db: Factory, now: datetime
) -> None:
    ws, members = make_members(db, now, count=4)
    for person in members:
        with db() as s, s.begin():
            points.earn_points(
                session=s,
                workspace_id=ws,
                person_id=person,
                points=50,
                reason="task",
                idempotency_key=f"seed-{person}",
                now=now,
                rules=RULES,
            )

    def client(n: int) -> list[PointsResult]:
        rng = random.Random(n)
        done = [_one_op(db, ws, members, rng, f"c{n}-{i}") for i in range(25)]
        return [r for r in done if r is not None]

    with ThreadPoolExecutor(THREADS) as pool:
        accepted = [r for batch in pool.map(client, range(THREADS)) for r in batch]
    with db() as s:
        report = points_audit.verify(session=s)
        keys = Counter(s.execute(select(points_entries.c.idempotency_key)).scalars())
        sums = dict(
            s.execute(
                select(points_entries.c.person_id, func.sum(points_entries.c.amount)).group_by(
                    points_entries.c.person_id
                )
            ).all()
        )
        balances = dict(
            s.execute(select(points_accounts.c.person_id, points_accounts.c.balance)).all()
        )
    assert report.mismatches == []
    assert max(keys.values()) == 1
    assert len(keys) == len(accepted) + len(members)
    assert balances == sums
    assert min(balances.values()) >= 0
    assert sum(balances.values()) == 50 * len(members) + sum(
        r.entry.amount for r in accepted if r.entry
    )


def test_the_same_key_sent_eight_times_at_once_earns_once(db: Factory, now: datetime) -> None:
    ws, (p, _) = make_members(db, now)
    with db() as s, s.begin():  # the account exists, so every request waits on its lock
        points.adjust_points(
            session=s, workspace_id=ws, person_id=p, points=1, idempotency_key="open", now=now
        )
    barrier = threading.Barrier(8)

    def earn(_: int) -> int | None:
        barrier.wait()
        result = with_retries(db, lambda s: points.earn_points(
            session=s, workspace_id=ws, person_id=p, points=7, reason="task",
            idempotency_key="dup", now=now, rules=RULES,
        ))  # fmt: skip
        return result.entry.id if result.entry else None

    with ThreadPoolExecutor(8) as pool:
        entry_ids = set(pool.map(earn, range(8)))
    assert len(entry_ids) == 1
    with db() as s:
        assert points.get_account(session=s, workspace_id=ws, person_id=p).balance == 8
