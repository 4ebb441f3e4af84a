"""``siyu jobs``: run the scheduled loyalty and referral jobs once (for cron, and for tests).

The server runs the same jobs on its own; a job already run for its period — by the server or
another ``siyu jobs run`` — is skipped, so both may run side by side.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
import typer

from siyu import pipeline
from siyu.cli.main import JsonOption, WorkspaceOption, readable_errors, runtime
from siyu.core.clock import ensure_utc, utcnow
from siyu.core.errors import InvalidInputError

jobs_app: typer.Typer = typer.Typer(
    help="Scheduled jobs: points and coupon expiry, tiers, birthdays, referral payouts.",
    no_args_is_help=True,
)


def _now(value: str | None) -> datetime:
    if value is None:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"--now {value!r} is not an ISO 8601 time, e.g. 2026-11-29T10:30:00+08:00",
            field="now",
        ) from None
    return ensure_utc(parsed)


@jobs_app.command("run")
@readable_errors
def run(
    workspace: WorkspaceOption = None,
    now: Annotated[
        str | None, typer.Option(help="Run as of this ISO time (naive = UTC); default now.")
    ] = None,
    job: Annotated[
        list[str] | None,
        typer.Option("--job", help=f"Only this job (repeatable): {', '.join(pipeline.JOB_NAMES)}."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run every due job once and print what each did."""
    runs = pipeline.run_jobs(
        runtime=runtime(), now=_now(now), workspace_id=workspace, only=job or ()
    )
    if as_json:
        typer.echo(orjson.dumps([r.model_dump(mode="json") for r in runs]).decode())
        return
    for r in runs:
        typer.echo(f"{r.job:<24} {r.period:<14} {r.status:<8} {r.summary}")
    if any(r.status == "failed" for r in runs):
        raise typer.Exit(1)


@jobs_app.command("list")
def list_jobs() -> None:
    """The jobs and how often each is due."""
    for job in pipeline.jobs.JOBS:
        when = {"5min": "every 5 minutes", "hour": "hourly"}.get(
            job.every, f"daily from {job.at_hour:02d}:00 local"
        )
        typer.echo(f"{job.name:<24} {when}")
