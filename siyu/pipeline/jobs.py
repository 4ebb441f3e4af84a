"""Scheduled jobs: each due once per period per workspace, and claimed before it runs.

A claim is a row of ``job_runs`` (workspace, job, period) inserted in its own transaction:
the process whose insert lands runs the job, any other skips it — two servers, or a server
and a cron ``siyu jobs run``, never run one job twice for one period. A claim left unfinished
(the process died) may be taken over once its lease is past. Every job is also idempotent in
its own right (keyed ledger entries, keyed coupons, conditional updates), so a taken-over
claim repeats nothing that was done.

Periods: ``5min`` is a UTC five-minute slot (referral rewards should not wait an hour);
``hour`` is the UTC hour; ``day`` is the workspace's local day, from ``at_hour`` o'clock local
(birthday gifts and reminders are not sent at midnight). Finished claims are kept 35 days.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from siyu.core.db import insert_ignore
from siyu.core.errors import InvalidInputError, SiyuError
from siyu.core.runtime import Runtime
from siyu.pipeline import (
    activity_jobs,
    community_jobs,
    loyalty_jobs,
    privacy,
    recommend_jobs,
    ugc,
)
from siyu.pipeline.job_tables import job_runs
from siyu.workspaces import service as workspaces

LEASE = timedelta(minutes=30)
KEEP = timedelta(days=35)
log = logging.getLogger("siyu.jobs")
_jr = job_runs.c


class JobRun(BaseModel):
    """What one job did (or why it did not run) for one workspace and period."""

    workspace_id: str
    job: str
    period: str = Field(
        description="UTC slot (2026-11-29T02:05), UTC hour (2026-11-29T02) or local day."
    )
    status: Literal["ran", "skipped", "failed", "not_due"]
    summary: str = Field(description="One line for people: what it did, or why not.")
    detail: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """A job: its name, its period, and from which local hour a daily job is due."""

    name: str
    every: Literal["5min", "hour", "day"]
    run: Callable[[Runtime, str, str, datetime], loyalty_jobs.Outcome]
    at_hour: int = 0


JOBS: tuple[Job, ...] = (
    Job("points_expiry", "hour", loyalty_jobs.expire_points),
    Job("coupon_expiry", "hour", loyalty_jobs.expire_coupons),
    Job("paid_membership_expiry", "hour", loyalty_jobs.end_paid_terms),
    Job("referral_payouts", "5min", loyalty_jobs.pay_referral_rewards),
    Job("tier_refresh", "day", loyalty_jobs.refresh_tiers, at_hour=2),
    Job("expiry_reminders", "day", loyalty_jobs.remind_expiring_points, at_hour=10),
    Job("birthday_gifts", "day", loyalty_jobs.give_birthday_gifts, at_hour=10),
    Job("recommendations", "hour", recommend_jobs.train_recommendations),
    Job("event_retention", "day", privacy.drop_expired_events, at_hour=3),
    Job("activity_teams_expiry", "5min", activity_jobs.expire_activity_teams),
    Job("activity_rewards", "5min", activity_jobs.pay_activity_rewards),
    Job("group_sops", "5min", community_jobs.run_group_sops),
    Job("group_live_codes", "hour", community_jobs.check_group_live_codes),
    Job("group_dormant_alerts", "day", community_jobs.alert_dormant_groups, at_hour=10),
    Job("koc_tags", "day", ugc.retag_kocs, at_hour=4),
)
JOB_NAMES = tuple(job.name for job in JOBS)


def period_of(job: Job, now: datetime, zone: str) -> str | None:
    """The period ``now`` falls in for ``job`` (None before a daily job's hour)."""
    utc = now.astimezone(ZoneInfo("UTC"))
    if job.every == "5min":
        return f"{utc:%Y-%m-%dT%H}:{utc.minute // 5 * 5:02d}"
    if job.every == "hour":
        return f"{utc:%Y-%m-%dT%H}"
    local = now.astimezone(ZoneInfo(zone))
    return None if local.hour < job.at_hour else local.date().isoformat()


def _key(workspace_id: str, job: str, period: str) -> list[Any]:
    return [_jr.workspace_id == workspace_id, _jr.job == job, _jr.period == period]


def claim(
    *, session: Session, workspace_id: str, job: str, period: str, owner: str, now: datetime
) -> datetime | None:
    """Claim ``job`` for ``period``: the claim's start time, or None when another process
    holds it (running, or done). An unfinished claim older than the lease is taken over."""
    started = now
    query = select(_jr.started_at, _jr.finished_at).where(*_key(workspace_id, job, period))
    row = session.execute(query).first()  # most rounds end here, without a write
    if row is None:
        values: dict[str, Any] = {"workspace_id": workspace_id, "job": job, "period": period}
        values |= {"owner": owner, "started_at": started, "finished_at": None, "result": None}
        if insert_ignore(session, job_runs, values, returning=[_jr.job]):
            return started
        row = session.execute(query).one()
    if row.finished_at is not None or row.started_at > now - LEASE:
        return None
    taken = session.execute(
        update(job_runs)
        .where(*_key(workspace_id, job, period), _jr.started_at == row.started_at)
        .where(_jr.finished_at.is_(None))
        .values(owner=owner, started_at=started)
    )
    return started if taken.rowcount else None  # type: ignore[attr-defined]


def _finish(runtime: Runtime, run: JobRun, owner: str, now: datetime) -> None:
    with runtime.sessions() as session, session.begin():
        session.execute(
            update(job_runs)
            .where(*_key(run.workspace_id, run.job, run.period), _jr.owner == owner)
            .values(finished_at=now, result=run.model_dump(mode="json"))
        )


def _release(runtime: Runtime, workspace_id: str, job: str, period: str, owner: str) -> None:
    # A failed run gives its claim back, so the next round tries again.
    with runtime.sessions() as session, session.begin():
        session.execute(
            delete(job_runs).where(*_key(workspace_id, job, period), _jr.owner == owner)
        )


def _run_one(runtime: Runtime, job: Job, workspace_id: str, zone: str, now: datetime) -> JobRun:
    period = period_of(job, now, zone)
    run = JobRun(workspace_id=workspace_id, job=job.name, period=period or "", status="not_due",
                 summary=f"due from {job.at_hour:02d}:00 local")  # fmt: skip
    if period is None:
        return run
    owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"[:80]
    with runtime.sessions() as session, session.begin():
        claimed = claim(
            session=session, workspace_id=workspace_id, job=job.name, period=period,
            owner=owner, now=now,
        )  # fmt: skip
    if claimed is None:
        return run.model_copy(update={"status": "skipped", "summary": "already run this period"})
    try:
        outcome = job.run(runtime, workspace_id, zone, now)
    except Exception as exc:  # reported and retried next round; the other jobs still run
        log.exception("job %s failed for workspace %s", job.name, workspace_id)
        _release(runtime, workspace_id, job.name, period, owner)
        why = exc.message if isinstance(exc, SiyuError) else f"{type(exc).__name__}: {exc}"
        return run.model_copy(update={"status": "failed", "summary": why[:500]})
    done = run.model_copy(
        update={"status": "ran", "summary": outcome.summary, "detail": outcome.detail}
    )
    _finish(runtime, done, owner, now)
    return done


def run_jobs(
    *,
    runtime: Runtime,
    now: datetime,
    workspace_id: str | None = None,
    only: Sequence[str] = (),
) -> list[JobRun]:
    """Run every due job (or ``only`` these) of every workspace (or one) once for ``now``.

    Raises:
        InvalidInputError: ``only`` names an unknown job.
    """
    unknown = sorted(set(only) - set(JOB_NAMES))
    if unknown:
        raise InvalidInputError(
            f"unknown job {unknown[0]!r}; one of {', '.join(JOB_NAMES)}", field="job"
        )
    with runtime.sessions() as session:
        found = (
            [workspaces.get_workspace(session=session, workspace_id=workspace_id)]
            if workspace_id
            else workspaces.list_workspaces(session=session)
        )
    chosen = [job for job in JOBS if not only or job.name in only]
    runs = [_run_one(runtime, job, ws.id, ws.timezone, now) for ws in found for job in chosen]
    if any(r.status == "ran" for r in runs):
        with runtime.sessions() as session, session.begin():
            session.execute(delete(job_runs).where(_jr.finished_at < now - KEEP))
    return runs
