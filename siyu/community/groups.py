"""Customer groups in the operational store: sync from WeCom, members linked to persons
through their WeCom external_userid, tags, and the join / leave / message activity."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from siyu.collect.models import Identifier, IdType
from siyu.community.models import (
    DEFAULT_CAP,
    Group,
    GroupDetail,
    GroupStatus,
    Member,
    SyncReport,
    WecomGroup,
)
from siyu.community.tables import (
    community_activity,
    community_groups,
    community_live_code_scans,
    community_live_codes,
    community_members,
)
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.identity import service as identity

_g = community_groups.c
_m = community_members.c
_a = community_activity.c


def is_customer(member_id: str) -> bool:
    """External contacts' ids start wm / wo; staff are plain userids."""
    return member_id.startswith(("wm", "wo"))


def person_of(session: Session, workspace_id: str, member_id: str) -> str | None:
    """The person holding this WeCom external_userid, if known."""
    if not is_customer(member_id):
        return None
    return identity.find_person(
        session=session,
        workspace_id=workspace_id,
        identifier=Identifier(IdType.WECOM_EXTERNAL_USERID, member_id),
    )


def _group(r: Any) -> Group:
    return Group(
        chat_id=r.chat_id,
        name=r.name,
        owner_userid=r.owner_userid,
        status=GroupStatus(r.status),
        cap=r.cap,
        seats=r.seats,
        members=r.members,
        tags=list(r.tags or []),
        live_code_id=r.live_code_id,
        created_at=r.created_at,
        last_message_at=r.last_message_at,
        last_join_at=r.last_join_at,
    )


def find_group(*, session: Session, workspace_id: str, chat_id: str) -> Group | None:
    """A group, or None."""
    row = session.execute(
        select(community_groups).where(_g.workspace_id == workspace_id, _g.chat_id == chat_id)
    ).first()
    return _group(row) if row else None


def get_group(*, session: Session, workspace_id: str, chat_id: str) -> GroupDetail:
    """A group with its members. Raises NotFoundError."""
    group = find_group(session=session, workspace_id=workspace_id, chat_id=chat_id)
    if group is None:
        raise NotFoundError(f"no group {chat_id}", field="chat_id")
    rows = session.execute(
        select(community_members)
        .where(_m.workspace_id == workspace_id, _m.chat_id == chat_id)
        .order_by(_m.joined_at, _m.member_id)
    )
    members = [
        Member(
            member_id=r.member_id,
            staff=r.staff,
            person_id=r.person_id,
            name=r.name,
            joined_at=r.joined_at,
            left_at=r.left_at,
        )
        for r in rows
    ]
    return GroupDetail(**group.model_dump(), member_list=members)


def list_groups(
    *, session: Session, workspace_id: str, tag: str | None = None, owner: str | None = None
) -> list[Group]:
    """Every group (or those with ``tag`` / of ``owner``), by name."""
    query = select(community_groups).where(_g.workspace_id == workspace_id)
    if owner:
        query = query.where(_g.owner_userid == owner)
    groups = [_group(r) for r in session.execute(query.order_by(_g.name, _g.chat_id))]
    return [g for g in groups if tag is None or tag in g.tags]


def set_tags(*, session: Session, workspace_id: str, chat_id: str, tags: Sequence[str]) -> Group:
    """Replace a group's operator tags. Raises NotFoundError, InvalidInputError."""
    clean = sorted({t.strip() for t in tags})
    if any(not t or len(t) > 60 for t in clean):
        raise InvalidInputError("a tag is 1–60 characters", field="tags")
    done = session.execute(
        update(community_groups)
        .where(_g.workspace_id == workspace_id, _g.chat_id == chat_id)
        .values(tags=clean)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"no group {chat_id}", field="chat_id")
    group = find_group(session=session, workspace_id=workspace_id, chat_id=chat_id)
    assert group is not None
    return group


# -- activity ----------------------------------------------------------------------------------


def record_activity(
    session: Session,
    workspace_id: str,
    *,
    event_key: str,
    chat_id: str,
    kind: str,
    member_id: str,
    at: datetime,
    person_id: str | None = None,
) -> bool:
    """Note a join, leave or message once per ``event_key`` and keep the group's member rows
    and last-activity times; False when it was seen before."""
    seen = session.execute(
        select(_a.event_key).where(_a.workspace_id == workspace_id, _a.event_key == event_key)
    ).first()
    if seen is not None:
        return False
    person_id = person_id or person_of(session, workspace_id, member_id)
    if kind in ("joined", "left"):
        # A join a sync (or the other callback) already brought in, or a leave of someone
        # not in the group, counts once: membership decides.
        inside = member_id in current_members(session, workspace_id, chat_id)
        if inside == (kind == "joined"):
            if inside and person_id:
                _join(session, workspace_id, chat_id, member_id, person_id, None, None)
            return False
    session.execute(
        insert(community_activity).values(
            workspace_id=workspace_id,
            event_key=event_key[:200],
            chat_id=chat_id,
            kind=kind,
            member_id=member_id,
            person_id=person_id,
            at=at,
        )
    )
    _ensure_group(session, workspace_id, chat_id)
    if kind == "message":
        _touch(session, workspace_id, chat_id, "last_message_at", at)
    elif kind == "joined":
        _join(session, workspace_id, chat_id, member_id, person_id, at, None)
        _touch(session, workspace_id, chat_id, "last_join_at", at)
    elif kind == "left":
        _leave(session, workspace_id, chat_id, member_id, at)
    _recount(session, workspace_id, chat_id)
    return True


def _ensure_group(session: Session, workspace_id: str, chat_id: str) -> None:
    """A group heard of before any sync: known by id only until the next sync names it."""
    if find_group(session=session, workspace_id=workspace_id, chat_id=chat_id) is None:
        session.execute(
            insert(community_groups).values(
                workspace_id=workspace_id,
                chat_id=chat_id,
                name="",
                status="active",
                cap=DEFAULT_CAP,
                seats=0,
                members=0,
                tags=[],
            )
        )


def _touch(session: Session, workspace_id: str, chat_id: str, column: str, at: datetime) -> None:
    col = community_groups.c[column]
    session.execute(
        update(community_groups)
        .where(_g.workspace_id == workspace_id, _g.chat_id == chat_id)
        .where((col.is_(None)) | (col < at))
        .values({column: at})
    )


def _join(
    session: Session,
    workspace_id: str,
    chat_id: str,
    member_id: str,
    person_id: str | None,
    at: datetime | None,
    scene: int | None,
    name: str | None = None,
) -> bool:
    """Make ``member_id`` a current member; True when they were not one."""
    where = (_m.workspace_id == workspace_id, _m.chat_id == chat_id, _m.member_id == member_id)
    row = session.execute(select(_m.left_at, _m.joined_at).where(*where)).first()
    if row is None:
        session.execute(
            insert(community_members).values(
                workspace_id=workspace_id,
                chat_id=chat_id,
                member_id=member_id,
                staff=not is_customer(member_id),
                person_id=person_id,
                name=name,
                join_scene=scene,
                joined_at=at,
                left_at=None,
            )
        )
        return True
    values: dict[str, Any] = {"left_at": None}
    if person_id:
        values["person_id"] = person_id
    if name:
        values["name"] = name
    if row.left_at is not None:
        values.update(joined_at=at, join_scene=scene)
    session.execute(update(community_members).where(*where).values(**values))
    return row.left_at is not None


def _leave(session: Session, workspace_id: str, chat_id: str, member_id: str, at: datetime) -> bool:
    done = session.execute(
        update(community_members)
        .where(
            _m.workspace_id == workspace_id,
            _m.chat_id == chat_id,
            _m.member_id == member_id,
            _m.left_at.is_(None),
        )
        .values(left_at=at)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def current_members(session: Session, workspace_id: str, chat_id: str) -> list[str]:
    """Member ids in the group now."""
    return list(
        session.execute(
            select(_m.member_id).where(
                _m.workspace_id == workspace_id, _m.chat_id == chat_id, _m.left_at.is_(None)
            )
        ).scalars()
    )


def _recount(session: Session, workspace_id: str, chat_id: str) -> None:
    """Members = current rows; seats never fall below members (seats handed out stay)."""
    count = len(current_members(session, workspace_id, chat_id))
    where = (_g.workspace_id == workspace_id, _g.chat_id == chat_id)
    session.execute(update(community_groups).where(*where).values(members=count))
    session.execute(update(community_groups).where(*where, _g.seats < count).values(seats=count))


# -- sync --------------------------------------------------------------------------------------


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
    before = set(current_members(session, workspace_id, group.chat_id))
    joins = linked = 0
    for m in group.members:
        person = person_of(session, workspace_id, m.userid)
        linked += person is not None
        if m.userid not in before:
            at = m.join_time or now
            joins += record_activity(
                session,
                workspace_id,
                event_key=f"j:{group.chat_id}:{m.userid}:{at.timestamp():.0f}",
                chat_id=group.chat_id,
                kind="joined",
                member_id=m.userid,
                at=at,
                person_id=person,
            )
        _join(
            session,
            workspace_id,
            group.chat_id,
            m.userid,
            person,
            m.join_time,
            m.join_scene,
            m.name,
        )
    gone = before - {m.userid for m in group.members}
    for member_id in gone:
        record_activity(
            session,
            workspace_id,
            event_key=f"l:{group.chat_id}:{member_id}:{now.timestamp():.0f}",
            chat_id=group.chat_id,
            kind="left",
            member_id=member_id,
            at=now,
        )
    _recount(session, workspace_id, group.chat_id)
    return known is None, joins, len(gone), linked


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


def dismiss(*, session: Session, workspace_id: str, chat_id: str, now: datetime) -> None:
    """WeCom says the group was dismissed (解散): live codes stop seating customers in it."""
    session.execute(
        update(community_groups)
        .where(_g.workspace_id == workspace_id, _g.chat_id == chat_id)
        .values(status=GroupStatus.DISMISSED.value, synced_at=now)
    )
