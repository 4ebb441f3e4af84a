"""Retention of the channels' personal information: outbox messages past their period lose
their body and recipient (the counted facts stay), superseded consent answers are deleted.

Each function handles one batch in the caller's transaction and says how many rows it
changed; a batch never picks a row it already handled, so calling again until a batch
comes back short finishes the work, and a killed pass simply continues.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, or_, select, update
from sqlalchemy.orm import Session

from siyu.channels.models import MessageStatus
from siyu.channels.tables import channel_consent_history, channel_messages
from siyu.channels.wechat_tables import wecom_tasks

# Settled messages only: one still queued, awaiting staff or sending needs its body.
SETTLED = (
    MessageStatus.SENT.value,
    MessageStatus.DELIVERED.value,
    MessageStatus.FAILED.value,
    MessageStatus.HELD.value,
)
# Template parameters kept: content performance counts reach by the item and its variant.
KEPT_PARAMS = ("content_id", "content_variant")

_m = channel_messages.c
_h = channel_consent_history.c
_t = wecom_tasks.c


def redactable(workspace_id: str, before: datetime, limit: int) -> Select[tuple[str, Any]]:
    """The next batch of settled messages planned before ``before`` still to redact.

    Oldest planned first, in the order of ``ix_channel_messages_unredacted`` (a partial index
    of the unredacted rows): the scan reads the batch and stops, instead of sorting every
    message still to do (or, by id, walking the recent ones when a pass has little left).
    """
    return (
        select(_m.id, _m.params)
        .where(
            _m.workspace_id == workspace_id,
            _m.send_at < before,
            _m.status.in_(SETTLED),
            _m.redacted_at.is_(None),
        )
        .order_by(_m.send_at, _m.id)
        .limit(limit)
    )


def redact_messages(
    *, session: Session, workspace_id: str, before: datetime, now: datetime, limit: int
) -> tuple[int, int]:
    """Empty the body, subject, recipient, error text and template parameters (but the
    content id) of up to ``limit`` settled messages planned before ``before``, and the
    target of their WeCom mass-send tasks; (messages, tasks) changed.

    Status, channel, purpose, priority, times, source, idempotency key and provider id stay:
    caps count by them, journeys settle by them, content reach counts by the content id.
    """
    rows = session.execute(redactable(workspace_id, before, limit)).all()
    if not rows:
        return 0, 0
    kept = [
        {"_id": r.id, "_params": {k: v for k, v in (r.params or {}).items() if k in KEPT_PARAMS}}
        for r in rows
    ]
    session.execute(
        update(channel_messages)
        .where(_m.id == bindparam("_id"), _m.redacted_at.is_(None))
        .values(
            params=bindparam("_params"),
            content="",
            subject=None,
            recipient=None,
            recipient_encrypted=None,
            last_error=None,
            redacted_at=now,
        )
        .execution_options(synchronize_session=False),
        kept,
    )
    tasks = session.execute(
        update(wecom_tasks)
        .where(_t.message_id.in_([r.id for r in rows]), _t.status != "awaiting", _t.target != "")
        .values(target="")
    )
    return len(rows), int(tasks.rowcount)  # type: ignore[attr-defined]


def prune_consent_history(
    *, session: Session, workspace_id: str, before: datetime, limit: int
) -> int:
    """Delete up to ``limit`` consent-history rows recorded before ``before`` that a later
    answer of the same person and channel superseded; how many.

    The current answer (``channel_consents``) and the latest history row of every person and
    channel — the record of how the current answer was given — always stay.
    """
    newer = channel_consent_history.alias("newer")
    superseded = exists().where(
        newer.c.workspace_id == _h.workspace_id,
        newer.c.person_id == _h.person_id,
        newer.c.channel == _h.channel,
        or_(newer.c.at > _h.at, and_(newer.c.at == _h.at, newer.c.id > _h.id)),
    )
    ids = list(
        session.execute(
            select(_h.id)
            .where(_h.workspace_id == workspace_id, _h.at < before, superseded)
            .order_by(_h.id)
            .limit(limit)
        ).scalars()
    )
    if ids:
        session.execute(channel_consent_history.delete().where(_h.id.in_(ids)))
    return len(ids)
