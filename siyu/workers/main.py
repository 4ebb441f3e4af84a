"""The worker loop: run each job when it is due, until stopped or for a bounded number of rounds.

A job is a pipeline function ``(runtime, now) -> int`` (how much it did). The loop never
dies of a job's error: it logs it and tries again at the job's next turn, so one bad
provider cannot stop journeys from advancing. Several worker processes may run at once:
the jobs themselves claim work with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from siyu.core.clock import utcnow
from siyu.core.runtime import Runtime

log = logging.getLogger(__name__)

JobFunction = Callable[[Runtime, datetime], int]


@dataclass(frozen=True)
class Job:
    """A named pipeline function run every ``every`` seconds."""

    name: str
    run: JobFunction
    every: float


@dataclass
class JobTally:
    """What one job did over a worker's life."""

    runs: int = 0
    done: int = 0
    errors: int = 0
    last_error: str | None = None


@dataclass
class WorkerReport:
    """What a worker did, per job name."""

    rounds: int = 0
    jobs: dict[str, JobTally] = field(default_factory=dict)


def run_worker(
    runtime: Runtime,
    jobs: Sequence[Job],
    *,
    stop: threading.Event | None = None,
    max_rounds: int | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> WorkerReport:
    """Run ``jobs`` as they fall due until ``stop`` is set or ``max_rounds`` rounds have run.

    A round runs every job that is due; a job that did something is due again at once
    (there may be more), one that found nothing waits ``every`` seconds.
    """
    stop = stop or threading.Event()
    report = WorkerReport(jobs={job.name: JobTally() for job in jobs})
    due_at = dict.fromkeys((job.name for job in jobs), 0.0)
    while not stop.is_set() and (max_rounds is None or report.rounds < max_rounds):
        for job in jobs:
            if time.monotonic() >= due_at[job.name] and not stop.is_set():
                done = _run_once(runtime, job, report.jobs[job.name], clock())
                due_at[job.name] = time.monotonic() + (0.0 if done else job.every)
        report.rounds += 1
        pause = min(due_at.values()) - time.monotonic()
        if pause > 0 and (max_rounds is None or report.rounds < max_rounds):
            stop.wait(pause)
    return report


def _run_once(runtime: Runtime, job: Job, tally: JobTally, now: datetime) -> int:
    tally.runs += 1
    try:
        done = job.run(runtime, now)
    except Exception as error:  # the job's next turn tries again
        tally.errors += 1
        tally.last_error = f"{type(error).__name__}: {error}"
        log.exception("job %s failed; will retry", job.name)
        return 0
    tally.done += done
    return done
