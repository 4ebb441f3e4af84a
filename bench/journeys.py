"""Journey engine benchmark: N persons through a 5-node journey, node transitions per second.

The journey: add a tag → wait a day → A/B split → send an SMS → exit; 5 transitions per
person, in two scheduler passes (entry day, a day later). Every batch applies its actions
in the same transaction as the state change (an outbox-like sink table, keyed by the
action's idempotency key). Measured on SQLite (one process) and on PostgreSQL (2 worker
processes sharing the due states with SKIP LOCKED). The peer, in the same run and on the
same rows: bare batched UPDATEs of every state row by id (what stepping must do at the very
least), as rows/s. Afterwards: no person lost or duplicated, every state stepped twice,
5 transitions each in the log, every action exactly once.

``python -m bench.journeys [--quick]`` writes ``bench/results/journeys[-quick].json``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    MetaData,
    String,
    Table,
    event,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from siyu.core.db import make_engine, make_session_factory
from siyu.journeys import service as journeys
from siyu.journeys.actions import Action, ActionFailure
from siyu.journeys.definition import parse_definition
from siyu.journeys.engine import advance_due
from siyu.journeys.entry import enter_persons
from siyu.journeys.tables import journey_events, journey_states
from siyu.migrations.registry import metadata

PG_URL = os.environ.get("SIYU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
WS = "ws_bench"
BATCH = 2000
RESULTS = Path(__file__).parent / "results"

DEFINITION = {
    "name": "bench",
    "trigger": {"type": "event", "spec": {"event": "Signed Up"}},
    "start": "tag",
    "nodes": [
        {"type": "action", "id": "tag", "action": {"type": "add_tag", "tag": "new"}, "next": "w"},
        {"type": "wait", "id": "w", "duration": "P1D", "next": "ab"},
        {
            "type": "split",
            "id": "ab",
            "variants": [
                {"name": "A", "weight": 1, "next": "sms"},
                {"name": "B", "weight": 1, "next": "sms"},
            ],
        },
        {
            "type": "action",
            "id": "sms",
            "action": {"type": "send_message", "channel": "sms", "template": "hi"},
            "next": "x",
        },
        {"type": "exit", "id": "x"},
    ],
}

_sink_metadata = MetaData()
sink = Table(
    "bench_journey_sink",
    _sink_metadata,
    Column("key", String(200), primary_key=True),
    Column("type", String(20), nullable=False),
)


def apply_to_sink(session: Session, actions: Sequence[Action]) -> list[ActionFailure]:
    """The side effects of a batch: one keyed row per action, in the batch's transaction."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":  # one statement per batch, as an outbox would
        conn.execute(
            text("INSERT INTO bench_journey_sink (key, type) SELECT * FROM "
                 "unnest(CAST(:k AS varchar[]), CAST(:t AS varchar[]))"),
            {"k": [a.key for a in actions], "t": [a.type for a in actions]},
        )  # fmt: skip
    else:
        conn.exec_driver_sql(
            "INSERT INTO bench_journey_sink (key, type) VALUES (?, ?)",
            [(a.key, a.type) for a in actions],
        )
    return []


def _setup(engine: Engine, persons: int) -> tuple[float, str]:
    metadata.create_all(engine)
    _sink_metadata.create_all(engine)
    db = make_session_factory(engine)
    with db() as session, session.begin():
        journey = journeys.create_journey(
            session=session, workspace_id=WS, definition=parse_definition(DEFINITION), now=NOW
        )
        journey = journeys.set_status(session=session, workspace_id=WS, journey_id=journey.id,
                                      status=journeys.JourneyStatus.ACTIVE, now=NOW)  # fmt: skip
    start = time.perf_counter()
    chunk = 10_000
    for offset in range(0, persons, chunk):
        if offset in (chunk, 10 * chunk) or offset % (50 * chunk) == 0:
            _analyze(engine)
        with db() as session, session.begin():
            enter_persons(
                session=session,
                journey=journey,
                candidates=[
                    (f"p_{i:08d}", f"m_{i}") for i in range(offset, min(persons, offset + chunk))
                ],
                now=NOW,
            )
    return persons / (time.perf_counter() - start), journey.id


def _analyze(engine: Engine) -> None:
    # The test server runs without autovacuum; refresh the planner's statistics as
    # autovacuum would while a table grows from nothing to a million rows.
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE journey_states"))


def _engine(url: str) -> Engine:
    engine = make_engine(url)
    cache_mb = int(os.environ.get("SIYU_BENCH_SQLITE_CACHE_MB", "0"))
    if cache_mb and engine.dialect.name == "sqlite":
        # SQLite's default page cache is 2 MB; a million states' indexes are far bigger.
        event.listen(
            engine, "connect", lambda c, _r: c.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
        )
    return engine


def _worker(url: str, now: datetime) -> int:
    engine = _engine(url)
    try:
        db = make_session_factory(engine)
        return advance_due(session_factory=db, workspace_id=WS, now=now, batch_size=BATCH,
                           apply_actions=apply_to_sink).transitions  # fmt: skip
    finally:
        engine.dispose()


def _advance(url: str, workers: int) -> dict[str, Any]:
    """Both scheduler passes; transitions/s over their total time."""
    transitions, seconds = 0, 0.0
    engine = _engine(url)
    for now in (NOW, NOW + timedelta(days=1)):
        _analyze(engine)
        start = time.perf_counter()
        if workers == 1:
            transitions += _worker(url, now)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(workers) as pool:
                transitions += sum(pool.starmap(_worker, [(url, now)] * workers))
        seconds += time.perf_counter() - start
    engine.dispose()
    return {"workers": workers, "transitions": transitions, "seconds": seconds,
            "transitions_per_s": transitions / seconds}  # fmt: skip


def _bare_updates(engine: Engine) -> float:
    """Peer: a bare UPDATE of every state row by id (node and steps), BATCH rows per
    transaction, batched the fastest way per store (unnest on PostgreSQL, executemany on
    SQLite) — the least a step must write."""
    s = journey_states.c
    with engine.connect() as conn:
        ids = list(conn.execute(select(s.id)).scalars())
    pg = text(
        "UPDATE journey_states AS s SET node_id = v.node, steps = s.steps + 1 "
        "FROM unnest(CAST(:ids AS varchar[]), CAST(:nodes AS varchar[])) AS v(id, node) "
        "WHERE s.id = v.id"
    )
    start = time.perf_counter()
    for offset in range(0, len(ids), BATCH):
        part = ids[offset : offset + BATCH]
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(pg, {"ids": part, "nodes": ["x"] * len(part)})
            else:
                conn.exec_driver_sql(
                    "UPDATE journey_states SET node_id = ?, steps = steps + 1 WHERE id = ?",
                    [("x", i) for i in part],
                )
    return len(ids) / (time.perf_counter() - start)


def _check(engine: Engine, persons: int) -> dict[str, Any]:
    s, e = journey_states.c, journey_events.c
    with engine.connect() as conn:
        rows, distinct = conn.execute(
            select(func.count(), func.count(s.person_id.distinct()))
        ).one()
        not_done = conn.execute(
            select(func.count()).where((s.status != "exited") | (s.steps != 2))
        ).scalar_one()
        entered = conn.execute(select(func.count()).where(e.kind == "entered")).scalar_one()
        keys, distinct_keys = conn.execute(
            select(func.count(), func.count(sink.c.key.distinct()))
        ).one()
    return {
        "persons_lost": persons - distinct,
        "persons_duplicated": rows - distinct,
        "states_not_stepped_exactly_twice": not_done,
        "transitions_logged": entered,
        "transitions_expected": 5 * persons,
        "actions": keys,
        "actions_expected": 2 * persons,
        "actions_duplicated": keys - distinct_keys,
    }


def _backend(url: str, persons: int, workers: int) -> dict[str, Any]:
    engine = _engine(url)
    try:
        entry_rate, _ = _setup(engine, persons)
        advanced = _advance(url, workers)
        checks = _check(engine, persons)
        bare = _bare_updates(engine)
        return {
            "entries_per_s": entry_rate,
            **advanced,
            "bare_update_rows_per_s": bare,
            "states_stepped_per_s": 2 * persons / advanced["seconds"],
            "ratio_steps_vs_bare_update": 2 * persons / advanced["seconds"] / bare,
            "checks": checks,
        }
    finally:
        engine.dispose()


def _pg_url() -> tuple[str, str]:
    schema = f"bench_journeys_{os.getpid()}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return PG_URL + f"?options=-csearch_path%3D{schema}", schema


def run(
    persons: int = 1_000_000, *, backends: Sequence[str] = ("sqlite", "postgresql")
) -> dict[str, Any]:
    """Transitions/s on SQLite (1 process) and PostgreSQL (2 workers), with the checks."""
    result: dict[str, Any] = {
        "persons": persons,
        "nodes": 5,
        "batch": BATCH,
        "sqlite_cache_mb": int(os.environ.get("SIYU_BENCH_SQLITE_CACHE_MB", "0")) or "default",
    }
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            result["sqlite"] = _backend(f"sqlite:///{tmp}/bench.sqlite3", persons, 1)
    if "postgresql" in backends:
        url, schema = _pg_url()
        try:
            result["postgresql"] = _backend(url, persons, 2)
        finally:
            admin = make_engine(PG_URL)
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            admin.dispose()
    return result


def main(argv: list[str]) -> None:
    """``[--quick] [--persons N] [--no-sqlite] [--no-postgresql]``."""
    quick = "--quick" in argv
    persons = int(argv[argv.index("--persons") + 1]) if "--persons" in argv else 0
    backends = [b for b in ("sqlite", "postgresql") if f"--no-{b}" not in argv]
    result = run(persons or (20_000 if quick else 1_000_000), backends=backends)
    RESULTS.mkdir(exist_ok=True)
    only = "" if len(backends) == 2 else f"-{backends[0]}"
    name = f"journeys{only}{'-quick' if quick else ''}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
