"""Retention of group message texts: a moderation flag past its period keeps its reasons,
chat, member and time (spam detection and the flag counts read those) but loses the excerpt
of the message. One batch per call, in the caller's transaction; a flag already emptied is
never picked again, so repeating until a batch comes back short finishes the work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from siyu.community.tables import community_flags

_f = community_flags.c


def redact_flag_excerpts(
    *, session: Session, workspace_id: str, before: datetime, limit: int
) -> int:
    """Empty the message excerpt of up to ``limit`` flags raised before ``before``; how many."""
    keys = list(
        session.execute(
            select(_f.msg_key)
            .where(_f.workspace_id == workspace_id, _f.at < before, _f.excerpt != "")
            .order_by(_f.msg_key)
            .limit(limit)
        ).scalars()
    )
    if keys:
        session.execute(
            update(community_flags)
            .where(_f.workspace_id == workspace_id, _f.msg_key.in_(keys))
            .values(excerpt="")
        )
    return len(keys)
