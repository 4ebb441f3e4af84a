"""What the fault scenarios share: stores on SQLite or PostgreSQL, a real ``siyu serve`` process
that can be killed, clients that retry what did not get a 2xx, and checks over the stores.

Everything runs on 127.0.0.1. PostgreSQL is the server at ``SIYU_TEST_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each run gets its own schema.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy import make_url, text

from siyu.core.db import make_engine
from siyu.core.eventstore import DuckDBEventStore

PG_URL = os.environ.get("SIYU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_schema_url(schema: str, *, via_port: int | None = None) -> str:
    """Create (or empty) ``schema`` on the PostgreSQL server; a URL whose search_path is it.

    ``via_port`` rewrites the URL to reach the server through a local proxy on that port.
    """
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    finally:
        admin.dispose()
    url = PG_URL
    if via_port is not None:
        url = make_url(PG_URL).set(host="127.0.0.1", port=via_port).render_as_string(False)
    return url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"


def pg_target() -> tuple[str, int]:
    """The host and port of the PostgreSQL server."""
    parts = urlsplit(PG_URL)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def drop_pg_schema(schema: str) -> None:
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    finally:
        admin.dispose()


@dataclass
class Stores:
    """Where a scenario's server keeps its data: a data dir, and PostgreSQL or not."""

    data_dir: Path
    database_url: str = ""

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url else "sqlite"

    def env(self, **extra: str) -> dict[str, str]:
        env = os.environ | {"SIYU_DATA_DIR": str(self.data_dir)}
        if self.database_url:
            env["SIYU_DATABASE_URL"] = self.database_url
        return env | extra

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        """Run ``siyu <args>`` against these stores."""
        return subprocess.run(
            [sys.executable, "-m", "siyu", *args],
            env=self.env(),
            capture_output=True,
            check=check,
            timeout=300,
        )

    def create_workspace(self, name: str = "faults") -> dict[str, str]:
        keys: dict[str, str] = orjson.loads(self.cli("workspace", "create", name, "--json").stdout)
        return keys

    def event_counts(self, workspace_id: str) -> tuple[Counter[str], Counter[str]]:
        """Each message id's rows as readers see them now, then after a full compaction."""
        return self.message_counts(workspace_id), self.message_counts(workspace_id, compacted=True)

    def message_counts(self, workspace_id: str, *, compacted: bool = False) -> Counter[str]:
        """How many times each message id is in the event store (after a full compaction,
        which drops duplicate message ids, when ``compacted``)."""
        store = DuckDBEventStore(self.data_dir / "events")
        if compacted:
            store.compact(workspace_id)
        table = store.query(
            workspace_id, "SELECT message_id, count(*) AS n FROM events GROUP BY message_id"
        )
        return Counter(
            dict(
                zip(
                    table.column("message_id").to_pylist(),
                    table.column("n").to_pylist(),
                    strict=True,
                )
            )
        )


@dataclass
class ServerProcess:
    """A real ``siyu serve`` on 127.0.0.1 over ``stores``."""

    stores: Stores
    port: int = field(default_factory=free_port)
    env_extra: dict[str, str] = field(default_factory=dict)
    preexec: Callable[[], None] | None = None
    log_dir: Path | None = None  # default: next to the data dir
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return (self.log_dir or self.stores.data_dir.parent) / f"server-{self.port}.log"

    def start(self, timeout: float = 300.0) -> None:
        env = self.stores.env(
            SIYU_FLUSH_INTERVAL_SECONDS="0.2", SIYU_SCHEDULE_INTERVAL_SECONDS="3600"
        )
        self.starts += 1
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "siyu",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env | self.env_extra,
            stdout=subprocess.DEVNULL,
            stderr=self.log_path.open("ab"),
            preexec_fn=self.preexec,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"siyu serve exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"siyu serve did not start: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, no final flush."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM: the graceful stop flushes the inbox."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def track_batch(tag: str, index: int, size: int) -> list[dict[str, Any]]:
    """``size`` track messages with message ids unique to (tag, index)."""
    return [
        {
            "type": "track",
            "messageId": f"{tag}-{index}-{i}",
            "userId": f"u{(index * size + i) % 997}",
            "event": "Product Viewed",
            "properties": {"sku": f"SKU{i % 50}", "price": "19.90"},
        }
        for i in range(size)
    ]


@dataclass
class BatchOutcome:
    """What one batch went through: every status it got, and its final answer."""

    index: int
    message_ids: list[str]
    statuses: list[int | str] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    acked: bool = False

    @property
    def retried(self) -> bool:
        return len(self.statuses) > 1


@dataclass
class Senders:
    """``clients`` threads sending ``batches`` batches each; what did not get a 2xx is sent
    again, with the same message ids, until it does or ``give_up_after`` seconds pass."""

    url: Callable[[], str]
    write_key: str
    clients: int
    batches: int
    size: int
    tag: str = "f"
    give_up_after: float = 600.0
    outcomes: list[BatchOutcome] = field(default_factory=list)
    bodies_5xx: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for client in range(self.clients):
            thread = threading.Thread(target=self._client, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float = 900.0) -> None:
        end = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(end - time.monotonic(), 0.1))

    def sent_2xx(self) -> int:
        with self._lock:
            return sum(o.acked for o in self.outcomes)

    def wait_acked(self, goal: int, timeout: float = 600.0) -> None:
        """Block until ``goal`` batches have had a 2xx."""
        wait_for(lambda: self.sent_2xx() >= goal, timeout, f"{goal} batches acknowledged")

    def _client(self, client: int) -> None:
        with httpx.Client(auth=(self.write_key, ""), timeout=30) as http:
            for b in range(self.batches):
                index = client * self.batches + b
                batch = track_batch(f"{self.tag}{client}", b, self.size)
                outcome = BatchOutcome(index, [m["messageId"] for m in batch])
                with self._lock:
                    self.outcomes.append(outcome)
                self._send(http, outcome, orjson.dumps({"batch": batch}))

    def _send(self, http: httpx.Client, outcome: BatchOutcome, body: bytes) -> None:
        end = time.monotonic() + self.give_up_after
        pause = 0.05
        while time.monotonic() < end:
            try:
                response = http.post(
                    self.url() + "/v1/batch",
                    content=body,
                    headers={"content-type": "application/json"},
                )
            except httpx.HTTPError as exc:
                outcome.statuses.append(type(exc).__name__)
            else:
                outcome.statuses.append(response.status_code)
                if 200 <= response.status_code < 300:
                    answer = response.json()
                    outcome.accepted, outcome.duplicates = answer["accepted"], answer["duplicates"]
                    outcome.acked = True
                    return
                if response.status_code >= 500:
                    with self._lock:
                        self.bodies_5xx.append(response.text[:500])
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def tally(
    outcomes: list[BatchOutcome], seen: Counter[str], counts: Counter[str], size: int
) -> dict[str, Any]:
    """Figures over what the clients were told and what the event store holds: ``seen`` as
    readers saw it before a full compaction, ``counts`` after it (a compaction drops
    duplicate message ids; readers must not see any before it either)."""
    acked_ids = [m for o in outcomes if o.acked for m in o.message_ids]
    first_try = [o for o in outcomes if o.acked and not o.retried]
    statuses: Counter[str] = Counter(str(s) for o in outcomes for s in o.statuses)
    return {
        "batches": len(outcomes),
        "events_per_batch": size,
        "acked_first_try": len(first_try),
        "retried": sum(o.retried for o in outcomes),
        "retried_then_acked": sum(o.retried and o.acked for o in outcomes),
        "never_acked": sum(not o.acked for o in outcomes),
        "answers": dict(sorted(statuses.items())),
        "events_acked": len(acked_ids),
        "events_in_store": sum(counts.values()),
        "lost": sum(1 for m in acked_ids if counts.get(m, 0) == 0),
        "duplicates": sum(n - 1 for n in counts.values() if n > 1),
        "duplicates_before_compaction": sum(n - 1 for n in seen.values() if n > 1),
        "unknown_in_store": len(set(counts) - set(acked_ids)),
    }


def wait_for(check: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")
