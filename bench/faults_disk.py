"""Disk full: the data directory of ``siyu serve`` on a small tmpfs that a ballast file fills.

On SQLite the operational store itself runs out of space: collect and management writes must
answer 503 with a clear body (never a 2xx), what was acknowledged before stays, and after the
ballast is removed the same server takes the clients' retries (each once). On PostgreSQL only
the event store is on the full disk: collect keeps answering 2xx (the inbox is in PostgreSQL),
the flusher fails and retries, and moves everything once space returns.

Why tmpfs: a real ENOSPC from the kernel, on every file of the data dir (SQLite file, WAL,
Parquet segments, manifest), and space that can be given back without restarting anything.
It needs ``mount`` (root or CAP_SYS_ADMIN, as in the project's container); where that is
refused the scenario is reported as not run rather than faked.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from bench.faults_harness import (
    Senders,
    ServerProcess,
    Stores,
    drop_pg_schema,
    pg_schema_url,
    tally,
    wait_for,
)
from siyu.core.eventstore import DuckDBEventStore

DISK_MB = 48


class NoSmallDisk(Exception):
    """``mount`` is not permitted here."""


@contextlib.contextmanager
def small_disk(path: Path, megabytes: int = DISK_MB) -> Iterator[Path]:
    """A tmpfs of ``megabytes`` mounted at ``path`` (unmounted afterwards)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise NoSmallDisk(mounted.stderr.decode().strip() or "mount refused")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(disk: Path) -> Path:
    """Write a ballast file until the disk has no byte left; the ballast's path."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (1 << 20, 1 << 12, 1):
            block = b"\0" * chunk
            while True:
                try:
                    os.write(fd, block)  # unbuffered: a short write, then ENOSPC
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return ballast


def _event_count(stores: Stores, workspace_id: str) -> int:
    return DuckDBEventStore(stores.data_dir / "events").count(workspace_id)


def _inbox_rows(stores: Stores) -> int:
    from sqlalchemy import func, select

    from siyu.collect.tables import event_inbox
    from siyu.core.db import make_engine

    url = stores.database_url or f"sqlite:///{stores.data_dir / 'siyu.sqlite3'}"
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(select(func.coalesce(func.sum(event_inbox.c.rows), 0))).scalar_one()
            )
    finally:
        engine.dispose()


def disk_full(
    backend: str, *, clients: int = 4, batches: int = 10, size: int = 50
) -> dict[str, Any]:
    """Fill the disk while clients send; check the answers, the stores, the recovery."""
    schema = f"faults_disk_{os.getpid()}"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            with small_disk(Path(tmp) / "disk") as disk:
                url = pg_schema_url(schema) if backend == "postgresql" else ""
                stores = Stores(disk / "data", url)
                result = _on_disk(stores, Path(tmp), backend, clients, batches, size)
        except NoSmallDisk as exc:
            return {"backend": backend, "skipped": f"no tmpfs: {exc}"}
        finally:
            if backend == "postgresql":
                drop_pg_schema(schema)
    return result


def _on_disk(
    stores: Stores, logs: Path, backend: str, clients: int, batches: int, size: int
) -> dict[str, Any]:
    keys = stores.create_workspace()
    ws = keys["workspace_id"]
    server = ServerProcess(stores, log_dir=logs)  # the log stays off the full disk
    server.start()
    admin = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {keys['secret_key']}"}, timeout=60
    )
    senders = Senders(lambda: server.url, keys["write_key"], clients, batches, size, tag="d")
    during: dict[str, Any] = {}
    try:
        ballast = fill(stores.data_dir.parent)
        senders.start()
        if backend == "sqlite":
            wait_for(lambda: _refusals(senders) >= 3, 120, "503s while the disk is full")
        else:
            wait_for(lambda: senders.sent_2xx() == clients * batches, 240, "every batch acked")
            time.sleep(1.0)  # several flush rounds, all failing
            during["inbox_rows_while_full"] = _inbox_rows(stores)
            during["events_in_store_while_full"] = _event_count(stores, ws)
        write = admin.post("/api/tags/groups", json={"name": "full-disk"})
        during["management_write"] = write.status_code
        during["management_write_body"] = write.json() if write.status_code >= 400 else None
        during["management_read"] = admin.get("/api/segments").status_code
        ballast.unlink()
        senders.join()
        # The flusher takes the inbox out by itself once space is back (no restart, no stop).
        wait_for(lambda: _event_count(stores, ws) >= senders.sent_2xx() * size, 120,
                 "the flusher to catch up after space returned")  # fmt: skip
        after = admin.post("/api/tags/groups", json={"name": "after-disk-full"}).status_code
        process = server.process
        same_process = server.starts == 1 and process is not None and process.poll() is None
    finally:
        admin.close()
        server.stop()
    counts = stores.event_counts(ws)
    leftovers = sorted(p.name for p in (stores.data_dir / "events").glob("*.tmp"))
    figures = tally(senders.outcomes, *counts, size)
    return {
        "backend": backend,
        "mechanism": f"tmpfs {DISK_MB} MB + ballast file",
        **during,
        **figures,
        "management_write_after": after,
        "checks": {
            "lost": figures["lost"],
            "duplicates": figures["duplicates"],
            "duplicates_before_compaction": figures["duplicates_before_compaction"],
            "never_acked": figures["never_acked"],
            "answers_not_2xx_or_503": sorted(set(figures["answers"]) - {"200", "503"}),
            "bodies_5xx_not_store_error": sum("StoreError" not in b for b in senders.bodies_5xx),
            "recovered_without_restart": same_process and after == 201,
            "temp_files_left": leftovers,
        },
    }


def _refusals(senders: Senders) -> int:
    return sum(s == 503 for o in list(senders.outcomes) for s in list(o.statuses))
