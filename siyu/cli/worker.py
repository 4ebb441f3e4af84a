"""``siyu worker``: advance journeys, scan triggers, dispatch messages, poll staff tasks, and
run the scheduled segment/loyalty jobs, until stopped (or for a bounded number of rounds).

Several workers may run at once (PostgreSQL: they share the work with SKIP LOCKED); one killed
at any point loses and doubles nothing — see docs/journeys.md.
"""

from __future__ import annotations

import signal
import threading
from datetime import timedelta
from typing import Annotated

import typer

from siyu.cli.main import app, err, readable_errors, runtime
from siyu.core.errors import InvalidInputError
from siyu.pipeline import journey_jobs
from siyu.workers.main import Job, run_worker


@app.command()
@readable_errors
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run every job once, then exit.")] = False,
    max_rounds: Annotated[
        int | None, typer.Option("--max-rounds", help="Stop after this many rounds.")
    ] = None,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between polls when idle.")
    ] = 2.0,
    lease: Annotated[
        float,
        typer.Option("--lease", help="Seconds a claimed message is held before a resend."),
    ] = 300.0,
) -> None:
    """Run the scheduler and dispatchers: journeys, messages, staff tasks, scheduled jobs."""
    if interval <= 0:
        raise InvalidInputError("interval must be positive", field="interval")
    if max_rounds is not None and max_rounds < 1:
        raise InvalidInputError("max-rounds must be at least 1", field="max-rounds")
    if lease < 1:
        raise InvalidInputError("lease must be at least 1 second", field="lease")
    rt = runtime()
    found = journey_jobs.repeated_jobs(rt, interval=interval, lease=timedelta(seconds=lease))
    jobs = [Job(j.name, j.run, j.every) for j in found]
    jobs.append(Job("scheduled", journey_jobs.scheduled_refresh, max(interval, 60.0)))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    err.print(f"siyu worker: {', '.join(j.name for j in jobs)} (Ctrl-C stops)", highlight=False)
    report = run_worker(rt, jobs, stop=stop, max_rounds=1 if once else max_rounds)
    rt.close()
    for name, tally in report.jobs.items():
        line = f"{name:20} runs {tally.runs:5}  done {tally.done:7}  errors {tally.errors}"
        err.print(line + (f"  last: {tally.last_error}" if tally.last_error else ""))
