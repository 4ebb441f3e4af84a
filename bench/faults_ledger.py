"""A worker killed mid-ledger-write: ``siyu jobs run --job points_expiry`` SIGKILLed while it
expires thousands of points lots (a batch of lots per transaction), then run again.

Afterwards: every due lot is expired exactly once (no lost step: none left with points; no
double step: one ``expire`` entry per lot), the points that went are the points that were
left, every balance equals the sum of its entries (one SQL over all accounts) and the audit
(``points_audit.verify``) finds nothing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.faults_harness import Stores, drop_pg_schema, pg_schema_url
from siyu.core.db import make_engine, make_session_factory
from siyu.identity.tables import identity_persons
from siyu.loyalty import points, points_audit
from siyu.loyalty.points_models import EarnRules
from siyu.loyalty.points_tables import points_entries, points_lots

EARNED_AT = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)
RUN_AT = datetime(2026, 6, 1, 2, 1, tzinfo=UTC)  # every lot earned above has expired
LEASE_PASSED = timedelta(minutes=31)  # a killed run's claim is taken over after 30 minutes
_e, _l = points_entries.c, points_lots.c

BALANCE_MISMATCHES = text(
    """
    SELECT count(*) FROM points_accounts a
    LEFT JOIN (SELECT workspace_id, person_id, sum(amount) AS total FROM points_entries
               GROUP BY workspace_id, person_id) e
      ON e.workspace_id = a.workspace_id AND e.person_id = a.person_id
    WHERE a.balance <> coalesce(e.total, 0)
    """
)


def _seed(db: sessionmaker[Session], workspace_id: str, persons: int, lots_each: int) -> int:
    """Members with ``lots_each`` lots each, some partly spent; the points left to expire."""
    with db() as session, session.begin():
        points.set_rules(
            session=session,
            workspace_id=workspace_id,
            rules=EarnRules(daily_caps={}, expiry="rolling", expiry_months=12),
            now=EARNED_AT,
        )
        ids = [f"p_fault_{n}" for n in range(persons)]
        session.execute(
            identity_persons.insert(),
            [{"id": p, "workspace_id": workspace_id, "rank": n, "created_at": EARNED_AT}
             for n, p in enumerate(ids)],
        )  # fmt: skip
        for n, person in enumerate(ids):
            for lot in range(lots_each):
                points.earn_points(session=session, workspace_id=workspace_id, person_id=person,
                                   points=10 + lot, reason="task", now=EARNED_AT,
                                   idempotency_key=f"seed-{person}-{lot}")  # fmt: skip
            if n % 3 == 0:
                points.spend_points(session=session, workspace_id=workspace_id, person_id=person,
                                    points=7, reason="mall", idempotency_key=f"spend-{person}",
                                    now=EARNED_AT + timedelta(days=1))  # fmt: skip
    with db() as session:
        return int(session.execute(select(func.sum(_l.remaining))).scalar_one())


class ExpiredLots:
    """Counts the expire entries committed so far, without taking a lock: SQLite's engine
    begins every transaction IMMEDIATE, which would contend with the job for the write lock,
    so SQLite is read through a plain connection."""

    QUERY = "SELECT count(*) FROM points_entries WHERE kind = 'expire'"

    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.engine = make_engine(stores.database_url) if stores.database_url else None

    def __call__(self) -> int:
        if self.engine is None:
            path = self.stores.data_dir / "siyu.sqlite3"
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                return int(conn.execute(self.QUERY).fetchone()[0])
        with self.engine.connect() as conn:
            return int(conn.execute(text(self.QUERY)).scalar_one())

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _job(stores: Stores, now: datetime) -> subprocess.Popen[bytes]:
    args = ["jobs", "run", "--job", "points_expiry", "--now", now.isoformat(), "--json"]
    return subprocess.Popen(
        [sys.executable, "-m", "siyu", *args],
        env=stores.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _kill_mid_run(stores: Stores, expired: ExpiredLots, now: datetime, lots: int) -> int:
    """Start the job, SIGKILL it once it has committed some lots but not all; lots done then.

    Returns -1 when the run finished before the kill could land (the machine was fast)."""
    before = expired()
    job = _job(stores, now)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and job.poll() is None:
        done = expired()
        if before < done < lots:
            job.kill()
            job.wait(timeout=30)
            return done
        time.sleep(0.01)
    job.communicate(timeout=240)
    return -1


def worker_kill(
    backend: str, *, persons: int = 1000, lots_each: int = 5, kills: int = 2
) -> dict[str, Any]:
    """Kill the expiry job ``kills`` times mid-run, then let a last run finish; check the
    ledger."""
    schema = f"faults_ledger_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        url = pg_schema_url(schema) if backend == "postgresql" else ""
        stores = Stores(Path(tmp) / "data", url)
        workspace_id = stores.create_workspace()["workspace_id"]
        engine = make_engine(stores.env()["SIYU_DATABASE_URL"] if url else _sqlite_url(stores))
        db = make_session_factory(engine)
        started = time.monotonic()
        left = _seed(db, workspace_id, persons, lots_each)
        seeded = time.monotonic() - started
        lots = persons * lots_each
        now, landed, expired = RUN_AT, [], ExpiredLots(stores)
        for _ in range(kills):
            landed.append(_kill_mid_run(stores, expired, now, lots))
            now += LEASE_PASSED
        expired.close()
        final = _job(stores, now)
        _, err = final.communicate(timeout=300)
        result = _check(db, left, lots)
        engine.dispose()
    if backend == "postgresql":
        drop_pg_schema(schema)
    return {
        "backend": backend,
        "lots": lots,
        "points_left_before": left,
        "seed_seconds": round(seeded, 1),
        "lots_expired_when_killed": landed,
        "kills_mid_run": sum(1 for n in landed if n >= 0),
        "final_run_exit": final.returncode,
        "final_run_stderr": err.decode()[-500:] if final.returncode else "",
        **result,
    }


def _sqlite_url(stores: Stores) -> str:
    return f"sqlite:///{(stores.data_dir / 'siyu.sqlite3').resolve()}"


def _check(db: sessionmaker[Session], left: int, lots: int) -> dict[str, Any]:
    with db() as session:
        per_lot = session.execute(
            select(_e.lot_id, func.count()).where(_e.kind == "expire").group_by(_e.lot_id)
        ).all()
        expired = -int(
            session.execute(select(func.sum(_e.amount)).where(_e.kind == "expire")).scalar_one()
            or 0
        )
        still_due = session.execute(
            select(func.count()).where(_l.remaining > 0, _l.expires_at <= RUN_AT)
        ).scalar_one()
        mismatched = session.execute(BALANCE_MISMATCHES).scalar_one()
        report = points_audit.verify(session=session)
    return {
        "lots_expired": len(per_lot),
        "points_expired": expired,
        "checks": {
            "lots_not_expired": int(still_due),
            "lots_expired_twice": sum(1 for _, n in per_lot if n > 1),
            "points_expired_minus_left": expired - left,
            "balances_not_sum_of_entries": int(mismatched),
            "verify_mismatches": len(report.mismatches),
        },
    }
