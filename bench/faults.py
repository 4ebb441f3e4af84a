"""Fault scenarios (issue 7): a real ``siyu serve`` killed, its database taken away, its disk
filled, a worker killed mid-ledger-write, an import killed mid-file, the birthday-gift and
tier-refresh jobs killed mid-run — each checked against what the clients were told or what an
uninterrupted run gives. ``python -m bench.faults [--quick]`` prints the figures;
``bench.run`` runs them with the other benchmarks; ``tests/faults`` runs short variants.

Every scenario returns a dict of figures; ``checks`` in it holds what must be zero/true.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench import faults_disk, faults_import, faults_jobs, faults_ledger
from bench.faults_harness import (
    Senders,
    ServerProcess,
    Stores,
    drop_pg_schema,
    pg_schema_url,
    pg_target,
    tally,
    track_batch,
)
from bench.faults_proxy import TcpProxy


def _stores(tmp: Path, backend: str, schema: str, via_port: int | None = None) -> Stores:
    url = pg_schema_url(schema, via_port=via_port) if backend == "postgresql" else ""
    return Stores(tmp / "data", url)


def server_kill(
    backend: str, *, clients: int = 8, batches: int = 20, size: int = 50, kills: int = 2
) -> dict[str, Any]:
    """SIGKILL ``siyu serve`` ``kills`` times while ``clients`` threads send batches; the
    clients retry what got no 2xx with the same message ids. After the last restart and a
    flush, every acknowledged event must be in the event store exactly once."""
    schema = f"faults_kill_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        stores = _stores(Path(tmp), backend, schema)
        keys = stores.create_workspace()
        server = ServerProcess(stores)
        server.start()
        senders = Senders(lambda: server.url, keys["write_key"], clients, batches, size, tag="k")
        started = time.monotonic()
        senders.start()
        total = clients * batches
        killed_at: list[int] = []
        try:
            for k in range(1, kills + 1):
                goal = total * k // (kills + 1)
                senders.wait_acked(goal)
                server.kill()
                killed_at.append(senders.sent_2xx())
                server.start()
            senders.join()
            elapsed = time.monotonic() - started
        finally:
            server.stop()  # the graceful stop flushes the inbox to the event store
        counts = stores.event_counts(keys["workspace_id"])
    if backend == "postgresql":
        drop_pg_schema(schema)
    figures = tally(senders.outcomes, *counts, size)
    return {
        "backend": backend,
        "clients": clients,
        "kills": kills,
        "acked_when_killed": killed_at,
        "seconds": round(elapsed, 1),
        **figures,
        "checks": _exactly_once(figures),
    }


def _exactly_once(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        "lost": figures["lost"],
        "duplicates": figures["duplicates"],
        "duplicates_before_compaction": figures["duplicates_before_compaction"],
        "never_acked": figures["never_acked"],
        "unknown_in_store": figures["unknown_in_store"],
    }


def _probe(client: httpx.Client, path: str, answers: dict[str, int], bodies: list[Any]) -> None:
    try:
        response = client.get(path)
    except httpx.HTTPError as exc:
        answers[type(exc).__name__] = answers.get(type(exc).__name__, 0) + 1
        return
    answers[str(response.status_code)] = answers.get(str(response.status_code), 0) + 1
    if response.status_code == 503:
        bodies.append({"body": response.json(), "retry_after": response.headers.get("retry-after")})


def store_outage(
    *, clients: int = 6, batches: int = 20, size: int = 50, outages: int = 2, seconds: float = 2.0
) -> dict[str, Any]:
    """Cut the link between ``siyu serve`` and PostgreSQL (a TCP proxy) ``outages`` times for
    ``seconds`` while clients send; the management API is probed during each outage. Every
    answer must be a 2xx or a 503 with a JSON body; the same server must recover by itself."""
    schema = f"faults_outage_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp, TcpProxy(pg_target()) as proxy:
        stores = _stores(Path(tmp), "postgresql", schema, via_port=proxy.port)
        keys = stores.create_workspace()
        server = ServerProcess(stores)
        server.start()
        senders = Senders(lambda: server.url, keys["write_key"], clients, batches, size, tag="o")
        admin = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {keys['secret_key']}"},
            timeout=30,
        )
        management: dict[str, int] = {}
        bodies: list[Any] = []
        senders.start()
        total = clients * batches
        try:
            for k in range(1, outages + 1):
                goal = total * k // (outages + 1)
                senders.wait_acked(goal)
                proxy.cut()
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    _probe(admin, "/api/segments", management, bodies)
                    time.sleep(0.1)
                proxy.restore()
            senders.join()
            after = admin.get("/api/segments").status_code
            pid_unchanged = server.process is not None and server.process.poll() is None
        finally:
            admin.close()
            server.stop()
        counts = stores.event_counts(keys["workspace_id"])
        log = server.log_tail(200_000)
    drop_pg_schema(schema)
    figures = tally(senders.outcomes, *counts, size)
    collect_answers = set(figures["answers"])
    return {
        "backend": "postgresql",
        "outages": outages,
        "outage_seconds": seconds,
        "management_answers_during_outage": management,
        "management_after": after,
        "sample_503": bodies[0] if bodies else None,
        **figures,
        "checks": {
            **_exactly_once(figures),
            "collect_answers_not_2xx_or_503": sorted(collect_answers - {"200", "503"}),
            "management_answers_not_503": sorted(set(management) - {"503"}),
            "bodies_5xx_not_store_error": sum("StoreError" not in b for b in senders.bodies_5xx),
            "tracebacks_500": log.count("Exception in ASGI application"),
            "recovered_without_restart": pid_unchanged and after == 200 and server.starts == 1,
        },
    }


def sqlite_locked(*, hold_seconds: float = 40.0, size: int = 20) -> dict[str, Any]:
    """Hold SQLite's write lock from another connection past the 30 s busy timeout while a
    batch is sent: it must get a 503 (locked) and keep nothing; sent again after the lock
    goes, every event of it is accepted (none is a duplicate of a half-kept first try)."""
    with tempfile.TemporaryDirectory() as tmp:
        stores = _stores(Path(tmp), "sqlite", "")
        keys = stores.create_workspace()
        server = ServerProcess(stores)
        server.start()
        body = {"batch": track_batch("locked", 0, size)}
        answers: list[httpx.Response] = []
        try:
            with httpx.Client(base_url=server.url, auth=(keys["write_key"], ""), timeout=180) as c:
                lock = sqlite3.connect(stores.data_dir / "siyu.sqlite3", isolation_level=None)
                lock.execute("BEGIN IMMEDIATE")
                sender = threading.Thread(
                    target=lambda: answers.append(c.post("/v1/batch", json=body))
                )
                started = time.monotonic()
                sender.start()
                sender.join(hold_seconds)
                waited = time.monotonic() - started
                lock.execute("ROLLBACK")
                lock.close()
                sender.join(120)
                retry = c.post("/v1/batch", json=body).json()
        finally:
            server.stop()
    first = answers[0] if answers else None
    return {
        "backend": "sqlite",
        "held_seconds": hold_seconds,
        "first_status": first.status_code if first is not None else None,
        "first_body": first.json() if first is not None else None,
        "answered_within_seconds": round(waited, 1),
        "retry": retry,
        "checks": {
            "first_not_503": int(first is None or first.status_code != 503),
            "retry_not_all_accepted": size - int(retry.get("accepted", 0)),
        },
    }


def run(quick: bool = False) -> dict[str, Any]:
    """Every scenario, on SQLite and PostgreSQL where it applies."""
    n = 1 if quick else 4
    results: dict[str, Any] = {}
    for backend in ("sqlite", "postgresql"):
        results[f"server_kill_{backend}"] = server_kill(
            backend, clients=8, batches=10 * n, size=50, kills=2 * n
        )
        results[f"worker_kill_{backend}"] = faults_ledger.worker_kill(
            backend, persons=300 if quick else 2000, lots_each=5, kills=2 * n
        )
        results[f"disk_full_{backend}"] = faults_disk.disk_full(backend, clients=4, batches=10 * n)
        kills = 1 if quick else 3
        results[f"import_kill_{backend}"] = faults_import.import_kill(
            backend, orders=6000 if quick else 20_000, kills=kills
        )
        results[f"birthday_kill_{backend}"] = faults_jobs.birthday_kill(
            backend, persons=600 if quick else 3000, kills=kills
        )
        results[f"tier_kill_{backend}"] = faults_jobs.tier_kill(
            backend, persons=800 if quick else 3000, kills=kills
        )
    results["store_outage_postgresql"] = store_outage(
        clients=6, batches=10 * n, outages=2 * n, seconds=2.0 * n
    )
    if not quick:
        results["sqlite_locked"] = sqlite_locked()
    return results


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv[1:]), indent=2, default=str))
