"""The journey and channel work a worker repeats: advance, scan triggers, dispatch, settle staff.

Each job is ``run(runtime, now) -> int`` (how much it did; the worker comes straight back to a
job that did something). Every one is safe to run in several processes at once and to kill
at any point: the engine and the dispatcher claim with ``FOR UPDATE SKIP LOCKED`` and write
each batch in one transaction, trigger entries are keyed, staff settlements are conditional.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.channels.dispatch import RetryPolicy, dispatch_due
from siyu.channels.models import Channel, MessageStatus
from siyu.channels.tables import channel_messages
from siyu.channels.wechat_transports import poll_all_staff_tasks
from siyu.core.db import transaction
from siyu.core.runtime import Runtime
from siyu.journeys import engine, reactions, triggers
from siyu.journeys.actions import StateStatus
from siyu.journeys.tables import journey_states
from siyu.pipeline.channel_settings import Transports
from siyu.pipeline.journeys import actions_applier
from siyu.pipeline.personalise import recommendation_values
from siyu.workspaces import service as workspaces

log = logging.getLogger("siyu.journeys")
SETTLE_WINDOW = timedelta(days=2)  # staff outcomes looked at again (a poll then a crash)
_m = channel_messages.c
_s = journey_states.c


def _workspace_ids(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return [w.id for w in workspaces.list_workspaces(session=session)]


def advance_journeys(
    runtime: Runtime, now: datetime, *, batch_size: int = 500, max_batches: int = 20
) -> int:
    """Step due journey states of every workspace (a bounded number of batches); how many."""
    stepped = 0
    for workspace_id in _workspace_ids(runtime):
        done = engine.advance_due(
            session_factory=runtime.sessions,
            workspace_id=workspace_id,
            now=now,
            batch_size=batch_size,
            apply_actions=actions_applier(
                workspace_id=workspace_id,
                now=now,
                personalise=recommendation_values(
                    runtime=runtime, workspace_id=workspace_id, now=now
                ),
            ),
            max_batches=max_batches,
        )
        stepped += done.stepped
    return stepped


def scan_journey_triggers(runtime: Runtime, now: datetime) -> int:
    """Enter people into date-trait and schedule journeys; how many entered."""
    entered = 0
    for workspace_id in _workspace_ids(runtime):
        with transaction(runtime.sessions) as session:
            entered += triggers.scan_triggers(session=session, workspace_id=workspace_id, now=now)
    return entered


@dataclass
class Dispatcher:
    """Delivers due outbox messages; keeps its transports between passes."""

    runtime: Runtime
    batch_size: int = 100
    retry: RetryPolicy | None = None
    _transports: Transports | None = None

    def __call__(self, runtime: Runtime, now: datetime) -> int:
        """One dispatch pass over the configured channels; how many messages it claimed."""
        if self._transports is None:
            self._transports = Transports(sessions=runtime.sessions, vault=runtime.vault)
        configured = self._transports.configured()
        if not configured:
            return 0
        report = dispatch_due(
            session_factory=runtime.sessions,
            transports=configured,
            now=now,
            batch_size=self.batch_size,
            vault=runtime.vault,
            retry=self.retry,
        )
        return report.claimed


def settle_staff_tasks(runtime: Runtime, now: datetime) -> int:
    """Poll WeCom for staff confirmations, then move journeys waiting on settled tasks.

    A confirmed task sends its journey state on by the node's ``next``; a lapsed, failed or
    held one by its ``fallback`` (at once, not at the SLA). Outcomes settled in the last
    :data:`SETTLE_WINDOW` are looked at every pass, so a crash between the poll's commit and
    the journey move is repaired by the next pass; a state already moved is left alone.
    """
    try:
        poll_all_staff_tasks(sessions=runtime.sessions, vault=runtime.vault, now=now)
    except Exception:  # WeCom down: settle what is already settled, poll again next turn
        log.exception("WeCom staff poll failed")
    moved = 0
    for workspace_id in _workspace_ids(runtime):
        with transaction(runtime.sessions) as session:
            moved += _move_settled(session, workspace_id, now)
    return moved


_DONE = (MessageStatus.SENT.value, MessageStatus.DELIVERED.value)
_LAPSED = (MessageStatus.FAILED.value, MessageStatus.HELD.value)


def _move_settled(session: Session, workspace_id: str, now: datetime) -> int:
    rows = session.execute(
        select(_m.idempotency_key, _m.status).where(
            _m.workspace_id == workspace_id,
            _m.channel == Channel.WECOM.value,
            _m.idempotency_key.startswith("journey:"),
            _m.status.in_(_DONE + _LAPSED),
            _m.updated_at >= now - SETTLE_WINDOW,
        )
    ).all()
    keys = {r.idempotency_key: r.status for r in rows}
    if not keys:
        return 0
    state_ids = {key.split(":")[1]: key for key in keys if key.count(":") == 3}
    ids = list(state_ids)
    waiting = [
        row
        for i in range(0, len(ids), 1000)
        for row in session.execute(
            select(_s.id, _s.node_id).where(
                _s.workspace_id == workspace_id,
                _s.id.in_(ids[i : i + 1000]),
                _s.status == StateStatus.WAITING.value,
            )
        ).all()
    ]
    moved = 0
    for state_id, node_id in waiting:
        key = state_ids[state_id]
        if key.split(":")[2] != node_id:
            continue  # the message of another node of this entry (or an older entry)
        moved += _complete(session, workspace_id, key, keys[key] in _LAPSED, now)
    return moved


def _complete(session: Session, workspace_id: str, key: str, lapsed: bool, now: datetime) -> int:
    try:
        done = reactions.complete_staff_task(
            session=session, workspace_id=workspace_id, task_key=key, now=now, lapsed=lapsed
        )
    except Exception:  # not a staff task node (a plain WeCom send): nothing to settle
        return 0
    return int(done)


@dataclass(frozen=True)
class RepeatedJob:
    """A job the worker (and the server's thread) repeats: ``run(runtime, now) -> int``."""

    name: str
    run: Callable[[Runtime, datetime], int]
    every: float


def scheduled_refresh(runtime: Runtime, now: datetime) -> int:
    """Due segments, rule tags and the loyalty/referral jobs (what the server's Scheduler runs)."""
    from siyu.pipeline.segments import refresh_scheduled

    return refresh_scheduled(runtime=runtime, now=now)


def repeated_jobs(
    runtime: Runtime, *, interval: float = 2.0, lease: timedelta | None = None
) -> list[RepeatedJob]:
    """The journey and channel jobs, most urgent first, polling every ``interval`` seconds
    when idle (trigger scans and staff polls less often). ``lease``: how long a dispatcher's
    claim on a message lasts before another may send it again (a killed worker's claims)."""
    retry = RetryPolicy(lease=lease) if lease is not None else None
    return [
        RepeatedJob("journeys_advance", advance_journeys, interval),
        RepeatedJob("messages_dispatch", Dispatcher(runtime, retry=retry), interval),
        RepeatedJob("staff_tasks", settle_staff_tasks, interval * 5),
        RepeatedJob("journeys_triggers", scan_journey_triggers, interval * 15),
    ]


def run_round(runtime: Runtime, jobs: Sequence[RepeatedJob], now: datetime) -> dict[str, int]:
    """Run each job once (a failing job is logged; the others still run); what each did."""
    done: dict[str, int] = {}
    for job in jobs:
        try:
            done[job.name] = job.run(runtime, now)
        except Exception:
            log.exception("job %s failed; the next round tries again", job.name)
            done[job.name] = 0
    return done
