"""The scheduler: claim due states in batches, step them, write states, log and actions at once.

One batch is one transaction: the claimed states' new places, the step log and the caller's
``apply_actions`` (outbox rows, tags, points…) commit together or not at all, so a worker
killed at any point loses no one's place and sends nothing twice; the rerun steps the same
states again and derives the same idempotency keys. On PostgreSQL the claim is
``FOR UPDATE SKIP LOCKED``, so several workers share the due states without stepping one
twice; SQLite has a single writer (``BEGIN IMMEDIATE``) and ignores the clause.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from siyu.core.db import transaction
from siyu.journeys.actions import (
    ApplyActions,
    Outcome,
    SendMessage,
    StateStatus,
    StepState,
    ignore_actions,
)
from siyu.journeys.facts import load_facts
from siyu.journeys.service import JourneyStatus, VersionCache
from siyu.journeys.stepping import needs_facts, step
from siyu.journeys.tables import journey_states, journeys
from siyu.journeys.writes import LogRow, StateChange, append_log, write_back

_s = journey_states.c


class AdvanceResult(BaseModel):
    """What a run of the scheduler did."""

    batches: int = 0
    stepped: int = 0
    transitions: int = 0
    actions: int = 0
    failed: int = 0


def active_journey_ids(session: Session, workspace_id: str) -> list[str]:
    """Ids of the workspace's active journeys (paused ones do not step)."""
    j = journeys.c
    return list(
        session.execute(
            select(j.id).where(
                j.workspace_id == workspace_id, j.status == JourneyStatus.ACTIVE.value
            )
        ).scalars()
    )


def _claim(
    session: Session, workspace_id: str, journey_ids: list[str], now: datetime, limit: int
) -> list[Any]:
    query = (
        select(
            _s.id,
            _s.journey_id,
            _s.version,
            _s.person_id,
            _s.entry_no,
            _s.node_id,
            _s.status,
            _s.variant,
        )
        .where(_s.workspace_id == workspace_id, _s.due_at <= now, _s.journey_id.in_(journey_ids))
        .order_by(_s.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.execute(query))


def advance_batch(
    *,
    session: Session,
    workspace_id: str,
    now: datetime,
    batch_size: int = 1000,
    apply_actions: ApplyActions = ignore_actions,
    versions: VersionCache | None = None,
) -> AdvanceResult:
    """Claim and step up to ``batch_size`` due states in the caller's transaction."""
    versions = versions or VersionCache()
    journey_ids = active_journey_ids(session, workspace_id)
    if not journey_ids:
        return AdvanceResult()
    rows = _claim(session, workspace_id, journey_ids, now, batch_size)
    if not rows:
        return AdvanceResult()
    definitions = {
        (r.journey_id, r.version): versions.get(session, r.journey_id, r.version) for r in rows
    }
    wants = {key: needs_facts(d) for key, d in definitions.items()}
    wanting = [r.person_id for r in rows if wants[(r.journey_id, r.version)]]
    facts = (
        load_facts(session=session, workspace_id=workspace_id, person_ids=wanting)
        if wanting
        else {}
    )
    outcomes = [
        step(_step_state(r), definitions[(r.journey_id, r.version)], facts.get(r.person_id), now)
        for r in rows
    ]
    return _write(session, workspace_id, rows, outcomes, now, apply_actions)


def _step_state(row: Any) -> StepState:
    return StepState(
        id=row.id,
        journey_id=row.journey_id,
        person_id=row.person_id,
        entry_no=row.entry_no,
        node_id=row.node_id,
        status=StateStatus(row.status),
        variant=row.variant,
    )


def _write(
    session: Session,
    workspace_id: str,
    rows: list[Any],
    outcomes: list[Outcome],
    now: datetime,
    apply_actions: ApplyActions,
) -> AdvanceResult:
    ended = (StateStatus.EXITED, StateStatus.CONVERTED, StateStatus.FAILED)
    changes = [
        StateChange(
            r.id,
            o.node_id,
            o.status.value,
            None if o.status in ended else o.due_at,
            o.wait_event,
            o.variant,
            now if o.status in ended else None,
        )
        for r, o in zip(rows, outcomes, strict=True)
    ]
    write_back(session, changes, now)
    actions = [a for o in outcomes for a in o.actions]
    failures = {f.key: f.reason for f in apply_actions(session, actions)} if actions else {}
    append_log(session, workspace_id, _log_rows(rows, outcomes, failures), now)
    return AdvanceResult(
        batches=1,
        stepped=len(rows),
        transitions=sum(len(o.visited) for o in outcomes),
        actions=len(actions),
        failed=len(failures),
    )


def _log_rows(rows: list[Any], outcomes: list[Outcome], failures: dict[str, str]) -> list[LogRow]:
    log: list[LogRow] = []
    for r, o in zip(rows, outcomes, strict=True):
        log.extend(
            LogRow(r.journey_id, r.version, n, r.id, o.variant, "entered") for n in o.visited
        )
        for action in o.actions:
            if action.key in failures:
                log.append(
                    LogRow(r.journey_id, r.version, action.node_id, r.id, o.variant, "failed")
                )
            elif isinstance(action, SendMessage):
                log.append(LogRow(r.journey_id, r.version, action.node_id, r.id, o.variant, "sent"))
        if o.status is StateStatus.EXITED:
            log.append(LogRow(r.journey_id, r.version, o.node_id, r.id, o.variant, "ended"))
    return log


def advance_due(
    *,
    session_factory: sessionmaker[Session],
    workspace_id: str,
    now: datetime,
    batch_size: int = 1000,
    apply_actions: ApplyActions = ignore_actions,
    max_batches: int | None = None,
) -> AdvanceResult:
    """Step every state due at ``now``, one committed transaction per batch.

    Args:
        session_factory: sessions for this worker; each batch is its own transaction.
        workspace_id: the workspace.
        now: the time (states due at or before it step; new waits start from it).
        batch_size: states claimed per transaction.
        apply_actions: applies a batch's actions inside the batch's transaction.
        max_batches: stop after this many batches (None: until nothing is due).
    """
    total = AdvanceResult()
    versions = VersionCache()
    while max_batches is None or total.batches < max_batches:
        with transaction(session_factory) as session:
            done = advance_batch(
                session=session,
                workspace_id=workspace_id,
                now=now,
                batch_size=batch_size,
                apply_actions=apply_actions,
                versions=versions,
            )
        if not done.stepped:
            break
        total = _add(total, done)
    return total


def _add(a: AdvanceResult, b: AdvanceResult) -> AdvanceResult:
    return AdvanceResult(**{k: getattr(a, k) + getattr(b, k) for k in AdvanceResult.model_fields})


def states_for(session: Session, workspace_id: str, person_ids: Sequence[str]) -> list[Any]:
    """Live states (not ended) of these persons."""
    return list(
        session.execute(
            select(journey_states).where(
                _s.workspace_id == workspace_id,
                _s.person_id.in_(person_ids),
                _s.due_at.is_not(None),
            )
        )
    )
