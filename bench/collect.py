"""Collect benchmark: sustained events/s through ``POST /v1/batch`` into the embedded store.

The peer, measured in the same run on the same rows: a bare DuckDB append of the same
batches (Python rows → Arrow → ``INSERT``), with no HTTP, validation, identity or
durability. The server's RSS is sampled while it ingests to show it stays flat.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import psutil
import pyarrow as pa

BATCH = 100
EVENTS = ["Product Viewed", "Product Added", "Order Completed", "Coupon Claimed", "Page Viewed"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_batches(total: int, seed: int = 7) -> list[list[dict[str, Any]]]:
    """``total`` realistic track/identify messages in batches of :data:`BATCH`."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    users = max(total // 20, 1)
    messages = []
    for i in range(total):
        user = rng.randrange(users)
        message: dict[str, Any] = {
            "type": "track",
            "messageId": f"bench-{seed}-{i}",
            "anonymousId": f"anon-{user}",
            "event": rng.choice(EVENTS),
            "timestamp": (start + timedelta(seconds=i)).isoformat(),
            "properties": {"sku": f"SKU{rng.randrange(500)}", "price": "19.90", "store": "S01"},
            "context": {
                "campaign": {"source": "douyin", "name": "双11"},
                "externalIds": [
                    {"id": f"o{user}", "type": "mp_openid", "collection": "wx_bench"},
                    {"id": f"u{user}", "type": "unionid"},
                ],
            },
        }
        if i % 10 == 0:
            message = message | {
                "type": "identify",
                "traits": {"member_id": f"M{user}", "level": "gold"},
            }
        messages.append(message)
    return [messages[i : i + BATCH] for i in range(0, total, BATCH)]


def _start_server(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"SIYU_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "siyu", "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(data_dir / "server.log").open("wb"),
    )


def _create_workspace(data_dir: Path) -> dict[str, str]:
    env = os.environ | {"SIYU_DATA_DIR": str(data_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "siyu", "workspace", "create", "bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    keys: dict[str, str] = orjson.loads(out.stdout)
    return keys


def _wait_ready(url: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def _send(url: str, key: str, bodies: list[bytes], errors: list[str]) -> None:
    with httpx.Client(base_url=url, auth=(key, ""), timeout=60) as client:
        for body in bodies:
            response = client.post(
                "/v1/batch", content=body, headers={"content-type": "application/json"}
            )
            if response.status_code != 200 or response.json()["rejected"]:
                errors.append(response.text[:200])


def http_ingest(total: int, clients: int = 8) -> dict[str, Any]:
    """Events/s through the real server, and its RSS over the run."""
    batches = make_batches(total)
    sent_at = datetime.now(UTC).isoformat()
    bodies = [orjson.dumps({"batch": b, "sentAt": sent_at}) for b in batches]
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        keys = _create_workspace(data_dir)
        port = _free_port()
        server = _start_server(data_dir, port)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url)
            proc = psutil.Process(server.pid)
            rss: list[float] = [proc.memory_info().rss / 2**20]
            done = threading.Event()

            def sample() -> None:
                while not done.wait(0.5):
                    rss.append(proc.memory_info().rss / 2**20)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            errors: list[str] = []
            shards = [bodies[i::clients] for i in range(clients)]
            threads = [
                threading.Thread(target=_send, args=(url, keys["write_key"], s, errors))
                for s in shards
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            done.set()
            rss.append(proc.memory_info().rss / 2**20)
            if errors:
                raise RuntimeError(f"{len(errors)} failed batches, first: {errors[0]}")
        finally:
            server.terminate()
            server.wait(timeout=60)
        quarter = max(len(rss) // 4, 1)
        # Flat over time = the last quarter's peak is no higher than the second quarter's
        # (the first quarter is warm-up: caches, pools and the first segment merges).
        return {
            "events": total,
            "seconds": elapsed,
            "events_per_s": total / elapsed,
            "rss_mb_start": rss[0],
            "rss_mb_second_quarter_peak": max(rss[quarter : 2 * quarter], default=rss[-1]),
            "rss_mb_last_quarter_peak": max(rss[-quarter:], default=rss[-1]),
            "rss_mb_peak": max(rss),
        }


def bare_duckdb_append(total: int) -> dict[str, Any]:
    """The same rows appended batch by batch to a DuckDB table, nothing else."""
    batches = make_batches(total)
    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bare.duckdb"))
        con.execute(
            "CREATE TABLE events (message_id VARCHAR, type VARCHAR, event VARCHAR, "
            "anonymous_id VARCHAR, properties VARCHAR, context VARCHAR, timestamp TIMESTAMPTZ)"
        )
        started = time.perf_counter()
        for batch in batches:
            rows = pa.Table.from_pylist(
                [
                    {
                        "message_id": m["messageId"],
                        "type": m["type"],
                        "event": m.get("event"),
                        "anonymous_id": m["anonymousId"],
                        "properties": orjson.dumps(m.get("properties")).decode(),
                        "context": orjson.dumps(m["context"]).decode(),
                        "timestamp": datetime.fromisoformat(m["timestamp"]),
                    }
                    for m in batch
                ]
            )
            con.register("batch_rows", rows)
            con.execute("INSERT INTO events SELECT * FROM batch_rows")
            con.unregister("batch_rows")
        elapsed = time.perf_counter() - started
        con.close()
    return {"events": total, "seconds": elapsed, "events_per_s": total / elapsed}


def run(events: int = 400_000) -> dict[str, Any]:
    """Both measurements and their ratio."""
    server = http_ingest(events)
    bare = bare_duckdb_append(events)
    return {
        "benchmark": "collect",
        "events": events,
        "batch_size": BATCH,
        "siyu_http": server,
        "bare_duckdb_append": bare,
        "ratio_vs_bare": server["events_per_s"] / bare["events_per_s"],
        "aim": {"events_per_s": 20_000, "ratio_vs_bare": 0.3},
    }
