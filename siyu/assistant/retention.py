"""Retention of the assistant's customer texts: an unanswered question (the customer's words)
not asked again within the period is deleted — its text is the row's whole point, and a new
asking starts a fresh row. One batch per call, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.assistant.tables import assistant_unanswered

_u = assistant_unanswered.c


def prune_unanswered(*, session: Session, workspace_id: str, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` unanswered questions last asked before ``before``; how many."""
    keys = list(
        session.execute(
            select(_u.question_key)
            .where(_u.workspace_id == workspace_id, _u.last_at < before)
            .order_by(_u.question_key)
            .limit(limit)
        ).scalars()
    )
    if keys:
        session.execute(
            assistant_unanswered.delete().where(
                _u.workspace_id == workspace_id, _u.question_key.in_(keys)
            )
        )
    return len(keys)
