"""Applying a workspace's retention policy to the operational store: outbox bodies and
recipients, superseded consent answers, audit rows, group and assistant message texts.

Each kind is worked through in batches, one transaction per batch, until a batch comes back
short. Every step picks only rows it has not handled yet (deleted, or marked redacted), so a
pass is idempotent and a killed one continues where it stopped when run again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from siyu.assistant import retention as assistant_retention
from siyu.channels import retention as channel_retention
from siyu.community import retention as community_retention
from siyu.core.runtime import Runtime
from siyu.privacy import service as privacy
from siyu.privacy.models import RetentionPolicy

BATCH_SIZE = 1000
# A step: (session, workspace, cutoff, now, limit) → rows changed per table.action.
Step = Callable[[Session, str, datetime, datetime, int], dict[str, int]]


def _messages(s: Session, ws: str, before: datetime, now: datetime, limit: int) -> dict[str, int]:
    messages, tasks = channel_retention.redact_messages(
        session=s, workspace_id=ws, before=before, now=now, limit=limit
    )
    return {"channel_messages.redacted": messages, "wecom_tasks.redacted": tasks}


def _consents(s: Session, ws: str, before: datetime, now: datetime, limit: int) -> dict[str, int]:
    n = channel_retention.prune_consent_history(
        session=s, workspace_id=ws, before=before, limit=limit
    )
    return {"channel_consent_history.deleted": n}


def _audit(s: Session, ws: str, before: datetime, now: datetime, limit: int) -> dict[str, int]:
    n = privacy.prune_audit(session=s, workspace_id=ws, before=before, limit=limit)
    return {"privacy_audit.deleted": n}


def _flags(s: Session, ws: str, before: datetime, now: datetime, limit: int) -> dict[str, int]:
    n = community_retention.redact_flag_excerpts(
        session=s, workspace_id=ws, before=before, limit=limit
    )
    return {"community_flags.redacted": n}


def _questions(s: Session, ws: str, before: datetime, now: datetime, limit: int) -> dict[str, int]:
    n = assistant_retention.prune_unanswered(session=s, workspace_id=ws, before=before, limit=limit)
    return {"assistant_unanswered.deleted": n}


# policy field → the steps it governs.
STEPS: dict[str, tuple[Step, ...]] = {
    "message_retention_days": (_messages,),
    "consent_history_retention_days": (_consents,),
    "audit_retention_days": (_audit,),
    "group_text_retention_days": (_flags, _questions),
}


def _run_step(runtime: Runtime, step: Step, ws: str, before: datetime, now: datetime,
              batch_size: int) -> dict[str, int]:  # fmt: skip
    totals: dict[str, int] = {}
    while True:
        with runtime.sessions() as session, session.begin():
            done = step(session, ws, before, now, batch_size)
        for name, n in done.items():
            totals[name] = totals.get(name, 0) + n
        if max(done.values()) < batch_size:
            return totals


def prune_operational(
    *,
    runtime: Runtime,
    policy: RetentionPolicy,
    now: datetime,
    batch_size: int = BATCH_SIZE,
) -> dict[str, int]:
    """Apply every operational kind of ``policy`` whose period is set; rows changed per
    ``table.action`` (every step's names present, zeros included)."""
    counts: dict[str, int] = {}
    for field, steps in STEPS.items():
        days = getattr(policy, field)
        for step in steps:
            if days is None:
                continue
            before = now - timedelta(days=days)
            counts |= _run_step(runtime, step, policy.workspace_id, before, now, batch_size)
    return counts
