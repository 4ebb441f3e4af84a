"""Where ingest time goes: µs per event in each pipeline stage, for a batch size.

``python -m bench.ingest_stages [BATCH] [EVENTS]`` — the same stages ``pipeline.ingest_many``
runs, timed one by one on the embedded stores (SQLite + Parquet/DuckDB).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.collect import make_batches
from siyu import pipeline
from siyu.collect import normalize
from siyu.collect import service as collect
from siyu.core.config import Settings
from siyu.core.runtime import open_runtime
from siyu.identity import service as identity
from siyu.profiles import service as profiles
from siyu.workspaces import service as workspaces


def run(batch: int = 2000, events: int = 20_000) -> dict[str, Any]:
    """Per-stage µs/event and the overall events/s at this batch size."""
    with tempfile.TemporaryDirectory() as tmp:
        rt = open_runtime(Settings(data_dir=Path(tmp)))
        with rt.sessions() as s, s.begin():
            ws = workspaces.create_workspace(session=s, name="b", now=datetime.now(UTC))
        messages = [m for b in make_batches(events) for m in b]
        spent: Counter[str] = Counter()
        started = time.perf_counter()
        for i in range(0, len(messages), batch):
            now = datetime.now(UTC)
            t = time.perf_counter()
            parsed, _ = normalize.parse_batch(
                messages[i : i + batch], vault=rt.vault, received_at=now
            )
            spent["parse"] += time.perf_counter() - t
            with rt.sessions() as session:
                with session.begin():
                    t = time.perf_counter()
                    fresh = collect.claim_new(
                        session=session, workspace_id=ws.workspace_id, events=parsed, now=now
                    )
                    spent["claim"] += time.perf_counter() - t
                    t = time.perf_counter()
                    people = identity.resolve_batch(
                        session=session,
                        workspace_id=ws.workspace_id,
                        links=[e.identifiers for e in fresh],
                        message_ids=[e.message_id for e in fresh],
                        now=now,
                    )
                    spent["identity"] += time.perf_counter() - t
                    t = time.perf_counter()
                    profiles.apply_events(
                        session=session,
                        workspace_id=ws.workspace_id,
                        events=fresh,
                        person_ids=people,
                        now=now,
                    )
                    spent["profiles"] += time.perf_counter() - t
                    t = time.perf_counter()
                    collect.enqueue(
                        session=session,
                        workspace_id=ws.workspace_id,
                        events=fresh,
                        person_ids=people,
                        now=now,
                    )
                    spent["enqueue"] += time.perf_counter() - t
                    t = time.perf_counter()
                spent["commit"] += time.perf_counter() - t
        t = time.perf_counter()
        pipeline.flush(runtime=rt)
        spent["flush"] += time.perf_counter() - t
        total = time.perf_counter() - started
        rt.close()
    return {
        "batch": batch,
        "events": events,
        "events_per_s": events / total,
        "us_per_event": {k: round(v / events * 1e6, 1) for k, v in spent.items()},
    }


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    print(run(size, count))
