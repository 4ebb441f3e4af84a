"""Group SOPs: scheduled posts and reminders per group or group tag.

A due post becomes one WeCom group mass send per owner (``add_msg_template`` with
``chat_type=group``, ``sender`` = the owner): WeCom sends it only when the owner confirms it
in the app, so each is recorded as a task in ``community_sop_tasks`` and read back later
(confirmed, per-group results). A reminder becomes a note to the owner. :func:`next_run` is
pure: the schedule, the zone and ``now`` in, the next time out.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.community.models import Schedule, Sop, SopCreate, SopTask
from siyu.community.tables import community_groups, community_sop_tasks, community_sops
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.core.ids import new_id

_p = community_sops.c
_t = community_sop_tasks.c
_g = community_groups.c


def next_run(schedule: Schedule, *, after: datetime, zone: str) -> datetime | None:
    """The first run strictly after ``after`` (None when a one-off is past)."""
    if schedule.every == "once":
        assert schedule.at is not None
        return schedule.at if schedule.at > after else None
    assert schedule.time is not None
    hour, minute = (int(x) for x in schedule.time.split(":"))
    local = after.astimezone(ZoneInfo(zone))
    day = local.date()
    for offset in range(8):
        candidate = datetime.combine(
            day + timedelta(days=offset), time(hour, minute), tzinfo=ZoneInfo(zone)
        )
        if schedule.every == "week" and candidate.weekday() != schedule.weekday:
            continue
        if candidate > local:
            return candidate.astimezone(after.tzinfo)
    raise AssertionError("a weekly schedule always has a day within 8")  # pragma: no cover


def _sop(r: Any) -> Sop:
    return Sop(
        id=r.id,
        name=r.name,
        kind=r.kind,
        text=r.text,
        chat_ids=list(r.chat_ids or []),
        tag=r.tag,
        schedule=Schedule.model_validate(r.schedule),
        active=r.active,
        next_run_at=r.next_run_at,
        created_at=r.created_at,
    )


def create_sop(
    *, session: Session, workspace_id: str, sop: SopCreate, zone: str, now: datetime
) -> Sop:
    """Store an SOP and its first run time.

    Raises:
        InvalidInputError: a listed group is unknown, or a one-off time is past.
    """
    if sop.chat_ids:
        known = set(
            session.execute(
                select(_g.chat_id).where(
                    _g.workspace_id == workspace_id, _g.chat_id.in_(sop.chat_ids)
                )
            ).scalars()
        )
        missing = [c for c in sop.chat_ids if c not in known]
        if missing:
            raise InvalidInputError(f"unknown group {missing[0]}", field="chat_ids")
    first = next_run(sop.schedule, after=now - timedelta(seconds=1), zone=zone)
    if first is None:
        raise InvalidInputError("the one-off time is in the past", field="schedule.at")
    sop_id = new_id("sop")
    session.execute(
        insert(community_sops).values(
            workspace_id=workspace_id,
            id=sop_id,
            name=sop.name,
            kind=sop.kind,
            text=sop.text,
            chat_ids=sop.chat_ids,
            tag=sop.tag,
            schedule=sop.schedule.model_dump(mode="json"),
            active=True,
            next_run_at=first,
            created_at=now,
        )
    )
    return get_sop(session=session, workspace_id=workspace_id, sop_id=sop_id)


def get_sop(*, session: Session, workspace_id: str, sop_id: str) -> Sop:
    """An SOP. Raises NotFoundError."""
    row = session.execute(
        select(community_sops).where(_p.workspace_id == workspace_id, _p.id == sop_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no SOP {sop_id}", field="sop_id")
    return _sop(row)


def list_sops(*, session: Session, workspace_id: str) -> list[Sop]:
    """Every SOP, by next run."""
    rows = session.execute(
        select(community_sops).where(_p.workspace_id == workspace_id).order_by(_p.created_at)
    )
    return [_sop(r) for r in rows]


def set_active(*, session: Session, workspace_id: str, sop_id: str, active: bool) -> Sop:
    """Pause or resume an SOP. Raises NotFoundError."""
    get_sop(session=session, workspace_id=workspace_id, sop_id=sop_id)
    session.execute(
        update(community_sops)
        .where(_p.workspace_id == workspace_id, _p.id == sop_id)
        .values(active=active)
    )
    return get_sop(session=session, workspace_id=workspace_id, sop_id=sop_id)


def due_sops(*, session: Session, workspace_id: str, now: datetime) -> list[Sop]:
    """Active SOPs whose run time has come."""
    rows = session.execute(
        select(community_sops).where(
            _p.workspace_id == workspace_id,
            _p.active.is_(True),
            _p.next_run_at.is_not(None),
            _p.next_run_at <= now,
        )
    )
    return [_sop(r) for r in rows]


def targets_by_owner(session: Session, workspace_id: str, sop: Sop) -> dict[str, list[str]]:
    """The SOP's live groups, grouped by owner (groups without an owner are skipped)."""
    rows = session.execute(
        select(_g.chat_id, _g.owner_userid, _g.tags, _g.status).where(
            _g.workspace_id == workspace_id
        )
    ).all()
    chosen = [
        r
        for r in rows
        if r.status == "active"
        and r.owner_userid
        and (r.chat_id in sop.chat_ids or (sop.tag and sop.tag in (r.tags or [])))
    ]
    owners: dict[str, list[str]] = {}
    for r in sorted(chosen, key=lambda r: r.chat_id):
        owners.setdefault(r.owner_userid, []).append(r.chat_id)
    return owners


def advance(session: Session, workspace_id: str, sop: Sop, ran_at: datetime, zone: str) -> None:
    """Move the SOP past the run at ``ran_at`` (a one-off ends)."""
    following = next_run(sop.schedule, after=ran_at, zone=zone)
    session.execute(
        update(community_sops)
        .where(_p.workspace_id == workspace_id, _p.id == sop.id, _p.next_run_at == ran_at)
        .values(next_run_at=following, active=following is not None)
    )


def run_key(sop: Sop, owner: str) -> str:
    """The key of one owner's part of one run of an SOP."""
    assert sop.next_run_at is not None
    return f"{sop.id}:{sop.next_run_at.isoformat()}:{owner}"


def claim_task(
    session: Session,
    workspace_id: str,
    sop: Sop,
    owner: str,
    chat_ids: list[str],
    now: datetime,
) -> str | None:
    """Insert the task of one owner's part of a run; None when it exists (a repeated run)."""
    key = run_key(sop, owner)
    seen = session.execute(
        select(_t.id).where(_t.workspace_id == workspace_id, _t.run_key == key)
    ).first()
    if seen is not None:
        return None
    task_id = new_id("sot")
    session.execute(
        insert(community_sop_tasks).values(
            workspace_id=workspace_id,
            id=task_id,
            sop_id=sop.id,
            run_key=key,
            kind=sop.kind,
            sender=owner,
            chat_ids=chat_ids,
            msgid=None,
            status="creating",
            results=dict.fromkeys(chat_ids, "pending"),
            reason=None,
            created_at=now,
        )
    )
    return task_id


def settle_task(
    session: Session,
    workspace_id: str,
    task_id: str,
    *,
    status: str,
    at: datetime | None = None,
    msgid: str | None = None,
    results: dict[str, str] | None = None,
    reason: str | None = None,
) -> None:
    """Write what became of a task."""
    values: dict[str, Any] = {"status": status}
    if msgid is not None:
        values["msgid"] = msgid
    if results is not None:
        values["results"] = results
    if reason is not None:
        values["reason"] = reason[:300]
    if at is not None:
        values["settled_at"] = at
    session.execute(
        update(community_sop_tasks)
        .where(_t.workspace_id == workspace_id, _t.id == task_id)
        .values(**values)
    )


def _task(r: Any) -> SopTask:
    return SopTask(
        id=r.id,
        sop_id=r.sop_id,
        kind=r.kind,
        sender=r.sender,
        chat_ids=list(r.chat_ids),
        msgid=r.msgid,
        status=r.status,
        results=dict(r.results or {}),
        reason=r.reason,
        created_at=r.created_at,
        settled_at=r.settled_at,
    )


def list_tasks(
    *,
    session: Session,
    workspace_id: str,
    sop_id: str | None = None,
    status: str | None = None,
) -> list[SopTask]:
    """SOP tasks (of one SOP, in one status), newest first."""
    query = select(community_sop_tasks).where(_t.workspace_id == workspace_id)
    if sop_id:
        query = query.where(_t.sop_id == sop_id)
    if status:
        query = query.where(_t.status == status)
    return [_task(r) for r in session.execute(query.order_by(_t.created_at.desc(), _t.id))]
