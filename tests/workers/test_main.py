"""The worker loop runs due jobs, survives a failing one and stops when told."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest

from siyu.core.config import Settings
from siyu.core.runtime import Runtime, open_runtime
from siyu.workers.main import Job, run_worker


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return open_runtime(Settings(data_dir=tmp_path))


def test_a_busy_job_runs_again_at_once_and_an_idle_one_waits(runtime: Runtime) -> None:
    backlog = [5, 3, 0, 0]
    seen: list[datetime] = []

    def drain(rt: Runtime, now: datetime) -> int:
        seen.append(now)
        return backlog.pop(0) if backlog else 0

    report = run_worker(runtime, [Job("drain", drain, every=60.0)], max_rounds=3)
    # Rounds 1 and 2 found work, round 3 found none; the 60 s wait is not slept after the last.
    assert report.jobs["drain"].runs == 3
    assert report.jobs["drain"].done == 8
    assert all(now.tzinfo is not None for now in seen)


def test_a_failing_job_is_counted_and_the_others_go_on(runtime: Runtime) -> None:
    def broken(rt: Runtime, now: datetime) -> int:
        raise RuntimeError("provider down")

    calls: list[int] = []

    def healthy(rt: Runtime, now: datetime) -> int:
        calls.append(1)
        return 0

    jobs = [Job("broken", broken, every=0.01), Job("healthy", healthy, every=0.01)]
    report = run_worker(runtime, jobs, max_rounds=3)
    assert report.jobs["broken"].errors == report.jobs["broken"].runs >= 2
    assert report.jobs["broken"].last_error == "RuntimeError: provider down"
    assert len(calls) == report.jobs["healthy"].runs >= 2


def test_stop_ends_the_loop(runtime: Runtime) -> None:
    stop = threading.Event()

    def stopper(rt: Runtime, now: datetime) -> int:
        stop.set()
        return 1

    report = run_worker(runtime, [Job("stopper", stopper, every=30.0)], stop=stop)
    assert report.jobs["stopper"].runs == 1
