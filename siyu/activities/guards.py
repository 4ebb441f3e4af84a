"""Checks before an action counts: window, eligibility, anti-abuse, quotas, stock, budget.

Each check raises :class:`Refused` with a reason and the request field it is about; the
service stores the refusal and hands it back. Quotas, stock and budget are taken with
conditional UPDATEs (``… WHERE stock > 0``): the database's row lock serialises racers, so
they hold under concurrency on PostgreSQL as on SQLite.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from siyu.activities.models import Activity
from siyu.activities.tables import activities, activity_entries, activity_quotas
from siyu.core.db import insert_ignore
from siyu.identity import service as identity
from siyu.identity.tables import identity_persons
from siyu.segments.tables import segment_members


class Refused(Exception):  # a control-flow signal, never seen by callers
    """An action is refused; the service records it and answers a Refusal."""

    def __init__(self, reason: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.field, self.detail = reason, field, detail


def check_window(activity: Activity, now: datetime) -> None:
    """Refuse before the start, from the end on, and while paused."""
    if activity.paused:
        raise Refused("paused", "activity_id", "the activity is paused")
    if now < activity.starts_at:
        raise Refused("not_started", "activity_id", f"starts at {activity.starts_at.isoformat()}")
    if now >= activity.ends_at:
        raise Refused("ended", "activity_id", f"ended at {activity.ends_at.isoformat()}")


def check_eligible(session: Session, workspace_id: str, activity: Activity, person: str) -> None:
    """Refuse persons outside the activity's segment (any id merged into them counts)."""
    if activity.segment_id is None:
        return
    lineage = identity.person_ids_of(session=session, workspace_id=workspace_id, person_id=person)
    m = segment_members.c
    found = session.execute(
        select(m.person_id)
        .where(
            m.workspace_id == workspace_id,
            m.segment_id == activity.segment_id,
            m.person_id.in_(lineage),
        )
        .limit(1)
    ).first()
    if found is None:
        raise Refused("not_eligible", "person_id", f"not in segment {activity.segment_id}")


def check_account_age(
    session: Session, workspace_id: str, activity: Activity, person: str, now: datetime
) -> None:
    """Refuse accounts first seen less than ``min_account_age_hours`` ago (fresh accounts)."""
    hours = activity.guards.min_account_age_hours
    if hours == 0:
        return
    lineage = identity.person_ids_of(session=session, workspace_id=workspace_id, person_id=person)
    p = identity_persons.c
    born = session.execute(
        select(func.min(p.created_at)).where(p.workspace_id == workspace_id, p.id.in_(lineage))
    ).scalar_one()
    if born is None or now - born < timedelta(hours=hours):
        raise Refused("fresh_account", "person_id", f"account younger than {hours} hours")


def _count_since(session: Session, workspace_id: str, activity_id: str, where: Any) -> int:
    e = activity_entries.c
    return int(
        session.execute(
            select(func.count()).where(
                e.workspace_id == workspace_id, e.activity_id == activity_id, where
            )
        ).scalar_one()
    )


def check_velocity(
    session: Session,
    workspace_id: str,
    activity: Activity,
    person: str,
    ip: str | None,
    now: datetime,
) -> None:
    """Refuse a person over ``max_per_minute`` actions, or an IP over ``max_per_ip_hour``."""
    e, g = activity_entries.c, activity.guards
    if g.max_per_minute is not None:
        since = now - timedelta(minutes=1)
        done = _count_since(
            session, workspace_id, activity.id, (e.person_id == person) & (e.at > since)
        )
        if done >= g.max_per_minute:
            raise Refused("too_fast", "person_id", f"over {g.max_per_minute} actions a minute")
    if ip is not None and g.max_per_ip_hour is not None:
        since = now - timedelta(hours=1)
        done = _count_since(session, workspace_id, activity.id, (e.ip == ip) & (e.at > since))
        if done >= g.max_per_ip_hour:
            raise Refused(
                "ip_velocity", "ip", f"over {g.max_per_ip_hour} actions an hour from {ip}"
            )


def check_related(
    session: Session, workspace_id: str, activity: Activity, leader: str, other: str
) -> None:
    """Refuse the leader themself (any of their merged ids) and, unless allowed, a person who
    shares a device or phone with the leader (a refused OneID merge between them)."""
    lineage = identity.person_ids_of(session=session, workspace_id=workspace_id, person_id=leader)
    if other in lineage:
        raise Refused("self", "person_id", "the leader cannot join or help themself")
    if not activity.guards.refuse_shared_ids:
        return
    shared = identity.shared_identifiers(
        session=session, workspace_id=workspace_id, person_id=leader, other_person_id=other
    )
    if shared:
        kinds = ", ".join(sorted({ref.type.value for ref in shared}))
        raise Refused("same_device", "person_id", f"shares {kinds} with the leader")


def _ensure_quota_row(session: Session, workspace_id: str, activity_id: str, person: str) -> None:
    row = {
        "workspace_id": workspace_id,
        "activity_id": activity_id,
        "person_id": person,
        "total": 0,
        "day": "",
        "day_count": 0,
    }
    insert_ignore(session, activity_quotas, row)


def take_quota(
    session: Session, workspace_id: str, activity: Activity, person: str, day: str
) -> None:
    """Count one action against the person's per-day and total limits, or refuse."""
    limits = activity.limits
    if limits.per_day is None and limits.total is None:
        return
    _ensure_quota_row(session, workspace_id, activity.id, person)
    q = activity_quotas.c
    conditions = [
        q.workspace_id == workspace_id,
        q.activity_id == activity.id,
        q.person_id == person,
    ]
    if limits.total is not None:
        conditions.append(q.total < limits.total)
    if limits.per_day is not None:
        conditions.append((q.day != day) | (q.day_count < limits.per_day))
    done = session.execute(
        update(activity_quotas)
        .where(*conditions)
        .values(
            total=q.total + 1,
            day_count=case((q.day == day, q.day_count + 1), else_=1),
            day=day,
        )
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise Refused("limit_reached", "person_id", _limit_text(limits.per_day, limits.total))


def _limit_text(per_day: int | None, total: int | None) -> str:
    parts = [f"{per_day} a day" if per_day else "", f"{total} in all" if total else ""]
    return "limit reached: " + " / ".join(p for p in parts if p)


def take_budget(session: Session, workspace_id: str, activity: Activity, cost_fen: int) -> bool:
    """Commit ``cost_fen`` of the budget; False when it would overspend it."""
    if cost_fen == 0:
        return True
    a = activities.c
    done = session.execute(
        update(activities)
        .where(
            a.workspace_id == workspace_id,
            a.id == activity.id,
            a.budget_fen.is_(None) | (a.spent_fen + cost_fen <= a.budget_fen),
        )
        .values(spent_fen=a.spent_fen + cost_fen)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def take_stock(session: Session, workspace_id: str, activity: Activity, units: int) -> bool:
    """Take ``units`` of the activity's stock; False when fewer are left (none = unlimited)."""
    a = activities.c
    done = session.execute(
        update(activities)
        .where(
            a.workspace_id == workspace_id,
            a.id == activity.id,
            a.stock_left.is_(None) | (a.stock_left >= units),
        )
        .values(stock_left=a.stock_left - units)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def give_back(
    session: Session, workspace_id: str, activity_id: str, *, units: int, cost_fen: int
) -> None:
    """Return stock and budget an expired team or a failed action had taken."""
    a = activities.c
    session.execute(
        update(activities)
        .where(a.workspace_id == workspace_id, a.id == activity_id)
        .values(stock_left=a.stock_left + units, spent_fen=a.spent_fen - cost_fen)
    )
