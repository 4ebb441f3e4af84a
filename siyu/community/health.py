"""Group activity per group over a period, dormant groups, and the community settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, distinct, func, insert, select
from sqlalchemy.orm import Session

from siyu.community.models import CommunitySettings, DormantGroup
from siyu.community.tables import (
    community_activity,
    community_groups,
    community_members,
    community_settings,
)
from siyu.core.errors import InvalidInputError

_a = community_activity.c
_g = community_groups.c
_m = community_members.c


def activity_by_group(
    *, session: Session, workspace_id: str, since: datetime, until: datetime
) -> dict[str, dict[str, int]]:
    """Per group: joins, leaves, active speakers (distinct customers and staff who wrote)
    and messages between ``since`` and ``until``."""
    if until <= since:
        raise InvalidInputError("until must be after since", field="until")

    def count(kind: str) -> Any:
        return func.sum(case((_a.kind == kind, 1), else_=0))

    rows = session.execute(
        select(
            _a.chat_id,
            count("joined").label("joins"),
            count("left").label("leaves"),
            func.count(distinct(case((_a.kind == "message", _a.member_id)))).label("speakers"),
            count("message").label("messages"),
        )
        .where(_a.workspace_id == workspace_id, _a.at >= since, _a.at < until)
        .group_by(_a.chat_id)
    ).all()
    return {
        r.chat_id: {
            "joins": int(r.joins or 0),
            "leaves": int(r.leaves or 0),
            "active_speakers": int(r.speakers or 0),
            "messages": int(r.messages or 0),
        }
        for r in rows
    }


def member_persons(*, session: Session, workspace_id: str) -> dict[str, set[str]]:
    """Per group, the persons of its current customer members."""
    rows = session.execute(
        select(_m.chat_id, _m.person_id).where(
            _m.workspace_id == workspace_id, _m.left_at.is_(None), _m.person_id.is_not(None)
        )
    ).all()
    found: dict[str, set[str]] = {}
    for r in rows:
        found.setdefault(r.chat_id, set()).add(r.person_id)
    return found


def dormant_groups(
    *, session: Session, workspace_id: str, now: datetime, days: int
) -> list[DormantGroup]:
    """Active groups with no message, or no join, for ``days`` days (a group younger than
    that is not dormant yet)."""
    if days < 1:
        raise InvalidInputError("days must be at least 1", field="days")
    cutoff = now - timedelta(days=days)
    rows = session.execute(
        select(community_groups)
        .where(_g.workspace_id == workspace_id, _g.status == "active")
        .order_by(_g.chat_id)
    ).all()
    found = []
    for r in rows:
        if r.created_at is not None and r.created_at > cutoff:
            continue
        reasons = []
        if r.last_message_at is None or r.last_message_at < cutoff:
            reasons.append("no_messages")
        if r.last_join_at is None or r.last_join_at < cutoff:
            reasons.append("joins_stalled")
        if reasons:
            found.append(
                DormantGroup(
                    chat_id=r.chat_id,
                    name=r.name,
                    owner_userid=r.owner_userid,
                    last_message_at=r.last_message_at,
                    last_join_at=r.last_join_at,
                    reasons=reasons,
                )
            )
    return found


def get_settings(*, session: Session, workspace_id: str) -> CommunitySettings:
    """The workspace's community settings (defaults until set)."""
    s = community_settings.c
    row = session.execute(select(community_settings).where(s.workspace_id == workspace_id)).first()
    if row is None:
        return CommunitySettings()
    return CommunitySettings(
        welcome_text=row.welcome_text,
        welcome_template_id=row.welcome_template_id,
        agent_id=row.agent_id,
        dormant_days=row.dormant_days,
    )


def set_settings(
    *, session: Session, workspace_id: str, settings: CommunitySettings, now: datetime
) -> CommunitySettings:
    """Replace the settings."""
    s = community_settings.c
    session.execute(delete(community_settings).where(s.workspace_id == workspace_id))
    session.execute(
        insert(community_settings).values(
            workspace_id=workspace_id, updated_at=now, **settings.model_dump()
        )
    )
    return settings
