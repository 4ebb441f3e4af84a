"""Tags: groups (性别, 地域, 消费力, 兴趣 …), manual, rule and model tags, and who holds them.

Manual tags are applied by operators (one person, a list, or a CSV of identifiers), rule tags
are recomputed from a segment definition by the pipeline, model tags are written whole by
RFM / lifecycle / LTV through :func:`replace_model_tags`. Every gain and loss is recorded in
the history with its source. A person holds at most one tag of an exclusive group.

Assignments are stored under the person id as tagged; reads combine a person with everyone it
absorbed, so merges and splits never rewrite tags.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.orm import Session

from siyu.core.errors import ConflictError, InvalidInputError, NotFoundError
from siyu.core.ids import new_id
from siyu.identity import service as identity
from siyu.profiles import tag_writes
from siyu.profiles.tag_models import (
    PersonTag,
    Tag,
    TagChanges,
    TagCreate,
    TagGroup,
    TagGroupCreate,
    TagGroupUpdate,
    TagHistoryEntry,
    TagKind,
    TagUpdate,
)
from siyu.profiles.tag_tables import person_tags, tag_groups, tag_history, tags
from siyu.profiles.tag_writes import Pair, Why

MAX_HISTORY = 1000


# -- groups ---------------------------------------------------------------------------------


def _group_model(row: Row[Any]) -> TagGroup:
    return TagGroup.model_validate(row._mapping)


def create_group(
    *, session: Session, workspace_id: str, group: TagGroupCreate, now: datetime
) -> TagGroup:
    """Create a tag group.

    Raises:
        ConflictError: a group of that name exists.
    """
    name = group.name.strip()
    if _find_group(session, workspace_id, name) is not None:
        raise ConflictError(f"a tag group named {name!r} exists", field="name")
    group_id = new_id("tg")
    session.execute(
        insert(tag_groups).values(
            id=group_id,
            workspace_id=workspace_id,
            name=name,
            kind=group.kind.value,
            exclusive=group.exclusive,
            description=group.description,
            created_at=now,
        )
    )
    return get_group(session=session, workspace_id=workspace_id, group=group_id)


def _find_group(session: Session, workspace_id: str, ref: str) -> Row[Any] | None:
    g = tag_groups.c
    return session.execute(
        select(tag_groups).where(g.workspace_id == workspace_id, (g.id == ref) | (g.name == ref))
    ).first()


def get_group(*, session: Session, workspace_id: str, group: str) -> TagGroup:
    """A group by id or name.

    Raises:
        NotFoundError: no such group.
    """
    row = _find_group(session, workspace_id, group)
    if row is None:
        raise NotFoundError(f"no tag group {group!r}", field="group")
    return _group_model(row)


def list_groups(*, session: Session, workspace_id: str) -> list[TagGroup]:
    """The workspace's tag groups, oldest first."""
    g = tag_groups.c
    rows = session.execute(
        select(tag_groups).where(g.workspace_id == workspace_id).order_by(g.created_at, g.id)
    )
    return [_group_model(row) for row in rows]


def update_group(
    *, session: Session, workspace_id: str, group: str, changes: TagGroupUpdate
) -> TagGroup:
    """Rename or describe a group.

    Raises:
        NotFoundError: no such group.
        ConflictError: the new name is taken.
    """
    current = get_group(session=session, workspace_id=workspace_id, group=group)
    values: dict[str, Any] = {}
    if changes.name is not None and changes.name.strip() != current.name:
        name = changes.name.strip()
        if _find_group(session, workspace_id, name) is not None:
            raise ConflictError(f"a tag group named {name!r} exists", field="name")
        values["name"] = name
    if changes.description is not None:
        values["description"] = changes.description
    if values:
        session.execute(update(tag_groups).where(tag_groups.c.id == current.id).values(**values))
    return get_group(session=session, workspace_id=workspace_id, group=current.id)


def delete_group(*, session: Session, workspace_id: str, group: str) -> None:
    """Delete an empty group.

    Raises:
        NotFoundError: no such group.
        ConflictError: the group still has tags.
    """
    current = get_group(session=session, workspace_id=workspace_id, group=group)
    count = session.execute(
        select(func.count()).select_from(tags).where(tags.c.group_id == current.id)
    ).scalar_one()
    if count:
        raise ConflictError(f"group {current.name!r} still has {count} tags", field="group")
    session.execute(delete(tag_groups).where(tag_groups.c.id == current.id))


# -- tags -----------------------------------------------------------------------------------


def _tag_query() -> Any:
    return select(tags, tag_groups.c.name.label("group"), tag_groups.c.kind.label("kind")).join(
        tag_groups, tag_groups.c.id == tags.c.group_id
    )


def _tag_model(row: Row[Any], persons: int | None = None) -> Tag:
    return Tag.model_validate({**row._mapping, "persons": persons})


def get_tag(*, session: Session, workspace_id: str, tag: str) -> Tag:
    """A tag by id, by ``group/name``, or by name when only one group has it.

    Raises:
        NotFoundError: no such tag.
        InvalidInputError: a bare name that several groups use.
    """
    t = tags.c
    query = _tag_query().where(t.workspace_id == workspace_id)
    rows = session.execute(query.where(t.id == tag)).all()
    if not rows and "/" in tag:
        group, _, name = tag.partition("/")
        rows = session.execute(query.where(tag_groups.c.name == group, t.name == name)).all()
    if not rows:
        rows = session.execute(query.where(t.name == tag)).all()
    if not rows:
        raise NotFoundError(f"no tag {tag!r}", field="tag")
    if len(rows) > 1:
        raise InvalidInputError(f"several groups have a tag {tag!r}: use group/name", field="tag")
    return _tag_model(rows[0])


def create_tag(*, session: Session, workspace_id: str, tag: TagCreate, now: datetime) -> Tag:
    """Create a tag in a group. A rule tag's definition must be validated by the caller.

    Raises:
        NotFoundError: no such group.
        InvalidInputError: a rule on a non-rule group, or a rule group's tag without one.
        ConflictError: the group has a tag of that name, or is a model group.
    """
    group = get_group(session=session, workspace_id=workspace_id, group=tag.group)
    if group.kind == TagKind.MODEL:
        raise ConflictError(f"group {group.name!r} is written by its model", field="group")
    if (tag.rule is not None) != (group.kind == TagKind.RULE):
        need = "needs a rule" if group.kind == TagKind.RULE else "takes no rule"
        raise InvalidInputError(
            f"a tag of {group.kind.value} group {group.name!r} {need}", field="rule"
        )
    return _insert_tag(session, workspace_id, group, tag.name, tag.rule, tag.description, now)


def _insert_tag(
    session: Session,
    workspace_id: str,
    group: TagGroup,
    name: str,
    rule: dict[str, Any] | None,
    description: str | None,
    now: datetime,
) -> Tag:
    t = tags.c
    name = name.strip()
    taken = session.execute(select(t.id).where(t.group_id == group.id, t.name == name)).first()
    if taken is not None:
        raise ConflictError(f"group {group.name!r} has a tag {name!r}", field="name")
    position = session.execute(
        select(func.coalesce(func.max(t.position), 0)).where(t.group_id == group.id)
    ).scalar_one()
    tag_id = new_id("tag")
    session.execute(
        insert(tags).values(
            id=tag_id,
            workspace_id=workspace_id,
            group_id=group.id,
            name=name,
            position=position + 1,
            rule=rule,
            description=description,
            created_at=now,
        )
    )
    return get_tag(session=session, workspace_id=workspace_id, tag=tag_id)


def list_tags(
    *, session: Session, workspace_id: str, group: str | None = None, with_counts: bool = False
) -> list[Tag]:
    """Tags of the workspace (or of one group) in group then position order."""
    t = tags.c
    query = _tag_query().where(t.workspace_id == workspace_id)
    if group is not None:
        found = get_group(session=session, workspace_id=workspace_id, group=group)
        query = query.where(t.group_id == found.id)
    rows = session.execute(query.order_by(tag_groups.c.created_at, t.group_id, t.position)).all()
    counts: dict[str, int] = {}
    if with_counts:
        pt = person_tags.c
        counts = dict(
            session.execute(
                select(pt.tag_id, func.count())
                .where(pt.workspace_id == workspace_id)
                .group_by(pt.tag_id)
            ).all()
        )
    return [_tag_model(row, counts.get(row.id, 0) if with_counts else None) for row in rows]


def update_tag(*, session: Session, workspace_id: str, tag: str, changes: TagUpdate) -> Tag:
    """Rename, describe, or (rule tags) redefine a tag; a new rule applies at the next refresh.

    Raises:
        NotFoundError: no such tag.
        InvalidInputError: a rule given for a tag that is not a rule tag.
        ConflictError: the new name is taken in the group.
    """
    current = get_tag(session=session, workspace_id=workspace_id, tag=tag)
    values: dict[str, Any] = {}
    if changes.name is not None and changes.name.strip() != current.name:
        name = changes.name.strip()
        t = tags.c
        if session.execute(
            select(t.id).where(t.group_id == current.group_id, t.name == name)
        ).first():
            raise ConflictError(f"group {current.group!r} has a tag {name!r}", field="name")
        values["name"] = name
    if changes.rule is not None:
        if current.kind != TagKind.RULE:
            raise InvalidInputError("only rule tags take a rule", field="rule")
        values["rule"] = changes.rule
    if changes.description is not None:
        values["description"] = changes.description
    if values:
        session.execute(update(tags).where(tags.c.id == current.id).values(**values))
    return get_tag(session=session, workspace_id=workspace_id, tag=current.id)


def delete_tag(
    *, session: Session, workspace_id: str, tag: str, now: datetime, actor: str | None = None
) -> TagChanges:
    """Delete a tag; its holders lose it (recorded in the history)."""
    current = get_tag(session=session, workspace_id=workspace_id, tag=tag)
    why = Why(source=current.kind.value, reason="tag deleted", actor=actor)
    changes = tag_writes.replace_pairs(
        session,
        workspace_id,
        scope=[current.id],
        target=set(),
        groups={current.id: current.group_id},
        why=why,
        now=now,
    )
    session.execute(delete(tags).where(tags.c.id == current.id))
    return changes


def _groups_of(session: Session, workspace_id: str, group_id: str) -> dict[str, str]:
    t = tags.c
    ids = session.execute(
        select(t.id).where(t.workspace_id == workspace_id, t.group_id == group_id)
    ).scalars()
    return dict.fromkeys(ids, group_id)


# -- model and rule tags --------------------------------------------------------------------


def _ensure_model_group(session: Session, workspace_id: str, name: str, now: datetime) -> TagGroup:
    row = _find_group(session, workspace_id, name)
    if row is None:
        return create_group(
            session=session,
            workspace_id=workspace_id,
            group=TagGroupCreate(name=name, kind=TagKind.MODEL, exclusive=True),
            now=now,
        )
    group = _group_model(row)
    if group.kind != TagKind.MODEL:
        raise ConflictError(f"group {name!r} is a {group.kind.value} group", field="group")
    return group


def replace_model_tags(
    *,
    session: Session,
    workspace_id: str,
    group: str,
    assignments: Mapping[str, str],
    now: datetime,
    reason: str,
) -> TagChanges:
    """Write a model's whole output as tags of one exclusive model group.

    Creates the group (exclusive, kind model) and its tags if missing; each person in
    ``assignments`` ends holding exactly its tag of the group; every other holder of a tag of
    the group loses it. A history row is written for every gain and loss.

    Args:
        session: an open session; the caller commits.
        workspace_id: the workspace.
        group: the group's name, e.g. ``RFM`` or ``生命周期``.
        assignments: person id (surviving) → tag name.
        now: time of the change (aware UTC).
        reason: why, for the history (e.g. ``rfm 2026-11-28``).

    Returns:
        How many assignments were gained and lost.

    Raises:
        ConflictError: a manual or rule group has that name.
    """
    found = _ensure_model_group(session, workspace_id, group, now)
    by_name = {
        row.name: row.id
        for row in session.execute(
            select(tags.c.id, tags.c.name).where(tags.c.group_id == found.id)
        )
    }
    for name in sorted(set(assignments.values()) - set(by_name)):
        by_name[name] = _insert_tag(session, workspace_id, found, name, None, None, now).id
    groups = dict.fromkeys(by_name.values(), found.id)
    target = {(person_id, by_name[name]) for person_id, name in assignments.items()}
    return tag_writes.replace_pairs(
        session,
        workspace_id,
        scope=list(groups),
        target=target,
        groups=groups,
        why=Why(source=TagKind.MODEL.value, reason=reason),
        now=now,
    )


def rule_tags(*, session: Session, workspace_id: str) -> list[Tag]:
    """Every rule tag of the workspace, by group then position (the refresh order)."""
    return [
        tag
        for tag in list_tags(session=session, workspace_id=workspace_id)
        if tag.kind == TagKind.RULE
    ]


def replace_rule_members(
    *,
    session: Session,
    workspace_id: str,
    group: str,
    members: Mapping[str, Collection[str]],
    now: datetime,
) -> TagChanges:
    """Store a refresh of a rule group: tag id → the persons its rule selects now.

    In an exclusive group a person selected by several rules holds the first tag (by position).
    Tags of the group missing from ``members`` keep their holders.
    """
    found = get_group(session=session, workspace_id=workspace_id, group=group)
    listed = list(list_tags(session=session, workspace_id=workspace_id, group=found.id))
    scope = [t.id for t in listed if t.id in members]
    target: set[Pair] = set()
    taken: set[str] = set()
    for tag_id in scope:
        persons = set(members[tag_id])
        if found.exclusive:
            persons -= taken
            taken |= persons
        target.update((person_id, tag_id) for person_id in persons)
    changes = tag_writes.replace_pairs(
        session,
        workspace_id,
        scope=scope,
        target=target,
        groups=dict.fromkeys(scope, found.id),
        why=Why(source=TagKind.RULE.value, reason="rule refresh"),
        now=now,
    )
    session.execute(update(tags).where(tags.c.id.in_(scope)).values(refreshed_at=now))
    return changes


# -- manual tags ----------------------------------------------------------------------------


def _manual_tag(session: Session, workspace_id: str, tag: str) -> Tag:
    found = get_tag(session=session, workspace_id=workspace_id, tag=tag)
    if found.kind != TagKind.MANUAL:
        raise ConflictError(
            f"tag {found.group}/{found.name} is a {found.kind.value} tag; operators cannot set it",
            field="tag",
        )
    return found


def apply_tag(
    *,
    session: Session,
    workspace_id: str,
    tag: str,
    person_ids: Sequence[str],
    now: datetime,
    actor: str | None = None,
    reason: str | None = None,
) -> TagChanges:
    """Give a manual tag to persons (their survivors); in an exclusive group they lose the
    group's other tags.

    Raises:
        NotFoundError: no such tag or person.
        ConflictError: the tag is a rule or model tag.
    """
    found = _manual_tag(session, workspace_id, tag)
    survivors = sorted(
        {
            identity.current_person_id(session=session, workspace_id=workspace_id, person_id=p)
            for p in person_ids
        }
    )
    return apply_to_survivors(
        session, workspace_id, found, survivors, Why("manual", reason, actor), now
    )


def apply_to_survivors(
    session: Session, workspace_id: str, tag: Tag, survivors: Sequence[str], why: Why, now: datetime
) -> TagChanges:
    """Add ``tag`` to persons already resolved to survivors (see :func:`apply_tag`)."""
    groups = _groups_of(session, workspace_id, tag.group_id)
    exclusive = get_group(session=session, workspace_id=workspace_id, group=tag.group_id).exclusive
    scope = list(groups) if exclusive else [tag.id]
    current = tag_writes.current_pairs(session, workspace_id, scope)
    wanted = set(survivors)
    holders = {p for p, t in current if t == tag.id}
    gained = sorted((p, tag.id) for p in wanted - holders)
    lost = sorted((p, t) for p, t in current if t != tag.id and p in wanted)
    tag_writes.remove_pairs(session, workspace_id, lost, groups=groups, why=why, now=now)
    tag_writes.add_pairs(session, workspace_id, gained, groups=groups, why=why, now=now)
    return TagChanges(gained=len(gained), lost=len(lost))


def remove_tag(
    *,
    session: Session,
    workspace_id: str,
    tag: str,
    person_id: str,
    now: datetime,
    actor: str | None = None,
    reason: str | None = None,
) -> TagChanges:
    """Take a manual tag from a person (and from every person it absorbed).

    Raises:
        NotFoundError: no such tag or person.
        ConflictError: the tag is a rule or model tag.
    """
    found = _manual_tag(session, workspace_id, tag)
    members = identity.person_ids_of(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    held = [
        (p, t)
        for p, t in tag_writes.current_pairs(session, workspace_id, [found.id])
        if p in members
    ]
    tag_writes.remove_pairs(
        session,
        workspace_id,
        sorted(held),
        groups={found.id: found.group_id},
        why=Why("manual", reason, actor),
        now=now,
    )
    return TagChanges(lost=len(held))


# -- reads ----------------------------------------------------------------------------------


def persons_with_tag(*, session: Session, workspace_id: str, tag: str) -> list[str]:
    """The surviving persons holding ``tag`` (by id, ``group/name`` or name), sorted."""
    found = get_tag(session=session, workspace_id=workspace_id, tag=tag)
    survivors = dict(identity.person_map(session=session, workspace_id=workspace_id))
    pt = person_tags.c
    held = session.execute(
        select(pt.person_id).where(pt.workspace_id == workspace_id, pt.tag_id == found.id)
    ).scalars()
    return sorted({survivors.get(p, p) for p in held})


def tags_of(*, session: Session, workspace_id: str, person_id: str) -> list[PersonTag]:
    """The tags a person holds, over itself and every person it absorbed, by group.

    Raises:
        NotFoundError: no such person.
    """
    members = identity.person_ids_of(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    pt, t, g = person_tags.c, tags.c, tag_groups.c
    rows = session.execute(
        select(pt.tag_id, t.name.label("tag"), pt.group_id, g.name.label("group"), pt.source,
               pt.assigned_by, pt.assigned_at)
        .join(tags, t.id == pt.tag_id)
        .join(tag_groups, g.id == pt.group_id)
        .where(pt.workspace_id == workspace_id, pt.person_id.in_(members))
        .order_by(g.created_at, t.position, pt.assigned_at)
    ).all()  # fmt: skip
    unique = {row.tag_id: row for row in reversed(rows)}
    return [PersonTag.model_validate(row._mapping) for row in rows if unique[row.tag_id] is row]


def history(
    *, session: Session, workspace_id: str, person_id: str, limit: int = 100
) -> list[TagHistoryEntry]:
    """Gains and losses of tags by a person (and every person it absorbed), newest first.

    Raises:
        NotFoundError: no such person.
        InvalidInputError: limit out of 1–1000.
    """
    if not 1 <= limit <= MAX_HISTORY:
        raise InvalidInputError(f"limit must be 1–{MAX_HISTORY}", field="limit")
    members = identity.person_ids_of(
        session=session, workspace_id=workspace_id, person_id=person_id
    )
    h, t, g = tag_history.c, tags.c, tag_groups.c
    rows = session.execute(
        select(h.person_id, h.tag_id, func.coalesce(t.name, h.tag_id).label("tag"),
               func.coalesce(g.name, h.group_id).label("group"), h.change, h.source, h.actor,
               h.reason, h.at)
        .outerjoin(tags, t.id == h.tag_id)
        .outerjoin(tag_groups, g.id == h.group_id)
        .where(h.workspace_id == workspace_id, h.person_id.in_(members))
        .order_by(h.id.desc())
        .limit(limit)
    ).all()  # fmt: skip
    return [TagHistoryEntry.model_validate(row._mapping) for row in rows]
