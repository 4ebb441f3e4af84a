"""Per-staff completion of WeCom staff tasks: assigned, confirmed, lapsed, time to confirm."""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.channels.wechat_tables import wecom_tasks
from siyu.channels.wecom_models import StaffStats, StaffTaskState


def staff_completion_stats(
    *, session: Session, workspace_id: str, since: datetime, until: datetime
) -> list[StaffStats]:
    """Per staff member: tasks assigned in [since, until), confirmed, lapsed, failed, still
    awaiting, confirmation rate and median time to confirm; most assigned first."""
    t = wecom_tasks.c
    rows = session.execute(
        select(t.sender, t.status, t.created_at, t.settled_at).where(
            t.workspace_id == workspace_id, t.created_at >= since, t.created_at < until
        )
    ).all()
    by_sender: dict[str, list[Any]] = {}
    for row in rows:
        by_sender.setdefault(row.sender, []).append(row)
    return sorted(
        (_stats(sender, mine) for sender, mine in by_sender.items()),
        key=lambda s: (-s.assigned, s.sender),
    )


def _stats(sender: str, rows: list[Any]) -> StaffStats:
    counts = {state: sum(1 for r in rows if r.status == state.value) for state in StaffTaskState}
    waits = [
        (r.settled_at - r.created_at).total_seconds()
        for r in rows
        if r.status == StaffTaskState.CONFIRMED.value and r.settled_at
    ]
    return StaffStats(
        sender=sender,
        assigned=len(rows),
        confirmed=counts[StaffTaskState.CONFIRMED],
        lapsed=counts[StaffTaskState.LAPSED],
        failed=counts[StaffTaskState.FAILED],
        awaiting=counts[StaffTaskState.AWAITING],
        confirm_rate=counts[StaffTaskState.CONFIRMED] / len(rows),
        median_seconds_to_confirm=statistics.median(waits) if waits else None,
    )
