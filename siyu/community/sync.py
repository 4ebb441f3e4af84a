"""A full sync of WeCom customer groups into siyu: groups named and owned, members added
(bulk) or gone, and a group a live code asked WeCom to make bound to its pending row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.community.activity import insert_activity
from siyu.community.groups import (
    find_group,
    is_customer,
    join_member,
    leave_member,
    persons_of,
    recount,
    touch,
)
from siyu.community.models import (
    DEFAULT_CAP,
    GroupStatus,
    SyncReport,
    WecomGroup,
    WecomGroupMember,
)
from siyu.community.tables import (
    community_activity,
    community_groups,
    community_live_code_scans,
    community_live_codes,
    community_members,
)

_g = community_groups.c
_m = community_members.c
_a = community_activity.c


def _bind_pending(session: Session, workspace_id: str, group: WecomGroup) -> None:
    """A group a live code asked WeCom to make arrives with its real chat_id: the pending row
    (same name and owner) takes it, with the seats handed out meanwhile."""
    pending = session.execute(
        select(_g.chat_id).where(
            _g.workspace_id == workspace_id,
            _g.status == GroupStatus.PENDING.value,
            _g.name == group.name,
            _g.owner_userid == group.owner,
        )
    ).first()
    if pending is None:
        return
    session.execute(
        update(community_groups)
        .where(_g.workspace_id == workspace_id, _g.chat_id == pending.chat_id)
        .values(chat_id=group.chat_id, status=GroupStatus.ACTIVE.value)
    )
    _rename_in_codes(session, workspace_id, pending.chat_id, group.chat_id)


def _rename_in_codes(session: Session, workspace_id: str, old: str, new: str) -> None:
    """Live codes name their groups by chat_id: the placeholder becomes the real one."""
    s = community_live_code_scans.c
    session.execute(
        update(community_live_code_scans)
        .where(s.workspace_id == workspace_id, s.chat_id == old)
        .values(chat_id=new)
    )
    c = community_live_codes.c
    for code in session.execute(
        select(c.id, c.chat_ids, c.current_chat_id).where(c.workspace_id == workspace_id)
    ).all():
        if old not in (code.chat_ids or []):
            continue
        chat_ids = [new if x == old else x for x in code.chat_ids]
        current = new if code.current_chat_id == old else code.current_chat_id
        session.execute(
            update(community_live_codes)
            .where(c.workspace_id == workspace_id, c.id == code.id)
            .values(chat_ids=chat_ids, current_chat_id=current)
        )


def store_group(
    session: Session, workspace_id: str, group: WecomGroup, now: datetime
) -> tuple[bool, int, int, int]:
    """Write one synced group: (new, joins, leaves, persons linked). Members WeCom no longer
    lists have left; new ones joined at their join time."""
    _bind_pending(session, workspace_id, group)
    known = find_group(session=session, workspace_id=workspace_id, chat_id=group.chat_id)
    values = {
        "name": group.name,
        "owner_userid": group.owner,
        "notice": group.notice,
        "created_at": group.created_at,
        "synced_at": now,
        "status": "active",
    }
    if known is None:
        session.execute(
            insert(community_groups).values(
                workspace_id=workspace_id,
                chat_id=group.chat_id,
                cap=DEFAULT_CAP,
                seats=0,
                members=0,
                tags=[],
                **values,
            )
        )
    else:
        session.execute(
            update(community_groups)
            .where(_g.workspace_id == workspace_id, _g.chat_id == group.chat_id)
            .values(**values)
        )
    rows = {
        r.member_id: r
        for r in session.execute(
            select(_m.member_id, _m.left_at, _m.person_id, _m.name).where(
                _m.workspace_id == workspace_id, _m.chat_id == group.chat_id
            )
        )
    }
    found = persons_of(session, workspace_id, (m.userid for m in group.members))
    persons = {m.userid: found.get(m.userid) for m in group.members}
    fresh = [m for m in group.members if m.userid not in rows]
    _add_members(session, workspace_id, group.chat_id, fresh, persons, now)
    for m in group.members:
        known_row = rows.get(m.userid)
        if known_row is None:
            continue
        if known_row.left_at is not None:  # came back: a new join
            insert_activity(
                session,
                workspace_id,
                f"j:{group.chat_id}:{m.userid}:{(m.join_time or now).timestamp():.0f}",
                group.chat_id,
                "joined",
                m.userid,
                m.join_time or now,
                persons[m.userid],
            )
        if known_row.left_at is not None or (persons[m.userid], m.name) != (
            known_row.person_id,
            known_row.name,
        ):
            join_member(
                session,
                workspace_id,
                group.chat_id,
                m.userid,
                persons[m.userid],
                m.join_time,
                m.join_scene,
                m.name,
            )
    joins = len(fresh) + sum(
        1 for r in rows.values() if r.left_at is not None and r.member_id in persons
    )
    linked = sum(1 for p in persons.values() if p is not None)
    listed = {m.userid for m in group.members}
    gone = [r.member_id for r in rows.values() if r.left_at is None and r.member_id not in listed]
    freed = 0
    for member_id in gone:
        key = f"l:{group.chat_id}:{member_id}:{now.timestamp():.0f}"
        insert_activity(
            session,
            workspace_id,
            key,
            group.chat_id,
            "left",
            member_id,
            now,
            rows[member_id].person_id,
        )
        freed += leave_member(session, workspace_id, group.chat_id, member_id, now)
    last_join = max((m.join_time for m in group.members if m.join_time), default=None)
    if last_join is not None:
        touch(session, workspace_id, group.chat_id, "last_join_at", last_join)
    recount(session, workspace_id, group.chat_id, freed)
    return known is None, joins, len(gone), linked


def _add_members(
    session: Session,
    workspace_id: str,
    chat_id: str,
    members: Sequence[WecomGroupMember],
    persons: dict[str, str | None],
    now: datetime,
) -> None:
    """New members of a synced group, and their joins, in two bulk inserts."""
    if not members:
        return
    session.execute(
        insert(community_members),
        [
            {
                "workspace_id": workspace_id,
                "chat_id": chat_id,
                "member_id": m.userid,
                "staff": not is_customer(m.userid),
                "person_id": persons[m.userid],
                "name": m.name,
                "join_scene": m.join_scene,
                "joined_at": m.join_time,
                "left_at": None,
            }
            for m in members
        ],
    )
    keys = {f"j:{chat_id}:{m.userid}:{(m.join_time or now).timestamp():.0f}": m for m in members}
    seen = set(
        session.execute(
            select(_a.event_key).where(_a.workspace_id == workspace_id, _a.event_key.in_(keys))
        ).scalars()
    )
    rows = [
        {
            "workspace_id": workspace_id,
            "event_key": key,
            "chat_id": chat_id,
            "kind": "joined",
            "member_id": m.userid,
            "person_id": persons[m.userid],
            "at": m.join_time or now,
        }
        for key, m in keys.items()
        if key not in seen
    ]
    if rows:
        session.execute(insert(community_activity), rows)


def dismiss_missing(session: Session, workspace_id: str, listed: set[str], now: datetime) -> int:
    """Active groups a full sync no longer lists are dismissed."""
    rows = session.execute(
        select(_g.chat_id).where(
            _g.workspace_id == workspace_id, _g.status == GroupStatus.ACTIVE.value
        )
    ).scalars()
    gone = [c for c in rows if c not in listed]
    for chat_id in gone:
        session.execute(
            update(community_groups)
            .where(_g.workspace_id == workspace_id, _g.chat_id == chat_id)
            .values(status=GroupStatus.DISMISSED.value, synced_at=now)
        )
    return len(gone)


def store_sync(
    *, session: Session, workspace_id: str, groups: Sequence[WecomGroup], now: datetime
) -> SyncReport:
    """Write a full sync of customer groups."""
    new = joins = leaves = linked = 0
    for group in groups:
        n, j, lv, lk = store_group(session, workspace_id, group, now)
        new, joins, leaves, linked = new + n, joins + j, leaves + lv, linked + lk
    dismissed = dismiss_missing(session, workspace_id, {g.chat_id for g in groups}, now)
    return SyncReport(
        groups=len(groups),
        new_groups=new,
        dismissed=dismissed,
        joins=joins,
        leaves=leaves,
        linked_persons=linked,
    )
