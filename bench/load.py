"""Sustained load against a real ``siyu serve``: collect (``/v1/batch``) and the management
API (reads: persons, segments, members, analytics; writes: tags, points), each for a set
time at a set request rate.

Reported per phase: the rate asked and held, latency p50/p95/p99, errors (any non-2xx or
refused event), the server's RSS at start and end. The peer, measured in the same run on the
same machine with the same clients and rate: a bare FastAPI/uvicorn ``/hello`` (GET for the
management mix, POST of the same JSON for collect), so ratios say what siyu adds to the HTTP
stack alone.

``python -m bench.load [seconds-per-phase [collect-rate [api-rate]]]``
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

from bench.collect import _create_workspace, _free_port, _start_server, _wait_ready, make_batches

BATCH = 20
Request = Callable[[httpx.Client, int], httpx.Response]


@dataclass
class Phase:
    """What a phase measured."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rss_mb: list[float] = field(default_factory=list)

    def summary(self, rate: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(int(p * len(ordered)), len(ordered) - 1)] * 1000 if ordered else 0.0

        done = len(self.latencies)
        return {
            "requests": done,
            "rate_asked": rate,
            "rate_held": done / self.seconds if self.seconds else 0.0,
            "p50_ms": pct(0.50),
            "p95_ms": pct(0.95),
            "p99_ms": pct(0.99),
            "errors": len(self.errors),
            "first_error": self.errors[0] if self.errors else None,
            "rss_mb_start": self.rss_mb[0] if self.rss_mb else 0.0,
            "rss_mb_mid": self.rss_mb[len(self.rss_mb) // 2] if self.rss_mb else 0.0,
            "rss_mb_end": self.rss_mb[-1] if self.rss_mb else 0.0,
            "rss_mb_peak": max(self.rss_mb, default=0.0),
            # Warm-up (first segments, caches) shows in the first half; a leak in both.
            "rss_mb_second_half_growth": (
                self.rss_mb[-1] - self.rss_mb[len(self.rss_mb) // 2] if self.rss_mb else 0.0
            ),
        }


def _rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 2**20


def drive(
    base_url: str,
    requests: list[Request],
    *,
    seconds: float,
    rate: float,
    clients: int,
    process: psutil.Process,
    headers: dict[str, str] | None = None,
) -> Phase:
    """``clients`` threads share ``rate`` requests/s for ``seconds``, cycling ``requests``;
    each request is sent at its slot (or at once when the client is behind)."""
    phase = Phase(rss_mb=[_rss_mb(process)])
    lock = threading.Lock()
    interval = clients / rate
    started = time.perf_counter()
    deadline = started + seconds

    def client(n: int) -> None:
        with httpx.Client(base_url=base_url, headers=headers or {}, timeout=30) as http:
            for i in itertools.count():
                slot = started + (i + n / clients) * interval
                if slot >= deadline or time.perf_counter() >= deadline:
                    return  # a client behind its slots stops at the deadline all the same
                time.sleep(max(0.0, slot - time.perf_counter()))
                request = requests[(i * clients + n) % len(requests)]
                sent = time.perf_counter()
                try:
                    response = request(http, i * clients + n)
                    failed = (
                        None
                        if response.is_success
                        else f"{response.status_code} {response.text[:200]}"
                    )
                except httpx.HTTPError as exc:
                    failed = repr(exc)
                took = time.perf_counter() - sent
                with lock:
                    phase.latencies.append(took)
                    if failed:
                        phase.errors.append(failed)

    done = threading.Event()

    def sample() -> None:
        while not done.wait(1.0):
            phase.rss_mb.append(_rss_mb(process))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.seconds = time.perf_counter() - started
    done.set()
    phase.rss_mb.append(_rss_mb(process))
    return phase


def _collect_requests(write_key: str) -> list[Request]:
    sent_at = datetime.now(UTC).isoformat()
    # Batches of 20 events, as a web or mini-program SDK flushes them.
    messages = [m for batch in make_batches(20_000, seed=11) for m in batch]
    batches = [messages[i : i + BATCH] for i in range(0, len(messages), BATCH)]
    bodies = [orjson.dumps({"batch": b, "sentAt": sent_at}) for b in batches]

    def post(http: httpx.Client, n: int) -> httpx.Response:
        # Past the prepared batches, a batch is sent again: duplicates, still a 200.
        response = http.post(
            "/v1/batch",
            content=bodies[n % len(bodies)],
            auth=(write_key, ""),
            headers={"content-type": "application/json"},
        )
        if response.is_success and response.json()["rejected"]:
            return httpx.Response(400, text=str(response.json()["rejected"][:1]))
        return response

    return [post]


@dataclass
class Seeded:
    person_ids: list[str]
    segment_id: str
    tag: str


def seed(url: str, keys: dict[str, str]) -> Seeded:
    """Fifty members with orders, a segment, a manual tag."""
    batch = []
    for n in range(50):
        batch.append(
            {
                "type": "identify",
                "messageId": f"s{n}",
                "userId": f"u{n}",
                "traits": {"member_id": f"M{n}", "city": "杭州" if n % 2 else "上海"},
            }
        )
        batch.append(
            {
                "type": "track",
                "messageId": f"o{n}",
                "userId": f"u{n}",
                "event": "Order Completed",
                "properties": {"revenue": 10 + n},
            }
        )
    h = {"Authorization": f"Bearer {keys['secret_key']}"}
    with httpx.Client(base_url=url, headers=h, timeout=60) as http:
        sent = http.post("/v1/batch", json={"batch": batch}, auth=(keys["write_key"], ""))
        sent.raise_for_status()
        ids = []
        for n in range(50):
            found = http.get(
                "/api/persons", params={"identifier_type": "member_id", "identifier": f"M{n}"}
            )
            found.raise_for_status()
            ids.append(found.json()["person_id"])
        http.post("/api/tags/groups", json={"name": "负载"}).raise_for_status()
        tag = http.post("/api/tags", json={"group": "负载", "name": "常客"})
        tag.raise_for_status()
        rule = {"type": "trait", "name": "city", "op": "eq", "value": "杭州"}
        segment = http.post("/api/segments", json={"name": "杭州", "definition": rule})
        segment.raise_for_status()
    return Seeded(ids, segment.json()["id"], tag.json()["id"])


def _management_requests(seeded: Seeded) -> list[Request]:
    ids = seeded.person_ids

    def person(http: httpx.Client, n: int) -> httpx.Response:
        return http.get(f"/api/persons/{ids[n % len(ids)]}")

    def segments(http: httpx.Client, n: int) -> httpx.Response:
        return http.get("/api/segments")

    def members(http: httpx.Client, n: int) -> httpx.Response:
        return http.get(f"/api/segments/{seeded.segment_id}/members", params={"limit": 100})

    def gmv(http: httpx.Client, n: int) -> httpx.Response:
        return http.get("/api/analytics/gmv", params={"days": 30})

    def tag(http: httpx.Client, n: int) -> httpx.Response:
        return http.post(f"/api/persons/{ids[n % len(ids)]}/tags", json={"tag": seeded.tag})

    def points(http: httpx.Client, n: int) -> httpx.Response:
        return http.post(
            f"/api/loyalty/members/{ids[n % len(ids)]}/points/earn",
            json={"points": 1, "reason": "load"},
            headers={"Idempotency-Key": f"load-{n}"},
        )

    # Reads outnumber writes three to one, as an operator console and a CRM sync would.
    return [person, segments, person, members, gmv, tag, person, segments, points]


def _peer(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.load_peer", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
    )


def _peer_requests(body: bytes | None) -> list[Request]:
    def hello(http: httpx.Client, n: int) -> httpx.Response:
        if body is None:
            return http.get("/hello")
        return http.post("/hello", content=body, headers={"content-type": "application/json"})

    return [hello]


def run(
    *, seconds: float = 180.0, collect_rate: float = 20.0, api_rate: float = 20.0, clients: int = 16
) -> dict[str, Any]:
    """Both phases against siyu, then the peer at the same rates; figures and ratios."""
    results: dict[str, Any] = {"seconds_per_phase": seconds, "clients": clients}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        keys = _create_workspace(data_dir)
        port, peer_port = _free_port(), _free_port()
        server = _start_server(data_dir, port)
        peer = _peer(peer_port)
        url, peer_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer_port}"
        try:
            _wait_ready(url, deadline=180)  # a loaded box imports slowly
            _wait_peer(peer_url, deadline=180)
            seeded = seed(url, keys)
            process, peer_process = psutil.Process(server.pid), psutil.Process(peer.pid)
            admin = {"Authorization": f"Bearer {keys['secret_key']}"}
            sample_batch = orjson.dumps({"batch": make_batches(BATCH, seed=3)[0]})
            for name, requests, rate, headers, body in (
                ("collect", _collect_requests(keys["write_key"]), collect_rate, None, sample_batch),
                ("management", _management_requests(seeded), api_rate, admin, None),
            ):
                siyu = drive(
                    url,
                    requests,
                    seconds=seconds,
                    rate=rate,
                    clients=clients,
                    process=process,
                    headers=headers,
                ).summary(rate)
                bare = drive(
                    peer_url,
                    _peer_requests(body),
                    seconds=min(seconds, 30),
                    rate=rate,
                    clients=clients,
                    process=peer_process,
                ).summary(rate)
                results[name] = siyu
                results[f"{name}_peer"] = bare
                results[f"{name}_ratio"] = _ratios(siyu, bare)
        finally:
            for child in (server, peer):
                child.terminate()
                child.wait(timeout=60)
    return results


def _ratios(siyu: dict[str, Any], bare: dict[str, Any]) -> dict[str, float]:
    return {
        key: siyu[key] / bare[key] if bare[key] else 0.0
        for key in ("rate_held", "p50_ms", "p95_ms", "p99_ms")
    }


def _wait_peer(url: str, deadline: float = 30.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            if httpx.get(f"{url}/hello", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("peer did not start")


if __name__ == "__main__":
    # python -m bench.load [seconds-per-phase [collect-rate [api-rate]]]
    args = [float(a) for a in sys.argv[1:4]]
    defaults = [180.0, 20.0, 20.0]
    seconds, collect_rate, api_rate = args + defaults[len(args) :]
    print(
        orjson.dumps(
            run(seconds=seconds, collect_rate=collect_rate, api_rate=api_rate),
            option=orjson.OPT_INDENT_2,
        ).decode()
    )
