"""The birthday-gift and tier-refresh jobs killed mid-run: ``siyu jobs run --job birthday_gifts``
(one transaction per member) and ``--job tier_refresh`` (one per 200 members) SIGKILLed after
they committed part of their work, then run again once the killed claim's lease is past.

Birthday gifts: every member whose birthday is today gets the tier's points and coupon exactly
once (keyed by person and year); non-members and other days get nothing; every balance equals
the sum of its entries and the audit is clean.

Tier refresh: the same members are seeded in two workspaces; one's refresh is killed and run
again, the other's runs once, uninterrupted. Every member's tier, growth, tier start and
pending downgrade, its tier history and its upgrade coupons must be the same in both.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from bench.faults_harness import Stores, drop_pg_schema, pg_schema_url
from bench.faults_ledger import BALANCE_MISMATCHES, LEASE_PASSED
from siyu.core.db import make_engine, make_session_factory
from siyu.identity.tables import identity_persons
from siyu.loyalty import coupon_service, membership, points_audit
from siyu.loyalty.coupon_models import CouponTemplateCreate
from siyu.loyalty.coupon_tables import coupon_templates, coupons
from siyu.loyalty.coupons import DiscountKind
from siyu.loyalty.points_tables import points_entries
from siyu.loyalty.tier_models import TierLadder
from siyu.loyalty.tier_tables import member_growth, member_tier_history, members
from siyu.profiles.tables import profile_traits

SET_UP_AT = datetime(2025, 1, 1, tzinfo=UTC)
RUN_AT = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)  # 11:00 in Asia/Shanghai: both jobs are due
BIRTHDAY = "1990-06-01"
BIRTHDAY_POINTS = {"normal": 50, "silver": 100, "gold": 200}
_e, _c, _m, _h = points_entries.c, coupons.c, members.c, member_tier_history.c


class Count:
    """A count over committed rows, read without a lock (a plain sqlite3 connection on SQLite,
    so the reader never contends with the job for SQLite's write lock)."""

    def __init__(self, stores: Stores, query: str, **params: str) -> None:
        self.stores, self.query, self.params = stores, query, params
        self.engine = make_engine(stores.database_url) if stores.database_url else None

    def __call__(self) -> int:
        if self.engine is None:
            path = self.stores.data_dir / "siyu.sqlite3"
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                return int(conn.execute(self.query, self.params).fetchone()[0])
        with self.engine.connect() as conn:
            return int(conn.execute(text(self.query), self.params).scalar_one())

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _job(stores: Stores, job: str, workspace_id: str, now: datetime) -> subprocess.Popen[bytes]:
    args = ["jobs", "run", "--job", job, "--workspace", workspace_id, "--now", now.isoformat()]
    return subprocess.Popen(
        [sys.executable, "-m", "siyu", *args, "--json"],
        env=stores.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _kill_mid_run(
    stores: Stores, job: str, workspace_id: str, now: datetime, done: Count, goal: int, left: int
) -> int:
    """Start the job; SIGKILL it once it has committed its share of what is left (1/``left``+1
    of it, so ``left`` kills spread over the run) but not all of ``goal``. What was committed
    then, or -1 when the run finished before the kill landed."""
    before = done()
    at_least = before + max(1, (goal - before) // (left + 1))
    run = _job(stores, job, workspace_id, now)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and run.poll() is None:
        now_done = done()
        if at_least <= now_done < goal:
            run.kill()
            run.wait(timeout=30)
            return now_done
        time.sleep(0.01)
    run.communicate(timeout=600)
    return -1


def _run_to_end(stores: Stores, job: str, workspace_id: str, now: datetime) -> tuple[int, str]:
    run = _job(stores, job, workspace_id, now)
    out, err = run.communicate(timeout=900)
    failed = run.returncode != 0 or b'"failed"' in out
    return (run.returncode or int(failed)), (err + out).decode()[-500:] if failed else ""


def _template(session: Session, workspace_id: str, name: str) -> str:
    template = CouponTemplateCreate(
        name=name, kind=DiscountKind.AMOUNT_OFF, amount_off_fen=1000, valid_days=30
    )
    return coupon_service.create_template(
        session=session, workspace_id=workspace_id, template=template, now=SET_UP_AT
    ).id


def _persons(session: Session, workspace_id: str, ids: list[str]) -> None:
    session.execute(
        insert(identity_persons),
        [{"id": p, "workspace_id": workspace_id, "rank": n, "created_at": SET_UP_AT}
         for n, p in enumerate(ids)],
    )  # fmt: skip


def _member_rows(workspace_id: str, ids: list[str], tier: Callable[[int], str]) -> list[Any]:
    return [
        {"workspace_id": workspace_id, "person_id": p, "member_no": f"M{n}", "source": "import",
         "enrolled_at": SET_UP_AT, "tier": tier(n), "tier_since": SET_UP_AT, "growth": 0,
         "downgrade_at": None, "evaluated_at": SET_UP_AT}
        for n, p in enumerate(ids)
    ]  # fmt: skip


def _workspace(stores: Stores, name: str) -> str:
    made = stores.cli("workspace", "create", name, "--json", check=False)
    if made.returncode:
        raise RuntimeError(f"siyu workspace create failed: {made.stderr.decode()[-1000:]}")
    return str(orjson.loads(made.stdout)["workspace_id"])


def _open(stores: Stores) -> tuple[Any, sessionmaker[Session]]:
    url = stores.database_url or f"sqlite:///{(stores.data_dir / 'siyu.sqlite3').resolve()}"
    engine = make_engine(url)
    return engine, make_session_factory(engine)


# -- birthday gifts ----------------------------------------------------------------------------


def _birthday_expected(n: int) -> bool:
    """Person ``n`` is a member (4 in 5) whose birthday is today (3 in 4)."""
    return n % 5 != 4 and n % 4 != 3


def _seed_birthdays(db: sessionmaker[Session], workspace_id: str, persons: int) -> list[str]:
    ids = [f"p_bday_{n}" for n in range(persons)]
    tiers = ("normal", "silver", "gold")
    with db() as session, session.begin():
        gift = _template(session, workspace_id, "生日券")
        ladder = {"tiers": [
            {"code": code, "name": code, "min_growth": 300 * rank,
             "birthday_points": BIRTHDAY_POINTS[code], "birthday_coupon_template_id": gift}
            for rank, code in enumerate(tiers)
        ]}  # fmt: skip
        membership.set_tiers(
            session=session,
            workspace_id=workspace_id,
            ladder=TierLadder.model_validate(ladder),
            now=SET_UP_AT,
        )
        _persons(session, workspace_id, ids)
        session.execute(
            insert(members),
            [r for n, r in enumerate(_member_rows(workspace_id, ids, lambda n: tiers[n % 3]))
             if n % 5 != 4],
        )  # fmt: skip
        session.execute(
            insert(profile_traits),
            [{"workspace_id": workspace_id, "person_id": p, "name": "birthday",
              "value": BIRTHDAY if n % 4 != 3 else "1990-07-15", "observed_at": SET_UP_AT}
             for n, p in enumerate(ids)],
        )  # fmt: skip
    return ids


def birthday_kill(backend: str, *, persons: int = 3000, kills: int = 2) -> dict[str, Any]:
    """Kill the birthday-gift job ``kills`` times mid-run, run it to the end, check the gifts
    and the ledger."""
    schema = f"faults_bday_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        stores = Stores(
            Path(tmp) / "data", pg_schema_url(schema) if backend == "postgresql" else ""
        )
        workspace_id = _workspace(stores, "birthdays")
        engine, db = _open(stores)
        started = time.monotonic()
        ids = _seed_birthdays(db, workspace_id, persons)
        seeded = time.monotonic() - started
        due = {p for n, p in enumerate(ids) if _birthday_expected(n)}
        given = Count(
            stores,
            "SELECT count(*) FROM points_entries WHERE workspace_id = :ws AND reason = 'birthday'",
            ws=workspace_id,
        )
        now, landed = RUN_AT, []
        started = time.monotonic()
        for k in range(kills):
            landed.append(
                _kill_mid_run(
                    stores, "birthday_gifts", workspace_id, now, given, len(due), kills - k
                )
            )
            now += LEASE_PASSED
        given.close()
        exit_code, err = _run_to_end(stores, "birthday_gifts", workspace_id, now)
        elapsed = time.monotonic() - started
        result = _check_birthdays(db, workspace_id, ids, due)
        engine.dispose()
    if backend == "postgresql":
        drop_pg_schema(schema)
    return {
        "backend": backend,
        "persons": persons,
        "birthdays_due": len(due),
        "seed_seconds": round(seeded, 1),
        "gifts_given_when_killed": landed,
        "kills_mid_run": sum(1 for n in landed if n >= 0),
        "final_run_exit": exit_code,
        "final_run_output": err,
        "seconds": round(elapsed, 1),
        **result,
    }


def _check_birthdays(
    db: sessionmaker[Session], workspace_id: str, ids: list[str], due: set[str]
) -> dict[str, Any]:
    with db() as session:
        entries = Counter(
            session.execute(
                select(_e.person_id).where(_e.workspace_id == workspace_id, _e.reason == "birthday")
            ).scalars()
        )
        gift_points = session.execute(
            select(func.sum(_e.amount)).where(
                _e.workspace_id == workspace_id, _e.reason == "birthday"
            )
        ).scalar_one()
        gift_coupons = Counter(
            session.execute(
                select(_c.person_id).where(_c.workspace_id == workspace_id, _c.source == "birthday")
            ).scalars()
        )
        mismatched = session.execute(BALANCE_MISMATCHES).scalar_one()
        report = points_audit.verify(session=session)
    tiers = ("normal", "silver", "gold")
    expected_points = sum(BIRTHDAY_POINTS[tiers[n % 3]] for n, p in enumerate(ids) if p in due)
    return {
        "gift_entries": sum(entries.values()),
        "gift_coupons": sum(gift_coupons.values()),
        "gift_points": int(gift_points or 0),
        "checks": {
            "members_without_gift": len(due - set(entries)),
            "members_without_coupon": len(due - set(gift_coupons)),
            "gifts_twice": sum(1 for n in entries.values() if n > 1),
            "coupons_twice": sum(1 for n in gift_coupons.values() if n > 1),
            "gifts_not_due": len(set(entries) - due) + len(set(gift_coupons) - due),
            "gift_points_minus_expected": int(gift_points or 0) - expected_points,
            "balances_not_sum_of_entries": int(mismatched),
            "verify_mismatches": len(report.mismatches),
        },
    }


# -- tier refresh ------------------------------------------------------------------------------


def _growth_of(n: int) -> list[tuple[datetime, int]]:
    """Growth that makes member ``n`` move: up to silver or gold this spring (with the tier's
    upgrade coupon), down after holding gold last year, or nowhere."""
    kind = n % 4
    if kind == 0:  # gold in early 2025, nothing since: down at the period end
        return [(datetime(2025, 2, 1, tzinfo=UTC) + timedelta(hours=n % 500), 1_000)]
    if kind == 1:
        return [(datetime(2026, 4, 1, tzinfo=UTC) + timedelta(hours=n % 500), 400)]
    if kind == 2:
        return [(datetime(2026, 3, 1, tzinfo=UTC), 300), (datetime(2026, 5, 1, tzinfo=UTC), 800)]
    return []


def _seed_tiers(db: sessionmaker[Session], workspace_id: str, tag: str, persons: int) -> None:
    """Members as a bulk load leaves them: tier ``normal``, never evaluated, with growth."""
    ids = [f"p_{tag}_{n}" for n in range(persons)]
    with db() as session, session.begin():
        silver, gold = (
            _template(session, workspace_id, "银卡礼"),
            _template(session, workspace_id, "金卡礼"),
        )
        ladder = {"tiers": [
            {"code": "normal", "name": "普通", "min_growth": 0},
            {"code": "silver", "name": "银卡", "min_growth": 300,
             "upgrade_coupon_template_ids": [silver]},
            {"code": "gold", "name": "金卡", "min_growth": 1_000,
             "upgrade_coupon_template_ids": [gold]},
        ]}  # fmt: skip
        membership.set_tiers(
            session=session,
            workspace_id=workspace_id,
            ladder=TierLadder.model_validate(ladder),
            now=SET_UP_AT,
        )
        _persons(session, workspace_id, ids)
        session.execute(insert(members), _member_rows(workspace_id, ids, lambda n: "normal"))
        growth = [
            {"workspace_id": workspace_id, "person_id": p, "amount": amount, "reason": "order",
             "at": at, "idempotency_key": f"seed:{p}:{k}"}
            for n, p in enumerate(ids) for k, (at, amount) in enumerate(_growth_of(n))
        ]  # fmt: skip
        session.execute(insert(member_growth), growth)


def tier_kill(backend: str, *, persons: int = 3000, kills: int = 2) -> dict[str, Any]:
    """Seed the same members in two workspaces; kill one's tier refresh ``kills`` times and run
    it to the end, run the other's once; both must end the same."""
    schema = f"faults_tiers_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        stores = Stores(
            Path(tmp) / "data", pg_schema_url(schema) if backend == "postgresql" else ""
        )
        killed_ws, clean_ws = _workspace(stores, "killed"), _workspace(stores, "clean")
        engine, db = _open(stores)
        started = time.monotonic()
        _seed_tiers(db, killed_ws, "k", persons)
        _seed_tiers(db, clean_ws, "c", persons)
        seeded = time.monotonic() - started
        final_now = RUN_AT + kills * LEASE_PASSED
        clean_started = time.monotonic()
        clean_exit, clean_err = _run_to_end(stores, "tier_refresh", clean_ws, final_now)
        clean_seconds = time.monotonic() - clean_started
        history = "SELECT count(*) FROM member_tier_history WHERE workspace_id = :ws"
        goal = Count(stores, history, ws=clean_ws)()
        written = Count(stores, history, ws=killed_ws)
        now, landed = RUN_AT, []
        started = time.monotonic()
        for k in range(kills):
            landed.append(
                _kill_mid_run(stores, "tier_refresh", killed_ws, now, written, goal, kills - k)
            )
            now += LEASE_PASSED
        written.close()
        exit_code, err = _run_to_end(stores, "tier_refresh", killed_ws, now)
        elapsed = time.monotonic() - started
        result = _check_tiers(db, killed_ws, clean_ws)
        engine.dispose()
    if backend == "postgresql":
        drop_pg_schema(schema)
    return {
        "backend": backend,
        "members": persons,
        "seed_seconds": round(seeded, 1),
        "clean_run_seconds": round(clean_seconds, 1),
        "clean_run_exit": clean_exit,
        "clean_run_output": clean_err,
        "history_rows_when_killed": landed,
        "kills_mid_run": sum(1 for n in landed if n >= 0),
        "final_run_exit": exit_code,
        "final_run_output": err,
        "seconds": round(elapsed, 1),
        **result,
    }


def _tier_state(session: Session, workspace_id: str) -> dict[str, Any]:
    """Per member (by member number): stored tier state, history and upgrade coupons."""
    number = {
        r.person_id: r.member_no
        for r in session.execute(
            select(_m.person_id, _m.member_no).where(_m.workspace_id == workspace_id)
        )
    }
    state = {
        number[r.person_id]: (r.tier, r.tier_since, r.growth, r.downgrade_at)
        for r in session.execute(select(members).where(_m.workspace_id == workspace_id))
    }
    history = Counter(
        (number[r.person_id], r.at, r.from_tier, r.to_tier, r.change)
        for r in session.execute(
            select(_h.person_id, _h.at, _h.from_tier, _h.to_tier, _h.change).where(
                _h.workspace_id == workspace_id
            )
        )
    )
    t = coupon_templates.c
    upgrade = Counter(
        (number[r.person_id], r.name)
        for r in session.execute(
            select(_c.person_id, t.name)
            .join(coupon_templates, t.id == _c.template_id)
            .where(_c.workspace_id == workspace_id, _c.source == "upgrade")
        )
    )
    return {"state": state, "history": history, "coupons": upgrade}


def _check_tiers(db: sessionmaker[Session], killed_ws: str, clean_ws: str) -> dict[str, Any]:
    with db() as session:
        killed, clean = _tier_state(session, killed_ws), _tier_state(session, clean_ws)
        mismatched = session.execute(BALANCE_MISMATCHES).scalar_one()
    tiers = Counter(s[0] for s in killed["state"].values())
    differing = {
        k for k in set(killed["state"]) | set(clean["state"])
        if killed["state"].get(k) != clean["state"].get(k)
    }  # fmt: skip
    return {
        "tiers_after": dict(sorted(tiers.items())),
        "history_rows": sum(killed["history"].values()),
        "upgrade_coupons": sum(killed["coupons"].values()),
        "checks": {
            "members_differing_from_clean_run": len(differing),
            "history_rows_twice": sum(1 for n in killed["history"].values() if n > 1),
            "history_differing_from_clean_run": sum(
                (
                    (killed["history"] - clean["history"]) + (clean["history"] - killed["history"])
                ).values()
            ),
            "upgrade_coupons_differing_from_clean_run": sum(
                (
                    (killed["coupons"] - clean["coupons"]) + (clean["coupons"] - killed["coupons"])
                ).values()
            ),
            "upgrade_coupons_twice_for_a_tier": sum(1 for n in killed["coupons"].values() if n > 1),
            "balances_not_sum_of_entries": int(mismatched),
        },
    }
