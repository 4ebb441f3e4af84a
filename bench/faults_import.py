"""An import killed mid-file: ``siyu import orders`` SIGKILLed while it commits a CSV of orders
that earn points (one transaction per chunk of 2,000 rows), then the same file imported again.

Each order's message id is ``import:orders:<source>:<order_id>`` and its points are keyed
``order:<order_id>``; a chunk's dedupe claims, identity, profile, points and inbox rows
commit together. Afterwards every order must be in exactly once — in the dedupe ledger, in the
event store (after the last run's flush) and in the profiles (order counts and spend) — with
one points entry per order, every balance equal to the sum of its entries, the audit clean,
and every member's balance, growth and tier equal to what an uninterrupted import of the same
file gives in a second workspace.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.faults_harness import Stores, drop_pg_schema, pg_schema_url
from bench.faults_ledger import BALANCE_MISMATCHES
from siyu.collect.tables import collect_messages, event_inbox
from siyu.core.db import make_engine, make_session_factory
from siyu.loyalty import membership, points_audit
from siyu.loyalty.points_tables import points_accounts, points_entries
from siyu.loyalty.tier_models import TierLadder
from siyu.loyalty.tier_tables import members
from siyu.profiles.tables import profiles

SET_UP_AT = datetime(2026, 1, 1, tzinfo=UTC)
FIRST_ORDER = datetime(2026, 2, 1, 2, 0, tzinfo=UTC)
ORDERS_EACH = 4  # orders per customer, spread over the file so tiers move mid-import
LADDER = {
    "tiers": [
        {"code": "normal", "name": "普通", "min_growth": 0},
        {"code": "silver", "name": "银卡", "min_growth": 300, "points_multiplier_pct": 150},
        {"code": "gold", "name": "金卡", "min_growth": 900, "points_multiplier_pct": 200},
    ]
}
_e, _m, _p = points_entries.c, members.c, profiles.c


def write_orders(path: Path, orders: int) -> int:
    """A generic order export of ``orders`` paid orders by ``orders / 4`` members (each order
    carries the customer's member number, so the import enrols them); its total in fen."""
    customers = max(orders // ORDERS_EACH, 1)
    total = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "user_id", "member_id", "amount", "paid_at", "sku"])
        for n in range(orders):
            customer = n % customers
            fen = 5_000 + (n * 7_919) % 40_000  # 50.00–449.99 yuan
            total += fen
            at = FIRST_ORDER + timedelta(minutes=n)
            writer.writerow([f"O{n:07d}", f"c{customer}", f"M{customer}", f"{fen / 100:.2f}",
                             at.strftime("%Y-%m-%d %H:%M:%S"), f"SKU{n % 40}"])  # fmt: skip
    return total


class Claimed:
    """Message ids committed to the dedupe ledger of one workspace so far, read without a
    lock (a plain sqlite3 connection on SQLite, which the job's IMMEDIATE writes never block
    for long)."""

    def __init__(self, stores: Stores, workspace_id: str) -> None:
        self.stores, self.workspace_id = stores, workspace_id
        self.engine = make_engine(stores.database_url) if stores.database_url else None

    def __call__(self) -> int:
        query = "SELECT count(*) FROM collect_messages WHERE workspace_id = :ws"
        if self.engine is None:
            path = self.stores.data_dir / "siyu.sqlite3"
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                return int(conn.execute(query, {"ws": self.workspace_id}).fetchone()[0])
        with self.engine.connect() as conn:
            return int(conn.execute(text(query), {"ws": self.workspace_id}).scalar_one())

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _import(stores: Stores, file: Path, workspace_id: str) -> subprocess.Popen[bytes]:
    args = ["import", "orders", str(file), "--workspace", workspace_id, "--json"]
    return subprocess.Popen(
        [sys.executable, "-m", "siyu", *args],
        env=stores.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _kill_mid_file(stores: Stores, claimed: Claimed, file: Path, orders: int, left: int) -> int:
    """Start the import; SIGKILL it once it has committed its share of the orders left (1/
    ``left``+1 of them, so ``left`` kills spread over the file) but not all of them. The orders
    committed then, or -1 when it finished before the kill could land."""
    workspace_id = claimed.workspace_id
    before = claimed()
    at_least = before + max(1, (orders - before) // (left + 1))
    run = _import(stores, file, workspace_id)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and run.poll() is None:
        done = claimed()
        if at_least <= done < orders:
            run.kill()
            run.wait(timeout=30)
            return done
        time.sleep(0.02)
    run.communicate(timeout=600)
    return -1


def _finish(stores: Stores, file: Path, workspace_id: str) -> tuple[int, dict[str, Any], str]:
    run = _import(stores, file, workspace_id)
    out, err = run.communicate(timeout=900)
    summary = orjson.loads(out) if run.returncode == 0 else {}
    return run.returncode, summary, err.decode()[-500:]


def _set_up(db: sessionmaker[Session], workspace_ids: Sequence[str]) -> None:
    ladder = TierLadder.model_validate(LADDER)
    with db() as session, session.begin():
        for workspace_id in workspace_ids:
            membership.set_tiers(
                session=session, workspace_id=workspace_id, ladder=ladder, now=SET_UP_AT
            )


def import_kill(
    backend: str, *, orders: int = 20_000, kills: int = 2, compare_clean: bool = True
) -> dict[str, Any]:
    """Kill ``siyu import orders`` ``kills`` times mid-file, import the same file to the end,
    and check it against the file (and, with ``compare_clean``, an uninterrupted import)."""
    schema = f"faults_import_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        url = pg_schema_url(schema) if backend == "postgresql" else ""
        stores = Stores(Path(tmp) / "data", url)
        killed_ws = stores.create_workspace("killed")["workspace_id"]
        clean_ws = stores.create_workspace("clean")["workspace_id"] if compare_clean else ""
        engine = make_engine(url or f"sqlite:///{(stores.data_dir / 'siyu.sqlite3').resolve()}")
        db = make_session_factory(engine)
        _set_up(db, [w for w in (killed_ws, clean_ws) if w])
        file = Path(tmp) / "orders.csv"
        total_fen = write_orders(file, orders)
        claimed = Claimed(stores, killed_ws)
        started = time.monotonic()
        landed = [_kill_mid_file(stores, claimed, file, orders, kills - k) for k in range(kills)]
        claimed.close()
        exit_code, summary, err = _finish(stores, file, killed_ws)
        elapsed = time.monotonic() - started
        clean: dict[str, Any] = {}
        if compare_clean:
            clean_started = time.monotonic()
            clean_exit, clean_summary, clean_err = _finish(stores, file, clean_ws)
            clean = {"clean_exit": clean_exit, "clean_stderr": clean_err if clean_exit else "",
                     "clean_imported": clean_summary.get("imported"),
                     "clean_seconds": round(time.monotonic() - clean_started, 1)}  # fmt: skip
        result = _check(stores, db, killed_ws, clean_ws, orders, total_fen)
        engine.dispose()
    if backend == "postgresql":
        drop_pg_schema(schema)
    return {
        "backend": backend,
        "orders": orders,
        "orders_committed_when_killed": landed,
        "kills_mid_file": sum(1 for n in landed if n >= 0),
        "final_run_exit": exit_code,
        "final_run_stderr": err if exit_code else "",
        "final_run_imported": summary.get("imported"),
        "final_run_duplicates": summary.get("duplicates"),
        "seconds": round(elapsed, 1),
        **clean,
        **result,
    }


def _members_of(session: Session, workspace_id: str) -> dict[str, tuple[Any, ...]]:
    """Each member (by member number): balance, growth, tier, order count and spend."""
    a = points_accounts.c
    rows = session.execute(
        select(_m.member_no, a.balance, _m.growth, _m.tier, _p.order_count, _p.total_spend_fen)
        .select_from(members)
        .join(
            points_accounts,
            (a.workspace_id == _m.workspace_id) & (a.person_id == _m.person_id),
            isouter=True,
        )
        .join(profiles, (_p.workspace_id == _m.workspace_id) & (_p.person_id == _m.person_id))
        .where(_m.workspace_id == workspace_id)
    )
    return {row[0]: tuple(row[1:]) for row in rows}


def _check(
    stores: Stores,
    db: sessionmaker[Session],
    workspace_id: str,
    clean_ws: str,
    orders: int,
    total_fen: int,
) -> dict[str, Any]:
    expected = {f"import:orders:generic:O{n:07d}" for n in range(orders)}
    in_store = stores.message_counts(workspace_id)
    in_store_compacted = stores.message_counts(workspace_id, compacted=True)
    with db() as session:
        claimed = set(
            session.execute(
                select(collect_messages.c.message_id).where(
                    collect_messages.c.workspace_id == workspace_id
                )
            ).scalars()
        )
        waiting = session.execute(
            select(func.count()).where(event_inbox.c.workspace_id == workspace_id)
        ).scalar_one()
        order_count, spend = session.execute(
            select(func.sum(_p.order_count), func.sum(_p.total_spend_fen)).where(
                _p.workspace_id == workspace_id
            )
        ).one()
        per_order: dict[str, int] = dict(
            session.execute(
                select(_e.idempotency_key, func.count())
                .where(_e.workspace_id == workspace_id, _e.reason == "order")
                .group_by(_e.idempotency_key)
            ).all()
        )
        mismatched = session.execute(BALANCE_MISMATCHES).scalar_one()
        report = points_audit.verify(session=session)
        killed_members = _members_of(session, workspace_id)
        clean_members = _members_of(session, clean_ws) if clean_ws else killed_members
    keys = {f"order:O{n:07d}" for n in range(orders)}
    differing = {
        k for k in set(killed_members) | set(clean_members)
        if killed_members.get(k) != clean_members.get(k)
    }  # fmt: skip
    return {
        "events_in_store": sum(in_store.values()),
        "members": len(killed_members),
        "points_entries": sum(per_order.values()),
        "points_balance_total": sum(int(v[0] or 0) for v in killed_members.values()),
        "checks": {
            "orders_not_claimed": len(expected - claimed),
            "orders_not_in_store": len(expected - set(in_store_compacted)),
            "duplicates_in_store": sum(n - 1 for n in in_store_compacted.values() if n > 1),
            "duplicates_before_compaction": sum(n - 1 for n in in_store.values() if n > 1),
            "unknown_in_store": len(set(in_store_compacted) - expected),
            "inbox_rows_left": int(waiting),
            "profile_orders_minus_file": int(order_count or 0) - orders,
            "profile_spend_minus_file_fen": int(spend or 0) - total_fen,
            "orders_without_points": len(keys - set(per_order)),
            "orders_with_points_twice": sum(1 for n in per_order.values() if n > 1),
            "balances_not_sum_of_entries": int(mismatched),
            "verify_mismatches": len(report.mismatches),
            "members_differing_from_clean_import": len(differing),
        },
    }
