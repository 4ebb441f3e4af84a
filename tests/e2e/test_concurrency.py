"""`siyu import` while `siyu serve` ingests, and event-store reads while both write."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx

from siyu.core.eventstore import DuckDBEventStore
from tests.e2e.conftest import Server


def write_orders(path: Path, n: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "member_id", "amount", "ordered_at"])
        for i in range(n):
            writer.writerow([f"O{i}", f"M{i % 300}", "29.90", "2026-11-01 12:00:00"])
    return path


def test_import_runs_while_the_server_ingests(
    server: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    srv, keys = server
    orders = write_orders(tmp_path / "orders.csv", 3000)
    env = os.environ | {"SIYU_DATA_DIR": str(srv.data_dir)}
    importer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "siyu",
            "import",
            "orders",
            str(orders),
            "--source",
            "generic",
            "--json",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    store = DuckDBEventStore(srv.data_dir / "events")
    reads: list[int] = []
    stop = threading.Event()

    def read_while_writing() -> None:
        while not stop.is_set():
            reads.append(
                int(
                    store.query(keys["workspace_id"], "SELECT count(*) AS n FROM events")
                    .column("n")[0]
                    .as_py()
                )
            )

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    accepted = 0
    with httpx.Client(base_url=srv.url, auth=(keys["write_key"], ""), timeout=60) as client:
        for b in range(20):
            batch = [
                {
                    "type": "track",
                    "messageId": f"h{b}-{i}",
                    "userId": f"u{i}",
                    "event": "Product Viewed",
                }
                for i in range(100)
            ]
            accepted += client.post("/v1/batch", json={"batch": batch}).json()["accepted"]
    out, err = importer.communicate(timeout=300)
    stop.set()
    reader.join()
    assert importer.returncode == 0, err.decode()
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["imported"] == 3000
    assert accepted == 2000
    srv.stop()  # the graceful stop flushes the inbox
    final = int(
        store.query(keys["workspace_id"], "SELECT count(*) AS n FROM events").column("n")[0].as_py()
    )
    assert final == 5000
    assert reads and max(reads) <= final and reads == sorted(reads)
