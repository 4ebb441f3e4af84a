"""Points ledger benchmark: earn/spend writes/s on PostgreSQL with 32 concurrent clients.

Each client is a thread with its own sessions; every write is its own transaction through
:mod:`siyu.loyalty.points` (lock the account, check the key, append the entry, move lots,
update the balance), and one write in twenty is sent twice as a client retry would. Two
phases on the same members: the portable path (four to five statements per write, as SQLite
runs it) and the PostgreSQL fast path (one ``siyu_points_post`` call per write). The peer,
measured in the same run: bare single-row INSERTs, one per transaction, from the same number
of threads. Afterwards every invariant is checked: each balance equals the sum of its
entries, none is negative, no idempotency key appears twice, and ``verify`` finds nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.db import make_engine, make_session_factory
from siyu.identity.tables import identity_persons
from siyu.loyalty import points, points_audit, points_pg
from siyu.loyalty.ledger import NotEnoughPointsError
from siyu.loyalty.points_models import EarnRules
from siyu.loyalty.points_tables import points_accounts, points_entries
from siyu.migrations.registry import metadata
from siyu.workspaces import service as workspaces

PG_URL = os.environ.get("SIYU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def _engine(clients: int) -> Engine:
    schema = f"bench_ledger_{os.getpid()}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    url = "postgresql+psycopg://" + PG_URL.removeprefix("postgresql://")
    from sqlalchemy import create_engine

    return create_engine(
        url + f"?options=-csearch_path%3D{schema}", pool_size=clients, max_overflow=4
    )


def _setup(db: sessionmaker[Session], members: int) -> tuple[str, list[str]]:
    with db() as session, session.begin():
        ws = workspaces.create_workspace(session=session, name="bench", now=NOW).workspace_id
        points.set_rules(session=session, workspace_id=ws, rules=EarnRules(daily_caps={}), now=NOW)
        ids = [f"p_{n}" for n in range(members)]
        session.execute(
            identity_persons.insert(),
            [
                {"id": p, "workspace_id": ws, "rank": n, "created_at": NOW}
                for n, p in enumerate(ids)
            ],
        )
    return ws, ids


def _write_once(db: sessionmaker[Session], write: Callable[[Session], Any]) -> None:
    with db() as session, session.begin():
        write(session)


def _client(
    db: sessionmaker[Session], ws: str, ids: list[str], n: int, ops: int, tag: str
) -> dict[str, int]:
    rng, done = random.Random(f"{tag}{n}"), {"writes": 0, "refused": 0, "retries": 0}
    for i in range(ops):
        person, amount, key = rng.choice(ids), rng.randint(1, 20), f"{tag}{n}-{i}"
        spend = rng.random() < 0.5
        call = points.spend_points if spend else points.earn_points

        def write(
            session: Session,
            call: Any = call,
            person: str = person,
            amount: int = amount,
            key: str = key,
            reason: str = "mall" if spend else "task",
        ) -> Any:
            return call(session=session, workspace_id=ws, person_id=person, points=amount,
                        reason=reason, idempotency_key=key, now=NOW)  # fmt: skip

        try:
            _write_once(db, write)
            done["writes"] += 1
            if rng.random() < 0.05:
                _write_once(db, write)
                done["retries"] += 1
        except NotEnoughPointsError:
            done["refused"] += 1
    return done


def _seed(db: sessionmaker[Session], ws: str, person: str) -> None:
    with db() as session, session.begin():
        points.earn_points(
            session=session,
            workspace_id=ws,
            person_id=person,
            points=50,
            reason="task",
            idempotency_key=f"seed-{person}",
            now=NOW,
        )


def _bare_client(engine: Engine, n: int, rows: int) -> None:
    with engine.connect() as conn:
        for i in range(rows):
            conn.execute(
                text("INSERT INTO bare_rows (k, v) VALUES (:k, :v)"), {"k": f"{n}-{i}", "v": i}
            )
            conn.commit()


def _bare(engine: Engine, clients: int, rows: int, processes: int = 1) -> float:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS bare_rows (id bigserial primary key, "
                          "k text, v bigint)"))  # fmt: skip
    each = rows // clients
    if processes > 1:
        _, elapsed = _forked(engine, processes, clients, lambda e, n: _bare_client(e, n, each))
        return each * clients / elapsed
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda n: _bare_client(engine, n, each), range(clients)))
    return each * clients / (time.perf_counter() - start)


def _forked(
    engine: Engine, processes: int, clients: int, work: Callable[[Engine, int], Any]
) -> tuple[list[Any], float]:
    """Run ``work(engine, client)`` for ``clients`` clients spread over ``processes`` forked
    processes (threads inside each), as several API workers would; the wall time from the
    moment all are ready."""
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(processes + 1)
    results: Any = ctx.Queue()
    per = clients // processes

    def child(p: int) -> None:
        engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        with ThreadPoolExecutor(per) as pool:
            barrier.wait()
            results.put(list(pool.map(lambda t: work(engine, p * per + t), range(per))))

    children = [ctx.Process(target=child, args=(p,)) for p in range(processes)]
    for c in children:
        c.start()
    barrier.wait()
    start = time.perf_counter()
    out = [r for _ in children for r in results.get()]
    elapsed = time.perf_counter() - start
    for c in children:
        c.join()
    return out, elapsed


def _invariants(db: sessionmaker[Session]) -> dict[str, Any]:
    e, a = points_entries.c, points_accounts.c
    with db() as session:
        sums = dict(
            session.execute(select(e.person_id, func.sum(e.amount)).group_by(e.person_id)).all()
        )
        balances = dict(session.execute(select(a.person_id, a.balance)).all())
        keys = session.execute(select(func.count(), func.count(e.idempotency_key.distinct()))).one()
        report = points_audit.verify(session=session)
    return {
        "balance_equals_sum_of_entries": balances == sums,
        "negative_balances": sum(1 for b in balances.values() if b < 0),
        "duplicate_keys": int(keys[0]) - int(keys[1]),
        "verify_mismatches": len(report.mismatches),
    }


def _phase(
    db: sessionmaker[Session], ws: str, ids: list[str], clients: int, ops: int, tag: str
) -> dict[str, Any]:
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda n: _client(db, ws, ids, n, ops, tag), range(clients)))
    elapsed = time.perf_counter() - start
    totals: dict[str, Any] = {k: sum(r[k] for r in results) for k in results[0]}
    attempts = totals["writes"] + totals["refused"] + totals["retries"]
    return {
        **totals,
        "seconds": elapsed,
        "writes_per_s": totals["writes"] / elapsed,
        "requests_per_s": attempts / elapsed,
    }


def _phase_forked(
    engine: Engine, ws: str, ids: list[str], clients: int, ops: int, processes: int
) -> dict[str, Any]:
    def work(e: Engine, n: int) -> dict[str, int]:
        return _client(make_session_factory(e), ws, ids, n, ops, "m")

    results, elapsed = _forked(engine, processes, clients, work)
    totals: dict[str, Any] = {k: sum(r[k] for r in results) for k in results[0]}
    attempts = totals["writes"] + totals["refused"] + totals["retries"]
    return {
        **totals,
        "processes": processes,
        "seconds": elapsed,
        "writes_per_s": totals["writes"] / elapsed,
        "requests_per_s": attempts / elapsed,
    }


def run(
    clients: int = 32, ops_per_client: int = 500, members: int = 2000, processes: int = 1
) -> dict[str, Any]:
    """Ledger writes/s against bare INSERTs/s, and the invariants after.

    With ``processes`` > 1 the fast path and the bare INSERTs are also measured with the same
    clients spread over that many forked processes (several API workers), reported apart.
    """
    engine = _engine(clients)
    try:
        metadata.create_all(engine)
        db = make_session_factory(engine)
        ws, ids = _setup(db, members)
        for person in ids:  # every member starts with some points
            _seed(db, ws, person)
        points_pg.set_available(engine, available=False)
        portable = _phase(db, ws, ids, clients, ops_per_client, "p")
        points_pg.set_available(engine, available=True)
        fast = _phase(db, ws, ids, clients, ops_per_client, "f")
        attempts = fast["writes"] + fast["refused"] + fast["retries"]
        bare = _bare(engine, clients, attempts)
        spread: dict[str, Any] = {}
        if processes > 1:
            forked = _phase_forked(engine, ws, ids, clients, ops_per_client, processes)
            forked_bare = _bare(engine, clients, attempts, processes)
            spread = {
                "ledger_processes": forked,
                "bare_insert_processes_per_s": forked_bare,
                "processes_ratio_vs_bare": forked["writes_per_s"] / forked_bare,
            }
        return {
            "clients": clients,
            **spread,
            "ledger": fast,
            "ledger_portable_path": portable,
            "bare_insert_per_s": bare,
            "ratio_vs_bare": fast["writes_per_s"] / bare,
            "portable_ratio_vs_bare": portable["writes_per_s"] / bare,
            "invariants": _invariants(db),
        }
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS bench_ledger_{os.getpid()} CASCADE"))
        engine.dispose()
