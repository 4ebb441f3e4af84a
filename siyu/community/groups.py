"""Customer groups in the operational store: members linked to persons through their WeCom
external_userid, tags, membership and the member and seat counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, insert, select, update
from sqlalchemy.orm import Session

from siyu.collect.models import Identifier, IdType
from siyu.community.models import (
    DEFAULT_CAP,
    Group,
    GroupDetail,
    GroupStatus,
    Member,
)
from siyu.community.tables import community_groups, community_members
from siyu.core.errors import InvalidInputError, NotFoundError
from siyu.identity import service as identity

_g = community_groups.c
_m = community_members.c


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


def persons_of(session: Session, workspace_id: str, member_ids: Iterable[str]) -> dict[str, str]:
    """The persons holding these WeCom external_userids (one batch look-up; staff and
    unknown customers are absent)."""
    wanted = [Identifier(IdType.WECOM_EXTERNAL_USERID, m) for m in member_ids if is_customer(m)]
    found = identity.find_persons(session=session, workspace_id=workspace_id, identifiers=wanted)
    return {identifier.key: person for identifier, person in found.items()}


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


# -- membership --------------------------------------------------------------------------------


def ensure_group(session: Session, workspace_id: str, chat_id: str) -> None:
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


def touch(session: Session, workspace_id: str, chat_id: str, column: str, at: datetime) -> None:
    col = community_groups.c[column]
    session.execute(
        update(community_groups)
        .where(_g.workspace_id == workspace_id, _g.chat_id == chat_id)
        .where((col.is_(None)) | (col < at))
        .values({column: at})
    )


def join_member(
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


def leave_member(
    session: Session, workspace_id: str, chat_id: str, member_id: str, at: datetime
) -> bool:
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


def recount(session: Session, workspace_id: str, chat_id: str, freed: int = 0) -> None:
    """Members = current rows. Seats never fall below members (seats handed out stay), and
    the ``freed`` seats of members who just left drop off, never below the members left:
    one conditional UPDATE, so a scan taking a seat at the same time is counted either way.

    The group row is locked before counting: on PostgreSQL two leaves committed together
    would otherwise each count the other still in (READ COMMITTED), leaving ``members`` one
    too high; the second now waits and counts after the first commits. SQLite serialises
    writers anyway (FOR UPDATE is not rendered there)."""
    where = (_g.workspace_id == workspace_id, _g.chat_id == chat_id)
    session.execute(select(_g.chat_id).where(*where).with_for_update())
    count = len(current_members(session, workspace_id, chat_id))
    values: dict[str, Any] = {"members": count}
    if freed:
        values["seats"] = case((_g.seats - freed > count, _g.seats - freed), else_=count)
    session.execute(update(community_groups).where(*where).values(**values))
    session.execute(update(community_groups).where(*where, _g.seats < count).values(seats=count))


def dismiss(*, session: Session, workspace_id: str, chat_id: str, now: datetime) -> None:
    """WeCom says the group was dismissed (解散): live codes stop seating customers in it."""
    session.execute(
        update(community_groups)
        .where(_g.workspace_id == workspace_id, _g.chat_id == chat_id)
        .values(status=GroupStatus.DISMISSED.value, synced_at=now)
    )
